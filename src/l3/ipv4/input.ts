/**
 * IPv4 input: validate, decide "for us or not", reassemble, hand to the
 * transport protocol, and turn its answer into ICMP.
 *
 * Read first: RFC 1122 §3.2.1 (what a host MUST check), RFC 791 §3.2
 * (reassembly), RFC 1812 §5.3.7 (martian addresses).
 */
import type { StackContext } from '../../core/context.js';
import type { TransportOffload } from '../../core/offload.js';
import { describeParseError } from '../../core/parse-result.js';
import { IPV4_BROADCAST, broadcastOf, formatIpv4, isLoopbackIpv4, isMulticastIpv4, type Ipv4Address } from './address.js';
import { IPV4_MIN_HEADER_LENGTH, Ipv4HeaderView, checkIpv4Options, describeIpv4 } from './header.js';
import { Ipv4Reassembler } from './reassembly.js';
import type { Ipv4Link } from './link.js';
import type { Disposition } from '../dispositions.js';

/** A received datagram as transport protocols see it. Valid only during the handler call. */
export interface ReceivedIpv4 {
  readonly link: Ipv4Link;
  /** The whole IPv4 packet (header + payload), for ICMP errors that quote it. */
  readonly packet: Uint8Array;
  readonly payload: Uint8Array;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  /** The ECN field (RFC 3168 §5): CE tells TCP that a router saw congestion. */
  readonly ecn: number;
  /** Sent to a broadcast or multicast address (no ICMP errors for these, RFC 1122 §3.2.2). */
  readonly toBroadcastOrMulticast: boolean;
  /** The link vouches for the transport checksum (virtio-net NEEDS_CSUM/DATA_VALID): do not verify it. */
  readonly checksumValid: boolean;
}

export type Ipv4ProtocolHandler = (datagram: ReceivedIpv4) => Disposition;

export interface Ipv4InputHooks {
  /** ICMP destination unreachable for a datagram we could not deliver (IP decides whether it may be sent). */
  unreachable(datagram: ReceivedIpv4, code: 'protocol' | 'port'): void;
  /** A datagram for someone else: the router forwards it when forwarding is on (`offload`: as it arrived). */
  forward?(packet: Uint8Array, link: Ipv4Link, linkBroadcast: boolean, offload: TransportOffload | undefined): void;
  /** A malformed option: ICMP Parameter Problem pointing at octet `pointer` of the header (RFC 1122 §3.2.2.5). */
  parameterProblem?(packet: Uint8Array, pointer: number, toBroadcastOrMulticast: boolean): void;
  /** Fragment reassembly timed out with fragment zero present (RFC 792: ICMP time exceeded, code 1). */
  reassemblyTimeout?(firstFragment: Uint8Array): void;
}

/** Mutable record reused for every delivery: the hot path allocates nothing per packet. */
type MutableReceived = { -readonly [K in keyof ReceivedIpv4]: ReceivedIpv4[K] };

export class Ipv4Input {
  private readonly header = new Ipv4HeaderView();
  private readonly handlers = new Map<number, Ipv4ProtocolHandler>();
  readonly reassembler: Ipv4Reassembler;
  private readonly received: MutableReceived = {
    link: undefined as unknown as Ipv4Link,
    packet: new Uint8Array(0),
    payload: new Uint8Array(0),
    source: 0,
    destination: 0,
    protocol: 0,
    ttl: 0,
    ecn: 0,
    toBroadcastOrMulticast: false,
    checksumValid: false,
  };

  constructor(
    private readonly ctx: StackContext,
    private readonly links: () => readonly Ipv4Link[],
    private readonly hooks: Ipv4InputHooks,
  ) {
    this.reassembler = new Ipv4Reassembler(ctx, { onTimeout: (first) => hooks.reassemblyTimeout?.(first) });
    ctx.stats.declare(
      'IpInReceives',
      'IpInHdrErrors',
      'IpExtInCsumErrors',
      'IpExtInTruncatedPkts',
      'IpInAddrErrors',
      'IpInUnknownProtos',
      'IpInDelivers',
      'IpInDiscards',
      'ipInMartians',
      'ipInSourceRouted',
    );
  }

  /** Registers the handler for an IP protocol number (ICMP 1, TCP 6, UDP 17). */
  register(protocol: number, handler: Ipv4ProtocolHandler): void {
    this.handlers.set(protocol, handler);
  }

  /** True when `address` is one of ours on any link (the weak host model, like Linux). */
  isLocalAddress(address: Ipv4Address): boolean {
    for (const link of this.links()) for (const a of link.ipv4Addresses) if (a.address === address) return true;
    return false;
  }

  private isBroadcastFor(link: Ipv4Link, address: Ipv4Address): boolean {
    if (address === IPV4_BROADCAST) return true;
    for (const a of link.ipv4Addresses) if (a.prefixLength < 31 && broadcastOf(a) === address) return true;
    return false;
  }

