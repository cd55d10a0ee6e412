import type { CounterName } from '../../../../src/core/stats.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { createTestContext } from '../../../../src/core/context.js';
import { Ipv4HeaderView, emitIpv4Header, ipv4HeaderLength, ipv4Record } from '../../../../src/l3/ipv4/header.js';
import {
  Ipv4Reassembler,
  REASSEMBLY_DATAGRAMS_MAX,
  REASSEMBLY_FRAGMENT_OVERHEAD,
  REASSEMBLY_MEMORY_MAX,
  REASSEMBLY_TIMEOUT_MS,
} from '../../../../src/l3/ipv4/reassembly.js';
import { parseIcmpv4 } from '../../../../src/l3/icmpv4/message.js';
import { PING_FRAGMENT_0, PING_FRAGMENT_1, PING_ECHO_REQUEST } from '../captures.js';

interface FragmentSpec {
  offset: number;
  length: number;
  more: boolean;
  id?: number;
  source?: number;
  protocol?: number;
  options?: Uint8Array;
  /** Data byte i is fill(offset + i), so reassembled data is checkable. */
  fill?: (position: number) => number;
}

const pattern = (position: number): number => (position * 13 + 5) & 0xff;

function fragment(spec: FragmentSpec): Uint8Array {
  const record = ipv4Record({
    protocol: spec.protocol ?? 17,
    source: spec.source ?? 0x0a4d0102,
    destination: 0x0a4d0101,
    identification: spec.id ?? 7,
    moreFragments: spec.more,
    fragmentOffset: spec.offset,
    options: spec.options,
  });
  const headerLength = ipv4HeaderLength(record);
  const buf = new Uint8Array(headerLength + spec.length);
  emitIpv4Header({ ...record, totalLength: buf.length }, buf, 0);
  const fill = spec.fill ?? pattern;
  for (let i = 0; i < spec.length; i++) buf[headerLength + i] = fill(spec.offset + i);
  return buf;
}

function setup(options: ConstructorParameters<typeof Ipv4Reassembler>[1] = {}) {
  const ctx = createTestContext();
  const timeouts: Uint8Array[] = [];
  const reassembler = new Ipv4Reassembler(ctx, { onTimeout: (f) => timeouts.push(f), ...options });
  const stat = (name: CounterName): number => ctx.stats.get(name);
  const advanceTo = (t: number): void => ctx.timers.advanceTo(ctx.clock, t);
  return { ctx, reassembler, timeouts, stat, advanceTo };
}

