/**
 * IPv4 forwarding: what a router does with a datagram that is not for it.
 *
 * Read first: RFC 1812 "Requirements for IP Version 4 Routers": §5.2.1
 * (forwarding walk-through), §5.2.4.3 (next hop: longest match), §5.3.1 (TTL),
 * §5.2.7 (which ICMP errors, and their codes), §5.3.4 (link-layer
 * broadcasts), §5.3.5 (directed broadcasts, made off by default by RFC 2644),
 * §5.3.7 (martian addresses); RFC 1624 (the incremental checksum update
 * after the TTL changes); RFC 1191 (fragmentation needed carries the next-hop
 * MTU); RFC 3704 §2.2-2.3 (strict and loose reverse-path filtering). Linux
 * net/ipv4/ip_forward.c ip_forward() takes the same steps in the same order:
 *
 *   1. unicast IP in a link-layer broadcast frame: discard (§5.3.4)
 *   2. martian source or destination: discard (§5.3.7)
 *   3. reverse-path filter (off, loose or strict): discard spoofed sources
 *   4. route lookup, longest prefix first: none → ICMP net unreachable;
 *      reject routes → host unreachable / admin prohibited; blackhole: silent
 *   5. directed broadcast of the outgoing subnet: discard (RFC 2644)
 *   6. TTL ≤ 1 → ICMP time exceeded (§5.3.1), the datagram is not forwarded
 *   7. bigger than the outgoing MTU with DF set → ICMP fragmentation needed
 *      with the next-hop MTU (RFC 1191); without DF it is fragmented at step 10.
 *      A TSO super-packet (offload metadata from a virtio-net port, carried
 *      with the packet from l2/interface.ts) is measured by its segments:
 *      IP + TCP headers + segment size, as Linux's ip_forward does with
 *      skb_gso_validate_network_len; it is forwarded whole and cut where it
 *      leaves (l2/interface.ts, device/segment.ts)
 *   8. TTL - 1, header checksum patched incrementally (RFC 1624 eqn. 3)
 *   9. forward hooks, then postrouting hooks (hooks.ts): firewall, SNAT
 *  10. transmit on the outgoing link, fragmenting to its MTU (RFC 791 §3.2)
 *
 * ICMP errors quote the datagram as it arrived (before the TTL decrement),
 * as Linux does for time exceeded and fragmentation needed.
 */
import type { CounterName } from '../../core/stats.js';
import { completePartialChecksum, forwardedOffload, newTransportOffload, type TransportOffload, type TransportOffloadRecord } from '../../core/offload.js';
import type { StackContext } from '../../core/context.js';
import { IPV4_BROADCAST, broadcastOf, formatIpv4, isLoopbackIpv4, isMulticastIpv4, type Ipv4Address } from '../ipv4/address.js';
import { Ipv4HeaderView, describeIpv4 } from '../ipv4/header.js';
import type { Ipv4Link } from '../ipv4/link.js';
import type { Ipv4Route, Ipv4SendResult } from '../ipv4/output.js';
import type { IcmpErrorKind } from '../icmpv4/icmpv4.js';
import { Icmpv4TimeExceededCode, Icmpv4UnreachableCode } from '../icmpv4/message.js';
import type { HookPacket, HookResult, HookTable } from './hooks.js';

/**
 * RFC 3704 §2.2 strict: the source must be reachable through the interface
 * the packet came in on. §2.3 loose: through any interface. Linux's
 * net.ipv4.conf.*.rp_filter is 0 (off) in the kernel, 1 strict, 2 loose.
 */
export type RpFilterMode = 'off' | 'loose' | 'strict';
export const RP_FILTER_DEFAULT: RpFilterMode = 'off'; // Linux kernel default rp_filter = 0

