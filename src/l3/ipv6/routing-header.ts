/**
 * The IPv6 Routing extension header.
 *
 * Read first: RFC 8200 §4.4 (format and the rule for unknown types), RFC
 * 5095 (Type 0 is deprecated: a packet with RH0 and Segments Left > 0 is
 * treated as an unrecognised type, because RH0 let one packet bounce between
 * two hosts 50 times and amplify a flood), RFC 6554 (Type 3, RPL), RFC 8754
 * (Type 4, Segment Routing).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Next Header  |  Hdr Ext Len  |  Routing Type | Segments Left |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                                                               |
 *    .                                                               .
 *    .                       type-specific data                      .
 *    .                                                               .
 *    |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * tapnet implements no routing type. RFC 8200 §4.4: with Segments Left 0 an
 * unknown type is ignored and processing goes on; otherwise the packet is
 * discarded with ICMP Parameter Problem code 0 pointing at Routing Type.
 */
import { ok, type ParseResult } from '../../core/parse-result.js';
import { optionsHeaderLength } from './options.js';

export const RoutingField = {
  NEXT_HEADER: 0,
  HDR_EXT_LEN: 1,
  ROUTING_TYPE: 2,
  SEGMENTS_LEFT: 3,
  DATA: 4,
} as const;

export const RoutingType = {
  /** Deprecated by RFC 5095. */
  SourceRoute: 0,
  Nimrod: 1,
  /** Mobile IPv6 (RFC 6275). */
  Type2: 2,
  Rpl: 3,
  SegmentRouting: 4,
} as const;

export const ROUTING_HEADER_MIN_LENGTH = 8;

export interface Ipv6RoutingHeaderRecord {
  readonly nextHeader: number;
  readonly routingType: number;
  readonly segmentsLeft: number;
  /** Type-specific data after the first 4 octets (for RH0: 4 reserved octets, then addresses). */
  readonly data: Uint8Array;
}

/** Parses a routing header at the start of `buf` (the rest of `buf` is what follows it). */
export function parseIpv6RoutingHeader(buf: Uint8Array): ParseResult<Ipv6RoutingHeaderRecord> {
  if (buf.length < ROUTING_HEADER_MIN_LENGTH) return { ok: false, error: { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < 8` } };
  const length = optionsHeaderLength(buf[RoutingField.HDR_EXT_LEN]!);
  if (length > buf.length) {
    return { ok: false, error: { reason: 'truncated', offset: RoutingField.HDR_EXT_LEN, detail: `header of ${length} bytes, ${buf.length} present` } };
  }
  return ok({
    nextHeader: buf[RoutingField.NEXT_HEADER]!,
    routingType: buf[RoutingField.ROUTING_TYPE]!,
    segmentsLeft: buf[RoutingField.SEGMENTS_LEFT]!,
    data: buf.slice(RoutingField.DATA, length),
  });
}

/** Bytes `emitIpv6RoutingHeader` writes (data padded with zeros to a multiple of 8 in all). */
export function ipv6RoutingHeaderLength(record: Ipv6RoutingHeaderRecord): number {
  return (RoutingField.DATA + record.data.length + 7) & ~7;
}

export function emitIpv6RoutingHeader(record: Ipv6RoutingHeaderRecord, buf: Uint8Array, offset: number): number {
  const length = ipv6RoutingHeaderLength(record);
  if (length > 2048) throw new RangeError(`routing header of ${length} bytes > 2048`);
  if (offset + length > buf.length) throw new RangeError('buffer too small for the routing header');
  buf[offset + RoutingField.NEXT_HEADER] = record.nextHeader;
  buf[offset + RoutingField.HDR_EXT_LEN] = length / 8 - 1;
  buf[offset + RoutingField.ROUTING_TYPE] = record.routingType;
  buf[offset + RoutingField.SEGMENTS_LEFT] = record.segmentsLeft;
  buf.set(record.data, offset + RoutingField.DATA);
  buf.fill(0, offset + RoutingField.DATA + record.data.length, offset + length);
  return length;
}

/** tcpdump: "srcrt (len=2, type=0, segleft=1)". */
export function describeIpv6RoutingHeader(header: Uint8Array): string {
  if (header.length < ROUTING_HEADER_MIN_LENGTH) return 'srcrt [truncated]';
  return `srcrt (len=${header[RoutingField.HDR_EXT_LEN]}, type=${header[RoutingField.ROUTING_TYPE]}, segleft=${header[RoutingField.SEGMENTS_LEFT]})`;
}
