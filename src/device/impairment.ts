/**
 * A seeded impairment element: what Linux's `tc qdisc ... netem` does to a
 * link, in-process and reproducible. Read `man tc-netem` first; this file
 * follows it where it can and says where it does not.
 *
 * Each frame handed to `process()` goes through these steps, in this order:
 *
 *   1. loss       With probability `loss` the frame is dropped (counter `lost`).
 *                 Unlike netem, loss is decided before duplication, so `lost / frames`
 *                 estimates `loss` directly.
 *   2. duplicate  With probability `duplicate` a second copy is made (`duplicated`).
 *                 Each copy then goes through steps 3-6 on its own, as if sent twice.
 *   3. corrupt    With probability `corrupt` the copy has one bit flipped, chosen
 *                 uniformly over the whole frame (`corrupted`). Like netem, the bit may
 *                 land in any header; the input frame itself is never modified.
 *   4. rate       With `rateBitsPerSecond`, the copy is serialised at that rate behind
 *                 the copies still in the queue (`frame.length * 8` bits; no preamble,
 *                 FCS or inter-frame gap). The queue holds every copy whose serialisation
 *                 has not finished, the one on the wire included; when it already holds
 *                 `queueLimitFrames` copies the new one is tail-dropped (`queueDrops`).
 *                 Default limit: 1000, netem's and Linux's default txqueuelen.
 *   5. delay      Propagation delay `delayMs`, plus a jitter drawn uniformly from
 *                 [-jitterMs, +jitterMs] (netem's default when no distribution table is
 *                 given), never below zero. Unlike netem, jitter never reorders: a copy is
 *                 never delivered before one processed earlier (that is `reorder`'s job),
 *                 so TCP tests can add delay variation without also getting reordering.
 *   6. reorder    With probability `reorder` the copy is held back for a further
 *                 `reorderDelayMs` (default 10 ms), so copies sent shortly after it
 *                 overtake it (`reordered`). netem's `reorder` works the other way round
 *                 (the chosen packets skip the delay); holding back is easier to reason
 *                 about and needs no base delay.
 *
 * Then `deliver(frame, at)` is called synchronously with the absolute time the copy
 * reaches the far end; the caller (the in-memory Link, a lab link between TAPs) arms
 * a timer for it. With no options at all, every frame is delivered at `now`.
 *
 * Randomness: draws come from `options.seed` (a private seeded PRNG) or else the
 * context's `random`; a step whose probability is 0 draws nothing. So for one seed and
 * one sequence of (frame length, now) inputs the outcome is always the same.
 * `now` must not go backwards between calls.
 */
import { z } from 'zod';
import type { StackContext } from '../core/context.js';
import { seededRandom, type Duration, type Instant, type Random } from '../core/time.js';

export interface ImpairmentOptions {
  /** Probability (0..1) that a frame is dropped. */
  loss?: number;
  /** Probability (0..1) that a frame is sent twice. */
  duplicate?: number;
  /** Probability (0..1) that a copy is held back by `reorderDelayMs`. */
  reorder?: number;
  /** How long a reordered copy is held back, ms (default 10). */
  reorderDelayMs?: Duration;
  /** Fixed one-way delay, ms. */
  delayMs?: Duration;
  /** Uniform delay variation ±jitterMs around `delayMs`. */
  jitterMs?: Duration;
  /** Serialisation rate in bits per second (unlimited when absent). */
  rateBitsPerSecond?: number;
  /** Copies the rate queue holds before tail drop (default 1000); needs `rateBitsPerSecond`. */
  queueLimitFrames?: number;
  /** Probability (0..1) that a copy gets one random bit flipped. */
  corrupt?: number;
  /** Seed for a private PRNG; without it the context's `random` is used. */
  seed?: number;
}

/** Default hold-back for `reorder`: long enough for a few frames to overtake on a fast link. */
export const REORDER_DELAY_MS_DEFAULT = 10;
/** Default rate queue length: Linux's txqueuelen and netem's `limit` default. */
export const QUEUE_LIMIT_FRAMES_DEFAULT = 1000;

