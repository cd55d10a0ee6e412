/**
 * DHCP options: the typed record a DHCP server or client works with.
 *
 * Read first: RFC 2132 (option formats; §9.6 DHCP Message Type, §9.3 Option
 * Overload), RFC 2131 §4.1 (where options live), RFC 3396 (long options split
 * into several instances of the same code, which the receiver concatenates).
 *
 *   Code  Len   Data                    Pad (0) and End (255) are one byte
 *   +-----+-----+-----+-----+---        with no length.
 *   |  c  |  n  |  d1 |  d2 | ...
 *   +-----+-----+-----+-----+---
 *
 * Options sit in the options field after the magic cookie, and, when option
 * 52 says so, in the 'file' and 'sname' fields (message.ts finds them; this
 * file turns the collected pieces into the record and back).
 *
 * Strings are decoded byte for byte (latin1), so any option round-trips.
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { fail, ok, type ParseError, type ParseResult } from '../../core/parse-result.js';

export const DhcpOptionCode = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  domainNameServer: 6,
  hostName: 12,
  domainName: 15,
  broadcastAddress: 28,
  requestedIpAddress: 50,
  ipAddressLeaseTime: 51,
  overload: 52,
  dhcpMessageType: 53,
  serverIdentifier: 54,
  parameterRequestList: 55,
  message: 56,
  maximumDhcpMessageSize: 57,
  renewalTimeValue: 58,
  rebindingTimeValue: 59,
  vendorClassIdentifier: 60,
  clientIdentifier: 61,
  end: 255,
} as const;

/** RFC 2132 §9.6. Unknown values are kept as plain numbers. */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageType = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

/** RFC 2132 §9.3: which fields carry options besides the options field. */
export const DhcpOverload = { file: 1, sname: 2, both: 3 } as const;

/** RFC 2132 §9.2: "0xffffffff is reserved to represent 'infinity'". */
export const DHCP_INFINITE_LEASE = 0xffffffff;
/** RFC 2132 §9.10: the smallest legal Maximum DHCP Message Size; a server treats smaller values as this. */
export const DHCP_MIN_MAX_MESSAGE_SIZE = 576;
/** RFC 3396 §5: a longer option is split into several instances of the same code. */
export const DHCP_OPTION_MAX_DATA = 255;

export interface UnknownDhcpOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/**
 * The options a client and server need. Absent means not sent. IPv4 addresses
 * are u32 numbers. Parsing fills the keys in wire order, and encoding walks
 * the keys in the record's order, so a parsed message re-encodes byte for
 * byte and a server decides the order by how it builds the object.
 */
export interface DhcpOptions {
  /** 53: DHCP Message Type (RFC 2132 §9.6), a DhcpMessageType value. */
  messageType?: number;
  /** 1: Subnet Mask (§3.3). */
  subnetMask?: number;
  /** 3: Router (§3.5), in order of preference. */
  routers?: readonly number[];
  /** 6: Domain Name Server (§3.8), in order of preference. */
  domainNameServers?: readonly number[];
  /** 12: Host Name (§3.14). */
  hostName?: string;
  /** 15: Domain Name (§3.17). */
  domainName?: string;
  /** 28: Broadcast Address (§5.3). */
  broadcastAddress?: number;
  /** 50: Requested IP Address (§9.1). */
  requestedIpAddress?: number;
  /** 51: IP Address Lease Time in seconds (§9.2); DHCP_INFINITE_LEASE is forever. */
  leaseTime?: number;
  /**
   * 52: Option Overload (§9.3), a DhcpOverload value. Set by the parser to
   * say where it found options; the encoder ignores it and decides itself.
   */
  overload?: number;
  /** 54: Server Identifier (§9.7). */
  serverIdentifier?: number;
  /** 55: Parameter Request List (§9.8): option codes the client wants. */
  parameterRequestList?: readonly number[];
  /** 56: Message (§9.9): why a NAK or DECLINE was sent. */
  message?: string;
  /** 57: Maximum DHCP Message Size (§9.10). */
  maximumMessageSize?: number;
  /** 58: Renewal (T1) Time Value in seconds (§9.11). */
  renewalTime?: number;
  /** 59: Rebinding (T2) Time Value in seconds (§9.12). */
  rebindingTime?: number;
  /** 60: Vendor class identifier (§9.13), e.g. "udhcp 1.35.0". */
  vendorClassIdentifier?: string;
  /** 61: Client-identifier (§9.14): a type byte (1 = Ethernet) then the identifier. */
  clientIdentifier?: Uint8Array;
  /** Every other option, data concatenated per RFC 3396, in wire order. */
  unknown?: readonly UnknownDhcpOption[];
}

type KnownKey = Exclude<keyof DhcpOptions, 'unknown'>;

