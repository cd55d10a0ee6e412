/**
 * The TCP header.
 *
 * Read first: RFC 9293 §3.1 "Header Format" (flags ECE/CWR from RFC 3168 §6.1),
 * then options.ts for what follows the fixed 20 bytes.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |          Source Port          |       Destination Port        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                        Sequence Number                        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Acknowledgment Number                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Data |       |C|E|U|A|P|R|S|F|                               |
 *    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *    |       |       |R|E|G|K|H|T|N|N|                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           Checksum            |         Urgent Pointer        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                           [Options]                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                                                               :
 *    :                             Data                              :
 *    :                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Data Offset counts 32-bit words, so the header is 20..60 bytes. The TCP
 * length is not in the header: it is the IP payload length, which is why the
 * view wraps a whole segment and the checksum needs the IP addresses
 * (pseudo-header, RFC 9293 §3.1). Checksums are therefore checked by
 * `verifyTcpChecksumV4/V6`, not by `wrap()`.
 */
import { getU16, getU32, setU16, setU32, setU8 } from '../../core/bytes.js';
import { finishChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6, sumWords, verifyChecksum } from '../../core/checksum.js';
import { ok, type ParseError, type ParseErrorReason, type ParseResult } from '../../core/parse-result.js';
import {
  describeTcpOptionList,
  emitTcpOptions,
  parseTcpOptionList,
  tcpOptionsFromList,
  tcpOptionsLength,
  type TcpOptions,
} from './options.js';
import { seq, seqAdd, type SeqNum } from './seq.js';

/** Byte offsets of the fixed header, in wire order. */
export const Field = {
  SOURCE_PORT: 0,
  DESTINATION_PORT: 2,
  SEQUENCE_NUMBER: 4,
  ACKNOWLEDGMENT_NUMBER: 8,
  DATA_OFFSET: 12, // high 4 bits; the low 4 are reserved
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT_POINTER: 18,
  OPTIONS: 20,
} as const;

/** RFC 9293 §3.1: Data Offset >= 5 words. */
export const TCP_HEADER_MIN_LENGTH = 20;
/** Data Offset is 4 bits: 15 words. */
export const TCP_HEADER_MAX_LENGTH = 60;
/** IANA protocol number, for the pseudo-header (RFC 9293 §3.1). */
export const IP_PROTOCOL_TCP = 6;

/** Control bits in the flags byte (RFC 9293 §3.1, ECE/CWR RFC 3168 §6.1). */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** tcpdump's letters, in tcpdump's order: "S." is SYN+ACK, "P." PSH+ACK. */
const FLAG_LETTERS: readonly (readonly [number, string])[] = [
  [TcpFlags.FIN, 'F'],
  [TcpFlags.SYN, 'S'],
  [TcpFlags.RST, 'R'],
  [TcpFlags.PSH, 'P'],
  [TcpFlags.ACK, '.'],
  [TcpFlags.URG, 'U'],
  [TcpFlags.ECE, 'E'],
  [TcpFlags.CWR, 'W'],
];

/** "S.", "F.", "R", or "none", as in tcpdump's `Flags [...]`. */
export function describeTcpFlags(flags: number): string {
  let s = '';
  for (const [bit, letter] of FLAG_LETTERS) if (flags & bit) s += letter;
  return s === '' ? 'none' : s;
}

const EMPTY = new Uint8Array(0);

function parseError(reason: ParseErrorReason, offset: number, detail: string): ParseError {
  return { reason, offset, detail };
}

/** RFC 792: an ICMP error quotes "the internet header + 64 bits" of the datagram: the ports and the sequence number. */
export const TCP_QUOTED_MIN_LENGTH = 8;

/**
 * A view over one TCP segment (header + payload). Make one, then `wrap()` each
 * segment: the view is reused, so reading a segment allocates nothing
 * (the arrival path keeps one per layer, like `Ipv4HeaderView`).
 */
export class TcpHeaderView {
  private buf: Uint8Array = EMPTY;

  /**
   * Checks the fixed header is there and Data Offset is sane (5 words or
   * more, not past the end of the segment); getters then stay in bounds.
   * Options are not read here: `readTcpOptions` (options.ts) walks them.
   */
  wrap(buf: Uint8Array): ParseError | undefined {
    if (buf.length < TCP_HEADER_MIN_LENGTH) {
      return parseError('truncated', buf.length, `${buf.length} bytes < ${TCP_HEADER_MIN_LENGTH}`);
    }
    const headerLength = (buf[Field.DATA_OFFSET]! >>> 4) * 4;
    if (headerLength < TCP_HEADER_MIN_LENGTH) {
      return parseError('badLength', Field.DATA_OFFSET, `data offset ${headerLength / 4} < 5`);
    }
    if (headerLength > buf.length) {
      return parseError('truncated', Field.DATA_OFFSET, `data offset ${headerLength / 4} words > ${buf.length} bytes`);
    }
    this.buf = buf;
    return undefined;
  }

