/**
 * ICMPv6 messages: the common header, echo, and the four error messages.
 * Neighbour Discovery (./ndp-message.ts) and MLD (./mld-message.ts) share
 * the same first four bytes and checksum.
 *
 * Read first: RFC 4443 §2 (the header, the checksum over a pseudo-header,
 * §2.4 the rules for sending errors), §3 (errors), §4 (echo); RFC 8200 §8.1
 * (the pseudo-header); RFC 7112 (Parameter Problem code 3).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Type      |     Code      |          Checksum             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Echo: Identifier | Sequence Number;  Packet Too Big: MTU;    |
 *    |  Parameter Problem: Pointer;  other errors: unused (zero)     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Echo: data;  errors: as much of the invoking packet as fits  |
 *    |  in 1280 bytes                                                |
 *
 * Unlike ICMPv4, the checksum covers a pseudo-header (source, destination,
 * length, next header 58), so a message cannot be verified or finished
 * without the addresses of the IPv6 packet that carries it.
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { fold, pseudoHeaderSumV6, sumWords } from '../../core/checksum.js';
import { ok, type ParseError, type ParseResult } from '../../core/parse-result.js';
import { IpProtocol, ipProtocolName } from '../ip-protocol.js';
import { formatIpv6, type Ipv6Address } from '../ipv6/address.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6HeaderView } from '../ipv6/header.js';
import { walkIpv6Chain } from '../ipv6/extension-chain.js';

export const Icmpv6Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo identifier, Packet Too Big MTU, Parameter Problem pointer: the second 32-bit word. */
  REST: 4,
  IDENTIFIER: 4,
  SEQUENCE: 6,
  MTU: 4,
  POINTER: 4,
  /** Echo data, or the invoking packet of an error. */
  BODY: 8,
} as const;

export const ICMPV6_HEADER_LENGTH = 8;

/** IANA "ICMPv6 Parameters": types (errors are 0..127, informational 128..255). */
export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  /** MLD (RFC 2710, RFC 3810). */
  MulticastListenerQuery: 130,
  MulticastListenerReport: 131,
  MulticastListenerDone: 132,
  /** NDP (RFC 4861). */
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
  MulticastListenerReportV2: 143,
} as const;

export const Icmpv6UnreachableCode = {
  noRoute: 0,
  adminProhibited: 1,
  beyondScope: 2,
  addressUnreachable: 3,
  portUnreachable: 4,
  sourcePolicyFailed: 5,
  rejectRoute: 6,
} as const;

export const Icmpv6TimeExceededCode = {
  hopLimit: 0,
  reassembly: 1,
} as const;

export const Icmpv6ParameterProblemCode = {
  erroneousHeaderField: 0,
  unrecognizedNextHeader: 1,
  unrecognizedOption: 2,
  /** RFC 7112: the first fragment lacks part of the header chain. */
  incompleteHeaderChain: 3,
} as const;

/**
 * RFC 4443 §2.4 (c): an error carries "as much of invoking packet as
 * possible without the ICMPv6 packet exceeding the minimum IPv6 MTU".
 */
export const ICMPV6_ERROR_QUOTE_MAX = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - ICMPV6_HEADER_LENGTH;

/** Types 0..127 are errors (RFC 4443 §2.1). */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** The one's-complement sum of the pseudo-header and the message, unfolded. */
function checksumSum(message: Uint8Array, offset: number, length: number, source: Ipv6Address, destination: Ipv6Address): number {
  return sumWords(message, offset, length, pseudoHeaderSumV6(source, destination, IpProtocol.ICMPv6, length));
}

/** True when the message (checksum included) verifies against the pseudo-header. */
export function verifyIcmpv6Checksum(message: Uint8Array, source: Ipv6Address, destination: Ipv6Address): boolean {
  return fold(checksumSum(message, 0, message.length, source, destination)) === 0xffff;
}

/** Fills the checksum of the `length`-byte message at `buf[offset]`. */
export function setIcmpv6Checksum(buf: Uint8Array, offset: number, length: number, source: Ipv6Address, destination: Ipv6Address): void {
  setU16(buf, offset + Icmpv6Field.CHECKSUM, 0);
  setU16(buf, offset + Icmpv6Field.CHECKSUM, ~fold(checksumSum(buf, offset, length, source, destination)) & 0xffff);
}

const EMPTY = new Uint8Array(0);

/** Reusable view. `wrap` checks the length (the checksum needs the addresses: `verifyIcmpv6Checksum`). */
export class Icmpv6MessageView {
  private buf: Uint8Array = EMPTY;

