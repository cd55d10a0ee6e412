/**
 * Walking an IPv6 extension-header chain to the upper-layer header, without
 * acting on it: for the first fragment's completeness check (RFC 7112), for
 * packets quoted inside ICMPv6 errors, and for `describe`. IPv6 input walks
 * the chain itself, because it acts on each header in turn (./input.ts).
 *
 * Read first: RFC 8200 §4 and §4.1 (the chain, its recommended order, and
 * "each extension header should occur at most once, except for the
 * Destination Options header which should occur at most twice"), RFC 7045
 * (how middle boxes treat unknown headers), RFC 7112 (the whole chain must be
 * in the first fragment).
 *
 *   +---------------+----------------+----------------+-----------------
 *   | IPv6 header   | Hop-by-Hop     | Fragment       | ICMPv6 header ...
 *   | Next Header=0 | Next Header=44 | Next Header=58 |
 *   +---------------+----------------+----------------+-----------------
 */
import { IpProtocol } from '../ip-protocol.js';
import { FRAGMENT_HEADER_LENGTH, fragmentOffsetAt } from './fragment-header.js';
import { IPV6_HEADER_LENGTH, Ipv6Field } from './header.js';
import { optionsHeaderLength } from './options.js';

/**
 * tapnet: the most extension headers one packet may carry. RFC 8200 §4.1
 * recommends one of each (Destination Options twice): six. Linux has no
 * count limit (only net.ipv6.max_hbh_length and max_dst_opts_length), but a
 * chain of hundreds of 8-byte headers is only ever an attack on the walk
 * itself, so past this the packet is dropped as a header error.
 */
export const IPV6_EXTENSION_HEADERS_MAX = 8;

/**
 * Upper-layer header sizes that must be present in a first fragment (RFC
 * 7112 §5). The same table as Linux's ipv6_frag_thdr_truncated: a whole TCP,
 * UDP or ICMPv6 header, at least one byte of anything else.
 */
export function upperLayerMinimumLength(nextHeader: number): number {
  switch (nextHeader) {
    case IpProtocol.TCP:
      return 20;
    case IpProtocol.UDP:
      return 8;
    case IpProtocol.ICMPv6:
      return 8;
    case IpProtocol.IPv6NoNext:
      return 0;
    default:
      return 1;
  }
}

/** The extension headers tapnet parses (RFC 8200 §4). AH/ESP and the rest count as upper layers. */
export function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === IpProtocol.HopByHop ||
    nextHeader === IpProtocol.IPv6Route ||
    nextHeader === IpProtocol.IPv6Fragment ||
    nextHeader === IpProtocol.IPv6DestinationOptions
  );
}

export type ChainWalk =
  | {
      readonly kind: 'upperLayer';
      /** The upper-layer protocol (or 59, No Next Header). */
      readonly nextHeader: number;
      /** Where it starts in the packet. */
      readonly offset: number;
      /** Offset of the octet that holds `nextHeader` (6 for the fixed header). */
      readonly nextHeaderField: number;
      /** Offset of a Fragment header on the way, or -1. */
      readonly fragmentHeader: number;
    }
  /** An extension header runs past the bytes present. */
  | { readonly kind: 'truncated'; readonly offset: number }
  /** More than IPV6_EXTENSION_HEADERS_MAX headers. */
  | { readonly kind: 'tooLong'; readonly offset: number }
  /** A non-first fragment: what follows its Fragment header is data, not headers. */
  | { readonly kind: 'laterFragment'; readonly offset: number };

/**
 * Walks from the fixed header of `packet` to the upper-layer header. Never
 * throws and never reads past `packet`. `packet` must hold at least 40 bytes.
 */
export function walkIpv6Chain(packet: Uint8Array): ChainWalk {
  let nextHeader = packet[Ipv6Field.NEXT_HEADER]!;
  let nextHeaderField: number = Ipv6Field.NEXT_HEADER;
  let offset = IPV6_HEADER_LENGTH;
  let fragmentHeader = -1;
  for (let count = 0; isIpv6ExtensionHeader(nextHeader); count++) {
    if (count >= IPV6_EXTENSION_HEADERS_MAX) return { kind: 'tooLong', offset };
    let length: number;
    if (nextHeader === IpProtocol.IPv6Fragment) {
      if (offset + FRAGMENT_HEADER_LENGTH > packet.length) return { kind: 'truncated', offset };
      fragmentHeader = offset;
      if (fragmentOffsetAt(packet, offset) !== 0) return { kind: 'laterFragment', offset };
      length = FRAGMENT_HEADER_LENGTH;
    } else {
      if (offset + 2 > packet.length) return { kind: 'truncated', offset };
      length = optionsHeaderLength(packet[offset + 1]!);
      if (offset + length > packet.length) return { kind: 'truncated', offset };
    }
    nextHeaderField = offset;
    nextHeader = packet[offset]!;
    offset += length;
  }
  return { kind: 'upperLayer', nextHeader, offset, nextHeaderField, fragmentHeader };
}

/**
 * RFC 7112 §5: does a first fragment carry the whole header chain? `data`
 * is what follows its Fragment header, `nextHeader` that header's Next
 * Header. True when every extension header in `data` is complete and the
 * upper-layer header (its `upperLayerMinimumLength`) is present.
 */
export function firstFragmentHasWholeChain(data: Uint8Array, nextHeader: number): boolean {
  let offset = 0;
  for (let count = 0; isIpv6ExtensionHeader(nextHeader); count++) {
    if (count >= IPV6_EXTENSION_HEADERS_MAX) return false;
    // A second Fragment header inside the fragmentable part is itself 8 bytes.
    const length = nextHeader === IpProtocol.IPv6Fragment ? FRAGMENT_HEADER_LENGTH : offset + 2 <= data.length ? optionsHeaderLength(data[offset + 1]!) : Infinity;
    if (offset + length > data.length) return false;
    nextHeader = data[offset]!;
    offset += length;
  }
  return offset + upperLayerMinimumLength(nextHeader) <= data.length;
}
