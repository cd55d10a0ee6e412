/**
 * UDP header. Read first: RFC 768 "User Datagram Protocol" (three pages);
 * then RFC 8200 §8.1 for the IPv6 checksum rule and RFC 1122 §4.1.3.4 for
 * what a host does with the checksum.
 *
 *  0      7 8     15 16    23 24    31
 * +--------+--------+--------+--------+
 * |     Source      |   Destination   |
 * |      Port       |      Port       |
 * +--------+--------+--------+--------+
 * |                 |                 |
 * |     Length      |    Checksum     |
 * +--------+--------+--------+--------+
 * |
 * |          data octets ...
 * +---------------- ...
 *
 * Length counts the header and the data (so it is at least 8). The checksum
 * covers a pseudo-header (addresses, protocol 17, UDP length), the header and
 * the data. Over IPv4 a zero checksum means "the sender computed none"
 * (RFC 768); a computed zero is therefore sent as 0xffff, its one's-complement
 * twin. Over IPv6 the checksum is mandatory and zero is invalid (RFC 8200 §8.1).
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { fold, pseudoHeaderSumV4, pseudoHeaderSumV6, sumWords } from '../../core/checksum.js';
import { fail, ok, type ParseError, type ParseResult } from '../../core/parse-result.js';

/** Byte offsets of the fields, in wire order. */
export const UdpField = {
  sourcePort: 0,
  destinationPort: 2,
  length: 4,
  checksum: 6,
  payload: 8,
} as const;

export const UDP_HEADER_LENGTH = 8;
/** IP protocol / IPv6 next-header number (IANA "Assigned Internet Protocol Numbers"). */
export const IP_PROTOCOL_UDP = 17;
/** The IPv4 "no checksum" value (RFC 768). */
export const UDP_NO_CHECKSUM = 0;

/**
 * A lazy view over one UDP datagram. One view object can be re-pointed at
 * every datagram of a batch: `wrap()` allocates nothing.
 *
 *   const udp = new UdpHeaderView();
 *   const error = udp.wrap(ipPayload);
 *   if (error) { drop('UdpInErrors', error); return; }
 */
export class UdpHeaderView {
  private buf: Uint8Array = new Uint8Array(UDP_HEADER_LENGTH);

