/**
 * What the interface asks of a neighbour protocol on the way out: ARP
 * (l2/arp/arp.ts) for IPv4 next hops, NDP (l3/icmpv6/ndp.ts) for IPv6 ones.
 * Both keep their entries and waiting packets in the shared cache
 * (./cache.ts); the interface frames whatever they resolve, so IPv4 and IPv6
 * leave the host the same way.
 *
 * Read first: RFC 1122 §2.3.2.2 (a packet that waits for resolution is
 * queued, the latest kept) and RFC 4861 §7.2.2 (the same rule for NDP).
 */
import type { MacAddress } from '../mac-address.js';

export interface NeighbourResolver<NextHop> {
  /**
   * The link-layer address to send `packet` to now, or what became of it:
   * 'queued' (a copy waits in the neighbour cache and leaves through the
   * interface once `nextHop` answers) or 'dropped' (counted by the resolver).
   * Broadcast and multicast next hops map to their MAC without asking.
   */
  resolve(nextHop: NextHop, packet: Uint8Array): MacAddress | 'queued' | 'dropped';
  /** True when a packet to `nextHop` would have to wait for resolution (nothing changes). */
  mustWait(nextHop: NextHop): boolean;
}
