/**
 * Walking an IPv6 extension-header chain: the one walker for the whole
 * stack. IPv6 input drives it header by header and acts on each
 * (./input.ts); `walkIpv6Chain` drives it to the end without acting, for
 * packets quoted inside ICMPv6 errors and for `describe`; the first
 * fragment's completeness check (RFC 7112) drives it over the fragment's
 * data.
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
import { OptionsField, optionsHeaderLength } from './options.js';

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

/** What the walker found at its current header. */
export const ChainStep = {
  /** An extension header, whole, `length` bytes long: act on it, then `advance()`. */
  Extension: 'extension',
  /** Not an extension header: the upper layer (or 59, No Next Header) starts at `offset`. */
  UpperLayer: 'upperLayer',
  /** The extension header runs past the bytes present. */
  Truncated: 'truncated',
  /** More than IPV6_EXTENSION_HEADERS_MAX headers. */
  TooLong: 'tooLong',
} as const;
export type ChainStep = (typeof ChainStep)[keyof typeof ChainStep];

/**
 * A cursor over an extension-header chain, reusable without allocation (IPv6
 * input keeps one). `start()` it at the first header, then repeat `step()`
 * and `advance()` while `step()` says `Extension`. Never throws and never
 * reads past `packet`.
 *
 * Hop-by-Hop, Routing and Destination Options share their length octet
 * (Hdr Ext Len, 8-octet units not counting the first 8, RFC 8200 §4.3, §4.4,
 * §4.6); the Fragment header is always 8 bytes (§4.5).
 */
export class Ipv6ChainWalker {
  packet: Uint8Array = new Uint8Array(0);
  /** The header at `offset`. */
  nextHeader = 0;
  /** Offset of the octet that named `nextHeader` (6 for the fixed header): the Parameter Problem pointer for it. */
  nextHeaderField = 0;
  offset = 0;
  /** Length of the extension header at `offset`, once `step()` returned `Extension`. */
  length = 0;
  /** Extension headers passed so far. */
  count = 0;

  /** Starts at the header `nextHeader` found at `offset`, named by the octet at `nextHeaderField`. */
  start(packet: Uint8Array, nextHeader: number, nextHeaderField: number, offset: number): this {
    this.packet = packet;
    this.nextHeader = nextHeader;
    this.nextHeaderField = nextHeaderField;
    this.offset = offset;
    this.length = 0;
    this.count = 0;
    return this;
  }

  /** Looks at the current header: is it an extension header, whole, within the count limit? */
  step(): ChainStep {
    const { packet, offset } = this;
    if (!isIpv6ExtensionHeader(this.nextHeader)) return ChainStep.UpperLayer;
    if (this.count >= IPV6_EXTENSION_HEADERS_MAX) return ChainStep.TooLong;
    if (this.nextHeader === IpProtocol.IPv6Fragment) {
      this.length = FRAGMENT_HEADER_LENGTH;
    } else {
      if (offset + 2 > packet.length) return ChainStep.Truncated;
      this.length = optionsHeaderLength(packet[offset + OptionsField.HDR_EXT_LEN]!);
    }
    return offset + this.length > packet.length ? ChainStep.Truncated : ChainStep.Extension;
  }

  /** Moves past the extension header `step()` measured, to the one its Next Header names. */
  advance(): void {
    this.nextHeaderField = this.offset;
    this.nextHeader = this.packet[this.offset + OptionsField.NEXT_HEADER]!;
    this.offset += this.length;
    this.count++;
  }

  /**
   * Moves past the current header (a Fragment header whose datagram just
   * completed) into another buffer: the reassembled packet, where the chain
   * goes on with `nextHeader` at `offset` (RFC 8200 §4.5 "Reassembly").
   */
  advanceInto(packet: Uint8Array, nextHeader: number, nextHeaderField: number, offset: number): void {
    this.packet = packet;
    this.nextHeader = nextHeader;
    this.nextHeaderField = nextHeaderField;
    this.offset = offset;
    this.length = 0;
    this.count++;
  }
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
 * Walks from the fixed header of `packet` to the upper-layer header, acting
 * on nothing. `packet` must hold at least 40 bytes.
 */
export function walkIpv6Chain(packet: Uint8Array): ChainWalk {
  const walker = new Ipv6ChainWalker().start(packet, packet[Ipv6Field.NEXT_HEADER]!, Ipv6Field.NEXT_HEADER, IPV6_HEADER_LENGTH);
  let fragmentHeader = -1;
  for (;;) {
    const step = walker.step();
    const offset = walker.offset;
    if (step === ChainStep.UpperLayer) return { kind: 'upperLayer', nextHeader: walker.nextHeader, offset, nextHeaderField: walker.nextHeaderField, fragmentHeader };
    if (step === ChainStep.Truncated) return { kind: 'truncated', offset };
    if (step === ChainStep.TooLong) return { kind: 'tooLong', offset };
    if (walker.nextHeader === IpProtocol.IPv6Fragment) {
      fragmentHeader = offset;
      if (fragmentOffsetAt(packet, offset) !== 0) return { kind: 'laterFragment', offset };
    }
    walker.advance();
  }
}

/**
 * RFC 7112 §5: does a first fragment carry the whole header chain? `data`
 * is what follows its Fragment header, `nextHeader` that header's Next
 * Header. True when every extension header in `data` is complete and the
 * upper-layer header (its `upperLayerMinimumLength`) is present.
 */
export function firstFragmentHasWholeChain(data: Uint8Array, nextHeader: number, walker: Ipv6ChainWalker = new Ipv6ChainWalker()): boolean {
  // A second Fragment header inside the fragmentable part is measured as one more 8-byte header.
  walker.start(data, nextHeader, -1, 0);
  let step: ChainStep;
  while ((step = walker.step()) === ChainStep.Extension) walker.advance();
  return step === ChainStep.UpperLayer && walker.offset + upperLayerMinimumLength(walker.nextHeader) <= data.length;
}