export const ForwardCounter = {
  /** Datagrams handed to a link for forwarding (RFC 4293 ipSystemStatsOutForwDatagrams; nstat IpForwDatagrams). */
  forwDatagrams: 'IpForwDatagrams',
  /** RFC 4293 ipSystemStatsInHdrErrors counts TTL expiry too (Linux does, in ip_forward). */
  inHdrErrors: 'IpInHdrErrors',
  /** TTL ≤ 1 on arrival: the part of IpInHdrErrors traceroute causes. */
  ttlExceeded: 'ipForwTtlExceeded',
  /** No route (RFC 4293 ipSystemStatsInNoRoutes). */
  inNoRoutes: 'IpExtInNoRoutes',
  /** A reject route (unreachable / prohibit) or a blackhole matched. */
  rejectRoute: 'ipForwRejectRoute',
  /** Martian destination (RFC 4293 ipSystemStatsInAddrErrors). */
  inAddrErrors: 'IpInAddrErrors',
  /** Martian source. */
  inMartians: 'ipInMartians',
  /** Spoofed source: Linux LINUX_MIB_IPRPFILTER (nstat TcpExtIPReversePathFilter). */
  reversePathFilter: 'ipReversePathFilter',
  /** A unicast datagram in a link-layer broadcast frame (RFC 1812 §5.3.4). */
  linkBroadcast: 'ipForwLinkBroadcast',
  /** To the broadcast address of another subnet (RFC 2644: off by default). */
  directedBroadcast: 'ipForwDirectedBroadcast',
  /** DF set and larger than the next link's MTU (RFC 4293 ipSystemStatsOutFragFails). */
  fragFails: 'IpFragFails',
  /** Dropped or rejected by a forward/postrouting hook (the firewall). */
  filtered: 'ipForwFiltered',
  /** ARP never resolved the next hop: ICMP host unreachable. */
  nextHopUnreachable: 'ipForwHostUnreachable',
} as const;

/**
 * A route that does not lead to a link (Linux route types, `ip route add
 * prohibit|unreachable|blackhole PREFIX`). It is put in the route table
 * like any interface; forwarding recognises it, and a locally originated
 * packet that takes it is dropped and counted.
 */
export class RejectRoute implements Ipv4Link {
  readonly mtu = 65_535;
  readonly ipv4Addresses = [];
  constructor(
    readonly kind: 'unreachable' | 'prohibit' | 'blackhole',
    private readonly ctx: StackContext,
  ) {}
  get name(): string {
    return this.kind;
  }
  sendIpv4(packet: Uint8Array): void {
    this.ctx.trace.dropped('IpOutNoRoutes', `${this.kind} route`, () => describeIpv4(packet));
  }
}

export interface ForwarderDependencies {
  readonly ctx: StackContext;
  /** Longest-prefix route lookup (Ipv4Output.route). */
  route(destination: Ipv4Address): Ipv4Route | undefined;
  /** Puts a packet on a link, fragmenting to its MTU (Ipv4Output.transmit); a super-packet goes whole with its `offload`. */
  transmit(packet: Uint8Array, route: Ipv4Route, offload: TransportOffload | undefined): Ipv4SendResult;
  /** Sends an ICMP error about `original` (Icmpv4.sendError: applies RFC 1122 §3.2.2 and the rate limit). */
  sendIcmpError(original: Uint8Array, kind: IcmpErrorKind): void;
  readonly hooks: HookTable;
}

export class Ipv4Forwarder {
  rpFilter: RpFilterMode = RP_FILTER_DEFAULT;
  private readonly header = new Ipv4HeaderView();
  private readonly hookPacket: { -readonly [K in keyof HookPacket]: HookPacket[K] } = {
    bytes: new Uint8Array(0),
    inLink: undefined as unknown as Ipv4Link,
    outLink: undefined,
    nextHop: undefined,
    linkBroadcast: false,
    offload: undefined,
  };
  /** A super-packet's offload with its header length filled in (the receive side leaves it 0). */
  private readonly offload = newTransportOffload();

  constructor(private readonly deps: ForwarderDependencies) {
    deps.ctx.stats.declare(...Object.values(ForwardCounter));
  }

