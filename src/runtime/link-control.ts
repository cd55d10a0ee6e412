/**
 * `tapnet link down|up A B --lab FILE`: which link of a lab the two ends name.
 *
 * An end is `NODE` or `NODE:PORT` (the port only where two nodes share more
 * than one link). The CLI resolves the ends against the lab file first, so a
 * typo is a usage error (exit 2) naming what is wrong; the running lab
 * resolves them again against the topology it runs.
 */
import type { LinkSpec, Topology } from './topology.js';

export interface LinkEnd {
  readonly node: string;
  readonly port?: string;
}

/** `NODE` or `NODE:PORT`, or undefined when it is neither. */
export function parseLinkEnd(text: string): LinkEnd | undefined {
  const m = /^([a-z0-9][a-z0-9-]{0,31})(?::([A-Za-z0-9_.-]{1,15}))?$/.exec(text);
  if (!m) return undefined;
  return m[2] === undefined ? { node: m[1]! } : { node: m[1]!, port: m[2] };
}

export function formatLinkEnds(link: LinkSpec): string {
  return `${link.a.node}:${link.a.port} — ${link.b.node}:${link.b.port}`;
}

const matches = (end: LinkEnd, e: { node: string; port: string }): boolean => end.node === e.node && (end.port === undefined || end.port === e.port);

/** The index of the one link of `topology` between `a` and `b` (either order), or why there is none. */
export function findLink(topology: Topology, a: LinkEnd, b: LinkEnd): { ok: true; index: number } | { ok: false; field: 'A' | 'B' | 'A B'; error: string } {
  const text = (e: LinkEnd): string => (e.port === undefined ? e.node : `${e.node}:${e.port}`);
  for (const [end, field] of [[a, 'A'], [b, 'B']] as const) {
    const node = topology.nodes.find((n) => n.name === end.node);
    if (!node) return { ok: false, field, error: `no node '${end.node}' in ${topology.file} (nodes: ${topology.nodes.map((n) => n.name).join(', ')})` };
    if (end.port !== undefined && !topology.links.some((l) => matches(end, l.a) || matches(end, l.b))) {
      return { ok: false, field, error: `${end.node} has no linked interface or port '${end.port}'` };
    }
  }
  const found: number[] = [];
  topology.links.forEach((l, i) => {
    if ((matches(a, l.a) && matches(b, l.b)) || (matches(a, l.b) && matches(b, l.a))) found.push(i);
  });
  if (found.length === 1) return { ok: true, index: found[0]! };
  if (found.length > 1) {
    return { ok: false, field: 'A B', error: `${found.length} links join ${text(a)} and ${text(b)}: name the ports (${found.map((i) => formatLinkEnds(topology.links[i]!)).join('; ')})` };
  }
  const ofA = topology.links.filter((l) => l.a.node === a.node || l.b.node === a.node).map(formatLinkEnds);
  const vxlan = topology.vxlanLinks.some((v) => v.end.node === a.node || v.end.node === b.node) ? '; a VXLAN link cannot be taken down' : '';
  return { ok: false, field: 'A B', error: `no link between ${text(a)} and ${text(b)} in ${topology.file} (links of ${a.node}: ${ofA.join(', ') || 'none'}${vxlan})` };
}
