/**
 * One real server behind a virtual service, and the pools that choose among
 * them. What `tapnet show lb` prints per backend lives here: its weight, its
 * health, the connections it serves now and has served, the bytes each way.
 */
import type { Agent } from 'node:http';
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { HealthState } from './health.js';
import { createScheduler, type Scheduler, type SchedulerName } from './schedulers/index.js';

export class Backend {
  readonly addressText: string;
  /** Connections (proxy) or requests (http) in progress; nat mode counts its conntrack entries instead. */
  active = 0;
  /** Every connection or request it was given. */
  total = 0;
  /** Client → backend and backend → client. */
  bytesIn = 0;
  bytesOut = 0;
  /** Failed connects and resets seen by the proxy (HAProxy econ + eresp). */
  errors = 0;
  /** Removed from its service: finishes what it has, gets nothing new. */
  removed = false;
  /** http mode: the keep-alive pool of connections to this backend. */
  agent: Agent | undefined;
  /** nat mode: the live connections it gets (counted ESTABLISHED-ish as active, the rest inactive, like IPVS). */
  natActive: () => { active: number; inactive: number } = () => ({ active: 0, inactive: 0 });

  constructor(
    readonly name: string,
    readonly address: Ipv4Address,
    readonly port: number,
    public weight: number,
    readonly health: HealthState,
  ) {
    this.addressText = formatIpv4(address);
  }

  get endpoint(): string {
    return `${this.addressText}:${this.port}`;
  }

  /** May take a new connection: up, weight above 0 (0 is draining), not removed. */
  get eligible(): boolean {
    return this.health.up && this.weight > 0 && !this.removed;
  }

  /** "UP", "DOWN", "DRAIN" (weight 0), with the health streak ("UP 1/3"). */
  get state(): string {
    const h = this.health.describe();
    return this.weight === 0 && this.health.up ? h.replace('UP', 'DRAIN') : h;
  }

  /** Why it takes nothing new, for 503 bodies. */
  get whyNot(): string {
    if (this.removed) return 'removed';
    if (!this.health.up) return `down (${this.health.lastDetail || 'health check failed'})`;
    if (this.weight === 0) return 'draining (weight 0)';
    return 'up';
  }
}

/** Backends one scheduler chooses among: a service's default pool (all of them) or one route's. */
export class Pool {
  readonly scheduler: Scheduler;

  constructor(
    scheduler: SchedulerName,
    /** The members, looked up each time: backends added or removed at run time are seen at once. */
    readonly members: () => readonly Backend[],
    readonly activeOf: (b: Backend) => number = (b) => b.active,
  ) {
    this.scheduler = createScheduler(scheduler);
  }

  /** A backend for a new connection from `client`, not one of `exclude` (already tried); undefined when none may take it. */
  pick(client: string, exclude?: ReadonlySet<Backend>): Backend | undefined {
    const candidates = this.members().filter((b) => b.eligible && !exclude?.has(b));
    if (candidates.length === 0) return undefined;
    const byName = new Map(candidates.map((b) => [b.name, b]));
    const pick = this.scheduler.pick(
      candidates.map((b) => ({ name: b.name, weight: b.weight, active: this.activeOf(b) })),
      client,
    );
    return byName.get(pick.name);
  }

  /** Every member's reason for taking nothing new, for a 503 body: "web1 down (connection refused), web2 draining". */
  describeUnavailable(): string {
    const members = this.members();
    if (members.length === 0) return 'it has no backends';
    return members.map((b) => `${b.name} ${b.whyNot}`).join(', ');
  }
}
