/**
 * VXLAN links in lab files, and labs split across machines.
 *
 * A link end can be a VXLAN tunnel instead of a node (device/vxlan/tunnel.ts,
 * RFC 7348); the node end is a switch port, a router interface or a host
 * interface:
 *
 *   links:
 *     - [sw1:p9, { vxlan: { vni: 42, remote: 192.0.2.10, local: 192.0.2.1, port: 4789 } }]
 *     - endpoints: [r1:eth2, { vxlan: { vni: 7, remote: [2001:db8::2, 2001:db8::3], netns: underlay } }]
 *       mtu: 1400        # the inner IP MTU; default: the underlay interface's MTU - 50 (IPv4) or - 70 (IPv6)
 *
 *   remote: one address or a list (head-end replication of broadcast, multicast and unknown unicast to each,
 *           like `bridge fdb append 00:00:00:00:00:00 dst ADDR dev vxlan0`); IPv4 or IPv6, all of one family
 *   local:  the address to listen on (default: all); port: the VXLAN port, listened on and sent to (4789)
 *   netns:  the namespace whose network is the underlay (default: this machine's own)
 *
 * Parts: `part: NAME` on every node splits one file into the pieces that run
 * on different machines; `tapnet lab up FILE --part NAME` brings up one piece,
 * and its control socket is the lab's name + "-" + the part's (so `lab down`,
 * `lab status` and `show --lab` take `--part` too). A link between two parts
 * is two VXLAN links, one in each part, each pointing at the other's address.
 */
import { z } from 'zod';
import type { StackContext } from '../core/context.js';
import type { CounterName } from '../core/stats.js';
import { PcapWriter } from '../core/pcap.js';
import type { Device } from '../device/device.js';
import { capture } from '../device/pcap-device.js';
import { VNI_MAX, VXLAN_HEADER_LENGTH, VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6, VXLAN_PORT } from '../device/vxlan/header.js';
import { VxlanReceiver, VxlanTunnel } from '../device/vxlan/tunnel.js';
import { formatIpv4, parseIpv4 } from '../l3/ipv4/address.js';
import { formatIpv6, parseIpv6 } from '../l3/ipv6/address.js';
import { IPV4_MIN_MTU } from '../l3/ipv4/header.js';
import { HostVxlanUnderlay, underlayMtu } from '../os/vxlan-socket.js';
import { fields, integer, text, type SourcePosition } from './config-errors.js';
import type { Endpoint, Topology } from './topology.js';

/** Ethernet header + an 802.1Q tag: the largest inner frame is the MTU + this. */
const FRAME_OVERHEAD = 18;

/** Remotes of one tunnel: a cap on the head-end copies one broadcast becomes. */
export const VXLAN_REMOTES_MAX = 64;

export interface VxlanSpec {
  readonly vni: number;
  /** Canonical address text, as the socket reports senders. */
  readonly remotes: readonly string[];
  readonly local?: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly netns?: string;
}

/** A link from a node's port or interface to a VXLAN tunnel. */
export interface VxlanLinkSpec {
  readonly end: Endpoint;
  readonly vxlan: VxlanSpec;
  /** The link's `mtu:`; undefined: from the underlay. */
  readonly mtu?: number;
  readonly capture?: string;
  readonly at: SourcePosition;
}

const address = text.transform((t, ctx): { family: 4 | 6; text: string } => {
  if (t.includes(':')) {
    const a = parseIpv6(t);
    if (!a) ctx.addIssue({ code: 'custom', message: `'${t}': expected an IPv4 or IPv6 address` });
    return { family: 6, text: a ? formatIpv6(a) : t };
  }
  const a = parseIpv4(t);
  if (a === undefined) ctx.addIssue({ code: 'custom', message: `'${t}': expected an IPv4 or IPv6 address` });
  return { family: 4, text: a === undefined ? t : formatIpv4(a) };
});

const netnsName = z.string({ error: 'expected a namespace name' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: (issue) => `'${String(issue.input)}': not a namespace name` });

