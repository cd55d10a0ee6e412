/**
 * A point-to-point IP interface: IPv4 and IPv6 packets go in and out whole,
 * with no link-layer header, no MAC addresses and so no ARP or NDP (Linux's
 * IFF_POINTOPOINT | IFF_NOARP, `ip link` shows `link/none`: tun devices,
 * WireGuard). It is what IP needs from a link (Ipv4Link, Ipv6Link), and what
 * it does with a packet is the `transmit` it was built with: WireGuard
 * (src/services/wireguard) seals it and sends it over UDP.
 *
 * The node builds one with `host.addPointToPoint()` (src/node/host.ts) and
 * gets back where packets coming out of the tunnel enter the inbound path
 * (src/node/inbound.ts). The next hop is irrelevant on such a link: the far
 * end is whoever the tunnel decides (WireGuard: cryptokey routing).
 *
 * Read first: RFC 1122 §3.3.1 (a route may point at an interface with no
 * next hop), RFC 4862 §2 and §5.3 (no link-local address is needed where no
 * neighbour discovery runs; Linux gives a WireGuard interface none).
 */
import type { TransportOffload } from '../core/offload.js';
import { completePartialChecksum } from '../core/offload.js';
import type { Ipv4Cidr } from './ipv4/address.js';
import type { Ipv4Link } from './ipv4/link.js';
import { IPV6_ALL_NODES, ipv6Equal, type Ipv6Address, type Ipv6Cidr } from './ipv6/address.js';
import type { Ipv6InterfaceAddress, Ipv6Link } from './ipv6/link.js';

export type IpVersion = 4 | 6;

export interface PointToPointOptions {
  readonly name: string;
  /** IP MTU (WireGuard's default is 1420: 1500 - 80 bytes of outer IPv6, UDP and WireGuard header). */
  readonly mtu: number;
  readonly ipv4?: readonly Ipv4Cidr[];
  readonly ipv6?: readonly Ipv6Cidr[];
  /** A packet leaves through the tunnel. The bytes are only valid during the call: copy what must outlive it. */
  transmit(packet: Uint8Array, version: IpVersion): void;
  /**
   * Cuts a TSO super-packet into packets of its segment size, each handed to
   * `sink` (device/segment.ts Segmenter.ipToWire; the node gives it, since IP
   * may not reach down to the device floor). Without it such a packet is
   * dropped, never sent whole.
   */
  readonly segment?: (packet: Uint8Array, ipv6: boolean, offload: TransportOffload, sink: (segment: Uint8Array) => void) => void;
}

export class PointToPointLink implements Ipv4Link, Ipv6Link {
  readonly name: string;
  readonly mtu: number;
  readonly ipv4Addresses: Ipv4Cidr[];
  readonly ipv6Addresses: Ipv6InterfaceAddress[];
  /** Nothing below vouches for transport checksums: the tunnel's AEAD protects the bytes, but IP still checks them. */
  readonly rxChecksumValid = false;
  readonly checksumOffload = false;
  readonly tsoMaxSize = 0;
  private readonly transmitSegment = {
    4: (segment: Uint8Array) => this.options.transmit(segment, 4),
    6: (segment: Uint8Array) => this.options.transmit(segment, 6),
  } as const;

  constructor(private readonly options: PointToPointOptions) {
    this.name = options.name;
    this.mtu = options.mtu;
    this.ipv4Addresses = [...(options.ipv4 ?? [])];
    // Configured addresses need no DAD here: there is no one on the link to collide with.
    this.ipv6Addresses = (options.ipv6 ?? []).map((a) => ({ address: a.address.slice(), prefixLength: a.prefixLength, state: 'preferred', autoconfigured: false }));
  }

  /** Only all-nodes: no MLD, no solicited-node groups (no NDP runs here). */
  hasGroup(group: Ipv6Address): boolean {
    return ipv6Equal(group, IPV6_ALL_NODES);
  }

  sendIpv4(packet: Uint8Array, _nextHop: number, offload?: TransportOffload): void {
    this.send(packet, 4, offload);
  }

  sendIpv6(packet: Uint8Array, _nextHop: Ipv6Address, offload?: TransportOffload): void {
    this.send(packet, 6, offload);
  }

  /**
   * A super-packet a router forwards into the tunnel (l3/routing/forward.ts
   * checked its segments fit the MTU) is cut here, as an Ethernet interface
   * cuts one for a port without TSO; a partial checksum is finished.
   */
  private send(packet: Uint8Array, version: IpVersion, offload: TransportOffload | undefined): void {
    if (offload !== undefined && offload.segmentSize > 0 && packet.length > this.mtu) {
      this.options.segment?.(packet, version === 6, offload, this.transmitSegment[version]);
      return;
    }
    if (offload !== undefined && offload.checksumStart > 0) completePartialChecksum(packet, offload);
    this.options.transmit(packet, version);
  }

  describe(): string {
    return `${this.name} point-to-point (no link-layer header) mtu ${this.mtu}`;
  }
}
