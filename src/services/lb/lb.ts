/**
 * The load balancer on a node: its virtual services, each forwarding in
 * its mode, and what `tapnet show lb` and `tapnet lb add|remove|weight|drain`
 * see and change.
 *
 * Read first: service.ts (backends, pools, health), then the mode you want:
 * nat-mode.ts (IPVS-style DNAT on conntrack), proxy-mode.ts (a TCP full
 * proxy), http-mode.ts (a reverse proxy); schedulers/ for the algorithms.
 *
 *   const lb = new LoadBalancer(router, services);
 *   Netfilter.attach(router, { nat: { virtualServers: lb.natVirtualServers } });   // when a service is nat mode
 *   lb.start();
 */
import type { Server as TcpServer } from '../../l4/tcp/socket.js';
import type { Backend } from './backend.js';
import type { LbServiceConfig } from './config.js';
import { parseAddressPort } from './config.js';
import { startHttpProxy, type HttpProxy } from './http-mode.js';
import { NatVirtualServers } from './nat-mode.js';
import { startTcpProxy } from './proxy-mode.js';
import { LbService, type LbHost } from './service.js';
import './counters.js';

export interface LbBackendRow {
  readonly name: string;
  readonly address: string;
  readonly weight: number;
  readonly state: string;
  readonly active: number;
  readonly inactive: number;
  readonly total: number;
  readonly errors: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly checks: string;
  readonly lastCheck: string;
  readonly history: readonly { at: number; ok: boolean; source: string; detail: string }[];
}

export interface LbServiceRow {
  readonly name: string;
  readonly listen: string;
  readonly mode: string;
  readonly scheduler: string;
  readonly health: string;
  readonly backends: readonly LbBackendRow[];
}

export class LoadBalancer {
  readonly services = new Map<string, LbService>();
  /** The NAT-mode services, for the node's netfilter (undefined when no service is nat mode). */
  readonly natVirtualServers: NatVirtualServers | undefined;
  private readonly listeners: (TcpServer | HttpProxy)[] = [];

  constructor(
    private readonly host: LbHost,
    configs: readonly LbServiceConfig[],
  ) {
    host.ctx.stats.declare('lbScheduled', 'lbNoBackend', 'lbConnectFailed', 'lbBackendDown', 'lbBackendUp');
    const nat = configs.some((c) => c.mode === 'nat') ? new NatVirtualServers() : undefined;
    this.natVirtualServers = nat;
    for (const config of configs) {
      const service = new LbService(host, config, config.mode === 'nat' ? (b) => nat!.load(b) : undefined);
      this.services.set(config.name, service);
      if (config.mode === 'nat') nat!.add(service);
    }
  }

  /** Starts listening (proxy and http modes); nat mode works through netfilter once attached. */
  start(): void {
    for (const service of this.services.values()) {
      if (service.config.mode === 'proxy') this.listeners.push(startTcpProxy(service));
      if (service.config.mode === 'http') {
        const routes = service.config.routes.map((route) => ({ route, pool: service.poolOf(route.backends) }));
        this.listeners.push(startHttpProxy(service, routes));
      }
    }
  }

  stop(): void {
    for (const l of this.listeners.splice(0)) l.close();
    for (const s of this.services.values()) s.stop();
  }

  service(name: string): LbService {
    const s = this.services.get(name);
    if (!s) throw new Error(`no service '${name}' (services: ${[...this.services.keys()].join(', ') || 'none'})`);
    return s;
  }

