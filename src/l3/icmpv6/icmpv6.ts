/**
 * ICMPv6 behaviour: answer echo requests, send errors for IPv6 (within the
 * rules and rate limits), learn path MTUs from Packet Too Big, and pass
 * Neighbor Discovery and MLD messages to the interface they arrived on.
 *
 * Read first: RFC 4443 §2.4 (when an error MUST NOT be sent, and rate
 * limiting, (f)), §4 (echo), RFC 8201 §4 (Packet Too Big → path MTU).
 * Linux: net/ipv6/icmp.c; its defaults for rate limiting are the constants
 * below, and its /proc/net/snmp6 names the counters.
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import { TokenBucket } from '../../core/rate-limit.js';
import type { Disposition } from '../dispositions.js';
import { IpProtocol } from '../ip-protocol.js';
import { formatIpv6, ipv6Key, isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6, type Ipv6Address } from '../ipv6/address.js';
import { walkIpv6Chain } from '../ipv6/extension-chain.js';
import { Ipv6HeaderView } from '../ipv6/header.js';
import type { Ipv6InputError, ReceivedIpv6 } from '../ipv6/input.js';
import type { Ipv6Interface } from '../ipv6/interface.js';
import type { Ipv6Link } from '../ipv6/link.js';
import type { Ipv6Output, Ipv6SendResult } from '../ipv6/output.js';
import {
  Icmpv6MessageView,
  Icmpv6Type,
  emitIcmpv6,
  icmpv6Error,
  isIcmpv6Error,
  verifyIcmpv6Checksum,
} from './message.js';

/** Linux net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst: one global error budget, shared with ICMPv4 there. */
export const ICMPV6_ERRORS_PER_SECOND = 1000;
export const ICMPV6_ERRORS_BURST = 50;
/**
 * Linux net.ipv6.icmp.ratelimit (1000 ms): per destination, one error a
 * second, in bursts of XRLIM_BURST_FACTOR (6). Its ratemask exempts Packet
 * Too Big, which path MTU discovery depends on.
 */
export const ICMPV6_ERRORS_PER_HOST_PER_SECOND = 1;
export const ICMPV6_ERRORS_PER_HOST_BURST = 6;
/** tapnet: destinations with their own budget at once (Linux keeps them in the inet_peer tree, itself bounded). */
export const ICMPV6_RATE_LIMIT_HOSTS_MAX = 1024;

