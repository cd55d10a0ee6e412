/**
 * ICMPv4 messages.
 *
 * Read first: RFC 792 (the message formats), RFC 1122 §3.2.2 (what a host
 * must do with them), RFC 1191 §4 (the next-hop MTU in "fragmentation
 * needed"), RFC 1812 §4.3.2.3 (how much of the original datagram to quote).
 *
 * Every message starts with the same 4 bytes; the next 4 depend on the type:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Type      |     Code      |          Checksum             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    Echo or Echo Reply (types 8, 0):
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           Identifier          |        Sequence Number        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Data ...
 *
 *    Destination Unreachable (3), Time Exceeded (11):
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |             unused            |  Next-Hop MTU (code 4, 1191)  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      Internet Header + 64 bits of Original Data Datagram      |
 *
 *    Parameter Problem (12):
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |    Pointer    |                   unused                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      Internet Header + 64 bits of Original Data Datagram      |
 *
 *    Redirect (5):
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 Gateway Internet Address                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      Internet Header + 64 bits of Original Data Datagram      |
 *
 * The checksum covers the whole ICMP message (RFC 792). RFC 4884's length
 * octet (byte 5) and extension objects are not interpreted: the quoted
 * datagram is everything after byte 8.
 */
import { getU16, getU32, setU16, setU32, setU8 } from '../../core/bytes.js';
import { internetChecksum, updateChecksum16, verifyChecksum } from '../../core/checksum.js';
import { ok, type ParseError, type ParseErrorReason, type ParseResult } from '../../core/parse-result.js';
import { ipProtocolName } from '../ip-protocol.js';
import { formatIpv4 } from '../ipv4/address.js';
import { IPV4_MIN_HEADER_LENGTH, Ipv4HeaderView } from '../ipv4/header.js';

export const Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo: identifier (2 bytes); Redirect: gateway (4 bytes); Parameter Problem: pointer (1 byte). */
  REST: 4,
  IDENTIFIER: 4,
  SEQUENCE: 6,
  POINTER: 4,
  GATEWAY: 4,
  NEXT_HOP_MTU: 6,
  /** Echo data, or the quoted original datagram of an error. */
  BODY: 8,
} as const;

export const ICMPV4_HEADER_LENGTH = 8;

export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  /** Deprecated by RFC 6633; never sent, ignored when received. */
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSolicitation: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
} as const;

/** Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const Icmpv4UnreachableCode = {
  net: 0,
  host: 1,
  protocol: 2,
  port: 3,
  /** "Fragmentation needed and DF set"; carries the next-hop MTU (RFC 1191). */
  fragNeeded: 4,
  sourceRouteFailed: 5,
  netUnknown: 6,
  hostUnknown: 7,
  sourceHostIsolated: 8,
  netProhibited: 9,
  hostProhibited: 10,
  netTos: 11,
  hostTos: 12,
  /** "Communication administratively prohibited" (RFC 1812): what a firewall's REJECT sends. */
  adminProhibited: 13,
  hostPrecedenceViolation: 14,
  precedenceCutoff: 15,
} as const;

export const Icmpv4TimeExceededCode = {
  /** TTL reached zero in transit (routers, traceroute). */
  ttl: 0,
  /** Fragment reassembly time exceeded (RFC 1122 §3.3.2). */
  reassembly: 1,
} as const;

export const Icmpv4RedirectCode = { net: 0, host: 1, tosNet: 2, tosHost: 3 } as const;

export const Icmpv4ParameterProblemCode = {
  /** The Pointer octet gives the offending byte of the quoted header. */
  pointer: 0,
  missingOption: 1,
  badLength: 2,
} as const;

/**
 * RFC 1812 §4.3.2.3: an error "SHOULD contain as much of the original
 * datagram as possible without the length of the ICMP datagram exceeding 576
 * bytes". Linux's icmp_send does exactly this (576 − IP header − 8); RFC
 * 792's minimum is the internet header + 64 bits.
 */
export const ICMPV4_ERROR_DATAGRAM_MAX = 576;
export const ICMPV4_ERROR_QUOTE_MAX = ICMPV4_ERROR_DATAGRAM_MAX - IPV4_MIN_HEADER_LENGTH - ICMPV4_HEADER_LENGTH;

/** Types that report an error about another datagram (RFC 1122 §3.2.2: never answer these with an error). */
export function isIcmpv4Error(type: number): boolean {
  return (
    type === Icmpv4Type.DestinationUnreachable ||
    type === Icmpv4Type.SourceQuench ||
    type === Icmpv4Type.Redirect ||
    type === Icmpv4Type.TimeExceeded ||
    type === Icmpv4Type.ParameterProblem
  );
}

function parseError(reason: ParseErrorReason, offset: number, detail?: string): ParseError {
  return { reason, offset, detail };
}