export interface ImpairmentCounters {
  /** Frames handed to `process()`. */
  frames: number;
  /** Copies handed to `deliver`. */
  delivered: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  queueDrops: number;
}

/** Where a copy goes: `frame` is owned by the callee from now on; `at` is absolute (ms, same clock as `now`). */
export type DeliverFn = (frame: Uint8Array, at: Instant) => void;

const probability = (issue: { input?: unknown }): string => `must be a probability between 0 and 1, got ${String(issue.input)}`;
const duration = (issue: { input?: unknown }): string => `must be a duration >= 0 ms, got ${String(issue.input)}`;

/**
 * The options as a schema (zod), for `validateImpairmentOptions` and for the
 * `impairment:` of a lab link (src/runtime/topology.ts adds "N%" and rates).
 */
export const impairmentOptionsSchema = z
  .strictObject({
    loss: z.number({ error: probability }).min(0, { error: probability }).max(1, { error: probability }).optional(),
    duplicate: z.number({ error: probability }).min(0, { error: probability }).max(1, { error: probability }).optional(),
    reorder: z.number({ error: probability }).min(0, { error: probability }).max(1, { error: probability }).optional(),
    corrupt: z.number({ error: probability }).min(0, { error: probability }).max(1, { error: probability }).optional(),
    reorderDelayMs: z.number({ error: duration }).min(0, { error: duration }).optional(),
    delayMs: z.number({ error: duration }).min(0, { error: duration }).optional(),
    jitterMs: z.number({ error: duration }).min(0, { error: duration }).optional(),
    rateBitsPerSecond: z.number({ error: (i) => `must be a number > 0, got ${String(i.input)}` }).positive({ error: (i) => `must be a number > 0, got ${String(i.input)}` }).optional(),
    queueLimitFrames: z.int({ error: (i) => `must be an integer >= 1, got ${String(i.input)}` }).min(1, { error: (i) => `must be an integer >= 1, got ${String(i.input)}` }).optional(),
    seed: z.int({ error: (i) => `must be an integer, got ${String(i.input)}` }).optional(),
  })
  .refine((o) => o.queueLimitFrames === undefined || o.rateBitsPerSecond !== undefined, {
    path: ['queueLimitFrames'],
    error: 'needs rateBitsPerSecond (the queue drains at that rate)',
  }) satisfies z.ZodType<ImpairmentOptions>;

/**
 * Throws an Error naming the offending field for configuration mistakes
 * (`loss: 1.5`, `delayMs: -1`, a misspelt key from a lab file).
 */
export function validateImpairmentOptions(options: ImpairmentOptions): void {
  const r = impairmentOptionsSchema.safeParse(options);
  if (r.success) return;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') throw new Error(`impairment: unknown option '${String(issue.keys[0])}'`);
  if (issue.path.length === 0) throw new Error('impairment options must be an object');
  throw new Error(`impairment: ${issue.path.join('.')} ${issue.message}`);
}

export class Impairment {
  readonly options: Readonly<ImpairmentOptions>;
  readonly counters: ImpairmentCounters = {
    frames: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    queueDrops: 0,
  };

  private readonly random: Random;
  private readonly loss: number;
  private readonly duplicate: number;
  private readonly reorder: number;
  private readonly reorderDelayMs: Duration;
  private readonly delayMs: Duration;
  private readonly jitterMs: Duration;
  private readonly corrupt: number;
  /** Milliseconds per bit, 0 when the rate is unlimited. */
  private readonly msPerBit: number;
  private readonly queueLimit: number;
  /**
   * Finish times of the copies in the rate queue, oldest first (FIFO, so
   * non-decreasing): a ring buffer of `queueLimit` slots.
   */
  private readonly finishTimes: Float64Array;
  private queueHead = 0;
  private queueLength = 0;
  /** When the last queued copy finishes serialising. */
  private busyUntil: Instant = -Infinity;
  /** Latest delivery time given to a copy that was not held back (jitter keeps order). */
  private lastAt: Instant = -Infinity;

