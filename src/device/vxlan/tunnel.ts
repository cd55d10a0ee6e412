/**
 * A VXLAN tunnel end (a VTEP, RFC 7348 §4) as a Device: what a switch port,
 * a router interface or a host's TAP sees at the end of a link whose other
 * end is a VXLAN segment on another machine.
 *
 * Read first: RFC 7348 §4.1 (unicast: learn the inner source MAC → the outer
 * source IP, send to the learned VTEP), §4.2 (broadcast and unknown unicast:
 * to every VTEP of the VNI; here head-end replication to the configured
 * remotes, as Linux does with `bridge fdb append 00:00:00:00:00:00 dst ...`),
 * §5 (the header, the source port hashed over the inner flow); then Linux's
 * drivers/net/vxlan/vxlan_core.c (vxlan_rcv, vxlan_snoop, vxlan_xmit).
 *
 *   node (switch port / interface)
 *        │ send(frame)                       ▲ deliver(frame, remote)
 *   VxlanTunnel: FDB MAC → remote, flow hash  │  learn source MAC
 *        │ underlay.send(header, frame)       │
 *   VxlanUnderlay (the host's UDP sockets: os/vxlan-socket.ts) → VxlanReceiver (by VNI)
 *
 * The underlay is the host's network (or a namespace's), so its sockets are
 * host sockets, opened by the os floor; this floor only sees the small
 * `VxlanUnderlay` interface, and tests give it an in-memory one.
 *
 * Offload: the tunnel takes no TSO and no partial checksums (it announces
 * neither), so the switch/router cuts super-frames into wire frames before
 * they are sent (device/segment.ts); received frames are complete frames.
 */
import type { StackContext } from '../../core/context.js';
import type { CounterName } from '../../core/stats.js';
import { formatMac, readMac, type MacAddress } from '../../l2/mac-address.js';
import type { Device, FrameHandler, TxOffload } from '../device.js';
import { emitVxlan, parseVxlan, VXLAN_HEADER_LENGTH, vniOf } from './header.js';
import type {} from './counters.js';

/** Linux vxlan's default `ageing` (300 s): a learned MAC not heard from again is forgotten. */
export const VXLAN_AGEING_MS = 300_000;
/** Learned FDB entries per tunnel. Linux's `maxaddress` is unlimited by default; a peer must not fill memory. */
export const VXLAN_FDB_MAX = 8192;
/** Ethernet header + one 802.1Q tag: the largest frame is mtu + this. */
const FRAME_OVERHEAD = 18;

/** How a tunnel reaches the host's UDP sockets (os/vxlan-socket.ts; an in-memory pair in tests). */
export interface VxlanUnderlay {
  /**
   * Sends one datagram, `header` then `frame`, to `remote` (an address as the
   * socket writes it) at the tunnel's destination port, from a source port
   * picked by `flowHash` (RFC 7348 §5). The bytes are copied before it returns.
   * 'full': the send queue is full and nothing was sent.
   */
  send(header: Uint8Array, frame: Uint8Array, remote: string, flowHash: number): 'sent' | 'full';
  /** The receiving side: every datagram that arrives, with the sender's address. */
  setReceiver(receive: (datagram: Uint8Array, remote: string) => void): void;
  close(): void;
}

export interface VxlanTunnelOptions {
  /** For traces and `show`: the link end, e.g. `sw1:p9`. */
  readonly name: string;
  readonly vni: number;
  /** The VTEPs that get broadcast, multicast and unknown unicast (head-end replication); at least one. */
  readonly remotes: readonly string[];
  /** IP MTU of the inner link (underlay MTU - 50 on IPv4, - 70 on IPv6 by default: header.ts). */
  readonly mtu: number;
  readonly underlay: VxlanUnderlay;
  readonly ageingMs?: number;
  readonly fdbMax?: number;
}

interface FdbEntry {
  remote: string;
  lastSeen: number;
}

/** One learned FDB entry, for `tapnet show mac`. */
export interface VxlanFdbRow {
  readonly mac: string;
  readonly remote: string;
  readonly ageSeconds: number;
}

export class VxlanTunnel implements Device {
  readonly name: string;
  readonly mtu: number;
  readonly vni: number;
  readonly remotes: readonly string[];
  /** The 8-byte header, the same for every datagram of this VNI: written once (no per-packet work). */
  private readonly header = new Uint8Array(VXLAN_HEADER_LENGTH);
  private readonly fdb = new Map<MacAddress, FdbEntry>();
  private readonly ageingMs: number;
  private readonly fdbMax: number;
  private onFrame: FrameHandler = () => {};
  private onBatchEnd: (() => void) | undefined;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private closed = false;

