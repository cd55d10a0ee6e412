/**
 * The IPv4 header.
 *
 * Read first: RFC 791 §3.1 (format), RFC 1122 §3.2.1 (what a host checks),
 * RFC 2474/3168 (the old TOS byte is now DSCP + ECN), RFC 6864 (the
 * Identification field only matters for fragments).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Identification        |Flags|      Fragment Offset    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Time to Live |    Protocol   |         Header Checksum       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                       Source Address                          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Destination Address                        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Options                    |    Padding    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    Flags: bit 0 reserved (must be zero), bit 1 DF (Don't Fragment),
 *    bit 2 MF (More Fragments). IHL and Fragment Offset count 4- and 8-byte
 *    units on the wire; this file converts both to bytes.
 */
import { getU16, getU32, getU8, setU16, setU32, setU8 } from '../../core/bytes.js';
import { internetChecksum, updateChecksum16, verifyChecksum } from '../../core/checksum.js';
import { ok, type ParseError, type ParseErrorReason, type ParseResult } from '../../core/parse-result.js';
import { ipProtocolName } from '../ip-protocol.js';
import { formatIpv4, type Ipv4Address } from './address.js';

/** Byte offsets of the fields, in wire order (STYLE.md rule 1). */
export const Field = {
  VERSION_IHL: 0,
  DSCP_ECN: 1,
  TOTAL_LENGTH: 2,
  IDENTIFICATION: 4,
  FLAGS_FRAGMENT_OFFSET: 6,
  TTL: 8,
  PROTOCOL: 9,
  HEADER_CHECKSUM: 10,
  SOURCE: 12,
  DESTINATION: 16,
  OPTIONS: 20,
} as const;

/** Bits of the 16-bit flags + fragment offset word. */
const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export const IPV4_VERSION = 4;
/** IHL 5: no options. */
export const IPV4_MIN_HEADER_LENGTH = 20;
/** The header length of every packet tapnet originates (it sends no options). */
export const IPV4_HEADER_LENGTH = IPV4_MIN_HEADER_LENGTH;
/** IHL 15 (the largest 4-bit value) × 4. */
export const IPV4_MAX_HEADER_LENGTH = 60;
/** Total Length is 16 bits (RFC 791 §3.1). */
export const IPV4_MAX_PACKET_LENGTH = 65_535;
/** RFC 791 §3.1: "Every internet module must be able to forward a datagram of 68 octets without further fragmentation." */
export const IPV4_MIN_MTU = 68;
/** RFC 1122 §3.2.1.7 / RFC 1700: the recommended initial TTL; Linux net.ipv4.ip_default_ttl is 64 too. */
export const IPV4_DEFAULT_TTL = 64;

/** Option types (RFC 791 §3.1, IANA "IP Option Numbers"). The high bit is the "copied" flag. */
export const Ipv4OptionType = {
  EndOfOptionList: 0,
  NoOperation: 1,
  RecordRoute: 7,
  Timestamp: 68,
  Security: 130,
  LooseSourceRoute: 131,
  StrictSourceRoute: 137,
  RouterAlert: 148,
} as const;

/** RFC 791 §3.1: "copied flag ... 1 = copied into all fragments". */
export function ipv4OptionCopied(type: number): boolean {
  return (type & 0x80) !== 0;
}

function parseError(reason: ParseErrorReason, offset: number, detail?: string): ParseError {
  return { reason, offset, detail };
}

/**
 * Walks an options area (the bytes between offset 20 and IHL×4) without
 * throwing. `visit` gets each option's type, its whole bytes (type and length
 * included) and its offset within `options`. End of Option List stops the
 * walk; its padding is not visited. Returns a 'badOption' error when a length
 * octet is missing, smaller than 2 or runs past the area.
 */
export function forEachIpv4Option(
  options: Uint8Array,
  visit: (type: number, option: Uint8Array, offset: number) => void,
): ParseError | undefined {
  let i = 0;
  while (i < options.length) {
    const type = options[i]!;
    if (type === Ipv4OptionType.EndOfOptionList) return undefined;
    if (type === Ipv4OptionType.NoOperation) {
      visit(type, options.subarray(i, i + 1), i);
      i += 1;
      continue;
    }
    if (i + 1 >= options.length) return parseError('badOption', Field.OPTIONS + i, `option ${type} has no length octet`);
    const length = options[i + 1]!;
    if (length < 2 || i + length > options.length) {
      return parseError('badOption', Field.OPTIONS + i + 1, `option ${type} length ${length}, ${options.length - i} bytes left`);
    }
    visit(type, options.subarray(i, i + length), i);
    i += length;
  }
  return undefined;
}