  /**
   * For the segment quoted inside an ICMP error, which may stop after 8
   * bytes (RFC 792, RFC 5927 §4): afterwards only `sourcePort`,
   * `destinationPort` and `sequenceNumber` may be read.
   */
  wrapQuoted(buf: Uint8Array): ParseError | undefined {
    if (buf.length < TCP_QUOTED_MIN_LENGTH) {
      return parseError('truncated', buf.length, `${buf.length} bytes quoted < ${TCP_QUOTED_MIN_LENGTH}`);
    }
    this.buf = buf;
    return undefined;
  }

  /** The wrapped segment (header + data). */
  get bytes(): Uint8Array {
    return this.buf;
  }
  get sourcePort(): number {
    return getU16(this.buf, Field.SOURCE_PORT);
  }
  get destinationPort(): number {
    return getU16(this.buf, Field.DESTINATION_PORT);
  }
  get sequenceNumber(): SeqNum {
    return seq(getU32(this.buf, Field.SEQUENCE_NUMBER));
  }
  get acknowledgmentNumber(): SeqNum {
    return seq(getU32(this.buf, Field.ACKNOWLEDGMENT_NUMBER));
  }
  /** In 32-bit words. */
  get dataOffset(): number {
    return this.buf[Field.DATA_OFFSET]! >>> 4;
  }
  /** In bytes: dataOffset * 4. */
  get headerLength(): number {
    return this.dataOffset * 4;
  }
  /** The 4 reserved bits (RFC 9293: "must be zero"; read, never enforced). */
  get reserved(): number {
    return this.buf[Field.DATA_OFFSET]! & 0x0f;
  }
  get flags(): number {
    return this.buf[Field.FLAGS]!;
  }
  /** True when every bit of `flag` (a TcpFlags value or a sum of them) is set. */
  has(flag: number): boolean {
    return (this.flags & flag) === flag;
  }
  /** Unscaled, as on the wire; the connection applies the window scale (RFC 7323 §2.2). */
  get window(): number {
    return getU16(this.buf, Field.WINDOW);
  }
  get checksum(): number {
    return getU16(this.buf, Field.CHECKSUM);
  }
  get urgentPointer(): number {
    return getU16(this.buf, Field.URGENT_POINTER);
  }
  /** The raw options field (shares memory with the segment). */
  get optionBytes(): Uint8Array {
    return this.buf.subarray(Field.OPTIONS, this.headerLength);
  }
  /** The segment's data (shares memory with the segment). */
  get payload(): Uint8Array {
    return this.buf.subarray(this.headerLength);
  }

  /**
   * "Flags [S.], seq 1, ack 2, win 65535, options [mss 1460,...], length 0":
   * tcpdump -S (absolute numbers) without the addresses, which the IP layer prints.
   */
  describe(): string {
    const length = this.payload.length;
    let s = `Flags [${describeTcpFlags(this.flags)}]`;
    // Like tcpdump, a bare ACK shows no sequence number: it occupies none.
    if (length > 0 || this.flags & (TcpFlags.SYN | TcpFlags.FIN | TcpFlags.RST)) {
      s += `, seq ${this.sequenceNumber}`;
      if (length > 0) s += `:${seqAdd(this.sequenceNumber, length)}`;
    }
    if (this.has(TcpFlags.ACK)) s += `, ack ${this.acknowledgmentNumber}`;
    s += `, win ${this.window}`;
    if (this.has(TcpFlags.URG)) s += `, urg ${this.urgentPointer}`;
    if (this.headerLength > TCP_HEADER_MIN_LENGTH) {
      const options = parseTcpOptionList(this.optionBytes, Field.OPTIONS);
      s += options.ok ? `, options [${describeTcpOptionList(options.value)}]` : `, options [bad: ${options.error.detail}]`;
    }
    return `${s}, length ${length}`;
  }
}

/** The header as a plain record; `checksum` is not in it (it is computed over the whole segment). */
export interface TcpHeader {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly sequenceNumber: SeqNum;
  readonly acknowledgmentNumber: SeqNum;
  /** TcpFlags bits. */
  readonly flags: number;
  readonly window: number;
  readonly urgentPointer: number;
  readonly options: TcpOptions;
}

/** The header of `segment` as a record; malformed options are an error (offset relative to the header). */
export function parseTcpHeader(segment: Uint8Array): ParseResult<TcpHeader> {
  const view = new TcpHeaderView();
  const error = view.wrap(segment);
  if (error) return { ok: false, error };
  const list = parseTcpOptionList(view.optionBytes, Field.OPTIONS);
  if (!list.ok) return list;
  return ok({
    sourcePort: view.sourcePort,
    destinationPort: view.destinationPort,
    sequenceNumber: view.sequenceNumber,
    acknowledgmentNumber: view.acknowledgmentNumber,
    flags: view.flags,
    window: view.window,
    urgentPointer: view.urgentPointer,
    options: tcpOptionsFromList(list.value),
  });
}

