/**
 * IPv6 output: route, choose a source address, fill the header, compute the
 * upper-layer checksum if asked, fragment to the path MTU.
 *
 * Read first: RFC 8200 §4.5 (fragmentation by the source), §8.1 (upper-layer
 * checksums over the pseudo-header), RFC 6724 §5 (source address selection:
 * this file keeps rules 1, 2 (scope) and 8 (longest matching prefix)), RFC
 * 4861 §5.2 (next-hop determination), RFC 8201 (path MTU).
 *
 * Transports use one call for both the header and their checksum:
 *
 *   host.ipv6Out.send({ destination, nextHeader: IpProtocol.UDP, checksumOffset: 6 }, udpDatagram)
 *
 * and `sourceFor(destination)` when they must know the source first (TCP's
 * connection tuple). TCP fills its own checksum (complete, or only the
 * pseudo-header sum for the link to finish) and may ask for TSO: `offload`
 * (../offload-request.ts, the request IPv4 output takes too), and its data
 * may follow as send-buffer slices (`more`) that a gathering link writes
 * without a copy. Such a packet is never fragmented: it leaves whole when it
 * fits the path MTU or its segments do (headers + gso_size), else it is
 * refused as for a plain packet with `dontFragment`.
 */
import type { StackContext } from '../../core/context.js';
import { newTransportOffload } from '../../core/offload.js';
import type { Slices } from '../../core/slices.js';
import { leavesWhole, transportOffloadFor, type IpOffloadRequest } from '../offload-request.js';
import { FlowLabeler } from './flow-label.js';
import { fold, pseudoHeaderSumV6, sumWords } from '../../core/checksum.js';
import { setU16 } from '../../core/bytes.js';
import {
  formatIpv6,
  inIpv6Cidr,
  isLinkLocalIpv6,
  isMulticastIpv6,
  multicastScope,
  MulticastScope,
  type Ipv6Address,
} from './address.js';
import { FRAGMENT_HEADER_LENGTH } from './fragment-header.js';
import { IPV6_DEFAULT_HOP_LIMIT, IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD_LENGTH, Ipv6Field, emitIpv6Header, type Ipv6Record } from './header.js';
import { fragmentIpv6 } from './fragment.js';
import type { Ipv6Link } from './link.js';
import { emitIpv6OptionsHeader, ipv6OptionsHeaderLength, type Ipv6OptionsHeaderRecord } from './options.js';
import { PathMtuCache } from './path-mtu.js';
import type { Ipv6RouteTable } from './route-table.js';
import { IpProtocol } from '../ip-protocol.js';

/** RFC 3493 §5.2 IPV6_MULTICAST_HOPS default: multicast stays on the link unless asked. */
export const IPV6_DEFAULT_MULTICAST_HOP_LIMIT = 1;

export interface Ipv6SendOptions {
  readonly destination: Ipv6Address;
  readonly nextHeader: number;
  /** Chosen by RFC 6724 rules from the outgoing link when absent. */
  readonly source?: Ipv6Address;
  /** Default 64 (1 for multicast). */
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  /** Send on this link, to `destination` as the next hop (link-local and multicast destinations). */
  readonly via?: Ipv6Link;
  /**
   * Offset of a 16-bit checksum inside `payload` to fill with the RFC 8200
   * §8.1 checksum (UDP 6, TCP 16, ICMPv6 2). Absent: the payload is sent as is.
   */
  readonly checksumOffset?: number;
  /** Fail with 'needsFragmentation' instead of fragmenting (a transport that does its own segmentation). */
  readonly dontFragment?: boolean;
  /** A Hop-by-Hop Options header to insert (MLD's Router Alert). */
  readonly hopByHop?: Ipv6OptionsHeaderRecord;
  /**
   * TCP's offload request (TSO, partial checksum; the transport filled its
   * checksum field itself), honoured as far as the link offers it; offsets
   * count from the IPv6 header (behind a Hop-by-Hop header, if any). Implies
   * `dontFragment`; not with `checksumOffset`.
   */
  readonly offload?: IpOffloadRequest;
}

export type Ipv6SendResult = 'sent' | 'noRoute' | 'noSourceAddress' | 'messageTooLong' | 'needsFragmentation';

export interface Ipv6NextHop {
  readonly link: Ipv6Link;
  readonly nextHop: Ipv6Address;
}

export class Ipv6Output {
  private readonly scratch = new Uint8Array(IPV6_HEADER_LENGTH + IPV6_MAX_PAYLOAD_LENGTH);
  readonly pathMtu: PathMtuCache;
  /** RFC 6437: per-flow labels (./flow-label.ts). */
  private readonly flowLabels: FlowLabeler;
  /** The header of each packet sent, filled in place (no allocation per packet). */
  private readonly header: Ipv6Record = {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: 0,
    nextHeader: 0,
    hopLimit: IPV6_DEFAULT_HOP_LIMIT,
    source: new Uint8Array(16),
    destination: new Uint8Array(16),
  };
  /** The link's offload request, filled in place for each offloaded packet. */
  private readonly offload = newTransportOffload();

