/**
 * The out-of-order queue: segments that arrived above RCV.NXT, held until the
 * hole below them is filled, and the SACK blocks that describe them.
 *
 * Read first: RFC 9293 §3.10.7.4 seventh step ("segments with higher
 * beginning sequence numbers SHOULD be held for later processing"), RFC 2018
 * §4 (which blocks a receiver reports, most recent first) and RFC 5681 §4.2
 * (ACK out-of-order segments at once).
 *
 * Entries are copies (the frame they came in is reused by the device), sorted
 * by sequence number and never overlapping: an arriving segment is trimmed to
 * the bytes no entry holds yet. Beside them, `blocks` keeps the same bytes as
 * merged contiguous ranges, which is what SACK reports. Both are searched by
 * bisection, so a window of thousands of segments with a hole near the front
 * stays cheap. The queue is capped in bytes (the receive buffer, which
 * autotuning moves: `maxBytes`) and in entries; a segment that does not fit is
 * dropped and counted (Linux TCPOFODrop). Every entry is charged to the
 * stack's TCP memory with an overhead (memory.ts), and under memory pressure
 * the queue is pruned from the right (`pruneFromRight`).
 */
import { seqAdd, seqGt, seqLe, seqLt, seqSub, type SeqNum } from './seq.js';
import type { SackBlock } from './options.js';
import { TCP_OFO_ENTRY_OVERHEAD, type TcpMemory } from './memory.js';

interface Entry {
  seq: SeqNum;
  end: SeqNum;
  data: Buffer;
  /** The segment carried FIN after its data. */
  fin: boolean;
}

interface Block {
  left: SeqNum;
  right: SeqNum;
}

export type OfoInsertResult = 'queued' | 'duplicate' | 'full';

export class OutOfOrderQueue {
  private entries: Entry[] = [];
  private blocks: Block[] = [];
  bytes = 0;
  /** Sequence numbers of recent arrivals, most recent first (RFC 2018 §4 block order). */
  private recent: SeqNum[] = [];

  constructor(
    /** Bytes held at most: the connection's receive buffer (it grows with autotuning). */
    public maxBytes: number,
    private readonly maxEntries: number,
    private readonly memory: TcpMemory,
  ) {}

