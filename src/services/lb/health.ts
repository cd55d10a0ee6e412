/**
 * A backend's health, HAProxy's way: a backend that is up goes down after
 * `fall` consecutive failed checks, one that is down comes back after `rise`
 * consecutive good ones (HAProxy `inter 2s rise 2 fall 3`, its defaults).
 * One bad answer in a run of good ones does not flap the backend.
 *
 * Two kinds of evidence feed it: active checks (health-check.ts: a TCP
 * connect, or an HTTP GET expecting 2xx, every `intervalMs`) and passive
 * observation (the proxy's own connects to the backend failing or being
 * reset: HAProxy's `observe layer4`). Both count as a check here.
 *
 * No I/O and no timers: the caller passes the time in, so the state
 * machine is tested with plain numbers (tests/unit/services/lb/health.test.ts).
 */

/** HAProxy's defaults: `inter 2000 rise 2 fall 3`; its check timeout defaults to the interval. */
export const HEALTH_DEFAULT_INTERVAL_MS = 2_000;
export const HEALTH_DEFAULT_RISE = 2;
export const HEALTH_DEFAULT_FALL = 3;
/** Results kept for `tapnet show lb` (HAProxy's stats page shows the last check and the transitions). */
export const HEALTH_HISTORY = 10;

export interface HealthEvent {
  readonly at: number;
  readonly ok: boolean;
  /** 'check' (active) or 'traffic' (passive). */
  readonly source: 'check' | 'traffic';
  /** "L4OK", "L7OK 200", "connection refused", "timeout after 1000 ms", ... */
  readonly detail: string;
}

export type HealthTransition = 'up' | 'down' | undefined;

export class HealthState {
  up = true;
  /** Consecutive results pointing the other way (failures while up, successes while down). */
  private streak = 0;
  readonly history: HealthEvent[] = [];
  /** When the backend last went up or down (undefined: never changed). */
  changedAt: number | undefined;
  lastDetail = '';

  constructor(
    readonly rise: number = HEALTH_DEFAULT_RISE,
    readonly fall: number = HEALTH_DEFAULT_FALL,
  ) {}

  /** Records one result; returns the transition it caused, if any. */
  record(event: HealthEvent): HealthTransition {
    this.history.push(event);
    if (this.history.length > HEALTH_HISTORY) this.history.shift();
    this.lastDetail = event.detail;
    if (event.ok === this.up) {
      this.streak = 0;
      return undefined;
    }
    this.streak++;
    if (this.streak < (this.up ? this.fall : this.rise)) return undefined;
    this.up = !this.up;
    this.streak = 0;
    this.changedAt = event.at;
    return this.up ? 'up' : 'down';
  }

  /** "UP", "UP 1/3" (one failure of the three that take it down), "DOWN 1/2" (one success of two to come back). */
  describe(): string {
    if (this.streak === 0) return this.up ? 'UP' : 'DOWN';
    return this.up ? `UP ${this.streak}/${this.fall}` : `DOWN ${this.streak}/${this.rise}`;
  }

  /** The last results, oldest first, as "+" (good) and "-" (bad): HAProxy's check history in one glance. */
  sparkline(): string {
    return this.history.map((e) => (e.ok ? '+' : '-')).join('');
  }
}