type Kind = 'u8' | 'u16' | 'u32' | 'ipv4' | 'ipv4List' | 'u8List' | 'string' | 'bytes';
/** The kinds that decode to the type of a record field (checked by the compiler below). */
type KindFor<T> = T extends number
  ? 'u8' | 'u16' | 'u32' | 'ipv4'
  : T extends string
    ? 'string'
    : T extends Uint8Array
      ? 'bytes'
      : T extends readonly number[]
        ? 'ipv4List' | 'u8List'
        : never;

interface OptionFormat<K extends Kind> {
  readonly code: number;
  readonly kind: K;
  /** Smallest legal data length (RFC 2132 "minimum length"); fixed-size kinds need exactly their size. */
  readonly minLength?: number;
}

/** Record key → code and wire format. The `satisfies` clause ties each kind to its field's type. */
const OPTION_FORMATS = {
  messageType: { code: DhcpOptionCode.dhcpMessageType, kind: 'u8' },
  subnetMask: { code: DhcpOptionCode.subnetMask, kind: 'ipv4' },
  routers: { code: DhcpOptionCode.router, kind: 'ipv4List' },
  domainNameServers: { code: DhcpOptionCode.domainNameServer, kind: 'ipv4List' },
  hostName: { code: DhcpOptionCode.hostName, kind: 'string', minLength: 1 },
  domainName: { code: DhcpOptionCode.domainName, kind: 'string', minLength: 1 },
  broadcastAddress: { code: DhcpOptionCode.broadcastAddress, kind: 'ipv4' },
  requestedIpAddress: { code: DhcpOptionCode.requestedIpAddress, kind: 'ipv4' },
  leaseTime: { code: DhcpOptionCode.ipAddressLeaseTime, kind: 'u32' },
  overload: { code: DhcpOptionCode.overload, kind: 'u8' },
  serverIdentifier: { code: DhcpOptionCode.serverIdentifier, kind: 'ipv4' },
  parameterRequestList: { code: DhcpOptionCode.parameterRequestList, kind: 'u8List', minLength: 1 },
  message: { code: DhcpOptionCode.message, kind: 'string', minLength: 1 },
  maximumMessageSize: { code: DhcpOptionCode.maximumDhcpMessageSize, kind: 'u16' },
  renewalTime: { code: DhcpOptionCode.renewalTimeValue, kind: 'u32' },
  rebindingTime: { code: DhcpOptionCode.rebindingTimeValue, kind: 'u32' },
  vendorClassIdentifier: { code: DhcpOptionCode.vendorClassIdentifier, kind: 'string', minLength: 1 },
  clientIdentifier: { code: DhcpOptionCode.clientIdentifier, kind: 'bytes', minLength: 2 },
} as const satisfies { readonly [K in KnownKey]-?: OptionFormat<KindFor<NonNullable<DhcpOptions[K]>>> };

const KEY_BY_CODE = new Map<number, KnownKey>(
  (Object.keys(OPTION_FORMATS) as KnownKey[]).map((key) => [OPTION_FORMATS[key].code, key]),
);

const FIXED_SIZE: Partial<Record<Kind, number>> = { u8: 1, u16: 2, u32: 4, ipv4: 4 };

/** One instance of an option on the wire; `offset` is relative to the start of the message. */
export interface DhcpOptionFragment {
  readonly offset: number;
  readonly data: Uint8Array;
}

/** Fragments per code, in order of each code's first appearance (a Map keeps insertion order). */
export type DhcpOptionFragments = Map<number, DhcpOptionFragment[]>;

/**
 * Collects the options in `msg[start, end)` into `into`, skipping Pad and
 * stopping at End. A field that runs out without an End is accepted: the end
 * of the field ends it (Linux clients and dnsmasq are as lenient).
 */
export function scanDhcpOptions(msg: Uint8Array, start: number, end: number, into: DhcpOptionFragments): ParseError | undefined {
  let i = start;
  while (i < end) {
    const code = msg[i]!;
    if (code === DhcpOptionCode.end) return undefined;
    if (code === DhcpOptionCode.pad) {
      i++;
      continue;
    }
    if (i + 1 >= end) return { reason: 'badOption', offset: i, detail: `option ${code} has no length byte` };
    const length = msg[i + 1]!;
    if (i + 2 + length > end) {
      return { reason: 'badOption', offset: i, detail: `option ${code} length ${length} runs past the field (${end - i - 2} left)` };
    }
    let fragments = into.get(code);
    if (!fragments) into.set(code, (fragments = []));
    fragments.push({ offset: i, data: msg.subarray(i + 2, i + 2 + length) });
    i += 2 + length;
  }
  return undefined;
}

