/**
 * ICMPv4 behaviour: answer echo requests, send errors for IP, and count what
 * arrives.
 *
 * Read first: RFC 792 (messages), RFC 1122 §3.2.2 (when a host MUST NOT send
 * an error), RFC 1812 §4.3.2.3 (how much of the original to quote) and
 * §4.3.2.8 (rate limiting).
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import { TokenBucket } from '../../core/rate-limit.js';
import { IPV4_BROADCAST, formatIpv4, isLoopbackIpv4, isMulticastIpv4, type Ipv4Address } from '../ipv4/address.js';
import { Ipv4HeaderView } from '../ipv4/header.js';
import { IpProtocol } from '../ip-protocol.js';
import type { ReceivedIpv4 } from '../ipv4/input.js';
import type { Ipv4Output, Ipv4SendResult } from '../ipv4/output.js';
import type { Disposition } from '../dispositions.js';
import { Icmpv4MessageView, Icmpv4Type, emitIcmpv4Echo, emitIcmpv4Error, icmpv4ErrorQuote, turnEchoRequestIntoReply } from './message.js';

/** Linux net.ipv4.icmp_msgs_per_sec and icmp_msgs_burst: the global error budget. */
export const ICMP_ERRORS_PER_SECOND = 1000;
export const ICMP_ERRORS_BURST = 50;

export type IcmpErrorKind =
  | { type: 'destinationUnreachable'; code: number; nextHopMtu?: number }
  | { type: 'timeExceeded'; code: number }
  | { type: 'parameterProblem'; pointer: number };

export interface EchoReplyEvent {
  readonly source: Ipv4Address;
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/** What ICMP errors are reported to (transports use them for PMTU and socket errors). */
export interface IcmpErrorEvent {
  readonly from: Ipv4Address;
  readonly type: number;
  readonly code: number;
  readonly nextHopMtu: number;
  /** The quoted original datagram (IP header + at least 8 bytes). */
  readonly original: Uint8Array;
}

const COUNTERS_IN: Record<number, CounterName> = {
  [Icmpv4Type.EchoReply]: 'IcmpInEchoReps',
  [Icmpv4Type.DestinationUnreachable]: 'IcmpInDestUnreachs',
  [Icmpv4Type.Redirect]: 'IcmpInRedirects',
  [Icmpv4Type.EchoRequest]: 'IcmpInEchos',
  [Icmpv4Type.TimeExceeded]: 'IcmpInTimeExcds',
  [Icmpv4Type.ParameterProblem]: 'IcmpInParmProbs',
};

export class Icmpv4 {
  private readonly view = new Icmpv4MessageView();
  private readonly quoted = new Ipv4HeaderView();
  private readonly scratch = new Uint8Array(65_535);
  /** The output request of every echo reply, reused. */
  private readonly replyRequest = { destination: 0, source: 0, protocol: IpProtocol.ICMP };
  private readonly errorBudget: TokenBucket;
  /** Echo replies for `ping` callers, keyed by identifier. */
  readonly echoListeners = new Map<number, (reply: EchoReplyEvent) => void>();
  /** Errors about datagrams we sent (PMTU, unreachable ports), for transports. */
  onError: ((event: IcmpErrorEvent) => void) | undefined;
  /** More listeners for the same errors (TCP for PMTU and hard errors, UDP for its sockets). */
  readonly errorListeners = new Set<(event: IcmpErrorEvent) => void>();

  constructor(
    private readonly ctx: StackContext,
    private readonly output: Ipv4Output,
  ) {
    this.errorBudget = new TokenBucket(ctx.clock, ICMP_ERRORS_PER_SECOND, ICMP_ERRORS_BURST);
    ctx.stats.declare(
      'IcmpInMsgs',
      'IcmpInErrors',
      'IcmpInCsumErrors',
      'IcmpInEchos',
      'IcmpInEchoReps',
      'IcmpInDestUnreachs',
      'IcmpInTimeExcds',
      'IcmpOutMsgs',
      'IcmpOutEchos',
      'IcmpOutEchoReps',
      'IcmpOutDestUnreachs',
      'IcmpOutTimeExcds',
      'IcmpOutRateLimitGlobal',
    );
  }

