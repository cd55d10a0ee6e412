/**
 * The IPv6 side of one Ethernet interface: its addresses and their DAD
 * state, the multicast groups it listens to, and the per-link protocols
 * (the Ethernet interface below, l2/interface.ts, frames the packets as
 * RFC 2464 says, with NDP resolving next hops): Neighbor Discovery
 * (../icmpv6/ndp.ts), MLD (../icmpv6/mld.ts) and, on a router, router
 * advertisements (../icmpv6/router-advertiser.ts). Linux keeps the same
 * things together in `struct inet6_dev`.
 *
 * Read first: RFC 4862 §5.3-5.4 (a link-local address for every interface,
 * DAD before any address is used), RFC 4291 §2.8 (the addresses and groups
 * a node must recognise: its link-local and other unicast addresses,
 * all-nodes, the solicited-node group of each address, and all-routers on a
 * router), RFC 2464 §6-7 (EUI-64 link-local, multicast MACs).
 */
import type { StackContext } from '../../core/context.js';
import type { TransportOffload } from '../../core/offload.js';
import type { Slices } from '../../core/slices.js';
import type { MacAddress } from '../../l2/mac-address.js';
import type { NeighbourTimings } from '../../l2/neighbour/cache.js';
import { Mld } from '../icmpv6/mld.js';
import { Ndp } from '../icmpv6/ndp.js';
import { RouterAdvertiser, type RouterAdvertisementConfig } from '../icmpv6/router-advertiser.js';
import {
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  formatIpv6,
  formatIpv6Cidr,
  ipv6Equal,
  ipv6Key,
  isLinkLocalIpv6,
  isMulticastIpv6,
  linkLocalFromMac,
  solicitedNodeMulticast,
  type Ipv6Address,
  type Ipv6Cidr,
} from './address.js';
import { IPV6_HEADER_LENGTH, emitIpv6Header } from './header.js';
import type { Ipv6InterfaceAddress, Ipv6Link, Ipv6LinkLayer } from './link.js';
import { IpProtocol } from '../ip-protocol.js';
import { emitIpv6OptionsHeader, Ipv6OptionType, RouterAlertValue } from './options.js';

/** RFC 4862 §5.1 DupAddrDetectTransmits; Linux net.ipv6.conf.*.dad_transmits is 1. */
export const DAD_TRANSMITS = 1;

export interface Ipv6InterfaceOptions {
  readonly ctx: StackContext;
  /** The Ethernet interface below: it frames, and asks this interface's NDP for MACs. */
  readonly link: Ipv6LinkLayer;
  /** Configured addresses, added after the EUI-64 link-local one. */
  readonly addresses?: readonly Ipv6Cidr[];
  /** Act as a router on this link: join all-routers, answer router solicitations, advertise. */
  readonly router?: RouterAdvertisementConfig;
  /** Act as a host that takes its addresses from router advertisements (SLAAC, RFC 4862 §5.5). */
  readonly acceptRouterAdvertisements?: boolean;
  readonly dadTransmits?: number;
  readonly neighbourCache?: { maxEntries?: number; timings?: Partial<NeighbourTimings> };
  /** An address was added or changed state (the host keeps its routes with this). */
  onAddress?(address: Ipv6InterfaceAddress, link: Ipv6Interface): void;
  /** A router advertised itself as a default router (lifetime in seconds, 0 = withdrawn). */
  onDefaultRouter?(router: Ipv6Address, lifetimeSeconds: number, link: Ipv6Interface): void;
}

/** Scratch for link-local control messages (NDP, MLD): always far below 1280 bytes. */
const CONTROL_SCRATCH = 2048;

