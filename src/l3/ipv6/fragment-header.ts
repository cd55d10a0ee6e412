/**
 * The IPv6 Fragment extension header.
 *
 * Read first: RFC 8200 §4.5 (format, fragmentation and reassembly rules),
 * RFC 7739 (unpredictable Identification values), RFC 6946 (an "atomic"
 * fragment, offset 0 and M = 0, is processed alone, never reassembled).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         Identification                        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    Fragment Offset counts 8-octet units; this file converts it to bytes.
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { ok, type ParseResult } from '../../core/parse-result.js';

export const FragmentField = {
  NEXT_HEADER: 0,
  RESERVED: 1,
  OFFSET_FLAGS: 2,
  IDENTIFICATION: 4,
} as const;

export const FRAGMENT_HEADER_LENGTH = 8;
const MORE_FRAGMENTS = 0x0001;
const OFFSET_MASK = 0xfff8;

/** Fragment offset in bytes, from the header at `buf[offset]` (caller checked 8 bytes are present). */
export function fragmentOffsetAt(buf: Uint8Array, offset: number): number {
  return getU16(buf, offset + FragmentField.OFFSET_FLAGS) & OFFSET_MASK;
}

export function moreFragmentsAt(buf: Uint8Array, offset: number): boolean {
  return (getU16(buf, offset + FragmentField.OFFSET_FLAGS) & MORE_FRAGMENTS) !== 0;
}

export function identificationAt(buf: Uint8Array, offset: number): number {
  return getU32(buf, offset + FragmentField.IDENTIFICATION);
}

export interface Ipv6FragmentHeaderRecord {
  readonly nextHeader: number;
  /** Bytes; a multiple of 8. */
  readonly fragmentOffset: number;
  readonly moreFragments: boolean;
  readonly identification: number;
}

export function parseIpv6FragmentHeader(buf: Uint8Array): ParseResult<Ipv6FragmentHeaderRecord> {
  if (buf.length < FRAGMENT_HEADER_LENGTH) return { ok: false, error: { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < 8` } };
  return ok({
    nextHeader: buf[FragmentField.NEXT_HEADER]!,
    fragmentOffset: fragmentOffsetAt(buf, 0),
    moreFragments: moreFragmentsAt(buf, 0),
    identification: identificationAt(buf, 0),
  });
}

export function emitIpv6FragmentHeader(record: Ipv6FragmentHeaderRecord, buf: Uint8Array, offset: number): number {
  if (record.fragmentOffset % 8 !== 0 || record.fragmentOffset < 0 || record.fragmentOffset > OFFSET_MASK) {
    throw new RangeError(`fragment offset ${record.fragmentOffset} is not a multiple of 8 in 0..65528`);
  }
  if (offset + FRAGMENT_HEADER_LENGTH > buf.length) throw new RangeError('buffer too small for the fragment header');
  buf[offset + FragmentField.NEXT_HEADER] = record.nextHeader;
  buf[offset + FragmentField.RESERVED] = 0;
  setU16(buf, offset + FragmentField.OFFSET_FLAGS, record.fragmentOffset | (record.moreFragments ? MORE_FRAGMENTS : 0));
  setU32(buf, offset + FragmentField.IDENTIFICATION, record.identification >>> 0);
  return FRAGMENT_HEADER_LENGTH;
}

/** tcpdump: "frag (0x4b0ab6bb:0|1448)", offset and the data length that follows. */
export function describeIpv6FragmentHeader(header: Uint8Array, dataLength: number): string {
  if (header.length < FRAGMENT_HEADER_LENGTH) return 'frag [truncated]';
  const id = identificationAt(header, 0).toString(16).padStart(8, '0');
  return `frag (0x${id}:${fragmentOffsetAt(header, 0)}|${dataLength})${moreFragmentsAt(header, 0) ? ' MF' : ''}`;
}
