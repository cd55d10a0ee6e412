/**
 * A network interface (NIC): one device, one MAC address, its IPv4
 * addresses, and the ARP instance that maps next hops to MACs. It sorts
 * arriving frames by EtherType and hands IP packets up.
 *
 * Read first: IEEE 802.3 §3.2 (Ethernet II framing as used by RFC 894),
 * RFC 826 (ARP), RFC 1122 §2.3 (link-layer requirements for hosts).
 */
import type { StackContext } from '../core/context.js';
import { describeParseError } from '../core/parse-result.js';
import type { Device, TxOffload } from '../device/device.js';
import type { Ipv4Cidr } from '../l3/ipv4/address.js';
import type { Ipv4Link } from '../l3/ipv4/link.js';
import type { Ipv6Interface } from '../l3/ipv6/interface.js';
import { BROADCAST_MAC, formatMac, isMulticastMac, type MacAddress } from './mac-address.js';
import { EtherType } from './ethernet/ether-type.js';
import { EthernetFrameView, describeEthernet } from './ethernet/frame.js';
import { Arp, type ArpDependencies } from './arp/arp.js';

export interface InterfaceOptions {
  readonly name?: string;
  readonly mac: MacAddress;
  readonly ipv4?: readonly Ipv4Cidr[];
  /** Neighbour cache overrides (a router holds more packets per unresolved next hop than a host). */
  readonly arpCache?: ArpDependencies['cache'];
}

export class NetworkInterface implements Ipv4Link {
  readonly name: string;
  readonly mac: MacAddress;
  readonly arp: Arp;
  ipv4Addresses: Ipv4Cidr[];
  /** Set by the host: where IPv4 packets go up. */
  onIpv4: ((packet: Uint8Array, link: NetworkInterface, linkBroadcast: boolean) => void) | undefined;
  /** Set by a router: ARP gave up on `nextHop`; `packet` (an IPv4 packet that waited for it) will never leave. */
  onIpv4Unreachable: ((packet: Uint8Array, nextHop: number) => void) | undefined;
  /** Set by the host when IPv6 is on: where IPv6 packets go up (RFC 2464). */
  onIpv6: ((packet: Uint8Array, link: NetworkInterface, linkMulticast: boolean) => void) | undefined;
  /** The IPv6 side of this interface (addresses, NDP, MLD), when IPv6 is on. */
  ipv6: Ipv6Interface | undefined;
  private readonly frame = new EthernetFrameView();

  constructor(
    private readonly ctx: StackContext,
    readonly device: Device,
    options: InterfaceOptions,
  ) {
    this.name = options.name ?? device.name;
    this.mac = options.mac;
    this.ipv4Addresses = [...(options.ipv4 ?? [])];
    this.arp = new Arp({
      ctx,
      mac: this.mac,
      addresses: () => this.ipv4Addresses.map((a) => a.address),
      sendFrame: (f, offload) => device.send(f, offload),
      onUnreachable: (packet, nextHop) => this.onIpv4Unreachable?.(packet, nextHop),
      cache: options.arpCache,
    });
    device.setReceiver((f) => this.receiveFrame(f));
    ctx.stats.declare('ethInFrames', 'ethInErrors', 'ethInOtherHost', 'ethInUnknownType', 'ethInTagged');
  }

  get mtu(): number {
    return this.device.mtu;
  }

  /** Largest IP packet the device segments for us (TSO); 0 when it cannot. */
  get tsoMaxSize(): number {
    return this.device.tsoMaxSize ?? 0;
  }

  /** The device finishes partial transport checksums. */
  get checksumOffload(): boolean {
    return this.device.checksumOffload ?? false;
  }

  /** During receive: the current frame's transport checksum is known good (virtio-net offload). */
  get rxChecksumValid(): boolean {
    return this.device.rxChecksumValid ?? false;
  }

  receiveFrame(bytes: Uint8Array): void {
    const { ctx, frame } = this;
    ctx.stats.inc('ethInFrames');
    const error = frame.wrap(bytes);
    if (error) {
      ctx.trace.dropped('ethInErrors', describeParseError(error), () => `${bytes.length} bytes on ${this.name}`);
      return;
    }
    const destination = frame.destination;
    const linkBroadcast = destination === BROADCAST_MAC || isMulticastMac(destination);
    // Like a NIC without promiscuous mode: unicast for another MAC is not ours.
    if (!linkBroadcast && destination !== this.mac) {
      ctx.trace.dropped('ethInOtherHost', 'unicast for another MAC', () => describeEthernet(frame));
      return;
    }
    if (frame.hasVlan) {
      // A host interface is an access port: tagged frames belong to a switch or a VLAN sub-interface.
      ctx.trace.dropped('ethInTagged', '802.1Q tagged frame on an untagged interface', () => describeEthernet(frame));
      return;
    }
    switch (frame.etherType) {
      case EtherType.ARP:
        this.arp.receive(frame.payload, destination);
        return;
      case EtherType.IPv4:
        this.onIpv4?.(frame.payload, this, linkBroadcast);
        return;
      case EtherType.IPv6:
        if (this.onIpv6) {
          this.onIpv6(frame.payload, this, linkBroadcast);
          return;
        }
        break;
    }
    ctx.trace.dropped('ethInUnknownType', 'no protocol for EtherType', () => describeEthernet(frame));
  }

  sendIpv4(packet: Uint8Array, nextHop: number, offload?: TxOffload): void {
    this.arp.sendIpv4(nextHop, packet, offload);
  }

  describe(): string {
    return `${this.name} ${formatMac(this.mac)} mtu ${this.mtu}`;
  }
}
