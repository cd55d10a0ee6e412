/**
 * IPv6 input: validate the fixed header, decide "for us or not", walk the
 * extension-header chain (acting on each header), reassemble, and hand the
 * upper-layer payload to the registered protocol.
 *
 * Read first: RFC 8200 §4 (the chain, processed strictly in order, and what
 * to do with unknown headers and options), §4.4 (routing), §4.5
 * (fragments), RFC 4291 §2.5.3, §2.5.5.2, §2.7 (addresses never valid as a
 * source or on a wire), RFC 5095 (RH0), RFC 7112 (the first fragment holds
 * the whole chain), RFC 6946 (atomic fragments), RFC 8504 §5.3 (limits on
 * options), RFC 2675 §3 (a Jumbo Payload option where none belongs). Linux:
 * net/ipv6/ip6_input.c (ipv6_rcv, ip6_protocol_deliver_rcu), exthdrs.c
 * (ip6_parse_tlv) and reassembly.c; the counters are its /proc/net/snmp6
 * names. Where RFC 8200 leaves a choice, tapnet does what Linux 6.18 does;
 * tests/integration/ext-headers6.test.ts sends each case to both.
 *
 * The chain walk, one header at a time:
 *   (the chain)          at most IPV6_EXTENSION_HEADERS_BYTES_MAX bytes, any number of headers
 *   Hop-by-Hop (0)       only right after the fixed header (else Parameter Problem code 1); options checked
 *   Destination Opts (60) options checked
 *   Routing (43)         Segments Left 0: skip it; else Parameter Problem (tapnet routes no type)
 *   Fragment (44)        atomic (RFC 6946): skip it, even with fragments of the same Identification
 *                        queued; else RFC 8200/7112 checks, then reassembly (overlaps: RFC 5722)
 *   anything else        the upper layer: the registered handler, or Parameter Problem code 1
 */
import type { CounterName } from '../../core/stats.js';
import type { TransportOffload } from '../../core/offload.js';
import type { StackContext } from '../../core/context.js';
import { getU32 } from '../../core/bytes.js';
import { describeParseError } from '../../core/parse-result.js';
import { IpProtocol } from '../ip-protocol.js';
import type { Disposition } from '../dispositions.js';
import {
  formatIpv6,
  ipv6Equal,
  isIpv4MappedIpv6,
  isLoopbackIpv6,
  isMulticastIpv6,
  multicastScope,
  MulticastScope,
  type Ipv6Address,
} from './address.js';
import { ChainStep, FirstFragmentChain, firstFragmentChain, Ipv6ChainWalker, IPV6_EXTENSION_HEADERS_BYTES_MAX } from './extension-chain.js';
import { FRAGMENT_HEADER_LENGTH, FragmentField, fragmentOffsetAt, identificationAt, moreFragmentsAt } from './fragment-header.js';
import { IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD_LENGTH, Ipv6Field, Ipv6HeaderView, describeIpv6 } from './header.js';
import type { Ipv6Link } from './link.js';
import {
  forEachIpv6Option,
  Ipv6OptionType,
  JUMBO_OPTION_DATA_LENGTH,
  JumboOptionField,
  unknownOptionAction,
  UnknownOptionAction,
} from './options.js';
import { Ipv6Reassembler } from './reassembly.js';
import { RoutingField } from './routing-header.js';

/**
 * Options in one Hop-by-Hop or Destination Options header, padding not
 * counted: Linux net.ipv6.max_hbh_opts_number and max_dst_opts_number (8).
 */
export const IPV6_OPTIONS_MAX = 8;
/**
 * Padding in a row: RFC 8504 §5.3 lets hosts refuse more than 7 bytes
 * (padding only ever aligns to 8), as Linux's ip6_parse_tlv does.
 */
export const IPV6_PADDING_MAX = 7;

