import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  seq,
  seqAdd,
  seqGe,
  seqGt,
  seqInRange,
  seqInWindow,
  seqLe,
  seqLt,
  seqMax,
  seqMin,
  seqSub,
  type SeqNum,
} from '../../../../src/l4/tcp/seq.js';

const TWO_32 = 0x1_0000_0000;
const TWO_31 = 0x8000_0000;

/** Sequence numbers biased to both sides of the 2^32 wrap, where the bugs live. */
const seqArb: fc.Arbitrary<SeqNum> = fc
  .oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0xffffffff - 1000, max: 0xffffffff }),
    fc.integer({ min: 0, max: 1000 }),
    fc.integer({ min: TWO_31 - 1000, max: TWO_31 + 1000 }),
  )
  .map(seq);
/** A forward distance that has a defined order: 1 .. 2^31 - 1. */
const distanceArb = fc.integer({ min: 1, max: TWO_31 - 1 });

/** Reference model in BigInt: a < b iff (b - a) mod 2^32 is in (0, 2^31). */
function modelLt(a: number, b: number): boolean {
  const d = (((BigInt(b) - BigInt(a)) % 2n ** 32n) + 2n ** 32n) % 2n ** 32n;
  return d > 0n && d < 2n ** 31n;
}

describe('SeqNum', () => {
  it('seq() brings numbers onto the 32-bit circle', () => {
    expect(seq(TWO_32)).toBe(0);
    expect(seq(-1)).toBe(0xffffffff);
    expect(seq(TWO_32 + 5)).toBe(5);
  });

  it('is a distinct type: a plain number is not a SeqNum', () => {
    // @ts-expect-error plain numbers must go through seq() (STYLE.md rule 10)
    const s: SeqNum = 5;
    expect(s).toBe(5);
  });

  it('adds and subtracts across the wrap', () => {
    expect(seqAdd(seq(0xffffffff), 1)).toBe(0);
    expect(seqAdd(seq(0xfffffff0), 0x20)).toBe(0x10);
    expect(seqAdd(seq(3), -5)).toBe(0xfffffffe);
    expect(seqSub(seq(0), seq(0xffffffff))).toBe(1);
    expect(seqSub(seq(0xffffffff), seq(0))).toBe(-1);
    expect(seqSub(seq(0x10), seq(0xfffffff0))).toBe(0x20);
  });

  it('compares across the wrap: 0xffffffff comes before 0', () => {
    const before = seq(0xffffffff);
    const after = seq(0);
    expect(seqLt(before, after)).toBe(true);
    expect(seqLe(before, after)).toBe(true);
    expect(seqGt(after, before)).toBe(true);
    expect(seqGe(after, before)).toBe(true);
    expect(seqLt(after, before)).toBe(false);
    expect(seqGt(before, after)).toBe(false);
    expect(seqMax(before, after)).toBe(0);
    expect(seqMin(before, after)).toBe(0xffffffff);
  });

  it('has the 2^31 - 1 horizon of RFC 9293 §3.4', () => {
    expect(seqLt(seq(0), seq(TWO_31 - 1))).toBe(true);
    // One further and "after" becomes "before".
    expect(seqLt(seq(0), seq(TWO_31 + 1))).toBe(false);
    expect(seqGt(seq(0), seq(TWO_31 + 1))).toBe(true);
  });

  it('seqInWindow: first =< s < first + size, across the wrap', () => {
    const first = seq(0xfffffffe);
    expect(seqInWindow(seq(0xfffffffe), first, 10)).toBe(true); // the left edge is in
    expect(seqInWindow(seq(0), first, 10)).toBe(true);
    expect(seqInWindow(seq(7), first, 10)).toBe(true); // last: first + 9
    expect(seqInWindow(seq(8), first, 10)).toBe(false); // the right edge is out
    expect(seqInWindow(seq(0xfffffffd), first, 10)).toBe(false); // just before
    expect(seqInWindow(first, first, 0)).toBe(false); // an empty window holds nothing
  });

  it('seqInRange: a =< s < b, across the wrap', () => {
    expect(seqInRange(seq(1), seq(0xfffffff0), seq(5))).toBe(true);
    expect(seqInRange(seq(5), seq(0xfffffff0), seq(5))).toBe(false);
    expect(seqInRange(seq(0xffffffef), seq(0xfffffff0), seq(5))).toBe(false);
    expect(seqInRange(seq(3), seq(3), seq(3))).toBe(false);
  });
});

describe('SeqNum properties', () => {
  it('seqLt agrees with the modular reference model', () => {
    fc.assert(
      fc.property(seqArb, seqArb, (a, b) => {
        fc.pre(((b - a + TWO_32) % TWO_32) !== TWO_31); // exactly 2^31 apart has no order
        expect(seqLt(a, b)).toBe(modelLt(a, b));
        expect(seqGt(a, b)).toBe(modelLt(b, a));
        expect(seqLe(a, b)).toBe(a === b || modelLt(a, b));
        expect(seqGe(a, b)).toBe(a === b || modelLt(b, a));
      }),
    );
  });

  it('a + d comes after a for every distance below 2^31', () => {
    fc.assert(
      fc.property(seqArb, distanceArb, (a, d) => {
        const b = seqAdd(a, d);
        expect(seqLt(a, b)).toBe(true);
        expect(seqGt(b, a)).toBe(true);
        expect(seqLt(b, a)).toBe(false);
        expect(seqLe(b, a)).toBe(false);
        expect(seqSub(b, a)).toBe(d);
        expect(seqSub(a, b)).toBe(-d);
        expect(seqMax(a, b)).toBe(b);
        expect(seqMin(b, a)).toBe(a);
      }),
    );
  });

  it('seqAdd then seqSub is the identity for signed distances', () => {
    fc.assert(
      fc.property(seqArb, fc.integer({ min: -TWO_31, max: TWO_31 - 1 }), (a, d) => {
        expect(seqSub(seqAdd(a, d), a)).toBe(d);
        const b = seqAdd(a, d);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(TWO_32);
      }),
    );
  });

  it('is a strict order inside any half-circle (transitive, irreflexive)', () => {
    fc.assert(
      fc.property(seqArb, fc.integer({ min: 0, max: TWO_31 - 2 }), fc.integer({ min: 0, max: TWO_31 - 2 }), (base, x, y) => {
        fc.pre(x + y < TWO_31 - 1);
        const a = seqAdd(base, 0);
        const b = seqAdd(a, x);
        const c = seqAdd(b, y);
        expect(seqLt(a, a)).toBe(false);
        expect(seqLe(a, a)).toBe(true);
        if (seqLt(a, b) && seqLt(b, c)) expect(seqLt(a, c)).toBe(true);
        expect(seqLe(a, c)).toBe(true);
      }),
    );
  });

  it('seqInWindow(first + k, first, size) iff k < size, for every k on the circle', () => {
    fc.assert(
      fc.property(seqArb, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 2 ** 30 }), (first, k, size) => {
        expect(seqInWindow(seqAdd(first, k), first, size)).toBe(k < size);
        expect(seqInRange(seqAdd(first, k), first, seqAdd(first, size))).toBe(k < size);
      }),
    );
  });
});
