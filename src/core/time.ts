/**
 * Injected time (ARCHITECTURE.md: "Time and randomness are injected").
 *
 * Every protocol timer (ARP ageing, reassembly, TCP RTO, DHCP leases) reads
 * `clock.now()` in milliseconds and arms a `Timer` on one `Timers` queue.
 * Tests use `ManualClock` and call `timers.advanceTo()`: nothing sleeps.
 * The runtime (`RealTimeDriver`) sleeps exactly until the next deadline.
 *
 * The queue is a binary min-heap of Timer objects that know their own heap
 * index, so arm/re-arm/cancel are O(log n) with no garbage and no tombstones:
 * a TCP connection re-arms the same Timer on every ACK without allocating.
 */

/** Milliseconds on a monotonic clock (not wall time). */
export type Instant = number;
/** Milliseconds. */
export type Duration = number;

export interface Clock {
  now(): Instant;
}

/** Monotonic process clock (performance.now), fractional milliseconds. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private t: Instant = 0) {}
  now(): Instant {
    return this.t;
  }
  set(t: Instant): void {
    if (t < this.t) throw new Error(`ManualClock cannot go back from ${this.t} to ${t}`);
    this.t = t;
  }
  advance(d: Duration): void {
    this.set(this.t + d);
  }
}

export class Timer {
  /** Position in the heap, -1 when not armed. */
  index = -1;
  deadline: Instant = 0;
  constructor(
    private readonly timers: Timers,
    public callback: () => void,
  ) {}
  get armed(): boolean {
    return this.index >= 0;
  }
  /** Arms (or re-arms) the timer to fire at `deadline`. */
  armAt(deadline: Instant): void {
    this.timers.arm(this, deadline);
  }
  /** Arms (or re-arms) the timer to fire `delay` ms from now. */
  armIn(delay: Duration): void {
    this.timers.arm(this, this.timers.clock.now() + delay);
  }
  cancel(): void {
    this.timers.cancel(this);
  }
}

export class Timers {
  private readonly heap: Timer[] = [];
  /** Called whenever the earliest deadline may have moved earlier (the runtime driver re-sleeps). */
  onEarlierDeadline: (() => void) | undefined;

  constructor(readonly clock: Clock) {}

  timer(callback: () => void): Timer {
    return new Timer(this, callback);
  }

  /** One-shot convenience: a new timer armed `delay` ms from now. */
  after(delay: Duration, callback: () => void): Timer {
    const t = this.timer(callback);
    t.armIn(delay);
    return t;
  }

  get size(): number {
    return this.heap.length;
  }

  nextDeadline(): Instant | undefined {
    return this.heap[0]?.deadline;
  }

  arm(t: Timer, deadline: Instant): void {
    const before = this.heap[0]?.deadline;
    if (t.index >= 0) {
      const old = t.deadline;
      t.deadline = deadline;
      if (deadline < old) this.up(t.index);
      else this.down(t.index);
    } else {
      t.deadline = deadline;
      t.index = this.heap.length;
      this.heap.push(t);
      this.up(t.index);
    }
    if (before === undefined || deadline < before) this.onEarlierDeadline?.();
  }

  cancel(t: Timer): void {
    const i = t.index;
    if (i < 0) return;
    const last = this.heap.pop()!;
    t.index = -1;
    if (last !== t) {
      this.heap[i] = last;
      last.index = i;
      this.up(i);
      this.down(last.index);
    }
  }

  /** Fires every timer whose deadline is <= `now` (the clock's now by default), earliest first. */
  run(now: Instant = this.clock.now()): number {
    let fired = 0;
    while (this.heap.length > 0 && this.heap[0]!.deadline <= now) {
      const t = this.heap[0]!;
      this.cancel(t);
      fired++;
      t.callback();
    }
    return fired;
  }

  /**
   * Test helper: moves a ManualClock forward to `target`, stopping at every
   * deadline on the way so timers see the exact time they asked for.
   */
  advanceTo(clock: ManualClock, target: Instant): void {
    for (;;) {
      const next = this.nextDeadline();
      if (next === undefined || next > target) break;
      if (next > clock.now()) clock.set(next);
      this.run(clock.now());
    }
    if (target > clock.now()) clock.set(target);
  }

  private up(i: number): void {
    const h = this.heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.deadline <= t.deadline) break;
      h[i] = h[p]!;
      h[i]!.index = i;
      i = p;
    }
    h[i] = t;
    t.index = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.deadline < h[l]!.deadline ? r : l;
      if (h[c]!.deadline >= t.deadline) break;
      h[i] = h[c]!;
      h[i]!.index = i;
      i = c;
    }
    h[i] = t;
    t.index = i;
  }
}

/**
 * Drives `Timers` from the Node event loop with the system clock: one
 * setTimeout for the earliest deadline, unref'd so timers never keep the
 * process alive on their own.
 */
export class RealTimeDriver {
  private handle: NodeJS.Timeout | undefined;
  private scheduledFor = Infinity;

  constructor(private readonly timers: Timers) {
    timers.onEarlierDeadline = () => this.schedule();
  }

  schedule(): void {
    const next = this.timers.nextDeadline();
    if (next === undefined) return;
    if (this.handle && next >= this.scheduledFor) return;
    if (this.handle) clearTimeout(this.handle);
    this.scheduledFor = next;
    const delay = Math.max(0, next - this.timers.clock.now());
    this.handle = setTimeout(() => {
      // Timers act after the input that has already arrived, not before it. Node runs expired timers before it
      // polls for I/O in the same loop turn, so a TCP timer (RACK's reordering timer, TLP, RTO) that came due during
      // a long burst of writes would judge the flight on a stale view: the ACKs the peer sent meanwhile sit unread in
      // the TAP's queue, and everything after SND.UNA looks lost (seen: a whole window retransmitted, each segment
      // answered by a DSACK, 20x the real losses under 3% loss). setImmediate runs in the check phase, after poll
      // has read what is waiting.
      this.handle = undefined;
      this.scheduledFor = Infinity;
      setImmediate(() => {
        this.timers.run();
        this.schedule();
      });
    }, Math.ceil(delay));
    this.handle.unref();
  }

  stop(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
    this.timers.onEarlierDeadline = undefined;
  }
}

/** Seeded PRNG (xorshift128+ reduced to 32 bits) for tests and simulations; the runtime uses crypto. */
export interface Random {
  /** A uniformly random unsigned 32-bit integer. */
  u32(): number;
  /** A float in [0, 1). */
  float(): number;
}

export function seededRandom(seed: number): Random {
  // splitmix32 spreads the seed over 128 bits of state (never all zero), then xoshiro128** (Blackman & Vigna).
  let z = seed >>> 0;
  const splitmix32 = (): number => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
    t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  const u32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return { u32, float: () => u32() / 0x1_0000_0000 };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