const EMPTY = new Uint8Array(0);

/** Reusable view (hot path: ping replies). `wrap` verifies length and checksum, allocating nothing. */
export class Icmpv4MessageView {
  private buf: Uint8Array = EMPTY;

  /** `buf` is the whole ICMP message (the IPv4 payload). */
  wrap(buf: Uint8Array, verifyMessageChecksum = true): ParseError | undefined {
    if (buf.length < ICMPV4_HEADER_LENGTH) return parseError('truncated', 0, `${buf.length} bytes < ${ICMPV4_HEADER_LENGTH}`);
    if (verifyMessageChecksum && !verifyChecksum(buf, 0, buf.length)) {
      return parseError('badChecksum', Field.CHECKSUM, `checksum 0x${getU16(buf, Field.CHECKSUM).toString(16)}`);
    }
    this.buf = buf;
    return undefined;
  }

  get buffer(): Uint8Array {
    return this.buf;
  }
  get type(): number {
    return this.buf[Field.TYPE]!;
  }
  get code(): number {
    return this.buf[Field.CODE]!;
  }
  get checksum(): number {
    return getU16(this.buf, Field.CHECKSUM);
  }
  /** The 4 type-specific bytes as one number. */
  get restOfHeader(): number {
    return getU32(this.buf, Field.REST);
  }
  get identifier(): number {
    return getU16(this.buf, Field.IDENTIFIER);
  }
  get sequence(): number {
    return getU16(this.buf, Field.SEQUENCE);
  }
  /** Destination Unreachable code 4 (RFC 1191); 0 from old routers that predate it. */
  get nextHopMtu(): number {
    return getU16(this.buf, Field.NEXT_HOP_MTU);
  }
  get pointer(): number {
    return this.buf[Field.POINTER]!;
  }
  get gateway(): number {
    return getU32(this.buf, Field.GATEWAY);
  }
  /** Everything after the 8-byte header: echo data, or the quoted datagram of an error. */
  get body(): Uint8Array {
    return this.buf.subarray(Field.BODY);
  }
  /** Same as `body`: the echo data, or the quoted datagram of an error. */
  get data(): Uint8Array {
    return this.buf.subarray(Field.BODY);
  }
  get isError(): boolean {
    return isIcmpv4Error(this.type);
  }
  describe(): string {
    return describeIcmpv4Fields(this.type, this.code, this.buf);
  }
}

export interface Icmpv4EchoRecord {
  readonly kind: 'echo';
  readonly type: typeof Icmpv4Type.EchoRequest | typeof Icmpv4Type.EchoReply;
  readonly identifier: number;
  readonly sequence: number;
  /** A view into the parsed buffer (copy it to keep it). */
  readonly data: Uint8Array;
}

export interface Icmpv4ErrorRecord {
  readonly kind: 'error';
  readonly type:
    | typeof Icmpv4Type.DestinationUnreachable
    | typeof Icmpv4Type.SourceQuench
    | typeof Icmpv4Type.Redirect
    | typeof Icmpv4Type.TimeExceeded
    | typeof Icmpv4Type.ParameterProblem;
  readonly code: number;
  /** Destination Unreachable / fragNeeded only (RFC 1191); 0 otherwise. */
  readonly nextHopMtu: number;
  /** Parameter Problem only; 0 otherwise. */
  readonly pointer: number;
  /** Redirect only; 0 otherwise. */
  readonly gateway: number;
  /** The quoted original datagram: IP header + at least 8 bytes of its payload. */
  readonly original: Uint8Array;
}

/** Any other type (timestamps, router discovery, unknown): kept as raw fields. */
export interface Icmpv4OtherRecord {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  readonly restOfHeader: number;
  readonly body: Uint8Array;
}

export type Icmpv4Record = Icmpv4EchoRecord | Icmpv4ErrorRecord | Icmpv4OtherRecord;

/** Parses (and checksum-verifies) an ICMP message. Data and quoted datagrams are views into `buf`. */
export function parseIcmpv4(buf: Uint8Array, verifyMessageChecksum = true): ParseResult<Icmpv4Record> {
  const view = new Icmpv4MessageView();
  const error = view.wrap(buf, verifyMessageChecksum);
  if (error) return { ok: false, error };
  const type = view.type;
  if (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply) {
    return ok({ kind: 'echo', type, identifier: view.identifier, sequence: view.sequence, data: view.body });
  }
  if (
    type === Icmpv4Type.DestinationUnreachable ||
    type === Icmpv4Type.SourceQuench ||
    type === Icmpv4Type.Redirect ||
    type === Icmpv4Type.TimeExceeded ||
    type === Icmpv4Type.ParameterProblem
  ) {
    return ok({
      kind: 'error',
      type,
      code: view.code,
      nextHopMtu: type === Icmpv4Type.DestinationUnreachable && view.code === Icmpv4UnreachableCode.fragNeeded ? view.nextHopMtu : 0,
      pointer: type === Icmpv4Type.ParameterProblem ? view.pointer : 0,
      gateway: type === Icmpv4Type.Redirect ? view.gateway : 0,
      original: view.body,
    });
  }
  return ok({ kind: 'other', type, code: view.code, restOfHeader: view.restOfHeader, body: view.body });
}

