/**
 * One resource record in master-file text, as lab configs and `--dns-record`
 * write them. Read first: RFC 1035 §5.1 (the format: owner, TTL, class, type,
 * RDATA; `@` is the origin; names without a trailing dot are relative to it;
 * quoted <character-string>s with `\"`, `\\` and `\DDD` escapes), RFC 2782
 * (SRV field order), RFC 3596 §2.4 (AAAA text).
 *
 *   gateway            A     10.77.0.1
 *   www        60      CNAME gateway
 *   @                  MX    10 mail
 *   txt                TXT   "v=spf1 -all" "second string"
 *   _sip._udp          SRV   10 20 5060 sip
 *   @          IN      SOA   gateway hostmaster 1 3600 600 86400 60
 *
 * Only one record per line, the owner always given (no "same owner as the
 * line before"), no $ORIGIN/$TTL/$INCLUDE directives and no parentheses:
 * enough for a lab zone, small enough to read in one sitting. Config input
 * never throws: errors come back as one line naming the problem.
 */
import { parseIpv4 } from '../../l3/ipv4/address.js';
import { parseIpv6 } from '../../l3/ipv6/address.js';
import { DnsClass, DnsType, dnsTypeName } from './constants.js';
import type { DnsRecord } from './message.js';
import { absoluteName, nameToLabels } from './name.js';
import type { RData } from './rdata.js';

export type TextResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const good = <T>(value: T): TextResult<T> => ({ ok: true, value });
const bad = (error: string): { ok: false; error: string } => ({ ok: false, error });

/** RFC 2181 §8: a TTL is 0..2^31-1 seconds. */
export const MAX_TTL = 0x7fff_ffff;
/** RFC 1035 §3.3: a <character-string> is at most 255 octets. */
const MAX_CHARACTER_STRING = 255;

/** Splits a line into tokens; quoted strings stay one token, still quoted, so TXT can tell them from bare words. */
function tokenize(line: string): TextResult<string[]> {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === ';') {
      break; // a comment runs to the end of the line
    } else if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (j >= line.length) return bad(`unterminated quoted string at column ${i + 1}`);
      tokens.push(line.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j += line[j] === '\\' ? 2 : 1;
      tokens.push(line.slice(i, j));
      i = j;
    }
  }
  return good(tokens);
}

/** A name token: `@` is the origin, a name without a trailing dot is relative to it (RFC 1035 §5.1). */
export function resolveName(token: string, origin: string): TextResult<string> {
  let name: string;
  if (token === '@') name = origin;
  else if (absoluteName(token) === token) name = token;
  else name = origin === '.' ? `${token}.` : `${token}.${origin}`;
  const labels = nameToLabels(name);
  if (!labels.ok) return bad(`bad name "${token}": ${labels.error.detail}`);
  return good(name);
}

function u16(token: string | undefined, what: string): TextResult<number> {
  if (token === undefined || !/^[0-9]{1,5}$/.test(token) || Number(token) > 0xffff) return bad(`${what} must be 0..65535, got "${token ?? ''}"`);
  return good(Number(token));
}

function u32(token: string | undefined, what: string): TextResult<number> {
  if (token === undefined || !/^[0-9]{1,10}$/.test(token) || Number(token) > 0xffff_ffff) return bad(`${what} must be 0..4294967295, got "${token ?? ''}"`);
  return good(Number(token));
}

/** A <character-string>: quoted or a bare word, with `\X` and `\DDD` escapes (RFC 1035 §5.1). */
function characterString(token: string): TextResult<Uint8Array> {
  const quoted = token.length >= 2 && token.startsWith('"') && token.endsWith('"');
  const text = quoted ? token.slice(1, -1) : token;
  const octets: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      for (const b of new TextEncoder().encode(c)) octets.push(b);
      continue;
    }
    const digits = /^[0-9]{3}/.exec(text.slice(i + 1, i + 4));
    if (digits) {
      if (Number(digits[0]) > 255) return bad(`escape \\${digits[0]} > 255 in ${token}`);
      octets.push(Number(digits[0]));
      i += 3;
    } else if (i + 1 < text.length) {
      octets.push(text.charCodeAt(i + 1) & 0xff);
      i += 1;
    } else {
      return bad(`dangling backslash in ${token}`);
    }
  }
  if (octets.length > MAX_CHARACTER_STRING) return bad(`string of ${octets.length} octets > ${MAX_CHARACTER_STRING}`);
  return good(Uint8Array.from(octets));
}

