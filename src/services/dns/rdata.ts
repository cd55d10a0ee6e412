/**
 * RDATA, the type-specific part of a resource record. Read first: RFC 1035
 * §3.3 (CNAME, MX, NS, PTR, SOA, TXT) and §3.4.1 (A), RFC 3596 §2.2 (AAAA),
 * RFC 2782 (SRV), RFC 3597 (unknown types: kept as raw octets; which names may
 * be compressed).
 *
 *   A      +--+--+--+--+       AAAA  16 octets        NS/CNAME/PTR  a name
 *          |  ADDRESS  |
 *          +--+--+--+--+
 *   MX     PREFERENCE (16) EXCHANGE (name)
 *   TXT    one or more <character-string>: a length octet and that many octets
 *   SOA    MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM (names, then five 32-bit counters)
 *   SRV    PRIORITY (16) WEIGHT (16) PORT (16) TARGET (name, never compressed)
 */
import { getU16, getU32 } from '../../core/bytes.js';
import type { ParseError } from '../../core/parse-result.js';
import { DnsClass, DnsType, dnsClassName, dnsTypeName } from './constants.js';
import { readName, type DnsNameErrorCode, type DnsWriter } from './name.js';

export type DnsErrorCode =
  | DnsNameErrorCode
  | 'rdataLength' // RDATA does not match RDLENGTH (A not 4 octets, TXT string past the end, ...)
  | 'badOpt'; // OPT outside the additional section, twice, with a non-root name, or bad options

export interface DnsParseError extends ParseError {
  readonly code: DnsErrorCode;
}

/** Assignable to ParseResult<T>; the error also says which DNS rule broke. */
export type DnsParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DnsParseError };

/**
 * A copy of buf[start, end). Not `buf.slice()`: on a Node Buffer (what UDP
 * sockets deliver) that is a view, and parsed messages must outlive their buffer.
 */
export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(buf, start, end);
}

export function dnsFail(code: DnsErrorCode, reason: ParseError['reason'], offset: number, detail: string): { ok: false; error: DnsParseError } {
  return { ok: false, error: { reason, offset, detail: `${code}: ${detail}`, code } };
}