  /**
   * Options are checked before the packet is delivered or forwarded, as Linux
   * does in ip_rcv_options(): malformed ones are header errors answered with
   * Parameter Problem; a source route is dropped (accept_source_route=0; RFC
   * 1122 §3.3.5 lets a host refuse to act as a source-route hop, and RFC 7126
   * §4.3-4.4 advises dropping LSRR/SSRR).
   */
  private optionsAcceptable(header: Ipv4HeaderView, datagram: Uint8Array, link: Ipv4Link, toBroadcastOrMulticast: boolean): boolean {
    const verdict = checkIpv4Options(header.options);
    if (verdict.kind === 'ok') return true;
    if (verdict.kind === 'sourceRoute') {
      this.ctx.trace.dropped('ipInSourceRouted', 'source route option (accept_source_route=0)', () => describeIpv4(header));
      return false;
    }
    this.ctx.trace.dropped('IpInHdrErrors', verdict.detail, () => `${describeIpv4(header)} on ${link.name}`);
    this.hooks.parameterProblem?.(datagram, verdict.pointer, toBroadcastOrMulticast);
    return false;
  }

  /**
   * A packet from `link`; `linkBroadcast` says the Ethernet destination was
   * broadcast/multicast. `offload`: the packet is a TSO super-packet or has a
   * partial checksum (l2/interface.ts); forwarding keeps it, local delivery
   * needs none (the device vouched for the checksum: `rxChecksumValid`).
   */
  receive(packet: Uint8Array, link: Ipv4Link, linkBroadcast: boolean, offload?: TransportOffload): void {
    const { ctx, header } = this;
    ctx.stats.inc('IpInReceives');

    // RFC 1122 §3.2.1.1-3.2.1.2: version, header length, total length and checksum, else silently discard.
    const error = header.wrap(packet);
    if (error) {
      const counter =
        error.reason === 'badChecksum' ? 'IpExtInCsumErrors' : error.reason === 'truncated' ? 'IpExtInTruncatedPkts' : 'IpInHdrErrors';
      if (counter !== 'IpInHdrErrors') ctx.stats.inc('IpInHdrErrors');
      ctx.trace.dropped(counter, describeParseError(error), () => `${packet.length} bytes on ${link.name}`);
      return;
    }
    // Ethernet may pad short frames: only `totalLength` bytes are the datagram.
    const datagram = packet.length === header.totalLength ? packet : packet.subarray(0, header.totalLength);
    const source = header.source;
    const destination = header.destination;

    // RFC 1812 §5.3.7 / RFC 1122 §3.2.1.3: a source that is broadcast, multicast or loopback is a martian.
    if (source === IPV4_BROADCAST || isMulticastIpv4(source) || isLoopbackIpv4(source) || this.isBroadcastFor(link, source)) {
      ctx.trace.dropped('ipInMartians', 'martian source', () => describeIpv4(header));
      return;
    }

    const toBroadcast = this.isBroadcastFor(link, destination);
    const toMulticast = isMulticastIpv4(destination);
    if (header.headerLength > IPV4_MIN_HEADER_LENGTH && !this.optionsAcceptable(header, datagram, link, toBroadcast || toMulticast || linkBroadcast)) return;
    if (!toBroadcast && !toMulticast && !this.isLocalAddress(destination)) {
      if (ctx.trace.watching) ctx.trace.step(`RFC 1122 §3.2.1: header checks pass; ${formatIpv4(destination)} is not ours: ${this.hooks.forward ? 'forward (RFC 1812 §5.2)' : 'discard'}`);
      if (this.hooks.forward) return this.hooks.forward(datagram, link, linkBroadcast, offload);
      // RFC 1122 §3.2.1.3: a host discards datagrams not addressed to it.
      ctx.trace.dropped('IpInAddrErrors', 'not for us and not forwarding', () => describeIpv4(header));
      return;
    }

    let whole = datagram;
    // A partial checksum (NEEDS_CSUM, offload.checksumStart) was never computed: the sender on this machine
    // vouches for the data, as the kernel does for CHECKSUM_PARTIAL (virtio 1.x §5.1.6.4).
    let checksumValid = (link.rxChecksumValid ?? false) || (offload !== undefined && offload.checksumStart > 0);
    if (header.moreFragments || header.fragmentOffset !== 0) {
      const reassembled = this.reassembler.receive(datagram);
      if (!reassembled) return; // kept (or dropped and counted) by the reassembler
      whole = reassembled;
      checksumValid = false;
      header.wrap(whole);
    }

    const r = this.received;
    r.link = link;
    r.packet = whole;
    r.payload = header.payload;
    r.source = source;
    r.destination = destination;
    r.protocol = header.protocol;
    r.ttl = header.ttl;
    r.ecn = header.ecn;
    r.toBroadcastOrMulticast = toBroadcast || toMulticast || linkBroadcast;
    r.checksumValid = checksumValid;

    if (ctx.trace.watching) ctx.trace.step(`RFC 1122 §3.2.1: header checks pass; ${formatIpv4(destination)} is ${toBroadcast || toMulticast ? 'broadcast/multicast' : 'ours'}: deliver protocol ${r.protocol} (RFC 791 §3.2 demultiplexing)`);
    const handler = this.handlers.get(r.protocol);
    if (!handler) {
      ctx.trace.dropped('IpInUnknownProtos', 'no handler for protocol', () => `protocol ${r.protocol} from ${formatIpv4(source)}`);
      this.hooks.unreachable(r, 'protocol');
      return;
    }
    const disposition = handler(r);
    if (disposition === 'delivered') ctx.stats.inc('IpInDelivers');
    else if (disposition === 'portUnreachable') {
      ctx.trace.step('RFC 1122 §3.2.2.1: port unreachable: answer ICMP destination unreachable (code 3)');
      this.hooks.unreachable(r, 'port');
    }
    else if (disposition === 'protocolUnreachable') this.hooks.unreachable(r, 'protocol');
  }
}