/** A received packet as upper layers see it. Valid only during the handler call. */
export interface ReceivedIpv6 {
  readonly link: Ipv6Link;
  /** The whole packet (reassembled when it came in fragments), for ICMPv6 errors that quote it. */
  readonly packet: Uint8Array;
  /** The upper-layer bytes. */
  readonly payload: Uint8Array;
  /** Where `payload` starts in `packet`. */
  readonly payloadOffset: number;
  /** Views into `packet`: copy to keep. */
  readonly source: Ipv6Address;
  readonly destination: Ipv6Address;
  readonly nextHeader: number;
  /** Offset in `packet` of the octet that named `nextHeader` (the Parameter Problem pointer for it). */
  readonly nextHeaderField: number;
  readonly hopLimit: number;
  readonly trafficClass: number;
  readonly flowLabel: number;
  /** IPv6 multicast destination, or link-layer multicast/broadcast (no ICMPv6 errors, RFC 4443 §2.4 (e)). */
  readonly toMulticast: boolean;
  /** It had a Fragment header, atomic or not (NDP must ignore such messages, RFC 6980). */
  readonly fragmented: boolean;
  /** The link vouches for the transport checksum (virtio-net NEEDS_CSUM/DATA_VALID): do not verify it. */
  readonly checksumValid: boolean;
}

export type Ipv6ProtocolHandler = (datagram: ReceivedIpv6) => Disposition;

/** An ICMPv6 error input wants sent (ICMPv6 decides whether it may be, RFC 4443 §2.4). */
export interface Ipv6InputError {
  readonly type: number;
  readonly code: number;
  readonly pointer?: number;
  /** RFC 4443 §2.4 (e.3): unknown options of type 10xxxxxx are reported even to multicast. */
  readonly evenToMulticast?: boolean;
}

export interface Ipv6InputHooks {
  error(packet: Uint8Array, error: Ipv6InputError, context: { link: Ipv6Link; toMulticast: boolean }): void;
  /** A packet for someone else: the router forwards it when forwarding is on. */
  forward?(packet: Uint8Array, link: Ipv6Link, linkMulticast: boolean, offload: TransportOffload | undefined): void;
  /** Reassembly timed out with the first fragment present (RFC 8200 §4.5: Time Exceeded code 1). */
  reassemblyTimeout?(firstFragment: Uint8Array): void;
}

type MutableReceived = { -readonly [K in keyof ReceivedIpv6]: ReceivedIpv6[K] };

const ParameterProblem = { type: 4, erroneousHeaderField: 0, unrecognizedNextHeader: 1, unrecognizedOption: 2, incompleteHeaderChain: 3 } as const;
const DestinationUnreachablePort = { type: 1, code: 4 } as const;

/** What an options header check found wrong. */
interface OptionsVerdict {
  readonly reason: string;
  readonly error?: Ipv6InputError;
}

export class Ipv6Input {
  private readonly header = new Ipv6HeaderView();
  private readonly handlers = new Map<number, Ipv6ProtocolHandler>();
  /** Where receive stands in the chain of the packet being received. */
  private readonly walker = new Ipv6ChainWalker();
  /** A second walker, for the RFC 7112 check over a first fragment's data. */
  private readonly fragmentWalker = new Ipv6ChainWalker();
  /** The packet being received had a Fragment header (atomic or not). */
  private fragmented = false;
  /** Where an ICMPv6 error for the packet being received would go; reused, like `received`. */
  private readonly errorContext: { link: Ipv6Link; toMulticast: boolean } = { link: undefined as unknown as Ipv6Link, toMulticast: false };
  readonly reassembler: Ipv6Reassembler;
  private readonly received: MutableReceived = {
    link: undefined as unknown as Ipv6Link,
    packet: new Uint8Array(0),
    payload: new Uint8Array(0),
    payloadOffset: 0,
    source: new Uint8Array(16),
    destination: new Uint8Array(16),
    nextHeader: 0,
    nextHeaderField: 0,
    hopLimit: 0,
    trafficClass: 0,
    flowLabel: 0,
    toMulticast: false,
    fragmented: false,
    checksumValid: false,
  };