/** Bytes `emitIcmpv4` writes. */
export function icmpv4Length(record: Icmpv4Record): number {
  return ICMPV4_HEADER_LENGTH + bodyOf(record).length;
}

function bodyOf(record: Icmpv4Record): Uint8Array {
  return record.kind === 'echo' ? record.data : record.kind === 'error' ? record.original : record.body;
}

/** Writes the message at `buf[offset]` with its checksum; returns the bytes written. */
export function emitIcmpv4(record: Icmpv4Record, buf: Uint8Array, offset: number): number {
  const length = icmpv4Length(record);
  if (offset + length > buf.length) throw new RangeError('buffer too small for the ICMP message');
  setU8(buf, offset + Field.TYPE, record.type);
  if (record.kind === 'echo') {
    setU8(buf, offset + Field.CODE, 0);
    setU16(buf, offset + Field.IDENTIFIER, record.identifier);
    setU16(buf, offset + Field.SEQUENCE, record.sequence);
  } else if (record.kind === 'error') {
    setU8(buf, offset + Field.CODE, record.code);
    setU32(buf, offset + Field.REST, 0);
    if (record.type === Icmpv4Type.Redirect) setU32(buf, offset + Field.GATEWAY, record.gateway);
    else if (record.type === Icmpv4Type.ParameterProblem) setU8(buf, offset + Field.POINTER, record.pointer);
    else if (record.type === Icmpv4Type.DestinationUnreachable) setU16(buf, offset + Field.NEXT_HOP_MTU, record.nextHopMtu);
  } else {
    setU8(buf, offset + Field.CODE, record.code);
    setU32(buf, offset + Field.REST, record.restOfHeader);
  }
  buf.set(bodyOf(record), offset + Field.BODY);
  setU16(buf, offset + Field.CHECKSUM, 0);
  setU16(buf, offset + Field.CHECKSUM, internetChecksum(buf, offset, length));
  return length;
}

/** Echo request/reply without building a tagged record first. */
export function emitIcmpv4Echo(echo: Omit<Icmpv4EchoRecord, 'kind'>, buf: Uint8Array, offset: number): number {
  return emitIcmpv4({ kind: 'echo', ...echo }, buf, offset);
}

/**
 * An error message; `original` is written as given (cut it with
 * `icmpv4ErrorQuote` first). Absent fields are 0.
 */
export function emitIcmpv4Error(
  error: Pick<Icmpv4ErrorRecord, 'type' | 'code' | 'original'> & Partial<Pick<Icmpv4ErrorRecord, 'nextHopMtu' | 'pointer' | 'gateway'>>,
  buf: Uint8Array,
  offset: number,
): number {
  const { type, code, original } = error;
  const record: Icmpv4ErrorRecord = {
    kind: 'error',
    type,
    code,
    nextHopMtu: error.nextHopMtu ?? 0,
    pointer: error.pointer ?? 0,
    gateway: error.gateway ?? 0,
    original,
  };
  return emitIcmpv4(record, buf, offset);
}

/**
 * The part of `originalPacket` an error quotes: the datagram up to its IPv4
 * Total Length (never link padding), cut to ICMPV4_ERROR_QUOTE_MAX bytes so
 * the error fits in 576 bytes (RFC 1812 §4.3.2.3, as Linux does). A view,
 * not a copy.
 */
export function icmpv4ErrorQuote(originalPacket: Uint8Array, max = ICMPV4_ERROR_QUOTE_MAX): Uint8Array {
  let length = originalPacket.length;
  if (length >= 4) length = Math.min(length, getU16(originalPacket, 2) || length);
  return originalPacket.subarray(0, Math.min(length, max));
}

/** An error record quoting `originalPacket` (see `icmpv4ErrorQuote`). */
export function icmpv4Error(
  type: Icmpv4ErrorRecord['type'],
  code: number,
  originalPacket: Uint8Array,
  extra: { nextHopMtu?: number; pointer?: number; gateway?: number } = {},
): Icmpv4ErrorRecord {
  return {
    kind: 'error',
    type,
    code,
    nextHopMtu: extra.nextHopMtu ?? 0,
    pointer: extra.pointer ?? 0,
    gateway: extra.gateway ?? 0,
    original: icmpv4ErrorQuote(originalPacket),
  };
}

