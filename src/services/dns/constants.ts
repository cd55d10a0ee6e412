/**
 * DNS parameter numbers, from the IANA "Domain Name System (DNS) Parameters"
 * registry. `as const` objects, not enums: a value tapnet does not know is
 * still a number and survives parse → encode unchanged (STYLE.md rule 5).
 * Unknown values print in RFC 3597 §5 style (TYPE65280, CLASS42).
 */

/** Resource record types (RFC 1035 §3.2.2 and later RFCs). */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28, // RFC 3596
  SRV: 33, // RFC 2782
  NAPTR: 35,
  DNAME: 39,
  OPT: 41, // RFC 6891
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  SVCB: 64, // RFC 9460
  HTTPS: 65,
  IXFR: 251, // QTYPEs from here on
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;
export type DnsTypeCode = (typeof DnsType)[keyof typeof DnsType] | (number & {});

/** Classes (RFC 1035 §3.2.4). */
export const DnsClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;
export type DnsClassCode = (typeof DnsClass)[keyof typeof DnsClass] | (number & {});

/** Header opcodes (RFC 1035 §4.1.1, RFC 1996 NOTIFY, RFC 2136 UPDATE, RFC 8490 DSO). */
export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5, DSO: 6 } as const;
export type DnsOpcodeCode = (typeof DnsOpcode)[keyof typeof DnsOpcode] | (number & {});

/** Response codes; values above 15 need EDNS (RFC 6891 §6.1.3). */
export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6, // RFC 2136
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16, // RFC 6891
  BADCOOKIE: 23, // RFC 7873
} as const;
export type DnsRcodeCode = (typeof DnsRcode)[keyof typeof DnsRcode] | (number & {});

/** EDNS option codes (RFC 6891 §6.1.2 registry). */
export const EdnsOptionCode = {
  NSID: 3, // RFC 5001
  CLIENT_SUBNET: 8, // RFC 7871
  COOKIE: 10, // RFC 7873
  TCP_KEEPALIVE: 11, // RFC 7828
  PADDING: 12, // RFC 7830
  EXTENDED_ERROR: 15, // RFC 8914
} as const;

function reverse(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([name, value]) => [value, name]));
}
const TYPE_NAMES = reverse(DnsType);
const CLASS_NAMES = reverse(DnsClass);
const OPCODE_NAMES = reverse(DnsOpcode);
const RCODE_NAMES = reverse(DnsRcode);
const OPTION_NAMES = reverse(EdnsOptionCode);

export function dnsTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}
export function dnsClassName(klass: number): string {
  return CLASS_NAMES.get(klass) ?? `CLASS${klass}`;
}
/** dig prints unassigned opcodes and rcodes as RESERVEDn. */
export function opcodeName(opcode: number): string {
  return OPCODE_NAMES.get(opcode) ?? `RESERVED${opcode}`;
}
export function rcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RESERVED${rcode}`;
}
export function ednsOptionName(code: number): string {
  return OPTION_NAMES.get(code) ?? `OPT${code}`;
}
