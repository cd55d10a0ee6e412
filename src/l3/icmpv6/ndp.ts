/**
 * Neighbor Discovery for one interface: answer solicitations for our
 * addresses, learn neighbours, resolve next hops for IPv6 output, detect
 * duplicate addresses, and (on a host) take addresses from router
 * advertisements.
 *
 * Read first: RFC 4861 §7.1 (validity checks: hop limit 255, code 0,
 * options of non-zero length, the rules for an unspecified source), §7.2.3
 * (receiving a solicitation), §7.2.5 (receiving an advertisement), §7.3 and
 * appendix C (the neighbour states; the generic cache in
 * ../../l2/neighbour/cache.ts implements them for ARP and NDP alike), RFC 4862
 * §5.4 (DAD) and §5.5.3 (SLAAC from prefix information), RFC 6980 (NDP in
 * fragments is ignored), RFC 7527 §4.1 (the Nonce that tells our own looped
 * DAD probe from another node's). Linux: net/ipv6/ndisc.c.
 *
 * The same spoofing rule as ARP: an advertisement we did not ask for never
 * creates a cache entry (Linux: ndisc_recv_na with accept_untracked_na = 0),
 * and a solicitation creates one only because we are about to answer it.
 */
import type { Disposition } from '../dispositions.js';
import { NeighbourCache, NudState, type NeighbourTimings } from '../../l2/neighbour/cache.js';
import type { NeighbourResolver } from '../../l2/neighbour/resolver.js';
import { formatMac, isUnicastMac, type MacAddress } from '../../l2/mac-address.js';
import { describeParseError } from '../../core/parse-result.js';
import type { Timer } from '../../core/time.js';
import {
  IPV6_ALL_NODES,
  IPV6_UNSPECIFIED,
  eui64InterfaceId,
  formatIpv6,
  inIpv6Cidr,
  ipv6FromKey,
  ipv6Key,
  ipv6MulticastMac,
  isLinkLocalIpv6,
  isMulticastIpv6,
  isSolicitedNodeMulticast,
  isUnspecifiedIpv6,
  solicitedNodeMulticast,
  withInterfaceId,
  type Ipv6Address,
} from '../ipv6/address.js';
import type { ReceivedIpv6 } from '../ipv6/input.js';
import type { Ipv6Interface } from '../ipv6/interface.js';
import type { Ipv6InterfaceAddress } from '../ipv6/link.js';
import { Icmpv6Type } from './message.js';
import { NDP_HOP_LIMIT, emitNdp, findNdpOption, parseNdp, describeNdp, type NdpMessage, type NdpOption } from './ndp-message.js';

/** Linux net.ipv6.neigh.default.gc_thresh3: the neighbour cache never holds more. */
export const NDP_CACHE_MAX = 1024;
/**
 * Packets held per unresolved neighbour: Linux net.ipv6.neigh.default.unres_qlen
 * (101). ARP keeps the old 3, but a burst such as traceroute's 16 parallel
 * probes would lose its first answers with that.
 */
export const NDP_PENDING_QUEUE_MAX = 101;
/** RFC 4861 §10 RETRANS_TIMER: the wait after each DAD probe. */
export const DAD_RETRANS_TIMER_MS = 1_000;
/** RFC 7527 §4.1: nonce bytes in a DAD probe (Linux sends 6). */
const DAD_NONCE_LENGTH = 6;

/** Counters tapnet invents for NDP (Linux counts these as Icmp6InErrors or not at all). */
export const NdpCounter = {
  /** Malformed: bad code, an option of length 0 or cut off, an invalid combination of fields. */
  inErrors: 'ndpInErrors',
  /** Hop limit ≠ 255 (RFC 4861 §7.1.1): sent from off the link, or forged. */
  inBadHopLimit: 'ndpInBadHopLimit',
  /** Arrived in fragments (RFC 6980 §5: MUST be silently ignored). */
  inFragmented: 'ndpInFragmented',
  /** A solicitation for an address that is not ours. */
  inForeign: 'ndpInForeign',
  /** An advertisement for an address we never asked about. */
  inUnsolicited: 'ndpInUnsolicited',
  /** Another node claims one of our addresses. */
  inConflict: 'ndpInConflict',
  /** Router solicitations at a host, router advertisements at a router, redirects: not for us to act on. */
  inIgnored: 'ndpInIgnored',
  /** DAD found one of our tentative addresses in use. */
  dadFailed: 'ndpDadFailed',
  outNeighborSolicits: 'Icmp6OutNeighborSolicits',
  outNeighborAdvertisements: 'Icmp6OutNeighborAdvertisements',
  // Kept by the cache (counterPrefix 'ndp'):
  cacheFull: 'ndpCacheFull',
  queueDrops: 'ndpQueueDrops',
  resolveFailed: 'ndpResolveFailed',
  cacheEntries: 'ndpCacheEntries',
} as const;