export interface Echo6ReplyEvent {
  readonly source: Ipv6Address;
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/** An error about a packet we sent, for transports (socket errors, TCP's PMTU). */
export interface Icmpv6ErrorEvent {
  readonly from: Ipv6Address;
  readonly type: number;
  readonly code: number;
  /** Packet Too Big: the MTU; Parameter Problem: the pointer; else 0. */
  readonly value: number;
  /** The quoted invoking packet (as much as fit in 1280 bytes). */
  readonly original: Uint8Array;
}

const COUNTERS_IN: Record<number, CounterName> = {
  [Icmpv6Type.DestinationUnreachable]: 'Icmp6InDestUnreachs',
  [Icmpv6Type.PacketTooBig]: 'Icmp6InPktTooBigs',
  [Icmpv6Type.TimeExceeded]: 'Icmp6InTimeExcds',
  [Icmpv6Type.ParameterProblem]: 'Icmp6InParmProblems',
  [Icmpv6Type.EchoRequest]: 'Icmp6InEchos',
  [Icmpv6Type.EchoReply]: 'Icmp6InEchoReplies',
  [Icmpv6Type.MulticastListenerQuery]: 'Icmp6InGroupMembQueries',
  [Icmpv6Type.MulticastListenerReport]: 'Icmp6InGroupMembResponses',
  [Icmpv6Type.MulticastListenerDone]: 'Icmp6InGroupMembReductions',
  [Icmpv6Type.RouterSolicitation]: 'Icmp6InRouterSolicits',
  [Icmpv6Type.RouterAdvertisement]: 'Icmp6InRouterAdvertisements',
  [Icmpv6Type.NeighborSolicitation]: 'Icmp6InNeighborSolicits',
  [Icmpv6Type.NeighborAdvertisement]: 'Icmp6InNeighborAdvertisements',
  [Icmpv6Type.Redirect]: 'Icmp6InRedirects',
  [Icmpv6Type.MulticastListenerReportV2]: 'Icmp6InMLDv2Reports',
};

const COUNTERS_OUT: Record<number, CounterName> = {
  [Icmpv6Type.DestinationUnreachable]: 'Icmp6OutDestUnreachs',
  [Icmpv6Type.PacketTooBig]: 'Icmp6OutPktTooBigs',
  [Icmpv6Type.TimeExceeded]: 'Icmp6OutTimeExcds',
  [Icmpv6Type.ParameterProblem]: 'Icmp6OutParmProblems',
  [Icmpv6Type.EchoRequest]: 'Icmp6OutEchos',
  [Icmpv6Type.EchoReply]: 'Icmp6OutEchoReplies',
};

export class Icmpv6 {
  private readonly view = new Icmpv6MessageView();
  private readonly quoted = new Ipv6HeaderView();
  private readonly scratch = new Uint8Array(65_535);
  private readonly globalBudget: TokenBucket;
  private readonly hostBudgets = new Map<string, TokenBucket>();
  /** Echo replies for `ping6` callers, keyed by identifier. */
  readonly echoListeners = new Map<number, (reply: Echo6ReplyEvent) => void>();
  /** Errors about packets we sent. */
  onError: ((event: Icmpv6ErrorEvent) => void) | undefined;

  constructor(
    private readonly ctx: StackContext,
    private readonly output: Ipv6Output,
    /** The IPv6 interface behind a link (NDP and MLD are per interface). */
    private readonly interfaceOf: (link: Ipv6Link) => Ipv6Interface | undefined,
    /** True for our own unicast addresses. */
    private readonly isLocal: (address: Ipv6Address) => boolean,
  ) {
    this.globalBudget = new TokenBucket(ctx.clock, ICMPV6_ERRORS_PER_SECOND, ICMPV6_ERRORS_BURST);
    ctx.stats.declare(
      'Icmp6InMsgs',
      'Icmp6InErrors',
      'Icmp6InCsumErrors',
      'Icmp6OutMsgs',
      'Icmp6OutErrors',
      'icmp6OutRateLimitGlobal',
      'Icmp6OutRateLimitHost',
      'icmp6InUnknownTypes',
      ...Object.values(COUNTERS_IN),
      ...Object.values(COUNTERS_OUT),
    );
  }

  receive(d: ReceivedIpv6): Disposition {
    const { ctx, view } = this;
    ctx.stats.inc('Icmp6InMsgs');
    const error = view.wrap(d.payload);
    if (error) {
      ctx.trace.dropped('Icmp6InErrors', describeParseError(error), () => `from ${formatIpv6(d.source)}`);
      return 'dropped';
    }
    if (!verifyIcmpv6Checksum(d.payload, d.source, d.destination)) {
      ctx.stats.inc('Icmp6InErrors');
      ctx.trace.dropped('Icmp6InCsumErrors', `bad checksum 0x${view.checksum.toString(16)}`, () => `from ${formatIpv6(d.source)}`);
      return 'dropped';
    }
    const type = view.type;
    const counter = COUNTERS_IN[type];
    if (counter) ctx.stats.inc(counter);

    switch (type) {
      case Icmpv6Type.EchoRequest:
        this.ctx.trace.step('RFC 4443 §4.1-4.2: echo request for us: reply with the same identifier, sequence and data');
        this.sendEchoReply(d);
        return 'delivered';
      case Icmpv6Type.EchoReply:
        this.echoListeners.get(view.identifier)?.({ source: d.source, identifier: view.identifier, sequence: view.sequence, data: view.body });
        return 'delivered';
      case Icmpv6Type.RouterSolicitation:
      case Icmpv6Type.RouterAdvertisement:
      case Icmpv6Type.NeighborSolicitation:
      case Icmpv6Type.NeighborAdvertisement:
      case Icmpv6Type.Redirect:
        return this.interfaceOf(d.link)?.ndp.receive(d) ?? 'dropped';
      case Icmpv6Type.MulticastListenerQuery:
      case Icmpv6Type.MulticastListenerReport:
      case Icmpv6Type.MulticastListenerDone:
      case Icmpv6Type.MulticastListenerReportV2:
        return this.interfaceOf(d.link)?.mld.receive(d) ?? 'dropped';
    }
    if (isIcmpv6Error(type)) {
      this.receiveError(d);
      return 'delivered';
    }
    // RFC 4443 §2.4 (b): an unknown informational message MUST be silently discarded.
    ctx.trace.dropped('icmp6InUnknownTypes', `unknown informational type ${type}`, () => `from ${formatIpv6(d.source)}`);
    return 'dropped';
  }

