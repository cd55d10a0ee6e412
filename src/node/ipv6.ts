/**
 * The IPv6 layer of a node: route table, input, output, ICMPv6, and the
 * IPv6 side of each interface, wired together. `Host` (src/node/host.ts) owns
 * one; it holds no protocol logic of its own.
 *
 * For transports (UDP, TCP) the whole API is:
 *
 *   host.ipv6In.register(IpProtocol.UDP, (d: ReceivedIpv6) => ... 'delivered' | 'portUnreachable')
 *   host.ipv6Out.send({ destination, nextHeader: IpProtocol.UDP, checksumOffset: 6, source? }, datagram)
 *   host.ipv6Out.sourceFor(destination)          // the source a packet to `destination` will carry
 *   host.ipv6.isLocalAddress(address)
 *
 * Addresses are 16-byte Uint8Arrays (./address.ts); `ipv6Key` makes Map keys.
 */
import type { StackContext } from '../core/context.js';
import { formatMac } from '../l2/mac-address.js';
import { Icmpv6 } from '../l3/icmpv6/icmpv6.js';
import { runPing, type PingOptions, type PingResult } from './ping.js';
import { Icmpv6TimeExceededCode, Icmpv6Type } from '../l3/icmpv6/message.js';
import type { RouterAdvertisementConfig } from '../l3/icmpv6/router-advertiser.js';
import { formatIpv6, formatIpv6Cidr, ipv6Equal, isLinkLocalIpv6, type Ipv6Address, type Ipv6Cidr } from '../l3/ipv6/address.js';
import { Ipv6Input, type Ipv6InputHooks } from '../l3/ipv6/input.js';
import { Ipv6Interface } from '../l3/ipv6/interface.js';
import type { Ipv6InterfaceAddress, Ipv6Link, Ipv6LinkLayer } from '../l3/ipv6/link.js';
import { Ipv6Output } from '../l3/ipv6/output.js';
import { Ipv6RouteTable, describeIpv6Route } from '../l3/ipv6/route-table.js';
import type { PointToPointLink } from '../l3/point-to-point.js';

/** How IPv6 runs on one interface (`host.addInterface(device, { ..., ipv6: {...} })`). */
export interface Ipv6InterfaceConfig {
  /** Addresses besides the EUI-64 link-local one, e.g. fd77::1/64. */
  readonly addresses?: readonly Ipv6Cidr[];
  /** Be a router on this link: send router advertisements (SLAAC prefixes, RDNSS). */
  readonly router?: RouterAdvertisementConfig;
  /** Be a SLAAC host: form addresses from router advertisements. */
  readonly acceptRouterAdvertisements?: boolean;
  /** DAD probes per address (default 1; 0 skips DAD). */
  readonly dadTransmits?: number;
  /** Neighbour cache cap (default 1024, Linux gc_thresh3). */
  readonly neighbourCacheMax?: number;
}

export type Ping6Reply = PingResult<Ipv6Address>;

/** Linux's metric for routes learned from router advertisements (RT6_DEFAULT metric 1024). */
const RA_ROUTE_METRIC = 1024;

export class Ipv6Layer {
  readonly routes = new Ipv6RouteTable<Ipv6Link>();
  readonly interfaces: Ipv6Interface[] = [];
  /** Every link IPv6 runs on: the Ethernet interfaces' IPv6 sides and point-to-point links with IPv6 addresses. */
  private readonly links: Ipv6Link[] = [];
  private readonly pointToPoint: PointToPointLink[] = [];
  readonly output: Ipv6Output;
  readonly input: Ipv6Input;
  readonly icmp: Icmpv6;
  /** Input's hooks; a router sets `forward` here to turn IPv6 forwarding on. */
  readonly inputHooks: Ipv6InputHooks;
  private nextPingIdentifier: number;

  constructor(readonly ctx: StackContext) {
    const links = (): readonly Ipv6Link[] => this.links;
    this.output = new Ipv6Output(ctx, this.routes, links);
    this.inputHooks = {
      error: (packet, error, context) => this.icmp.sendError(packet, error, context),
      // RFC 8200 §4.5: Time Exceeded, code 1 (fragment reassembly time exceeded), to the first fragment's source.
      reassemblyTimeout: (first) => {
        const link = this.output.route(first.subarray(8, 24))?.link ?? this.interfaces[0];
        if (link) this.icmp.sendError(first, { type: Icmpv6Type.TimeExceeded, code: Icmpv6TimeExceededCode.reassembly }, { link, toMulticast: false });
      },
    };
    this.input = new Ipv6Input(ctx, links, this.inputHooks);
    this.icmp = new Icmpv6(
      ctx,
      this.output,
      (link) => this.interfaces.find((i) => i === link),
      (a) => this.input.isLocalAddress(a),
    );
    this.nextPingIdentifier = ctx.random.u32() & 0xffff;
  }

  /**
   * Turns IPv6 on for the Ethernet interface `link`: a link-local address,
   * `config.addresses`, NDP, MLD, and RAs on a router. Called while the
   * interface is built (node/inbound.ts), which then resolves through this NDP.
   */
  attach(link: Ipv6LinkLayer, config: Ipv6InterfaceConfig): Ipv6Interface {
    const iface = new Ipv6Interface({
      ctx: this.ctx,
      link,
      addresses: config.addresses,
      router: config.router,
      acceptRouterAdvertisements: config.acceptRouterAdvertisements,
      dadTransmits: config.dadTransmits,
      neighbourCache: { maxEntries: config.neighbourCacheMax },
      onAddress: (a, link) => this.addressChanged(a, link),
      onDefaultRouter: (router, lifetime, link) => this.defaultRouter(router, lifetime, link),
    });
    this.interfaces.push(iface);
    this.links.push(iface);
    return iface;
  }

