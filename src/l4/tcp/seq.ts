/**
 * TCP sequence numbers: 32-bit counters that wrap.
 *
 * Read first: RFC 9293 §3.4 "Sequence Numbers": "all arithmetic dealing with
 * sequence numbers must be performed modulo 2**32", so "<" means "before, on
 * the circle" and only makes sense for numbers less than 2^31 apart. gVisor's
 * `seqnum` package is the model: a distinct type plus compare helpers, so a
 * plain `a < b` on two sequence numbers stands out as the bug it is
 * (STYLE.md rule 10).
 *
 * The brand costs nothing at runtime: a SeqNum is an ordinary number in
 * [0, 2^32). Two numbers exactly 2^31 apart have no defined order (each is
 * "before" the other, as with gVisor's int32 cast); TCP never lets windows get
 * that large (RFC 7323 §2.3 caps them at 2^30).
 */

declare const seqNumBrand: unique symbol;

/** A sequence or acknowledgment number, always in [0, 2^32). */
export type SeqNum = number & { readonly [seqNumBrand]: true };

/** Brings any integer onto the 32-bit circle and brands it. */
export function seq(n: number): SeqNum {
  return (n >>> 0) as SeqNum;
}

/** `a + n` modulo 2^32 (n may be negative). */
export function seqAdd(a: SeqNum, n: number): SeqNum {
  return ((a + n) >>> 0) as SeqNum;
}

/**
 * The signed distance `a - b` on the circle, in [-2^31, 2^31): how far `a` is
 * ahead of `b`. `seqSub(sndNxt, sndUna)` is the number of bytes in flight.
 */
export function seqSub(a: SeqNum, b: SeqNum): number {
  return (a - b) | 0;
}

/** a comes before b (RFC 9293 §3.4 "<"). */
export function seqLt(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) < 0;
}

/** a is b or comes before it ("=<"). */
export function seqLe(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) <= 0;
}

/** a comes after b. */
export function seqGt(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) > 0;
}

/** a is b or comes after it. */
export function seqGe(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) >= 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: SeqNum, b: SeqNum): SeqNum {
  return seqLt(a, b) ? b : a;
}

/** The earlier of two sequence numbers. */
export function seqMin(a: SeqNum, b: SeqNum): SeqNum {
  return seqLt(a, b) ? a : b;
}

/**
 * `first =< s < first + size`: s lies in the window of `size` numbers that
 * starts at `first` (RFC 9293 §3.10.7.4 acceptability test, "RCV.NXT =< SEG.SEQ
 * < RCV.NXT+RCV.WND"). An empty window holds nothing. Written as one unsigned
 * subtraction, like gVisor's `InWindow`, so it is right across the wrap.
 */
export function seqInWindow(s: SeqNum, first: SeqNum, size: number): boolean {
  return ((s - first) >>> 0) < size;
}

/** `a =< s < b` on the circle (gVisor `InRange`); empty when a = b. */
export function seqInRange(s: SeqNum, a: SeqNum, b: SeqNum): boolean {
  return ((s - a) >>> 0) < ((b - a) >>> 0);
}