  receive(d: ReceivedIpv4): Disposition {
    const { ctx, view } = this;
    ctx.stats.inc('IcmpInMsgs');
    const error = view.wrap(d.payload);
    if (error) {
      if (error.reason === 'badChecksum') ctx.stats.inc('IcmpInCsumErrors');
      ctx.trace.dropped('IcmpInErrors', describeParseError(error), () => `from ${formatIpv4(d.source)}`);
      return 'dropped';
    }
    const counter = COUNTERS_IN[view.type];
    if (counter) ctx.stats.inc(counter);

    switch (view.type) {
      case Icmpv4Type.EchoRequest:
        // Linux's icmp_echo_ignore_broadcasts=1 default: broadcast pings are a smurf amplifier.
        if (d.toBroadcastOrMulticast) {
          ctx.trace.dropped('icmpInEchoBroadcastIgnored', 'echo to broadcast', () => `from ${formatIpv4(d.source)}`);
          return 'dropped';
        }
        ctx.trace.step('RFC 792 "Echo or Echo Reply Message": echo request for us: reply with the same identifier, sequence and data');
        this.sendEchoReply(d);
        return 'delivered';
      case Icmpv4Type.EchoReply:
        this.echoListeners.get(view.identifier)?.({
          source: d.source,
          identifier: view.identifier,
          sequence: view.sequence,
          data: view.data,
        });
        return 'delivered';
      case Icmpv4Type.DestinationUnreachable:
      case Icmpv4Type.TimeExceeded:
      case Icmpv4Type.ParameterProblem:
        {
          const event = { from: d.source, type: view.type, code: view.code, nextHopMtu: view.nextHopMtu, original: view.data };
          this.onError?.(event);
          for (const listener of this.errorListeners) listener(event);
        }
        return 'delivered';
      default:
        return 'delivered';
    }
  }

  /**
   * RFC 792: the reply carries the request's identifier, sequence number and
   * data, from the address pinged. It is the request itself, turned around in
   * place (type 8 -> 0, the checksum patched per RFC 1624): nothing is copied
   * or summed before IP output, and nothing is allocated.
   */
  private sendEchoReply(d: ReceivedIpv4): void {
    turnEchoRequestIntoReply(d.payload);
    const request = this.replyRequest;
    request.destination = d.source;
    request.source = d.destination;
    const result = this.output.send(request, d.payload);
    if (result === 'sent') {
      this.ctx.stats.inc('IcmpOutMsgs');
      this.ctx.stats.inc('IcmpOutEchoReps');
    }
  }

  /** Sends an echo request (for `tapnet ping` and tests). */
  sendEchoRequest(destination: Ipv4Address, identifier: number, sequence: number, data: Uint8Array): Ipv4SendResult {
    const n = emitIcmpv4Echo({ type: Icmpv4Type.EchoRequest, identifier, sequence, data }, this.scratch, 0);
    const result = this.output.send({ destination, protocol: IpProtocol.ICMP }, this.scratch.subarray(0, n));
    if (result === 'sent') {
      this.ctx.stats.inc('IcmpOutMsgs');
      this.ctx.stats.inc('IcmpOutEchos');
    }
    return result;
  }

  /**
   * Sends an ICMP error about `original` (a whole IPv4 packet we received),
   * unless RFC 1122 §3.2.2 forbids it. `toBroadcastOrMulticast` is the
   * receive-side verdict (IP or link broadcast).
   */
  sendError(original: Uint8Array, kind: IcmpErrorKind, toBroadcastOrMulticast: boolean): void {
    const { ctx, quoted } = this;
    if (quoted.wrap(original)) return;
    // RFC 1122 §3.2.2: never about an ICMP error, a broadcast/multicast datagram, a non-initial
    // fragment, or a datagram whose source does not name a single host.
    if (toBroadcastOrMulticast || isMulticastIpv4(quoted.destination)) return;
    if (quoted.fragmentOffset !== 0) return;
    const source = quoted.source;
    if (source === 0 || source === IPV4_BROADCAST || isMulticastIpv4(source) || isLoopbackIpv4(source)) return;
    if (quoted.protocol === IpProtocol.ICMP) {
      const inner = quoted.payload;
      const innerType = inner.length > 0 ? inner[0]! : -1;
      const isQuery = innerType === Icmpv4Type.EchoRequest || innerType === Icmpv4Type.EchoReply || innerType === 13 || innerType === 14;
      if (!isQuery) return;
    }
    if (!this.errorBudget.take()) {
      ctx.trace.dropped('IcmpOutRateLimitGlobal', 'ICMP error rate limit', () => `to ${formatIpv4(source)}`);
      return;
    }
    const type =
      kind.type === 'destinationUnreachable'
        ? Icmpv4Type.DestinationUnreachable
        : kind.type === 'timeExceeded'
          ? Icmpv4Type.TimeExceeded
          : Icmpv4Type.ParameterProblem;
    const n = emitIcmpv4Error(
      {
        type,
        code: kind.type === 'parameterProblem' ? 0 : kind.code,
        nextHopMtu: kind.type === 'destinationUnreachable' ? (kind.nextHopMtu ?? 0) : 0,
        pointer: kind.type === 'parameterProblem' ? kind.pointer : 0,
        original: icmpv4ErrorQuote(original),
      },
      this.scratch,
      0,
    );
    const result = this.output.send({ destination: source, protocol: IpProtocol.ICMP }, this.scratch.subarray(0, n));
    if (result === 'sent') {
      ctx.stats.inc('IcmpOutMsgs');
      ctx.stats.inc(type === Icmpv4Type.DestinationUnreachable ? 'IcmpOutDestUnreachs' : type === Icmpv4Type.TimeExceeded ? 'IcmpOutTimeExcds' : 'IcmpOutParmProbs');
    }
  }
}
