/**
 * IPv4 output: route, choose a source address, fill the header, fragment.
 *
 * Read first: RFC 791 §3.2 (fragmentation), RFC 1122 §3.3.1 (routing
 * outbound datagrams), §3.3.4.2 (source address selection on a multihomed host).
 */
import type { StackContext } from '../../core/context.js';
import { Ipv4IdentificationGenerator } from './identification.js';
import { IPV4_BROADCAST, formatIpv4, inCidr, type Ipv4Address } from './address.js';
import { IPV4_DEFAULT_TTL, IPV4_HEADER_LENGTH, IPV4_MAX_PACKET_LENGTH, emitIpv4Header, ipv4Record, type Ipv4Record } from './header.js';
import { fragmentIpv4 } from './fragment.js';
import type { Ipv4Link } from './link.js';
import type { RouteTable } from '../routing/table.js';
import { completePartialChecksum, newTransportOffload, type TransportOffload } from '../../core/offload.js';
import { leavesWhole, transportOffloadFor, type IpOffloadRequest } from '../offload-request.js';
import type { Slices } from '../../core/slices.js';

/** Linux's net.ipv4.ip_default_ttl; RFC 1700 recommends 64. */

export interface Ipv4SendOptions {
  readonly destination: Ipv4Address;
  readonly protocol: number;
  /** Source address; chosen from the outgoing interface when absent (RFC 1122 §3.3.4.2). */
  readonly source?: Ipv4Address;
  readonly ttl?: number;
  readonly dscp?: number;
  /** The ECN field (RFC 3168 §5): TCP sets ECT(0) on data of an ECN-capable connection. */
  readonly ecn?: number;
  readonly dontFragment?: boolean;
  /** Send on this link instead of routing (limited broadcast, DHCP before an address exists). */
  readonly via?: Ipv4Link;
  /** TCP's offload request (TSO, partial checksum), honoured as far as the link offers it. */
  readonly offload?: Ipv4Offload;
}

/** What TCP asks of the link for one segment: the request both families share (../offload-request.ts). */
export type Ipv4Offload = IpOffloadRequest;

/** 'filtered': the local output hook (netfilter: firewall output chain, conntrack table full) dropped it, Linux's EPERM. */
export type Ipv4SendResult = 'sent' | 'noRoute' | 'messageTooLong' | 'needsFragmentation' | 'filtered';

export interface Ipv4Route {
  readonly link: Ipv4Link;
  readonly nextHop: Ipv4Address;
}

export class Ipv4Output {
  /** One transmit buffer: header + payload are assembled here, then the link copies them. */
  private readonly scratch = new Uint8Array(IPV4_MAX_PACKET_LENGTH);
  /** The header of each datagram sent, filled in place (no allocation per datagram; fragments are cut later). */
  private readonly header: Ipv4Record = ipv4Record({ protocol: 0, source: 0, destination: 0, totalLength: 0 });
  /** RFC 6864 / RFC 7739: per-destination, unpredictable IDs (./identification.ts). */
  private readonly ids: Ipv4IdentificationGenerator;
  /** The link's offload request, filled in place for each offloaded datagram. */
  private readonly offload = newTransportOffload();
  /**
   * Netfilter's OUTPUT and POSTROUTING for datagrams this node sends
   * (src/netfilter): it may rewrite the packet in place (NAT) or return
   * false to drop it. Forwarded packets (`transmit`) do not pass here.
   */
  localOut: ((packet: Uint8Array, route: Ipv4Route, partialChecksum: boolean) => boolean) | undefined;

  constructor(
    private readonly ctx: StackContext,
    private readonly routes: RouteTable<Ipv4Link>,
    private readonly links: () => readonly Ipv4Link[],
  ) {
    this.ids = new Ipv4IdentificationGenerator(ctx.clock, ctx.random);
    ctx.stats.declare('IpOutRequests', 'IpOutNoRoutes', 'IpOutDiscards', 'IpFragOKs', 'IpFragFails', 'IpFragCreates');
  }

  /** Which link and next hop a datagram to `destination` takes (longest-prefix match). */
  route(destination: Ipv4Address): Ipv4Route | undefined {
    if (destination === IPV4_BROADCAST) {
      const first = this.links()[0];
      return first ? { link: first, nextHop: destination } : undefined;
    }
    const route = this.routes.lookup(destination);
    if (!route) return undefined;
    return { link: route.value, nextHop: route.gateway ?? destination };
  }

  /** RFC 1122 §3.3.4.2: prefer the outgoing interface's address on the next hop's subnet. */
  sourceFor(link: Ipv4Link, nextHop: Ipv4Address): Ipv4Address | undefined {
    const onLink = link.ipv4Addresses.find((a) => inCidr(nextHop, a));
    return (onLink ?? link.ipv4Addresses[0])?.address;
  }

