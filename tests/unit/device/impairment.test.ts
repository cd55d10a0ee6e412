import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../src/core/context.js';
import { Impairment, validateImpairmentOptions, type ImpairmentOptions } from '../../../src/device/impairment.js';

interface Delivery {
  /** Index of the frame handed to process() (read back from its first 4 bytes). */
  index: number;
  at: number;
  frame: Uint8Array;
}

function frameNumbered(index: number, length = 100): Uint8Array {
  const f = new Uint8Array(length);
  new DataView(f.buffer).setUint32(0, index);
  for (let i = 4; i < length; i++) f[i] = (index + i) & 0xff;
  return f;
}

/** Sends `count` frames, one every `intervalMs`, and records every delivery. */
function run(imp: Impairment, count: number, options: { intervalMs?: number; length?: number } = {}): Delivery[] {
  const out: Delivery[] = [];
  const interval = options.intervalMs ?? 0;
  for (let i = 0; i < count; i++) {
    const frame = frameNumbered(i, options.length);
    imp.process(frame, i * interval, (f, at) => out.push({ index: new DataView(f.buffer, f.byteOffset).getUint32(0), at, frame: f }));
  }
  return out;
}

/** Deliveries in the order the far end sees them (by time, ties in delivery-call order). */
function arrivalOrder(deliveries: Delivery[]): Delivery[] {
  return deliveries.map((d, i) => ({ d, i })).sort((x, y) => x.d.at - y.d.at || x.i - y.i).map((x) => x.d);
}

const N = 100_000;

describe('Impairment without options', () => {
  it('delivers every frame once, unmodified, at the time it was sent', () => {
    const imp = new Impairment({}, createTestContext());
    const frame = frameNumbered(7);
    const calls: [Uint8Array, number][] = [];
    const n = imp.process(frame, 42.5, (f, at) => calls.push([f, at]));
    expect(n).toBe(1);
    expect(calls).toEqual([[frame, 42.5]]);
    expect(imp.counters).toEqual({ frames: 1, delivered: 1, lost: 0, duplicated: 0, corrupted: 0, reordered: 0, queueDrops: 0 });
  });
});

describe('loss', () => {
  it.each([0.01, 0.1, 0.5])('drops a fraction ~%s of 100k frames', (p) => {
    const ctx = createTestContext();
    const imp = new Impairment({ loss: p, seed: 11 }, ctx);
    const delivered = run(imp, N);
    // 5 standard deviations of a binomial(N, p).
    const tolerance = 5 * Math.sqrt(N * p * (1 - p));
    expect(Math.abs(imp.counters.lost - N * p)).toBeLessThan(tolerance);
    expect(delivered.length).toBe(N - imp.counters.lost);
    expect(imp.counters.delivered).toBe(delivered.length);
    // Drops are counted and traced in the stack's stats too.
    expect(ctx.stats.get('linkImpairLost')).toBe(imp.counters.lost);
  });

  it('loss 1 drops everything and loss 0 nothing', () => {
    expect(run(new Impairment({ loss: 1, seed: 1 }), 1000)).toHaveLength(0);
    expect(run(new Impairment({ loss: 0, seed: 1 }), 1000)).toHaveLength(1000);
  });

  it('losses are spread out, not bunched at one end', () => {
    const imp = new Impairment({ loss: 0.2, seed: 3 });
    const seen = new Set(run(imp, N).map((d) => d.index));
    const lostInFirstHalf = N / 2 - [...seen].filter((i) => i < N / 2).length;
    expect(Math.abs(lostInFirstHalf - imp.counters.lost / 2)).toBeLessThan(5 * Math.sqrt(N * 0.2 * 0.8));
  });
});

