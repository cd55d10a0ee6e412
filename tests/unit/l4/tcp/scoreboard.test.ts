/**
 * The SACK scoreboard (RFC 2018 §3-§5, RFC 6675 §2-§4), checked by hand on
 * small cases and against a byte bitmap (the obvious model) on random block
 * sequences, including sequence numbers that wrap at 2^32.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SackScoreboard, SCOREBOARD_MAX_RANGES } from '../../../../src/l4/tcp/scoreboard.js';
import { seq, seqAdd, type SeqNum } from '../../../../src/l4/tcp/seq.js';

const s = (n: number): SeqNum => seq(n >>> 0);

describe('SackScoreboard', () => {
  it('merges overlapping and adjacent blocks and counts each byte once', () => {
    const b = new SackScoreboard();
    expect(b.add(s(1000), s(2000))).toBe(true);
    expect(b.add(s(3000), s(4000))).toBe(true);
    expect(b.sackedBytes).toBe(2000);
    expect(b.rangeCount).toBe(2);
    expect(b.add(s(1500), s(1800))).toBe(false); // already held
    expect(b.add(s(2000), s(3000))).toBe(true); // fills the gap: one range [1000, 4000)
    expect(b.rangeCount).toBe(1);
    expect(b.sackedBytes).toBe(3000);
    expect(b.highestSacked).toBe(4000);
  });

  it('advance forgets what SND.UNA passed, cutting a range in two when needed', () => {
    const b = new SackScoreboard();
    b.add(s(1000), s(2000));
    b.add(s(3000), s(4000));
    b.advance(s(2500));
    expect(b.sackedBytes).toBe(1000);
    b.advance(s(3500));
    expect(b.sackedBytes).toBe(500);
    expect(b.isSacked(s(3499))).toBe(false);
    expect(b.isSacked(s(3500))).toBe(true);
    b.advance(s(4000));
    expect(b.isEmpty).toBe(true);
  });

  it('nextHole walks the gaps between SACKed ranges up to the limit', () => {
    const b = new SackScoreboard();
    b.add(s(1000), s(2000));
    b.add(s(3000), s(4000));
    expect(b.nextHole(s(0), s(5000))).toEqual({ start: 0, end: 1000 });
    expect(b.nextHole(s(1000), s(5000))).toEqual({ start: 2000, end: 3000 });
    expect(b.nextHole(s(3500), s(5000))).toEqual({ start: 4000, end: 5000 });
    expect(b.nextHole(s(3500), s(4000))).toBeUndefined();
    expect(b.nextHole(s(0), s(500))).toEqual({ start: 0, end: 500 });
  });

  it('lossBoundary: RFC 6675 IsLost with DupThresh 3, SMSS 1000 (more than 2000 SACKed bytes above)', () => {
    const b = new SackScoreboard();
    b.add(s(1000), s(2000));
    b.add(s(3000), s(4000));
    b.add(s(5000), s(6000));
    // Byte 1998 has [1999,2000) + 2000 = 2001 SACKed bytes above it: lost; byte 1999 has exactly 2000: not lost.
    expect(b.lossBoundary(s(0), 2000)).toBe(1999);
    // With only two ranges nothing has more than 2000 above it.
    const two = new SackScoreboard();
    two.add(s(3000), s(4000));
    two.add(s(5000), s(6000));
    expect(two.lossBoundary(s(0), 2000)).toBe(0);
  });

  it('keeps at most SCOREBOARD_MAX_RANGES disjoint ranges, but still merges into existing ones', () => {
    const b = new SackScoreboard();
    for (let i = 0; i < SCOREBOARD_MAX_RANGES; i++) expect(b.add(s(10 * i + 1), s(10 * i + 2))).toBe(true);
    expect(b.add(s(10 * SCOREBOARD_MAX_RANGES + 1), s(10 * SCOREBOARD_MAX_RANGES + 2))).toBe(false);
    expect(b.rangeCount).toBe(SCOREBOARD_MAX_RANGES);
    expect(b.add(s(2), s(5))).toBe(true); // extends the first range
    expect(b.sackedBytes).toBe(SCOREBOARD_MAX_RANGES + 3);
  });

  it('agrees with a byte bitmap on random blocks, advances and queries (wrapping at 2^32)', () => {
    const SPAN = 300;
    const op = fc.oneof(
      fc.record({ add: fc.tuple(fc.nat(SPAN - 1), fc.integer({ min: 1, max: 60 })) }),
      fc.record({ advance: fc.nat(SPAN) }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.constant(0xffff_ff00), fc.nat()), fc.array(op, { maxLength: 40 }), fc.nat(40), (base, ops, threshold) => {
        const board = new SackScoreboard();
        const bitmap = new Uint8Array(SPAN + 60);
        let una = 0;
        const at = (i: number): SeqNum => seqAdd(s(base), i);
        for (const o of ops) {
          if ('add' in o) {
            const [left, len] = o.add;
            if (left <= una) continue; // the caller's RFC 2018 §4 check: una < left
            board.add(at(left), at(left + len));
            bitmap.fill(1, left, left + len);
          } else if (o.advance > una) {
            una = o.advance;
            board.advance(at(una));
          }
        }
        let total = 0;
        for (let i = una; i < bitmap.length; i++) total += bitmap[i]!;
        expect(board.sackedBytes).toBe(total);
        for (let i = una; i < bitmap.length; i++) expect(board.isSacked(at(i))).toBe(bitmap[i] === 1);
        // sackedBetween over a few windows
        for (const [from, to] of [[una, bitmap.length], [una + 7, una + 101]] as const) {
          let n = 0;
          for (let i = from; i < to; i++) n += bitmap[i] ?? 0;
          expect(board.sackedBetween(at(from), at(to))).toBe(n);
        }
        // nextHole from una: the first unSACKed byte, up to the next SACKed one
        const limit = bitmap.length;
        let start = una;
        while (start < limit && bitmap[start] === 1) start++;
        let end = start;
        while (end < limit && bitmap[end] === 0) end++;
        expect(board.nextHole(at(una), at(limit))).toEqual(start < limit ? { start: at(start), end: at(end) } : undefined);
        // lossBoundary: bytes below it (and at or above una) have more than `threshold` SACKed bytes above them
        const boundary = board.lossBoundary(at(una), threshold);
        let above = 0; // SACKed bytes above i
        for (let i = bitmap.length - 1; i >= una; i--) {
          const below = ((boundary - at(i)) | 0) > 0;
          if (above > threshold) expect(below).toBe(true);
          else expect(below).toBe(false);
          above += bitmap[i]!;
        }
      }),
    );
  });
});