/** What the options area of an arriving packet asks of the receiver. */
export type Ipv4OptionsVerdict =
  | { readonly kind: 'ok' }
  /** Malformed: drop and answer ICMP Parameter Problem pointing at `pointer` (an offset in the IP header). */
  | { readonly kind: 'malformed'; readonly pointer: number; readonly detail: string }
  /** Loose or strict source route: dropped, as Linux does with accept_source_route=0 (its default for hosts). */
  | { readonly kind: 'sourceRoute' };

const OPTIONS_OK: Ipv4OptionsVerdict = { kind: 'ok' };
const SOURCE_ROUTE: Ipv4OptionsVerdict = { kind: 'sourceRoute' };

/**
 * Checks an arriving packet's options the way Linux's ip_options_compile()
 * does: every option has a length of at least 2 that stays inside the header
 * (RFC 791 §3.1), Record Route / source routes have length >= 3 and pointer >= 4,
 * Timestamp has length >= 4 and pointer >= 5 (RFC 791 §3.1, "Internet
 * Timestamp"). A malformed option gets ICMP Parameter Problem with a pointer to
 * the offending octet (RFC 1122 §3.2.2.5: "the pointer identifies the octet of
 * the original datagram's header where the error was detected").
 */
export function checkIpv4Options(options: Uint8Array): Ipv4OptionsVerdict {
  let sourceRoute = false;
  let malformed: Ipv4OptionsVerdict | undefined;
  const error = forEachIpv4Option(options, (type, option, offset) => {
    if (malformed) return;
    const at = Field.OPTIONS + offset;
    const length = option.length;
    switch (type) {
      case Ipv4OptionType.RecordRoute:
      case Ipv4OptionType.LooseSourceRoute:
      case Ipv4OptionType.StrictSourceRoute:
        if (length < 3) malformed = { kind: 'malformed', pointer: at + 1, detail: `option ${type} length ${length} < 3` };
        else if (option[2]! < 4) malformed = { kind: 'malformed', pointer: at + 2, detail: `option ${type} pointer ${option[2]} < 4` };
        else if (type !== Ipv4OptionType.RecordRoute) sourceRoute = true;
        return;
      case Ipv4OptionType.Timestamp:
        if (length < 4) malformed = { kind: 'malformed', pointer: at + 1, detail: `timestamp option length ${length} < 4` };
        else if (option[2]! < 5) malformed = { kind: 'malformed', pointer: at + 2, detail: `timestamp option pointer ${option[2]} < 5` };
        return;
    }
  });
  if (error) return { kind: 'malformed', pointer: error.offset, detail: error.detail ?? 'bad option' };
  if (malformed) return malformed;
  return sourceRoute ? SOURCE_ROUTE : OPTIONS_OK;
}

const EMPTY = new Uint8Array(0);

/**
 * A reusable view over an IPv4 packet (hot path). `wrap()` validates once and
 * allocates nothing on success; getters then read without bounds checks.
 */
export class Ipv4HeaderView {
  private buf: Uint8Array = EMPTY;
  private payloadEnd = 0;

