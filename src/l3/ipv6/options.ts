/**
 * The Hop-by-Hop Options and Destination Options extension headers: the
 * same layout, a list of type-length-value options.
 *
 * Read first: RFC 8200 §4.2 (option TLVs, what the two high bits of an
 * unknown type ask for), §4.3 (Hop-by-Hop), §4.6 (Destination Options), RFC
 * 2711 (Router Alert, which MLD uses), RFC 2675 §2-3 (Jumbo Payload and
 * its error cases), RFC 8504 §5.3 (hosts MAY bound options and padding;
 * Linux's ip6_parse_tlv does), RFC 4942 §2.1.9.5 (PadN carries zeros).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Next Header  |  Hdr Ext Len  |                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *    |                            Options                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    Hdr Ext Len: 8-octet units, not counting the first 8 octets.
 *
 *    each option:  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
 *                  |  Option Type  |  Opt Data Len |  Option Data
 *                  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
 *    except Pad1, a single zero octet.
 */
import { ok, type ParseError, type ParseResult } from '../../core/parse-result.js';

export const OptionsField = {
  NEXT_HEADER: 0,
  HDR_EXT_LEN: 1,
  OPTIONS: 2,
} as const;

export const Ipv6OptionType = {
  Pad1: 0x00,
  PadN: 0x01,
  /** RFC 2473 §5.1. */
  TunnelEncapsulationLimit: 0x04,
  /** RFC 2711: "routers, look at this" (MLD, RSVP). */
  RouterAlert: 0x05,
  /** RFC 2675 jumbogram; never on Ethernet. */
  Jumbo: 0xc2,
  /** RFC 6275 Home Address (Mobile IPv6), in Destination Options. */
  HomeAddress: 0xc9,
} as const;

/**
 * RFC 2675 §2, the Jumbo Payload option (Hop-by-Hop only), aligned 4n+2:
 *
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Option Type  |  Opt Data Len |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     Jumbo Payload Length                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const JumboOptionField = {
  TYPE: 0,
  OPT_DATA_LEN: 1,
  JUMBO_PAYLOAD_LENGTH: 2,
} as const;
/** Opt Data Len of a Jumbo Payload option. */
export const JUMBO_OPTION_DATA_LENGTH = 4;

/** RFC 2711 Router Alert values. */
export const RouterAlertValue = { Mld: 0, Rsvp: 1, ActiveNetworks: 2 } as const;

/**
 * RFC 8200 §4.2: the two highest-order bits of an option type say what a
 * node that does not recognise it must do.
 */
export const UnknownOptionAction = {
  /** 00: skip over this option and continue. */
  Skip: 0,
  /** 01: discard the packet. */
  Discard: 1,
  /** 10: discard, and send ICMP Parameter Problem code 2 pointing at the type, even to multicast. */
  DiscardSendError: 2,
  /** 11: discard, and send the error only if the destination was not multicast. */
  DiscardSendErrorUnlessMulticast: 3,
} as const;
export type UnknownOptionAction = (typeof UnknownOptionAction)[keyof typeof UnknownOptionAction];

export function unknownOptionAction(type: number): UnknownOptionAction {
  return (type >> 6) as UnknownOptionAction;
}

/** The third-highest bit: the option data may change en route (RFC 8200 §4.2). */
export function optionDataMayChange(type: number): boolean {
  return (type & 0x20) !== 0;
}

/** Smallest options header: 8 bytes (Hdr Ext Len 0). */
export const OPTIONS_HEADER_MIN_LENGTH = 8;

/** Length in bytes of an options (or routing) header from its Hdr Ext Len octet. */
export function optionsHeaderLength(hdrExtLen: number): number {
  return (hdrExtLen + 1) * 8;
}

/**
 * Walks the options of one whole options header (`header` starts at its
 * Next Header octet and is exactly as long as Hdr Ext Len says). Pad1 and
 * PadN are visited too, so callers can bound padding. Returns a 'badOption'
 * error (offset relative to the header) when an option runs past the end.
 */