/** RDATA decoded by type; `raw` keeps unknown types (RFC 3597) and class-specific types outside IN. */
export type RData =
  | { readonly kind: 'A'; readonly address: number }
  | { readonly kind: 'AAAA'; readonly address: Uint8Array }
  | { readonly kind: 'NS' | 'CNAME' | 'PTR'; readonly target: string }
  | { readonly kind: 'MX'; readonly preference: number; readonly exchange: string }
  | { readonly kind: 'TXT'; readonly strings: readonly Uint8Array[] }
  | {
      readonly kind: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | { readonly kind: 'SRV'; readonly priority: number; readonly weight: number; readonly port: number; readonly target: string }
  | { readonly kind: 'raw'; readonly bytes: Uint8Array };

/** The RDATA kind a (type, class) decodes to. A, AAAA and SRV are defined for class IN only (RFC 1035 §3.4, RFC 3596, RFC 2782). */
export function rdataKind(type: number, klass: number): RData['kind'] {
  const inClass = klass === DnsClass.IN;
  switch (type) {
    case DnsType.A:
      return inClass ? 'A' : 'raw';
    case DnsType.AAAA:
      return inClass ? 'AAAA' : 'raw';
    case DnsType.SRV:
      return inClass ? 'SRV' : 'raw';
    case DnsType.NS:
      return 'NS';
    case DnsType.CNAME:
      return 'CNAME';
    case DnsType.PTR:
      return 'PTR';
    case DnsType.MX:
      return 'MX';
    case DnsType.TXT:
      return 'TXT';
    case DnsType.SOA:
      return 'SOA';
    default:
      return 'raw';
  }
}

/** Decodes RDATA in [start, end). Names may point back anywhere in the message but their own labels stay inside. */
export function readRdata(buf: Uint8Array, type: number, klass: number, start: number, end: number): DnsParseResult<RData> {
  const kind = rdataKind(type, klass);
  const length = end - start;
  const mismatch = (what: string) => dnsFail('rdataLength', 'badLength', start, `${dnsTypeName(type)} ${what} (RDLENGTH ${length})`);
  let pos = start;
  const name = (): DnsParseResult<string> => {
    const r = readName(buf, pos, end);
    if (!r.ok) return r;
    pos = r.value.end;
    return { ok: true, value: r.value.name };
  };
  const u16 = (): number => ((pos += 2), getU16(buf, pos - 2));
  const u32 = (): number => ((pos += 4), getU32(buf, pos - 4));
  let data: RData;
  switch (kind) {
    case 'A':
      if (length !== 4) return mismatch('needs 4 octets');
      data = { kind, address: getU32(buf, start) };
      pos = end;
      break;
    case 'AAAA':
      if (length !== 16) return mismatch('needs 16 octets');
      data = { kind, address: copyBytes(buf, start, end) };
      pos = end;
      break;
    case 'NS':
    case 'CNAME':
    case 'PTR': {
      const target = name();
      if (!target.ok) return target;
      data = { kind, target: target.value };
      break;
    }
    case 'MX': {
      if (length < 3) return mismatch('too short');
      const preference = u16();
      const exchange = name();
      if (!exchange.ok) return exchange;
      data = { kind, preference, exchange: exchange.value };
      break;
    }
    case 'SRV': {
      if (length < 7) return mismatch('too short');
      const priority = u16();
      const weight = u16();
      const port = u16();
      const target = name();
      if (!target.ok) return target;
      data = { kind, priority, weight, port, target: target.value };
      break;
    }
    case 'SOA': {
      const mname = name();
      if (!mname.ok) return mname;
      const rname = name();
      if (!rname.ok) return rname;
      if (pos + 20 > end) return mismatch('counters cut short');
      data = { kind, mname: mname.value, rname: rname.value, serial: u32(), refresh: u32(), retry: u32(), expire: u32(), minimum: u32() };
      break;
    }
    case 'TXT': {
      // RFC 1035 §3.3.14: one or more <character-string>s, each a length octet and that many octets.
      const strings: Uint8Array[] = [];
      while (pos < end) {
        const n = buf[pos]!;
        if (pos + 1 + n > end) return mismatch(`string of ${n} octets at +${pos} runs past the RDATA`);
        strings.push(copyBytes(buf, pos + 1, pos + 1 + n));
        pos += 1 + n;
      }
      data = { kind, strings };
      break;
    }
    case 'raw':
      data = { kind, bytes: copyBytes(buf, start, end) };
      pos = end;
      break;
  }
  if (pos !== end) return mismatch(`ends at +${pos}, RDLENGTH says +${end}`);
  return { ok: true, value: data };
}

/** Writes RDATA for a record of `type` and `class`; throws RangeError when the data cannot be encoded. */
export function writeRdata(w: DnsWriter, type: number, klass: number, data: RData): void {
  const expected = rdataKind(type, klass);
  if (data.kind !== 'raw' && data.kind !== expected) {
    throw new RangeError(`${dnsTypeName(type)} record in class ${dnsClassName(klass)} cannot carry ${data.kind} data`);
  }
  switch (data.kind) {
    case 'A':
      return w.u32(data.address);
    case 'AAAA':
      if (data.address.length !== 16) throw new RangeError(`AAAA address of ${data.address.length} octets`);
      return w.bytes(data.address);
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return w.name(data.target, true);
    case 'MX':
      w.u16(data.preference);
      return w.name(data.exchange, true);
    case 'SRV':
      w.u16(data.priority);
      w.u16(data.weight);
      w.u16(data.port);
      // RFC 2782: "name compression is not to be used for this field".
      return w.name(data.target, false);
    case 'SOA':
      w.name(data.mname, true);
      w.name(data.rname, true);
      for (const v of [data.serial, data.refresh, data.retry, data.expire, data.minimum]) w.u32(v);
      return;
    case 'TXT':
      for (const s of data.strings) {
        if (s.length > 255) throw new RangeError(`TXT string of ${s.length} octets > 255`);
        w.u8(s.length);
        w.bytes(s);
      }
      return;
    case 'raw':
      return w.bytes(data.bytes);
  }
}

// ---------------------------------------------------------------------------
// describe

export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** RFC 5952 text: lower-case hex, the longest run (2+) of zero groups as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => getU16(bytes, i * 2));
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLength, 8)}`;
}

function quoteCharacterString(s: Uint8Array): string {
  let text = '"';
  for (const b of s) {
    if (b === 0x22 || b === 0x5c) text += '\\' + String.fromCharCode(b);
    else if (b < 0x20 || b >= 0x7f) text += '\\' + String(b).padStart(3, '0');
    else text += String.fromCharCode(b);
  }
  return text + '"';
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** RDATA as dig prints it; unknown types in RFC 3597 §5 form (`\# 4 c000020a`). */
export function describeRdata(data: RData): string {
  switch (data.kind) {
    case 'A':
      return formatIpv4(data.address);
    case 'AAAA':
      return formatIpv6(data.address);
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return data.target;
    case 'MX':
      return `${data.preference} ${data.exchange}`;
    case 'SRV':
      return `${data.priority} ${data.weight} ${data.port} ${data.target}`;
    case 'SOA':
      return `${data.mname} ${data.rname} ${data.serial} ${data.refresh} ${data.retry} ${data.expire} ${data.minimum}`;
    case 'TXT':
      return data.strings.map(quoteCharacterString).join(' ');
    case 'raw':
      return data.bytes.length === 0 ? '\\# 0' : `\\# ${data.bytes.length} ${hex(data.bytes)}`;
  }
}