  /**
   * RFC 4443 §4.2: the reply carries the request's identifier, sequence and
   * data. The code is copied too, as Linux does (icmpv6_echo_reply copies the
   * request header and changes only the type), so tapnet does not stand out
   * from the kernel to a fingerprinting probe with a non-zero code.
   */
  private sendEchoReply(d: ReceivedIpv6): void {
    const view = this.view;
    // RFC 4443 §4.2: to a multicast request, answer from a unicast address of the interface.
    const source = isMulticastIpv6(d.destination) ? this.output.sourceFor(d.source, d.link) : d.destination;
    if (!source) return;
    const n = emitIcmpv6(
      { kind: 'echo', type: Icmpv6Type.EchoReply, code: view.code, identifier: view.identifier, sequence: view.sequence, data: view.body },
      this.scratch,
      0,
      source,
      d.source,
    );
    if (this.sendBack(d.source, source, d.link, this.scratch.subarray(0, n)) === 'sent') this.countOut(Icmpv6Type.EchoReply);
  }

  private receiveError(d: ReceivedIpv6): void {
    const view = this.view;
    const original = view.body;
    const type = view.type;
    if (type === Icmpv6Type.PacketTooBig && this.quoted.wrapQuoted(original) === undefined && this.isLocal(this.quoted.source)) {
      // RFC 8201 §4: believe only a smaller MTU, never below 1280.
      const route = this.output.route(this.quoted.destination);
      this.output.pathMtu.update(this.quoted.destination, view.mtu, route?.link.mtu ?? view.mtu);
    }
    this.onError?.({
      from: d.source.slice(),
      type,
      code: view.code,
      value: type === Icmpv6Type.PacketTooBig ? view.mtu : type === Icmpv6Type.ParameterProblem ? view.pointer : 0,
      original,
    });
  }

  /** Sends an echo request (for `tapnet ping` and tests); `via` for link-local destinations. */
  sendEchoRequest(destination: Ipv6Address, identifier: number, sequence: number, data: Uint8Array, via?: Ipv6Link): Ipv6SendResult {
    const hop = via ? { link: via } : this.output.route(destination);
    const source = hop ? this.output.sourceFor(destination, hop.link) : undefined;
    if (!hop || !source) {
      this.ctx.trace.dropped('Ip6OutNoRoutes', 'no route or no source address', () => `ping ${formatIpv6(destination)}`);
      return 'noRoute';
    }
    const n = emitIcmpv6({ kind: 'echo', type: Icmpv6Type.EchoRequest, identifier, sequence, data }, this.scratch, 0, source, destination);
    const result = this.output.send({ destination, source, nextHeader: IpProtocol.ICMPv6, via }, this.scratch.subarray(0, n));
    if (result === 'sent') this.countOut(Icmpv6Type.EchoRequest);
    return result;
  }

