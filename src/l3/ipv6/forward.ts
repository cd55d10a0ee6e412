/**
 * IPv6 forwarding: what a router does with a packet that is not for it.
 *
 * Read first: RFC 8200 §3 (Hop Limit: "decremented by 1 by each node that
 * forwards the packet ... discarded if Hop Limit was zero when received or
 * is decremented to zero"), §5 (routers never fragment: a packet larger
 * than the next link's MTU gets Packet Too Big), RFC 4443 §3.1-3.3 (the
 * errors: no route, beyond the scope of the source, packet too big, time
 * exceeded), RFC 4291 §2.5.6 (link-local addresses are never forwarded).
 * Linux: net/ipv6/ip6_output.c ip6_forward(); its snmp6 counters.
 *
 * A router turns it on by pointing IPv6 input's forward hook at it:
 *
 *   host.ipv6.inputHooks.forward = (packet, link, linkMulticast, offload) => forwarder.forward(packet, link, linkMulticast, offload)
 *
 * A TSO super-packet (virtio-net metadata carried up from l2/interface.ts) is
 * measured by its segments (IPv6 + TCP headers + segment size, Linux
 * ip6_pkt_too_big with skb_gso_validate_network_len) and forwarded whole; the
 * outgoing interface cuts it if its device cannot (device/segment.ts).
 *
 * The Hop-by-Hop header is not examined (RFC 8200 §4.3 no longer requires it
 * of routers unless configured).
 */
import type { StackContext } from '../../core/context.js';
import { forwardedOffload, newTransportOffload, type TransportOffload, type TransportOffloadRecord } from '../../core/offload.js';
import { Icmpv6TimeExceededCode, Icmpv6Type, Icmpv6UnreachableCode } from '../icmpv6/message.js';
import type { Ipv6InputError } from './input.js';
import { formatIpv6, isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6 } from './address.js';
import { Ipv6Field, Ipv6HeaderView, describeIpv6 } from './header.js';
import type { Ipv6Link } from './link.js';
import type { Ipv6NextHop } from './output.js';

export const Forward6Counter = {
  /** Linux Ip6OutForwDatagrams. */
  outForwDatagrams: 'Ip6OutForwDatagrams',
  /** Linux Ip6InNoRoutes. */
  inNoRoutes: 'Ip6InNoRoutes',
  /** Linux Ip6InTooBigErrors: larger than the next link's MTU. */
  inTooBigErrors: 'Ip6InTooBigErrors',
  /** Linux counts an expired hop limit under Ip6InHdrErrors; tapnet names it. */
  inHopLimitExceeded: 'ip6InHopLimitExceeded',
  /** Link-local, multicast or unspecified addresses that must not cross a router. */
  inScopeErrors: 'ip6InScopeErrors',
} as const;

export interface Ipv6ForwarderOptions {
  readonly ctx: StackContext;
  route(destination: Uint8Array): Ipv6NextHop | undefined;
  sendError(packet: Uint8Array, error: Ipv6InputError & { mtu?: number }, context: { link: Ipv6Link; toMulticast: boolean }): void;
}

/** IPv6 fixed header length: where a super-packet's TCP header starts (the device took none with extension headers). */
const IPV6_HEADER = 40;

export class Ipv6Forwarder {
  private readonly header = new Ipv6HeaderView();
  /** A super-packet's offload with its header length filled in (the receive side leaves it 0). */
  private readonly offload = newTransportOffload();

  constructor(private readonly options: Ipv6ForwarderOptions) {
    options.ctx.stats.declare(...Object.values(Forward6Counter));
  }

  /**
   * `packet` (a validated IPv6 packet, not for us) arrived on `link`. Its hop
   * limit is decremented in place. `rxOffload`: a TSO super-packet and/or a
   * partial checksum, kept on the way out.
   */
  forward(packet: Uint8Array, link: Ipv6Link, linkMulticast: boolean, rxOffload?: TransportOffload): void {
    const { ctx } = this.options;
    const h = this.header;
    if (h.wrap(packet)) return; // input validated it; a guard, not a path
    const describe = (): string => describeIpv6(h);
    const context = { link, toMulticast: linkMulticast };
    const destination = h.destination;
    const source = h.source;
    if (isMulticastIpv6(destination) || isLinkLocalIpv6(destination) || linkMulticast) {
      // No multicast routing here; a link-local destination never leaves its link.
      ctx.trace.dropped(Forward6Counter.inScopeErrors, 'multicast or link-local destination', describe);
      return;
    }
    if (isUnspecifiedIpv6(source)) {
      ctx.trace.dropped(Forward6Counter.inScopeErrors, 'unspecified source', describe);
      return;
    }
    if (h.hopLimit <= 1) {
      ctx.trace.dropped(Forward6Counter.inHopLimitExceeded, `hop limit ${h.hopLimit}`, describe);
      this.options.sendError(packet, { type: Icmpv6Type.TimeExceeded, code: Icmpv6TimeExceededCode.hopLimit }, context);
      return;
    }
    const hop = this.options.route(destination);
    if (!hop) {
      ctx.trace.dropped(Forward6Counter.inNoRoutes, 'no route', describe);
      this.options.sendError(packet, { type: Icmpv6Type.DestinationUnreachable, code: Icmpv6UnreachableCode.noRoute }, context);
      return;
    }
    if (isLinkLocalIpv6(source) && hop.link !== link) {
      // RFC 4443 §3.1 code 2: the source's scope ends at the link it came from.
      ctx.trace.dropped(Forward6Counter.inScopeErrors, 'link-local source would leave its link', describe);
      this.options.sendError(packet, { type: Icmpv6Type.DestinationUnreachable, code: Icmpv6UnreachableCode.beyondScope }, context);
      return;
    }
    const offload = forwardedOffload(this.offload, rxOffload, this.header.packet, IPV6_HEADER);
    // RFC 8200 §5: routers do not fragment; a super-packet's size on the wire is its segments'.
    const length = offload !== undefined && offload.segmentSize > 0 ? offload.headerLength + offload.segmentSize : h.packet.length;
    if (length > hop.link.mtu) {
      ctx.trace.dropped(Forward6Counter.inTooBigErrors, `${length} bytes > mtu ${hop.link.mtu} of ${hop.link.name}`, describe);
      this.options.sendError(packet, { type: Icmpv6Type.PacketTooBig, code: 0, mtu: hop.link.mtu }, context);
      return;
    }
    h.decrementHopLimit();
    ctx.stats.inc(Forward6Counter.outForwDatagrams);
    ctx.trace.event('forward', () => `${formatIpv6(source)} > ${formatIpv6(destination)} via ${hop.link.name} hlim ${packet[Ipv6Field.HOP_LIMIT]}`);
    hop.link.sendIpv6(h.packet, hop.nextHop, offload);
  }
}
