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
 * options). Linux: net/ipv6/ip6_input.c (ipv6_rcv, ip6_protocol_deliver_rcu)
 * and exthdrs.c; the counters are its /proc/net/snmp6 names.
 *
 * The chain walk, one header at a time:
 *   Hop-by-Hop (0)       only right after the fixed header; options checked
 *   Destination Opts (60) options checked
 *   Routing (43)         Segments Left 0: skip it; else Parameter Problem (tapnet routes no type)
 *   Fragment (44)        atomic: skip it; else RFC 8200/7112 checks, then reassembly
 *   anything else        the upper layer: the registered handler, or Parameter Problem code 1
 */
import type { StackContext } from '../../core/context.js';
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
import { firstFragmentHasWholeChain, IPV6_EXTENSION_HEADERS_MAX } from './extension-chain.js';
import { FRAGMENT_HEADER_LENGTH, FragmentField, fragmentOffsetAt, identificationAt, moreFragmentsAt } from './fragment-header.js';
import { IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD_LENGTH, Ipv6Field, Ipv6HeaderView, describeIpv6 } from './header.js';
import type { Ipv6Link } from './link.js';
import { forEachIpv6Option, Ipv6OptionType, optionsHeaderLength, unknownOptionAction, UnknownOptionAction } from './options.js';
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
  forward?(packet: Uint8Array, link: Ipv6Link, linkMulticast: boolean): void;
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
      'ip6InReceives',
      'ip6InHdrErrors',
      'ip6InTruncatedPkts',
      'ip6InAddrErrors',
      'ip6InUnknownProtos',
      'ip6InDelivers',
      'ip6InDiscards',
      'ip6InMcastPkts',
      'ip6InMcastNotJoined',
      'ip6InNoNextHeader',
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

  /** A packet from `link`; `linkMulticast` says the Ethernet destination was multicast/broadcast. */
  receive(bytes: Uint8Array, link: Ipv6Link, linkMulticast: boolean): void {
    const { ctx, header } = this;
    ctx.stats.inc('ip6InReceives');
    const error = header.wrap(bytes);
    if (error) {
      const counter = error.reason === 'truncated' ? 'ip6InTruncatedPkts' : 'ip6InHdrErrors';
      if (counter !== 'ip6InHdrErrors') ctx.stats.inc('ip6InHdrErrors');
      ctx.trace.dropped(counter, describeParseError(error), () => `${bytes.length} bytes on ${link.name}`);
      return;
    }
    let packet = header.packet;
    const source = header.source;
    const destination = header.destination;

    // RFC 4291 §2.7: a multicast source is invalid; §2.5.3: ::1 never leaves a node; §2.5.5.2: no IPv4-mapped on the wire.
    if (isMulticastIpv6(source) || isLoopbackIpv6(source) || isLoopbackIpv6(destination) || isIpv4MappedIpv6(source) || isIpv4MappedIpv6(destination)) {
      ctx.trace.dropped('ip6InHdrErrors', 'invalid source or destination address', () => describeIpv6(header));
      return;
    }
    const toMulticast = isMulticastIpv6(destination);
    if (toMulticast) {
      ctx.stats.inc('ip6InMcastPkts');
      // RFC 4291 §2.7: scope 0 is reserved, interface-local (1) never appears on a link.
      const scope = multicastScope(destination);
      if (scope <= MulticastScope.InterfaceLocal) {
        ctx.trace.dropped('ip6InHdrErrors', `multicast scope ${scope} on a link`, () => describeIpv6(header));
        return;
      }
      if (!link.hasGroup(destination)) {
        ctx.trace.dropped('ip6InMcastNotJoined', 'multicast group not joined', () => describeIpv6(header));
        return;
      }
    } else if (!this.isLocalAddress(destination)) {
      if (this.hooks.forward) return this.hooks.forward(packet, link, linkMulticast);
      ctx.trace.dropped('ip6InAddrErrors', 'not for us and not forwarding', () => describeIpv6(header));
      return;
    }
    const errorContext = { link, toMulticast: toMulticast || linkMulticast };

    // The chain walk (RFC 8200 §4: "extension headers ... must be processed strictly in the order they appear").
    let nextHeader = header.nextHeader;
    let nextHeaderField: number = Ipv6Field.NEXT_HEADER;
    let offset = IPV6_HEADER_LENGTH;
    let fragmented = false;
    for (let count = 0; ; count++) {
      if (nextHeader !== IpProtocol.HopByHop && nextHeader !== IpProtocol.IPv6DestinationOptions && nextHeader !== IpProtocol.IPv6Route && nextHeader !== IpProtocol.IPv6Fragment) break;
      if (count >= IPV6_EXTENSION_HEADERS_MAX) {
        ctx.trace.dropped('ip6InHdrErrors', `more than ${IPV6_EXTENSION_HEADERS_MAX} extension headers`, () => describeIpv6(header));
        return;
      }
      if (nextHeader === IpProtocol.IPv6Fragment) {
        if (offset + FRAGMENT_HEADER_LENGTH > packet.length) {
          ctx.trace.dropped('ip6InHdrErrors', 'fragment header cut off', () => describeIpv6(header));
          return;
        }
        const fragmentOffset = fragmentOffsetAt(packet, offset);
        const more = moreFragmentsAt(packet, offset);
        const fragmentNextHeader = packet[offset + FragmentField.NEXT_HEADER]!;
        if (fragmented) {
          ctx.trace.dropped('ip6InHdrErrors', 'a second Fragment header', () => describeIpv6(header));
          return;
        }
        fragmented = true;
        if (fragmentOffset === 0 && !more) {
          // RFC 6946: an atomic fragment is processed in isolation; the header is just skipped.
          nextHeaderField = offset;
          nextHeader = fragmentNextHeader;
          offset += FRAGMENT_HEADER_LENGTH;
          continue;
        }
        const data = packet.subarray(offset + FRAGMENT_HEADER_LENGTH);
        // RFC 8200 §4.5: a non-final fragment must be a multiple of 8 octets long.
        if (more && data.length % 8 !== 0) {
          ctx.trace.dropped('ip6InHdrErrors', `non-final fragment of ${data.length} bytes`, () => describeIpv6(header));
          this.hooks.error(packet, { type: ParameterProblem.type, code: ParameterProblem.erroneousHeaderField, pointer: Ipv6Field.PAYLOAD_LENGTH }, errorContext);
          return;
        }
        // RFC 8200 §4.5: the reassembled Payload Length would exceed 65535.
        if (offset - IPV6_HEADER_LENGTH + fragmentOffset + data.length > IPV6_MAX_PAYLOAD_LENGTH) {
          ctx.trace.dropped('ip6InHdrErrors', `fragment at ${fragmentOffset} + ${data.length} bytes past 65535`, () => describeIpv6(header));
          this.hooks.error(packet, { type: ParameterProblem.type, code: ParameterProblem.erroneousHeaderField, pointer: offset + FragmentField.OFFSET_FLAGS }, errorContext);
          return;
        }
        // RFC 7112 §5: the first fragment must carry every header through the upper-layer one.
        if (fragmentOffset === 0 && !firstFragmentHasWholeChain(data, fragmentNextHeader)) {
          ctx.trace.dropped('ip6InHdrErrors', 'first fragment without the whole header chain (RFC 7112)', () => describeIpv6(header));
          this.hooks.error(packet, { type: ParameterProblem.type, code: ParameterProblem.incompleteHeaderChain, pointer: 0 }, errorContext);
          return;
        }
        const whole = this.reassembler.receive({
          source,
          destination,
          identification: identificationAt(packet, offset),
          offset: fragmentOffset,
          moreFragments: more,
          data,
          packet,
          fragmentHeaderOffset: offset,
          nextHeaderField,
          nextHeader: fragmentNextHeader,
        });
        if (!whole) return; // held, or dropped and counted by the reassembler
        packet = whole.packet;
        header.wrap(packet);
        nextHeader = whole.nextHeader;
        nextHeaderField = whole.nextHeaderField;
        offset = whole.offset;
        continue;
      }

      // Hop-by-Hop, Destination Options and Routing share the length octet (8-octet units, RFC 8200 §4.3-4.6).
      if (offset + 2 > packet.length || offset + optionsHeaderLength(packet[offset + 1]!) > packet.length) {
        ctx.trace.dropped('ip6InHdrErrors', `extension header ${nextHeader} cut off`, () => describeIpv6(header));
        return;
      }
      const length = optionsHeaderLength(packet[offset + 1]!);
      if (nextHeader === IpProtocol.HopByHop && offset !== IPV6_HEADER_LENGTH) {
        // RFC 8200 §4.3: Hop-by-Hop only immediately after the IPv6 header; elsewhere it is an unknown Next Header.
        ctx.trace.dropped('ip6InUnknownProtos', 'Hop-by-Hop header not first', () => describeIpv6(header));
        this.hooks.error(packet, { type: ParameterProblem.type, code: ParameterProblem.unrecognizedNextHeader, pointer: nextHeaderField }, errorContext);
        return;
      }
      if (nextHeader === IpProtocol.IPv6Route) {
        const segmentsLeft = packet[offset + RoutingField.SEGMENTS_LEFT]!;
        if (segmentsLeft !== 0) {
          // RFC 8200 §4.4, RFC 5095 §3: an unrecognised type (RH0 included) with Segments Left > 0.
          const routingType = packet[offset + RoutingField.ROUTING_TYPE]!;
          ctx.trace.dropped('ip6InHdrErrors', `routing header type ${routingType} with ${segmentsLeft} segments left`, () => describeIpv6(header));
          this.hooks.error(packet, { type: ParameterProblem.type, code: ParameterProblem.erroneousHeaderField, pointer: offset + RoutingField.ROUTING_TYPE }, errorContext);
          return;
        }
      } else {
        const verdict = checkOptions(packet.subarray(offset, offset + length), offset);
        if (verdict) {
          ctx.trace.dropped('ip6InHdrErrors', verdict.reason, () => describeIpv6(header));
          if (verdict.error) this.hooks.error(packet, verdict.error, errorContext);
          return;
        }
      }
      nextHeaderField = offset;
      nextHeader = packet[offset]!;
      offset += length;
    }

    if (nextHeader === IpProtocol.IPv6NoNext) {
      // RFC 8200 §4.7: nothing follows; anything after the header is ignored.
      ctx.trace.dropped('ip6InNoNextHeader', 'No Next Header', () => describeIpv6(header));
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
    r.toMulticast = errorContext.toMulticast;
    r.fragmented = fragmented;
    r.checksumValid = !fragmented && (link.rxChecksumValid ?? false);

    const handler = this.handlers.get(nextHeader);
    if (!handler) {
      // RFC 8200 §4: "ICMP Parameter Problem ... Code 1 ... pointing to the unrecognized value".
      ctx.trace.dropped('ip6InUnknownProtos', 'no handler for next header', () => `next header ${nextHeader} from ${formatIpv6(r.source)}`);
      this.hooks.error(packet, { type: ParameterProblem.type, code: ParameterProblem.unrecognizedNextHeader, pointer: nextHeaderField }, errorContext);
      return;
    }
    const disposition = handler(r);
    if (disposition === 'delivered') ctx.stats.inc('ip6InDelivers');
    else if (disposition === 'portUnreachable') this.hooks.error(r.packet, DestinationUnreachablePort, errorContext);
    else if (disposition === 'protocolUnreachable') {
      this.hooks.error(r.packet, { type: ParameterProblem.type, code: ParameterProblem.unrecognizedNextHeader, pointer: nextHeaderField }, errorContext);
    }
  }
}