/** `{ vxlan: { vni, remote, local, port, netns } }` as a link end. */
export const vxlanEndpointSchema = fields(
  {
    vxlan: fields(
      {
        vni: integer(0, VNI_MAX),
        remote: z.union([address, z.array(address).min(1, { error: 'at least one remote' }).max(VXLAN_REMOTES_MAX, { error: `at most ${VXLAN_REMOTES_MAX} remotes` })], {
          error: (issue) => (issue.input === undefined ? 'missing (the address of the other VTEP, or a list)' : 'expected an address or a list of addresses'),
        }),
        local: address.optional(),
        port: integer(1, 65_535).default(VXLAN_PORT),
        netns: netnsName.optional(),
      },
      'not a field of vxlan',
    ).transform((v, ctx): VxlanSpec => {
      const remotes = Array.isArray(v.remote) ? v.remote : [v.remote];
      const family = remotes[0]!.family;
      if (remotes.some((r) => r.family !== family)) ctx.addIssue({ code: 'custom', path: ['remote'], message: 'the remotes mix IPv4 and IPv6: one underlay family per tunnel' });
      if (v.local && v.local.family !== family) ctx.addIssue({ code: 'custom', path: ['local'], message: `local ${v.local.text} is not IPv${family} like the remote` });
      return { vni: v.vni, remotes: [...new Set(remotes.map((r) => r.text))], family, port: v.port, ...(v.local ? { local: v.local.text } : {}), ...(v.netns ? { netns: v.netns } : {}) };
    }),
  },
  'a link end is NODE:INTERFACE or { vxlan: {...} }',
).transform((v) => v.vxlan);

/** `part:` on a node: which machine runs it. */
export const partName = z
  .string({ error: 'expected a part name' })
  .regex(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/, { error: (issue) => `'${String(issue.input)}': use lower-case letters, digits and '-' (at most 16)` });

/** The parts a topology is split into (empty: not split). */
export function partsOf(topology: Topology): string[] {
  return [...new Set(topology.nodes.map((n) => n.part).filter((p): p is string => p !== undefined))];
}

/**
 * The piece of `topology` that part `part` runs: its nodes, the links between
 * them and its VXLAN links; named `NAME-PART` (its control socket, its MACs).
 * Without `part`, the whole lab, which must then not be split.
 */
/** A `--part` that the file does not have, or a split lab brought up without one. */
export class PartError extends Error {}

export function selectPart(topology: Topology, part: string | undefined): Topology {
  const parts = partsOf(topology);
  if (part === undefined) {
    if (parts.length > 0) throw new PartError(`${topology.file}: lab ${topology.name} is split into parts (${parts.join(', ')}): bring one up with --part NAME`);
    return topology;
  }
  if (!parts.includes(part)) throw new PartError(`${topology.file}: lab ${topology.name} has no part '${part}' (${parts.length > 0 ? `parts: ${parts.join(', ')}` : 'it is not split: leave out --part'})`);
  const nodes = topology.nodes.filter((n) => n.part === part);
  const mine = new Set(nodes.map((n) => n.name));
  return {
    ...topology,
    name: `${topology.name}-${part}`,
    nodes,
    links: topology.links.filter((l) => mine.has(l.a.node)),
    vxlanLinks: topology.vxlanLinks.filter((l) => mine.has(l.end.node)),
  };
}

/** Opening a VXLAN link failed: `spec` says which (its position in the file). */
export class VxlanLinkError extends Error {
  constructor(
    readonly spec: VxlanLinkSpec,
    message: string,
  ) {
    super(message);
  }
}

/** A running VXLAN link, for `lab status` and `show mac`. */
export interface RunningVxlanLink {
  readonly spec: VxlanLinkSpec;
  readonly tunnel: VxlanTunnel;
  readonly underlay: HostVxlanUnderlay;
  /** How the MTU came about ("underlay mtu 1500 - 50"), or "set in the file". */
  readonly mtuNote: string;
  /** The node-side device: the tunnel, or the pcap capture around it. */
  readonly device: Device;
}

/**
 * Opens the host sockets and builds a tunnel for each VXLAN link; tunnels on
 * the same underlay (namespace, local address, port) share its sockets and are
 * told apart by VNI. `contextFor(node)` is where each tunnel counts; the
 * counters of a shared socket go to its first tunnel's node. Closers are pushed
 * to `cleanup` as soon as each thing exists.
 */
