/**
 * One virtual service (`VIP:PORT/PROTO → backends`) at run time: its
 * backends, the pools that choose among them, health, and the changes the
 * control socket makes (`tapnet lb add|remove|weight|drain`). The forwarding
 * itself is the mode's: nat-mode.ts, proxy-mode.ts, http-mode.ts.
 */
import type { StackContext } from '../../core/context.js';
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import type { Tcp } from '../../l4/tcp/api.js';
import { Backend, Pool } from './backend.js';
import type { LbServiceConfig } from './config.js';
import { LB_WEIGHT_MAX } from './config.js';
import { HealthChecker } from './health-check.js';
import { HealthState, type HealthEvent } from './health.js';

/** What a service needs from its node. */
export interface LbHost {
  readonly ctx: StackContext;
  readonly tcp: Tcp;
}

/**
 * Passive observation (HAProxy `observe layer4 ... on-error mark-down`): a failed connect counts like a failed
 * check. A backend with no active checks that went down is tried again after this long (there is no check to
 * bring it back).
 */
export const HEALTH_PASSIVE_RETRY_MS = 10_000;

export class LbService {
  readonly backends = new Map<string, Backend>();
  readonly defaultPool: Pool;
  readonly vipText: string;
  readonly ctx: StackContext;
  private readonly checker: HealthChecker | undefined;
  /** Every pool of the service (default + routes), for the scheduler's view of active counts. */
  readonly pools: Pool[] = [];

  constructor(
    readonly host: LbHost,
    readonly config: LbServiceConfig,
    activeOf?: (b: Backend) => number,
  ) {
    this.ctx = host.ctx;
    this.vipText = formatIpv4(config.vip);
    this.defaultPool = new Pool(config.scheduler, () => [...this.backends.values()], activeOf);
    this.pools.push(this.defaultPool);
    if (config.health) {
      this.checker = new HealthChecker({ ctx: host.ctx, connect: (address, port) => host.tcp.connect({ host: address, port, noDelay: true }) }, config.health, (b, e) => this.record(b, e));
    }
    for (const b of config.backends) this.add(b.name, b.address, b.port, b.weight);
  }

  /** A pool of some of the backends, by name (an http route's). */
  poolOf(names: readonly string[], activeOf?: (b: Backend) => number): Pool {
    const pool = new Pool(this.config.scheduler, () => names.map((n) => this.backends.get(n)).filter((b): b is Backend => b !== undefined), activeOf);
    this.pools.push(pool);
    return pool;
  }

  pick(pool: Pool, client: string, exclude?: ReadonlySet<Backend>): Backend | undefined {
    return pool.pick(client, exclude);
  }

  /** A backend was given a connection or request. */
  scheduled(b: Backend): void {
    b.active++;
    b.total++;
    this.ctx.stats.inc('lbScheduled');
  }

  noBackend(pool: Pool): void {
    this.ctx.trace.dropped('lbNoBackend', `service ${this.config.name}: no backend can take it: ${pool.describeUnavailable()}`, () => `${this.vipText}:${this.config.port}`);
  }

  /** Passive evidence: a connect to `b` failed; it counts like a failed check (`fall` of them take it down). */
  connectFailed(b: Backend, detail: string): void {
    b.errors++;
    this.ctx.stats.inc('lbConnectFailed');
    this.record(b, { at: this.ctx.clock.now(), ok: false, source: 'traffic', detail });
    if (!this.checker && !b.health.up) this.ctx.timers.after(HEALTH_PASSIVE_RETRY_MS, () => this.reviveWithoutChecks(b));
  }

  /** Passive evidence: the backend reset a connection or dropped a request mid-way (HAProxy eresp); counts like a failed check. */
  backendFailed(b: Backend, detail: string): void {
    b.errors++;
    this.ctx.stats.inc('lbBackendErrors');
    this.record(b, { at: this.ctx.clock.now(), ok: false, source: 'traffic', detail });
    if (!this.checker && !b.health.up) this.ctx.timers.after(HEALTH_PASSIVE_RETRY_MS, () => this.reviveWithoutChecks(b));
  }

  private reviveWithoutChecks(b: Backend): void {
    if (b.removed || b.health.up) return;
    for (let i = 0; i < b.health.rise && !b.health.up; i++) this.record(b, { at: this.ctx.clock.now(), ok: true, source: 'traffic', detail: `retrying after ${HEALTH_PASSIVE_RETRY_MS} ms` });
  }

  private record(b: Backend, e: HealthEvent): void {
    if (e.source === 'check') {
      this.ctx.stats.inc('lbHealthChecks');
      if (!e.ok) this.ctx.stats.inc('lbHealthCheckFailed');
    }
    const transition = b.health.record(e);
    if (transition === 'down') {
      this.ctx.stats.inc('lbBackendDown');
      this.ctx.trace.log.warn(`lb ${this.config.name}: backend ${b.name} (${b.endpoint}) is DOWN: ${e.detail}`);
    } else if (transition === 'up') {
      this.ctx.stats.inc('lbBackendUp');
      this.ctx.trace.log.info(`lb ${this.config.name}: backend ${b.name} (${b.endpoint}) is UP: ${e.detail}`);
    }
  }

  // ---- run-time changes (the control socket) --------------------------------

  add(name: string, address: Ipv4Address, port: number, weight: number): Backend {
    if (this.backends.has(name)) throw new Error(`service ${this.config.name} already has a backend '${name}'`);
    if (!Number.isInteger(weight) || weight < 0 || weight > LB_WEIGHT_MAX) throw new Error(`weight: expected an integer from 0 to ${LB_WEIGHT_MAX}, got ${weight}`);
    const health = new HealthState(this.config.health?.rise, this.config.health?.fall);
    const b = new Backend(name, address, port, weight, health);
    this.backends.set(name, b);
    this.checker?.watch(b);
    return b;
  }

  /** Takes the backend out: nothing new goes to it; what it serves finishes (IPVS and HAProxy do the same). */
  remove(name: string): Backend {
    const b = this.backend(name);
    b.removed = true;
    this.backends.delete(name);
    this.checker?.unwatch(b);
    b.agent?.destroy();
    return b;
  }

  setWeight(name: string, weight: number): Backend {
    if (!Number.isInteger(weight) || weight < 0 || weight > LB_WEIGHT_MAX) throw new Error(`weight: expected an integer from 0 to ${LB_WEIGHT_MAX}, got ${weight}`);
    const b = this.backend(name);
    b.weight = weight;
    return b;
  }

  backend(name: string): Backend {
    const b = this.backends.get(name);
    if (!b) throw new Error(`service ${this.config.name} has no backend '${name}' (it has: ${[...this.backends.keys()].join(', ') || 'none'})`);
    return b;
  }

  stop(): void {
    this.checker?.stop();
    for (const b of this.backends.values()) b.agent?.destroy();
  }
}