/** The RDATA of `type` from its text fields. */
function parseRdata(type: number, fields: readonly string[], origin: string): TextResult<RData> {
  const need = (n: number): TextResult<true> =>
    fields.length === n ? good(true) : bad(`${dnsTypeName(type)} needs ${n} field${n === 1 ? '' : 's'}, got ${fields.length}`);
  const name = (i: number): TextResult<string> => resolveName(fields[i]!, origin);
  switch (type) {
    case DnsType.A: {
      const n = need(1);
      if (!n.ok) return n;
      const address = parseIpv4(fields[0]!);
      return address === undefined ? bad(`A needs an IPv4 address, got "${fields[0]}"`) : good({ kind: 'A', address });
    }
    case DnsType.AAAA: {
      const n = need(1);
      if (!n.ok) return n;
      const address = parseIpv6(fields[0]!);
      return address === undefined ? bad(`AAAA needs an IPv6 address, got "${fields[0]}"`) : good({ kind: 'AAAA', address });
    }
    case DnsType.NS:
    case DnsType.CNAME:
    case DnsType.PTR: {
      const n = need(1);
      if (!n.ok) return n;
      const target = name(0);
      if (!target.ok) return target;
      const kind = type === DnsType.NS ? 'NS' : type === DnsType.CNAME ? 'CNAME' : 'PTR';
      return good({ kind, target: target.value });
    }
    case DnsType.MX: {
      const n = need(2);
      if (!n.ok) return n;
      const preference = u16(fields[0], 'MX preference');
      if (!preference.ok) return preference;
      const exchange = name(1);
      if (!exchange.ok) return exchange;
      return good({ kind: 'MX', preference: preference.value, exchange: exchange.value });
    }
    case DnsType.SRV: {
      const n = need(4);
      if (!n.ok) return n;
      const [priority, weight, port] = [u16(fields[0], 'SRV priority'), u16(fields[1], 'SRV weight'), u16(fields[2], 'SRV port')];
      if (!priority.ok) return priority;
      if (!weight.ok) return weight;
      if (!port.ok) return port;
      const target = name(3);
      if (!target.ok) return target;
      return good({ kind: 'SRV', priority: priority.value, weight: weight.value, port: port.value, target: target.value });
    }
    case DnsType.TXT: {
      if (fields.length === 0) return bad('TXT needs at least one string');
      const strings: Uint8Array[] = [];
      for (const f of fields) {
        const s = characterString(f);
        if (!s.ok) return s;
        strings.push(s.value);
      }
      return good({ kind: 'TXT', strings });
    }
    case DnsType.SOA: {
      const n = need(7);
      if (!n.ok) return n;
      const mname = name(0);
      if (!mname.ok) return mname;
      const rname = name(1);
      if (!rname.ok) return rname;
      const counters: number[] = [];
      for (const [i, what] of ['serial', 'refresh', 'retry', 'expire', 'minimum'].entries()) {
        const v = u32(fields[2 + i], `SOA ${what}`);
        if (!v.ok) return v;
        counters.push(v.value);
      }
      const [serial, refresh, retry, expire, minimum] = counters as [number, number, number, number, number];
      return good({ kind: 'SOA', mname: mname.value, rname: rname.value, serial, refresh, retry, expire, minimum });
    }
    default:
      return bad(`type ${dnsTypeName(type)} is not supported in zone text`);
  }
}

/** Types a lab zone may hold. */
export const ZONE_TEXT_TYPES: ReadonlySet<number> = new Set([
  DnsType.A,
  DnsType.AAAA,
  DnsType.CNAME,
  DnsType.MX,
  DnsType.TXT,
  DnsType.NS,
  DnsType.SOA,
  DnsType.SRV,
  DnsType.PTR,
]);

/**
 * Parses `owner [ttl] [IN] TYPE rdata...`. Relative names are completed with
 * `origin` ("lab."); a missing TTL is `defaultTtl`.
 */
export function parseRecordText(line: string, origin: string, defaultTtl: number): TextResult<DnsRecord> {
  const tokens = tokenize(line.trim());
  if (!tokens.ok) return tokens;
  const t = tokens.value;
  if (t.length < 2) return bad(`expected "owner [ttl] [IN] TYPE data", got "${line.trim()}"`);
  const owner = resolveName(t[0]!, origin);
  if (!owner.ok) return owner;
  let i = 1;
  let ttl = defaultTtl;
  if (/^[0-9]+$/.test(t[i]!)) {
    ttl = Number(t[i]);
    if (ttl > MAX_TTL) return bad(`TTL ${t[i]} > ${MAX_TTL} (RFC 2181 §8)`);
    i++;
  }
  if (t[i]?.toUpperCase() === 'IN') i++;
  const typeToken = t[i]?.toUpperCase();
  if (typeToken === undefined) return bad(`missing record type in "${line.trim()}"`);
  const type = Object.hasOwn(DnsType, typeToken) ? (DnsType as Record<string, number>)[typeToken] : undefined;
  if (type === undefined || !ZONE_TEXT_TYPES.has(type)) {
    return bad(`unsupported record type "${t[i]}" (A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, PTR)`);
  }
  const data = parseRdata(type, t.slice(i + 1), origin);
  if (!data.ok) return data;
  return good({ name: owner.value, type, class: DnsClass.IN, ttl, data: data.value });
}