  constructor(
    private readonly ctx: StackContext,
    private readonly links: () => readonly Ipv6Link[],
    private readonly hooks: Ipv6InputHooks,
  ) {
    this.reassembler = new Ipv6Reassembler(ctx, { onTimeout: (first) => hooks.reassemblyTimeout?.(first) });
    ctx.stats.declare(
      'Ip6InReceives',
      'Ip6InHdrErrors',
      'Ip6InTruncatedPkts',
      'Ip6InAddrErrors',
      'Ip6InUnknownProtos',
      'Ip6InDelivers',
      'Ip6InDiscards',
      'Ip6InMcastPkts',
      'ip6InMcastNotJoined',
      'ip6InNoNextHeader',
      'ip6InExtHeadersTooLong',
    );
  }

  /** Registers the handler for a Next Header value (ICMPv6 58, TCP 6, UDP 17). */
  register(nextHeader: number, handler: Ipv6ProtocolHandler): void {
    this.handlers.set(nextHeader, handler);
  }

  /** True when `address` is a preferred address of ours on any link (weak host model, like Linux). */
  isLocalAddress(address: Ipv6Address): boolean {
    for (const link of this.links()) for (const a of link.ipv6Addresses) if (a.state === 'preferred' && ipv6Equal(a.address, address)) return true;
    return false;
  }

  /**
   * A packet from `link`; `linkMulticast` says the Ethernet destination was
   * multicast/broadcast. The steps of RFC 8200 in order: the fixed header
   * (§3), the addresses (RFC 4291), for us or not, the extension headers one
   * by one (§4), the upper layer.
   */
  receive(bytes: Uint8Array, link: Ipv6Link, linkMulticast: boolean, offload?: TransportOffload): void {
    this.ctx.stats.inc('Ip6InReceives');
    if (!this.checkHeader(bytes, link)) return;
    if (!this.checkAddresses()) return;
    if (!this.acceptDestination(link, linkMulticast, offload)) return;
    if (this.header.payloadLength === 0 && this.header.nextHeader === IpProtocol.HopByHop) {
      this.refuseJumbogram(bytes);
      return;
    }
    if (!this.receiveExtensionHeaders()) return;
    this.deliver(link, offload !== undefined && offload.checksumStart > 0);
  }

  /**
   * RFC 2675 §3: Payload Length 0 with a Hop-by-Hop header announces a
   * jumbogram, its length in a Jumbo Payload option. No link tapnet runs on
   * carries one (they need an MTU over 65575), so the packet stops here;
   * what remains is the answer. The Hop-by-Hop header is read from `bytes`
   * as received, and its Jumbo option checked as Linux does (see
   * checkJumbo). Without a Jumbo option RFC 2675 asks for Parameter Problem
   * code 0 at Payload Length; Linux 6.18 instead processes the frame as
   * received (it answers an echo request in it): the RFC decides here.
   */
  private refuseJumbogram(bytes: Uint8Array): false {
    const walker = this.walker.start(bytes, IpProtocol.HopByHop, Ipv6Field.NEXT_HEADER, IPV6_HEADER_LENGTH);
    if (walker.step() !== ChainStep.Extension) return this.drop('Ip6InHdrErrors', 'Payload Length 0 and the Hop-by-Hop header cut off');
    const verdict = checkOptions(bytes.subarray(walker.offset, walker.offset + walker.length), walker.offset, true, 0);
    if (verdict?.error) return this.dropWithError('Ip6InHdrErrors', verdict.reason, verdict.error);
    if (verdict) return this.drop('Ip6InHdrErrors', verdict.reason);
    return this.dropWithError(
      'Ip6InHdrErrors',
      'Payload Length 0 without a Jumbo Payload option',
      parameterProblem(ParameterProblem.erroneousHeaderField, Ipv6Field.PAYLOAD_LENGTH),
    );
  }

  /** RFC 8200 §3: version 6, and the Payload Length fits in what arrived. */
  private checkHeader(bytes: Uint8Array, link: Ipv6Link): boolean {
    const error = this.header.wrap(bytes);
    if (!error) return true;
    const counter = error.reason === 'truncated' ? 'Ip6InTruncatedPkts' : 'Ip6InHdrErrors';
    if (counter !== 'Ip6InHdrErrors') this.ctx.stats.inc('Ip6InHdrErrors');
    this.ctx.trace.dropped(counter, describeParseError(error), () => `${bytes.length} bytes on ${link.name}`);
    return false;
  }