  /**
   * Points the view at `buf` (the IP payload) and checks the lengths once
   * (STYLE.md rule 2). Returns the problem, or undefined when every getter is
   * safe. A length field shorter than the buffer is accepted: the bytes after
   * it are not part of the datagram (Linux `udp_rcv` trims the same way).
   */
  wrap(buf: Uint8Array): ParseError | undefined {
    if (buf.length < UDP_HEADER_LENGTH) {
      return { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < UDP header ${UDP_HEADER_LENGTH}` };
    }
    const length = getU16(buf, UdpField.length);
    // Length 0 would be an RFC 2675 jumbogram (IPv6 only); tapnet has no jumbo frames.
    if (length < UDP_HEADER_LENGTH) {
      return { reason: 'badLength', offset: UdpField.length, detail: `length ${length} < ${UDP_HEADER_LENGTH}` };
    }
    if (length > buf.length) {
      return { reason: 'truncated', offset: UdpField.length, detail: `length ${length} > ${buf.length} bytes received` };
    }
    this.buf = buf;
    return undefined;
  }

  /** The datagram (header + data) as the length field delimits it. */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  get sourcePort(): number {
    return getU16(this.buf, UdpField.sourcePort);
  }
  get destinationPort(): number {
    return getU16(this.buf, UdpField.destinationPort);
  }
  get length(): number {
    return getU16(this.buf, UdpField.length);
  }
  get checksum(): number {
    return getU16(this.buf, UdpField.checksum);
  }
  /** The data octets, a view sharing memory with the datagram. */
  get payload(): Uint8Array {
    return this.buf.subarray(UdpField.payload, this.length);
  }

  verifyChecksumV4(source: number, destination: number): boolean {
    return verifyUdpChecksumV4(this.buf, source, destination);
  }
  verifyChecksumV6(source: Uint8Array, destination: Uint8Array): boolean {
    return verifyUdpChecksumV6(this.buf, source, destination);
  }

  describe(): string {
    return describeUdp(this);
  }
}

/** The record: what a sender decides. Length and checksum are derived. */
export interface UdpRecord {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payloadLength: number;
}

/** A parsed datagram; `payload` is a view into the input, copy it if it must outlive the buffer. */
export interface UdpDatagram {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly length: number;
  readonly checksum: number;
  readonly payload: Uint8Array;
}

export function parseUdp(buf: Uint8Array): ParseResult<UdpDatagram> {
  const view = new UdpHeaderView();
  const error = view.wrap(buf);
  if (error) return fail(error.reason, error.offset, error.detail);
  return ok({
    sourcePort: view.sourcePort,
    destinationPort: view.destinationPort,
    length: view.length,
    checksum: view.checksum,
    payload: view.payload,
  });
}

/** Header + payload length, the value of the length field. */
export function udpLength(record: UdpRecord): number {
  return UDP_HEADER_LENGTH + record.payloadLength;
}

/**
 * Writes the 8-byte header at `offset` with a zero checksum; the caller then
 * writes the payload after it and calls `finishUdpChecksumV4/V6`.
 * Returns the bytes written (8).
 */
export function emitUdp(record: UdpRecord, buf: Uint8Array, offset: number): number {
  const length = udpLength(record);
  if (length > 0xffff) throw new RangeError(`UDP payload of ${record.payloadLength} bytes does not fit the 16-bit length`);
  if (offset + UDP_HEADER_LENGTH > buf.length) throw new RangeError('emitUdp: buffer too small for the header');
  setU16(buf, offset + UdpField.sourcePort, record.sourcePort);
  setU16(buf, offset + UdpField.destinationPort, record.destinationPort);
  setU16(buf, offset + UdpField.length, length);
  setU16(buf, offset + UdpField.checksum, UDP_NO_CHECKSUM);
  return UDP_HEADER_LENGTH;
}

/** A computed checksum of zero goes on the wire as 0xffff: zero means "none" (RFC 768). */
function checksumForWire(sum: number): number {
  const checksum = ~fold(sum) & 0xffff;
  return checksum === 0 ? 0xffff : checksum;
}

/**
 * Computes the checksum of the datagram at `buf[offset, offset+length)` over
 * the IPv4 pseudo-header and stores it. Returns the value stored.
 */
export function finishUdpChecksumV4(buf: Uint8Array, offset: number, length: number, source: number, destination: number): number {
  setU16(buf, offset + UdpField.checksum, 0);
  const sum = sumWords(buf, offset, length, pseudoHeaderSumV4(source, destination, IP_PROTOCOL_UDP, length));
  const checksum = checksumForWire(sum);
  setU16(buf, offset + UdpField.checksum, checksum);
  return checksum;
}

/**
 * For a link that finishes the checksum (virtio-net NEEDS_CSUM, csum_offset
 * 6): stores only the folded IPv4 pseudo-header sum, which the sum over the
 * datagram then includes (RFC 1071 §4: the partial sum is finished later).
 */
export function setUdpPartialChecksumV4(buf: Uint8Array, offset: number, length: number, source: number, destination: number): void {
  setU16(buf, offset + UdpField.checksum, fold(pseudoHeaderSumV4(source, destination, IP_PROTOCOL_UDP, length)));
}

/** As `finishUdpChecksumV4`, over the IPv6 pseudo-header (RFC 8200 §8.1). */
export function finishUdpChecksumV6(buf: Uint8Array, offset: number, length: number, source: Uint8Array, destination: Uint8Array): number {
  setU16(buf, offset + UdpField.checksum, 0);
  const sum = sumWords(buf, offset, length, pseudoHeaderSumV6(source, destination, IP_PROTOCOL_UDP, length));
  const checksum = checksumForWire(sum);
  setU16(buf, offset + UdpField.checksum, checksum);
  return checksum;
}

/** The datagram's length field if it fits `buf`, else undefined (callers need not have wrapped first). */
function checkedLength(buf: Uint8Array): number | undefined {
  if (buf.length < UDP_HEADER_LENGTH) return undefined;
  const length = getU16(buf, UdpField.length);
  return length >= UDP_HEADER_LENGTH && length <= buf.length ? length : undefined;
}

/**
 * True when the datagram at the start of `buf` carries no checksum (zero,
 * allowed over IPv4 by RFC 768) or a correct one. False for a bad checksum
 * and for lengths that do not fit the buffer.
 */
export function verifyUdpChecksumV4(buf: Uint8Array, source: number, destination: number): boolean {
  const length = checkedLength(buf);
  if (length === undefined) return false;
  if (getU16(buf, UdpField.checksum) === UDP_NO_CHECKSUM) return true;
  return fold(sumWords(buf, 0, length, pseudoHeaderSumV4(source, destination, IP_PROTOCOL_UDP, length))) === 0xffff;
}

/** As `verifyUdpChecksumV4`, but a zero checksum is invalid: "IPv6 receivers MUST discard" it (RFC 8200 §8.1). */
export function verifyUdpChecksumV6(buf: Uint8Array, source: Uint8Array, destination: Uint8Array): boolean {
  const length = checkedLength(buf);
  if (length === undefined) return false;
  if (getU16(buf, UdpField.checksum) === UDP_NO_CHECKSUM) return false;
  return fold(sumWords(buf, 0, length, pseudoHeaderSumV6(source, destination, IP_PROTOCOL_UDP, length))) === 0xffff;
}

/** tcpdump's UDP one-liner without the addresses: `UDP 57543 > 53533, length 34` (length = data octets). */
export function describeUdp(datagram: { sourcePort: number; destinationPort: number; length: number }): string {
  return `UDP ${datagram.sourcePort} > ${datagram.destinationPort}, length ${datagram.length - UDP_HEADER_LENGTH}`;
}