export class Ipv6Interface implements Ipv6Link {
  readonly ctx: StackContext;
  readonly name: string;
  readonly mac: MacAddress;
  readonly ipv6Addresses: Ipv6InterfaceAddress[] = [];
  readonly ndp: Ndp;
  readonly mld: Mld;
  readonly advertiser: RouterAdvertiser | undefined;
  readonly isRouter: boolean;
  readonly acceptRouterAdvertisements: boolean;
  readonly dadTransmits: number;
  /** DNS servers learned from RDNSS options (RFC 8106), when accepting router advertisements. */
  dnsServers: Ipv6Address[] = [];
  private readonly groups = new Map<string, Ipv6Address>();
  private started = false;
  private readonly control = new Uint8Array(CONTROL_SCRATCH);

  constructor(readonly options: Ipv6InterfaceOptions) {
    this.ctx = options.ctx;
    this.name = options.link.name;
    this.mac = options.link.mac;
    this.isRouter = options.router !== undefined;
    this.acceptRouterAdvertisements = options.acceptRouterAdvertisements ?? false;
    this.dadTransmits = options.dadTransmits ?? DAD_TRANSMITS;
    this.ndp = new Ndp(this, options.neighbourCache);
    this.mld = new Mld(this);
    this.advertiser = options.router ? new RouterAdvertiser(this, options.router) : undefined;
    this.joinGroup(IPV6_ALL_NODES);
    if (this.isRouter) this.joinGroup(IPV6_ALL_ROUTERS);
    this.addAddress({ address: linkLocalFromMac(this.mac), prefixLength: 64 });
    for (const a of options.addresses ?? []) this.addAddress(a);
  }

  get mtu(): number {
    return this.options.link.mtu;
  }

  get rxChecksumValid(): boolean {
    return this.options.link.rxChecksumValid;
  }

  /** Largest packet the device below segments itself (TSO), 0 when it cannot. */
  get tsoMaxSize(): number {
    return this.options.link.tsoMaxSize;
  }

  /** The device below finishes partial transport checksums. */
  get checksumOffload(): boolean {
    return this.options.link.checksumOffload;
  }

  /** The preferred link-local address, once DAD let it be used. */
  get linkLocal(): Ipv6Address | undefined {
    return this.ipv6Addresses.find((a) => a.state === 'preferred' && isLinkLocalIpv6(a.address))?.address;
  }

  /** Our address entry for `address`, in any state. */
  addressEntry(address: Ipv6Address): Ipv6InterfaceAddress | undefined {
    return this.ipv6Addresses.find((a) => ipv6Equal(a.address, address));
  }

  /**
   * Adds an address, tentative until DAD passes (RFC 4862 §5.4), and joins
   * its solicited-node group first (§5.4.2: "before sending a Neighbor
   * Solicitation, an interface MUST join the ... solicited-node multicast
   * address of the tentative address").
   */
  addAddress(cidr: Ipv6Cidr, autoconfigured = false): Ipv6InterfaceAddress {
    const existing = this.addressEntry(cidr.address);
    if (existing) return existing;
    const entry: Ipv6InterfaceAddress = {
      address: cidr.address.slice(),
      prefixLength: cidr.prefixLength,
      state: this.dadTransmits === 0 ? 'preferred' : 'tentative',
      autoconfigured,
    };
    // Link-local first: source selection and `show` read it that way.
    if (isLinkLocalIpv6(entry.address)) this.ipv6Addresses.unshift(entry);
    else this.ipv6Addresses.push(entry);
    this.joinGroup(solicitedNodeMulticast(entry.address));
    this.options.onAddress?.(entry, this);
    if (this.started && entry.state === 'tentative') this.ndp.startDuplicateAddressDetection(entry);
    return entry;
  }

  /** DAD finished for `entry` (called by NDP). */
  addressStateChanged(entry: Ipv6InterfaceAddress): void {
    this.ctx.trace.event(`IPv6 address ${entry.state}`, () => `${formatIpv6Cidr(entry)} on ${this.name}`);
    if (entry.state === 'duplicate') {
      this.ctx.trace.log.warn(`${this.name}: ${formatIpv6(entry.address)} is in use by another node (DAD failed); not using it`);
    }
    this.options.onAddress?.(entry, this);
    if (entry.state === 'preferred' && isLinkLocalIpv6(entry.address)) {
      // Now reports can come from a proper source (RFC 3810 §5.2.13), and a router can advertise.
      this.mld.reportAll();
      this.advertiser?.start();
    }
  }

