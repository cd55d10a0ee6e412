/**
 * A network interface (NIC): one device, one MAC address, its IPv4
 * addresses, and the ARP instance that maps next hops to MACs. It sorts
 * arriving frames by EtherType and hands IP packets up to the receivers it
 * was built with (node/inbound.ts declares them); going down, IPv4 and IPv6
 * leave the same way: `sendIpv4/sendIpv6` ask the neighbour resolver (ARP or
 * NDP) for the MAC, then one framing routine writes the Ethernet header and
 * the device sends.
 *
 * Read first: IEEE 802.3 §3.2 (Ethernet II framing as used by RFC 894 and
 * RFC 2464), RFC 826 (ARP), RFC 1122 §2.3 (link-layer requirements for hosts).
 */
import type { StackContext } from '../core/context.js';
import { completePartialChecksum, newTransportOffload, type TransportOffload } from '../core/offload.js';
import { describeParseError } from '../core/parse-result.js';
import { setU16 } from '../core/bytes.js';
import type { Device } from '../device/device.js';
import { frameOffload, newTxOffload, segmentationMaxSize, type IpFamily } from '../device/offload.js';
import type { TxOffload } from '../device/device.js';
import { OFFLOAD_DROP_REASON, OffloadDrop, Segmenter, isGso, type OffloadDropCounter } from '../device/segment.js';
import { VnetGsoType } from '../device/tap.js';
import type { Ipv4Cidr } from '../l3/ipv4/address.js';
import type { Ipv6Address } from '../l3/ipv6/address.js';
import { BROADCAST_MAC, formatMac, isMulticastMac, writeMac, type MacAddress } from './mac-address.js';
import { EtherType, type KnownEtherType } from './ethernet/ether-type.js';
import { ETHERNET_HEADER_LENGTH, EthernetField, EthernetFrameView, describeEthernet, emitEthernet } from './ethernet/frame.js';
import { Arp, type ArpDependencies } from './arp/arp.js';
import type { NeighbourResolver } from './neighbour/resolver.js';
import { arriving } from './headroom.js';
import { Linearizer, type Slices } from '../core/slices.js';

/**
 * IPv6 on this link, as the interface sees it: NDP to resolve next hops,
 * and where arriving IPv6 packets go (l3/ipv6/interface.ts and
 * node/inbound.ts provide both).
 */
export interface Ipv6OnLink {
  readonly neighbours: NeighbourResolver<Ipv6Address>;
  /**
   * An IPv6 packet arrived (RFC 2464); `linkMulticast`: sent to a multicast MAC.
   * `offload`: the frame is a TSO super-packet or has a partial checksum
   * (offsets from the IPv6 header; valid during the call).
   */
  receive(packet: Uint8Array, linkMulticast: boolean, offload?: TransportOffload): void;
}

/** Where the interface hands things up; given when it is built (STYLE rule 17), never patched on later. */
export interface InterfaceReceivers {
  /**
   * An IPv4 packet arrived (RFC 894); `linkBroadcast`: sent to a broadcast or
   * multicast MAC. `offload`: the frame came with virtio-net metadata, a TSO
   * super-packet to forward whole or a partial checksum (offsets from the IP
   * header; valid during the call). Local delivery may ignore it: the device
   * vouched for the checksum (`rxChecksumValid`).
   */
  ipv4?(packet: Uint8Array, link: NetworkInterface, linkBroadcast: boolean, offload?: TransportOffload): void;
  /** ARP gave up on `nextHop`; `packet` (an IPv4 packet that waited for it) will never leave. */
  ipv4Unreachable?(packet: Uint8Array, nextHop: number): void;
  /** Turns IPv6 on for the interface: called once, from the constructor, with the interface below it. */
  ipv6?(link: NetworkInterface): Ipv6OnLink;
}

