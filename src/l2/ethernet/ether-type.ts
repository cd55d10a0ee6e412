/**
 * EtherType values: which protocol an Ethernet II frame carries.
 *
 * Read first: IEEE 802.3-2018 §3.2.6 (Length/Type: values >= 0x0600 are
 * types, values <= 0x05dc are 802.3 lengths), the IEEE EtherType registry,
 * RFC 7042 §3 (the values IETF protocols use).
 *
 * A plain object, not an enum: a frame may carry any 16-bit value, and the
 * unknown ones must survive parsing so they can be counted and printed.
 */

export const EtherType = {
  IPv4: 0x0800, // RFC 894
  ARP: 0x0806, // RFC 826
  VLAN: 0x8100, // IEEE 802.1Q customer VLAN tag (C-tag)
  IPv6: 0x86dd, // RFC 2464
  QinQ: 0x88a8, // IEEE 802.1ad service VLAN tag (S-tag)
} as const;

export type KnownEtherType = (typeof EtherType)[keyof typeof EtherType];

/**
 * The smallest Type value (1536). Values up to 1500 (0x05dc) are 802.3 length
 * fields (an LLC header follows); 1501..1535 are undefined (IEEE 802.3 §3.2.6).
 */
export const ETHER_TYPE_MIN = 0x0600;

/** tcpdump's names, so `tapnet capture` lines read like `tcpdump -e`. */
const NAMES: ReadonlyMap<number, string> = new Map([
  [EtherType.IPv4, 'IPv4'],
  [EtherType.ARP, 'ARP'],
  [EtherType.VLAN, '802.1Q'],
  [EtherType.IPv6, 'IPv6'],
  [EtherType.QinQ, '802.1Q-QinQ'],
]);

/** "IPv4", "ARP", ... or undefined for a value without a name here. */
export function etherTypeName(etherType: number): string | undefined {
  return NAMES.get(etherType);
}

/** tcpdump style: "IPv4 (0x0800)", "Unknown (0x88cc)". */
export function describeEtherType(etherType: number): string {
  return `${etherTypeName(etherType) ?? 'Unknown'} (0x${etherType.toString(16).padStart(4, '0')})`;
}