  /** RFC 4291 §2.7: a multicast source is invalid; §2.5.3: ::1 never leaves a node; §2.5.5.2: no IPv4-mapped on the wire. */
  private checkAddresses(): boolean {
    const { source, destination } = this.header;
    if (isMulticastIpv6(source) || isLoopbackIpv6(source) || isLoopbackIpv6(destination) || isIpv4MappedIpv6(source) || isIpv4MappedIpv6(destination)) {
      return this.drop('Ip6InHdrErrors', 'invalid source or destination address');
    }
    return true;
  }

  /**
   * For us: a group joined on `link`, or one of our addresses. Anything else
   * is forwarded (router) or dropped (host), RFC 8200 §1 and RFC 4291 §2.7.
   */
  private acceptDestination(link: Ipv6Link, linkMulticast: boolean, offload: TransportOffload | undefined): boolean {
    const destination = this.header.destination;
    const toMulticast = isMulticastIpv6(destination);
    if (toMulticast) {
      this.ctx.stats.inc('Ip6InMcastPkts');
      // RFC 4291 §2.7: scope 0 is reserved, interface-local (1) never appears on a link.
      const scope = multicastScope(destination);
      if (scope <= MulticastScope.InterfaceLocal) return this.drop('Ip6InHdrErrors', `multicast scope ${scope} on a link`);
      if (!link.hasGroup(destination)) return this.drop('ip6InMcastNotJoined', 'multicast group not joined');
    } else if (!this.isLocalAddress(destination)) {
      if (this.hooks.forward) {
        if (this.ctx.trace.watching) this.ctx.trace.step(`RFC 8200 §3: ${formatIpv6(destination)} is not ours: forward`);
        this.hooks.forward(this.header.packet, link, linkMulticast, offload);
        return false;
      }
      return this.drop('Ip6InAddrErrors', 'not for us and not forwarding');
    }
    this.errorContext.link = link;
    this.errorContext.toMulticast = toMulticast || linkMulticast;
    return true;
  }

  /**
   * RFC 8200 §4: "extension headers ... must be processed strictly in the
   * order they appear in the packet". True when the walker stands at the
   * upper-layer header (of the reassembled packet, when one completed).
   */
  private receiveExtensionHeaders(): boolean {
    const { walker, header } = this;
    walker.start(header.packet, header.nextHeader, Ipv6Field.NEXT_HEADER, IPV6_HEADER_LENGTH);
    this.fragmented = false;
    for (;;) {
      switch (walker.step()) {
        case ChainStep.UpperLayer:
          return true;
        case ChainStep.TooLong:
          return this.dropChainTooLong(walker.offset + walker.length - walker.chainStart);
        case ChainStep.Truncated:
          return this.drop('Ip6InHdrErrors', `extension header ${walker.nextHeader} cut off`);
        case ChainStep.Extension:
          if (!this.receiveExtensionHeader()) return false;
      }
    }
  }

  /** Acts on the whole extension header at the walker and moves past it; false when the packet was dropped. */
  private receiveExtensionHeader(): boolean {
    const walker = this.walker;
    switch (walker.nextHeader) {
      case IpProtocol.HopByHop:
        if (!this.receiveHopByHop()) return false;
        break;
      case IpProtocol.IPv6DestinationOptions:
        if (!this.receiveOptions(false)) return false;
        break;
      case IpProtocol.IPv6Route:
        if (!this.receiveRouting()) return false;
        break;
      default: // IpProtocol.IPv6Fragment, the only other header the walker stops at
        return this.receiveFragment();
    }
    walker.advance();
    return true;
  }

  /**
   * RFC 8200 §4.1: Hop-by-Hop only immediately after the IPv6 header;
   * anywhere else it is an unrecognised Next Header (code 1), pointing at the
   * octet that named it — as Linux, whose Hop-by-Hop handling lives in
   * ipv6_rcv and so never sees a later one. "First" means first on the
   * wire: behind a Fragment header it is not, even once reassembly has put
   * it right after the fixed header (the pointer is then 6, the Next Header
   * octet that names it in the reassembled packet, as Linux reports it).
   */
  private receiveHopByHop(): boolean {
    const walker = this.walker;
    if (walker.count !== 0) {
      return this.dropWithError('Ip6InUnknownProtos', 'Hop-by-Hop header not first', parameterProblem(ParameterProblem.unrecognizedNextHeader, walker.nextHeaderField));
    }
    return this.receiveOptions(true);
  }