/**
 * The echo reply to a request, written in place over the request's bytes
 * (RFC 792: "the type code changed to 0"): only type and checksum change,
 * so the checksum is patched (RFC 1624) instead of recomputed over the data.
 */
export function turnEchoRequestIntoReply(message: Uint8Array): void {
  const oldWord = getU16(message, Field.TYPE);
  message[Field.TYPE] = Icmpv4Type.EchoReply;
  setU16(message, Field.CHECKSUM, updateChecksum16(getU16(message, Field.CHECKSUM), oldWord, getU16(message, Field.TYPE)));
}

const UNREACHABLE_TEXT: Record<number, string> = {
  0: 'net unreachable',
  1: 'host unreachable',
  2: 'protocol unreachable',
  3: 'port unreachable',
  4: 'unreachable - need to frag',
  5: 'source route failed',
  6: 'net unknown',
  7: 'host unknown',
  8: 'source host isolated',
  9: 'net prohibited',
  10: 'host prohibited',
  11: 'net unreachable for tos',
  12: 'host unreachable for tos',
  13: 'unreachable - admin prohibited filter',
  14: 'host precedence violation',
  15: 'precedence cutoff',
};

const TYPE_TEXT: Record<number, string> = {
  0: 'echo reply',
  3: 'unreachable',
  4: 'source quench',
  5: 'redirect',
  8: 'echo request',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded',
  12: 'parameter problem',
  13: 'time stamp request',
  14: 'time stamp reply',
};

const quoted = new Ipv4HeaderView();

/** tcpdump's wording: "ICMP echo request, id 5427, seq 1, length 64", "ICMP 10.77.1.1 udp port 33434 unreachable, length 48". */
function describeIcmpv4Fields(type: number, code: number, message: Uint8Array): string {
  const length = message.length;
  if (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply) {
    return `ICMP ${TYPE_TEXT[type]}, id ${getU16(message, Field.IDENTIFIER)}, seq ${getU16(message, Field.SEQUENCE)}, length ${length}`;
  }
  if (!isIcmpv4Error(type)) return `ICMP ${TYPE_TEXT[type] ?? `type ${type}`}, code ${code}, length ${length}`;
  const original = message.subarray(Field.BODY);
  const inner = quoted.wrapQuoted(original) === undefined;
  const about = inner ? `${formatIpv4(quoted.destination)} ` : '';
  switch (type) {
    case Icmpv4Type.DestinationUnreachable: {
      if (code === Icmpv4UnreachableCode.port && inner && quoted.payload.length >= 4) {
        const port = getU16(quoted.payload, 2);
        return `ICMP ${about}${ipProtocolName(quoted.protocol).toLowerCase()} port ${port} unreachable, length ${length}`;
      }
      if (code === Icmpv4UnreachableCode.protocol && inner) {
        return `ICMP ${about}protocol ${quoted.protocol} unreachable, length ${length}`;
      }
      const text = UNREACHABLE_TEXT[code] ?? `unreachable code ${code}`;
      const mtu = code === Icmpv4UnreachableCode.fragNeeded ? ` (mtu ${getU16(message, Field.NEXT_HOP_MTU)})` : '';
      return `ICMP ${about}${text}${mtu}, length ${length}`;
    }
    case Icmpv4Type.TimeExceeded:
      return `ICMP time exceeded ${code === Icmpv4TimeExceededCode.reassembly ? 'in-reassembly' : 'in-transit'}${inner ? ` (${formatIpv4(quoted.destination)})` : ''}, length ${length}`;
    case Icmpv4Type.Redirect:
      return `ICMP redirect ${about}to ${formatIpv4(getU32(message, Field.GATEWAY))}, length ${length}`;
    case Icmpv4Type.ParameterProblem:
      return `ICMP parameter problem - octet ${message[Field.POINTER]!}, length ${length}`;
    default:
      return `ICMP ${TYPE_TEXT[type] ?? `type ${type}`}, code ${code}, length ${length}`;
  }
}

const describeView = new Icmpv4MessageView();

/** One line for an ICMP message (checksum not required to be valid). */
export function describeIcmpv4(message: Uint8Array | Icmpv4MessageView): string {
  if (message instanceof Icmpv4MessageView) return message.describe();
  const error = describeView.wrap(message, false);
  if (error) return `ICMP (${error.reason})`;
  return describeView.describe();
}

/** One line for a record (as `describeIcmpv4` would print its bytes). */
export function describeIcmpv4Record(record: Icmpv4Record): string {
  const buf = new Uint8Array(icmpv4Length(record));
  emitIcmpv4(record, buf, 0);
  return describeIcmpv4(buf);
}