  constructor(
    private readonly ctx: StackContext,
    private readonly routes: Ipv6RouteTable<Ipv6Link>,
    private readonly links: () => readonly Ipv6Link[],
  ) {
    this.pathMtu = new PathMtuCache(ctx);
    this.flowLabels = new FlowLabeler(ctx.random);
    ctx.stats.declare('Ip6OutRequests', 'Ip6OutNoRoutes', 'Ip6OutDiscards', 'Ip6OutMcastPkts', 'Ip6FragOKs', 'Ip6FragFails', 'Ip6FragCreates');
  }

  /**
   * The link and next hop towards `destination`. Link-local and link-scope
   * multicast destinations name no link by themselves (RFC 4007 zones): with
   * one IPv6 link it is that one, with several the caller must say `via`.
   */
  route(destination: Ipv6Address): Ipv6NextHop | undefined {
    if (isLinkLocalIpv6(destination) || (isMulticastIpv6(destination) && multicastScope(destination) <= MulticastScope.LinkLocal)) {
      const links = this.links();
      return links.length === 1 ? { link: links[0]!, nextHop: destination } : undefined;
    }
    const route = this.routes.lookup(destination);
    if (!route) return undefined;
    return { link: route.value, nextHop: route.gateway ?? destination };
  }

  /**
   * RFC 6724 §5, the rules that matter on a lab: only preferred addresses
   * (rule 3), same scope as the destination (rule 2: link-local for
   * link-local and link-scope multicast), then the longest matching prefix
   * (rule 8). Undefined when the link has no usable address yet.
   */
  sourceFor(destination: Ipv6Address, link?: Ipv6Link): Ipv6Address | undefined {
    const out = link ?? this.route(destination)?.link;
    if (!out) return undefined;
    const wantLinkLocal = isLinkLocalIpv6(destination) || (isMulticastIpv6(destination) && multicastScope(destination) <= MulticastScope.LinkLocal);
    let best: Ipv6Address | undefined;
    let bestLength = -1;
    let fallback: Ipv6Address | undefined;
    for (const a of out.ipv6Addresses) {
      if (a.state !== 'preferred') continue;
      const linkLocal = isLinkLocalIpv6(a.address);
      if (linkLocal !== wantLinkLocal) {
        fallback ??= a.address;
        continue;
      }
      const length = inIpv6Cidr(destination, a) ? a.prefixLength : 0;
      if (length > bestLength) {
        best = a.address;
        bestLength = length;
      }
    }
    return best ?? fallback;
  }

  /** The MTU to use towards `destination` on `link`: the link MTU or a smaller learned path MTU. */
  mtuFor(destination: Ipv6Address, link: Ipv6Link): number {
    const learned = this.pathMtu.lookup(destination);
    return learned === undefined ? link.mtu : Math.min(learned, link.mtu);
  }

