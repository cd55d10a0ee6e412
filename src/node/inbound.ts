/**
 * The inbound path of a node, declared in one place: which layer hands a
 * packet to which. Everything else in src/ only receives what it is given
 * here. Follow one ping (`ping 10.77.0.1` from the kernel side of the TAP):
 *
 *   device/tap.ts           batch read from the TAP (native/tap.cc)
 *   device/vnet.ts          virtio-net header off (TSO super-frames, checksum flags noted)
 *   l2/interface.ts         receiveFrame: Ethernet header; for our MAC? which EtherType?
 *     ARP  0x0806           l2/arp/arp.ts receive: answer, learn (the ping's first frame)
 *     IPv4 0x0800           [router: netfilter PREROUTING, INPUT (node/router.ts)]
 *                           l3/ipv4/input.ts receive: checks, reassembly, for us?
 *     IPv6 0x86dd           l3/ipv6/input.ts receive: extension headers, for us?
 *   IP protocol / next header
 *     ICMP 1                l3/icmpv4/icmpv4.ts: the echo request becomes a reply
 *     ICMPv6 58             l3/icmpv6/icmpv6.ts (NDP: l3/icmpv6/ndp.ts, MLD: mld.ts)
 *     UDP 17                l4/udp/udp.ts → the socket bound to the port
 *     TCP 6                 l4/tcp/tcp.ts → segment-arrives.ts → socket.ts
 *   not for us              l3/routing/forward.ts, l3/ipv6/forward.ts (a router with forwarding on)
 *
 * A point-to-point interface (l3/point-to-point.ts: WireGuard's wg0) has no
 * Ethernet: the tunnel hands up whole IP packets, sorted here by the version
 * nibble into the same IPv4 (PREROUTING first on a router) and IPv6 inputs:
 *
 *   services/wireguard/wireguard.ts   UDP datagram → decrypt → cryptokey routing check
 *     version 4                       [router: PREROUTING, INPUT] l3/ipv4/input.ts
 *     version 6                       l3/ipv6/input.ts
 *
 * The reply goes back down one way for both families: l3/ipv4/output.ts
 * (l3/ipv6/output.ts) → l2/interface.ts sendIpv4 (sendIpv6): the neighbour
 * resolver (ARP, NDP) gives the MAC, one framing routine writes the Ethernet
 * header → device/offload.ts (virtio-net offload) → device/vnet.ts → TAP.
 */
import type { TransportOffload } from '../core/offload.js';
import type { InterfaceReceivers } from '../l2/interface.js';
import type { Ipv4Link } from '../l3/ipv4/link.js';
import type { PointToPointLink } from '../l3/point-to-point.js';
import { IpProtocol } from '../l3/ip-protocol.js';
import type { Icmpv4 } from '../l3/icmpv4/icmpv4.js';
import type { Ipv4Input } from '../l3/ipv4/input.js';
import type { UdpLayer } from '../l4/udp/udp.js';
import type { Tcp } from '../l4/tcp/api.js';
import type { TcpNetwork } from '../l4/tcp/network.js';
import { receiveIcmpv4ErrorForTcp } from '../l4/tcp/ipv4.js';
import { receiveIcmpv6ErrorForTcp } from '../l4/tcp/ipv6.js';
import type { Ipv6InterfaceConfig, Ipv6Layer } from './ipv6.js';

/** The layers of a node (node/host.ts builds them), and the stages a router adds. */
export interface InboundLayers {
  readonly ipv4: Ipv4Input;
  readonly icmp: Icmpv4;
  readonly ipv6: Ipv6Layer;
  readonly udp: UdpLayer;
  readonly tcp: Tcp;
  readonly tcpIpv4: TcpNetwork;
  readonly tcpIpv6: TcpNetwork;
  /**
   * A router's netfilter PREROUTING and INPUT hooks, before IPv4 input
   * decides "for us?": the bytes to go on with, or undefined when a hook
   * took or dropped the packet.
   */
  readonly prerouting?: (packet: Uint8Array, link: Ipv4Link, linkBroadcast: boolean, offload: TransportOffload | undefined) => Uint8Array | undefined;
  /** A packet that waited for ARP will never leave (a router answers ICMP host unreachable). */
  readonly ipv4Unreachable?: (packet: Uint8Array, nextHop: number) => void;
}