  /**
   * Sends an ICMPv6 error about `invoking` (a whole packet we received),
   * unless RFC 4443 §2.4 (e) forbids it or a rate limit says no.
   */
  sendError(invoking: Uint8Array, error: Ipv6InputError & { mtu?: number }, context: { link: Ipv6Link; toMulticast: boolean }): void {
    const { ctx, quoted } = this;
    if (quoted.wrapQuoted(invoking)) return;
    const invokingSource = quoted.source;
    const invokingDestination = quoted.destination;
    // (e.1) never about an ICMPv6 error or a redirect.
    const walk = walkIpv6Chain(invoking);
    if (walk.kind === 'upperLayer' && walk.nextHeader === IpProtocol.ICMPv6 && walk.offset < invoking.length) {
      const innerType = invoking[walk.offset]!;
      if (isIcmpv6Error(innerType) || innerType === Icmpv6Type.Redirect) return;
    }
    // (e.2, e.3) not to multicast, except Packet Too Big and Parameter Problem for a 10xxxxxx option.
    const exempt = error.type === Icmpv6Type.PacketTooBig || error.evenToMulticast === true;
    if (context.toMulticast && !exempt) return;
    // (e.6) not when the source does not name one node.
    if (isUnspecifiedIpv6(invokingSource) || isMulticastIpv6(invokingSource)) return;
    if (!this.globalBudget.take()) {
      ctx.trace.dropped('icmp6OutRateLimitGlobal', 'ICMPv6 error rate limit', () => `to ${formatIpv6(invokingSource)}`);
      return;
    }
    if (error.type !== Icmpv6Type.PacketTooBig && !this.hostBudget(invokingSource).take()) {
      ctx.trace.dropped('Icmp6OutRateLimitHost', 'ICMPv6 error rate limit for this host', () => `to ${formatIpv6(invokingSource)}`);
      return;
    }
    // RFC 4443 §2.2: from the invoking packet's destination if it was one of our unicast addresses.
    const source = !isMulticastIpv6(invokingDestination) && this.isLocal(invokingDestination) ? invokingDestination.slice() : this.output.sourceFor(invokingSource, context.link);
    if (!source) return;
    const destination = invokingSource.slice();
    const n = emitIcmpv6(icmpv6Error(error.type, error.code, invoking, { pointer: error.pointer, mtu: error.mtu }), this.scratch, 0, source, destination);
    if (this.sendBack(destination, source, context.link, this.scratch.subarray(0, n)) === 'sent') {
      ctx.stats.inc('Icmp6OutErrors');
      this.countOut(error.type);
    }
  }

  /** Routes a reply normally; a link-local destination (or one with no route) goes back out the link it came from. */
  private sendBack(destination: Ipv6Address, source: Ipv6Address, link: Ipv6Link, message: Uint8Array): Ipv6SendResult {
    const via = isLinkLocalIpv6(destination) || isMulticastIpv6(destination) || !this.output.route(destination) ? link : undefined;
    return this.output.send({ destination, source, nextHeader: IpProtocol.ICMPv6, via }, message);
  }

  private hostBudget(host: Ipv6Address): TokenBucket {
    const key = ipv6Key(host);
    let bucket = this.hostBudgets.get(key);
    if (!bucket) {
      if (this.hostBudgets.size >= ICMPV6_RATE_LIMIT_HOSTS_MAX) {
        const oldest = this.hostBudgets.keys().next().value;
        if (oldest !== undefined) this.hostBudgets.delete(oldest);
      }
      bucket = new TokenBucket(this.ctx.clock, ICMPV6_ERRORS_PER_HOST_PER_SECOND, ICMPV6_ERRORS_PER_HOST_BURST);
      this.hostBudgets.set(key, bucket);
    }
    return bucket;
  }

  private countOut(type: number): void {
    this.ctx.stats.inc('Icmp6OutMsgs');
    const counter = COUNTERS_OUT[type];
    if (counter) this.ctx.stats.inc(counter);
  }
}
