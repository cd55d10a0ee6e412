/**
 * `mode: nat`: the load balancer as IPVS does it in its NAT ("masquerading")
 * mode. Nothing terminates the client's connection: the first packet of each
 * new connection to VIP:PORT is scheduled to a backend and DNATed to it in
 * PREROUTING (src/netfilter/nat/nat.ts, `VirtualServers`); conntrack then
 * rewrites every later packet of that connection the same way, and the
 * backend's replies (which must route back through the balancer: it is the
 * backends' gateway) get the VIP back as their source. TCP and UDP alike;
 * the backend sees the client's own address.
 *
 * Connections per backend are conntrack entries: "active" while the TCP
 * state is opening or ESTABLISHED, "inactive" once closing (IPVS's
 * ActiveConn / InActConn columns); UDP flows count as active until they
 * expire. Least-connections weighs them as IPVS's wlc does: active × 256 +
 * inactive.
 */
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { ORIGINAL, REPLY, type Connection } from '../../netfilter/conntrack/conntrack.js';
import type { VirtualServers } from '../../netfilter/nat/nat.js';
import type { Backend } from './backend.js';
import type { LbService } from './service.js';

const OPENING_OR_OPEN = new Set(['SYN_SENT', 'SYN_RECV', 'ESTABLISHED']);

export class NatVirtualServers implements VirtualServers {
  private readonly services = new Map<string, LbService>();
  private readonly backendOf = new Map<Connection, { service: LbService; backend: Backend }>();
  private readonly connectionsOf = new Map<Backend, Set<Connection>>();

  add(service: LbService): void {
    this.services.set(key(service.config.protocol === 'udp' ? IpProtocol.UDP : IpProtocol.TCP, service.config.vip, service.config.port), service);
  }

  /** IPVS ActiveConn and InActConn of one backend. */
  counts(b: Backend): { active: number; inactive: number } {
    let active = 0;
    let inactive = 0;
    for (const c of this.connectionsOf.get(b) ?? []) {
      if (c.tcp === undefined || OPENING_OR_OPEN.has(c.tcp.state)) active++;
      else inactive++;
    }
    return { active, inactive };
  }

  /** What least-connections compares (ip_vs_wlc.c: activeconns << 8 + inactconns). */
  load(b: Backend): number {
    const { active, inactive } = this.counts(b);
    return active * 256 + inactive;
  }

  /** Bytes of the live connections: [client → backend, backend → client]. */
  liveBytes(b: Backend): [number, number] {
    let toBackend = 0;
    let toClient = 0;
    for (const c of this.connectionsOf.get(b) ?? []) {
      toBackend += c.bytes[ORIGINAL];
      toClient += c.bytes[REPLY];
    }
    return [toBackend, toClient];
  }

  schedule(c: Connection): { address: Ipv4Address; port: number } | 'none' | undefined {
    const o = c.tuples[ORIGINAL];
    const service = this.services.get(key(o.protocol, o.destination, o.destinationPort));
    if (!service) return undefined;
    const backend = service.pick(service.defaultPool, formatIpv4(o.source));
    if (!backend) {
      service.noBackend(service.defaultPool);
      return 'none';
    }
    service.scheduled(backend);
    backend.active--; // nat mode counts conntrack entries (counts()), not a counter
    this.backendOf.set(c, { service, backend });
    let set = this.connectionsOf.get(backend);
    if (!set) this.connectionsOf.set(backend, (set = new Set()));
    set.add(c);
    return { address: backend.address, port: backend.port };
  }

  released(c: Connection): void {
    const entry = this.backendOf.get(c);
    if (!entry) return;
    this.backendOf.delete(c);
    const { backend } = entry;
    const set = this.connectionsOf.get(backend);
    set?.delete(c);
    if (set?.size === 0) this.connectionsOf.delete(backend);
    backend.bytesIn += c.bytes[ORIGINAL];
    backend.bytesOut += c.bytes[REPLY];
  }
}

function key(protocol: number, address: Ipv4Address, port: number): string {
  return `${protocol}/${address}/${port}`;
}