  /** IPv6 on a point-to-point link (no NDP, no MLD, no DAD): its addresses' on-link routes. No-op without IPv6 addresses. */
  attachPointToPoint(link: PointToPointLink): void {
    if (link.ipv6Addresses.length === 0) return;
    this.links.push(link);
    this.pointToPoint.push(link);
    for (const a of link.ipv6Addresses) if (a.prefixLength < 128) this.routes.add({ destination: a, value: link });
  }

  /** The IPv6 side of the Ethernet interface `link`, when IPv6 runs on it. */
  on(link: Ipv6LinkLayer): Ipv6Interface | undefined {
    return this.interfaces.find((i) => i.options.link === link);
  }

  /** Starts DAD, MLD and router advertisements on every interface. */
  start(): void {
    for (const i of this.interfaces) i.start();
  }

  stop(): void {
    for (const i of this.interfaces) i.stop();
  }

  isLocalAddress(address: Ipv6Address): boolean {
    return this.input.isLocalAddress(address);
  }

  /** On-link prefix route for every address as it appears (like the kernel's "proto kernel" routes). */
  private addressChanged(a: Ipv6InterfaceAddress, link: Ipv6Interface): void {
    if (a.state === 'duplicate') {
      if (!link.ipv6Addresses.some((b) => b !== a && b.state !== 'duplicate' && b.prefixLength === a.prefixLength && ipv6Equal(b.address, a.address))) {
        this.routes.remove(a, link);
      }
      return;
    }
    if (a.prefixLength < 128) this.routes.add({ destination: a, value: link });
  }

  /** RFC 4861 §6.3.4: a default route via an advertising router, removed when its lifetime is 0. */
  private defaultRouter(router: Ipv6Address, lifetimeSeconds: number, link: Ipv6Interface): void {
    const any = { address: new Uint8Array(16), prefixLength: 0 };
    if (lifetimeSeconds === 0) this.routes.remove(any, link);
    else this.routes.add({ destination: any, gateway: router, metric: RA_ROUTE_METRIC, value: link });
  }

  /** `count` echo requests `intervalMs` apart; one entry per request (undefined RTT for no reply). */
  ping(destination: Ipv6Address, options: PingOptions & { via?: Ipv6Link } = {}): Promise<Ping6Reply[]> {
    const identifier = (this.nextPingIdentifier = (this.nextPingIdentifier + 1) & 0xffff);
    const target = destination.slice();
    return runPing<Ipv6Address>(this.ctx, {
      send: (sequence, data) => this.icmp.sendEchoRequest(target, identifier, sequence, data, options.via),
      listen: (onReply) => {
        this.icmp.echoListeners.set(identifier, onReply);
        return () => this.icmp.echoListeners.delete(identifier);
      },
      isTarget: (source) => ipv6Equal(source, target),
      keep: (source) => source.slice(),
    }, options);
  }

  /** `inet6` lines for `tapnet show interfaces`. */
  describeInterface(name: string): string {
    const iface = this.interfaces.find((i) => i.name === name) ?? this.pointToPoint.find((i) => i.name === name);
    if (!iface) return '';
    return iface.ipv6Addresses
      .map((a) => `    inet6 ${formatIpv6Cidr(a)} scope ${isLinkLocalIpv6(a.address) ? 'link' : 'global'}${a.state === 'preferred' ? '' : ` ${a.state}`}${a.autoconfigured ? ' dynamic' : ''}\n`)
      .join('');
  }

  /** `tapnet show routes` (IPv6 part), as `ip -6 route` prints it. */
  describeRoutes(): string {
    return this.routes.routes().map((r) => `${describeIpv6Route(r)}\n`).join('');
  }

  /** `show interfaces --json`, IPv6 part: the addresses of interface `name`. */
  interfaceAddresses(name: string): { address: string; scope: 'link' | 'global'; state: string; dynamic: boolean }[] {
    const iface = this.interfaces.find((i) => i.name === name);
    return (iface?.ipv6Addresses ?? []).map((a) => ({
      address: formatIpv6Cidr(a),
      scope: isLinkLocalIpv6(a.address) ? 'link' : 'global',
      state: a.state,
      dynamic: a.autoconfigured ?? false,
    }));
  }

  /** `show routes --json`, IPv6 part (`ip -j -6 route`). */
  routeRows(): { family: 6; destination: string; gateway?: string; interface: string; metric: number }[] {
    return this.routes.routes().map((r) => ({
      family: 6,
      destination: formatIpv6Cidr(r.destination),
      ...(r.gateway ? { gateway: formatIpv6(r.gateway) } : {}),
      interface: r.value.name,
      metric: r.metric ?? 0,
    }));
  }

  /** `show neigh --json` (`ip -j -6 neigh`). */
  neighbourRows(): { address: string; state: string; mac: string | null; interface: string }[] {
    return this.interfaces.flatMap((iface) =>
      iface.ndp.entries().map((e) => ({ address: formatIpv6(e.address), state: e.state, mac: e.mac === undefined ? null : formatMac(e.mac), interface: iface.name })),
    );
  }

  /** `tapnet show neigh`: the NDP caches, as `ip -6 neigh` prints them. */
  describeNeighbours(): string {
    let out = 'address                                  state       mac                interface\n';
    for (const iface of this.interfaces) {
      for (const e of iface.ndp.entries()) {
        out += `${formatIpv6(e.address).padEnd(40)} ${e.state.padEnd(11)} ${e.mac === undefined ? '(incomplete)'.padEnd(18) : formatMac(e.mac)} ${iface.name}\n`;
      }
    }
    return out;
  }
}
