/**
 * What IPv6 needs from an interface below it. `Ipv6Interface`
 * (./interface.ts) implements it on top of an Ethernet NIC; IP never sees
 * MAC addresses or the neighbour cache.
 */
import type { TransportOffload } from '../../core/offload.js';
import type { Slices } from '../../core/slices.js';
import type { MacAddress } from '../../l2/mac-address.js';
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
  /**
   * Hands a complete IPv6 packet to the link for `nextHop` (resolved by NDP).
   * The bytes are copied; `offload` as for IPv4 (Ipv4Link.sendIpv4).
   */
  sendIpv6(packet: Uint8Array, nextHop: Ipv6Address, offload?: TransportOffload): void;
  /**
   * As `sendIpv6` for a packet whose data follows in `payload` (slices that
   * stay where they are until the device writes them, core/slices.ts);
   * `packet` holds the headers. Absent: the link does not gather, and IP
   * copies the payload behind the headers. As Ipv4Link.sendIpv4WithPayload.
   */
  sendIpv6WithPayload?(packet: Uint8Array, nextHop: Ipv6Address, offload: TransportOffload, payload: Slices): void;
  /** Largest packet the link segments itself (TSO); 0 or absent when it cannot. */
  readonly tsoMaxSize?: number;
  /** The link finishes partial transport checksums. */
  readonly checksumOffload?: boolean;
  /** During receive: the current packet's transport checksum is known good (virtio-net offload). */
  readonly rxChecksumValid?: boolean;
}

/**
 * What the IPv6 side of an interface (./interface.ts) needs from the
 * Ethernet interface below it; `NetworkInterface` (l2/interface.ts) provides
 * it, with this interface's NDP as its IPv6 neighbour resolver.
 */
export interface Ipv6LinkLayer {
  readonly name: string;
  readonly mac: MacAddress;
  readonly mtu: number;
  /** During receive: the device vouches for the current frame's transport checksum. */
  readonly rxChecksumValid: boolean;
  /** Largest IP packet the device segments (TSO); 0 when it cannot. */
  readonly tsoMaxSize: number;
  /** The device finishes partial transport checksums. */
  readonly checksumOffload: boolean;
  /** Resolves `nextHop` (multicast maps to its MAC, unicast asks NDP), frames and sends. */
  sendIpv6(packet: Uint8Array, nextHop: Ipv6Address, offload?: TransportOffload): void;
  /** As `sendIpv6`, the data following in `payload` (l2/interface.ts: the one gather path of both families). */
  sendIpv6WithPayload(packet: Uint8Array, nextHop: Ipv6Address, offload: TransportOffload, payload: Slices): void;
  /** Frames and sends to a link-layer address already known. */
  sendIpv6ToMac(packet: Uint8Array, mac: MacAddress): void;
}