  /** RFC 8200 §4.2: the options of a Hop-by-Hop or Destination Options header. */
  private receiveOptions(hopByHop: boolean): boolean {
    const { packet, offset, length } = this.walker;
    const verdict = checkOptions(packet.subarray(offset, offset + length), offset, hopByHop, this.header.payloadLength);
    if (!verdict) return true;
    if (verdict.error) return this.dropWithError('Ip6InHdrErrors', verdict.reason, verdict.error);
    return this.drop('Ip6InHdrErrors', verdict.reason);
  }

  /**
   * RFC 8200 §4.4: Segments Left 0 means the header is skipped; tapnet knows
   * no routing type, so any other value is an unrecognised type with
   * segments left (RH0 included, RFC 5095 §3): Parameter Problem code 0.
   */
  private receiveRouting(): boolean {
    const { packet, offset } = this.walker;
    const segmentsLeft = packet[offset + RoutingField.SEGMENTS_LEFT]!;
    if (segmentsLeft === 0) return true;
    const routingType = packet[offset + RoutingField.ROUTING_TYPE]!;
    return this.dropWithError(
      'Ip6InHdrErrors',
      `routing header type ${routingType} with ${segmentsLeft} segments left`,
      parameterProblem(ParameterProblem.erroneousHeaderField, offset + RoutingField.ROUTING_TYPE),
    );
  }

  /**
   * RFC 8200 §4.5: an atomic fragment (RFC 6946) is skipped; any other is
   * checked (length a multiple of 8, the payload within 65535, the whole
   * chain in the first fragment, RFC 7112 §5) and handed to reassembly.
   * True when the walker moved on: past an atomic Fragment header, or into
   * the reassembled packet.
   */
  private receiveFragment(): boolean {
    const { walker, header } = this;
    const { packet, offset, nextHeaderField } = walker;
    if (this.fragmented) return this.drop('Ip6InHdrErrors', 'a second Fragment header');
    this.fragmented = true;
    const fragmentOffset = fragmentOffsetAt(packet, offset);
    const more = moreFragmentsAt(packet, offset);
    if (fragmentOffset === 0 && !more) {
      walker.advance();
      return true;
    }
    const fragmentNextHeader = packet[offset + FragmentField.NEXT_HEADER]!;
    const data = packet.subarray(offset + FRAGMENT_HEADER_LENGTH);
    if (more && data.length % 8 !== 0) {
      return this.dropWithError('Ip6InHdrErrors', `non-final fragment of ${data.length} bytes`, parameterProblem(ParameterProblem.erroneousHeaderField, Ipv6Field.PAYLOAD_LENGTH));
    }
    if (offset - IPV6_HEADER_LENGTH + fragmentOffset + data.length > IPV6_MAX_PAYLOAD_LENGTH) {
      return this.dropWithError(
        'Ip6InHdrErrors',
        `fragment at ${fragmentOffset} + ${data.length} bytes past 65535`,
        parameterProblem(ParameterProblem.erroneousHeaderField, offset + FragmentField.OFFSET_FLAGS),
      );
    }
    if (fragmentOffset === 0) {
      const chain = firstFragmentChain(data, fragmentNextHeader, this.fragmentWalker);
      if (chain === FirstFragmentChain.UpperLayerCut) {
        return this.dropWithError('Ip6InHdrErrors', 'first fragment without the whole header chain (RFC 7112)', parameterProblem(ParameterProblem.incompleteHeaderChain, 0));
      }
      // Its chain alone is past the limit: so would the reassembled packet's be; do not hold the pieces.
      if (chain === FirstFragmentChain.TooLong) return this.dropChainTooLong(this.fragmentWalker.offset + this.fragmentWalker.length);
    }
    const whole = this.reassembler.receive({
      source: header.source,
      destination: header.destination,
      identification: identificationAt(packet, offset),
      offset: fragmentOffset,
      moreFragments: more,
      data,
      packet,
      fragmentHeaderOffset: offset,
      nextHeaderField,
      nextHeader: fragmentNextHeader,
    });
    if (!whole) return false; // held, or dropped and counted by the reassembler
    header.wrap(whole.packet);
    walker.advanceInto(whole.packet, whole.nextHeader, whole.nextHeaderField, whole.offset);
    return true;
  }