  /**
   * @param ctx supplies `random` when `options.seed` is absent, and `trace`
   *   so loss and queue drops show up in `tapnet show stats` as
   *   `linkImpairLost` / `linkImpairQueueDrops`.
   */
  constructor(
    options: ImpairmentOptions = {},
    private readonly ctx?: StackContext,
  ) {
    validateImpairmentOptions(options);
    this.options = { ...options };
    if (options.seed !== undefined) this.random = seededRandom(options.seed);
    else if (ctx) this.random = ctx.random;
    else throw new Error('Impairment needs options.seed or a StackContext for its randomness');
    this.loss = options.loss ?? 0;
    this.duplicate = options.duplicate ?? 0;
    this.reorder = options.reorder ?? 0;
    this.reorderDelayMs = options.reorderDelayMs ?? REORDER_DELAY_MS_DEFAULT;
    this.delayMs = options.delayMs ?? 0;
    this.jitterMs = options.jitterMs ?? 0;
    this.corrupt = options.corrupt ?? 0;
    this.msPerBit = options.rateBitsPerSecond === undefined ? 0 : 1000 / options.rateBitsPerSecond;
    this.queueLimit = this.msPerBit > 0 ? (options.queueLimitFrames ?? QUEUE_LIMIT_FRAMES_DEFAULT) : 0;
    this.finishTimes = new Float64Array(this.queueLimit);
  }

  /** Copies waiting in (or being serialised by) the rate queue at `now`. */
  queuedAt(now: Instant): number {
    this.drainQueue(now);
    return this.queueLength;
  }

  /**
   * Decides the fate of `frame`, sent at `now`: calls `deliver` zero, one or
   * two times, synchronously, and returns how many copies it scheduled.
   * `frame` is not modified; it may itself be passed to `deliver`, so the
   * caller must own it (copy TAP batch views first).
   */
  process(frame: Uint8Array, now: Instant, deliver: DeliverFn): number {
    this.counters.frames++;
    if (this.loss > 0 && this.random.float() < this.loss) {
      this.counters.lost++;
      this.ctx?.trace.dropped('linkImpairLost', 'impairment loss');
      return 0;
    }
    let copies = 1;
    if (this.duplicate > 0 && this.random.float() < this.duplicate) {
      this.counters.duplicated++;
      copies = 2;
    }
    let scheduled = 0;
    for (let i = 0; i < copies; i++) {
      // The second copy must be its own buffer: the receiver of the first may keep it.
      const copy = i === 0 ? frame : frame.slice();
      if (this.sendCopy(copy, now, deliver)) scheduled++;
    }
    return scheduled;
  }

  private sendCopy(frame: Uint8Array, now: Instant, deliver: DeliverFn): boolean {
    if (this.corrupt > 0 && this.random.float() < this.corrupt && frame.length > 0) {
      frame = frame.slice();
      const bit = this.random.u32() % (frame.length * 8);
      frame[bit >>> 3]! ^= 0x80 >>> (bit & 7);
      this.counters.corrupted++;
    }

    let departed = now;
    if (this.msPerBit > 0) {
      this.drainQueue(now);
      if (this.queueLength >= this.queueLimit) {
        this.counters.queueDrops++;
        this.ctx?.trace.dropped('linkImpairQueueDrops', `rate queue full (${this.queueLimit} frames)`);
        return false;
      }
      departed = Math.max(now, this.busyUntil) + frame.length * 8 * this.msPerBit;
      this.busyUntil = departed;
      this.finishTimes[(this.queueHead + this.queueLength) % this.queueLimit] = departed;
      this.queueLength++;
    }

    let at = departed + this.delayMs;
    if (this.jitterMs > 0) at = Math.max(departed, at + (this.random.float() * 2 - 1) * this.jitterMs);
    if (this.reorder > 0 && this.random.float() < this.reorder) {
      this.counters.reordered++;
      at = Math.max(at, this.lastAt) + this.reorderDelayMs;
    } else {
      at = Math.max(at, this.lastAt);
      this.lastAt = at;
    }
    this.counters.delivered++;
    deliver(frame, at);
    return true;
  }

  private drainQueue(now: Instant): void {
    while (this.queueLength > 0 && this.finishTimes[this.queueHead]! <= now) {
      this.queueHead = (this.queueHead + 1) % this.queueLimit;
      this.queueLength--;
    }
  }
}