/** One line of `tapnet show neigh`. */
export interface NdpEntryInfo {
  readonly address: Ipv6Address;
  readonly state: NudState;
  readonly mac: MacAddress | undefined;
  readonly ageMs: number;
  readonly queued: number;
}

interface DadRun {
  readonly entry: Ipv6InterfaceAddress;
  readonly nonce: Uint8Array;
  sent: number;
  readonly timer: Timer;
}

export class Ndp implements NeighbourResolver<Ipv6Address> {
  readonly cache: NeighbourCache<string>;
  private readonly dad = new Map<string, DadRun>();

  constructor(
    private readonly iface: Ipv6Interface,
    cacheOptions: { maxEntries?: number; timings?: Partial<NeighbourTimings> } = {},
  ) {
    const ctx = iface.ctx;
    this.cache = new NeighbourCache<string>({
      ctx,
      counterPrefix: 'ndp',
      maxEntries: cacheOptions.maxEntries ?? NDP_CACHE_MAX,
      queueMaxPackets: NDP_PENDING_QUEUE_MAX,
      timings: cacheOptions.timings,
      describeKey: (key) => formatIpv6(ipv6FromKey(key)),
      solicit: (key, unicastTo) => this.sendSolicitation(ipv6FromKey(key), unicastTo),
      transmit: (_key, mac, packet) => iface.options.link.sendIpv6ToMac(packet, mac),
    });
    ctx.stats.declare(...Object.values(NdpCounter));
  }

  /**
   * The MAC for an IPv6 `nextHop` on this link (RFC 4861 §7.2.2): a
   * multicast group's own MAC (RFC 2464 §7), a known neighbour's, or
   * 'queued' while we ask (the packet leaves when the advertisement comes).
   */
  resolve(nextHop: Ipv6Address, packet: Uint8Array): MacAddress | 'queued' | 'dropped' {
    if (isMulticastIpv6(nextHop)) return ipv6MulticastMac(nextHop);
    return this.cache.resolve(ipv6Key(nextHop), packet);
  }

  /** True when a packet to `nextHop` would wait for NDP. */
  mustWait(nextHop: Ipv6Address): boolean {
    return !isMulticastIpv6(nextHop) && this.cache.lookup(ipv6Key(nextHop))?.mac === undefined;
  }

  /** Upper-layer proof that `address` is reachable (RFC 4861 §7.3.1, e.g. TCP saw new data acknowledged). */
  confirm(address: Ipv6Address): void {
    this.cache.confirm(ipv6Key(address));
  }

  entries(): NdpEntryInfo[] {
    const now = this.iface.ctx.clock.now();
    return this.cache.entries().map((e) => ({ address: ipv6FromKey(e.key), state: e.state, mac: e.mac, ageMs: now - e.updatedAt, queued: e.queued }));
  }

  stop(): void {
    for (const run of this.dad.values()) run.timer.cancel();
    this.dad.clear();
  }

  /**
   * An NDP message for this interface (ICMPv6 already verified its
   * checksum). Checks RFC 4861's validity rules, then acts.
   */
  receive(d: ReceivedIpv6): Disposition {
    const { ctx } = this.iface;
    const describe = (): string => `${formatIpv6(d.source)} > ${formatIpv6(d.destination)}: ${describeNdp(d.payload)}`;
    if (d.hopLimit !== NDP_HOP_LIMIT) {
      ctx.trace.dropped(NdpCounter.inBadHopLimit, `hop limit ${d.hopLimit}, not 255`, describe);
      return 'dropped';
    }
    if (d.fragmented) {
      ctx.trace.dropped(NdpCounter.inFragmented, 'NDP in a fragment (RFC 6980)', describe);
      return 'dropped';
    }
    const parsed = parseNdp(d.payload);
    if (!parsed.ok) {
      ctx.trace.dropped(NdpCounter.inErrors, describeParseError(parsed.error), describe);
      return 'dropped';
    }
    const m = parsed.value;
    switch (m.type) {
      case Icmpv6Type.NeighborSolicitation:
        return this.receiveSolicitation(d, m.target, m.options, describe);
      case Icmpv6Type.NeighborAdvertisement:
        return this.receiveAdvertisement(d, m, describe);
      case Icmpv6Type.RouterSolicitation:
        return this.receiveRouterSolicitation(d, m.options, describe);
      case Icmpv6Type.RouterAdvertisement:
        return this.receiveRouterAdvertisement(d, m, describe);
      default:
        // A router ignores redirects (RFC 4861 §8.1: only hosts act on them), and tapnet's hosts do too.
        ctx.trace.dropped(NdpCounter.inIgnored, 'redirect ignored', describe);
        return 'dropped';
    }
  }