  /** The upper layer (RFC 8200 §4: unknown Next Header → Parameter Problem code 1; §4.7: No Next Header). */
  private deliver(link: Ipv6Link, partialChecksum: boolean): void {
    const { ctx, walker, header } = this;
    const { packet, offset, nextHeader, nextHeaderField } = walker;
    if (nextHeader === IpProtocol.IPv6NoNext) {
      this.drop('ip6InNoNextHeader', 'No Next Header');
      return;
    }
    const r = this.received;
    r.link = link;
    r.packet = packet;
    r.payload = packet.subarray(offset);
    r.payloadOffset = offset;
    r.source = header.source;
    r.destination = header.destination;
    r.nextHeader = nextHeader;
    r.nextHeaderField = nextHeaderField;
    r.hopLimit = header.hopLimit;
    r.trafficClass = header.trafficClass;
    r.flowLabel = header.flowLabel;
    r.toMulticast = this.errorContext.toMulticast;
    r.fragmented = this.fragmented;
    // A partial checksum (NEEDS_CSUM) was never computed: the sender on this machine vouches for the data.
    r.checksumValid = !this.fragmented && ((link.rxChecksumValid ?? false) || partialChecksum);

    if (ctx.trace.watching) ctx.trace.step(`RFC 8200 §4: extension headers done; ${formatIpv6(r.destination)} is ours: deliver next header ${nextHeader}`);
    const handler = this.handlers.get(nextHeader);
    if (!handler) {
      ctx.trace.dropped('Ip6InUnknownProtos', 'no handler for next header', () => `next header ${nextHeader} from ${formatIpv6(r.source)}`);
      this.hooks.error(packet, parameterProblem(ParameterProblem.unrecognizedNextHeader, nextHeaderField), this.errorContext);
      return;
    }
    const disposition = handler(r);
    if (disposition === 'delivered') ctx.stats.inc('Ip6InDelivers');
    else if (disposition === 'portUnreachable') this.hooks.error(r.packet, DestinationUnreachablePort, this.errorContext);
    else if (disposition === 'protocolUnreachable') {
      this.hooks.error(r.packet, parameterProblem(ParameterProblem.unrecognizedNextHeader, nextHeaderField), this.errorContext);
    }
  }

  /** Counts and traces a drop; false, so a step can `return this.drop(...)`. */
  private drop(counter: CounterName, reason: string): false {
    this.ctx.trace.dropped(counter, reason, () => describeIpv6(this.header));
    return false;
  }

  /**
   * Past IPV6_EXTENSION_HEADERS_BYTES_MAX: a header error (Linux counts its
   * discards in Ip6InDiscards; tapnet names the reason in its own counter).
   */
  private dropChainTooLong(bytes: number): false {
    this.ctx.stats.inc('Ip6InHdrErrors');
    return this.drop('ip6InExtHeadersTooLong', `${bytes}+ bytes of extension headers > ${IPV6_EXTENSION_HEADERS_BYTES_MAX}`);
  }

  /** A drop that also asks for an ICMPv6 error (ICMPv6 decides whether it may be sent, RFC 4443 §2.4). */
  private dropWithError(counter: CounterName, reason: string, error: Ipv6InputError): false {
    this.drop(counter, reason);
    this.hooks.error(this.walker.packet, error, this.errorContext);
    return false;
  }
}

function parameterProblem(code: number, pointer: number): Ipv6InputError {
  return { type: ParameterProblem.type, code, pointer };
}