/**
 * What each new interface is built with: `ethernet(ipv6Config)` for a NIC,
 * `pointToPoint(link)` for a tunnel (the function its packets go up through).
 */
export interface InboundPath {
  ethernet(ipv6?: Ipv6InterfaceConfig): InterfaceReceivers;
  pointToPoint(link: PointToPointLink): (packet: Uint8Array, offload?: TransportOffload) => void;
}

/**
 * Wires L3 to L4 by protocol number (once per node) and returns the L2 → L3
 * receivers every interface of the node is built with.
 */
export function declareInbound(layers: InboundLayers): InboundPath {
  const { ipv4, icmp, ipv6, udp, tcp, tcpIpv4, tcpIpv6, prerouting } = layers;

  // IPv4 → ICMP | UDP | TCP
  ipv4.register(IpProtocol.ICMP, (d) => icmp.receive(d));
  ipv4.register(IpProtocol.UDP, (d) => udp.receiveIpv4(d));
  ipv4.register(IpProtocol.TCP, (d) => tcp.layer.receive(tcpIpv4, d.source, d.destination, d.payload, d.checksumValid, d.ecn));
  icmp.errorListeners.add((event) => receiveIcmpv4ErrorForTcp(tcp.layer, tcpIpv4, event));

  // IPv6 → ICMPv6 | UDP | TCP
  ipv6.input.register(IpProtocol.ICMPv6, (d) => ipv6.icmp.receive(d));
  ipv6.input.register(IpProtocol.UDP, (d) => udp.receiveIpv6(d));
  // IPv6 addresses are views into the receive batch: TCP keys connections by them, so it gets copies.
  ipv6.input.register(IpProtocol.TCP, (d) => tcp.layer.receive(tcpIpv6, d.source.slice(), d.destination.slice(), d.payload, d.checksumValid, d.trafficClass & 0x03));
  ipv6.icmp.onError = (event) => receiveIcmpv6ErrorForTcp(tcp.layer, tcpIpv6, event);

  // Ethernet → IPv4 (through the router's PREROUTING/INPUT when it has them)
  const receiveIpv4 = prerouting
    ? (packet: Uint8Array, link: Ipv4Link, linkBroadcast: boolean, offload?: TransportOffload): void => {
        const bytes = prerouting(packet, link, linkBroadcast, offload);
        // Bytes a hook replaced (reassembled by conntrack's defrag) are a new packet, with no offload of their own.
        if (bytes) ipv4.receive(bytes, link, linkBroadcast, sameBytes(bytes, packet) ? offload : undefined);
      }
    : (packet: Uint8Array, link: Ipv4Link, linkBroadcast: boolean, offload?: TransportOffload): void => ipv4.receive(packet, link, linkBroadcast, offload);

  const ethernet = (ipv6Config?: Ipv6InterfaceConfig): InterfaceReceivers => ({
    ipv4: receiveIpv4,
    ipv4Unreachable: layers.ipv4Unreachable,
    // Ethernet → IPv6, when the interface runs it: its own IPv6 side (addresses, NDP, MLD) is built on it here.
    ipv6: ipv6Config
      ? (link) => {
          const side = ipv6.attach(link, ipv6Config);
          return { neighbours: side.ndp, receive: (packet, linkMulticast, offload) => ipv6.input.receive(packet, side, linkMulticast, offload) };
        }
      : undefined,
  });

  // Tunnel → IPv4 | IPv6 by the version nibble (RFC 791 §3.1, RFC 8200 §3); anything else IP input counts as a bad version.
  // `offload`: an IPv4 super-packet the tunnel coalesced (services/wireguard/gro.ts), forwarded or delivered whole.
  const pointToPoint = (link: PointToPointLink) => (packet: Uint8Array, offload?: TransportOffload): void => {
    if (packet.length > 0 && packet[0]! >> 4 === 6) ipv6.input.receive(packet, link, false);
    else receiveIpv4(packet, link, false, offload);
  };

  return { ethernet, pointToPoint };
}

/** Whether a hook passed the packet on (perhaps as a shorter view of it) rather than new bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset;
}