  /** RFC 4861 §7.1.1 validity, then §7.2.3 (and RFC 4862 §5.4.3 for tentative targets). */
  private receiveSolicitation(d: ReceivedIpv6, target: Ipv6Address, options: readonly NdpOption[], describe: () => string): Disposition {
    const { ctx } = this.iface;
    const sourceMac = findNdpOption(options, 'sourceLinkLayerAddress')?.mac;
    const fromUnspecified = isUnspecifiedIpv6(d.source);
    if (isMulticastIpv6(target)) return this.invalid('target is multicast', describe);
    if (fromUnspecified && (!isSolicitedNodeMulticast(d.destination) || sourceMac !== undefined)) {
      return this.invalid('DAD probe not to a solicited-node group, or with a source link-layer address', describe);
    }
    if (sourceMac !== undefined && !isUnicastMac(sourceMac)) return this.invalid(`source link-layer address ${formatMac(sourceMac)} is not unicast`, describe);
    const entry = this.iface.addressEntry(target);
    if (!entry || entry.state === 'duplicate') {
      ctx.trace.dropped(NdpCounter.inForeign, `solicitation for ${formatIpv6(target)}, not ours`, describe);
      return 'dropped';
    }
    if (entry.state === 'tentative') {
      // RFC 4862 §5.4.3: another node's DAD probe for the same address means it is a duplicate;
      // a solicitation from a unicast source (address resolution) for a tentative address is ignored.
      if (fromUnspecified) {
        const run = this.dad.get(ipv6Key(target));
        const nonce = findNdpOption(options, 'nonce')?.nonce;
        if (run && nonce && equalBytes(nonce, run.nonce)) return 'delivered'; // our own probe, looped back (RFC 7527)
        this.duplicateDetected(entry, 'another node probes for it', describe);
      }
      return 'delivered';
    }
    if (fromUnspecified) {
      // RFC 4861 §7.2.4: someone's DAD for our address: defend it, to all nodes, not solicited.
      this.sendAdvertisement(target, IPV6_ALL_NODES, { solicited: false, override: true });
      return 'delivered';
    }
    if (sourceMac !== undefined) {
      // §7.2.3: the sender will talk to us: create or update its entry, STALE (this proves the address, not reachability).
      const outcome = this.cache.update(ipv6Key(d.source), sourceMac, { state: NudState.Stale, create: true, override: true });
      if (outcome === 'full') ctx.trace.event('neighbour cache full', describe);
    }
    this.sendAdvertisement(target, d.source, { solicited: true, override: true });
    return 'delivered';
  }