  /** Brings IPv6 up on the link: MLD reports for our groups, then DAD for every tentative address. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.mld.reportAll();
    for (const a of [...this.ipv6Addresses]) {
      if (a.state === 'tentative') this.ndp.startDuplicateAddressDetection(a);
      else if (isLinkLocalIpv6(a.address)) this.addressStateChanged(a);
    }
  }

  stop(): void {
    this.advertiser?.stop();
    this.ndp.stop();
  }

  hasGroup(group: Ipv6Address): boolean {
    return this.groups.has(ipv6Key(group));
  }

  joinGroup(group: Ipv6Address): void {
    const key = ipv6Key(group);
    if (this.groups.has(key)) return;
    this.groups.set(key, group.slice());
    if (this.started) this.mld.reportJoin(group);
  }

  /** Joined groups, in joining order. */
  joinedGroups(): Ipv6Address[] {
    return [...this.groups.values()];
  }

  /** Hands an IPv6 packet to the Ethernet interface for `nextHop`: multicast maps to a MAC, unicast asks NDP. */
  sendIpv6(packet: Uint8Array, nextHop: Ipv6Address, offload?: TransportOffload): void {
    this.options.link.sendIpv6(packet, nextHop, offload);
  }

  /** As `sendIpv6`, with the data in `payload` (slices the device may write without a copy). */
  sendIpv6WithPayload(packet: Uint8Array, nextHop: Ipv6Address, offload: TransportOffload, payload: Slices): void {
    this.options.link.sendIpv6WithPayload(packet, nextHop, offload, payload);
  }

  /**
   * Sends a link-scoped ICMPv6 control message (NDP, MLD) that this
   * interface builds itself: `emit` writes the message with its checksum.
   * Multicast goes to its MAC, `unicastMac` straight to a known neighbour,
   * anything else through neighbour resolution.
   */
  sendControl(
    header: { source: Ipv6Address; destination: Ipv6Address; hopLimit: number; routerAlert?: boolean; unicastMac?: MacAddress },
    emit: (buf: Uint8Array, offset: number, source: Ipv6Address, destination: Ipv6Address) => number,
  ): void {
    const buf = this.control;
    let offset = IPV6_HEADER_LENGTH;
    if (header.routerAlert) {
      // RFC 3810 §5: MLD messages carry a Hop-by-Hop Router Alert (RFC 2711, value 0 = MLD).
      offset += emitIpv6OptionsHeader(
        { nextHeader: IpProtocol.ICMPv6, options: [{ type: Ipv6OptionType.RouterAlert, data: Uint8Array.of(0, RouterAlertValue.Mld) }] },
        buf,
        offset,
      );
    }
    const length = emit(buf, offset, header.source, header.destination);
    emitIpv6Header(
      {
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: offset - IPV6_HEADER_LENGTH + length,
        nextHeader: header.routerAlert ? IpProtocol.HopByHop : IpProtocol.ICMPv6,
        hopLimit: header.hopLimit,
        source: header.source,
        destination: header.destination,
      },
      buf,
      0,
    );
    const packet = buf.subarray(0, offset + length);
    if (header.unicastMac !== undefined && !isMulticastIpv6(header.destination)) this.options.link.sendIpv6ToMac(packet, header.unicastMac);
    else this.options.link.sendIpv6(packet, header.destination);
  }

  describe(): string {
    return this.ipv6Addresses.map((a) => `inet6 ${formatIpv6Cidr(a)}${a.state === 'preferred' ? '' : ` ${a.state}`}`).join('\n');
  }
}
