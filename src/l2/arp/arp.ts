/**
 * ARP behaviour for one interface: answer for our addresses, learn only what
 * we asked for, resolve next hops for IPv4 output (the interface,
 * ../interface.ts, asks `resolve` and frames the packet itself).
 *
 * Read first: RFC 826 "Packet Reception" (the merge algorithm, quoted below),
 * RFC 1122 §2.3.2 (flooding limit, pending packets), RFC 5227 (probes,
 * announcements, conflicts), RFC 1812 §3.3.2 (never believe a multicast MAC
 * for a unicast address), RFC 1122 §3.2.1.3 (addresses no host has). Linux net/ipv4/arp.c arp_process() makes the same
 * decisions; the counters name them.
 *
 * RFC 826's reception algorithm, and where each step lives:
 *   ?Do I have the hardware type / speak the protocol?  → ArpPacketView.wrap (else arpInErrors)
 *   (tapnet, like Linux: a sender address no host can have is ignored → arpInMartians)
 *   "If the pair <protocol type, sender protocol address> is already in my
 *    translation table, update the sender hardware address field"  → merge with cache.update(create: false)
 *   ?Am I the target protocol address?                  → else arpInForeign / arpInUnsolicited
 *   "If Merge_flag is false, add the triplet"            → cache.update(create: true), only here
 *   ?Is the opcode ares_op$REQUEST? "swap ... send"      → sendReply
 *
 * Unsolicited replies and gratuitous ARPs for addresses we have no entry for
 * never create one: that is how ARP spoofing fills caches (and our cap is
 * finite). Linux behaves the same with arp_accept = 0.
 */
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import { IPV4_BROADCAST, broadcastOf, formatIpv4, isLoopbackIpv4, isMulticastIpv4, networkOf, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { EtherType } from '../ethernet/ether-type.js';
import { ETHERNET_VLAN_HEADER_LENGTH, emitEthernet, type VlanTag } from '../ethernet/frame.js';
import { BROADCAST_MAC, ZERO_MAC, formatMac, isMulticastMac, type MacAddress } from '../mac-address.js';
import { NeighbourCache, NudState, type NeighbourTimings } from '../neighbour/cache.js';
import type { NeighbourResolver } from '../neighbour/resolver.js';
import { ARP_LENGTH, ArpOperation, ArpPacketView, describeArp, describeArpBytes, emitArp } from './packet.js';

/**
 * Replies that would change a known address are ignored for this long after
 * the last update, so that with two answers (proxy ARP, a spoofer) the first
 * one sticks instead of flapping.
 */
export const ARP_LOCKTIME_MS = 1_000; // Linux net.ipv4.neigh.default.locktime (100 jiffies)

/** Counter names (Linux has no ARP MIB; these follow the `arpIn…/arpOut…` pattern). */
export const ArpCounter = {
  /** Well-formed requests received. */
  inRequests: 'arpInRequests',
  /** Well-formed replies received. */
  inReplies: 'arpInReplies',
  outRequests: 'arpOutRequests',
  outReplies: 'arpOutReplies',
  /** Malformed, unsupported, or a non-unicast sender hardware address. */
  inErrors: 'arpInErrors',
  /** Requests for an address that is not ours. */
  inForeign: 'arpInForeign',
  /** Replies / gratuitous ARPs about an address we never asked about. */
  inUnsolicited: 'arpInUnsolicited',
  /** A different address for a known entry within ARP_LOCKTIME_MS of its last update. */
  inLocked: 'arpInLocked',
  /** Someone else claims one of our addresses (RFC 5227 §2.4). */
  inConflict: 'arpInConflict',
  /** A sender address no host can have (multicast, broadcast, 127/8, 0/8, our subnet's network address). */
  inMartians: 'arpInMartians',
  /** Next hop 0.0.0.0: a routing bug upstream. */
  outBadNextHop: 'arpOutBadNextHop',
  // Kept by the cache (counterPrefix 'arp'):
  resolveFailed: 'arpResolveFailed',
  queueDrops: 'arpQueueDrops',
  cacheFull: 'arpCacheFull',
} as const;

/** What ARP needs from the interface it serves. */
export interface ArpDependencies {
  readonly ctx: StackContext;
  /** Our MAC on this link. */
  readonly mac: MacAddress;
  /** Our IPv4 addresses on this link (asked each time: DHCP may change them). */
  addresses(): readonly number[];
  /** The same with their prefix lengths: a sender claiming a subnet's broadcast or network address is a martian. */
  subnets?(): readonly Ipv4Cidr[];
  /** Transmits a complete ARP frame. The buffer is reused after the call: the device copies. */
  sendFrame(frame: Uint8Array): void;
  /** An IPv4 packet that waited for resolution leaves for `mac` (the interface frames it). */
  transmit(mac: MacAddress, packet: Uint8Array): void;
  /** A packet that waited for `nextHop` and will never be sent (IP may answer ICMP host unreachable). */
  onUnreachable?(packet: Uint8Array, nextHop: number): void;
  /** True for a subnet-directed broadcast of this link (255.255.255.255 is always broadcast). */
  isBroadcast?(address: number): boolean;
  /** Sender address for a request about `target`; default: our first address, else 0.0.0.0. */
  selectSource?(target: number): number | undefined;
  /** Tag every frame we send with this 802.1Q tag (a VLAN sub-interface). */
  readonly vlan?: VlanTag;
  /** Overrides for tests and labs (defaults: the Linux values in ../neighbour/cache.ts). */
  readonly cache?: { maxEntries?: number; queueMaxPackets?: number; timings?: Partial<NeighbourTimings> };
}

/** One line of `tapnet show arp`. */
export interface ArpEntryInfo {
  readonly address: number;
  readonly state: NudState;
  readonly mac: MacAddress | undefined;
  /** Milliseconds since the last state or address change. */
  readonly ageMs: number;
  /** Packets waiting for resolution. */
  readonly queued: number;
}

/** RFC 1112 §6.4: 01:00:5e followed by the low 23 bits of the group address. */
export function ipv4MulticastMac(group: number): MacAddress {
  return 0x01_00_5e_00_00_00 + (group & 0x7f_ffff);
}

export class Arp implements NeighbourResolver<number> {
  readonly cache: NeighbourCache<number>;
  private readonly view = new ArpPacketView();
  /** ARP frames are built here: at most 18 + 28 bytes. */
  private readonly arpScratch = new Uint8Array(ETHERNET_VLAN_HEADER_LENGTH + ARP_LENGTH);

  constructor(private readonly deps: ArpDependencies) {
    this.cache = new NeighbourCache<number>({
      ctx: deps.ctx,
      counterPrefix: 'arp',
      maxEntries: deps.cache?.maxEntries,
      queueMaxPackets: deps.cache?.queueMaxPackets,
      timings: deps.cache?.timings,
      describeKey: formatIpv4,
      solicit: (target, unicastTo) => this.sendRequest(target, unicastTo),
      transmit: (_nextHop, mac, packet) => deps.transmit(mac, packet),
      unreachable: (nextHop, packet) => deps.onUnreachable?.(packet, nextHop),
    });
    deps.ctx.stats.declare(...Object.values(ArpCounter));
  }

  /**
   * An ARP packet arrived. `packet` is the frame's payload; `linkDestination`
   * is the frame's destination MAC, which tells a reply sent to us (it
   * confirms reachability) from a broadcast one (merely overheard). Without
   * it, replies are taken as sent to us.
   */
  receive(packet: Uint8Array, linkDestination: MacAddress = this.deps.mac): void {
    const { ctx } = this.deps;
    const arp = this.view;
    const error = arp.wrap(packet);
    if (error) {
      ctx.trace.dropped(ArpCounter.inErrors, describeParseError(error), () => describeArpBytes(packet));
      return;
    }
    const operation = arp.operation;
    const sha = arp.senderHardwareAddress;
    const spa = arp.senderProtocolAddress;
    const tpa = arp.targetProtocolAddress;
    ctx.stats.inc(operation === ArpOperation.Request ? ArpCounter.inRequests : ArpCounter.inReplies);
    const describe = (): string => describeArp(arp.toRecord());

    // RFC 1812 §3.3.2: an ARP reply claiming a multicast MAC for a unicast address MUST be discarded.
    if (isMulticastMac(sha) || sha === ZERO_MAC) {
      ctx.trace.dropped(ArpCounter.inErrors, `sender hardware address ${formatMac(sha)} is not unicast`, describe);
      return;
    }
    if (sha === this.deps.mac) {
      ctx.trace.dropped(ArpCounter.inConflict, 'our own MAC as sender (a loop, or a clone)', describe);
      return;
    }
    if (this.isOurs(spa)) {
      ctx.trace.dropped(ArpCounter.inConflict, `${formatIpv4(spa)} is ours (RFC 5227 §2.4)`, describe);
      return;
    }

    if (spa !== 0) {
      const martian = this.martian(spa);
      if (martian) {
        ctx.trace.dropped(ArpCounter.inMartians, `sender ${formatIpv4(spa)} is ${martian}`, describe);
        return;
      }
    }

    if (spa === 0) {
      // RFC 5227 §2.1.1 probe (duplicate address detection): answer if the address is ours, learn nothing.
      if (operation === ArpOperation.Request && this.isOurs(tpa)) this.sendReply(sha, 0, tpa);
      else if (operation === ArpOperation.Request) ctx.trace.dropped(ArpCounter.inForeign, 'probe for a foreign address', describe);
      else ctx.trace.dropped(ArpCounter.inErrors, 'reply from 0.0.0.0', describe);
      return;
    }

    if (operation === ArpOperation.Request && this.isOurs(tpa)) {
      // Merge, or add the triplet: the sender is about to talk to us, and we will answer it.
      // STALE, not REACHABLE: the request proves its address, not that it hears us.
      this.cache.update(spa, sha, { state: NudState.Stale, create: true, override: true });
      if (ctx.trace.watching) ctx.trace.step(`RFC 826 "Packet reception": request for our ${formatIpv4(tpa)}: sender ${formatIpv4(spa)} is ${formatMac(sha)} (merged, STALE); reply`);
      this.sendReply(sha, spa, tpa);
      return;
    }

    const entry = this.cache.lookup(spa);
    if (entry === undefined) {
      if (operation === ArpOperation.Reply) {
        ctx.trace.dropped(ArpCounter.inUnsolicited, 'reply for an address we never asked about', describe);
      } else if (spa === tpa) {
        ctx.trace.dropped(ArpCounter.inUnsolicited, 'gratuitous ARP for an unknown address', describe);
      } else {
        ctx.trace.dropped(ArpCounter.inForeign, `request for ${formatIpv4(tpa)}, not ours`, describe);
      }
      return;
    }

    // Merge into the existing entry. Only a reply sent to our MAC confirms reachability
    // (Linux: ARPOP_REPLY && PACKET_HOST); broadcast replies and gratuitous ARPs are overheard.
    const confirmed = operation === ArpOperation.Reply && linkDestination === this.deps.mac;
    const override = entry.mac === undefined || ctx.clock.now() - entry.updatedAt >= ARP_LOCKTIME_MS;
    const outcome = this.cache.update(spa, sha, {
      state: confirmed ? NudState.Reachable : NudState.Stale,
      create: false,
      override,
    });
    if (ctx.trace.watching) ctx.trace.step(`RFC 826 "Packet reception": merge ${formatIpv4(spa)} is ${formatMac(sha)} (${confirmed ? 'REACHABLE: a reply to us' : 'STALE'})`);
    if (outcome === 'locked') {
      ctx.trace.dropped(ArpCounter.inLocked, `address change within ${ARP_LOCKTIME_MS} ms`, describe);
    } else if (operation === ArpOperation.Request && spa !== tpa) {
      ctx.trace.dropped(ArpCounter.inForeign, `request for ${formatIpv4(tpa)}, not ours (sender merged)`, describe);
    }
  }

  /**
   * The MAC for an IPv4 `nextHop` on this link: at once if the address is
   * known (or a broadcast/multicast), else a copy of `ipPacket` waits while
   * ARP asks, and leaves through `deps.transmit` when the answer comes.
   */
  resolve(nextHop: number, ipPacket: Uint8Array): MacAddress | 'queued' | 'dropped' {
    if (nextHop === IPV4_BROADCAST || this.deps.isBroadcast?.(nextHop)) return BROADCAST_MAC;
    if (isMulticastIpv4(nextHop)) return ipv4MulticastMac(nextHop);
    if (nextHop === 0) {
      this.deps.ctx.trace.dropped(ArpCounter.outBadNextHop, 'next hop 0.0.0.0');
      return 'dropped';
    }
    return this.cache.resolve(nextHop, ipPacket);
  }

  /** True when a packet to `nextHop` would wait for ARP (a unicast address with no usable MAC yet). */
  mustWait(nextHop: number): boolean {
    if (nextHop === IPV4_BROADCAST || nextHop === 0 || isMulticastIpv4(nextHop) || this.deps.isBroadcast?.(nextHop)) return false;
    return this.cache.lookup(nextHop)?.mac === undefined;
  }

  /**
   * Gratuitous ARP for each of our addresses, as an RFC 5227 §2.3
   * announcement: a broadcast request with sender = target = our address and
   * a zero target hardware address. Neighbours that already have an entry for
   * us update it (e.g. after a MAC change); call it when the interface comes up.
   */
  announce(): void {
    for (const address of this.deps.addresses()) {
      this.sendArp(BROADCAST_MAC, ArpOperation.Request, address, ZERO_MAC, address);
      this.deps.ctx.stats.inc(ArpCounter.outRequests);
    }
  }

  /** Starts (or re-checks) resolution of `address` without a packet to send. */
  probe(address: number): void {
    this.cache.probe(address);
  }

  /** The MAC for `address` if known and usable, without side effects. */
  lookup(address: number): MacAddress | undefined {
    const entry = this.cache.lookup(address);
    return entry === undefined || entry.state === NudState.Failed ? undefined : entry.mac;
  }

  /** Upper-layer proof that `address` is reachable (e.g. TCP saw new data acknowledged). */
  confirm(address: number): void {
    this.cache.confirm(address);
  }

  /** The cache for `tapnet show arp`, sorted by address. */
  entries(): ArpEntryInfo[] {
    const now = this.deps.ctx.clock.now();
    return this.cache
      .entries()
      .map((e) => ({ address: e.key, state: e.state, mac: e.mac, ageMs: now - e.updatedAt, queued: e.queued }))
      .sort((a, b) => a.address - b.address);
  }

  // --- output ---

  /**
   * Why no host can have `address` as its own, or undefined when one can.
   * RFC 1122 §3.2.1.3 forbids these as a source address, and an ARP sender
   * address is one; caching it would let anyone steer our packets for a
   * broadcast or multicast address to one MAC (Linux learns only RTN_UNICAST
   * senders, arp_process()).
   */
  private martian(address: number): string | undefined {
    if (isMulticastIpv4(address)) return 'multicast';
    if (address === IPV4_BROADCAST) return 'the limited broadcast address';
    if (isLoopbackIpv4(address)) return 'loopback (127/8)';
    if (address >>> 24 === 0) return '"this network" (0/8)';
    for (const subnet of this.deps.subnets?.() ?? []) {
      if (subnet.prefixLength >= 31) continue; // RFC 3021: /31 and /32 have no broadcast or network address
      if (address === broadcastOf(subnet)) return "the subnet's broadcast address";
      if (address === networkOf(subnet)) return "the subnet's network address";
    }
    return undefined;
  }

  private isOurs(address: number): boolean {
    const ours = this.deps.addresses();
    for (let i = 0; i < ours.length; i++) if (ours[i] === address) return true;
    return false;
  }

  private sendRequest(target: number, unicastTo: MacAddress | undefined): void {
    const source = this.deps.selectSource ? this.deps.selectSource(target) : this.deps.addresses()[0];
    // Linux fills the target hardware address with zeros, also in unicast probes.
    this.sendArp(unicastTo ?? BROADCAST_MAC, ArpOperation.Request, source ?? 0, ZERO_MAC, target);
    this.deps.ctx.stats.inc(ArpCounter.outRequests);
  }

  /** RFC 826: "Swap hardware and protocol fields, putting the local hardware and protocol addresses in the sender fields." */
  private sendReply(requesterMac: MacAddress, requesterAddress: number, ourAddress: number): void {
    this.sendArp(requesterMac, ArpOperation.Reply, ourAddress, requesterMac, requesterAddress);
    this.deps.ctx.stats.inc(ArpCounter.outReplies);
  }

  private sendArp(
    destination: MacAddress,
    operation: ArpOperation,
    senderProtocolAddress: number,
    targetHardwareAddress: MacAddress,
    targetProtocolAddress: number,
  ): void {
    const buf = this.arpScratch;
    const header = emitEthernet(
      { destination, source: this.deps.mac, vlan: this.deps.vlan, etherType: EtherType.ARP },
      buf,
      0,
    );
    const length = emitArp(
      { operation, senderHardwareAddress: this.deps.mac, senderProtocolAddress, targetHardwareAddress, targetProtocolAddress },
      buf,
      header,
    );
    this.deps.sendFrame(buf.subarray(0, header + length));
  }
}
