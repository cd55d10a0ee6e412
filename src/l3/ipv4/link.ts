/**
 * What IPv4 needs from an interface below it. `NetworkInterface` (src/l2)
 * implements this; IP never sees MAC addresses or ARP.
 */
import type { TransportOffload } from '../../core/offload.js';
import type { Slices } from '../../core/slices.js';
import type { Ipv4Cidr } from './address.js';

export interface Ipv4Link {
  readonly name: string;
  /** Largest IPv4 packet the link carries unfragmented. */
  readonly mtu: number;
  /** The interface's addresses with their prefix lengths (e.g. 10.77.0.1/24). */
  readonly ipv4Addresses: readonly Ipv4Cidr[];
  /**
   * Hands a complete IPv4 packet to the link for `nextHop` (resolved by ARP).
   * The bytes are copied. `offload` (offsets from the IP header) asks the
   * link to segment it or finish its checksum; the link does in software
   * what its device cannot.
   */
  sendIpv4(packet: Uint8Array, nextHop: number, offload?: TransportOffload): void;
  /**
   * As `sendIpv4` for a packet whose data follows in `payload` (slices that
   * stay where they are until the device writes them, core/slices.ts):
   * `packet` holds the headers. Absent: the link does not gather, and IP
   * copies the payload behind the headers.
   */
  sendIpv4WithPayload?(packet: Uint8Array, nextHop: number, offload: TransportOffload, payload: Slices): void;
  /** Largest packet the link segments itself (TSO); 0 or absent when it cannot. */
  readonly tsoMaxSize?: number;
  /** The link finishes partial transport checksums. */
  readonly checksumOffload?: boolean;
  /** During receive: the current packet's transport checksum is known good. */
  readonly rxChecksumValid?: boolean;
}