  /**
   * Checks, in the order Linux's ip_rcv_core does: the fixed header is
   * present, version 4, IHL ≥ 5 and within the buffer, the header checksum,
   * and Total Length between the header length and the buffer length.
   * Bytes past Total Length (Ethernet padding of short frames) are ignored.
   */
  wrap(buf: Uint8Array, verifyHeaderChecksum = true): ParseError | undefined {
    if (buf.length < IPV4_MIN_HEADER_LENGTH) {
      return parseError('truncated', 0, `${buf.length} bytes < ${IPV4_MIN_HEADER_LENGTH}`);
    }
    const version = buf[Field.VERSION_IHL]! >> 4;
    if (version !== IPV4_VERSION) return parseError('unsupportedVersion', Field.VERSION_IHL, `version ${version}`);
    const headerLength = (buf[Field.VERSION_IHL]! & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LENGTH) {
      return parseError('badLength', Field.VERSION_IHL, `IHL ${headerLength / 4} < 5`);
    }
    if (headerLength > buf.length) {
      return parseError('badLength', Field.VERSION_IHL, `IHL ${headerLength / 4} needs ${headerLength} bytes, have ${buf.length}`);
    }
    if (verifyHeaderChecksum && !verifyChecksum(buf, 0, headerLength)) {
      return parseError('badChecksum', Field.HEADER_CHECKSUM, `checksum 0x${getU16(buf, Field.HEADER_CHECKSUM).toString(16)}`);
    }
    const totalLength = getU16(buf, Field.TOTAL_LENGTH);
    if (totalLength < headerLength) {
      return parseError('badLength', Field.TOTAL_LENGTH, `total length ${totalLength} < header length ${headerLength}`);
    }
    if (totalLength > buf.length) {
      return parseError('truncated', Field.TOTAL_LENGTH, `total length ${totalLength} > ${buf.length} bytes received`);
    }
    this.buf = buf;
    this.payloadEnd = totalLength;
    return undefined;
  }

  /**
   * For the "internet header + 64 bits" quoted inside an ICMP error (RFC 792):
   * the header must be whole, but the payload may be cut short, so `payload`
   * is clipped to the bytes present. The checksum is not checked.
   */
  wrapQuoted(buf: Uint8Array): ParseError | undefined {
    if (buf.length < IPV4_MIN_HEADER_LENGTH) return parseError('truncated', 0, `${buf.length} bytes < ${IPV4_MIN_HEADER_LENGTH}`);
    const version = buf[Field.VERSION_IHL]! >> 4;
    if (version !== IPV4_VERSION) return parseError('unsupportedVersion', Field.VERSION_IHL, `version ${version}`);
    const headerLength = (buf[Field.VERSION_IHL]! & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LENGTH || headerLength > buf.length) {
      return parseError('badLength', Field.VERSION_IHL, `IHL ${headerLength / 4}, ${buf.length} bytes quoted`);
    }
    const totalLength = getU16(buf, Field.TOTAL_LENGTH);
    if (totalLength < headerLength) return parseError('badLength', Field.TOTAL_LENGTH, `total length ${totalLength} < ${headerLength}`);
    this.buf = buf;
    this.payloadEnd = Math.min(totalLength, buf.length);
    return undefined;
  }