  /**
   * `tapnet lb OP SERVICE BACKEND [ARG]`: add (ARG = ADDRESS:PORT[,WEIGHT], or BACKEND itself is ADDRESS:PORT),
   * remove, weight (ARG = N), drain (weight 0: nothing new, the rest finishes). Returns one line saying what changed.
   */
  control(op: string, serviceName: string, backendName: string, arg: string | undefined): string {
    const s = this.service(serviceName);
    switch (op) {
      case 'add': {
        const [where, weightText] = (arg ?? backendName).split(',');
        const target = parseAddressPort(where ?? '');
        if (!target) throw new Error(`lb add: '${where}': expected ADDRESS:PORT, like 10.30.0.14:80`);
        const weight = weightText === undefined ? 1 : Number(weightText);
        const b = s.add(backendName, target.address, target.port, weight);
        return `service ${s.config.name}: added ${b.name} ${b.endpoint} weight ${b.weight}${s.config.health ? ' (health checks start now)' : ''}\n`;
      }
      case 'remove': {
        const b = s.remove(backendName);
        return `service ${s.config.name}: removed ${b.name} ${b.endpoint}; ${this.activeOf(s, b)} connections finish on it\n`;
      }
      case 'weight': {
        const weight = Number(arg);
        if (arg === undefined || !/^\d+$/.test(arg)) throw new Error(`lb weight: expected a weight (an integer), got ${JSON.stringify(arg ?? '')}`);
        const b = s.setWeight(backendName, weight);
        return `service ${s.config.name}: ${b.name} weight ${b.weight}\n`;
      }
      case 'drain': {
        const b = s.setWeight(backendName, 0);
        return `service ${s.config.name}: ${b.name} draining (weight 0): no new connections, ${this.activeOf(s, b)} active finish\n`;
      }
      default:
        throw new Error(`lb: unknown operation '${op}' (add, remove, weight, drain)`);
    }
  }

  private activeOf(s: LbService, b: Backend): number {
    return s.config.mode === 'nat' ? this.natVirtualServers!.counts(b).active : b.active;
  }

  rows(): LbServiceRow[] {
    return [...this.services.values()].map((s) => ({
      name: s.config.name,
      listen: `${s.vipText}:${s.config.port}/${s.config.protocol}`,
      mode: s.config.mode,
      scheduler: s.config.scheduler,
      health: s.config.health
        ? `${s.config.health.kind === 'tcp' ? 'tcp connect' : `GET ${s.config.health.path}`} every ${s.config.health.intervalMs} ms, timeout ${s.config.health.timeoutMs} ms, rise ${s.config.health.rise} fall ${s.config.health.fall}`
        : 'no checks (passive only)',
      backends: [...s.backends.values()].map((b) => this.row(s, b)),
    }));
  }

  private row(s: LbService, b: Backend): LbBackendRow {
    const nat = s.config.mode === 'nat' ? this.natVirtualServers! : undefined;
    const counts = nat ? nat.counts(b) : { active: b.active, inactive: 0 };
    const live = nat ? nat.liveBytes(b) : [0, 0];
    return {
      name: b.name,
      address: b.endpoint,
      weight: b.weight,
      state: b.state,
      active: counts.active,
      inactive: counts.inactive,
      total: b.total,
      errors: b.errors,
      bytesIn: b.bytesIn + live[0]!,
      bytesOut: b.bytesOut + live[1]!,
      checks: b.health.sparkline(),
      lastCheck: b.health.lastDetail,
      history: b.health.history.map((e) => ({ ...e, at: Math.round(e.at) })),
    };
  }

  /** `tapnet show lb`, in the spirit of `ipvsadm -Ln --stats` and HAProxy's stats page. */
  show(): string {
    let out = '';
    for (const s of this.rows()) {
      out += `${s.name}  ${s.listen}  mode ${s.mode}  scheduler ${s.scheduler}\n  health: ${s.health}\n`;
      const header = ['backend', 'address', 'weight', 'state', 'active', 'inact', 'total', 'errors', 'bytes in', 'bytes out', 'checks (old→new), last'];
      const rows = s.backends.map((b) => [b.name, b.address, String(b.weight), b.state, String(b.active), String(b.inactive), String(b.total), String(b.errors), String(b.bytesIn), String(b.bytesOut), `${b.checks || '-'} ${b.lastCheck}`]);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`;
      out += line(header);
      for (const r of rows) out += line(r);
      if (rows.length === 0) out += '  (no backends)\n';
      out += '\n';
    }
    return out || 'no virtual services\n';
  }
}

