/**
 * A router: a Host with IPv4 forwarding turned on (ARCHITECTURE.md: "routers
 * and hosts share the same L3 code"). It answers ping and traceroute's UDP
 * probes for its own addresses like any host, and forwards the rest through
 * `Ipv4Forwarder` (src/l3/routing/forward.ts, RFC 1812).
 *
 * Hook points for NAT, conntrack and the firewall (src/l3/routing/hooks.ts):
 *
 *   router.hooks.add('prerouting', hook, { priority: HookPriority.dnat, name: 'dnat' })
 *   router.hooks.add('input',      hook, { name: 'filter-input' })
 *   router.hooks.add('forward',    hook, { name: 'filter-forward' })
 *   router.hooks.add('postrouting', hook, { priority: HookPriority.snat, name: 'masquerade' })
 *
 * prerouting and input run here, before Ipv4Input makes its "for us?"
 * decision (so DNAT to another host turns a packet for the router into one to
 * forward, as in netfilter); they enter the inbound path where it is declared
 * (./inbound.ts, through `routerStages`). forward and postrouting run in the
 * forwarder. With no hooks registered, packets go straight to Ipv4Input.
 */
import type { StackContext } from '../core/context.js';
import type { Device } from '../device/device.js';
import type { InterfaceOptions, NetworkInterface } from '../l2/interface.js';
import { IPV4_BROADCAST, broadcastOf, formatIpv4, formatIpv4Cidr, inCidr, isMulticastIpv4, type Ipv4Address, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { Ipv4HeaderView, describeIpv4 } from '../l3/ipv4/header.js';
import type { Ipv4Link } from '../l3/ipv4/link.js';
import type { TransportOffload } from '../core/offload.js';
import { Icmpv4UnreachableCode } from '../l3/icmpv4/message.js';
import { ForwardCounter, Ipv4Forwarder, RejectRoute, type RpFilterMode } from '../l3/routing/forward.js';
import { HookTable, type HookPacket, type HookPoint } from '../l3/routing/hooks.js';
import { Ipv6Forwarder } from '../l3/ipv6/forward.js';
import { describeRoute } from '../l3/routing/table.js';
import { Host } from './host.js';
import type { InboundLayers } from './inbound.js';

export type RouteType = 'unicast' | 'unreachable' | 'prohibit' | 'blackhole';

/** A static route, as `ip route add` takes it. */
export interface StaticRoute {
  readonly destination: Ipv4Cidr;
  /** Next-hop router; it must be on a connected network. */
  readonly gateway?: Ipv4Address;
  /** Interface name; needed for a route without a gateway, else found from the gateway. */
  readonly interface?: string;
  readonly metric?: number;
  /** Default 'unicast'. The others are Linux's reject route types (`ip route add prohibit 10.9.0.0/16`). */
  readonly type?: RouteType;
}

export interface RouterOptions {
  /** Reverse-path filtering (RFC 3704); default 'off' like Linux's rp_filter=0. */
  readonly rpFilter?: RpFilterMode;
}

/**
 * Packets held per unresolved next hop. A host's 3 (neighbour/cache.ts) is too few
 * for a router: traceroute sends 16 probes at once, and all but the last 3
 * would be dropped while ARP resolves a cold next hop. Linux queues by bytes,
 * unres_qlen_bytes = 212992, about 101 full-size packets (SKB_TRUESIZE(1500)).
 */
export const ROUTER_ARP_QUEUE_PACKETS = 101;

export const RouterCounter = {
  /** Dropped or rejected by a prerouting or input hook. */
  inFiltered: 'ipInFiltered',
} as const;

export class Router extends Host {
  readonly hooks = new HookTable();
  /** Conntrack, NAT and firewall once attached (src/netfilter: `Netfilter.attach(router, config)`); they answer `show conntrack|nat|firewall`. */
  netfilter: { show(what: 'conntrack' | 'firewall' | 'nat'): string; showJson(what: 'conntrack' | 'firewall' | 'nat'): unknown } | undefined;
  /** The way out through the host's sockets, when the lab gives the router one (src/services/uplink). */
  uplink: { show(): string } | undefined;
  readonly forwarder: Ipv4Forwarder;
  /** RFC 8200 forwarding for interfaces added with an `ipv6` config (src/l3/ipv6/forward.ts). */
  readonly forwarder6: Ipv6Forwarder;
  private readonly rejectRoutes: Record<Exclude<RouteType, 'unicast'>, RejectRoute>;
  private readonly preHeader = new Ipv4HeaderView();
  private readonly hookPacket: { -readonly [K in keyof HookPacket]: HookPacket[K] } = {
    bytes: new Uint8Array(0),
    inLink: undefined as unknown as Ipv4Link,
    outLink: undefined,
    nextHop: undefined,
    linkBroadcast: false,
    offload: undefined,
  };
  private forwardingOn = false;

  constructor(ctx: StackContext, options: RouterOptions = {}) {
    super(ctx);
    this.forwarder = new Ipv4Forwarder({
      ctx,
      route: (destination) => this.ipv4Out.route(destination),
      transmit: (packet, route, offload) => this.ipv4Out.transmit(packet, route, offload),
      sendIcmpError: (original, kind) => this.icmp.sendError(original, kind, false),
      hooks: this.hooks,
    });
    this.forwarder.rpFilter = options.rpFilter ?? this.forwarder.rpFilter;
    this.forwarder6 = new Ipv6Forwarder({
      ctx,
      route: (destination) => this.ipv6.output.route(destination),
      sendError: (packet, error, context) => this.ipv6.icmp.sendError(packet, error, context),
    });
    this.rejectRoutes = {
      unreachable: new RejectRoute('unreachable', ctx),
      prohibit: new RejectRoute('prohibit', ctx),
      blackhole: new RejectRoute('blackhole', ctx),
    };
    ctx.stats.declare(...Object.values(RouterCounter));
    this.forwarding = true;
  }

  /** net.ipv4.ip_forward and net.ipv6.conf.all.forwarding: with it off, the router is a multihomed host (RFC 1122 §3.3.4). */
  get forwarding(): boolean {
    return this.forwardingOn;
  }
  set forwarding(on: boolean) {
    this.forwardingOn = on;
    this.ipv4Hooks.forward = on ? (packet, link, linkBroadcast, offload) => this.forwarder.forward(packet, link, linkBroadcast, offload) : undefined;
    this.ipv6.inputHooks.forward = on ? (packet, link, linkMulticast, offload) => this.forwarder6.forward(packet, link, linkMulticast, offload) : undefined;
  }

  /**
   * A router's interfaces hold more packets per unresolved next hop. A
   * super-frame from a device with offload is routed and NATed whole: its
   * metadata travels with the packet (l2/interface.ts → l3/routing/forward.ts,
   * l3/ipv6/forward.ts), the MTU is checked against its segments, and the
   * outgoing interface cuts it where its device cannot take it
   * (device/segment.ts, the routine the switch uses).
   */
  override addInterface(device: Device, options: Parameters<Host['addInterface']>[1]): NetworkInterface {
    return super.addInterface(device, { ...options, arpCache: { queueMaxPackets: ROUTER_ARP_QUEUE_PACKETS, ...options.arpCache } });
  }

  /** Netfilter's PREROUTING and INPUT, and ICMP for next hops that never answered, in the inbound path (./inbound.ts). */
  protected override routerStages(): Pick<InboundLayers, 'prerouting' | 'ipv4Unreachable'> {
    return {
      prerouting: (packet, link, linkBroadcast, offload) =>
        this.hooks.isEmpty('prerouting') && this.hooks.isEmpty('input') ? packet : this.preroute(packet, link, linkBroadcast, offload),
      ipv4Unreachable: (packet, nextHop) => this.nextHopFailed(packet, nextHop),
    };
  }

  /** Adds a static route; throws (naming the route) when the gateway is not on a connected network. */
  addRoute(route: StaticRoute): void {
    const type = route.type ?? 'unicast';
    if (type !== 'unicast') {
      this.routes.add({ destination: route.destination, metric: route.metric, value: this.rejectRoutes[type] });
      return;
    }
    let link: Ipv4Link | undefined;
    if (route.interface !== undefined) {
      link = this.linkNamed(route.interface);
      if (!link) throw new Error(`route ${formatIpv4Cidr(route.destination)}: no interface '${route.interface}'`);
    } else if (route.gateway !== undefined) {
      link = this.interfaces.find((i) => i.ipv4Addresses.some((a) => inCidr(route.gateway!, a)));
    }
    if (!link) {
      const via = route.gateway === undefined ? 'a gateway or an interface' : `gateway ${formatIpv4(route.gateway)} on a connected network`;
      throw new Error(`route ${formatIpv4Cidr(route.destination)}: needs ${via}`);
    }
    this.routes.add({ destination: route.destination, gateway: route.gateway, metric: route.metric, value: link });
  }

  /**
   * prerouting, then input for packets addressed to us. Returns the bytes to
   * hand to Ipv4Input, or undefined when a hook took or dropped the packet.
   * A packet that does not parse goes up unchanged: Ipv4Input counts it.
   */
  private preroute(packet: Uint8Array, link: Ipv4Link, linkBroadcast: boolean, offload: TransportOffload | undefined): Uint8Array | undefined {
    const header = this.preHeader;
    if (header.wrap(packet)) return packet;
    const p = this.hookPacket;
    p.bytes = header.packet;
    p.inLink = link;
    p.outLink = undefined;
    p.nextHop = undefined;
    p.linkBroadcast = linkBroadcast;
    p.offload = offload;
    if (!this.runHook('prerouting', p)) return undefined;
    if (!this.hooks.isEmpty('input') && !header.wrap(p.bytes) && this.isForUs(header.destination, link)) {
      if (!this.runHook('input', p)) return undefined;
    }
    return p.bytes;
  }

  private isForUs(destination: Ipv4Address, link: Ipv4Link): boolean {
    if (destination === IPV4_BROADCAST || isMulticastIpv4(destination) || this.ipv4In.isLocalAddress(destination)) return true;
    return link.ipv4Addresses.some((a) => a.prefixLength < 31 && broadcastOf(a) === destination);
  }

  private runHook(point: HookPoint, p: HookPacket): boolean {
    const { verdict, by } = this.hooks.run(point, p);
    if (verdict === 'accept') return true;
    if (verdict === 'stolen') return false;
    this.ctx.trace.dropped(RouterCounter.inFiltered, `${point} hook ${by}: ${verdict === 'drop' ? 'drop' : (verdict.reason ?? `reject ${verdict.reject}`)}`, () =>
      describeIpv4(p.bytes),
    );
    if (verdict !== 'drop') this.icmp.sendError(p.bytes, { type: 'destinationUnreachable', code: verdict.reject }, p.linkBroadcast);
    return false;
  }

  /** RFC 1812 §5.2.7.1: a forwarded packet whose next hop never answered ARP gets ICMP host unreachable. */
  private nextHopFailed(packet: Uint8Array, nextHop: number): void {
    const header = this.preHeader;
    if (header.wrap(packet, false)) return;
    if (this.ipv4In.isLocalAddress(header.source)) return; // our own packet: nobody to tell but ourselves
    this.ctx.trace.dropped(ForwardCounter.nextHopUnreachable, `next hop ${formatIpv4(nextHop)} did not answer ARP`, () => describeIpv4(packet));
    this.icmp.sendError(packet, { type: 'destinationUnreachable', code: Icmpv4UnreachableCode.host }, false);
  }

  override showJson(what: string): unknown {
    switch (what) {
      case 'conntrack':
      case 'firewall':
      case 'nat':
        if (!this.netfilter) throw new Error(`no conntrack, NAT or firewall on this router (add nat: or firewall: to it)`);
        return this.netfilter.showJson(what);
      case 'uplink':
      case 'hooks':
        // Lines of text: these describe configuration rather than rows of state.
        return this.show(what).split('\n').filter(Boolean);
      default:
        return super.showJson(what);
    }
  }

  /** Reject routes show their type (`ip -j route`: "type": "unreachable"). */
  protected override routeRows(): ReturnType<Host['routeRows']> {
    return super.routeRows().map((r, i) => {
      const value = this.routes.routes()[i]!.value;
      return value instanceof RejectRoute ? { ...r, type: value.kind } : r;
    });
  }

  override show(what: string): string {
    switch (what) {
      case 'routes': {
        let out = '';
        for (const r of this.routes.routes()) {
          out += r.value instanceof RejectRoute ? `${r.value.kind} ${describeRoute(r).replace(/ dev .*$/, '')}\n` : `${describeRoute(r, (l) => l.name)}\n`;
        }
        return out + this.ipv6.describeRoutes();
      }
      case 'conntrack':
      case 'firewall':
      case 'nat':
        if (!this.netfilter) throw new Error(`no conntrack, NAT or firewall on this router (add nat: or firewall: to it)`);
        return this.netfilter.show(what);
      case 'uplink':
        if (!this.uplink) throw new Error('no uplink on this router (add uplink: true to it)');
        return this.uplink.show();
      case 'hooks':
        return this.hooks.describe();
      default:
        return super.show(what);
    }
  }
}