/**
 * RFC 8200 §4.2 for one Hop-by-Hop or Destination Options header
 * (`options` is the whole header, found at `offset` in the packet): the TLVs
 * fit, padding and option counts stay within Linux's limits, and unknown
 * options get the action their two high bits ask for. tapnet knows Pad1,
 * PadN and Router Alert.
 */
function checkOptions(options: Uint8Array, offset: number): OptionsVerdict | undefined {
  let verdict: OptionsVerdict | undefined;
  let padding = 0;
  let count = 0;
  const error = forEachIpv6Option(options, (type, data, at) => {
    if (verdict) return;
    if (type === Ipv6OptionType.Pad1 || type === Ipv6OptionType.PadN) {
      padding += type === Ipv6OptionType.Pad1 ? 1 : 2 + data.length;
      if (padding > IPV6_PADDING_MAX) verdict = { reason: `more than ${IPV6_PADDING_MAX} bytes of padding in a row` };
      return;
    }
    padding = 0;
    if (++count > IPV6_OPTIONS_MAX) {
      verdict = { reason: `more than ${IPV6_OPTIONS_MAX} options` };
      return;
    }
    if (type === Ipv6OptionType.RouterAlert && data.length === 2) return;
    const pointer = offset + at;
    switch (unknownOptionAction(type)) {
      case UnknownOptionAction.Skip:
        return;
      case UnknownOptionAction.Discard:
        verdict = { reason: `unknown option 0x${type.toString(16)} (discard)` };
        return;
      case UnknownOptionAction.DiscardSendError:
        verdict = { reason: `unknown option 0x${type.toString(16)}`, error: { type: ParameterProblem.type, code: ParameterProblem.unrecognizedOption, pointer, evenToMulticast: true } };
        return;
      default:
        verdict = { reason: `unknown option 0x${type.toString(16)}`, error: { type: ParameterProblem.type, code: ParameterProblem.unrecognizedOption, pointer } };
    }
  });
  if (error) return { reason: `bad option: ${describeParseError(error)}` };
  return verdict;
}
