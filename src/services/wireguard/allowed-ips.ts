/**
 * Cryptokey routing (whitepaper §2): each peer owns a set of IP prefixes,
 * its "allowed IPs". Going out, the longest prefix holding a packet's
 * destination names the peer to encrypt for; coming in, a decrypted packet
 * is accepted only if the longest prefix holding its source belongs to the
 * peer that sent it. A prefix belongs to one peer at a time: giving it to
 * another moves it (as `wg set ... allowed-ips` does).
 *
 * The two tables are tapnet's route tables (src/l3/routing/table.ts,
 * src/l3/ipv6/route-table.ts): longest-prefix match is the same question.
 */
import { RouteTable } from '../../l3/routing/table.js';
import { Ipv6RouteTable } from '../../l3/ipv6/route-table.js';
import type { Ipv4Address, Ipv4Cidr } from '../../l3/ipv4/address.js';
import type { Ipv6Address, Ipv6Cidr } from '../../l3/ipv6/address.js';
import { Field as Ipv4Field, IPV4_MIN_HEADER_LENGTH } from '../../l3/ipv4/header.js';
import { IPV6_HEADER_LENGTH, Ipv6Field } from '../../l3/ipv6/header.js';

/** Where a packet's addresses are, and how long it says it is (the IP headers' own field offsets). */
export interface IpPacketFacts {
  readonly version: 4 | 6;
  /** The packet's length by its header, or -1 when the buffer cannot hold what the header claims. */
  readonly length: number;
}

export class AllowedIps<Peer> {
  private readonly v4 = new RouteTable<Peer>();
  private readonly v6 = new Ipv6RouteTable<Peer>();

  /** Gives `prefix` to `peer`, taking it from whoever had it (same prefix, same metric: replaced). */
  add4(prefix: Ipv4Cidr, peer: Peer): void {
    this.v4.add({ destination: prefix, value: peer });
  }

  add6(prefix: Ipv6Cidr, peer: Peer): void {
    this.v6.remove(prefix);
    this.v6.add({ destination: prefix, value: peer });
  }

  lookup4(address: Ipv4Address): Peer | undefined {
    return this.v4.lookup(address)?.value;
  }

  lookup6(address: Ipv6Address): Peer | undefined {
    return this.v6.lookup(address)?.value;
  }

  /** Outbound: the peer for the packet's destination; undefined for no peer or not an IP packet. */
  forDestination(packet: Uint8Array): Peer | undefined {
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (version === 4 && packet.length >= IPV4_MIN_HEADER_LENGTH) return this.lookup4(readIpv4(packet, Ipv4Field.DESTINATION));
    if (version === 6 && packet.length >= IPV6_HEADER_LENGTH) return this.lookup6(packet.subarray(Ipv6Field.DESTINATION, Ipv6Field.DESTINATION + 16));
    return undefined;
  }

  /** Inbound: the owner of the packet's source address. */
  forSource(packet: Uint8Array): Peer | undefined {
    return packet[0]! >> 4 === 4 ? this.lookup4(readIpv4(packet, Ipv4Field.SOURCE)) : this.lookup6(packet.subarray(Ipv6Field.SOURCE, Ipv6Field.SOURCE + 16));
  }
}

/**
 * A decrypted plaintext as IP: its version and the length its header gives
 * (the rest is WireGuard's zero padding). Undefined for anything that is not
 * a whole IPv4 or IPv6 packet (wireguard-go RoutineSequentialReceiver checks
 * the same).
 */
export function ipPacketFacts(plain: Uint8Array): IpPacketFacts | undefined {
  const version = plain.length > 0 ? plain[0]! >> 4 : 0;
  if (version === 4 && plain.length >= IPV4_MIN_HEADER_LENGTH) {
    const length = (plain[Ipv4Field.TOTAL_LENGTH]! << 8) | plain[Ipv4Field.TOTAL_LENGTH + 1]!;
    return length >= IPV4_MIN_HEADER_LENGTH && length <= plain.length ? { version, length } : undefined;
  }
  if (version === 6 && plain.length >= IPV6_HEADER_LENGTH) {
    const length = IPV6_HEADER_LENGTH + ((plain[Ipv6Field.PAYLOAD_LENGTH]! << 8) | plain[Ipv6Field.PAYLOAD_LENGTH + 1]!);
    return length <= plain.length ? { version, length } : undefined;
  }
  return undefined;
}

function readIpv4(packet: Uint8Array, offset: number): Ipv4Address {
  return ((packet[offset]! << 24) | (packet[offset + 1]! << 16) | (packet[offset + 2]! << 8) | packet[offset + 3]!) >>> 0;
}