  constructor(
    private readonly ctx: StackContext,
    private readonly options: VxlanTunnelOptions,
  ) {
    if (options.remotes.length === 0) throw new Error(`${options.name}: a VXLAN tunnel needs at least one remote`);
    this.name = options.name;
    this.mtu = options.mtu;
    this.vni = options.vni;
    this.remotes = options.remotes;
    this.ageingMs = options.ageingMs ?? VXLAN_AGEING_MS;
    this.fdbMax = options.fdbMax ?? VXLAN_FDB_MAX;
    emitVxlan({ vni: options.vni }, this.header, 0);
    ctx.stats.declare('vxlanInFrames', 'vxlanOutDatagrams', 'vxlanOutFlooded', 'vxlanFdbLearned');
  }

  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  /**
   * An inner frame from `remote` (VxlanReceiver checked the header and VNI).
   * RFC 7348 §4.1: "the VTEP ... learns the mapping from inner source MAC to
   * outer source IP address".
   */
  deliver(frame: Uint8Array, remote: string): void {
    if (this.closed) return;
    this.learn(readMac(frame, 6), remote);
    this.ctx.stats.inc('vxlanInFrames');
    this.onFrame(frame);
    this.onBatchEnd?.();
  }

  private learn(source: MacAddress, remote: string): void {
    if (Math.floor(source / 0x100_0000_0000) & 1) return; // a group address is never a source (IEEE 802-2014 §8.2)
    const now = this.ctx.clock.now();
    const entry = this.fdb.get(source);
    if (entry) {
      if (entry.remote !== remote) {
        this.ctx.stats.inc('vxlanFdbMoved');
        this.ctx.trace.event(`${this.name}: ${formatMac(source)} moved from ${entry.remote} to ${remote}`);
        entry.remote = remote;
      }
      entry.lastSeen = now;
      return;
    }
    if (this.fdb.size >= this.fdbMax && !this.expire(now)) {
      this.ctx.trace.dropped('vxlanFdbFull', `${this.name}: FDB full (${this.fdbMax}): ${formatMac(source)} behind ${remote} not learned`);
      return;
    }
    this.fdb.set(source, { remote, lastSeen: now });
    this.ctx.stats.inc('vxlanFdbLearned');
  }

  /** Removes aged entries; true when that made room. */
  private expire(now: number): boolean {
    for (const [mac, e] of this.fdb) if (now - e.lastSeen >= this.ageingMs) this.fdb.delete(mac);
    return this.fdb.size < this.fdbMax;
  }

  /**
   * Encapsulates and sends: to the VTEP the destination MAC was learned
   * behind, else (broadcast, multicast, unknown unicast) a copy to every
   * remote (RFC 7348 §4.2, head-end replication).
   */
  send(frame: Uint8Array, offload?: TxOffload): void {
    if (this.closed) return;
    if (frame.length > this.mtu + FRAME_OVERHEAD || (offload !== undefined && (offload.gsoType !== 0 || offload.checksumStart !== 0))) {
      // The tunnel announces neither TSO nor partial checksums, so the switch/router completes them first.
      return this.ctx.trace.dropped('vxlanOutOversize', `${this.name}: ${frame.length}-byte frame > mtu ${this.mtu} + ${FRAME_OVERHEAD}${offload?.gsoType ? ' (a super-frame)' : ''}`);
    }
    const hash = innerFlowHash(frame);
    if ((frame[0]! & 1) === 0) {
      const entry = this.fdb.get(readMac(frame, 0));
      if (entry && this.ctx.clock.now() - entry.lastSeen < this.ageingMs) return this.transmit(frame, entry.remote, hash);
    }
    this.ctx.stats.inc('vxlanOutFlooded');
    for (const remote of this.remotes) this.transmit(frame, remote, hash);
  }

  private transmit(frame: Uint8Array, remote: string, hash: number): void {
    if (this.options.underlay.send(this.header, frame, remote, hash) === 'sent') this.ctx.stats.inc('vxlanOutDatagrams');
    else this.ctx.trace.dropped('vxlanOutQueueFull', `${this.name}: underlay send queue to ${remote} full`);
  }

  flush(): void {
    // Datagrams leave in `send` (the host's socket batches nothing to flush).
  }

  /** The learned entries (live ones), sorted by MAC, for `tapnet show mac`. */
  fdbRows(): VxlanFdbRow[] {
    const now = this.ctx.clock.now();
    return [...this.fdb.entries()]
      .filter(([, e]) => now - e.lastSeen < this.ageingMs)
      .sort(([a], [b]) => a - b)
      .map(([mac, e]) => ({ mac: formatMac(mac), remote: e.remote, ageSeconds: Math.floor((now - e.lastSeen) / 1000) }));
  }

