import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAC_AGEING_TIME_MS, MAC_TABLE_MAX_ENTRIES, MacTable } from '../../../../src/l2/switch/mac-table.js';

const M1 = 0x02_00_00_00_00_01;
const M2 = 0x02_00_00_00_00_02;

describe('MacTable (IEEE 802.1Q §8.8 filtering database)', () => {
  it('defaults: 300 s ageing (802.1Q Table 8-6), 8192 entries', () => {
    const t = new MacTable<string>();
    expect(t.ageingTimeMs).toBe(300_000);
    expect(MAC_AGEING_TIME_MS).toBe(300_000);
    expect(t.maxEntries).toBe(MAC_TABLE_MAX_ENTRIES);
  });

  it('learns, refreshes and follows a station that moved', () => {
    const t = new MacTable<string>();
    expect(t.learn(1, M1, 'p1', 0)).toBe('learned');
    expect(t.lookup(1, M1, 10)).toBe('p1');
    expect(t.learn(1, M1, 'p1', 20)).toBe('refreshed');
    expect(t.learn(1, M1, 'p2', 30)).toBe('moved');
    expect(t.lookup(1, M1, 40)).toBe('p2');
    expect(t.size).toBe(1);
  });

  it('keeps VLANs apart (independent VLAN learning, §8.8.8)', () => {
    const t = new MacTable<string>();
    t.learn(10, M1, 'p1', 0);
    t.learn(20, M1, 'p2', 0);
    expect(t.lookup(10, M1, 1)).toBe('p1');
    expect(t.lookup(20, M1, 1)).toBe('p2');
    expect(t.lookup(30, M1, 1)).toBeUndefined();
  });

  it('ages entries out after the ageing time; a refresh restarts the clock', () => {
    const t = new MacTable<string>({ ageingTimeMs: 1000 });
    t.learn(1, M1, 'p1', 0);
    t.learn(1, M2, 'p1', 0);
    t.learn(1, M2, 'p1', 900);
    expect(t.lookup(1, M1, 999)).toBe('p1');
    expect(t.lookup(1, M1, 1000)).toBeUndefined();
    expect(t.lookup(1, M2, 1899)).toBe('p1');
    expect(t.entries(1900)).toHaveLength(0);
    expect(t.size).toBe(0);
  });

  it('stops learning when full, keeps known entries, learns again once entries age out', () => {
    const t = new MacTable<string>({ maxEntries: 3, ageingTimeMs: 1000 });
    for (let i = 0; i < 3; i++) expect(t.learn(1, M1 + i, 'p1', 0)).toBe('learned');
    expect(t.learn(1, M1 + 10, 'p1', 10)).toBe('full');
    expect(t.lookup(1, M1 + 10, 10)).toBeUndefined();
    expect(t.learn(1, M1, 'p2', 500)).toBe('moved'); // known stations still update
    expect(t.size).toBe(3);
    // At 1000 the two untouched entries expire: the sweep makes room.
    expect(t.learn(1, M1 + 10, 'p1', 1000)).toBe('learned');
    expect(t.size).toBe(2);
  });

  it('flushes a port', () => {
    const t = new MacTable<string>();
    t.learn(1, M1, 'p1', 0);
    t.learn(2, M2, 'p1', 0);
    t.learn(1, M2, 'p2', 0);
    expect(t.flushPort('p1')).toBe(2);
    expect(t.entries(0).map((e) => e.port)).toEqual(['p2']);
  });

  it('never holds more than maxEntries, whatever arrives (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 })), { maxLength: 300 }),
        (events) => {
          const t = new MacTable<number>({ maxEntries: 16, ageingTimeMs: 50 });
          let now = 0;
          for (const [vid, mac, port] of events) {
            now += 1;
            t.learn(vid, 0x020000000000 + mac, port, now);
            expect(t.size).toBeLessThanOrEqual(16);
            const found = t.lookup(vid, 0x020000000000 + mac, now);
            expect(found === undefined || found === port).toBe(true);
          }
        },
      ),
    );
  });
});