export interface InterfaceOptions {
  readonly name?: string;
  readonly mac: MacAddress;
  readonly ipv4?: readonly Ipv4Cidr[];
  /** Neighbour cache overrides (a router holds more packets per unresolved next hop than a host). */
  readonly arpCache?: ArpDependencies['cache'];
  /** The layers above; without them the interface answers ARP and drops IP (ethInUnknownType). */
  readonly receivers?: InterfaceReceivers;
}

/** First transmit buffer: a 1500-byte packet behind its header; grows for jumbo links and TSO. */
const INITIAL_SCRATCH = ETHERNET_HEADER_LENGTH + 1500;

export class NetworkInterface {
  readonly name: string;
  readonly mac: MacAddress;
  readonly arp: Arp;
  private readonly addresses: Ipv4Cidr[];
  private readonly receivers: InterfaceReceivers;
  private readonly ipv6: Ipv6OnLink | undefined;
  private readonly frame = new EthernetFrameView();
  /**
   * Frames are built here, then handed to the device (which copies). The MACs are written once. The packet
   * being forwarded skips it: it is framed in place, in its received link header (./headroom.ts).
   */
  private scratch = new Uint8Array(0);
  private headerLength = 0;
  /** Headers and payload slices put together, where a packet cannot leave gathered (made on first use). */
  private readonly linear = new Linearizer();
  /** The frame offload, filled in place for each offloaded frame. */
  private readonly txOffload = newTxOffload();
  /** A received frame's offload in IP's terms, filled in place (valid during the receive call). */
  private readonly rxOffload = newTransportOffload();
  /** Cuts a super-packet into wire frames where the device cannot (device/segment.ts); made on first use. */
  private segmenter: Segmenter | undefined;
  private readonly sendSegment = (segment: Uint8Array): void => this.device.send(segment);

  constructor(
    private readonly ctx: StackContext,
    readonly device: Device,
    options: InterfaceOptions,
  ) {
    this.name = options.name ?? device.name;
    this.mac = options.mac;
    this.addresses = [...(options.ipv4 ?? [])];
    this.receivers = options.receivers ?? {};
    this.growScratch(INITIAL_SCRATCH);
    this.arp = new Arp({
      ctx,
      mac: this.mac,
      addresses: () => this.addresses.map((a) => a.address),
      subnets: () => this.addresses,
      sendFrame: (f) => device.send(f),
      transmit: (mac, packet) => this.transmit(EtherType.IPv4, mac, packet, undefined, 'ipv4'),
      onUnreachable: (packet, nextHop) => this.receivers.ipv4Unreachable?.(packet, nextHop),
      cache: options.arpCache,
    });
    device.setReceiver((f, offload) => this.receiveFrame(f, offload));
    ctx.stats.declare('ethInFrames', 'ethInErrors', 'ethInOtherHost', 'ethInUnknownType', 'ethInTagged');
    this.ipv6 = this.receivers.ipv6?.(this);
  }

  get mtu(): number {
    return this.device.mtu;
  }

  /** The interface's IPv4 addresses with their prefix lengths (e.g. 10.77.0.1/24). */
  get ipv4Addresses(): readonly Ipv4Cidr[] {
    return this.addresses;
  }

  /** Like `ip addr add`; false when the interface already has it. */
  addIpv4Address(a: Ipv4Cidr): boolean {
    if (this.addresses.some((x) => x.address === a.address && x.prefixLength === a.prefixLength)) return false;
    this.addresses.push(a);
    return true;
  }

  /** Like `ip addr del`; false when the interface did not have it. */
  removeIpv4Address(a: Ipv4Cidr): boolean {
    const i = this.addresses.findIndex((x) => x.address === a.address && x.prefixLength === a.prefixLength);
    if (i < 0) return false;
    this.addresses.splice(i, 1);
    return true;
  }

  /** Largest IP packet the device segments for us (TSO); 0 when it cannot. */
  get tsoMaxSize(): number {
    return segmentationMaxSize(this.device);
  }

  /** The device finishes partial transport checksums. */
  get checksumOffload(): boolean {
    return this.device.checksumOffload ?? false;
  }

  /** During receive: the current frame's transport checksum is known good (virtio-net offload). */
  get rxChecksumValid(): boolean {
    return this.device.rxChecksumValid ?? false;
  }

