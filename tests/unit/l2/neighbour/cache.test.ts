import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import {
  ARP_CACHE_MAX,
  NeighbourCache,
  NudState,
  PENDING_QUEUE_MAX,
  type NeighbourCacheOptions,
} from '../../../../src/l2/neighbour/cache.js';

const MAC_A = 0x0200_0000_000a;
const MAC_B = 0x0200_0000_000b;
const IP = 0x0a00_0002;

function setup(options: Partial<NeighbourCacheOptions<number>> = {}) {
  const ctx = createTestContext();
  const solicits: { key: number; unicastTo: number | undefined; at: number }[] = [];
  const sent: { key: number; mac: number; packet: Uint8Array }[] = [];
  const unreachable: { key: number; packet: Uint8Array }[] = [];
  const cache = new NeighbourCache<number>({
    ctx,
    counterPrefix: 'arp',
    solicit: (key, unicastTo) => solicits.push({ key, unicastTo, at: ctx.clock.now() }),
    transmit: (key, mac, packet) => sent.push({ key, mac, packet }),
    unreachable: (key, packet) => unreachable.push({ key, packet }),
    ...options,
  });
  const at = (t: number): void => ctx.timers.advanceTo(ctx.clock, t);
  const state = (key = IP): string | undefined => cache.lookup(key)?.state;
  return { ctx, cache, solicits, sent, unreachable, at, state };
}

const packet = (n: number): Uint8Array => new Uint8Array([0x45, n]);

