/**
 * A host: interfaces + route table + IPv4/ICMP, wired together.
 *
 * This file builds the layers and connects their small interfaces; it holds
 * no protocol logic of its own. Routers (when forwarding lands) are hosts
 * with forwarding turned on (ARCHITECTURE.md).
 */
import type { StackContext } from './core/context.js';
import type { Device } from './device/device.js';
import { NetworkInterface, type InterfaceOptions } from './l2/interface.js';
import { formatMac } from './l2/mac-address.js';
import { formatIpv4, formatIpv4Cidr, networkOf, type Ipv4Address, type Ipv4Cidr } from './l3/ipv4/address.js';
import { Ipv4Input, type Ipv4ProtocolHandler } from './l3/ipv4/input.js';
import { Ipv4Output } from './l3/ipv4/output.js';
import type { Ipv4Link } from './l3/ipv4/link.js';
import { Icmpv4 } from './l3/icmpv4/icmpv4.js';
import { IpProtocol } from './l3/ip-protocol.js';
import { RouteTable } from './l3/routing/table.js';
import { UdpLayer } from './l4/udp/udp.js';

export interface PingReply {
  readonly sequence: number;
  /** Round-trip time in ms, or undefined when no reply came within the timeout. */
  readonly rttMs: number | undefined;
  readonly from?: Ipv4Address;
}

export class Host {
  readonly interfaces: NetworkInterface[] = [];
  readonly routes = new RouteTable<Ipv4Link>();
  readonly ipv4Out: Ipv4Output;
  readonly ipv4In: Ipv4Input;
  readonly icmp: Icmpv4;
  readonly udp: UdpLayer;
  private nextPingIdentifier: number;

  constructor(readonly ctx: StackContext) {
    const links = (): readonly Ipv4Link[] => this.interfaces;
    this.ipv4Out = new Ipv4Output(ctx, this.routes, links);
    this.ipv4In = new Ipv4Input(ctx, links, {
      unreachable: (d, code) =>
        this.icmp.sendError(d.packet, { type: 'destinationUnreachable', code: code === 'protocol' ? 2 : 3 }, d.toBroadcastOrMulticast),
      reassemblyTimeout: (first) => this.icmp.sendError(first, { type: 'timeExceeded', code: 1 }, false),
    });
    this.icmp = new Icmpv4(ctx, this.ipv4Out);
    this.ipv4In.register(IpProtocol.ICMP, (d) => this.icmp.receive(d));
    this.udp = new UdpLayer(ctx, this.ipv4Out, (a) => this.ipv4In.isLocalAddress(a));
    this.ipv4In.register(IpProtocol.UDP, (d) => this.udp.receiveIpv4(d));
    this.nextPingIdentifier = ctx.random.u32() & 0xffff;
  }

  /** Adds an interface on `device`; each address also adds its connected route. */
  addInterface(device: Device, options: InterfaceOptions): NetworkInterface {
    const iface = new NetworkInterface(this.ctx, device, options);
    iface.onIpv4 = (packet, link, linkBroadcast) => this.ipv4In.receive(packet, link, linkBroadcast);
    this.interfaces.push(iface);
    for (const a of iface.ipv4Addresses) this.addConnectedRoute(iface, a);
    return iface;
  }

  private addConnectedRoute(iface: NetworkInterface, a: Ipv4Cidr): void {
    this.routes.add({ destination: { address: networkOf(a), prefixLength: a.prefixLength }, value: iface });
  }

  registerProtocol(protocol: number, handler: Ipv4ProtocolHandler): void {
    this.ipv4In.register(protocol, handler);
  }

  /** Announces every address with a gratuitous ARP (RFC 5227 §3), as Linux does when an address comes up. */
  start(): void {
    for (const iface of this.interfaces) iface.arp.announce();
  }

  /**
   * Sends `count` echo requests one `intervalMs` apart and resolves with one
   * entry per request. The first one may wait for ARP resolution.
   */
  ping(destination: Ipv4Address, options: { count?: number; intervalMs?: number; timeoutMs?: number; size?: number } = {}): Promise<PingReply[]> {
    const count = options.count ?? 1;
    const intervalMs = options.intervalMs ?? 1000;
    const timeoutMs = options.timeoutMs ?? 2000;
    const data = new Uint8Array(options.size ?? 56);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    const identifier = (this.nextPingIdentifier = (this.nextPingIdentifier + 1) & 0xffff);
    const sentAt = new Map<number, number>();
    const replies: PingReply[] = [];
    const { clock, timers } = this.ctx;
    return new Promise((resolve) => {
      const finish = (): void => {
        this.icmp.echoListeners.delete(identifier);
        resolve(replies.sort((a, b) => a.sequence - b.sequence));
      };
      const check = (): void => {
        if (replies.length === count) finish();
      };
      this.icmp.echoListeners.set(identifier, (reply) => {
        const t = sentAt.get(reply.sequence);
        if (t === undefined || reply.source !== destination) return;
        sentAt.delete(reply.sequence);
        replies.push({ sequence: reply.sequence, rttMs: clock.now() - t, from: reply.source });
        check();
      });
      for (let seq = 1; seq <= count; seq++) {
        timers.after((seq - 1) * intervalMs, () => {
          sentAt.set(seq, clock.now());
          this.icmp.sendEchoRequest(destination, identifier, seq, data);
          timers.after(timeoutMs, () => {
            if (sentAt.delete(seq)) {
              replies.push({ sequence: seq, rttMs: undefined });
              check();
            }
          });
        });
      }
    });
  }

  /** Text tables for `tapnet show ...`. */
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
        return out;
      }
      case 'interfaces': {
        let out = '';
        for (const iface of this.interfaces) {
          out += `${iface.describe()}\n`;
          for (const a of iface.ipv4Addresses) out += `    inet ${formatIpv4Cidr(a)}\n`;
        }
        return out;
      }
      default:
        throw new Error(`unknown table '${what}' (stats, arp, routes, interfaces)`);
    }
  }
}
