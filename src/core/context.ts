/**
 * What every layer gets from the stack: time, timers, randomness, counters
 * and tracing. Injected so tests run on a ManualClock with a seeded RNG.
 */
import { randomBytes } from 'node:crypto';
import { Stats } from './stats.js';
import { Tracer, silentLogger } from './trace.js';
import { ManualClock, Timers, seededRandom, systemClock, type Clock, type Random } from './time.js';
import type { Logger } from 'pino';

export interface StackContext {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly stats: Stats;
  readonly trace: Tracer;
  readonly random: Random;
}

/** Cryptographic randomness for the real runtime (ISNs, DNS IDs, ephemeral ports). */
export const cryptoRandom: Random = {
  u32: () => randomBytes(4).readUInt32BE(0),
  float: () => randomBytes(4).readUInt32BE(0) / 0x1_0000_0000,
};

export function createContext(options: { clock?: Clock; random?: Random; log?: Logger; stats?: Stats; node?: string } = {}): StackContext {
  const clock = options.clock ?? systemClock;
  const stats = options.stats ?? new Stats();
  return {
    clock,
    timers: new Timers(clock),
    stats,
    trace: new Tracer(options.log ?? silentLogger, stats, options.node),
    random: options.random ?? cryptoRandom,
  };
}

/** A context for tests: manual clock at t=0, seeded RNG, silent log. */
export function createTestContext(seed = 1): StackContext & { clock: ManualClock } {
  const clock = new ManualClock(0);
  const ctx = createContext({ clock, random: seededRandom(seed) });
  return { ...ctx, clock };
}