export function forEachIpv6Option(
  header: Uint8Array,
  visit: (type: number, data: Uint8Array, offset: number) => void,
): ParseError | undefined {
  let i: number = OptionsField.OPTIONS;
  while (i < header.length) {
    const type = header[i]!;
    if (type === Ipv6OptionType.Pad1) {
      visit(type, header.subarray(i + 1, i + 1), i);
      i += 1;
      continue;
    }
    if (i + 2 > header.length) return { reason: 'badOption', offset: i, detail: `option ${type} has no length octet` };
    const length = header[i + 1]!;
    if (i + 2 + length > header.length) {
      return { reason: 'badOption', offset: i + 1, detail: `option ${type} length ${length}, ${header.length - i - 2} bytes left` };
    }
    visit(type, header.subarray(i + 2, i + 2 + length), i);
    i += 2 + length;
  }
  return undefined;
}

export interface Ipv6Option {
  readonly type: number;
  readonly data: Uint8Array;
}

/** The plain record. Padding is not listed: `emit` adds it. */
export interface Ipv6OptionsHeaderRecord {
  readonly nextHeader: number;
  readonly options: readonly Ipv6Option[];
}

/** Parses a whole options header at the start of `buf` (the rest of `buf` is what follows it). */
export function parseIpv6OptionsHeader(buf: Uint8Array): ParseResult<Ipv6OptionsHeaderRecord> {
  if (buf.length < OPTIONS_HEADER_MIN_LENGTH) return { ok: false, error: { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < 8` } };
  const length = optionsHeaderLength(buf[OptionsField.HDR_EXT_LEN]!);
  if (length > buf.length) {
    return { ok: false, error: { reason: 'truncated', offset: OptionsField.HDR_EXT_LEN, detail: `header of ${length} bytes, ${buf.length} present` } };
  }
  const options: Ipv6Option[] = [];
  const error = forEachIpv6Option(buf.subarray(0, length), (type, data) => {
    if (type !== Ipv6OptionType.Pad1 && type !== Ipv6OptionType.PadN) options.push({ type, data: data.slice() });
  });
  if (error) return { ok: false, error };
  return ok({ nextHeader: buf[OptionsField.NEXT_HEADER]!, options });
}

/** Bytes `emitIpv6OptionsHeader` writes: 2 + options, padded to a multiple of 8. */
export function ipv6OptionsHeaderLength(record: Ipv6OptionsHeaderRecord): number {
  let n = OptionsField.OPTIONS;
  for (const o of record.options) n += 2 + o.data.length;
  return (n + 7) & ~7;
}

/** Writes the header with Pad1/PadN to a multiple of 8 octets (RFC 8200 §4.2); returns its length. */
export function emitIpv6OptionsHeader(record: Ipv6OptionsHeaderRecord, buf: Uint8Array, offset: number): number {
  const length = ipv6OptionsHeaderLength(record);
  if (length > 2048) throw new RangeError(`options header of ${length} bytes > 2048`);
  if (offset + length > buf.length) throw new RangeError('buffer too small for the options header');
  buf[offset + OptionsField.NEXT_HEADER] = record.nextHeader;
  buf[offset + OptionsField.HDR_EXT_LEN] = length / 8 - 1;
  let i = offset + OptionsField.OPTIONS;
  for (const o of record.options) {
    if (o.data.length > 255) throw new RangeError(`option ${o.type} data of ${o.data.length} bytes > 255`);
    buf[i] = o.type;
    buf[i + 1] = o.data.length;
    buf.set(o.data, i + 2);
    i += 2 + o.data.length;
  }
  const pad = offset + length - i;
  if (pad === 1) buf[i] = Ipv6OptionType.Pad1;
  else if (pad > 1) {
    buf[i] = Ipv6OptionType.PadN;
    buf[i + 1] = pad - 2;
    buf.fill(0, i + 2, i + pad);
  }
  return length;
}

/** "HBH (rtalert: 0x0000) (padn)" style, tcpdump-like. */
export function describeIpv6OptionsHeader(name: 'HBH' | 'DSTOPT', header: Uint8Array): string {
  const parts: string[] = [];
  const error = forEachIpv6Option(header, (type, data) => {
    if (type === Ipv6OptionType.Pad1) parts.push('(pad1)');
    else if (type === Ipv6OptionType.PadN) parts.push('(padn)');
    else if (type === Ipv6OptionType.RouterAlert && data.length === 2) parts.push(`(rtalert: 0x${((data[0]! << 8) | data[1]!).toString(16).padStart(4, '0')})`);
    else parts.push(`(type 0x${type.toString(16).padStart(2, '0')}: len=${data.length})`);
  });
  return `${name} ${parts.join('')}${error ? ' [bad option]' : ''}`;
}