/**
 * RFC 8200 §4.2 for one Hop-by-Hop or Destination Options header
 * (`options` is the whole header, found at `offset` in the packet): the TLVs
 * fit, padding is zeros and stays within Linux's limits, so does the option
 * count, and unknown options get the action their two high bits ask for.
 * tapnet knows Pad1, PadN, Router Alert and (to refuse it) Jumbo Payload.
 */
function checkOptions(options: Uint8Array, offset: number, hopByHop: boolean, payloadLength: number): OptionsVerdict | undefined {
  let verdict: OptionsVerdict | undefined;
  let padding = 0;
  let count = 0;
  const error = forEachIpv6Option(options, (type, data, at) => {
    if (verdict) return;
    if (type === Ipv6OptionType.Pad1 || type === Ipv6OptionType.PadN) {
      padding += type === Ipv6OptionType.Pad1 ? 1 : 2 + data.length;
      if (padding > IPV6_PADDING_MAX) verdict = { reason: `more than ${IPV6_PADDING_MAX} bytes of padding in a row` };
      // RFC 4942 §2.1.9.5: PadN carries zeros, so it cannot be a covert channel; Linux drops it otherwise.
      else if (data.some((b) => b !== 0)) verdict = { reason: 'PadN with non-zero padding' };
      return;
    }
    padding = 0;
    if (++count > IPV6_OPTIONS_MAX) {
      verdict = { reason: `more than ${IPV6_OPTIONS_MAX} options` };
      return;
    }
    if (type === Ipv6OptionType.RouterAlert && data.length === 2) return;
    if (type === Ipv6OptionType.Jumbo && hopByHop) {
      verdict = checkJumbo(data, offset + at, payloadLength);
      return;
    }
    verdict = unknownOption(type, offset + at);
  });
  if (error) return { reason: `bad option: ${describeParseError(error)}` };
  return verdict;
}

/**
 * RFC 2675 §3: a Jumbo Payload option at `pointer` (its Option Type octet)
 * in a Hop-by-Hop header. tapnet never takes a jumbogram (Ethernet cannot
 * carry one), so every Jumbo option is an error; the checks and their order
 * are Linux's ipv6_hop_jumbo: a wrong length or alignment is dropped
 * silently, a Jumbo Payload Length that would fit in Payload Length gets
 * Parameter Problem code 0 at that length, and a non-zero Payload Length
 * gets code 0 at the option.
 */
function checkJumbo(data: Uint8Array, pointer: number, payloadLength: number): OptionsVerdict {
  if (data.length !== JUMBO_OPTION_DATA_LENGTH || pointer % 4 !== 2) return { reason: `Jumbo Payload option of ${data.length} bytes at ${pointer} (not 4 at 4n+2)` };
  const jumboLength = getU32(data, 0);
  if (jumboLength <= IPV6_MAX_PAYLOAD_LENGTH) {
    return { reason: `Jumbo Payload Length ${jumboLength} <= 65535`, error: parameterProblem(ParameterProblem.erroneousHeaderField, pointer + JumboOptionField.JUMBO_PAYLOAD_LENGTH) };
  }
  if (payloadLength !== 0) {
    return { reason: `Jumbo Payload option with Payload Length ${payloadLength}`, error: parameterProblem(ParameterProblem.erroneousHeaderField, pointer + JumboOptionField.TYPE) };
  }
  return { reason: 'jumbogram (not supported: no link carries one)' };
}

/** RFC 8200 §4.2: what the two high bits of an unknown option type at `pointer` ask for. */
function unknownOption(type: number, pointer: number): OptionsVerdict | undefined {
  const name = `unknown option 0x${type.toString(16).padStart(2, '0')}`;
  switch (unknownOptionAction(type)) {
    case UnknownOptionAction.Skip:
      return undefined;
    case UnknownOptionAction.Discard:
      return { reason: `${name} (discard)` };
    case UnknownOptionAction.DiscardSendError:
      return { reason: name, error: { ...parameterProblem(ParameterProblem.unrecognizedOption, pointer), evenToMulticast: true } };
    default:
      // RFC 4443 §2.4 (e.3): ICMPv6 decides not to answer a multicast destination.
      return { reason: name, error: parameterProblem(ParameterProblem.unrecognizedOption, pointer) };
  }
}