export async function openVxlanLinks(links: readonly VxlanLinkSpec[], contextFor: (node: string) => StackContext, cleanup: (() => void)[]): Promise<RunningVxlanLink[]> {
  const attempt = <T>(spec: VxlanLinkSpec, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new VxlanLinkError(spec, (e as Error).message);
    }
  };
  const keyOf = (v: VxlanSpec): string => `${v.netns ?? ''}|${v.family}|${v.local ?? ''}|${v.port}`;
  // First every MTU (a shared socket's send slots fit its largest frame), then the sockets, then the tunnels.
  const mtus = links.map((spec) => {
    const v = spec.vxlan;
    if (spec.mtu !== undefined) return { mtu: spec.mtu, note: 'set in the file' };
    const overhead = v.family === 6 ? VXLAN_OVERHEAD_IPV6 : VXLAN_OVERHEAD_IPV4;
    const below = attempt(spec, () => underlayMtu(v.remotes[0]!, v.netns));
    if (below - overhead < IPV4_MIN_MTU) throw new VxlanLinkError(spec, `the underlay MTU ${below} leaves ${below - overhead} for the inner link, below IPv4's minimum ${IPV4_MIN_MTU}`);
    return { mtu: below - overhead, note: `underlay mtu ${below} - ${overhead} (IPv${v.family})` };
  });
  const underlays = new Map<string, { underlay: HostVxlanUnderlay; receiver: VxlanReceiver }>();
  const running: RunningVxlanLink[] = [];
  for (const [i, spec] of links.entries()) {
    const v = spec.vxlan;
    const { mtu, note: mtuNote } = mtus[i]!;
    const key = keyOf(v);
    let shared = underlays.get(key);
    if (!shared) {
      const ctx = contextFor(spec.end.node);
      const largest = Math.max(...links.map((l, j) => (keyOf(l.vxlan) === key ? mtus[j]!.mtu : 0)));
      const underlay = await HostVxlanUnderlay.open(ctx, { netns: v.netns, family: v.family, local: v.local, port: v.port, maxDatagram: VXLAN_HEADER_LENGTH + largest + FRAME_OVERHEAD }).catch((e: Error) => {
        throw new VxlanLinkError(spec, e.message);
      });
      cleanup.push(() => underlay.close());
      const receiver = new VxlanReceiver(ctx);
      underlay.setReceiver((datagram, remote) => receiver.receive(datagram, remote));
      shared = { underlay, receiver };
      underlays.set(key, shared);
    }
    const tunnel = new VxlanTunnel(contextFor(spec.end.node), { name: `${spec.end.node}:${spec.end.port}`, vni: v.vni, remotes: v.remotes, mtu, underlay: shared.underlay });
    attempt(spec, () => shared.receiver.add(tunnel));
    cleanup.push(() => tunnel.close());
    let device: Device = tunnel;
    if (spec.capture) {
      const writer = new PcapWriter(spec.capture);
      cleanup.push(() => writer.close());
      device = capture(tunnel, writer, { wireFrames: true, trace: contextFor(spec.end.node).trace });
    }
    running.push({ spec, tunnel, underlay: shared.underlay, mtuNote, device });
  }
  return running;
}

/** `lab status` rows for the VXLAN links. */
export function vxlanLinkStatus(running: readonly RunningVxlanLink[], contexts: ReadonlyMap<string, StackContext>): { ends: string; mtu: number; note: string; counters?: Record<string, unknown> }[] {
  return running.map(({ spec, tunnel, underlay, mtuNote }) => {
    const v = spec.vxlan;
    const stats = contexts.get(spec.end.node)?.stats;
    // Grouped like the impaired links' (formatLabStatus prints one line per group).
    const group = (names: readonly CounterName[]): Record<string, number> => Object.fromEntries(names.map((n) => [n, stats!.get(n)]));
    const counters = stats && {
      in: group(['vxlanInDatagrams', 'vxlanInFrames', 'vxlanInTruncated', 'vxlanInBadFlags', 'vxlanInUnknownVni']),
      out: group(['vxlanOutDatagrams', 'vxlanOutFlooded', 'vxlanOutOversize', 'vxlanOutQueueFull', 'vxlanOutErrors']),
    };
    return {
      ends: `${spec.end.node}:${spec.end.port} — vxlan vni ${v.vni} → ${v.remotes.join(', ')}`,
      mtu: tunnel.mtu,
      note: `${mtuNote}; udp ${v.local ?? (v.family === 6 ? '[::]' : '0.0.0.0')}:${v.port}, source ports ${underlay.sourcePorts.join(',')}${v.netns ? `, underlay netns ${v.netns}` : ''}`,
      counters,
    };
  });
}

/** `tapnet show mac`: each tunnel's FDB (inner MAC → remote VTEP), for the tunnels ending on `node` (all when undefined). */
export function showVxlanFdb(running: readonly RunningVxlanLink[], node: string | undefined, json: boolean): unknown {
  const mine = running.filter((r) => node === undefined || r.spec.end.node === node);
  if (json) return Object.fromEntries(mine.map((r) => [r.tunnel.name, { vni: r.tunnel.vni, remotes: r.tunnel.remotes, fdb: r.tunnel.fdbRows() }]));
  return mine.map((r) => r.tunnel.showFdb()).join('');
}