describe('duplicate', () => {
  it('sends ~d of frames twice, as separate equal buffers', () => {
    const d = 0.05;
    const imp = new Impairment({ duplicate: d, seed: 5 });
    const out = run(imp, N);
    expect(Math.abs(imp.counters.duplicated - N * d)).toBeLessThan(5 * Math.sqrt(N * d * (1 - d)));
    expect(out.length).toBe(N + imp.counters.duplicated);
    const byIndex = new Map<number, Delivery[]>();
    for (const x of out) byIndex.set(x.index, [...(byIndex.get(x.index) ?? []), x]);
    const twins = [...byIndex.values()].filter((v) => v.length === 2);
    expect(twins.length).toBe(imp.counters.duplicated);
    for (const [first, second] of twins.slice(0, 100)) {
      expect(second!.frame).not.toBe(first!.frame);
      expect(second!.frame).toEqual(first!.frame);
    }
  });

  it('decides loss first: lost ~p of all frames, duplicated ~d of the survivors', () => {
    const imp = new Impairment({ loss: 0.1, duplicate: 0.1, seed: 9 });
    run(imp, N);
    expect(Math.abs(imp.counters.lost - N * 0.1)).toBeLessThan(5 * Math.sqrt(N * 0.09));
    const survivors = N - imp.counters.lost;
    expect(Math.abs(imp.counters.duplicated - survivors * 0.1)).toBeLessThan(5 * Math.sqrt(survivors * 0.09));
  });
});

describe('reorder', () => {
  it('holds back ~r of frames so that later frames overtake them', () => {
    const r = 0.1;
    const imp = new Impairment({ reorder: r, reorderDelayMs: 5, seed: 13 });
    const out = run(imp, N, { intervalMs: 1 });
    expect(Math.abs(imp.counters.reordered - N * r)).toBeLessThan(5 * Math.sqrt(N * r * (1 - r)));
    const arrived = arrivalOrder(out).map((d) => d.index);
    // A held-back frame arrives after frames sent later: count frames that arrive after a higher index.
    let overtaken = 0;
    let highest = -1;
    for (const i of arrived) {
      if (i < highest) overtaken++;
      highest = Math.max(highest, i);
    }
    // Every held frame is overtaken (5 ms hold, a frame every 1 ms) unless the next frames were held too.
    expect(overtaken).toBeGreaterThan(imp.counters.reordered * 0.85);
    expect(overtaken).toBeLessThanOrEqual(imp.counters.reordered);
    // All frames still arrive exactly once.
    expect(new Set(arrived).size).toBe(N);
  });

  it('frames that are not held back keep their order', () => {
    const imp = new Impairment({ reorder: 0.3, reorderDelayMs: 3, seed: 2 });
    const out = run(imp, 10_000, { intervalMs: 1 });
    const held = out.filter((d) => d.at > d.index * 1);
    const kept = out.filter((d) => d.at === d.index * 1);
    expect(held.length).toBe(imp.counters.reordered);
    expect(held.length + kept.length).toBe(out.length);
    for (const d of held) expect(d.at).toBe(d.index + 3);
  });

  it('reorder 0 delivers in send order', () => {
    const out = run(new Impairment({ reorder: 0, delayMs: 2, seed: 1 }), 1000, { intervalMs: 0.5 });
    expect(arrivalOrder(out).map((d) => d.index)).toEqual(out.map((d) => d.index));
  });
});

describe('delay and jitter', () => {
  it('a fixed delay adds exactly delayMs', () => {
    const out = run(new Impairment({ delayMs: 25, seed: 1 }), 100, { intervalMs: 3 });
    for (const d of out) expect(d.at).toBe(d.index * 3 + 25);
  });

  it('jitter spreads delays uniformly over delay ± jitter without reordering', () => {
    const imp = new Impairment({ delayMs: 20, jitterMs: 5, seed: 21 });
    // Frames 10 ms apart: jitter (±5) can never push one past the next, so each delay is what was drawn.
    const out = run(imp, 10_000, { intervalMs: 10 });
    const delays = out.map((d) => d.at - d.index * 10);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(15);
    expect(Math.max(...delays)).toBeLessThanOrEqual(25);
    expect(Math.min(...delays)).toBeLessThan(15.1);
    expect(Math.max(...delays)).toBeGreaterThan(24.9);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - 20)).toBeLessThan(0.15);
    // Uniform: about a quarter of the draws in each 2.5 ms quarter of the range.
    const q = [0, 0, 0, 0];
    for (const x of delays) q[Math.min(3, Math.floor((x - 15) / 2.5))]!++;
    for (const c of q) expect(Math.abs(c - 2500)).toBeLessThan(250);
  });

  it('jitter larger than the frame spacing still never reorders', () => {
    const out = run(new Impairment({ delayMs: 10, jitterMs: 10, seed: 4 }), 10_000, { intervalMs: 0.1 });
    for (let i = 1; i < out.length; i++) expect(out[i]!.at).toBeGreaterThanOrEqual(out[i - 1]!.at);
    // ...and never delivers before the frame was sent.
    for (const d of out) expect(d.at).toBeGreaterThanOrEqual(d.index * 0.1);
  });
});