  /** Text for `tapnet show mac`: the FDB as `bridge fdb show dev vxlan0` would list it. */
  showFdb(): string {
    const rows = this.fdbRows();
    let out = `${this.name}: vxlan vni ${this.vni}, ${rows.length} learned (max ${this.fdbMax}, ageing ${this.ageingMs / 1000} s)\n`;
    for (const r of this.remotes) out += `  00:00:00:00:00:00 dst ${r} (flood)\n`;
    for (const r of rows) out += `  ${r.mac} dst ${r.remote} age ${r.ageSeconds}s\n`;
    return out;
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h('closed');
  }
}

/**
 * The VXLAN side of one underlay socket: checks each datagram's header and
 * hands the inner frame to the tunnel of its VNI. Several tunnels (VNIs) share
 * one socket and port, as Linux's vxlan devices share a `vxlan_sock`.
 */
export class VxlanReceiver {
  private readonly tunnels = new Map<number, VxlanTunnel>();

  constructor(private readonly ctx: StackContext) {
    ctx.stats.declare('vxlanInDatagrams', 'vxlanInTruncated', 'vxlanInBadFlags', 'vxlanInUnknownVni');
  }

  add(tunnel: VxlanTunnel): void {
    if (this.tunnels.has(tunnel.vni)) throw new Error(`VNI ${tunnel.vni} is already used on this socket by ${this.tunnels.get(tunnel.vni)!.name}`);
    this.tunnels.set(tunnel.vni, tunnel);
  }

  /** One datagram from the underlay (any source port: RFC 7348 §5 lets the sender pick it). */
  receive(datagram: Uint8Array, remote: string): void {
    this.ctx.stats.inc('vxlanInDatagrams');
    const parsed = parseVxlan(datagram);
    if (!parsed.ok) {
      const counter: CounterName = parsed.error.reason === 'truncated' ? 'vxlanInTruncated' : 'vxlanInBadFlags';
      return this.ctx.trace.dropped(counter, `vxlan from ${remote}: ${parsed.error.detail ?? parsed.error.reason}`);
    }
    const tunnel = this.tunnels.get(vniOf(datagram));
    if (!tunnel) return this.ctx.trace.dropped('vxlanInUnknownVni', `vxlan from ${remote}: no tunnel with VNI ${parsed.value.vni} (have: ${[...this.tunnels.keys()].join(', ')})`);
    tunnel.deliver(parsed.value.frame, remote);
  }
}

// Inner header offsets for the flow hash. The device floor may not import the l3/l4 codecs (ARCHITECTURE.md);
// these are their Field offsets, relative to the start of the inner Ethernet frame (as device/segment.ts does).
const ETHER_TYPE = 12;
const IP_START = 14;
const IPV4_PROTOCOL = IP_START + 9;
const IPV4_ADDRESSES = IP_START + 12; // source, destination: 8 bytes
const IPV6_NEXT_HEADER = IP_START + 6;
const IPV6_ADDRESSES = IP_START + 8; // source, destination: 32 bytes
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;

/**
 * RFC 7348 §5: "a hash of fields from the inner packet" so that ECMP in the
 * underlay spreads flows and keeps each flow on one path. Like Linux's flow
 * dissector: IP addresses, protocol and TCP/UDP ports; the Ethernet header
 * for anything else (ARP). FNV-1a, 32 bits; no allocation.
 */
export function innerFlowHash(frame: Uint8Array): number {
  const etherType = frame.length >= IP_START ? (frame[ETHER_TYPE]! << 8) | frame[ETHER_TYPE + 1]! : 0;
  let h = 0x811c9dc5;
  const mix = (from: number, to: number): void => {
    for (let i = from; i < to && i < frame.length; i++) h = Math.imul(h ^ frame[i]!, 0x01000193);
  };
  if (etherType === 0x0800 && frame.length >= IP_START + 20) {
    const protocol = frame[IPV4_PROTOCOL]!;
    mix(IPV4_PROTOCOL, IPV4_PROTOCOL + 1);
    mix(IPV4_ADDRESSES, IPV4_ADDRESSES + 8);
    const headerLength = (frame[IP_START]! & 0x0f) * 4;
    const fragment = ((frame[IP_START + 6]! & 0x3f) << 8) | frame[IP_START + 7]!; // MF + offset: later fragments have no ports
    if ((protocol === PROTOCOL_TCP || protocol === PROTOCOL_UDP) && fragment === 0) mix(IP_START + headerLength, IP_START + headerLength + 4);
  } else if (etherType === 0x86dd && frame.length >= IP_START + 40) {
    const next = frame[IPV6_NEXT_HEADER]!;
    mix(IPV6_NEXT_HEADER, IPV6_NEXT_HEADER + 1);
    mix(IPV6_ADDRESSES, IPV6_ADDRESSES + 32);
    if (next === PROTOCOL_TCP || next === PROTOCOL_UDP) mix(IP_START + 40, IP_START + 44);
  } else {
    mix(0, IP_START);
  }
  return h >>> 0;
}
