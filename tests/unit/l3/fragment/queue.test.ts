/**
 * The fragment-queue core shared by IPv4 and IPv6 reassembly, with a
 * minimal family: what it decides itself (overlap classes, end checks,
 * caps, the timer) and what it leaves to the family's rules.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTestContext } from '../../../../src/core/context.js';
import { FragmentQueues, Overlap, type OverlapAction, type ReassemblyCounters } from '../../../../src/l3/fragment/queue.js';

const COUNTERS: ReassemblyCounters = {
  fails: 'IpReasmFails',
  timeout: 'IpReasmTimeout',
  overlaps: 'IpExtReasmOverlaps',
  malformed: 'ipReasmMalformed',
  duplicates: 'ipReasmDuplicates',
  memoryFull: 'ipReasmMemoryFull',
  evicted: 'ipReasmEvicted',
  bytes: 'ipReasmBytes',
  datagrams: 'ipReasmDatagrams',
};

function setup(rule: (o: Overlap) => OverlapAction, limits: Partial<{ memoryMax: number; queuesMax: number }> = {}) {
  const ctx = createTestContext();
  const seen: Overlap[] = [];
  const expired: string[] = [];
  const queues = new FragmentQueues<{ n: number }>(
    ctx,
    { timeoutMs: 1000, memoryMax: limits.memoryMax ?? 1 << 20, queuesMax: limits.queuesMax ?? 16, fragmentOverhead: 10 },
    {
      counters: COUNTERS,
      newDatagram: () => ({ n: 0 }),
      overlap: (o) => {
        seen.push(o);
        return rule(o);
      },
      describe: () => 'test fragment',
      expired: (q) => expired.push(q.key),
    },
  );
  const add = (offset: number, length: number, last = false, key = 'k') => queues.add(key, offset, new Uint8Array(length).fill(offset & 0xff), last);
  return { ctx, queues, seen, expired, add, stat: (n: CounterName) => ctx.stats.get(n) };
}

describe('FragmentQueues', () => {
  it('classifies a fragment over held data: exact duplicate, inside a run of pieces, partial', () => {
    const { add, seen, stat, queues } = setup(() => 'ignoreDuplicate');
    add(0, 16);
    add(16, 16);
    add(48, 16);
    add(0, 16); // exact
    add(8, 16); // inside [0,32) across two adjacent pieces
    add(16, 8); // inside one piece, same start
    add(24, 32); // [24,56) crosses the hole [32,48)
    add(40, 16); // starts in the hole
    expect(seen).toEqual(['exactDuplicate', 'insideReceived', 'insideReceived', 'partial', 'partial']);
    expect(stat('ipReasmDuplicates')).toBe(5);
    expect(queues.get('k')!.pieces.map((p) => [p.offset, p.end])).toEqual([[0, 16], [16, 32], [48, 64]]);
  });

  it('drops the whole datagram when the family says so, and only then', () => {
    const { add, stat, queues } = setup((o) => (o === Overlap.ExactDuplicate ? 'ignoreDuplicate' : 'dropDatagram'));
    add(0, 16);
    add(0, 16);
    expect([stat('ipReasmDuplicates'), queues.size]).toEqual([1, 1]);
    add(8, 8);
    expect([stat('IpExtReasmOverlaps'), stat('IpReasmFails'), queues.size, queues.bytesHeld, stat('ipReasmBytes')]).toEqual([1, 1, 0, 0, 0]);
  });

  it('completes when the last fragment fixed the length and every byte is held', () => {
    const { add, queues } = setup(() => 'dropDatagram');
    expect(add(16, 5, true)!.complete).toBe(false);
    const q = add(0, 16)!;
    expect([q.complete, q.dataLength, q.received, q.highestEnd]).toEqual([true, 21, 21, 21]);
    queues.take(q);
    expect([queues.size, queues.bytesHeld]).toEqual([0, 0]);
  });

  it.each([
    ['empty', [[0, 0, false]]],
    ['two ends', [[0, 8, true], [0, 16, true]]],
    ['data past the end', [[0, 8, true], [8, 8, false]]],
    ['an end below data held', [[16, 8, false], [0, 8, true]]],
  ] as [string, [number, number, boolean][]][])('counts a malformed datagram: %s', (_, specs) => {
    const { add, stat, queues } = setup(() => 'dropDatagram');
    for (const [o, l, last] of specs) add(o, l, last);
    expect([stat('ipReasmMalformed'), stat('IpReasmFails'), queues.size]).toEqual([1, 1, 0]);
  });

  it('times out from the first fragment and hands the queue to the family', () => {
    const { ctx, add, expired, stat, queues } = setup(() => 'dropDatagram');
    add(0, 8, false, 'a');
    ctx.timers.advanceTo(ctx.clock, 500);
    add(8, 8, false, 'a');
    ctx.timers.advanceTo(ctx.clock, 1000);
    expect([expired, stat('IpReasmTimeout'), stat('IpReasmFails'), queues.size, queues.bytesHeld]).toEqual([['a'], 1, 1, 0, 0]);
  });

  it('holds the memory and queue caps', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(4), fc.nat(40), fc.integer({ min: 1, max: 64 }), fc.boolean()), { maxLength: 80 }), (specs) => {
        const { add, queues, stat } = setup((o) => (o === Overlap.Partial ? 'dropDatagram' : 'ignoreDuplicate'), { memoryMax: 500, queuesMax: 3 });
        for (const [key, units, length, last] of specs) {
          add(units * 8, last ? length : 8, last, `k${key}`);
          expect(queues.bytesHeld).toBeLessThanOrEqual(500);
          expect(queues.size).toBeLessThanOrEqual(3);
          expect(stat('ipReasmBytes')).toBe(queues.bytesHeld);
          for (let k = 0; k < 5; k++) {
            const pieces = queues.get(`k${k}`)?.pieces ?? [];
            for (let i = 1; i < pieces.length; i++) expect(pieces[i]!.offset).toBeGreaterThanOrEqual(pieces[i - 1]!.end);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