describe('rate', () => {
  it('serialises frames at the configured rate', () => {
    // 1250 bytes = 10,000 bits = 10 ms at 1 Mbit/s.
    const imp = new Impairment({ rateBitsPerSecond: 1_000_000, seed: 1 });
    const out = run(imp, 5, { length: 1250 });
    expect(out.map((d) => d.at)).toEqual([10, 20, 30, 40, 50]);
  });

  it('limits throughput to rateBitsPerSecond when offered twice as much, tail-dropping the excess', () => {
    const rate = 2_000_000;
    const imp = new Impairment({ rateBitsPerSecond: rate, queueLimitFrames: 20, seed: 1 });
    // 1000-byte frames (4 ms each at 2 Mbit/s) offered every 2 ms for 20 s: 4 Mbit/s.
    const out = run(imp, 10_000, { intervalMs: 2, length: 1000 });
    const first = out[0]!.at;
    const last = out[out.length - 1]!.at;
    const bitsPerSecond = ((out.length - 1) * 1000 * 8) / ((last - first) / 1000);
    expect(Math.abs(bitsPerSecond - rate) / rate).toBeLessThan(0.001);
    expect(imp.counters.queueDrops + out.length).toBe(10_000);
    expect(Math.abs(imp.counters.queueDrops - 5000)).toBeLessThan(50);
  });

  it('keeps at most queueLimitFrames queued: a burst beyond the limit is tail-dropped', () => {
    const ctx = createTestContext();
    const imp = new Impairment({ rateBitsPerSecond: 1_000_000, queueLimitFrames: 10, seed: 1 }, ctx);
    const out = run(imp, 100, { length: 1250 }); // all at t=0
    expect(out.map((d) => d.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out[9]!.at).toBe(100);
    expect(imp.counters.queueDrops).toBe(90);
    expect(ctx.stats.get('linkImpairQueueDrops')).toBe(90);
    expect(imp.queuedAt(0)).toBe(10);
    expect(imp.queuedAt(35)).toBe(7); // frames finishing at 10, 20, 30 have left
    expect(imp.queuedAt(100)).toBe(0);
    // Once the queue has drained, frames are accepted again and leave immediately.
    const later: number[] = [];
    imp.process(new Uint8Array(1250), 200, (_f, at) => later.push(at));
    expect(later).toEqual([210]);
  });

  it('adds propagation delay after serialisation', () => {
    const out = run(new Impairment({ rateBitsPerSecond: 8000, delayMs: 100, seed: 1 }), 2, { length: 10 });
    // 80 bits at 8 kbit/s = 10 ms each, then 100 ms on the wire.
    expect(out.map((d) => d.at)).toEqual([110, 120]);
  });
});

describe('corrupt', () => {
  function bitDifferences(a: Uint8Array, b: Uint8Array): number[] {
    const bits: number[] = [];
    for (let i = 0; i < a.length; i++) {
      const x = a[i]! ^ b[i]!;
      for (let bit = 0; bit < 8; bit++) if (x & (0x80 >> bit)) bits.push(i * 8 + bit);
    }
    return bits;
  }

  it('flips exactly one bit of a copy, anywhere in the frame, leaving the input alone', () => {
    const imp = new Impairment({ corrupt: 1, seed: 17 });
    const positions = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const original = frameNumbered(i, 64);
      const input = original.slice();
      imp.process(input, 0, (f) => {
        expect(f).not.toBe(input);
        const diff = bitDifferences(original, f);
        expect(diff).toHaveLength(1);
        positions.add(diff[0]!);
      });
      expect(input).toEqual(original);
    }
    expect(imp.counters.corrupted).toBe(20_000);
    // 512 bit positions, 20k draws: every one is hit, first and last included.
    expect(positions.size).toBe(64 * 8);
  });

  it('corrupts ~c of 100k frames', () => {
    const c = 0.02;
    const imp = new Impairment({ corrupt: c, seed: 23 });
    let changed = 0;
    for (let i = 0; i < N; i++) {
      const f = frameNumbered(i, 32);
      imp.process(f, 0, (g) => {
        if (g !== f) changed++;
      });
    }
    expect(changed).toBe(imp.counters.corrupted);
    expect(Math.abs(changed - N * c)).toBeLessThan(5 * Math.sqrt(N * c * (1 - c)));
  });
});