/** Bytes `emitTcpHeader` writes: 20 + the options, padded to 4. */
export function tcpHeaderLength(header: TcpHeader): number {
  return TCP_HEADER_MIN_LENGTH + tcpOptionsLength(header.options);
}

/**
 * Writes the header at `offset` with a zero checksum and returns its length.
 * Put the payload right after it, then call `finishTcpChecksumV4/V6` on the
 * whole segment.
 */
export function emitTcpHeader(header: TcpHeader, buf: Uint8Array, offset: number): number {
  checkRange('sourcePort', header.sourcePort, 0xffff);
  checkRange('destinationPort', header.destinationPort, 0xffff);
  checkRange('flags', header.flags, 0xff);
  checkRange('window', header.window, 0xffff);
  checkRange('urgentPointer', header.urgentPointer, 0xffff);
  const length = TCP_HEADER_MIN_LENGTH + emitTcpOptions(header.options, buf, offset + Field.OPTIONS);
  emitTcpFixedHeader(
    buf,
    offset,
    header.sourcePort,
    header.destinationPort,
    header.sequenceNumber,
    header.acknowledgmentNumber,
    length,
    header.flags,
    header.window,
    header.urgentPointer,
  );
  return length;
}

/**
 * The fixed 20 bytes at `offset`, with a zero checksum and without range
 * checks: the writer under `emitTcpHeader`, and the transmit path's (send.ts),
 * which builds every segment in one buffer and must not allocate a record.
 * `headerLength` counts the options the caller wrote at `offset + Field.OPTIONS`.
 */
export function emitTcpFixedHeader(
  buf: Uint8Array,
  offset: number,
  sourcePort: number,
  destinationPort: number,
  sequenceNumber: SeqNum,
  acknowledgmentNumber: SeqNum,
  headerLength: number,
  flags: number,
  window: number,
  urgentPointer: number,
): void {
  setU16(buf, offset + Field.SOURCE_PORT, sourcePort);
  setU16(buf, offset + Field.DESTINATION_PORT, destinationPort);
  setU32(buf, offset + Field.SEQUENCE_NUMBER, sequenceNumber);
  setU32(buf, offset + Field.ACKNOWLEDGMENT_NUMBER, acknowledgmentNumber);
  setU8(buf, offset + Field.DATA_OFFSET, (headerLength / 4) << 4);
  setU8(buf, offset + Field.FLAGS, flags);
  setU16(buf, offset + Field.WINDOW, window);
  setU16(buf, offset + Field.CHECKSUM, 0);
  setU16(buf, offset + Field.URGENT_POINTER, urgentPointer);
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`emitTcpHeader: ${name} ${value} is not an integer in [0, ${max}]`);
  }
}

/** True when the checksum of `segment` (header + payload) verifies against the IPv4 pseudo-header. */
export function verifyTcpChecksumV4(segment: Uint8Array, source: number, destination: number): boolean {
  return verifyChecksum(segment, 0, segment.length, pseudoHeaderSumV4(source, destination, IP_PROTOCOL_TCP, segment.length));
}

/** True when the checksum of `segment` verifies against the IPv6 pseudo-header (RFC 8200 §8.1). */
export function verifyTcpChecksumV6(segment: Uint8Array, source: Uint8Array, destination: Uint8Array): boolean {
  return verifyChecksum(segment, 0, segment.length, pseudoHeaderSumV6(source, destination, IP_PROTOCOL_TCP, segment.length));
}

/** Computes and stores the checksum of a complete segment for IPv4; returns it. */
export function finishTcpChecksumV4(segment: Uint8Array, source: number, destination: number): number {
  return storeChecksum(segment, pseudoHeaderSumV4(source, destination, IP_PROTOCOL_TCP, segment.length));
}

/** Computes and stores the checksum of a complete segment for IPv6; returns it. */
export function finishTcpChecksumV6(segment: Uint8Array, source: Uint8Array, destination: Uint8Array): number {
  return storeChecksum(segment, pseudoHeaderSumV6(source, destination, IP_PROTOCOL_TCP, segment.length));
}

function storeChecksum(segment: Uint8Array, pseudoHeaderSum: number): number {
  if (segment.length < TCP_HEADER_MIN_LENGTH) throw new RangeError(`finishTcpChecksum: ${segment.length}-byte segment`);
  setU16(segment, Field.CHECKSUM, 0);
  const checksum = finishChecksum(sumWords(segment, 0, segment.length, pseudoHeaderSum));
  setU16(segment, Field.CHECKSUM, checksum);
  return checksum;
}