/** Joins the fragments of each code (RFC 3396 §6) and decodes them into the record. */
export function decodeDhcpOptions(fragments: DhcpOptionFragments): ParseResult<DhcpOptions> {
  const options: Record<string, unknown> = {};
  const unknown: UnknownDhcpOption[] = [];
  for (const [code, parts] of fragments) {
    const data = concat(parts);
    const key = KEY_BY_CODE.get(code);
    if (key === undefined) {
      if (unknown.length === 0) options.unknown = unknown;
      unknown.push({ code, data: data.slice() });
      continue;
    }
    const format: OptionFormat<Kind> = OPTION_FORMATS[key];
    const value = decodeValue(format, data);
    if (value === undefined) {
      const size = FIXED_SIZE[format.kind];
      const expected =
        size !== undefined
          ? `${size}`
          : format.kind === 'ipv4List'
            ? 'a non-zero multiple of 4'
            : `at least ${format.minLength ?? 0}`;
      return fail('badOption', parts[0]!.offset, `option ${code} (${key}) length ${data.length}, expected ${expected}`);
    }
    options[key] = value;
  }
  return ok(options as DhcpOptions);
}

function decodeValue(format: OptionFormat<Kind>, data: Uint8Array): unknown {
  const size = FIXED_SIZE[format.kind];
  if (size !== undefined && data.length !== size) return undefined;
  if (data.length < (format.minLength ?? 0)) return undefined;
  switch (format.kind) {
    case 'u8':
      return data[0]!;
    case 'u16':
      return getU16(data, 0);
    case 'u32':
    case 'ipv4':
      return getU32(data, 0);
    case 'ipv4List': {
      if (data.length === 0 || data.length % 4 !== 0) return undefined;
      const list: number[] = [];
      for (let i = 0; i < data.length; i += 4) list.push(getU32(data, i));
      return list;
    }
    case 'u8List':
      return Array.from(data);
    case 'string':
      return latin1(data);
    case 'bytes':
      return data.slice();
  }
}

function concat(parts: readonly DhcpOptionFragment[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.data;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part.data, at);
    at += part.data.length;
  }
  return out;
}

function latin1(data: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i++) s += String.fromCharCode(data[i]!);
  return s;
}

/** An option ready to write: one code, its whole data (split later if longer than 255). */
export interface DhcpOptionTlv {
  readonly code: number;
  readonly data: Uint8Array;
}

/**
 * The record as code + data pairs, in the record's key order. `overload` is
 * left out (the message encoder adds it when it spills into 'file'/'sname').
 * Throws RangeError for values that do not fit their option: a programmer error.
 */
export function dhcpOptionsToTlvs(options: DhcpOptions): DhcpOptionTlv[] {
  const tlvs: DhcpOptionTlv[] = [];
  for (const key of Object.keys(options) as (keyof DhcpOptions)[]) {
    if (key === 'overload') continue;
    if (key === 'unknown') {
      for (const option of options.unknown ?? []) {
        if (!Number.isInteger(option.code) || option.code <= DhcpOptionCode.pad || option.code >= DhcpOptionCode.end) {
          throw new RangeError(`DHCP option code ${option.code} cannot carry data`);
        }
        tlvs.push({ code: option.code, data: option.data });
      }
      continue;
    }
    const value = options[key];
    if (value === undefined) continue;
    const format: OptionFormat<Kind> = OPTION_FORMATS[key];
    tlvs.push({ code: format.code, data: encodeValue(key, format, value) });
  }
  return tlvs;
}

function encodeValue(key: string, format: OptionFormat<Kind>, value: unknown): Uint8Array {
  const bad = (): never => {
    throw new RangeError(`DHCP option ${key}: ${String(value)} does not fit a ${format.kind}`);
  };
  const integer = (v: unknown, max: number): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? v : bad());
  let data: Uint8Array;
  switch (format.kind) {
    case 'u8':
      data = Uint8Array.of(integer(value, 0xff));
      break;
    case 'u16':
      data = new Uint8Array(2);
      setU16(data, 0, integer(value, 0xffff));
      break;
    case 'u32':
    case 'ipv4':
      data = new Uint8Array(4);
      setU32(data, 0, integer(value, 0xffffffff));
      break;
    case 'ipv4List': {
      const list = Array.isArray(value) ? (value as unknown[]) : bad();
      data = new Uint8Array(list.length * 4);
      list.forEach((v, i) => setU32(data, i * 4, integer(v, 0xffffffff)));
      break;
    }
    case 'u8List': {
      const list = Array.isArray(value) ? (value as unknown[]) : bad();
      data = Uint8Array.from(list, (v) => integer(v, 0xff));
      break;
    }
    case 'string': {
      const s = typeof value === 'string' ? value : bad();
      data = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) data[i] = integer(s.charCodeAt(i), 0xff);
      break;
    }
    case 'bytes':
      data = value instanceof Uint8Array ? value : bad();
      break;
  }
  if (decodeValue(format, data) === undefined) bad();
  return data;
}

/** Bytes an option takes on the wire, split per RFC 3396 into pieces of at most 255. */
export function dhcpTlvWireLength(tlv: DhcpOptionTlv): number {
  const pieces = Math.max(1, Math.ceil(tlv.data.length / DHCP_OPTION_MAX_DATA));
  return tlv.data.length + 2 * pieces;
}
