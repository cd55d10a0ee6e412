/**
 * A host: interfaces + route table + IPv4/IPv6, ICMP, UDP and TCP, wired
 * together.
 *
 * This file builds the layers; which layer hands a packet to which is
 * declared in ./inbound.ts (read it to follow one ping). It holds no protocol
 * logic of its own. Routers (./router.ts) are hosts with forwarding turned on
 * (ARCHITECTURE.md).
 */
import type { TransportOffload } from '../core/offload.js';
import type { StackContext } from '../core/context.js';
import type { Device } from '../device/device.js';
import { OFFLOAD_DROP_REASON, Segmenter } from '../device/segment.js';
import { NetworkInterface, type InterfaceOptions } from '../l2/interface.js';
import { formatMac } from '../l2/mac-address.js';
import { formatIpv4, formatIpv4Cidr, inCidr, networkOf, type Ipv4Address, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { Ipv4Input, type Ipv4InputHooks, type Ipv4ProtocolHandler } from '../l3/ipv4/input.js';
import { Ipv4Output } from '../l3/ipv4/output.js';
import type { Ipv4Link } from '../l3/ipv4/link.js';
import { PointToPointLink, type PointToPointOptions } from '../l3/point-to-point.js';
import { Icmpv4 } from '../l3/icmpv4/icmpv4.js';
import { Icmpv4TimeExceededCode, Icmpv4UnreachableCode } from '../l3/icmpv4/message.js';
import { RouteTable } from '../l3/routing/table.js';
import { UdpLayer } from '../l4/udp/udp.js';
import { ipv6TcpNetwork } from '../l4/tcp/ipv6.js';
import { Tcp } from '../l4/tcp/api.js';
import { ipv4TcpNetwork } from '../l4/tcp/ipv4.js';
import { Ipv6Layer, type Ipv6InterfaceConfig } from './ipv6.js';
import { runPing, type PingOptions, type PingResult } from './ping.js';
import { declareInbound, type InboundLayers, type InboundPath } from './inbound.js';
import type { Ipv6Input } from '../l3/ipv6/input.js';
import type { Ipv6Output } from '../l3/ipv6/output.js';
import type { Icmpv6 } from '../l3/icmpv6/icmpv6.js';

export type PingReply = PingResult<Ipv4Address>;

/** A tunnel interface of the node: the link IP routes to, and where the tunnel's packets come up. */
export interface PointToPointInterface {
  readonly link: PointToPointLink;
  /** Hands a whole IP packet from the tunnel to the node's inbound path (./inbound.ts); `offload`: an IPv4 TCP super-packet (TSO metadata). */
  receive(packet: Uint8Array, offload?: TransportOffload): void;
}

export class Host {
  /** Ethernet interfaces. */
  readonly interfaces: NetworkInterface[] = [];
  /** Point-to-point (tunnel) interfaces: `addPointToPoint`. */
  readonly pointToPoint: PointToPointLink[] = [];
  /** Every link IPv4 runs on: the Ethernet interfaces and the tunnels. */
  private readonly ipv4Links: Ipv4Link[] = [];
  /** Services that answer `tapnet show WHAT` on this node (`wg`: src/services/wireguard). */
  readonly shows = new Map<string, () => string>();
  readonly routes = new RouteTable<Ipv4Link>();
  readonly ipv4Out: Ipv4Output;
  readonly ipv4In: Ipv4Input;
  /** IPv4 input's hooks; a Router (src/node/router.ts) sets `forward` here to turn forwarding on. */
  protected readonly ipv4Hooks: Ipv4InputHooks;
  readonly icmp: Icmpv4;
  readonly udp: UdpLayer;
  /** TCP (src/l4/tcp): `host.tcp.createServer()`, `host.tcp.connect()`. */
  readonly tcp: Tcp;
  /** IPv6 (src/node/ipv6.ts): on for interfaces added with an `ipv6` config. */
  readonly ipv6: Ipv6Layer;
  readonly ipv6In: Ipv6Input;
  readonly ipv6Out: Ipv6Output;
  readonly icmp6: Icmpv6;
  /** The receivers each new interface is built with (./inbound.ts). */
  private readonly inbound: InboundPath;
  private nextPingIdentifier: number;

  constructor(readonly ctx: StackContext) {
    const links = (): readonly Ipv4Link[] => this.ipv4Links;
    this.ipv4Out = new Ipv4Output(ctx, this.routes, links);
    this.ipv4Hooks = {
      unreachable: (d, code) =>
        this.icmp.sendError(d.packet, { type: 'destinationUnreachable', code: code === 'protocol' ? Icmpv4UnreachableCode.protocol : Icmpv4UnreachableCode.port }, d.toBroadcastOrMulticast),
      parameterProblem: (packet, pointer, toBroadcastOrMulticast) =>
        this.icmp.sendError(packet, { type: 'parameterProblem', pointer }, toBroadcastOrMulticast),
      reassemblyTimeout: (first) => this.icmp.sendError(first, { type: 'timeExceeded', code: Icmpv4TimeExceededCode.reassembly }, false),
    };
    this.ipv4In = new Ipv4Input(ctx, links, this.ipv4Hooks);
    this.icmp = new Icmpv4(ctx, this.ipv4Out);
    this.udp = new UdpLayer(ctx, this.ipv4Out, (a) => this.ipv4In.isLocalAddress(a));
    this.tcp = new Tcp(ctx);
    const tcpIpv4 = ipv4TcpNetwork(this.ipv4Out, this.ipv4In);
    this.tcp.addNetwork(tcpIpv4);
    this.ipv6 = new Ipv6Layer(ctx);
    this.ipv6In = this.ipv6.input;
    this.ipv6Out = this.ipv6.output;
    this.icmp6 = this.ipv6.icmp;
    this.udp.attachIpv6(this.ipv6Out, (a) => this.ipv6.isLocalAddress(a));
    const tcpIpv6 = ipv6TcpNetwork(this.ipv6Out, (a) => this.ipv6.isLocalAddress(a));
    this.tcp.addNetwork(tcpIpv6);
    this.inbound = declareInbound({
      ipv4: this.ipv4In,
      icmp: this.icmp,
      ipv6: this.ipv6,
      udp: this.udp,
      tcp: this.tcp,
      tcpIpv4,
      tcpIpv6,
      ...this.routerStages(),
    });
    this.nextPingIdentifier = ctx.random.u32() & 0xffff;
  }

  /**
   * What a router adds to the inbound path (node/router.ts): none on a host.
   * Called once, while the Host part is being built.
   */
  protected routerStages(): Pick<InboundLayers, 'prerouting' | 'ipv4Unreachable'> {
    return {};
  }

  /** Adds an interface on `device` (IPv6 on it with an `ipv6` config); each address also adds its connected route. */
  addInterface(device: Device, options: Omit<InterfaceOptions, 'receivers'> & { ipv6?: Ipv6InterfaceConfig }): NetworkInterface {
    const iface = new NetworkInterface(this.ctx, device, { ...options, receivers: this.inbound.ethernet(options.ipv6) });
    this.interfaces.push(iface);
    this.ipv4Links.push(iface);
    for (const a of iface.ipv4Addresses) this.addConnectedRoute(iface, a);
    return iface;
  }

  /**
   * Adds a point-to-point interface (l3/point-to-point.ts: no Ethernet, no
   * ARP): its addresses, their connected routes (IPv4 and IPv6), and the
   * function the tunnel hands decrypted packets to.
   */
  addPointToPoint(options: PointToPointOptions): PointToPointInterface {
    if (this.linkNamed(options.name)) throw new Error(`interface ${options.name} already exists`);
    // A super-packet routed into the tunnel is cut by the device floor's one segmentation routine.
    let segmenter: Segmenter | undefined;
    const link = new PointToPointLink({
      segment: (packet, ipv6, offload, sink) => {
        const refused = (segmenter ??= new Segmenter()).ipToWire(packet, ipv6, offload, sink);
        if (refused) this.ctx.trace.dropped(refused, `${options.name}: ${OFFLOAD_DROP_REASON[refused]}`);
      },
      ...options,
    });
    this.pointToPoint.push(link);
    this.ipv4Links.push(link);
    for (const a of link.ipv4Addresses) this.addConnectedRoute(link, a);
    this.ipv6.attachPointToPoint(link);
    return { link, receive: this.inbound.pointToPoint(link) };
  }

  /** The Ethernet or point-to-point interface called `name`. */
  linkNamed(name: string): Ipv4Link | undefined {
    return this.ipv4Links.find((l) => l.name === name);
  }

  private addConnectedRoute(iface: Ipv4Link, a: Ipv4Cidr): void {
    this.routes.add({ destination: { address: networkOf(a), prefixLength: a.prefixLength }, value: iface });
  }

  /** Like `ip addr add`: the address, its connected route, and a gratuitous ARP (RFC 5227 §3). DHCP calls this on BOUND. */
  addInterfaceAddress(iface: NetworkInterface, a: Ipv4Cidr): void {
    if (!iface.addIpv4Address(a)) return;
    this.addConnectedRoute(iface, a);
    iface.arp.announce();
  }

  /** Like `ip addr del`: the address, and every route through `iface` that needed it (connected and via a gateway on it). */
  removeInterfaceAddress(iface: NetworkInterface, a: Ipv4Cidr): void {
    if (!iface.removeIpv4Address(a)) return;
    const network = networkOf(a);
    const stillOnLink = (gw: number): boolean => iface.ipv4Addresses.some((x) => inCidr(gw, x));
    this.routes.removeWhere(
      (r) =>
        r.value === iface &&
        ((r.gateway === undefined && r.destination.address === network && r.destination.prefixLength === a.prefixLength) ||
          (r.gateway !== undefined && !stillOnLink(r.gateway))),
    );
  }

  registerProtocol(protocol: number, handler: Ipv4ProtocolHandler): void {
    this.ipv4In.register(protocol, handler);
  }

  /** Announces every address with a gratuitous ARP (RFC 5227 §3), as Linux does when an address comes up. */
  start(): void {
    for (const iface of this.interfaces) iface.arp.announce();
    this.ipv6.start();
  }

  /**
   * Sends `count` echo requests one `intervalMs` apart and resolves with one
   * entry per request. The first one may wait for ARP resolution.
   */
  ping(destination: Ipv4Address, options: PingOptions = {}): Promise<PingReply[]> {
    const identifier = (this.nextPingIdentifier = (this.nextPingIdentifier + 1) & 0xffff);
    return runPing<Ipv4Address>(this.ctx, {
      send: (sequence, data) => this.icmp.sendEchoRequest(destination, identifier, sequence, data),
      listen: (onReply) => {
        this.icmp.echoListeners.set(identifier, onReply);
        return () => this.icmp.echoListeners.delete(identifier);
      },
      isTarget: (source) => source === destination,
      keep: (source) => source,
    }, options);
  }

  /** Text tables for `tapnet show ...`. */
  /**
   * `tapnet show WHAT --json`: the same tables as data (field names after
   * `ip -j` and `ss` where they exist), for scripts and jq.
   */
  showJson(what: string): unknown {
    switch (what) {
      case 'stats':
        return this.ctx.stats.snapshot();
      case 'arp':
        return this.interfaces.flatMap((iface) =>
          iface.arp.entries().map((e) => ({ address: formatIpv4(e.address as number), state: e.state, mac: e.mac === undefined ? null : formatMac(e.mac), interface: iface.name })),
        );
      case 'neigh':
        return this.ipv6.neighbourRows();
      case 'routes':
        return [...this.routeRows(), ...this.ipv6.routeRows()];
      case 'interfaces':
        return this.interfaces.map((iface) => ({
          name: iface.name,
          mac: formatMac(iface.mac),
          mtu: iface.mtu,
          ipv4: iface.ipv4Addresses.map(formatIpv4Cidr),
          ipv6: this.ipv6.interfaceAddresses(iface.name),
        }));
      case 'tcp':
        return this.tcp.rows();
      default: {
        // A service's table (`wg`): its lines until it offers rows of its own.
        const service = this.shows.get(what);
        if (service) return service().split('\n').filter(Boolean);
        throw new Error(`unknown table '${what}' (stats, arp, neigh, routes, interfaces, tcp)`);
      }
    }
  }

  /** `show routes --json`, IPv4 part. */
  protected routeRows(): { family: 4; destination: string; gateway?: string; interface: string; metric: number; type?: string }[] {
    return this.routes.routes().map((r) => ({
      family: 4,
      destination: formatIpv4Cidr(r.destination),
      ...(r.gateway !== undefined ? { gateway: formatIpv4(r.gateway) } : {}),
      interface: r.value.name,
      metric: r.metric,
    }));
  }

  show(what: string): string {
    switch (what) {
      case 'stats': {
        const s = this.ctx.stats.snapshot();
        return Object.entries(s)
          .map(([k, v]) => `${k.padEnd(32)} ${v}\n`)
          .join('');
      }
      case 'arp': {
        let out = 'address          state       mac                interface\n';
        for (const iface of this.interfaces) {
          for (const e of iface.arp.entries()) {
            out += `${formatIpv4(e.address as number).padEnd(16)} ${e.state.padEnd(11)} ${e.mac === undefined ? '(incomplete)'.padEnd(18) : formatMac(e.mac)} ${iface.name}\n`;
          }
        }
        return out;
      }
      case 'routes': {
        let out = '';
        for (const r of this.routes.routes()) {
          out += `${formatIpv4Cidr(r.destination)}${r.gateway !== undefined ? ` via ${formatIpv4(r.gateway)}` : ''} dev ${r.value.name}\n`;
        }
        return out + this.ipv6.describeRoutes();
      }
      case 'interfaces': {
        let out = '';
        for (const iface of this.interfaces) {
          out += `${iface.describe()}\n`;
          for (const a of iface.ipv4Addresses) out += `    inet ${formatIpv4Cidr(a)}\n`;
          out += this.ipv6.describeInterface(iface.name);
        }
        for (const link of this.pointToPoint) {
          out += `${link.describe()}\n`;
          for (const a of link.ipv4Addresses) out += `    inet ${formatIpv4Cidr(a)}\n`;
          out += this.ipv6.describeInterface(link.name);
        }
        return out;
      }
      case 'tcp':
        return this.tcp.show();
      case 'neigh':
        return this.ipv6.describeNeighbours();
      default: {
        const service = this.shows.get(what);
        if (service) return service();
        if (what === 'wg') throw new Error('no WireGuard interface on this node (add an interface of kind: wireguard)');
        throw new Error(`unknown table '${what}' (stats, arp, neigh, routes, interfaces)`);
      }
    }
  }
}