  /**
   * Sends `payload` as one IPv6 packet (fragmented when the path needs it
   * and neither `dontFragment` nor `offload` forbids it). `more`: data that
   * follows `payload` without being in its buffer (TCP's send buffer,
   * core/slices.ts); it stays where it is when the packet leaves whole
   * through a link that gathers (`Ipv6Link.sendIpv6WithPayload`), and is
   * copied behind `payload` first otherwise.
   */
  send(options: Ipv6SendOptions, payload: Uint8Array, more?: Slices): Ipv6SendResult {
    const { ctx } = this;
    ctx.stats.inc('Ip6OutRequests');
    const destination = options.destination;
    const hop: Ipv6NextHop | undefined = options.via ? { link: options.via, nextHop: destination } : this.route(destination);
    if (!hop) {
      ctx.trace.dropped('Ip6OutNoRoutes', 'no route', () => `to ${formatIpv6(destination)}`);
      return 'noRoute';
    }
    const source = options.source ?? this.sourceFor(destination, hop.link);
    if (!source) {
      ctx.trace.dropped('Ip6OutDiscards', 'no preferred source address on the link yet', () => `to ${formatIpv6(destination)} via ${hop.link.name}`);
      return 'noSourceAddress';
    }
    const hbhLength = options.hopByHop ? ipv6OptionsHeaderLength(options.hopByHop) : 0;
    const payloadLength = hbhLength + payload.length + (more?.length ?? 0);
    if (payloadLength > IPV6_MAX_PAYLOAD_LENGTH) {
      ctx.trace.dropped('Ip6OutDiscards', 'payload larger than 65535', () => `${payloadLength} bytes`);
      return 'messageTooLong';
    }
    const multicast = isMulticastIpv6(destination);
    const buf = this.scratch;
    const header = this.header;
    header.trafficClass = options.trafficClass ?? 0;
    header.flowLabel = options.flowLabel ?? this.flowLabels.labelFor(source, destination, options.nextHeader, payload);
    header.payloadLength = payloadLength;
    header.nextHeader = options.hopByHop ? IpProtocol.HopByHop : options.nextHeader;
    header.hopLimit = options.hopLimit ?? (multicast ? IPV6_DEFAULT_MULTICAST_HOP_LIMIT : IPV6_DEFAULT_HOP_LIMIT);
    header.source = source;
    header.destination = destination;
    emitIpv6Header(header, buf, 0);
    if (options.hopByHop) emitIpv6OptionsHeader({ ...options.hopByHop, nextHeader: options.nextHeader }, buf, IPV6_HEADER_LENGTH);
    const upper = IPV6_HEADER_LENGTH + hbhLength;
    buf.set(payload, upper);
    const length = IPV6_HEADER_LENGTH + payloadLength;
    const request = options.offload;
    if (more !== undefined && more.length > 0) {
      const link = hop.link;
      if (request !== undefined && link.sendIpv6WithPayload !== undefined && this.leavesWhole(length, upper, destination, hop, request)) {
        if (multicast) ctx.stats.inc('Ip6OutMcastPkts');
        link.sendIpv6WithPayload(buf.subarray(0, upper + payload.length), hop.nextHop, transportOffloadFor(this.offload, request, upper), more);
        return 'sent';
      }
      more.copyTo(buf, upper + payload.length);
    }
    if (options.checksumOffset !== undefined) {
      const at = upper + options.checksumOffset;
      const upperLength = length - upper;
      setU16(buf, at, 0);
      const sum = sumWords(buf, upper, upperLength, pseudoHeaderSumV6(source, destination, options.nextHeader, upperLength));
      let checksum = ~fold(sum) & 0xffff;
      // RFC 768 / RFC 8200 §8.1: a computed UDP checksum of zero is sent as all ones.
      if (checksum === 0 && options.nextHeader === IpProtocol.UDP) checksum = 0xffff;
      setU16(buf, at, checksum);
    }
    if (multicast) ctx.stats.inc('Ip6OutMcastPkts');
    const packet = buf.subarray(0, length);
    if (request !== undefined) return this.transmitOffloaded(packet, upper, destination, hop, request);
    return this.transmit(packet, hop, upper, hbhLength > 0 ? IPV6_HEADER_LENGTH : Ipv6Field.NEXT_HEADER, options.dontFragment ?? false);
  }

  /** A packet of `length` bytes with `request` goes to the link as one packet: it fits the path MTU, or its segments do. */
  private leavesWhole(length: number, upper: number, destination: Ipv6Address, hop: Ipv6NextHop, request: IpOffloadRequest): boolean {
    return leavesWhole(length, upper, this.mtuFor(destination, hop.link), hop.link.tsoMaxSize, request);
  }

  /**
   * A segment from TCP with TSO and/or a partial checksum: handed to the link
   * whole with the request in IP's terms (l2/interface.ts and its device do
   * what they can and finish the rest). One the link cannot take whole (its
   * segments larger than the path MTU, TSO the link does not offer) is
   * refused as too big, as a plain packet with `dontFragment`: TCP sizes its
   * segments to the path (RFC 8201 §5.2), IPv6 never fragments them.
   */
  private transmitOffloaded(packet: Uint8Array, upper: number, destination: Ipv6Address, hop: Ipv6NextHop, request: IpOffloadRequest): Ipv6SendResult {
    if (!this.leavesWhole(packet.length, upper, destination, hop, request)) return this.transmit(packet, hop, upper, Ipv6Field.NEXT_HEADER, true);
    hop.link.sendIpv6(packet, hop.nextHop, transportOffloadFor(this.offload, request, upper));
    return 'sent';
  }

  /**
   * Puts a complete packet on the link, fragmenting it as its source (RFC
   * 8200 §4.5) when it is larger than the path MTU. `unfragmentableLength`
   * and `nextHeaderField` say where the fragmentable part starts.
   */
  transmit(packet: Uint8Array, hop: Ipv6NextHop, unfragmentableLength = IPV6_HEADER_LENGTH, nextHeaderField: number = Ipv6Field.NEXT_HEADER, dontFragment = false): Ipv6SendResult {
    const { link, nextHop } = hop;
    const mtu = this.mtuFor(packet.subarray(Ipv6Field.DESTINATION, Ipv6Field.DESTINATION + 16), link);
    if (packet.length <= mtu) {
      link.sendIpv6(packet, nextHop);
      return 'sent';
    }
    if (dontFragment || unfragmentableLength + FRAGMENT_HEADER_LENGTH + 8 > mtu) {
      this.ctx.trace.dropped('Ip6FragFails', 'larger than the path MTU and not to be fragmented', () => `${packet.length} > ${mtu} on ${link.name}`);
      return 'needsFragmentation';
    }
    // RFC 7739: an unpredictable Identification per fragmented packet.
    const identification = this.ctx.random.u32();
    fragmentIpv6(packet, unfragmentableLength, nextHeaderField, mtu, identification, (fragment) => {
      this.ctx.stats.inc('Ip6FragCreates');
      link.sendIpv6(fragment, nextHop);
    });
    this.ctx.stats.inc('Ip6FragOKs');
    return 'sent';
  }
}
