/**
 * IP protocol numbers: the IPv4 "Protocol" field (RFC 791 §3.1) and the IPv6
 * "Next Header" field (RFC 8200 §3) share one registry.
 *
 * Read first: the IANA "Assigned Internet Protocol Numbers" registry (which
 * replaced RFC 1700). Kept as an `as const` object, not an enum, so unknown
 * numbers from the wire stay plain numbers (STYLE.md rule 5).
 */

export const IpProtocol = {
  /** IPv6 Hop-by-Hop Options (RFC 8200 §4.3); only meaningful as an IPv6 next header. */
  HopByHop: 0,
  ICMP: 1,
  IGMP: 2,
  /** IPv4-in-IP encapsulation (RFC 2003). */
  IPv4: 4,
  TCP: 6,
  UDP: 17,
  /** IPv6-in-IPv4 (RFC 4213). */
  IPv6: 41,
  IPv6Route: 43,
  IPv6Fragment: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPv6: 58,
  IPv6NoNext: 59,
  IPv6DestinationOptions: 60,
  SCTP: 132,
} as const;

export type IpProtocolNumber = (typeof IpProtocol)[keyof typeof IpProtocol];

const NAMES = new Map<number, string>(Object.entries(IpProtocol).map(([name, value]) => [value, name]));

/** The registry name of a protocol number ("TCP"), or tcpdump's "ip-proto-N" for unknown numbers. */
export function ipProtocolName(protocol: number): string {
  return NAMES.get(protocol) ?? `ip-proto-${protocol}`;
}
