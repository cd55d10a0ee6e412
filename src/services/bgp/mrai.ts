/**
 * MinRouteAdvertisementIntervalTimer, RFC 4271 §9.2.1.1, with the jitter of
 * §10: how often a route to one destination may be advertised (or
 * withdrawn) to one peer.
 *
 * Read first: RFC 4271 §9.2.1.1, §10 (suggested values and jitter).
 *
 * "Two UPDATE messages sent by a BGP speaker to a peer that advertise
 * feasible routes and/or withdrawal of infeasible routes to some common set
 * of destinations MUST be separated by at least
 * MinRouteAdvertisementIntervalTimer." The rate limit is per destination,
 * the interval per peer. One pacer per peer keeps, for each destination sent
 * within the interval, the time it may be sent again; a change to a
 * destination that is still "hot" is held, and when its time comes the
 * speaker sends whatever is best *then* ("the last route selected SHALL be
 * advertised at the end of MinRouteAdvertisementIntervalTimer"). A
 * destination not sent recently goes at once: a new prefix, or the first
 * change after a quiet time, is not delayed. One timer per peer (armed for
 * the earliest held destination), not one per destination, which the RFC
 * calls "unwarranted overhead".
 *
 * Suggested values (§10): 30 s for external peers, 5 s for internal ones
 * (internal peers need faster convergence, §9.2.1.1). 0 turns the limit off
 * (FRR's and BIRD's behaviour: draft-ietf-idr-mrai-dep argues for it).
 * Withdrawals are paced too, as RFC 4271 says (RFC 1771 exempted them).
 * Jitter (§10): each time the timer starts, the interval is multiplied by a
 * random factor uniformly distributed in [0.75, 1.0].
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';

/** RFC 4271 §10: MinRouteAdvertisementIntervalTimer, external peers. */
export const DEFAULT_MRAI_EBGP_S = 30;
/** RFC 4271 §10: MinRouteAdvertisementIntervalTimer, internal peers. */
export const DEFAULT_MRAI_IBGP_S = 5;
/** RFC 4271 §10: jitter factor range. */
export const JITTER_MIN = 0.75;

export class MraiPacer {
  /** Destination → when it may be sent again; only destinations sent within the interval. */
  private readonly due = new Map<string, number>();
  /** Destinations with a change waiting for their time. */
  private readonly held = new Set<string>();
  private readonly timer: Timer;

  constructor(
    private readonly ctx: StackContext,
    /** The configured interval in ms; 0: no limit. */
    readonly intervalMs: number,
    /** Held destinations whose time has come: the speaker queues them again. */
    private readonly release: (keys: string[]) => void,
  ) {
    this.timer = ctx.timers.timer(() => this.expired());
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** The jittered interval for one batch of UPDATEs (§10: computed each time the timer starts). */
  startInterval(): number {
    return this.intervalMs * (JITTER_MIN + (1 - JITTER_MIN) * this.ctx.random.float());
  }

  /** Whether a change to `key` may be sent now; if not, it is held until its time. */
  admit(key: string, now: number): boolean {
    if (this.intervalMs === 0) return true;
    const due = this.due.get(key);
    if (due === undefined || due <= now) return true;
    this.held.add(key);
    return false;
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }

  /** `key` went out in an UPDATE now; `interval` from startInterval(). */
  sent(key: string, now: number, interval: number): void {
    if (this.intervalMs > 0) this.due.set(key, now + interval);
  }

  /** After a flush: the timer runs for the earliest held destination. */
  schedule(): void {
    if (this.held.size === 0 || this.timer.armed) return;
    let earliest = Infinity;
    for (const key of this.held) earliest = Math.min(earliest, this.due.get(key) ?? 0);
    this.timer.armAt(earliest);
  }

  /** The session went down: everything is sent afresh on the next one. */
  reset(): void {
    this.timer.cancel();
    this.due.clear();
    this.held.clear();
  }

  private expired(): void {
    const now = this.ctx.clock.now();
    const ready: string[] = [];
    for (const key of this.held) if ((this.due.get(key) ?? 0) <= now) ready.push(key);
    for (const key of ready) this.held.delete(key);
    // Forget destinations whose interval is over, so the map holds only recent ones.
    for (const [key, due] of this.due) if (due <= now) this.due.delete(key);
    if (ready.length > 0) this.release(ready);
    this.schedule();
  }
}
