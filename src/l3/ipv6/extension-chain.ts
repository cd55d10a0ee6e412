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
 * tapnet: the most bytes of extension headers one packet may carry, from the
 * end of the fixed header to the upper-layer header (after reassembly).
 * RFC 8200 sets no limit on the number of headers (§4.1 only recommends
 * one of each, Destination Options twice), and Linux has none on the count
 * either: it walks whatever fits (net.ipv6.max_dst_opts_length bounds one
 * header, not the chain). Measured on Linux 6.18 (tests/integration/
 * ext-headers6.test.ts): 2000 Destination Options headers (16000 bytes, in
 * fragments) and 4000 (32000 bytes) are answered; 4090 (32720 bytes) and
 * more are discarded (Ip6InDiscards). So tapnet bounds the bytes, not the
 * count, at 32 KiB: thc-ipv6's 128- and 2000-header cases pass as on Linux,
 * and the work one packet can ask of the walk stays bounded. Past it the
 * packet is dropped, counted in Ip6InHdrErrors and ip6InExtHeadersTooLong.
 */
export const IPV6_EXTENSION_HEADERS_BYTES_MAX = 32 * 1024;

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
  /** The chain passes IPV6_EXTENSION_HEADERS_BYTES_MAX. */
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
  /** Where the chain began: extension-header bytes are counted from here. */
  chainStart = 0;

  /** Starts at the header `nextHeader` found at `offset`, named by the octet at `nextHeaderField`. */
  start(packet: Uint8Array, nextHeader: number, nextHeaderField: number, offset: number): this {
    this.packet = packet;
    this.nextHeader = nextHeader;
    this.nextHeaderField = nextHeaderField;
    this.offset = offset;
    this.length = 0;
    this.count = 0;
    this.chainStart = offset;
    return this;
  }

  /**
   * Looks at the current header: is it an extension header, within the
   * byte limit, whole? `length` is set whenever the header's first two
   * octets are present (also for `Truncated` and `TooLong`).
   */
  step(): ChainStep {
    const { packet, offset } = this;
    if (!isIpv6ExtensionHeader(this.nextHeader)) return ChainStep.UpperLayer;
    if (offset + 2 > packet.length) {
      this.length = 0;
      return ChainStep.Truncated;
    }
    this.length = this.nextHeader === IpProtocol.IPv6Fragment ? FRAGMENT_HEADER_LENGTH : optionsHeaderLength(packet[offset + OptionsField.HDR_EXT_LEN]!);
    if (offset + this.length - this.chainStart > IPV6_EXTENSION_HEADERS_BYTES_MAX) return ChainStep.TooLong;
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
  /** More than IPV6_EXTENSION_HEADERS_BYTES_MAX bytes of extension headers. */
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

/** What a first fragment holds of the header chain (RFC 7112 §5, as Linux judges it). */
export const FirstFragmentChain = {
  /** Every extension header and the upper-layer header (its `upperLayerMinimumLength`) are in the fragment. */
  Whole: 'whole',
  /** The chain leads to the upper-layer header, and that header is not (wholly) in the fragment. */
  UpperLayerCut: 'upperLayerCut',
  /** The fragment ends before the next header's first two octets: where the upper layer starts is unknown. */
  RunsOn: 'runsOn',
  /** The chain in the fragment alone passes IPV6_EXTENSION_HEADERS_BYTES_MAX. */
  TooLong: 'tooLong',
} as const;
export type FirstFragmentChain = (typeof FirstFragmentChain)[keyof typeof FirstFragmentChain];

/**
 * RFC 7112 §5: does a first fragment carry the whole header chain? `data`
 * is what follows its Fragment header, `nextHeader` that header's Next
 * Header.
 *
 * The walk is Linux's (ipv6frag_thdr_truncated over ipv6_skip_exthdr): it
 * follows each header's Next Header and Hdr Ext Len octets, whether or not
 * the rest of that header is present. When the chain reaches the upper
 * layer and that header is cut, the fragment is refused (`UpperLayerCut`:
 * Parameter Problem code 3). When the fragment ends before a header's first
 * two octets, nothing says where the upper layer is, and Linux reassembles
 * (`RunsOn`): that is how it answers thc-ipv6's 2000 Destination Options
 * headers in fragments. RFC 7112 says SHOULD discard, RFC 8200 §4.5
 * "should"; both allow Linux's choice, so tapnet makes it too.
 */
export function firstFragmentChain(data: Uint8Array, nextHeader: number, walker: Ipv6ChainWalker = new Ipv6ChainWalker()): FirstFragmentChain {
  // A second Fragment header inside the fragmentable part is measured as one more 8-byte header.
  walker.start(data, nextHeader, -1, 0);
  for (;;) {
    const step = walker.step();
    if (step === ChainStep.UpperLayer) {
      // No Next Header ends the chain with nothing to check (Linux's walk gives up on it: not truncated).
      if (walker.nextHeader === IpProtocol.IPv6NoNext) return FirstFragmentChain.Whole;
      return walker.offset + upperLayerMinimumLength(walker.nextHeader) <= data.length ? FirstFragmentChain.Whole : FirstFragmentChain.UpperLayerCut;
    }
    if (step === ChainStep.TooLong) return FirstFragmentChain.TooLong;
    if (walker.length === 0) return FirstFragmentChain.RunsOn; // Truncated before Next Header and Hdr Ext Len
    walker.advance();
  }
}
