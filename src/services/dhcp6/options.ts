/**
 * DHCPv6 option bodies: what the data of each option a server needs holds.
 * Read first: RFC 8415 §21 (each option, with its diagram), §11 (DUIDs),
 * RFC 3646 §3-4 (DNS servers and the domain search list). message.ts frames
 * the options; this file reads and writes their data.
 *
 * Client Identifier (1) / Server Identifier (2), §21.2-21.3: a DUID (§11):
 *   +-------------------------------+-------------------------------+
 *   |          DUID-type            |  type-specific (LLT: hw type, |
 *   +-------------------------------+  time, link-layer address...) |
 *
 * IA_NA (3), §21.4:                        IA Address (5), §21.6:
 *   +-------------------------------+      +-------------------------------+
 *   |       IAID (4 octets)         |      |   IPv6-address (16 octets)    |
 *   |       T1   (4 octets)         |      |   preferred-lifetime (4)      |
 *   |       T2   (4 octets)         |      |   valid-lifetime (4)          |
 *   |       IA_NA-options ...       |      |   IAaddr-options ...          |
 *   +-------------------------------+      +-------------------------------+
 *
 * Option Request (6), §21.7: a list of 16-bit option codes.
 * Elapsed Time (8), §21.9: 16 bits, hundredths of a second.
 * Status Code (13), §21.13: status-code (16) + UTF-8 status-message.
 * Rapid Commit (14), §21.14: no data.
 * DNS Recursive Name Server (23), RFC 3646 §3: 16-octet addresses.
 * Domain Search List (24), RFC 3646 §4: uncompressed DNS names (RFC 1035 §3.1).
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import { parseDhcp6Options, type Dhcp6RawOption } from './message.js';

/** RFC 8415 §21 and RFC 3646 option codes. */
export const Dhcp6OptionCode = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
} as const;

/** RFC 8415 §21.13 status codes. */
export const Dhcp6Status = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
} as const;

/** RFC 8415 §11.1: "A DUID can be no more than 128 octets long (not including the type code)." */
export const DUID_MAX_LENGTH = 130;
/** §11.2-11.5: LLT, EN, LL, UUID. */
export const DuidType = { LLT: 1, EN: 2, LL: 3, UUID: 4 } as const;
/** Offsets in IA_NA data (§21.4) and IAADDR data (§21.6). */
export const IaNaField = { iaid: 0, t1: 4, t2: 8, options: 12 } as const;
export const IaAddrField = { address: 0, preferredLifetime: 16, validLifetime: 20, options: 24 } as const;

/** A DUID: kept as its bytes (§11: "treat DUIDs as opaque values"), with its type for display. */
export function parseDuid(data: Uint8Array): ParseResult<Uint8Array> {
  if (data.length < 3) return fail('truncated', 0, `DUID of ${data.length} octets, at least a type and one octet`);
  if (data.length > DUID_MAX_LENGTH) return fail('badLength', 0, `DUID of ${data.length} octets, at most ${DUID_MAX_LENGTH}`);
  return ok(data);
}