  /** What this queue has charged to the stack's memory: data plus a per-entry overhead. */
  get truesize(): number {
    return this.bytes + this.entries.length * TCP_OFO_ENTRY_OVERHEAD;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Index of the first entry whose end is after `s` (entries are sorted and disjoint). */
  private firstEndingAfter(s: SeqNum): number {
    const es = this.entries;
    let lo = 0;
    let hi = es.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqGt(es[mid]!.end, s)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Holds `data` (copied) that starts at `s`, above RCV.NXT. */
  insert(s: SeqNum, data: Uint8Array, fin: boolean): OfoInsertResult {
    const es = this.entries;
    let start = s;
    let end = seqAdd(s, data.length);
    let i = this.firstEndingAfter(start);
    const next = es[i];
    if (next && seqLe(next.seq, start)) {
      // Starts inside an entry we hold: keep only what lies beyond it.
      if (seqLe(end, next.end)) {
        if (fin && end === next.end) next.fin = true;
        this.touch(start);
        return 'duplicate';
      }
      start = next.end;
      i++;
    }
    const following = es[i];
    if (following && seqLt(following.seq, end)) {
      end = following.seq; // the tail is already held (a partial overlap: keep the first copy)
      fin = false;
    }
    const length = seqSub(end, start);
    if (length < 0 || (length === 0 && !fin)) return 'duplicate';
    if (this.bytes + length > this.maxBytes || es.length >= this.maxEntries) return 'full';
    const from = seqSub(start, s);
    es.splice(i, 0, { seq: start, end, data: Buffer.from(data.subarray(from, from + length)), fin });
    this.bytes += length;
    this.memory.charge(length + TCP_OFO_ENTRY_OVERHEAD);
    if (length > 0) this.addBlock(start, end);
    this.touch(start);
    return 'queued';
  }

  private addBlock(left: SeqNum, right: SeqNum): void {
    const bs = this.blocks;
    // First block whose right edge reaches `left` (touching blocks merge).
    let lo = 0;
    let hi = bs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(bs[mid]!.right, left)) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let newLeft = left;
    let newRight = right;
    while (j < bs.length && seqLe(bs[j]!.left, right)) {
      if (seqLt(bs[j]!.left, newLeft)) newLeft = bs[j]!.left;
      if (seqGt(bs[j]!.right, newRight)) newRight = bs[j]!.right;
      j++;
    }
    bs.splice(lo, j - lo, { left: newLeft, right: newRight });
  }

  /**
   * Takes the in-order data at `rcvNxt` out of the queue, calling `deliver`
   * for each piece; returns the new RCV.NXT and whether a FIN was reached.
   */
  drain(rcvNxt: SeqNum, deliver: (data: Buffer) => void): { rcvNxt: SeqNum; fin: boolean } {
    const es = this.entries;
    let n = 0;
    let released = 0;
    let fin = false;
    while (n < es.length && seqLe(es[n]!.seq, rcvNxt)) {
      const e = es[n]!;
      this.bytes -= e.data.length;
      released += e.data.length;
      n++;
      if (seqGt(e.end, rcvNxt)) {
        deliver(e.data.subarray(seqSub(rcvNxt, e.seq)));
        rcvNxt = e.end;
      }
      if (e.fin && seqLe(e.end, rcvNxt)) {
        fin = true;
        break;
      }
    }
    if (n > 0) {
      es.splice(0, n);
      this.memory.charge(-(released + n * TCP_OFO_ENTRY_OVERHEAD));
    }
    let b = 0;
    while (b < this.blocks.length && seqLe(this.blocks[b]!.right, rcvNxt)) b++;
    if (b > 0) this.blocks.splice(0, b);
    if (fin || es.length === 0) this.clear();
    return { rcvNxt, fin };
  }

  clear(): void {
    this.memory.charge(-this.truesize);
    this.entries = [];
    this.blocks = [];
    this.bytes = 0;
    this.recent = [];
  }

  /**
   * Drops entries from the right end (furthest from RCV.NXT) until at most
   * `goal` bytes remain (Linux tcp_prune_ofo_queue); returns how many went.
   * The SACK blocks shrink with them: what we no longer hold, we no longer
   * report (reneging, RFC 2018 §8; memory.ts says when we do it).
   */
  pruneFromRight(goal: number): number {
    const es = this.entries;
    let dropped = 0;
    while (es.length > 0 && this.bytes > goal) {
      const e = es.pop()!;
      this.bytes -= e.data.length;
      this.memory.charge(-(e.data.length + TCP_OFO_ENTRY_OVERHEAD));
      dropped++;
    }
    if (es.length === 0) {
      this.clear();
      return dropped;
    }
    const right = es[es.length - 1]!.end;
    const bs = this.blocks;
    while (bs.length > 0 && seqLe(right, bs[bs.length - 1]!.left)) bs.pop();
    const last = bs[bs.length - 1];
    if (last && seqGt(last.right, right)) last.right = right;
    this.recent = this.recent.filter((s) => seqLt(s, right));
    return dropped;
  }

  /** Up to `max` SACK blocks, the one holding the latest arrival first (RFC 2018 §4). */
  sackBlocks(max: number): SackBlock[] {
    const out: SackBlock[] = [];
    for (const s of this.recent) {
      if (out.length >= max) break;
      const block = this.blockContaining(s);
      if (block && !out.includes(block)) out.push(block);
    }
    return out;
  }

  private blockContaining(s: SeqNum): Block | undefined {
    const bs = this.blocks;
    let lo = 0;
    let hi = bs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(bs[mid]!.right, s)) lo = mid + 1;
      else hi = mid;
    }
    const b = bs[lo];
    return b && seqLe(b.left, s) ? b : undefined;
  }

  private touch(s: SeqNum): void {
    const r = this.recent;
    const at = r.indexOf(s);
    if (at >= 0) r.splice(at, 1);
    r.unshift(s);
    if (r.length > 8) r.length = 8;
  }
}