  /** RFC 4861 §7.1.2 validity, then §7.2.5 (and RFC 4862 §5.4.4 for tentative targets). */
  private receiveAdvertisement(d: ReceivedIpv6, m: Extract<NdpMessage, { type: 136 }>, describe: () => string): Disposition {
    const { ctx } = this.iface;
    if (isMulticastIpv6(m.target)) return this.invalid('target is multicast', describe);
    if (m.solicited && isMulticastIpv6(d.destination)) return this.invalid('solicited advertisement to a multicast address', describe);
    const targetMac = findNdpOption(m.options, 'targetLinkLayerAddress')?.mac;
    if (targetMac !== undefined && !isUnicastMac(targetMac)) return this.invalid(`target link-layer address ${formatMac(targetMac)} is not unicast`, describe);
    const ours = this.iface.addressEntry(m.target);
    if (ours) {
      if (ours.state === 'tentative') this.duplicateDetected(ours, 'another node advertises it', describe);
      else ctx.trace.dropped(NdpCounter.inConflict, `${formatIpv6(m.target)} is ours`, describe);
      return 'delivered';
    }
    const key = ipv6Key(m.target);
    const entry = this.cache.lookup(key);
    if (!entry) {
      ctx.trace.dropped(NdpCounter.inUnsolicited, 'advertisement for an address we never asked about', describe);
      return 'dropped';
    }
    if (targetMac === undefined) {
      // Without a link-layer address it can only confirm what we have (§7.2.5).
      if (entry.mac === undefined) return this.invalid('advertisement without a target link-layer address for an INCOMPLETE entry', describe);
      // §7.2.5: "If the Solicited flag is set, the state of the entry MUST be set to REACHABLE" — also from
      // PROBE, which is exactly when Linux answers our unicast probe without the option (§7.2.4 allows it).
      if (m.solicited) this.cache.update(key, entry.mac, { state: NudState.Reachable, create: false, override: false });
      return 'delivered';
    }
    // Solicited: confirmed reachable. Unsolicited: the address is news, not proof. Override (O) may replace a known address.
    this.cache.update(key, targetMac, { state: m.solicited ? NudState.Reachable : NudState.Stale, create: false, override: m.override || entry.mac === undefined });
    return 'delivered';
  }

  /** RFC 4861 §6.1.1 validity, then §6.2.6 (a router answers with an advertisement). */
  private receiveRouterSolicitation(d: ReceivedIpv6, options: readonly NdpOption[], describe: () => string): Disposition {
    const sourceMac = findNdpOption(options, 'sourceLinkLayerAddress')?.mac;
    const fromUnspecified = isUnspecifiedIpv6(d.source);
    if (fromUnspecified && sourceMac !== undefined) return this.invalid('solicitation from :: with a source link-layer address', describe);
    if (!this.iface.advertiser) {
      // §6.2.6: "A host MUST silently discard any received Router Solicitation messages."
      this.iface.ctx.trace.dropped(NdpCounter.inIgnored, 'router solicitation at a host', describe);
      return 'dropped';
    }
    if (sourceMac !== undefined && !fromUnspecified) {
      this.cache.update(ipv6Key(d.source), sourceMac, { state: NudState.Stale, create: true, override: true });
    }
    this.iface.advertiser.solicited();
    return 'delivered';
  }

  /** RFC 4861 §6.1.2 validity, then (hosts only) §6.3.4 and RFC 4862 §5.5.3. */
  private receiveRouterAdvertisement(d: ReceivedIpv6, m: Extract<NdpMessage, { type: 134 }>, describe: () => string): Disposition {
    const { iface } = this;
    if (!isLinkLocalIpv6(d.source)) return this.invalid('router advertisement from a non-link-local source', describe);
    if (!iface.acceptRouterAdvertisements) {
      iface.ctx.trace.dropped(NdpCounter.inIgnored, iface.isRouter ? 'router advertisement at a router' : 'not accepting router advertisements', describe);
      return 'dropped';
    }
    const sourceMac = findNdpOption(m.options, 'sourceLinkLayerAddress')?.mac;
    if (sourceMac !== undefined && isUnicastMac(sourceMac)) {
      this.cache.update(ipv6Key(d.source), sourceMac, { state: NudState.Stale, create: true, override: true });
    }
    iface.options.onDefaultRouter?.(d.source.slice(), m.routerLifetime, iface);
    for (const o of m.options) {
      if (o.kind === 'recursiveDnsServer') iface.dnsServers = o.lifetime === 0 ? [] : o.servers.map((s) => s.slice());
      if (o.kind !== 'prefixInformation') continue;
      // RFC 4862 §5.5.3: autonomous flag, not link-local, preferred ≤ valid; and a 64-bit interface identifier.
      if (!o.autonomous || isLinkLocalIpv6(o.prefix) || o.preferredLifetime > o.validLifetime || o.validLifetime === 0) continue;
      if (o.prefixLength !== 64) {
        iface.ctx.trace.event('SLAAC', () => `prefix ${formatIpv6(o.prefix)}/${o.prefixLength} is not /64; no address formed`);
        continue;
      }
      const address = withInterfaceId(o.prefix, eui64InterfaceId(iface.mac));
      if (!iface.ipv6Addresses.some((a) => inIpv6Cidr(address, a) && a.autoconfigured)) iface.addAddress({ address, prefixLength: 64 }, true);
    }
    return 'delivered';
  }

  // --- DAD (RFC 4862 §5.4) ---