/** "00:01:00:01:32:a4:..." as dhcpd and dnsmasq print DUIDs. */
export function formatDuid(duid: Uint8Array): string {
  return [...duid].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export interface IaAddress {
  readonly address: Uint8Array;
  readonly preferredLifetime: number;
  readonly validLifetime: number;
  /** Status Code inside the IAADDR, when there is one. */
  readonly status?: Dhcp6StatusRecord;
}

export interface IaNa {
  readonly iaid: number;
  readonly t1: number;
  readonly t2: number;
  readonly addresses: readonly IaAddress[];
  readonly status?: Dhcp6StatusRecord;
}

export interface Dhcp6StatusRecord {
  readonly code: number;
  readonly message: string;
}

export function parseStatusCode(data: Uint8Array): ParseResult<Dhcp6StatusRecord> {
  if (data.length < 2) return fail('truncated', 0, `status code of ${data.length} octets, at least 2`);
  return ok({ code: getU16(data, 0), message: new TextDecoder('utf-8', { fatal: false }).decode(data.subarray(2)) });
}

export function statusCodeOption(code: number, message: string): Dhcp6RawOption {
  const text = new TextEncoder().encode(message);
  const data = new Uint8Array(2 + text.length);
  setU16(data, 0, code);
  data.set(text, 2);
  return { code: Dhcp6OptionCode.STATUS_CODE, data };
}

export function parseIaAddress(data: Uint8Array): ParseResult<IaAddress> {
  if (data.length < IaAddrField.options) return fail('truncated', 0, `IAADDR of ${data.length} octets, at least 24`);
  const inner = parseDhcp6Options(data, IaAddrField.options);
  if (!inner.ok) return inner;
  const statusOption = inner.value.find((o) => o.code === Dhcp6OptionCode.STATUS_CODE);
  const status = statusOption ? parseStatusCode(statusOption.data) : undefined;
  if (status && !status.ok) return status;
  return ok({
    address: data.slice(0, 16),
    preferredLifetime: getU32(data, IaAddrField.preferredLifetime),
    validLifetime: getU32(data, IaAddrField.validLifetime),
    ...(status ? { status: status.value } : {}),
  });
}

/** RFC 8415 §21.4; an IAADDR's preferred lifetime above its valid lifetime is for the caller to ignore (§21.6). */
export function parseIaNa(data: Uint8Array): ParseResult<IaNa> {
  if (data.length < IaNaField.options) return fail('truncated', 0, `IA_NA of ${data.length} octets, at least 12`);
  const inner = parseDhcp6Options(data, IaNaField.options);
  if (!inner.ok) return fail(inner.error.reason, IaNaField.options + inner.error.offset, inner.error.detail);
  const addresses: IaAddress[] = [];
  let status: Dhcp6StatusRecord | undefined;
  for (const o of inner.value) {
    if (o.code === Dhcp6OptionCode.IAADDR) {
      const a = parseIaAddress(o.data);
      if (!a.ok) return a;
      addresses.push(a.value);
    } else if (o.code === Dhcp6OptionCode.STATUS_CODE) {
      const s = parseStatusCode(o.data);
      if (!s.ok) return s;
      status = s.value;
    }
  }
  return ok({ iaid: getU32(data, IaNaField.iaid), t1: getU32(data, IaNaField.t1), t2: getU32(data, IaNaField.t2), addresses, ...(status ? { status } : {}) });
}

export function iaAddressOption(a: IaAddress): Dhcp6RawOption {
  const status = a.status ? statusCodeOption(a.status.code, a.status.message) : undefined;
  const data = new Uint8Array(IaAddrField.options + (status ? 4 + status.data.length : 0));
  data.set(a.address, IaAddrField.address);
  setU32(data, IaAddrField.preferredLifetime, a.preferredLifetime);
  setU32(data, IaAddrField.validLifetime, a.validLifetime);
  if (status) writeOption(data, IaAddrField.options, status);
  return { code: Dhcp6OptionCode.IAADDR, data };
}

export function iaNaOption(ia: IaNa): Dhcp6RawOption {
  const inner = ia.addresses.map(iaAddressOption);
  if (ia.status) inner.push(statusCodeOption(ia.status.code, ia.status.message));
  const data = new Uint8Array(IaNaField.options + inner.reduce((n, o) => n + 4 + o.data.length, 0));
  setU32(data, IaNaField.iaid, ia.iaid);
  setU32(data, IaNaField.t1, ia.t1);
  setU32(data, IaNaField.t2, ia.t2);
  let at = IaNaField.options;
  for (const o of inner) at += writeOption(data, at, o);
  return { code: Dhcp6OptionCode.IA_NA, data };
}

function writeOption(buf: Uint8Array, at: number, o: Dhcp6RawOption): number {
  setU16(buf, at, o.code);
  setU16(buf, at + 2, o.data.length);
  buf.set(o.data, at + 4);
  return 4 + o.data.length;
}

/** §21.7: the codes a client asks for. */
export function parseOptionRequest(data: Uint8Array): ParseResult<number[]> {
  if (data.length % 2 !== 0) return fail('badLength', 0, `option request of ${data.length} octets, not a multiple of 2`);
  const codes: number[] = [];
  for (let i = 0; i < data.length; i += 2) codes.push(getU16(data, i));
  return ok(codes);
}

/** §21.9: hundredths of a second since the client began this exchange. */
export function parseElapsedTime(data: Uint8Array): ParseResult<number> {
  if (data.length !== 2) return fail('badLength', 0, `elapsed time of ${data.length} octets, must be 2`);
  return ok(getU16(data, 0));
}

/** RFC 3646 §3: the DNS servers, 16 octets each. */
export function dnsServersOption(servers: readonly Uint8Array[]): Dhcp6RawOption {
  const data = new Uint8Array(16 * servers.length);
  servers.forEach((s, i) => data.set(s, 16 * i));
  return { code: Dhcp6OptionCode.DNS_SERVERS, data };
}

export function parseDnsServers(data: Uint8Array): ParseResult<Uint8Array[]> {
  if (data.length % 16 !== 0) return fail('badLength', 0, `DNS servers of ${data.length} octets, not a multiple of 16`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += 16) out.push(data.slice(i, i + 16));
  return ok(out);
}

/** RFC 3646 §4: domain names in RFC 1035 §3.1 form, uncompressed ("home" → 04 68 6f 6d 65 00). */
export function domainListOption(domains: readonly string[]): Dhcp6RawOption {
  const bytes: number[] = [];
  for (const domain of domains) {
    for (const label of domain.replace(/\.$/, '').split('.').filter(Boolean)) {
      if (label.length > 63) throw new RangeError(`label "${label}" longer than 63 octets`);
      bytes.push(label.length, ...new TextEncoder().encode(label));
    }
    bytes.push(0);
  }
  return { code: Dhcp6OptionCode.DOMAIN_LIST, data: Uint8Array.from(bytes) };
}

export function parseDomainList(data: Uint8Array): ParseResult<string[]> {
  const out: string[] = [];
  let labels: string[] = [];
  for (let at = 0; at < data.length; ) {
    const n = data[at]!;
    if (n === 0) {
      out.push(labels.length === 0 ? '.' : `${labels.join('.')}.`);
      labels = [];
      at++;
      continue;
    }
    if (n > 63) return fail('badValue', at, `label length ${n}: compression is not allowed here (RFC 8415 §10)`);
    if (at + 1 + n > data.length) return fail('truncated', at, `label of ${n} octets runs past the option`);
    labels.push(String.fromCharCode(...data.subarray(at + 1, at + 1 + n)));
    at += 1 + n;
  }
  if (labels.length > 0) return fail('truncated', data.length, 'the last name has no terminating zero label');
  return ok(out);
}