  /**
   * Sends `payload` as one IPv4 datagram (fragmented when the link needs it
   * and DF is clear). `more`: data that follows `payload` without being in its
   * buffer (TCP's send buffer, core/slices.ts); it stays where it is when the
   * datagram leaves whole through a link that gathers
   * (`Ipv4Link.sendIpv4WithPayload`), and is copied behind `payload` first
   * when anything needs the datagram in one piece (the output hook,
   * fragmentation, a link that does not gather).
   */
  send(options: Ipv4SendOptions, payload: Uint8Array, more?: Slices): Ipv4SendResult {
    this.ctx.stats.inc('IpOutRequests');
    const route = options.via ? { link: options.via, nextHop: options.destination } : this.route(options.destination);
    if (!route) {
      this.ctx.trace.dropped('IpOutNoRoutes', 'no route', () => `to ${formatIpv4(options.destination)}`);
      return 'noRoute';
    }
    const totalLength = IPV4_HEADER_LENGTH + payload.length + (more?.length ?? 0);
    if (totalLength > IPV4_MAX_PACKET_LENGTH) {
      this.ctx.trace.dropped('IpOutDiscards', 'datagram larger than 65535', () => `${totalLength} bytes`);
      return 'messageTooLong';
    }
    const source = options.source ?? this.sourceFor(route.link, route.nextHop) ?? 0;
    const dontFragment = options.dontFragment ?? false;
    const buf = this.scratch;
    const header = this.header;
    header.dscp = options.dscp ?? 0;
    header.ecn = options.ecn ?? 0;
    header.totalLength = totalLength;
    header.identification = this.ids.next(source, options.destination, options.protocol, dontFragment);
    header.dontFragment = dontFragment;
    header.ttl = options.ttl ?? IPV4_DEFAULT_TTL;
    header.protocol = options.protocol;
    header.source = source;
    header.destination = options.destination;
    emitIpv4Header(header, buf, 0);
    buf.set(payload, IPV4_HEADER_LENGTH);
    const headers = IPV4_HEADER_LENGTH + payload.length;
    if (more !== undefined && more.length > 0) {
      const gathered = this.localOut === undefined && options.offload !== undefined && route.link.sendIpv4WithPayload !== undefined;
      if (gathered && this.leavesWhole(totalLength, route.link, options.offload)) {
        this.offloadFor(options.offload);
        route.link.sendIpv4WithPayload!(buf.subarray(0, headers), route.nextHop, this.offload, more);
        return 'sent';
      }
      more.copyTo(buf, headers);
    }
    const packet = buf.subarray(0, totalLength);
    if (this.localOut && !this.localOut(packet, route, options.offload?.partialChecksumOffset !== undefined)) return 'filtered';
    if (options.offload) return this.transmitOffloaded(packet, route, options.offload);
    return this.transmit(packet, route);
  }

  /** A datagram of `length` bytes with `request` goes to `link` as one packet (the link or its device cuts a super-packet). */
  private leavesWhole(length: number, link: Ipv4Link, request: Ipv4Offload): boolean {
    return leavesWhole(length, IPV4_HEADER_LENGTH, link.mtu, link.tsoMaxSize, request);
  }

  /** TCP's request in IP's terms, in the reused record. */
  private offloadFor(request: Ipv4Offload): TransportOffload {
    return transportOffloadFor(this.offload, request, IPV4_HEADER_LENGTH);
  }

  /**
   * A segment from TCP with TSO and/or a partial checksum: one big datagram
   * (DF set by TCP) handed to the link whole, with the request in IP's terms
   * (the link and its device, device/offload.ts, do what they can and finish
   * the rest). A datagram the link cannot take whole goes the usual way, with
   * its checksum finished first: fragments cannot carry a partial one.
   */
  private transmitOffloaded(packet: Uint8Array, route: Ipv4Route, request: Ipv4Offload): Ipv4SendResult {
    const { link, nextHop } = route;
    const offload = this.offloadFor(request);
    if (!this.leavesWhole(packet.length, link, request)) {
      if (offload.checksumStart > 0) completePartialChecksum(packet, offload);
      return this.transmit(packet, route);
    }
    link.sendIpv4(packet, nextHop, offload);
    return 'sent';
  }

  /**
   * Puts a complete packet on `route.link`, fragmenting to the link MTU
   * (RFC 791 §3.2). Also used by the router for forwarded packets: a TSO
   * super-packet whose segments fit (the forwarder checked) goes whole with
   * its `offload`, the link cuts it (l2/interface.ts).
   */
  transmit(packet: Uint8Array, route: Ipv4Route, offload?: TransportOffload): Ipv4SendResult {
    const { link, nextHop } = route;
    if (packet.length <= link.mtu || (offload !== undefined && offload.segmentSize > 0)) {
      link.sendIpv4(packet, nextHop, offload);
      return 'sent';
    }
    if (offload !== undefined && offload.checksumStart > 0) completePartialChecksum(packet, offload);
    const result = fragmentIpv4(packet, link.mtu, (fragment) => {
      this.ctx.stats.inc('IpFragCreates');
      link.sendIpv4(fragment, nextHop);
    });
    if (result !== 'ok') {
      this.ctx.trace.dropped('IpFragFails', 'DF set and larger than the link MTU', () => `${packet.length} > ${link.mtu} on ${link.name}`);
      return 'needsFragmentation';
    }
    this.ctx.stats.inc('IpFragOKs');
    return 'sent';
  }
}