  /** Probes for `entry` (tentative) DupAddrDetectTransmits times, RETRANS_TIMER apart; then it is preferred. */
  startDuplicateAddressDetection(entry: Ipv6InterfaceAddress): void {
    const key = ipv6Key(entry.address);
    if (this.dad.has(key)) return;
    const nonce = new Uint8Array(DAD_NONCE_LENGTH);
    for (let i = 0; i < nonce.length; i++) nonce[i] = this.iface.ctx.random.u32() & 0xff;
    const run: DadRun = { entry, nonce, sent: 0, timer: this.iface.ctx.timers.timer(() => this.dadTick(run)) };
    this.dad.set(key, run);
    this.dadTick(run);
  }

  private dadTick(run: DadRun): void {
    if (run.entry.state !== 'tentative') return;
    if (run.sent >= this.iface.dadTransmits) {
      this.dad.delete(ipv6Key(run.entry.address));
      run.entry.state = 'preferred';
      this.iface.addressStateChanged(run.entry);
      return;
    }
    run.sent++;
    // RFC 4862 §5.4.2: from ::, to the solicited-node group, no source link-layer address.
    this.send(
      { type: Icmpv6Type.NeighborSolicitation, target: run.entry.address, options: [{ kind: 'nonce', nonce: run.nonce }] },
      IPV6_UNSPECIFIED,
      solicitedNodeMulticast(run.entry.address),
    );
    this.iface.ctx.stats.inc(NdpCounter.outNeighborSolicits);
    run.timer.armIn(DAD_RETRANS_TIMER_MS);
  }

  private duplicateDetected(entry: Ipv6InterfaceAddress, why: string, describe: () => string): void {
    const key = ipv6Key(entry.address);
    this.dad.get(key)?.timer.cancel();
    this.dad.delete(key);
    entry.state = 'duplicate';
    this.iface.ctx.trace.dropped(NdpCounter.dadFailed, `${formatIpv6(entry.address)}: ${why}`, describe);
    this.iface.addressStateChanged(entry);
  }

  // --- output ---

  /** Address resolution (multicast, to the solicited-node group) or a unicast reachability probe (RFC 4861 §7.2.2). */
  private sendSolicitation(target: Ipv6Address, unicastTo: MacAddress | undefined): void {
    const source = this.sourceFor(target);
    if (!source) return; // nothing preferred yet: the cache retries on its timer
    this.send(
      { type: Icmpv6Type.NeighborSolicitation, target, options: [{ kind: 'sourceLinkLayerAddress', mac: this.iface.mac }] },
      source,
      unicastTo === undefined ? solicitedNodeMulticast(target) : target,
      unicastTo,
    );
    this.iface.ctx.stats.inc(NdpCounter.outNeighborSolicits);
  }

  /** RFC 4861 §7.2.4: from the target address, with our link-layer address; R on a router. */
  private sendAdvertisement(target: Ipv6Address, destination: Ipv6Address, flags: { solicited: boolean; override: boolean }): void {
    this.send(
      {
        type: Icmpv6Type.NeighborAdvertisement,
        router: this.iface.isRouter,
        solicited: flags.solicited,
        override: flags.override,
        target,
        options: [{ kind: 'targetLinkLayerAddress', mac: this.iface.mac }],
      },
      target,
      destination,
    );
    this.iface.ctx.stats.inc(NdpCounter.outNeighborAdvertisements);
  }

  private send(message: NdpMessage, source: Ipv6Address, destination: Ipv6Address, unicastMac?: MacAddress): void {
    this.iface.sendControl({ source, destination, hopLimit: NDP_HOP_LIMIT, unicastMac }, (buf, offset, s, d) => emitNdp(message, buf, offset, s, d));
    this.iface.ctx.stats.inc('Icmp6OutMsgs');
  }

  /** A preferred address of ours on the target's prefix, else the link-local one (RFC 4861 §7.2.2). */
  private sourceFor(target: Ipv6Address): Ipv6Address | undefined {
    const preferred = this.iface.ipv6Addresses.filter((a) => a.state === 'preferred');
    return (preferred.find((a) => !isLinkLocalIpv6(a.address) && inIpv6Cidr(target, a)) ?? preferred.find((a) => isLinkLocalIpv6(a.address)))?.address;
  }

  private invalid(reason: string, describe: () => string): Disposition {
    this.iface.ctx.trace.dropped(NdpCounter.inErrors, reason, describe);
    return 'dropped';
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
