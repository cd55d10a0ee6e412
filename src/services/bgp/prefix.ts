/**
 * NLRI prefixes, RFC 4271 §4.3 and RFC 4760 §5: a length in bits, then only
 * the bytes that length needs (trailing bits zero).
 *
 * +---------------------------+
 * |   Length (1 octet)        |
 * +---------------------------+
 * |   Prefix (variable)       |
 * +---------------------------+
 *
 * A 10.1.0.0/16 is 3 bytes: 10 0a 01. AFI 1 is IPv4, AFI 2 IPv6 (IANA
 * Address Family Numbers); SAFI 1 is unicast.
 */
import { formatIpv4, parseIpv4Cidr } from '../../l3/ipv4/address.js';
import { formatIpv6, parseIpv6Cidr } from '../../l3/ipv6/address.js';
import { ErrorCode, UpdateSubcode, bgpFail, bgpOk, type BgpResult } from './errors.js';

export const Afi = { ipv4: 1, ipv6: 2 } as const;
export const Safi = { unicast: 1 } as const;
export type AfiName = 'ipv4' | 'ipv6';

export interface Prefix {
  readonly afi: AfiName;
  readonly length: number;
  /** The full address (4 or 16 bytes), host bits zero. */
  readonly address: Uint8Array;
}

export function addressBytes(afi: AfiName): number {
  return afi === 'ipv4' ? 4 : 16;
}

/**
 * Parses a run of prefixes (withdrawn routes, NLRI, MP_REACH/MP_UNREACH NLRI).
 * RFC 4271 §6.3 / RFC 7606 §5.3: a length beyond the family or a prefix that
 * overruns the field is an error that the caller may not recover from.
 */
export function parsePrefixes(buf: Uint8Array, afi: AfiName, base: number): BgpResult<Prefix[]> {
  const max = addressBytes(afi) * 8;
  const out: Prefix[] = [];
  let at = 0;
  while (at < buf.length) {
    const length = buf[at]!;
    if (length > max) return bgpFail(ErrorCode.updateMessage, UpdateSubcode.invalidNetworkField, base + at, `prefix length ${length} > ${max}`);
    const bytes = (length + 7) >> 3;
    if (at + 1 + bytes > buf.length) return bgpFail(ErrorCode.updateMessage, UpdateSubcode.invalidNetworkField, base + at, `prefix /${length} overruns the field`);
    const address = new Uint8Array(addressBytes(afi));
    address.set(buf.subarray(at + 1, at + 1 + bytes));
    clearHostBits(address, length);
    out.push({ afi, length, address });
    at += 1 + bytes;
  }
  return bgpOk(out);
}

function clearHostBits(address: Uint8Array, length: number): void {
  for (let i = 0; i < address.length; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    address[i] = address[i]! & ((0xff00 >> keep) & 0xff);
  }
}

export function prefixEncodedLength(p: Prefix): number {
  return 1 + ((p.length + 7) >> 3);
}

export function emitPrefix(p: Prefix, buf: Uint8Array, offset: number): number {
  const bytes = (p.length + 7) >> 3;
  buf[offset] = p.length;
  buf.set(p.address.subarray(0, bytes), offset + 1);
  return 1 + bytes;
}

export function formatPrefix(p: Prefix): string {
  return `${p.afi === 'ipv4' ? formatIpv4(((p.address[0]! << 24) | (p.address[1]! << 16) | (p.address[2]! << 8) | p.address[3]!) >>> 0) : formatIpv6(p.address)}/${p.length}`;
}

/** "10.1.0.0/16" or "2001:db8::/32" → a Prefix (host bits cleared); undefined when neither. */
export function parsePrefixText(text: string): Prefix | undefined {
  if (text.includes(':')) {
    const c = parseIpv6Cidr(text);
    if (!c) return undefined;
    const address = c.address.slice();
    clearHostBits(address, c.prefixLength);
    return { afi: 'ipv6', length: c.prefixLength, address };
  }
  const c = parseIpv4Cidr(text);
  if (!c) return undefined;
  const address = Uint8Array.of(c.address >>> 24, (c.address >>> 16) & 0xff, (c.address >>> 8) & 0xff, c.address & 0xff);
  clearHostBits(address, c.prefixLength);
  return { afi: 'ipv4', length: c.prefixLength, address };
}

/** The prefix's IPv4 address as tapnet's number form. */
export function prefixIpv4(p: Prefix): number {
  return ((p.address[0]! << 24) | (p.address[1]! << 16) | (p.address[2]! << 8) | p.address[3]!) >>> 0;
}

/** Does `inner` lie within `outer` (same family, at least as long)? For prefix lists. */
export function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  if (outer.afi !== inner.afi || inner.length < outer.length) return false;
  for (let bit = 0; bit < outer.length; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((outer.address[bit >> 3]! & mask) !== (inner.address[bit >> 3]! & mask)) return false;
  }
  return true;
}
