/**
 * The schedulers on their own: plain candidate lists, no sockets. The property
 * test is the point of consistent hashing: removing one backend moves only the
 * clients it had.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createScheduler, type Candidate } from '../../../../src/services/lb/schedulers/index.js';
import { hashUnit } from '../../../../src/services/lb/schedulers/source-hash.js';

const c = (name: string, weight = 1, active = 0): Candidate => ({ name, weight, active });

function picks(name: Parameters<typeof createScheduler>[0], candidates: readonly Candidate[], n: number, client = '10.0.0.1'): string[] {
  const s = createScheduler(name);
  return Array.from({ length: n }, () => s.pick(candidates, client).name);
}

describe('round robin', () => {
  it('takes each backend in turn, ignoring weights', () => {
    expect(picks('roundrobin', [c('a', 5), c('b'), c('c')], 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('keeps its place when a backend leaves or joins', () => {
    const s = createScheduler('roundrobin');
    expect(s.pick([c('a'), c('b'), c('c')], '').name).toBe('a');
    expect(s.pick([c('a'), c('b'), c('c')], '').name).toBe('b');
    expect(s.pick([c('a'), c('b'), c('c'), c('d')], '').name).toBe('c');
    expect(s.pick([c('a'), c('b'), c('c'), c('d')], '').name).toBe('d');
    expect(s.pick([c('a'), c('c')], '').name).toBe('a'); // d gone: wrap
  });
});

describe('weighted round robin (nginx smooth)', () => {
  it('spreads a heavy backend\'s turns: 5,1,1 → a a b a c a a', () => {
    expect(picks('weighted', [c('a', 5), c('b', 1), c('c', 1)], 7)).toEqual(['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it('gives each backend its weight\'s share of every cycle', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), (weights) => {
        const candidates = weights.map((w, i) => c(`b${i}`, w));
        const total = weights.reduce((x, y) => x + y, 0);
        const counts = new Map<string, number>();
        for (const n of picks('weighted', candidates, total * 3)) counts.set(n, (counts.get(n) ?? 0) + 1);
        candidates.forEach((x) => expect(counts.get(x.name)).toBe(x.weight * 3));
      }),
    );
  });
});

describe('least connections (wlc)', () => {
  it('picks the backend with the fewest active connections per weight', () => {
    const s = createScheduler('leastconn');
    expect(s.pick([c('a', 1, 3), c('b', 1, 1), c('c', 1, 2)], '').name).toBe('b');
    // b: 4 per weight 4 = 1, a: 2 per weight 1 = 2
    expect(s.pick([c('a', 1, 2), c('b', 4, 4)], '').name).toBe('b');
  });

  it('takes turns among equally loaded backends', () => {
    expect(picks('leastconn', [c('a'), c('b'), c('c')], 4)).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('source hash (rendezvous)', () => {
  it('sends one client to the same backend every time', () => {
    const got = new Set(picks('sourcehash', [c('a'), c('b'), c('c')], 10, '192.0.2.7'));
    expect(got.size).toBe(1);
  });

  it('spreads many clients about evenly, and by weight', () => {
    const s = createScheduler('sourcehash');
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const n = s.pick([c('a'), c('b'), c('c', 2)], `10.0.${i >> 8}.${i & 255}`).name;
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    expect(counts.get('a')!).toBeGreaterThan(600);
    expect(counts.get('a')!).toBeLessThan(900);
    expect(counts.get('c')!).toBeGreaterThan(1300);
  });

  it('removing one backend moves only the clients it had (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.array(fc.ipV4(), { minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 8, maxLength: 8 }),
        (n, clients, which, weights) => {
          const all = Array.from({ length: n }, (_, i) => c(`web${i}`, weights[i]));
          const removed = all[which % n]!;
          const rest = all.filter((x) => x !== removed);
          const s = createScheduler('sourcehash');
          for (const client of clients) {
            const before = s.pick(all, client).name;
            const after = s.pick(rest, client).name;
            if (before !== removed.name) expect(after).toBe(before);
          }
        },
      ),
    );
  });

  it('hashes into (0, 1)', () => {
    for (const t of ['', 'a', '10.0.0.1/web1', 'x'.repeat(1000)]) {
      const h = hashUnit(t);
      expect(h).toBeGreaterThan(0);
      expect(h).toBeLessThan(1);
    }
  });
});
