/**
 * What IPv4 needs from an interface below it. `NetworkInterface` (src/l2)
 * implements this; IP never sees MAC addresses or ARP.
 */
import type { Ipv4Cidr } from './address.js';

export interface Ipv4Link {
  readonly name: string;
  /** Largest IPv4 packet the link carries unfragmented. */
  readonly mtu: number;
  /** The interface's addresses with their prefix lengths (e.g. 10.77.0.1/24). */
  readonly ipv4Addresses: readonly Ipv4Cidr[];
  /** Hands a complete IPv4 packet to the link for `nextHop` (resolved by ARP). The bytes are copied. */
  sendIpv4(packet: Uint8Array, nextHop: number): void;
}