describe('Ipv4Reassembler: the happy path', () => {
  it('reassembles the two fragments Linux sent, in either order', () => {
    for (const order of [
      [PING_FRAGMENT_0, PING_FRAGMENT_1],
      [PING_FRAGMENT_1, PING_FRAGMENT_0],
    ]) {
      const { reassembler, stat } = setup();
      expect(reassembler.receive(fromHex(order[0]!))).toBeUndefined();
      const whole = reassembler.receive(fromHex(order[1]!));
      expect(whole).toBeDefined();
      const v = new Ipv4HeaderView();
      expect(v.wrap(whole!)).toBeUndefined(); // header checksum recomputed
      expect(v.totalLength).toBe(1228);
      expect(v.moreFragments).toBe(false);
      expect(v.fragmentOffset).toBe(0);
      expect(v.identification).toBe(0xddb9);
      // The ICMP checksum covers the whole 1208-byte message: it only verifies if every byte is in place.
      const echo = parseIcmpv4(v.payload);
      expect(echo.ok && echo.value.kind === 'echo' && [echo.value.identifier, echo.value.sequence, echo.value.data.length]).toEqual([0x157b, 1, 1200]);
      expect([stat('IpReasmReqds'), stat('IpReasmOKs'), stat('IpReasmFails'), stat('ipReasmBytes'), stat('ipReasmDatagrams')]).toEqual([2, 1, 0, 0, 0]);
      expect(reassembler.datagramsInProgress).toBe(0);
    }
  });

  it('hands a packet that is not a fragment straight back, counting nothing', () => {
    const { reassembler, stat } = setup();
    const packet = fromHex(PING_ECHO_REQUEST);
    expect(toHex(reassembler.receive(packet)!)).toBe(PING_ECHO_REQUEST);
    expect(stat('IpReasmReqds')).toBe(0);
  });

  it('keeps datagrams apart by source, destination, protocol and identification', () => {
    const { reassembler } = setup();
    expect(reassembler.receive(fragment({ offset: 0, length: 16, more: true, id: 1 }))).toBeUndefined();
    expect(reassembler.receive(fragment({ offset: 16, length: 5, more: false, id: 2 }))).toBeUndefined();
    expect(reassembler.receive(fragment({ offset: 16, length: 5, more: false, id: 1, protocol: 6 }))).toBeUndefined();
    expect(reassembler.receive(fragment({ offset: 16, length: 5, more: false, id: 1, source: 0x0a4d0103 }))).toBeUndefined();
    expect(reassembler.datagramsInProgress).toBe(4);
    const whole = reassembler.receive(fragment({ offset: 16, length: 5, more: false, id: 1 }));
    expect(whole?.length).toBe(41);
    expect([...whole!.subarray(20)]).toEqual(Array.from({ length: 21 }, (_, i) => pattern(i)));
  });

  it('uses the first fragment\'s header, options included, and keeps DF', () => {
    const { reassembler } = setup();
    const options = fromHex('94040000');
    reassembler.receive(fragment({ offset: 8, length: 3, more: false }));
    const whole = reassembler.receive(fragment({ offset: 0, length: 8, more: true, options }))!;
    const v = new Ipv4HeaderView();
    expect(v.wrap(whole)).toBeUndefined();
    expect(toHex(v.options)).toBe('94040000');
    expect(v.payload.length).toBe(11);
  });

  it('ignores an exact duplicate and still completes', () => {
    const { reassembler, stat } = setup();
    reassembler.receive(fragment({ offset: 0, length: 16, more: true }));
    expect(reassembler.receive(fragment({ offset: 0, length: 16, more: true }))).toBeUndefined();
    expect(stat('ipReasmDuplicates')).toBe(1);
    expect(reassembler.receive(fragment({ offset: 16, length: 1, more: false }))?.length).toBe(37);
    expect(stat('IpReasmFails')).toBe(0);
    expect(stat('IpReasmReqds')).toBe(3);
  });
});

describe('Ipv4Reassembler: duplicates inside data already received (issue 11 item 9, like Linux)', () => {
  it.each([
    ['inside one piece', { offset: 8, length: 8 }],
    ['same start, shorter', { offset: 0, length: 8 }],
    ['across two adjacent pieces', { offset: 8, length: 16 }],
  ])('ignores a fragment %s and still reassembles', (_, sub) => {
    const { reassembler, stat } = setup();
    reassembler.receive(fragment({ offset: 0, length: 16, more: true }));
    reassembler.receive(fragment({ offset: 16, length: 16, more: true }));
    expect(reassembler.receive(fragment({ ...sub, more: true, fill: () => 0xee }))).toBeUndefined(); // different bytes: still ignored
    expect([stat('ipReasmDuplicates'), stat('IpExtReasmOverlaps'), stat('IpReasmFails'), reassembler.datagramsInProgress]).toEqual([1, 0, 0, 1]);
    const whole = reassembler.receive(fragment({ offset: 32, length: 3, more: false }));
    expect(whole?.length).toBe(20 + 35);
    expect([...whole!.subarray(20)]).toEqual(Array.from({ length: 35 }, (_, i) => pattern(i))); // the first copy wins
    expect(stat('IpReasmOKs')).toBe(1);
  });

  it('still drops the datagram when the fragment also covers a hole', () => {
    const { reassembler, stat } = setup();
    reassembler.receive(fragment({ offset: 0, length: 16, more: true }));
    reassembler.receive(fragment({ offset: 24, length: 8, more: true }));
    reassembler.receive(fragment({ offset: 8, length: 24, more: true })); // [8,32) spans the hole [16,24)
    expect([stat('IpExtReasmOverlaps'), stat('ipReasmDuplicates'), reassembler.datagramsInProgress]).toEqual([1, 0, 0]);
  });
});