  /** The wrapped bytes (including any trailing padding). */
  get buffer(): Uint8Array {
    return this.buf;
  }
  get version(): number {
    return this.buf[Field.VERSION_IHL]! >> 4;
  }
  /** IHL × 4, in bytes (20..60). */
  get headerLength(): number {
    return (this.buf[Field.VERSION_IHL]! & 0x0f) * 4;
  }
  get dscp(): number {
    return this.buf[Field.DSCP_ECN]! >> 2;
  }
  get ecn(): number {
    return this.buf[Field.DSCP_ECN]! & 0x03;
  }
  get totalLength(): number {
    return getU16(this.buf, Field.TOTAL_LENGTH);
  }
  get identification(): number {
    return getU16(this.buf, Field.IDENTIFICATION);
  }
  /** The reserved flag (RFC 3514's "evil bit"); received values are ignored, as Linux does. */
  get reservedFlag(): boolean {
    return (getU16(this.buf, Field.FLAGS_FRAGMENT_OFFSET) & FLAG_RESERVED) !== 0;
  }
  get dontFragment(): boolean {
    return (getU16(this.buf, Field.FLAGS_FRAGMENT_OFFSET) & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (getU16(this.buf, Field.FLAGS_FRAGMENT_OFFSET) & FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes (the wire field counts 8-byte units). */
  get fragmentOffset(): number {
    return (getU16(this.buf, Field.FLAGS_FRAGMENT_OFFSET) & OFFSET_MASK) * 8;
  }
  /** True for any piece of a fragmented datagram: MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (getU16(this.buf, Field.FLAGS_FRAGMENT_OFFSET) & (FLAG_MF | OFFSET_MASK)) !== 0;
  }
  get ttl(): number {
    return this.buf[Field.TTL]!;
  }
  get protocol(): number {
    return this.buf[Field.PROTOCOL]!;
  }
  get headerChecksum(): number {
    return getU16(this.buf, Field.HEADER_CHECKSUM);
  }
  get source(): Ipv4Address {
    return getU32(this.buf, Field.SOURCE);
  }
  get destination(): Ipv4Address {
    return getU32(this.buf, Field.DESTINATION);
  }
  /** The options area (padding included); empty when IHL is 5. */
  get options(): Uint8Array {
    return this.buf.subarray(Field.OPTIONS, this.headerLength);
  }
  /** [headerLength, totalLength): trailing link-layer padding excluded. */
  get payload(): Uint8Array {
    return this.buf.subarray(this.headerLength, this.payloadEnd);
  }
  /** The packet itself, [0, totalLength). */
  get packet(): Uint8Array {
    return this.buf.subarray(0, this.payloadEnd);
  }

  /**
   * Forwarding step (RFC 1812 §5.3.1): TTL minus one, checksum patched with
   * the RFC 1624 incremental update instead of a full recomputation. Returns
   * the new TTL; the caller handles 0 (ICMP time exceeded) before calling.
   */
  decrementTtl(): number {
    const buf = this.buf;
    const oldWord = getU16(buf, Field.TTL);
    buf[Field.TTL] = (buf[Field.TTL]! - 1) & 0xff;
    setU16(buf, Field.HEADER_CHECKSUM, updateChecksum16(getU16(buf, Field.HEADER_CHECKSUM), oldWord, getU16(buf, Field.TTL)));
    return buf[Field.TTL]!;
  }

  describe(): string {
    return describeIpv4Fields(
      this.source,
      this.destination,
      this.protocol,
      this.identification,
      this.ttl,
      this.totalLength,
      this.dontFragment,
      this.moreFragments,
      this.fragmentOffset,
      this.headerLength - IPV4_MIN_HEADER_LENGTH,
    );
  }
}

/** The plain record (STYLE.md rule 4). Lengths and offsets are in bytes. */
export interface Ipv4Record {
  dscp: number;
  ecn: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Bytes; a multiple of 8. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  source: Ipv4Address;
  destination: Ipv4Address;
  /** Raw options bytes; `emit` pads them with End of Option List to a multiple of 4. Absent or empty for none. */
  options?: Uint8Array;
  /** Header + payload, in bytes (the wire field). */
  totalLength: number;
}

/** Defaults for a fresh, unfragmented packet; spread and override. */
export function ipv4Record(fields: Partial<Ipv4Record> & Pick<Ipv4Record, 'protocol' | 'source' | 'destination'>): Ipv4Record {
  return {
    dscp: 0,
    ecn: 0,
    identification: 0,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: IPV4_DEFAULT_TTL,
    totalLength: ipv4HeaderLength(fields),
    ...fields,
  };
}

/** Parses a packet's header into a record. The options are copied; the payload stays in `buf`. */
export function parseIpv4Header(buf: Uint8Array, verifyHeaderChecksum = true): ParseResult<Ipv4Record> {
  const view = new Ipv4HeaderView();
  const error = view.wrap(buf, verifyHeaderChecksum);
  if (error) return { ok: false, error };
  const optionsError = forEachIpv4Option(view.options, () => {});
  if (optionsError) return { ok: false, error: optionsError };
  return ok({
    dscp: view.dscp,
    ecn: view.ecn,
    identification: view.identification,
    dontFragment: view.dontFragment,
    moreFragments: view.moreFragments,
    fragmentOffset: view.fragmentOffset,
    ttl: view.ttl,
    protocol: view.protocol,
    source: view.source,
    destination: view.destination,
    options: view.options.slice(),
    totalLength: view.totalLength,
  });
}

/** Header length in bytes for a record: 20 + options rounded up to 4. */
export function ipv4HeaderLength(record: Pick<Ipv4Record, 'options'>): number {
  return IPV4_MIN_HEADER_LENGTH + (((record.options?.length ?? 0) + 3) & ~3);
}

/**
 * Writes the header at `buf[offset]` with a correct checksum and returns its
 * length. The payload is the caller's: write it after the header (or write
 * it first and the header last). Out-of-range fields are programmer errors.
 */
export function emitIpv4Header(record: Ipv4Record, buf: Uint8Array, offset: number): number {
  const headerLength = ipv4HeaderLength(record);
  const totalLength = record.totalLength;
  const options = record.options ?? EMPTY;
  if (headerLength > IPV4_MAX_HEADER_LENGTH) throw new RangeError(`IPv4 options too long: ${options.length} bytes`);
  if (totalLength < headerLength || totalLength > IPV4_MAX_PACKET_LENGTH) {
    throw new RangeError(`IPv4 total length ${totalLength} not in ${headerLength}..65535`);
  }
  if (record.fragmentOffset % 8 !== 0 || record.fragmentOffset > OFFSET_MASK * 8) {
    throw new RangeError(`fragment offset ${record.fragmentOffset} is not a multiple of 8 in 0..65528`);
  }
  if (offset + headerLength > buf.length) throw new RangeError('buffer too small for the IPv4 header');
  setU8(buf, offset + Field.VERSION_IHL, (IPV4_VERSION << 4) | (headerLength / 4));
  setU8(buf, offset + Field.DSCP_ECN, ((record.dscp & 0x3f) << 2) | (record.ecn & 0x03));
  setU16(buf, offset + Field.TOTAL_LENGTH, totalLength);
  setU16(buf, offset + Field.IDENTIFICATION, record.identification);
  setU16(
    buf,
    offset + Field.FLAGS_FRAGMENT_OFFSET,
    (record.dontFragment ? FLAG_DF : 0) | (record.moreFragments ? FLAG_MF : 0) | (record.fragmentOffset / 8),
  );
  setU8(buf, offset + Field.TTL, record.ttl);
  setU8(buf, offset + Field.PROTOCOL, record.protocol);
  setU32(buf, offset + Field.SOURCE, record.source);
  setU32(buf, offset + Field.DESTINATION, record.destination);
  buf.set(options, offset + Field.OPTIONS);
  buf.fill(Ipv4OptionType.EndOfOptionList, offset + Field.OPTIONS + options.length, offset + headerLength);
  setIpv4HeaderChecksum(buf, offset);
  return headerLength;
}

/** Recomputes the header checksum of the header at `buf[offset]` (IHL read from the buffer). */
export function setIpv4HeaderChecksum(buf: Uint8Array, offset: number): void {
  const headerLength = (buf[offset + Field.VERSION_IHL]! & 0x0f) * 4;
  setU16(buf, offset + Field.HEADER_CHECKSUM, 0);
  setU16(buf, offset + Field.HEADER_CHECKSUM, internetChecksum(buf, offset, headerLength));
}

/** After the payload is known: stores Total Length and recomputes the checksum. */
export function finishIpv4Header(buf: Uint8Array, offset: number, totalLength: number): void {
  if (totalLength > IPV4_MAX_PACKET_LENGTH) throw new RangeError(`IPv4 total length ${totalLength} > 65535`);
  setU16(buf, offset + Field.TOTAL_LENGTH, totalLength);
  setIpv4HeaderChecksum(buf, offset);
}

function describeIpv4Fields(
  source: number,
  destination: number,
  protocol: number,
  identification: number,
  ttl: number,
  totalLength: number,
  dontFragment: boolean,
  moreFragments: boolean,
  fragmentOffset: number,
  optionsLength: number,
): string {
  let s = `${formatIpv4(source)} > ${formatIpv4(destination)}: ${ipProtocolName(protocol)}, id ${identification}, ttl ${ttl}, length ${totalLength}`;
  if (dontFragment) s += ', DF';
  if (moreFragments || fragmentOffset !== 0) s += `, frag offset ${fragmentOffset}${moreFragments ? '+' : ''}`;
  if (optionsLength > 0) s += `, options ${optionsLength} bytes`;
  return s;
}

/** "10.0.0.2 > 10.0.0.1: ICMP, id 1, ttl 64, length 84, DF" */
export function describeIpv4Record(record: Ipv4Record): string {
  return describeIpv4Fields(
    record.source,
    record.destination,
    record.protocol,
    record.identification,
    record.ttl,
    record.totalLength,
    record.dontFragment,
    record.moreFragments,
    record.fragmentOffset,
    record.options?.length ?? 0,
  );
}

const describeView = new Ipv4HeaderView();

/** One line for a wrapped view, or for any bytes: the header summary, or why it does not parse. */
export function describeIpv4(packet: Uint8Array | Ipv4HeaderView): string {
  if (packet instanceof Ipv4HeaderView) return packet.describe();
  const error = describeView.wrap(packet, false);
  if (error) return `IPv4 (${error.reason}${error.detail ? `: ${error.detail}` : ''})`;
  return describeView.describe();
}