  wrap(buf: Uint8Array): ParseError | undefined {
    // RFC 4443 §2.1: every message has at least type, code, checksum; echo and errors have 8 bytes.
    if (buf.length < 4) return { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < 4` };
    if ((buf[0]! < 128 || buf[0] === Icmpv6Type.EchoRequest || buf[0] === Icmpv6Type.EchoReply) && buf.length < ICMPV6_HEADER_LENGTH) {
      return { reason: 'truncated', offset: 0, detail: `type ${buf[0]} needs ${ICMPV6_HEADER_LENGTH} bytes, have ${buf.length}` };
    }
    this.buf = buf;
    return undefined;
  }

  get buffer(): Uint8Array {
    return this.buf;
  }
  get type(): number {
    return this.buf[Icmpv6Field.TYPE]!;
  }
  get code(): number {
    return this.buf[Icmpv6Field.CODE]!;
  }
  get checksum(): number {
    return getU16(this.buf, Icmpv6Field.CHECKSUM);
  }
  get identifier(): number {
    return getU16(this.buf, Icmpv6Field.IDENTIFIER);
  }
  get sequence(): number {
    return getU16(this.buf, Icmpv6Field.SEQUENCE);
  }
  get mtu(): number {
    return getU32(this.buf, Icmpv6Field.MTU);
  }
  get pointer(): number {
    return getU32(this.buf, Icmpv6Field.POINTER);
  }
  /** Echo data, or the invoking packet of an error. */
  get body(): Uint8Array {
    return this.buf.subarray(Icmpv6Field.BODY);
  }
  get isError(): boolean {
    return isIcmpv6Error(this.type);
  }
  describe(): string {
    return describeIcmpv6(this.buf);
  }
}

export interface Icmpv6EchoRecord {
  readonly kind: 'echo';
  readonly type: typeof Icmpv6Type.EchoRequest | typeof Icmpv6Type.EchoReply;
  /** 0 on the wire as RFC 4443 §4.1-4.2 sends it; a reply copies the request's (Linux does). Absent: 0. */
  readonly code?: number;
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

export interface Icmpv6ErrorRecord {
  readonly kind: 'error';
  readonly type: number;
  readonly code: number;
  /** Packet Too Big only; 0 otherwise. */
  readonly mtu: number;
  /** Parameter Problem only: byte offset into the invoking packet; 0 otherwise. */
  readonly pointer: number;
  /** The invoking packet (cut to ICMPV6_ERROR_QUOTE_MAX when emitted by `icmpv6Error`). */
  readonly original: Uint8Array;
}

/** NDP, MLD and unknown informational types: raw fields (./ndp-message.ts parses NDP further). */
export interface Icmpv6OtherRecord {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  /** Everything after the checksum. */
  readonly body: Uint8Array;
}

export type Icmpv6Record = Icmpv6EchoRecord | Icmpv6ErrorRecord | Icmpv6OtherRecord;

/**
 * Parses a message. With `addresses` the checksum is verified against the
 * pseudo-header ('badChecksum' otherwise). Bodies are views into `buf`.
 */
export function parseIcmpv6(buf: Uint8Array, addresses?: { source: Ipv6Address; destination: Ipv6Address }): ParseResult<Icmpv6Record> {
  const view = new Icmpv6MessageView();
  const error = view.wrap(buf);
  if (error) return { ok: false, error };
  if (addresses && !verifyIcmpv6Checksum(buf, addresses.source, addresses.destination)) {
    return { ok: false, error: { reason: 'badChecksum', offset: Icmpv6Field.CHECKSUM, detail: `checksum 0x${view.checksum.toString(16)}` } };
  }
  const type = view.type;
  if (type === Icmpv6Type.EchoRequest || type === Icmpv6Type.EchoReply) {
    const code = view.code;
    return ok({ kind: 'echo', type, ...(code !== 0 && { code }), identifier: view.identifier, sequence: view.sequence, data: view.body });
  }
  if (isIcmpv6Error(type)) {
    return ok({
      kind: 'error',
      type,
      code: view.code,
      mtu: type === Icmpv6Type.PacketTooBig ? view.mtu : 0,
      pointer: type === Icmpv6Type.ParameterProblem ? view.pointer : 0,
      original: view.body,
    });
  }
  return ok({ kind: 'other', type, code: view.code, body: buf.subarray(4) });
}

/** Bytes `emitIcmpv6` writes. */
export function icmpv6Length(record: Icmpv6Record): number {
  return record.kind === 'other' ? 4 + record.body.length : ICMPV6_HEADER_LENGTH + (record.kind === 'echo' ? record.data.length : record.original.length);
}

/**
 * Writes the message at `buf[offset]` and its checksum over the
 * pseudo-header of `source` → `destination`; returns the bytes written.
 */
export function emitIcmpv6(record: Icmpv6Record, buf: Uint8Array, offset: number, source: Ipv6Address, destination: Ipv6Address): number {
  const length = icmpv6Length(record);
  if (offset + length > buf.length) throw new RangeError('buffer too small for the ICMPv6 message');
  buf[offset + Icmpv6Field.TYPE] = record.type;
  if (record.kind === 'echo') {
    buf[offset + Icmpv6Field.CODE] = record.code ?? 0;
    setU16(buf, offset + Icmpv6Field.IDENTIFIER, record.identifier);
    setU16(buf, offset + Icmpv6Field.SEQUENCE, record.sequence);
    buf.set(record.data, offset + Icmpv6Field.BODY);
  } else if (record.kind === 'error') {
    buf[offset + Icmpv6Field.CODE] = record.code;
    const rest = record.type === Icmpv6Type.PacketTooBig ? record.mtu : record.type === Icmpv6Type.ParameterProblem ? record.pointer : 0;
    setU32(buf, offset + Icmpv6Field.REST, rest >>> 0);
    buf.set(record.original, offset + Icmpv6Field.BODY);
  } else {
    buf[offset + Icmpv6Field.CODE] = record.code;
    buf.set(record.body, offset + 4);
  }
  setIcmpv6Checksum(buf, offset, length, source, destination);
  return length;
}

/** An error record quoting `invokingPacket`, cut to fit 1280 bytes (RFC 4443 §2.4 (c)). */
export function icmpv6Error(type: number, code: number, invokingPacket: Uint8Array, extra: { mtu?: number; pointer?: number } = {}): Icmpv6ErrorRecord {
  return {
    kind: 'error',
    type,
    code,
    mtu: extra.mtu ?? 0,
    pointer: extra.pointer ?? 0,
    original: invokingPacket.subarray(0, Math.min(invokingPacket.length, ICMPV6_ERROR_QUOTE_MAX)),
  };
}

const UNREACHABLE_TEXT: Record<number, string> = {
  0: 'unreachable route',
  1: 'unreachable prohibited',
  2: 'beyond scope',
  3: 'unreachable address',
  4: 'unreachable port',
  5: 'source address failed ingress/egress policy',
  6: 'reject route to destination',
};

const PARAMETER_PROBLEM_TEXT: Record<number, string> = {
  0: 'header',
  1: 'next header',
  2: 'option',
  3: 'incomplete header chain',
};

const TYPE_TEXT: Record<number, string> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  130: 'multicast listener query',
  131: 'multicast listener report',
  132: 'multicast listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  143: 'multicast listener report v2',
};

/** The name tcpdump prints for a type ("router solicitation"). */
export function icmpv6TypeName(type: number): string {
  return TYPE_TEXT[type] ?? `type-#${type}`;
}

const quoted = new Ipv6HeaderView();

/** tcpdump's wording after "ICMP6, ": the quoted packet's destination and, for ports, the port. */
function describeQuoted(original: Uint8Array): { about: string; port: string } {
  if (quoted.wrapQuoted(original)) return { about: '', port: '' };
  const about = formatIpv6(quoted.destination);
  const walk = walkIpv6Chain(original);
  if (walk.kind === 'upperLayer' && (walk.nextHeader === IpProtocol.UDP || walk.nextHeader === IpProtocol.TCP) && walk.offset + 4 <= original.length) {
    return { about, port: `${ipProtocolName(walk.nextHeader).toLowerCase()} port ${getU16(original, walk.offset + 2)}` };
  }
  return { about, port: '' };
}

/**
 * tcpdump -v style: "ICMP6, echo request, id 5992, seq 1, length 64",
 * "ICMP6, destination unreachable, unreachable port, fd77::1 udp port 33434, length 68".
 */
export function describeIcmpv6(message: Uint8Array): string {
  if (message.length < 4) return `ICMP6 (truncated: ${message.length} bytes)`;
  const type = message[0]!;
  const code = message[1]!;
  const length = message.length;
  if ((type === Icmpv6Type.EchoRequest || type === Icmpv6Type.EchoReply) && length >= 8) {
    return `ICMP6, ${TYPE_TEXT[type]}, id ${getU16(message, Icmpv6Field.IDENTIFIER)}, seq ${getU16(message, Icmpv6Field.SEQUENCE)}, length ${length}`;
  }
  if (!isIcmpv6Error(type) || length < 8) return `ICMP6, ${icmpv6TypeName(type)}${code ? `, code ${code}` : ''}, length ${length}`;
  const { about, port } = describeQuoted(message.subarray(Icmpv6Field.BODY));
  switch (type) {
    case Icmpv6Type.DestinationUnreachable:
      return `ICMP6, destination unreachable, ${UNREACHABLE_TEXT[code] ?? `code ${code}`}${about ? `, ${about}` : ''}${port ? ` ${port}` : ''}, length ${length}`;
    case Icmpv6Type.PacketTooBig:
      return `ICMP6, packet too big, mtu ${getU32(message, Icmpv6Field.MTU)}, length ${length}`;
    case Icmpv6Type.TimeExceeded:
      return `ICMP6, time exceeded ${code === 1 ? 'in-reassembly' : 'in-transit'}${about ? ` for ${about}` : ''}, length ${length}`;
    case Icmpv6Type.ParameterProblem:
      return `ICMP6, parameter problem, ${PARAMETER_PROBLEM_TEXT[code] ?? `code ${code}`} - octet ${getU32(message, Icmpv6Field.POINTER)}, length ${length}`;
    default:
      return `ICMP6, ${icmpv6TypeName(type)}, code ${code}, length ${length}`;
  }
}

/** One line for a record (as `describeIcmpv6` would print its bytes; the checksum is not shown). */
export function describeIcmpv6Record(record: Icmpv6Record): string {
  const buf = new Uint8Array(icmpv6Length(record));
  const zero = new Uint8Array(16);
  emitIcmpv6(record, buf, 0, zero, zero);
  return describeIcmpv6(buf);
}
