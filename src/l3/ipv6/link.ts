/**
 * What IPv6 needs from an interface below it. `Ipv6Interface`
 * (./interface.ts) implements it on top of an Ethernet NIC; IP never sees
 * MAC addresses or the neighbour cache.
 */
import type { Ipv6Address } from './address.js';

/**
 * RFC 4862 §2: an address is "tentative" while duplicate address detection
 * runs (it receives only NDP for DAD and is never a source), "preferred"
 * once DAD passed, and "duplicate" when another node turned out to own it.
 */
export type Ipv6AddressState = 'tentative' | 'preferred' | 'duplicate';

export interface Ipv6InterfaceAddress {
  readonly address: Ipv6Address;
  readonly prefixLength: number;
  state: Ipv6AddressState;
  /** Formed by SLAAC from a router advertisement (RFC 4862 §5.5.3), not configured. */
  readonly autoconfigured: boolean;
}

export interface Ipv6Link {
  readonly name: string;
  /** Largest IPv6 packet the link carries (≥ 1280, RFC 8200 §5). */
  readonly mtu: number;
  /** Every address on the interface, link-local first, in any state. */
  readonly ipv6Addresses: readonly Ipv6InterfaceAddress[];
  /** True when the interface listens to multicast `group` (all-nodes, solicited-node groups, ...). */
  hasGroup(group: Ipv6Address): boolean;
  /** Hands a complete IPv6 packet to the link for `nextHop` (resolved by NDP). The bytes are copied. */
  sendIpv6(packet: Uint8Array, nextHop: Ipv6Address): void;
  /** During receive: the current packet's transport checksum is known good (virtio-net offload). */
  readonly rxChecksumValid?: boolean;
}
