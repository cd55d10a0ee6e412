/**
 * `tapnet show bgp`: the neighbours, like `birdc show protocols`, then the
 * Loc-RIB with every candidate route and the best one marked, like FRR's
 * `show ip bgp`:
 *
 *   BGP router 10.0.0.1, local AS 65001
 *   Neighbor         AS     State        Up/Down   PfxRcd  PfxSent  Info
 *   10.0.12.2        65002  Established  00:01:05       2        3
 *
 *      Network              Next Hop         Metric LocPrf Path
 *   *> 10.2.0.0/16          10.0.12.2             0    100 65002 i   (only route)
 *   *  10.3.0.0/16          10.0.13.3                  100 65003 65004 i
 */
import { formatIpv4 } from '../../l3/ipv4/address.js';
import { formatAsPath } from './as-path.js';
import { formatCommunity } from './attributes.js';
import { DEFAULT_LOCAL_PREF, type RibRoute } from './decision.js';
import type { BgpSpeaker } from './speaker.js';

const ORIGIN_CODE = ['i', 'e', '?'];

function upDown(speaker: BgpSpeaker, since: number | undefined): string {
  if (since === undefined) return 'never';
  const s = Math.floor((speaker.ctx.clock.now() - since) / 1000);
  return [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Every route to every prefix in the Loc-RIB's view: the candidates, best first. */
function candidates(speaker: BgpSpeaker): { key: string; route: RibRoute; best: boolean; rule?: string }[] {
  const keys = new Set<string>(speaker.locRib.keys());
  for (const p of speaker.peers) for (const k of p.adjRibIn.keys()) keys.add(k);
  const out: { key: string; route: RibRoute; best: boolean; rule?: string }[] = [];
  for (const key of [...keys].sort(comparePrefixKeys)) {
    const entry = speaker.locRib.get(key);
    if (entry) out.push({ key, route: entry.best, best: true, rule: entry.rule });
    for (const p of speaker.peers) {
      const r = p.adjRibIn.get(key);
      if (r && r !== entry?.best) out.push({ key, route: r, best: false });
    }
  }
  return out;
}

function comparePrefixKeys(a: string, b: string): number {
  const v6 = (k: string) => (k.includes(':') ? 1 : 0);
  if (v6(a) !== v6(b)) return v6(a) - v6(b);
  return a.localeCompare(b, undefined, { numeric: true });
}

export function renderBgp(speaker: BgpSpeaker): string {
  const c = speaker.config;
  let out = `BGP router ${formatIpv4(c.routerId)}, local AS ${c.as}\n`;
  out += `${'Neighbor'.padEnd(26)} ${'AS'.padEnd(10)} ${'State'.padEnd(12)} ${'Up/Down'.padEnd(9)} ${'PfxRcd'.padStart(7)} ${'PfxSent'.padStart(8)}  Info\n`;
  for (const p of speaker.peers) {
    const s = p.session;
    const info = s.state === 'Established' ? (p.config.routeReflectorClient ? 'rr-client' : '') : s.lastError;
    out += `${p.config.address.padEnd(26)} ${String(p.config.as).padEnd(10)} ${s.state.padEnd(12)} ${upDown(speaker, s.establishedAt).padEnd(9)} ${String(p.adjRibIn.size).padStart(7)} ${String(p.adjRibOut.size).padStart(8)}  ${info}\n`;
  }
  out += `\n   ${'Network'.padEnd(24)} ${'Next Hop'.padEnd(26)} ${'Metric'.padStart(6)} ${'LocPrf'.padStart(6)} Path\n`;
  for (const { key, route, best, rule } of candidates(speaker)) {
    const a = route.attributes;
    const nh = route.peer ? route.nextHop : '0.0.0.0';
    const path = `${formatAsPath(a.asPath ?? [])} ${ORIGIN_CODE[a.origin ?? 2]}`.trim();
    const comm = a.communities?.length ? ` [${a.communities.map(formatCommunity).join(' ')}]` : '';
    out += `${best ? '*>' : '* '} ${key.padEnd(24)} ${nh.padEnd(26)} ${(a.med === undefined ? '' : String(a.med)).padStart(6)} ${String(a.localPref ?? DEFAULT_LOCAL_PREF).padStart(6)} ${path}${comm}${best ? `   (${rule})` : ''}\n`;
  }
  return out;
}

/** `show bgp --json`: the same, as data. */
export function bgpRows(speaker: BgpSpeaker): unknown {
  return {
    routerId: formatIpv4(speaker.config.routerId),
    as: speaker.config.as,
    neighbors: speaker.peers.map((p) => ({
      address: p.config.address,
      as: p.config.as,
      state: p.session.state,
      uptimeSeconds: p.session.establishedAt === undefined ? null : Math.floor((speaker.ctx.clock.now() - p.session.establishedAt) / 1000),
      prefixesReceived: p.adjRibIn.size,
      prefixesSent: p.adjRibOut.size,
      families: p.session.families,
      holdTime: p.session.negotiatedHoldTime,
      lastError: p.session.lastError || null,
      ...p.session.counts,
    })),
    routes: candidates(speaker).map(({ key, route, best, rule }) => ({
      prefix: key,
      nextHop: route.peer ? route.nextHop : null,
      best,
      reason: rule ?? null,
      peer: route.peer?.address ?? null,
      asPath: formatAsPath(route.attributes.asPath ?? []),
      origin: ORIGIN_CODE[route.attributes.origin ?? 2],
      localPref: route.attributes.localPref ?? DEFAULT_LOCAL_PREF,
      med: route.attributes.med ?? null,
      communities: (route.attributes.communities ?? []).map(formatCommunity),
    })),
  };
}