describe('Ipv4Reassembler: timeout (RFC 791 §3.2, RFC 1122 §3.3.2)', () => {
  it('drops the datagram after 30 s and reports fragment zero for ICMP time exceeded', () => {
    const { reassembler, timeouts, stat, advanceTo } = setup();
    reassembler.receive(fromHex(PING_FRAGMENT_0));
    advanceTo(REASSEMBLY_TIMEOUT_MS - 1);
    expect(timeouts).toEqual([]);
    expect(stat('ipReasmBytes')).toBe(976 + REASSEMBLY_FRAGMENT_OVERHEAD);
    advanceTo(REASSEMBLY_TIMEOUT_MS);
    expect(timeouts.map((f) => toHex(f))).toEqual([PING_FRAGMENT_0]);
    expect([stat('IpReasmTimeout'), stat('IpReasmFails'), stat('ipReasmBytes'), stat('ipReasmDatagrams')]).toEqual([1, 1, 0, 0]);
    // The late second fragment starts a new datagram and does not complete anything.
    expect(reassembler.receive(fromHex(PING_FRAGMENT_1))).toBeUndefined();
  });

  it('does not report when fragment zero never arrived', () => {
    const { reassembler, timeouts, stat, advanceTo } = setup();
    reassembler.receive(fromHex(PING_FRAGMENT_1));
    advanceTo(REASSEMBLY_TIMEOUT_MS);
    expect(timeouts).toEqual([]);
    expect(stat('IpReasmTimeout')).toBe(1);
    expect(reassembler.datagramsInProgress).toBe(0);
  });

  it('counts from the first fragment: later fragments do not extend the timer', () => {
    const { reassembler, stat, advanceTo } = setup();
    reassembler.receive(fragment({ offset: 0, length: 8, more: true }));
    advanceTo(20_000);
    reassembler.receive(fragment({ offset: 16, length: 8, more: false }));
    advanceTo(REASSEMBLY_TIMEOUT_MS);
    expect(stat('IpReasmTimeout')).toBe(1);
  });

  it('cancels the timer of a datagram that completed', () => {
    const { ctx, reassembler, stat, advanceTo } = setup();
    reassembler.receive(fragment({ offset: 0, length: 8, more: true }));
    reassembler.receive(fragment({ offset: 8, length: 8, more: false }));
    expect(ctx.timers.size).toBe(0);
    advanceTo(REASSEMBLY_TIMEOUT_MS * 2);
    expect(stat('IpReasmTimeout')).toBe(0);
  });

  it('honours a custom timeout and a late onTimeout assignment', () => {
    const ctx = createTestContext();
    const reassembler = new Ipv4Reassembler(ctx, { timeoutMs: 1000 });
    const seen: number[] = [];
    reassembler.onTimeout = (f) => seen.push(f.length);
    reassembler.receive(fragment({ offset: 0, length: 8, more: true }));
    ctx.timers.advanceTo(ctx.clock, 1000);
    expect(seen).toEqual([28]);
  });
});