  /**
   * A valid datagram (checked by Ipv4Input) that is not for us arrived on
   * `inLink`. `packet` is exactly Total Length bytes; it is modified in place.
   * `offload`: it is a TSO super-packet and/or has a partial checksum.
   */
  forward(packet: Uint8Array, inLink: Ipv4Link, linkBroadcast: boolean, rxOffload?: TransportOffload): void {
    const { ctx } = this.deps;
    const header = this.header;
    if (header.wrap(packet, false)) return; // Ipv4Input validated it; unreachable in practice
    const source = header.source;
    const destination = header.destination;

    // 1. RFC 1812 §5.3.4: "SHOULD silently discard" unicast IP that came as link-layer broadcast.
    if (linkBroadcast) return this.drop(ForwardCounter.linkBroadcast, 'unicast IP in a link-layer broadcast', packet);

    // 2. RFC 1812 §5.3.7: never forward to or from 0/8, 127/8 or 240/4 (class E), nor to a multicast group (no multicast routing here).
    if (isMartianDestination(destination)) return this.drop(ForwardCounter.inAddrErrors, `martian destination ${formatIpv4(destination)}`, packet);
    if (isMartianSource(source)) return this.drop(ForwardCounter.inMartians, `martian source ${formatIpv4(source)}`, packet);

    // 3. RFC 3704: is the source reachable back through where it came from?
    if (this.rpFilter !== 'off') {
      const back = this.deps.route(source);
      const ok = back !== undefined && !(back.link instanceof RejectRoute) && (this.rpFilter === 'loose' || back.link === inLink);
      if (!ok) return this.drop(ForwardCounter.reversePathFilter, `${this.rpFilter} rp_filter: ${formatIpv4(source)} not routed via ${inLink.name}`, packet);
    }

    // 4. RFC 1812 §5.2.4.3: longest match; §5.2.7.1: no route is "network unreachable".
    const route = this.deps.route(destination);
    if (route === undefined) {
      return this.reject(packet, Icmpv4UnreachableCode.net, ForwardCounter.inNoRoutes, `no route to ${formatIpv4(destination)}`);
    }
    const out = route.link;
    if (out instanceof RejectRoute) {
      if (out.kind === 'blackhole') return this.drop(ForwardCounter.rejectRoute, `blackhole route to ${formatIpv4(destination)}`, packet);
      const code = out.kind === 'prohibit' ? Icmpv4UnreachableCode.adminProhibited : Icmpv4UnreachableCode.host;
      return this.reject(packet, code, ForwardCounter.rejectRoute, `${out.kind} route to ${formatIpv4(destination)}`);
    }

    // 5. RFC 2644: "a router MUST ... by default ... drop directed broadcasts".
    for (const a of out.ipv4Addresses) {
      if (a.prefixLength < 31 && broadcastOf(a) === destination) {
        return this.drop(ForwardCounter.directedBroadcast, `directed broadcast ${formatIpv4(destination)} (RFC 2644)`, packet);
      }
    }

    // 6. RFC 1812 §5.3.1: "If the TTL is reduced to zero (or less), the packet MUST be discarded, and ...
    //    the router MUST send an ICMP Time Exceeded message".
    const ttl = header.ttl;
    if (ttl <= 1) {
      ctx.stats.inc(ForwardCounter.inHdrErrors);
      ctx.trace.dropped(ForwardCounter.ttlExceeded, `TTL ${ttl} on ${inLink.name}`, () => describeIpv4(packet));
      this.deps.sendIcmpError(packet, { type: 'timeExceeded', code: Icmpv4TimeExceededCode.ttl });
      return;
    }

    // 7. RFC 1191: DF and too big for the next link: tell the sender the MTU that fits. A super-packet's
    //    size on the wire is its segments'; one whose segments do not fit goes on as one big datagram
    //    (fragmented at step 10 when DF is clear), its partial checksum finished first.
    let offload = forwardedOffload(this.offload, rxOffload, packet, this.header.headerLength);
    const wireSize = offload !== undefined && offload.segmentSize > 0 ? offload.headerLength + offload.segmentSize : packet.length;
    if (wireSize > out.mtu) {
      if (header.dontFragment) {
        ctx.trace.dropped(ForwardCounter.fragFails, `DF set, ${wireSize} > mtu ${out.mtu} of ${out.name}`, () => describeIpv4(packet));
        this.deps.sendIcmpError(packet, { type: 'destinationUnreachable', code: Icmpv4UnreachableCode.fragNeeded, nextHopMtu: out.mtu });
        return;
      }
      if (offload !== undefined && offload.checksumStart > 0) completePartialChecksum(packet, offload);
      offload = undefined;
    }

    // 8. RFC 1812 §5.3.1 + RFC 1624: decrement and patch the checksum; no full recomputation.
    header.decrementTtl();
    if (ctx.trace.watching) ctx.trace.step(`RFC 1812 §5.2.4.3: longest match for ${formatIpv4(destination)}: out ${out.name}${route.nextHop !== destination ? ` via ${formatIpv4(route.nextHop)}` : ' (on link)'}; §5.3.1 TTL ${ttl} → ${ttl - 1}`);

    // 9. Hooks: the firewall (forward), then SNAT (postrouting).
    let bytes = packet;
    const hooks = this.deps.hooks;
    if (!hooks.isEmpty('forward') || !hooks.isEmpty('postrouting')) {
      const p = this.hookPacket;
      p.bytes = packet;
      p.inLink = inLink;
      p.outLink = out;
      p.nextHop = route.nextHop;
      p.linkBroadcast = linkBroadcast;
      p.offload = offload;
      if (!this.runHook('forward', p) || !this.runHook('postrouting', p)) return;
      // A hook that replaced the bytes made a new packet, with no offload of its own.
      if (p.bytes !== packet) offload = undefined;
      bytes = p.bytes;
    }

    // 10. Out it goes, in fragments if the link is smaller (DF was handled in step 7), a super-packet whole.
    const result = this.deps.transmit(bytes, route, offload);
    if (result === 'sent') ctx.stats.inc(ForwardCounter.forwDatagrams);
    if (ctx.trace.watching) ctx.trace.step(`RFC 1812 §5.2.1 forwarded on ${out.name}: ${result}`);
  }

