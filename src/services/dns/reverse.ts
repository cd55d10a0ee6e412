/**
 * Reverse-lookup names. Read first: RFC 1035 §3.5 (IN-ADDR.ARPA: the four
 * octets in reverse order), RFC 3596 §2.5 (IP6.ARPA: the 32 nibbles in
 * reverse order), RFC 2317 (why a reverse zone ends on an octet boundary
 * unless delegated specially: tapnet rounds a prefix down to one).
 *
 *   10.77.0.2      → 2.0.77.10.in-addr.arpa.
 *   10.77.0.0/24   → 0.77.10.in-addr.arpa.       (the zone)
 *   fd77::1        → 1.0.0.0.…(28 more nibbles)….7.7.d.f.ip6.arpa.
 *   fd77::/64      → 0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa.
 */
import { prefixMask, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import type { Ipv6Address, Ipv6Cidr } from '../../l3/ipv6/address.js';

export const IN_ADDR_ARPA = 'in-addr.arpa.';
export const IP6_ARPA = 'ip6.arpa.';

/** `d.c.b.a.in-addr.arpa.` for a.b.c.d. */
export function reverseNameV4(address: Ipv4Address): string {
  return `${address & 0xff}.${(address >>> 8) & 0xff}.${(address >>> 16) & 0xff}.${address >>> 24}.${IN_ADDR_ARPA}`;
}

/** The 32 nibbles of the address, lowest first, then `ip6.arpa.` (RFC 3596 §2.5). */
export function reverseNameV6(address: Ipv6Address): string {
  return reverseNibbles(address, 32) + IP6_ARPA;
}

function reverseNibbles(address: Ipv6Address, nibbles: number): string {
  let name = '';
  for (let i = nibbles - 1; i >= 0; i--) {
    const byte = address[i >> 1]!;
    name += ((i & 1) === 0 ? byte >> 4 : byte & 0xf).toString(16) + '.';
  }
  return name;
}

/** The reverse zone holding a network: its prefix rounded down to whole octets (/20 → the /16 zone). */
export function reverseZoneV4(cidr: Ipv4Cidr): string {
  const octets = Math.floor(cidr.prefixLength / 8);
  const network = (cidr.address & prefixMask(octets * 8)) >>> 0;
  let name = IN_ADDR_ARPA;
  for (let i = 0; i < octets; i++) name = `${(network >>> (24 - 8 * i)) & 0xff}.${name}`;
  return name;
}

/** The ip6.arpa zone holding a network, its prefix rounded down to whole nibbles. */
export function reverseZoneV6(cidr: Ipv6Cidr): string {
  return reverseNibbles(cidr.address, Math.floor(cidr.prefixLength / 4)) + IP6_ARPA;
}