describe('Ipv4Reassembler: hostile fragments', () => {
  it('drops the whole datagram on an overlap (RFC 5722, Linux since FragmentSmack)', () => {
    const { reassembler, stat } = setup();
    reassembler.receive(fragment({ offset: 0, length: 16, more: true }));
    reassembler.receive(fragment({ offset: 24, length: 8, more: true }));
    expect(reassembler.receive(fragment({ offset: 8, length: 16, more: true }))).toBeUndefined(); // [8,24) overlaps [0,16)
    expect([stat('IpExtReasmOverlaps'), stat('IpReasmFails'), stat('ipReasmBytes'), reassembler.datagramsInProgress]).toEqual([1, 1, 0, 0]);
    // The rest of the datagram cannot complete what was dropped.
    expect(reassembler.receive(fragment({ offset: 32, length: 4, more: false }))).toBeUndefined();
  });

  it('catches an overlap with the following fragment too', () => {
    const { reassembler, stat } = setup();
    reassembler.receive(fragment({ offset: 16, length: 16, more: true }));
    reassembler.receive(fragment({ offset: 8, length: 16, more: true })); // [8,24) runs into [16,32)
    expect(stat('IpExtReasmOverlaps')).toBe(1);
  });

  it('drops data past 65535 bytes ("ping of death")', () => {
    const { reassembler, stat } = setup();
    reassembler.receive(fragment({ offset: 0, length: 1480, more: true }));
    expect(reassembler.receive(fragment({ offset: 65_528, length: 16, more: false }))).toBeUndefined();
    expect([stat('ipReasmOversize'), stat('IpReasmFails'), reassembler.datagramsInProgress]).toEqual([1, 1, 0]);
  });

  it('drops a datagram whose first header plus data would pass 65535', () => {
    const { reassembler, stat } = setup();
    const options = new Uint8Array(40).fill(1); // 40 NOPs: a 60-byte header
    reassembler.receive(fragment({ offset: 65_480, length: 30, more: false })); // fits behind a 20-byte header
    expect(stat('ipReasmOversize')).toBe(0);
    reassembler.receive(fragment({ offset: 0, length: 8, more: true, options })); // 60 + 65510 > 65535
    expect([stat('ipReasmOversize'), reassembler.datagramsInProgress]).toEqual([1, 0]);
  });

  it.each([
    ['empty fragment', [{ offset: 8, length: 0, more: true }]],
    ['non-final fragment not a multiple of 8', [{ offset: 0, length: 12, more: true }]],
    ['two different ends', [{ offset: 0, length: 8, more: true }, { offset: 16, length: 8, more: false }, { offset: 16, length: 16, more: false }]],
    ['data beyond the end', [{ offset: 0, length: 8, more: true }, { offset: 16, length: 8, more: false }, { offset: 32, length: 8, more: true }]],
    ['an end before data already held', [{ offset: 32, length: 8, more: true }, { offset: 8, length: 8, more: false }]],
  ] as [string, FragmentSpec[]][])('drops the datagram on a malformed fragment: %s', (_, specs) => {
    const { reassembler, stat } = setup();
    for (const spec of specs) expect(reassembler.receive(fragment(spec))).toBeUndefined();
    expect([stat('ipReasmMalformed'), stat('IpReasmFails'), reassembler.datagramsInProgress, reassembler.bytesHeld]).toEqual([1, 1, 0, 0]);
  });

  it('counts an unparseable packet as a failure without throwing', () => {
    const { reassembler, stat } = setup();
    expect(reassembler.receive(new Uint8Array(5))).toBeUndefined();
    expect(stat('IpReasmFails')).toBe(1);
  });
});