  /**
   * A frame from the device. `offload` (Ethernet offsets, checked by the
   * device: device/vnet.ts) travels up with the packet in IP's terms, so a
   * router can forward a TSO super-packet whole (l3/routing/forward.ts).
   */
  receiveFrame(bytes: Uint8Array, offload?: TxOffload): void {
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
    if (ctx.trace.watching) ctx.trace.step(`IEEE 802.3 §3.2.3: destination ${linkBroadcast ? 'broadcast/multicast' : 'our MAC'}; EtherType 0x${frame.etherType.toString(16).padStart(4, '0')}`);
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
      case EtherType.IPv6: {
        const v4 = frame.etherType === EtherType.IPv4;
        if (v4 ? this.receivers.ipv4 === undefined : this.ipv6 === undefined) break;
        const packet = frame.payload;
        const linkHeader = packet.byteOffset - bytes.byteOffset;
        const rx = offload === undefined ? undefined : this.packetOffload(bytes, offload, linkHeader);
        if (rx === null) return;
        return this.dispatch(packet, linkHeader, v4, linkBroadcast, rx);
      }
    }
    ctx.trace.dropped('ethInUnknownType', 'no protocol for EtherType', () => describeEthernet(frame));
  }

  /**
   * Hands an IP packet up with its link header marked as free headroom
   * (./headroom.ts): a router sends it on framed in place. The previous
   * arriving packet is restored afterwards (a device that delivers inside
   * another receive: a VXLAN tunnel's inner frame).
   */
  private dispatch(packet: Uint8Array, linkHeader: number, v4: boolean, linkBroadcast: boolean, rx: TransportOffload | undefined): void {
    const { buffer, offset, room } = arriving;
    arriving.buffer = packet.buffer;
    arriving.offset = packet.byteOffset;
    arriving.room = linkHeader;
    try {
      if (v4) this.receivers.ipv4!(packet, this, linkBroadcast, rx);
      else this.ipv6!.receive(packet, linkBroadcast, rx);
    } finally {
      arriving.buffer = buffer;
      arriving.offset = offset;
      arriving.room = room;
    }
  }

  /**
   * Sends an IPv4 packet to `nextHop` on this link (ARP resolves it). The
   * bytes are copied (the packet being forwarded is framed in place, over its
   * received link header: ./headroom.ts). `offload` (offsets from the IP header) asks the device
   * to segment the packet or finish its checksum (device/offload.ts).
   */
  sendIpv4(packet: Uint8Array, nextHop: number, offload?: TransportOffload): void {
    this.sendIp(this.arp, EtherType.IPv4, 'ipv4', packet, nextHop, offload);
  }

  /**
   * `sendIpv4` of a packet whose data is not in `packet`'s buffer: `packet`
   * holds the IP and transport headers, `payload` the data as slices that
   * stay where they are (TCP's send buffer, core/slices.ts). See `sendIpWithPayload`.
   */
  sendIpv4WithPayload(packet: Uint8Array, nextHop: number, offload: TransportOffload, payload: Slices): void {
    this.sendIpWithPayload(this.arp, EtherType.IPv4, 'ipv4', packet, nextHop, offload, payload);
  }

  /** `sendIpv6` of a packet whose data follows in `payload`; as `sendIpv4WithPayload`. */
  sendIpv6WithPayload(packet: Uint8Array, nextHop: Ipv6Address, offload: TransportOffload, payload: Slices): void {
    if (!this.ipv6) throw new Error(`${this.name}: IPv6 is off on this interface`);
    this.sendIpWithPayload(this.ipv6.neighbours, EtherType.IPv6, 'ipv6', packet, nextHop, offload, payload);
  }

  /** Sends an IPv6 packet to `nextHop` on this link (NDP resolves it); as `sendIpv4`. */
  sendIpv6(packet: Uint8Array, nextHop: Ipv6Address, offload?: TransportOffload): void {
    // Only IPv6 on this interface (l3/ipv6/interface.ts) holds a route through it: anything else is a bug.
    if (!this.ipv6) throw new Error(`${this.name}: IPv6 is off on this interface`);
    this.sendIp(this.ipv6.neighbours, EtherType.IPv6, 'ipv6', packet, nextHop, offload);
  }

  /** Sends an IPv6 packet straight to a known link-layer address (an NDP answer, a packet that waited for NDP). */
  sendIpv6ToMac(packet: Uint8Array, mac: MacAddress): void {
    this.transmit(EtherType.IPv6, mac, packet, undefined, 'ipv6');
  }

  describe(): string {
    return `${this.name} ${formatMac(this.mac)} mtu ${this.mtu}`;
  }

  private sendIp<NextHop>(
    resolver: NeighbourResolver<NextHop>,
    etherType: KnownEtherType,
    family: IpFamily,
    packet: Uint8Array,
    nextHop: NextHop,
    offload: TransportOffload | undefined,
  ): void {
    // A packet that waits for its neighbour leaves later without its offload request: a super-packet waits as
    // the wire packets it stands for, a partial checksum is finished now.
    if (offload !== undefined && resolver.mustWait(nextHop)) {
      if (offload.segmentSize > 0 && packet.length > offload.headerLength + offload.segmentSize) return this.queueSegments(resolver, etherType, family, packet, nextHop, offload);
      if (offload.checksumStart > 0) completePartialChecksum(packet, offload);
      offload = undefined;
    }
    const mac = resolver.resolve(nextHop, packet);
    if (typeof mac === 'number') this.transmit(etherType, mac, packet, offload, family);
  }

  /**
   * The one gather path, for IPv4 and IPv6 alike. When the device gathers
   * and takes the packet whole (its checksum finished by the device, TSO
   * within its limit), the headers are framed in the scratch and the device
   * writes the slices after them (no copy of the data); else (the next hop
   * waits for ARP/NDP, the device does not gather or would need the packet
   * cut or its checksum finished here) the data is copied behind the headers
   * and the packet goes the usual way (`sendIp`).
   */
  private sendIpWithPayload<NextHop>(
    resolver: NeighbourResolver<NextHop>,
    etherType: KnownEtherType,
    family: IpFamily,
    packet: Uint8Array,
    nextHop: NextHop,
    offload: TransportOffload,
    payload: Slices,
  ): void {
    const length = packet.length + payload.length;
    const device = this.device;
    const whole = offload.checksumStart > 0 && this.checksumOffload && (length <= this.mtu || (offload.segmentSize > 0 && length <= this.tsoMaxSize));
    if (device.sendWithPayload === undefined || !whole || resolver.mustWait(nextHop)) {
      return this.sendIp(resolver, etherType, family, this.linear.join(packet, payload), nextHop, offload);
    }
    const mac = resolver.resolve(nextHop, packet); // known (mustWait said so): nothing is queued
    if (typeof mac !== 'number') return;
    const header = this.headerLength;
    const frame = this.frameInScratch(etherType, packet, mac);
    const tx = frameOffload(device, frame.subarray(header), offload, family, header, this.txOffload, length);
    device.sendWithPayload(frame, tx, payload);
  }

  /** Cuts a super-packet whose next hop is not resolved yet into segments, each queued for the neighbour. */
  private queueSegments<NextHop>(
    resolver: NeighbourResolver<NextHop>,
    etherType: KnownEtherType,
    family: IpFamily,
    packet: Uint8Array,
    nextHop: NextHop,
    offload: TransportOffload,
  ): void {
    const header = this.headerLength;
    const frame = this.frameInScratch(etherType, packet); // each segment gets its destination when it leaves
    const tx = this.txOffload;
    tx.gsoType = family === 'ipv4' ? VnetGsoType.tcpv4 : VnetGsoType.tcpv6;
    tx.gsoSize = offload.segmentSize;
    tx.headerLength = header + offload.headerLength;
    tx.checksumStart = offload.checksumStart > 0 ? header + offload.checksumStart : 0;
    tx.checksumOffset = offload.checksumOffset;
    const refused = (this.segmenter ??= new Segmenter()).toWire(frame, tx, (segment) => void resolver.resolve(nextHop, segment.subarray(header)));
    if (refused) this.refuse(refused, frame);
  }

  /**
   * The one framing routine, for IPv4 and IPv6 alike (the hot path: only the
   * destination MAC, the EtherType and the payload change from frame to frame).
   */
  private transmit(etherType: KnownEtherType, mac: MacAddress, packet: Uint8Array, offload: TransportOffload | undefined, family: IpFamily): void {
    const header = this.headerLength;
    let frame: Uint8Array;
    let payload: Uint8Array;
    if (arriving.headroom(packet) >= header) {
      // The packet being forwarded: its received link header becomes ours (./headroom.ts), no copy here.
      frame = new Uint8Array(packet.buffer, packet.byteOffset - header, header + packet.length);
      writeMac(frame, EthernetField.DESTINATION, mac);
      writeMac(frame, EthernetField.SOURCE, this.mac);
      setU16(frame, EthernetField.ETHER_TYPE, etherType);
      payload = packet;
    } else {
      frame = this.frameInScratch(etherType, packet, mac);
      if (offload === undefined) return this.device.send(frame);
      payload = frame.subarray(header);
    }
    if (offload === undefined) return this.device.send(frame);
    const tx = frameOffload(this.device, payload, offload, family, header, this.txOffload);
    if (tx === undefined || !isGso(tx)) return this.device.send(frame, tx);
    // A super-packet the device cannot take whole (no TSO, or larger than it segments) is cut here: the one routine.
    const refused = (this.segmenter ??= new Segmenter()).sendTo(this.device, frame, tx);
    if (refused) this.refuse(refused, frame);
  }

  /**
   * A received frame's offload, in the packet's terms: the segment size, and
   * where the partial checksum starts counted from the IP header. The header
   * length is left 0 here (hdr_len is only a hint, virtio 1.x §5.1.6.2); IP
   * fills it where it needs it. null: a partial checksum that starts inside
   * the link header (dropped and counted).
   */
  private packetOffload(bytes: Uint8Array, offload: TxOffload, linkHeader: number): TransportOffload | undefined | null {
    const rx = this.rxOffload;
    if (offload.checksumStart > 0 && offload.checksumStart < linkHeader) {
      this.refuse(OffloadDrop.checksumOutOfFrame, bytes);
      return null;
    }
    rx.segmentSize = isGso(offload) ? offload.gsoSize : 0;
    rx.headerLength = 0;
    rx.checksumStart = offload.checksumStart > 0 ? offload.checksumStart - linkHeader : 0;
    rx.checksumOffset = offload.checksumOffset;
    return rx.segmentSize === 0 && rx.checksumStart === 0 ? undefined : rx;
  }

  private refuse(counter: OffloadDropCounter, bytes: Uint8Array): void {
    this.ctx.trace.dropped(counter, `${this.name}: ${OFFLOAD_DROP_REASON[counter]}`, () => `${bytes.length} bytes`);
  }

  /** `packet` framed behind this interface's Ethernet header in the scratch buffer (valid until the next framing). */
  private frameInScratch(etherType: KnownEtherType, packet: Uint8Array, mac?: MacAddress): Uint8Array {
    const header = this.headerLength;
    if (this.scratch.length < header + packet.length) this.growScratch(header + packet.length);
    const buf = this.scratch;
    if (mac !== undefined) writeMac(buf, EthernetField.DESTINATION, mac);
    setU16(buf, EthernetField.ETHER_TYPE, etherType);
    buf.set(packet, header);
    return buf.subarray(0, header + packet.length);
  }

  private growScratch(size: number): void {
    this.scratch = new Uint8Array(size);
    const header = { destination: BROADCAST_MAC, source: this.mac, etherType: EtherType.IPv4 };
    this.headerLength = emitEthernet(header, this.scratch, 0);
  }
}