  /** Runs one hook point; false when the packet is gone (dropped, rejected or stolen). */
  private runHook(point: 'forward' | 'postrouting', p: HookPacket): boolean {
    const result: HookResult = this.deps.hooks.run(point, p);
    const verdict = result.verdict;
    if (verdict === 'accept') return true;
    if (verdict === 'stolen') return false;
    if (verdict === 'drop') {
      this.drop(ForwardCounter.filtered, `${point} hook ${result.by}: drop`, p.bytes);
      return false;
    }
    // Like Linux's REJECT target, the ICMP error quotes the packet as the hook saw it (TTL already decremented).
    this.reject(p.bytes, verdict.reject, ForwardCounter.filtered, `${point} hook ${result.by}: ${verdict.reason ?? `reject code ${verdict.reject}`}`);
    return false;
  }

  /** Discards and answers ICMP destination unreachable with `code` (RFC 1812 §5.2.7.1). */
  private reject(packet: Uint8Array, code: number, counter: CounterName, reason: string): void {
    this.deps.ctx.trace.dropped(counter, reason, () => describeIpv4(packet));
    this.deps.sendIcmpError(packet, { type: 'destinationUnreachable', code });
  }

  private drop(counter: CounterName, reason: string, packet: Uint8Array): void {
    this.deps.ctx.trace.dropped(counter, reason, () => describeIpv4(packet));
  }
}

/** RFC 1812 §5.3.7: 0.0.0.0/8, 127.0.0.0/8, 240.0.0.0/4 (class E, 255.255.255.255 included) and multicast are never forwarded to. */
export function isMartianDestination(address: Ipv4Address): boolean {
  return address >>> 24 === 0 || isLoopbackIpv4(address) || address >>> 28 >= 0xe || address === IPV4_BROADCAST;
}

/** RFC 1812 §5.3.7: "a source address on network 0", loopback, multicast or class E is never forwarded. */
export function isMartianSource(address: Ipv4Address): boolean {
  return address >>> 24 === 0 || isLoopbackIpv4(address) || isMulticastIpv4(address) || address >>> 28 === 0xf;
}