describe('Ipv4Reassembler: bounded memory under floods', () => {
  it('evicts the oldest datagram past the datagram cap (issue 11: refusing let a flood block everything for 30 s)', () => {
    const { reassembler, stat } = setup({ datagramsMax: 3 });
    for (let id = 0; id < 5; id++) reassembler.receive(fragment({ offset: 0, length: 8, more: true, id }));
    expect([reassembler.datagramsInProgress, stat('ipReasmEvicted'), stat('IpReasmFails')]).toEqual([3, 2, 2]);
    // The two oldest are gone; the newest still complete.
    expect(reassembler.receive(fragment({ offset: 8, length: 1, more: false, id: 0 }))).toBeUndefined();
    expect(reassembler.receive(fragment({ offset: 8, length: 1, more: false, id: 4 }))).toBeDefined();
  });

  it('reassembles a legitimate datagram during a flood of 20 000 bogus first fragments', () => {
    const { reassembler, stat, advanceTo } = setup();
    const bogus = (id: number) => reassembler.receive(fragment({ offset: 0, length: 8, more: true, id, source: 0x0a4d0199 }));
    const whole: (Uint8Array | undefined)[] = [];
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      bogus(i & 0xffff);
      if (i % 1000 === 999) advanceTo((now += 100)); // 20 000 in 2 s, well inside the 30 s timeout
      // A 2-fragment datagram whose pieces arrive 500 bogus fragments apart, every 2000.
      const id = 0x8000 + (i >> 11);
      if (i % 2000 === 1000) reassembler.receive(fragment({ offset: 0, length: 16, more: true, id }));
      if (i % 2000 === 1500) whole.push(reassembler.receive(fragment({ offset: 16, length: 5, more: false, id })));
    }
    expect(whole).toHaveLength(10);
    expect(whole.every((w) => w?.length === 41)).toBe(true);
    expect(stat('IpReasmOKs')).toBe(10);
    expect(reassembler.datagramsInProgress).toBe(REASSEMBLY_DATAGRAMS_MAX);
    expect(stat('ipReasmEvicted')).toBe(20_000 + 10 - REASSEMBLY_DATAGRAMS_MAX - 10);
  });

  it('holds at most REASSEMBLY_MEMORY_MAX under a flood of large incomplete datagrams, then frees it all', () => {
    const { reassembler, stat, advanceTo } = setup();
    let maxGauge = 0;
    // 200 datagrams × 40 fragments of 1480 bytes = 11.8 MB offered, none complete (no last fragment).
    for (let id = 0; id < 200; id++) {
      for (let k = 0; k < 40; k++) {
        reassembler.receive(fragment({ offset: k * 1480, length: 1480, more: true, id }));
        maxGauge = Math.max(maxGauge, stat('ipReasmBytes'));
      }
    }
    expect(maxGauge).toBeLessThanOrEqual(REASSEMBLY_MEMORY_MAX);
    expect(maxGauge).toBeGreaterThan(REASSEMBLY_MEMORY_MAX - 2 * (1480 + REASSEMBLY_FRAGMENT_OVERHEAD));
    expect(stat('ipReasmBytes')).toBe(reassembler.bytesHeld);
    expect(stat('ipReasmMemoryFull')).toBeGreaterThan(0);
    expect(stat('ipReasmDatagrams')).toBe(reassembler.datagramsInProgress);
    // A datagram that hit the cap was dropped whole, so nothing is pinned that could never complete.
    expect(stat('IpReasmFails')).toBe(stat('ipReasmMemoryFull'));
    advanceTo(REASSEMBLY_TIMEOUT_MS);
    expect([stat('ipReasmBytes'), stat('ipReasmDatagrams')]).toEqual([0, 0]);
  });

  it('evicts the oldest datagrams when a new one does not fit the memory budget', () => {
    const cost = 1480 + REASSEMBLY_FRAGMENT_OVERHEAD;
    const { reassembler, stat } = setup({ memoryMax: 10 * cost });
    for (let id = 0; id < 10; id++) reassembler.receive(fragment({ offset: 0, length: 1480, more: true, id }));
    expect(stat('ipReasmBytes')).toBe(10 * cost);
    const legit = [fragment({ offset: 0, length: 8, more: true, id: 9999 }), fragment({ offset: 8, length: 8, more: false, id: 9999 })];
    expect(legit.map((f) => reassembler.receive(f)).at(-1)?.length).toBe(36);
    expect([stat('ipReasmEvicted'), stat('IpReasmFails'), stat('ipReasmMemoryFull'), reassembler.datagramsInProgress]).toEqual([1, 1, 0, 9]);
  });

  it('charges per-fragment overhead so a flood of 8-byte fragments is bounded too', () => {
    const { reassembler, stat } = setup();
    let maxGauge = 0;
    // 10 datagrams × 4000 fragments of 8 bytes with holes between: 320 KB of data, but 5.4 MB charged.
    for (let id = 0; id < 10; id++) {
      for (let k = 0; k < 4000; k++) {
        reassembler.receive(fragment({ offset: k * 16, length: 8, more: true, id }));
        maxGauge = Math.max(maxGauge, stat('ipReasmBytes'));
      }
    }
    expect(maxGauge).toBeLessThanOrEqual(REASSEMBLY_MEMORY_MAX);
    expect(maxGauge).toBeGreaterThan(REASSEMBLY_MEMORY_MAX - 2 * (8 + REASSEMBLY_FRAGMENT_OVERHEAD));
    expect(stat('ipReasmMemoryFull')).toBeGreaterThan(0);
  });

  it('drops the whole datagram when its next fragment does not fit, freeing what it held', () => {
    const { reassembler, stat } = setup({ memoryMax: 3 * (1480 + REASSEMBLY_FRAGMENT_OVERHEAD) });
    reassembler.receive(fragment({ offset: 0, length: 1480, more: true, id: 1 }));
    reassembler.receive(fragment({ offset: 0, length: 1480, more: true, id: 2 }));
    reassembler.receive(fragment({ offset: 1480, length: 1480, more: true, id: 2 }));
    expect(reassembler.datagramsInProgress).toBe(2);
    reassembler.receive(fragment({ offset: 2960, length: 1480, more: true, id: 2 }));
    expect([stat('ipReasmMemoryFull'), stat('IpReasmFails'), reassembler.datagramsInProgress]).toEqual([1, 1, 1]);
    expect(reassembler.bytesHeld).toBe(1480 + REASSEMBLY_FRAGMENT_OVERHEAD);
  });

  it('clear() drops everything and cancels the timers', () => {
    const { ctx, reassembler, stat } = setup();
    for (let id = 0; id < 5; id++) reassembler.receive(fragment({ offset: 0, length: 8, more: true, id }));
    reassembler.clear();
    expect([reassembler.datagramsInProgress, stat('ipReasmBytes'), ctx.timers.size]).toEqual([0, 0, 0]);
  });

  it('uses the documented caps', () => {
    expect(REASSEMBLY_TIMEOUT_MS).toBe(30_000);
    expect(REASSEMBLY_MEMORY_MAX).toBe(4 * 1024 * 1024);
    expect(REASSEMBLY_DATAGRAMS_MAX).toBeGreaterThan(0);
  });
});