describe('neighbour cache', () => {
  it('INCOMPLETE: three broadcast solicits one second apart, then FAILED drops the queue', () => {
    const { ctx, cache, solicits, unreachable, at, state } = setup();
    expect(cache.resolve(IP, packet(1))).toBe('queued');
    expect(cache.resolve(IP, packet(2))).toBe('queued');
    expect(state()).toBe(NudState.Incomplete);
    at(2_999);
    expect(state()).toBe(NudState.Incomplete);
    expect(solicits).toEqual([
      { key: IP, unicastTo: undefined, at: 0 },
      { key: IP, unicastTo: undefined, at: 1_000 },
      { key: IP, unicastTo: undefined, at: 2_000 },
    ]);
    at(3_000);
    expect(state()).toBe(NudState.Failed);
    expect(cache.lookup(IP)?.mac).toBeUndefined();
    expect(unreachable.map((u) => [u.key, u.packet[1]])).toEqual([
      [IP, 1],
      [IP, 2],
    ]);
    expect(ctx.stats.get('arpResolveFailed')).toBe(1);
    expect(ctx.stats.get('arpQueueDrops')).toBe(2);
    expect(solicits).toHaveLength(3);
  });

  it('a solicited answer resolves: queued packets leave in order, later ones go straight out', () => {
    const { cache, solicits, sent, at, state } = setup();
    cache.resolve(IP, packet(1));
    cache.resolve(IP, packet(2));
    at(400);
    expect(cache.update(IP, MAC_A, { state: NudState.Reachable, create: false, override: false })).toBe('resolved');
    expect(state()).toBe(NudState.Reachable);
    expect(sent.map((s) => [s.key, s.mac, s.packet[1]])).toEqual([
      [IP, MAC_A, 1],
      [IP, MAC_A, 2],
    ]);
    expect(cache.resolve(IP, packet(3))).toBe(MAC_A);
    at(10_000);
    expect(solicits).toHaveLength(1); // the retransmission timer was cancelled
    expect(cache.lookup(IP)?.queued).toBe(0);
  });

  it('REACHABLE becomes STALE after the reachable time, and STALE is collected after gc_stale_time', () => {
    const { cache, at, state } = setup();
    cache.update(IP, MAC_A, { state: NudState.Reachable, create: true, override: true });
    at(29_999);
    expect(state()).toBe(NudState.Reachable);
    at(30_000);
    expect(state()).toBe(NudState.Stale);
    expect(cache.lookup(IP)?.mac).toBe(MAC_A);
    at(89_999);
    expect(state()).toBe(NudState.Stale);
    at(90_000);
    expect(cache.lookup(IP)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('confirm() keeps an entry REACHABLE (checked lazily when the timer fires)', () => {
    const { cache, at, state } = setup();
    cache.update(IP, MAC_A, { state: NudState.Reachable, create: true, override: true });
    at(20_000);
    cache.confirm(IP);
    at(49_999);
    expect(state()).toBe(NudState.Reachable);
    at(50_000);
    expect(state()).toBe(NudState.Stale);
  });

  it('STALE used → DELAY; no confirmation → PROBE with three unicast probes → FAILED', () => {
    const { cache, solicits, at, state } = setup();
    cache.update(IP, MAC_A, { state: NudState.Stale, create: true, override: true });
    at(1_000);
    expect(cache.resolve(IP, packet(1))).toBe(MAC_A); // a STALE address is used at once
    expect(state()).toBe(NudState.Delay);
    at(5_999);
    expect(state()).toBe(NudState.Delay);
    expect(solicits).toHaveLength(0);
    at(6_000);
    expect(state()).toBe(NudState.Probe);
    expect(cache.resolve(IP, packet(2))).toBe(MAC_A); // still usable while probing
    at(8_999);
    expect(solicits).toEqual([
      { key: IP, unicastTo: MAC_A, at: 6_000 },
      { key: IP, unicastTo: MAC_A, at: 7_000 },
      { key: IP, unicastTo: MAC_A, at: 8_000 },
    ]);
    at(9_000);
    expect(state()).toBe(NudState.Failed);
    expect(cache.resolve(IP, packet(3))).toBe('queued'); // FAILED starts over, with a broadcast
    expect(state()).toBe(NudState.Incomplete);
    expect(solicits.at(-1)).toEqual({ key: IP, unicastTo: undefined, at: 9_000 });
  });

  it('DELAY + upper-layer confirmation → REACHABLE without probing', () => {
    const { cache, solicits, at, state } = setup();
    cache.update(IP, MAC_A, { state: NudState.Stale, create: true, override: true });
    cache.resolve(IP, packet(1));
    at(2_000);
    cache.confirm(IP);
    at(5_000);
    expect(state()).toBe(NudState.Reachable);
    expect(solicits).toHaveLength(0);
    at(31_999);
    expect(state()).toBe(NudState.Reachable); // 30 s from the confirmation at 2 s
    at(32_000);
    expect(state()).not.toBe(NudState.Reachable);
  });

  it('REACHABLE that was used in its last seconds goes to DELAY, not STALE', () => {
    const { cache, at, state } = setup();
    cache.update(IP, MAC_A, { state: NudState.Reachable, create: true, override: true });
    at(28_000);
    cache.resolve(IP, packet(1));
    at(30_000);
    expect(state()).toBe(NudState.Delay);
  });

  it('PROBE answered → REACHABLE', () => {
    const { cache, at, state } = setup();
    cache.update(IP, MAC_A, { state: NudState.Stale, create: true, override: true });
    cache.resolve(IP, packet(1));
    at(5_500);
    expect(state()).toBe(NudState.Probe);
    cache.update(IP, MAC_A, { state: NudState.Reachable, create: false, override: false });
    expect(state()).toBe(NudState.Reachable);
    at(20_000);
    expect(state()).toBe(NudState.Reachable);
  });

  it('update: same address overheard keeps the state; a new address needs override', () => {
    const { cache, state } = setup();
    expect(cache.update(IP, MAC_A, { state: NudState.Stale, create: false, override: true })).toBe('unknown');
    expect(cache.size).toBe(0);
    expect(cache.update(IP, MAC_A, { state: NudState.Reachable, create: true, override: true })).toBe('created');
    expect(cache.update(IP, MAC_A, { state: NudState.Stale, create: false, override: true })).toBe('unchanged');
    expect(state()).toBe(NudState.Reachable);
    expect(cache.update(IP, MAC_B, { state: NudState.Stale, create: false, override: false })).toBe('locked');
    expect(cache.lookup(IP)?.mac).toBe(MAC_A);
    expect(cache.update(IP, MAC_B, { state: NudState.Stale, create: false, override: true })).toBe('updated');
    expect(cache.lookup(IP)?.mac).toBe(MAC_B);
    expect(state()).toBe(NudState.Stale);
  });

  it('an overheard address for an INCOMPLETE entry sends the queue and moves to DELAY', () => {
    const { cache, sent, state } = setup();
    cache.resolve(IP, packet(1));
    cache.update(IP, MAC_A, { state: NudState.Stale, create: true, override: true });
    expect(sent).toHaveLength(1);
    expect(state()).toBe(NudState.Delay);
  });

  it(`keeps at most ${PENDING_QUEUE_MAX} packets, dropping the oldest, and stores copies`, () => {
    const { ctx, cache, sent } = setup();
    const packets = [1, 2, 3, 4, 5].map(packet);
    for (const p of packets) cache.resolve(IP, p);
    expect(cache.lookup(IP)?.queued).toBe(PENDING_QUEUE_MAX);
    expect(ctx.stats.get('arpQueueDrops')).toBe(2);
    for (const p of packets) p.fill(0); // the caller reuses its buffers
    cache.update(IP, MAC_A, { state: NudState.Reachable, create: false, override: false });
    expect(sent.map((s) => s.packet[1])).toEqual([3, 4, 5]);
  });

  it('sends at most one solicitation per second per address, whatever the traffic', () => {
    const { cache, solicits, at } = setup();
    for (let t = 0; t < 3_000; t += 10) {
      at(t);
      cache.resolve(IP, packet(t & 0xff));
      cache.probe(IP);
    }
    expect(solicits.map((s) => s.at)).toEqual([0, 1_000, 2_000]);
  });

  it('the rate limit holds even when the retransmission timer is shorter', () => {
    const { cache, solicits, at } = setup({ timings: { retransTimeMs: 100 } });
    cache.resolve(IP, packet(1));
    at(10_000);
    expect(solicits.map((s) => s.at)).toEqual([0, 1_000, 2_000]);
  });

  it('probe(): unknown → INCOMPLETE; STALE → PROBE with a unicast probe', () => {
    const { cache, solicits, state } = setup();
    cache.probe(IP);
    expect(state()).toBe(NudState.Incomplete);
    expect(solicits).toEqual([{ key: IP, unicastTo: undefined, at: 0 }]);
    const other = IP + 1;
    cache.update(other, MAC_B, { state: NudState.Stale, create: true, override: true });
    cache.probe(other);
    expect(state(other)).toBe(NudState.Probe);
    expect(solicits[1]).toEqual({ key: other, unicastTo: MAC_B, at: 0 });
  });

  it(`never holds more than ARP_CACHE_MAX (${ARP_CACHE_MAX}) entries; resolving entries are never evicted`, () => {
    const { ctx, cache } = setup();
    for (let i = 0; i < ARP_CACHE_MAX; i++) expect(cache.resolve(IP + i, packet(1))).toBe('queued');
    expect(cache.size).toBe(ARP_CACHE_MAX);
    expect(cache.resolve(IP + ARP_CACHE_MAX, packet(1))).toBe('dropped');
    expect(cache.update(IP + ARP_CACHE_MAX, MAC_A, { state: NudState.Stale, create: true, override: true })).toBe('full');
    expect(cache.size).toBe(ARP_CACHE_MAX);
    expect(ctx.stats.get('arpCacheFull')).toBe(2);
    expect(ctx.stats.get('arpCacheEntries')).toBe(ARP_CACHE_MAX);
  });

  it('when full, a new entry evicts the least recently updated STALE/FAILED entry', () => {
    const { cache, at, state } = setup({ maxEntries: 4 });
    cache.update(1, MAC_A, { state: NudState.Reachable, create: true, override: true });
    at(100);
    cache.update(2, MAC_A, { state: NudState.Stale, create: true, override: true }); // oldest STALE
    at(200);
    cache.update(3, MAC_A, { state: NudState.Stale, create: true, override: true });
    cache.resolve(4, packet(1)); // INCOMPLETE
    at(300);
    expect(cache.update(5, MAC_B, { state: NudState.Stale, create: true, override: true })).toBe('created');
    expect(cache.size).toBe(4);
    expect(state(2)).toBeUndefined();
    expect([state(1), state(3), state(4), state(5)]).toEqual(['REACHABLE', 'STALE', 'INCOMPLETE', 'STALE']);
  });

  // Issue 14 item 15: after a flood of solicitations from spoofed sources, `ping -6` from the one real neighbour got
  // no replies. Each solicitation makes a STALE entry, and our advertisement back uses it (STALE → DELAY → PROBE), so
  // the table fills with entries for strangers that nothing ever confirmed; the real neighbour, idle and STALE, was
  // the oldest and went first, and then had no way back in: nothing but STALE and FAILED could be evicted.
  describe('a flood of overheard addresses (spoofed solicitations) against the neighbour we talk to', () => {
    const MAX = 8;
    const REAL = 1;
    /** The spoofed solicitations: each creates a STALE entry and gets an answer through it (→ DELAY). */
    function flood(cache: NeighbourCache<number>, from: number, count: number): void {
      for (let i = 0; i < count; i++) {
        cache.update(from + i, MAC_B, { state: NudState.Stale, create: true, override: true });
        cache.resolve(from + i, packet(i));
      }
    }

    it('does not evict a neighbour that was confirmed while unconfirmed strangers can go', () => {
      const { cache, at, state } = setup({ maxEntries: MAX });
      cache.update(REAL, MAC_A, { state: NudState.Reachable, create: true, override: true });
      at(40_000); // idle: REACHABLE → STALE, the oldest entry
      expect(state(REAL)).toBe(NudState.Stale);
      flood(cache, 100, 3 * MAX);
      expect(cache.size).toBe(MAX);
      expect(state(REAL)).toBe(NudState.Stale);
      expect(cache.resolve(REAL, packet(1))).toBe(MAC_A); // the echo reply leaves at once
    });

    it('a neighbour that is not in the table gets in: unconfirmed entries being probed make room', () => {
      const { ctx, cache, at, solicits } = setup({ maxEntries: MAX });
      flood(cache, 100, MAX);
      at(5_500); // the strangers' DELAY ran out: PROBE, unicast probes that nobody answers
      expect(cache.entries().every((e) => e.state === NudState.Probe)).toBe(true);
      expect(cache.resolve(REAL, packet(1))).toBe('queued');
      expect(solicits.at(-1)).toEqual({ key: REAL, unicastTo: undefined, at: 5_500 });
      expect(cache.update(REAL, MAC_A, { state: NudState.Reachable, create: false, override: false })).toBe('resolved');
      expect(ctx.stats.get('arpCacheFull')).toBe(0);
    });

    it('an overheard address never pushes out a confirmed one; our own traffic may', () => {
      const { cache, at, state } = setup({ maxEntries: 2 });
      cache.update(1, MAC_A, { state: NudState.Reachable, create: true, override: true });
      cache.update(2, MAC_A, { state: NudState.Reachable, create: true, override: true });
      at(40_000);
      expect([state(1), state(2)]).toEqual([NudState.Stale, NudState.Stale]);
      expect(cache.update(3, MAC_B, { state: NudState.Stale, create: true, override: true })).toBe('full');
      expect(cache.resolve(3, packet(1))).toBe('queued');
      expect(state(1)).toBeUndefined(); // the least recently updated confirmed STALE entry
    });

    it('entries being resolved for us (INCOMPLETE) are still never evicted', () => {
      const { cache } = setup({ maxEntries: 2 });
      cache.resolve(1, packet(1));
      cache.resolve(2, packet(1));
      expect(cache.update(3, MAC_B, { state: NudState.Stale, create: true, override: true })).toBe('full');
      expect(cache.resolve(3, packet(1))).toBe('dropped');
    });
  });

  it('delete() drops waiting packets as unreachable and stops the timer', () => {
    const { cache, solicits, unreachable, at } = setup();
    cache.resolve(IP, packet(7));
    expect(cache.delete(IP)).toBe(true);
    expect(cache.delete(IP)).toBe(false);
    expect(unreachable.map((u) => u.packet[1])).toEqual([7]);
    at(10_000);
    expect(solicits).toHaveLength(1);
  });

  it('lists entries with state, address and times', () => {
    const { cache, at } = setup();
    cache.resolve(IP, packet(1));
    at(500);
    cache.update(IP + 1, MAC_B, { state: NudState.Stale, create: true, override: true });
    expect(cache.entries().map((e) => [e.key, e.state, e.mac, e.updatedAt, e.queued])).toEqual([
      [IP, 'INCOMPLETE', undefined, 0, 1],
      [IP + 1, 'STALE', MAC_B, 500, 0],
    ]);
  });
});