describe('determinism', () => {
  const options: ImpairmentOptions = {
    loss: 0.05,
    duplicate: 0.05,
    reorder: 0.05,
    delayMs: 3,
    jitterMs: 2,
    corrupt: 0.05,
    rateBitsPerSecond: 10_000_000,
    queueLimitFrames: 50,
  };
  const fingerprint = (out: Delivery[]): string =>
    out.map((d) => `${d.index}@${d.at.toFixed(6)}:${d.frame.reduce((a, b, i) => (a * 31 + b * (i + 1)) >>> 0, 0)}`).join(',');

  it('the same seed gives the same outcome, a different seed a different one', () => {
    const a = fingerprint(run(new Impairment({ ...options, seed: 99 }), 5000, { intervalMs: 0.05 }));
    const b = fingerprint(run(new Impairment({ ...options, seed: 99 }), 5000, { intervalMs: 0.05 }));
    const c = fingerprint(run(new Impairment({ ...options, seed: 100 }), 5000, { intervalMs: 0.05 }));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('without a seed it draws from the context, which is seeded', () => {
    const a = fingerprint(run(new Impairment(options, createTestContext(5)), 5000, { intervalMs: 0.05 }));
    const b = fingerprint(run(new Impairment(options, createTestContext(5)), 5000, { intervalMs: 0.05 }));
    const c = fingerprint(run(new Impairment(options, createTestContext(6)), 5000, { intervalMs: 0.05 }));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});

describe('option validation', () => {
  it.each<[ImpairmentOptions, RegExp]>([
    [{ loss: 1.5 }, /loss/],
    [{ loss: -0.1 }, /loss/],
    [{ loss: Number.NaN }, /loss/],
    [{ duplicate: 2 }, /duplicate/],
    [{ reorder: -1 }, /reorder/],
    [{ corrupt: 1.01 }, /corrupt/],
    [{ delayMs: -1 }, /delayMs/],
    [{ jitterMs: Number.POSITIVE_INFINITY }, /jitterMs/],
    [{ reorderDelayMs: -5 }, /reorderDelayMs/],
    [{ rateBitsPerSecond: 0 }, /rateBitsPerSecond/],
    [{ rateBitsPerSecond: 1000, queueLimitFrames: 0 }, /queueLimitFrames/],
    [{ rateBitsPerSecond: 1000, queueLimitFrames: 2.5 }, /queueLimitFrames/],
    [{ queueLimitFrames: 10 }, /queueLimitFrames needs rateBitsPerSecond/],
    [{ seed: 1.5 }, /seed/],
    [{ loss: '0.1' as unknown as number }, /loss/],
    [{ los: 0.1 } as ImpairmentOptions, /unknown option 'los'/],
  ])('rejects %o', (options, message) => {
    expect(() => validateImpairmentOptions(options)).toThrow(message);
    expect(() => new Impairment(options, createTestContext())).toThrow(message);
  });

  it('accepts the boundaries', () => {
    expect(() =>
      validateImpairmentOptions({ loss: 0, duplicate: 1, reorder: 1, corrupt: 0, delayMs: 0, jitterMs: 0, reorderDelayMs: 0, rateBitsPerSecond: 1, queueLimitFrames: 1, seed: -3 }),
    ).not.toThrow();
  });

  it('needs a seed or a context', () => {
    expect(() => new Impairment({ loss: 0.1 })).toThrow(/seed or a StackContext/);
    expect(() => new Impairment({ loss: 0.1, seed: 1 })).not.toThrow();
  });
});