describe('Ipv4Reassembler: properties', () => {
  it('random fragments never throw, keep the gauges true and the caps held, and expire completely', () => {
    const specArb = fc.record({
      offset: fc.integer({ min: 0, max: 300 }).map((n) => n * 8),
      length: fc.integer({ min: 0, max: 64 }),
      more: fc.boolean(),
      id: fc.integer({ min: 0, max: 5 }),
      protocol: fc.constantFrom(6, 17),
    });
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 60 }), (specs) => {
        const { reassembler, stat, advanceTo } = setup({ memoryMax: 4096, datagramsMax: 4 });
        for (const spec of specs) {
          const out = reassembler.receive(fragment(spec));
          if (out) expect(verifyChecksum(out, 0, 20)).toBe(true);
          expect(reassembler.bytesHeld).toBeLessThanOrEqual(4096);
          expect(reassembler.datagramsInProgress).toBeLessThanOrEqual(4);
          expect(stat('ipReasmBytes')).toBe(reassembler.bytesHeld);
        }
        const finished = stat('IpReasmOKs') + stat('IpReasmFails') - stat('ipReasmMemoryFull');
        expect(finished).toBeGreaterThanOrEqual(0);
        advanceTo(REASSEMBLY_TIMEOUT_MS);
        expect([reassembler.bytesHeld, reassembler.datagramsInProgress, stat('ipReasmBytes')]).toEqual([0, 0, 0]);
      }),
      { numRuns: 500 },
    );
  });

  it('any in-order split of a datagram reassembles to it, whatever the duplicates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), fc.boolean(), (dataLength, cuts, duplicate) => {
        const { reassembler } = setup();
        const pieces: FragmentSpec[] = [];
        let offset = 0;
        for (const units of cuts) {
          if (offset + units * 8 >= dataLength) break;
          pieces.push({ offset, length: units * 8, more: true });
          offset += units * 8;
        }
        pieces.push({ offset, length: dataLength - offset, more: false });
        const packets = pieces.map(fragment);
        if (duplicate) packets.splice(1, 0, packets[0]!);
        const results = packets.map((p) => reassembler.receive(p));
        const whole = results.at(-1);
        expect(whole?.length).toBe(20 + dataLength);
        expect(whole!.subarray(20).every((b, i) => b === pattern(i))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
