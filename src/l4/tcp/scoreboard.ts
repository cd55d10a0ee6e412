/**
 * The sender's SACK scoreboard: which bytes above SND.UNA the receiver says
 * it holds.
 *
 * Read first: RFC 2018 §3-§5 (SACK blocks, and that a receiver may renege, so
 * SACKed data stays in the send buffer until cumulatively ACKed), then RFC
 * 6675 §2-§4 (the scoreboard, IsLost, HighRxt). Ranges are kept sorted and
 * merged; `sackedBytes` is their total.
 */
import { seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub, type SeqNum } from './seq.js';

/** At most this many disjoint ranges are remembered (tapnet's cap; a real receiver's holes are far fewer). */
export const SCOREBOARD_MAX_RANGES = 1024;

interface Range {
  left: SeqNum;
  right: SeqNum;
}

export class SackScoreboard {
  private ranges: Range[] = [];
  sackedBytes = 0;
  /**
   * After `add` returned true: the right edge of the highest newly SACKed
   * piece (RACK, RFC 8985 §6.2 step 2, wants the most recently sent segment
   * that this ACK delivered, not one SACKed by an earlier ACK).
   */
  lastAddedRight = 0 as SeqNum;

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  get rangeCount(): number {
    return this.ranges.length;
  }

  /** Highest SACKed sequence number + 1, or undefined. */
  get highestSacked(): SeqNum | undefined {
    return this.ranges[this.ranges.length - 1]?.right;
  }

  clear(): void {
    this.ranges = [];
    this.sackedBytes = 0;
  }

  /**
   * Adds a block the peer reported. RFC 2018 §4 validity is checked by the
   * caller (una < left < right <= SND.NXT). Returns true when it added bytes.
   */
  add(left: SeqNum, right: SeqNum): boolean {
    const rs = this.ranges;
    // Find the first range that ends at or after `left`.
    let i = rs.length;
    while (i > 0 && seqGe(rs[i - 1]!.right, left)) i--;
    let j = i;
    let newLeft = left;
    let newRight = right;
    let covered = 0;
    while (j < rs.length && seqLe(rs[j]!.left, right)) {
      newLeft = seqMin(newLeft, rs[j]!.left);
      newRight = seqMax(newRight, rs[j]!.right);
      covered += seqSub(rs[j]!.right, rs[j]!.left);
      j++;
    }
    const added = seqSub(newRight, newLeft) - covered;
    if (added <= 0) return false;
    if (j === i && rs.length >= SCOREBOARD_MAX_RANGES) return false;
    // The highest piece this block newly covers: above the last merged range, or the highest gap below one.
    this.lastAddedRight = right;
    if (j > i && !seqLt(rs[j - 1]!.right, right)) {
      for (let k = j - 1; k >= i; k--) {
        const below = k > i ? seqMax(rs[k - 1]!.right, left) : left;
        if (seqLt(below, rs[k]!.left)) {
          this.lastAddedRight = rs[k]!.left;
          break;
        }
      }
    }
    rs.splice(i, j - i, { left: newLeft, right: newRight });
    this.sackedBytes += added;
    return true;
  }

  /** Forgets everything below `una` (it was cumulatively acknowledged). */
  advance(una: SeqNum): void {
    const rs = this.ranges;
    let drop = 0;
    while (drop < rs.length && seqLe(rs[drop]!.right, una)) {
      this.sackedBytes -= seqSub(rs[drop]!.right, rs[drop]!.left);
      drop++;
    }
    if (drop > 0) rs.splice(0, drop);
    const first = rs[0];
    if (first && seqLt(first.left, una)) {
      this.sackedBytes -= seqSub(una, first.left);
      first.left = una;
    }
  }

  /** True when `s` is inside a SACKed range. */
  isSacked(s: SeqNum): boolean {
    for (const r of this.ranges) {
      if (seqLt(s, r.left)) return false;
      if (seqLt(s, r.right)) return true;
    }
    return false;
  }

  /**
   * The first hole at or after `from`: [start, end) not SACKed, ending at the
   * next SACKed range (or at `limit`). Undefined when none starts before `limit`.
   */
  nextHole(from: SeqNum, limit: SeqNum): { start: SeqNum; end: SeqNum } | undefined {
    let s = from;
    for (const r of this.ranges) {
      if (seqLe(r.right, s)) continue;
      if (seqLe(r.left, s)) {
        s = r.right;
        continue;
      }
      // r.left > s: the hole is [s, r.left)
      if (seqGe(s, limit)) return undefined;
      return { start: s, end: seqMin(r.left, limit) };
    }
    return seqLt(s, limit) ? { start: s, end: limit } : undefined;
  }

  /**
   * RFC 6675 §4 IsLost, as a boundary: every unSACKed byte below the returned
   * sequence number has more than (DupThresh - 1) * SMSS SACKed bytes above it.
   * Returns `una` when nothing is lost yet.
   */
  lossBoundary(una: SeqNum, thresholdBytes: number): SeqNum {
    let above = 0;
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i]!;
      const size = seqSub(r.right, r.left);
      if (above + size > thresholdBytes) {
        // Bytes below r.right - (thresholdBytes - above) have more than the threshold above them.
        const boundary = (r.right - (thresholdBytes - above) - 1) >>> 0;
        return seqMax(una, boundary as SeqNum);
      }
      above += size;
    }
    return una;
  }

  /**
   * The end of the last unSACKed byte range inside [from, to), or undefined
   * when all of it is SACKed: what a cumulative ACK up to `to` newly delivers
   * ends there (RFC 8985 §6.2 step 2).
   */
  lastHoleEnd(from: SeqNum, to: SeqNum): SeqNum | undefined {
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i]!;
      if (seqGe(r.left, to)) continue;
      if (seqLt(r.right, to)) return to; // the byte just below `to` is not SACKed
      return seqGt(r.left, from) ? r.left : undefined;
    }
    return seqGt(to, from) ? to : undefined;
  }

  /** SACKed bytes inside [from, to). */
  sackedBetween(from: SeqNum, to: SeqNum): number {
    let n = 0;
    for (const r of this.ranges) {
      if (seqGe(r.left, to)) break;
      const a = seqMax(r.left, from);
      const b = seqMin(r.right, to);
      if (seqGt(b, a)) n += seqSub(b, a);
    }
    return n;
  }
}
