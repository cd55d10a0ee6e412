/**
 * Differential test of the arrival path against the codec: over generated
 * segments (random fixed fields, option lists written byte by byte here with
 * every kind tapnet knows, NOPs, unknown kinds and EOL padding) and over
 * random and mutated bytes, what `Segment.load` sees equals what
 * `parseTcpHeader` returns, and both reject the same inputs with the same
 * error. One `Segment` is reused for every input, as the TCP layer does, so a
 * slot left over from an earlier segment would show up here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpHeaderView, parseTcpHeader } from '../../../../src/l4/tcp/header.js';
import { Segment } from '../../../../src/l4/tcp/segment.js';

/** One option as raw bytes (independent of options.ts's emitter). */
const u16 = (v: number): number[] => [v >>> 8, v & 0xff];
const u32b = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const KNOWN = new Set([0, 1, 2, 3, 4, 5, 8]);

const optionArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([1]), // NOP
  fc.integer({ min: 0, max: 0xffff }).map((mss) => [2, 4, ...u16(mss)]),
  fc.integer({ min: 0, max: 255 }).map((shift) => [3, 3, shift]),
  fc.constant<number[]>([4, 2]),
  fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }).map((blocks) => [5, 2 + 8 * blocks.length, ...blocks.flatMap(([l, r]) => [...u32b(l), ...u32b(r)])]),
  fc.tuple(u32, u32).map(([value, echo]) => [8, 10, ...u32b(value), ...u32b(echo)]),
  fc
    .tuple(fc.integer({ min: 6, max: 255 }).filter((k) => !KNOWN.has(k)), fc.uint8Array({ maxLength: 12 }))
    .map(([kind, data]) => [kind, 2 + data.length, ...data]),
);

/** A segment: 20 fixed bytes, options (≤ 40 bytes, zero padded to a word), payload. */
const segmentArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    fixed: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    options: fc.array(optionArb, { maxLength: 8 }),
    eol: fc.boolean(),
    payload: fc.uint8Array({ maxLength: 24 }),
  })
  .map(({ fixed, options, eol, payload }) => {
    const opts = options.flat();
    if (eol) opts.push(0);
    while (opts.length % 4 !== 0) opts.push(0);
    if (opts.length > 40) opts.length = 40; // cut short: may leave an option running past the end
    const out = new Uint8Array(20 + opts.length + payload.length);
    out.set(fixed);
    out[12] = (((20 + opts.length) / 4) << 4) | (fixed[12]! & 0x0f); // data offset; keep the reserved bits random
    out.set(opts, 20);
    out.set(payload, 20 + opts.length);
    return out;
  });

/** A generated segment with a few bytes overwritten and maybe cut short. */
const mutatedArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(segmentArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(8))
  .map(([segment, edits, cut]) => {
    const out = segment.slice(0, Math.max(0, segment.length - cut));
    for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
    return out;
  });

const segment = new Segment();

/** What the state machine reads from a loaded Segment. */
function seen(s: Segment) {
  const sackBlocks = [];
  for (let i = 0; i < s.sackCount; i++) sackBlocks.push({ left: s.sackEdges[2 * i], right: s.sackEdges[2 * i + 1] });
  return {
    sourcePort: s.sourcePort,
    destinationPort: s.destinationPort,
    sequenceNumber: s.seq,
    acknowledgmentNumber: s.ack,
    flags: s.flags,
    window: s.window,
    payload: s.payload,
    maximumSegmentSize: s.hasMss ? s.mss : undefined,
    windowScale: s.hasWindowScale ? s.windowScale : undefined,
    sackPermitted: s.sackPermitted,
    timestamps: s.hasTimestamps ? { value: s.tsVal, echoReply: s.tsEcr } : undefined,
    sackBlocks: s.sackCount > 0 ? sackBlocks : undefined,
  };
}

/** The same, from the codec's record and view. */
function expected(bytes: Uint8Array) {
  const parsed = parseTcpHeader(bytes);
  if (!parsed.ok) return { error: parsed.error };
  const h = parsed.value;
  const view = new TcpHeaderView();
  view.wrap(bytes);
  return {
    seen: {
      sourcePort: h.sourcePort,
      destinationPort: h.destinationPort,
      sequenceNumber: h.sequenceNumber,
      acknowledgmentNumber: h.acknowledgmentNumber,
      flags: h.flags,
      window: h.window,
      payload: view.payload,
      maximumSegmentSize: h.options.maximumSegmentSize,
      windowScale: h.options.windowScale,
      sackPermitted: h.options.sackPermitted === true,
      timestamps: h.options.timestamps,
      sackBlocks: h.options.sackBlocks?.map((b) => ({ left: b.left, right: b.right })),
    },
  };
}

function check(bytes: Uint8Array, tally: { accepted: number; rejected: number }): void {
  const error = segment.load(bytes);
  const want = expected(bytes);
  if ('error' in want) {
    tally.rejected++;
    expect(error).toEqual(want.error);
  } else {
    tally.accepted++;
    expect(error).toBeUndefined();
    expect(seen(segment)).toEqual(want.seen);
  }
}

describe('Segment.load ≡ parseTcpHeader', () => {
  it('on generated segments with every option kind', () => {
    const tally = { accepted: 0, rejected: 0 };
    fc.assert(fc.property(segmentArb, (bytes) => check(bytes, tally)), { numRuns: 2000 });
    expect(tally.accepted).toBeGreaterThan(500);
    expect(tally.rejected).toBeGreaterThan(0); // option lists cut at 40 bytes
  });

  it('on mutated segments', () => {
    const tally = { accepted: 0, rejected: 0 };
    fc.assert(fc.property(mutatedArb, (bytes) => check(bytes, tally)), { numRuns: 2000 });
    expect(tally.accepted).toBeGreaterThan(100);
    expect(tally.rejected).toBeGreaterThan(100);
  });

  it('on random bytes', () => {
    const tally = { accepted: 0, rejected: 0 };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => check(bytes, tally)), { numRuns: 2000 });
    expect(tally.rejected).toBeGreaterThan(100);
  });

  it('caps a window scale above 14 like the record does (RFC 7323 §2.3)', () => {
    const bytes = new Uint8Array(24);
    bytes[12] = 6 << 4;
    bytes.set([3, 3, 200, 0], 20);
    expect(segment.load(bytes)).toBeUndefined();
    expect(segment.windowScale).toBe(14);
    expect(expected(bytes)).toMatchObject({ seen: { windowScale: 14 } });
  });
});
