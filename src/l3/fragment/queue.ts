/**
 * The fragment-queue core that IPv4 and IPv6 reassembly share: one queue per
 * datagram in progress, its pieces, its timer, and the memory budget over
 * all of them. What differs between the families (the key, which checks a
 * fragment must pass, what an overlap means, how the whole packet is built,
 * what a timeout sends) stays in ../ipv4/reassembly.ts and
 * ../ipv6/reassembly.ts, which call in here.
 *
 * Read first: RFC 815 (reassembly with holes; tapnet keeps the pieces
 * instead of a hole list: the holes are the gaps between them), RFC 791 §3.2
 * and RFC 8200 §4.5 (the timer starts with the first fragment), Linux
 * net/ipv4/inet_fragment.c (inet_frag_queue_insert: the same sorted pieces,
 * the same duplicate/overlap decisions, and the memory accounting this core
 * copies).
 *
 * A queue holds pieces sorted by offset that never overlap; the data of each
 * is a copy (a received frame is only valid during the call). The datagram
 * is complete when the last fragment (MF/M = 0) has fixed its length and the
 * bytes held add up to it. Bytes held are charged as data plus a fixed
 * overhead per piece, so a flood of tiny fragments is bounded as well.
 *
 * Shared failure rules, each counted under the family's counter names:
 *  - an empty fragment, two different ends, or data past the end: the
 *    datagram is malformed and dropped whole;
 *  - a fragment over data already held: the family's overlap rule says
 *    whether it is a duplicate to ignore or the end of the datagram;
 *  - memory and queue caps: a new datagram past either cap evicts the
 *    oldest datagrams in progress until it fits (gVisor and lwIP do the
 *    same; Linux since 4.17 refuses the new datagram instead, which lets a
 *    flood of bogus first fragments block every legitimate fragmented
 *    datagram for the whole timeout). A fragment of a datagram already in
 *    progress that would pass the memory budget is dropped with its datagram
 *    (it can no longer complete, so holding the rest would only pin memory),
 *    so one large datagram never flushes the others.
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';

/** The family's names for the counters the core keeps (Linux MIB spelling, ipReasm… or ip6Reasm…). */
export interface ReassemblyCounters {
  readonly fails: CounterName;
  readonly timeout: CounterName;
  readonly overlaps: CounterName;
  readonly malformed: CounterName;
  readonly duplicates: CounterName;
  readonly memoryFull: CounterName;
  /** tapnet: datagrams evicted, oldest first, to make room for a new one (each also counts as a failure). */
  readonly evicted: CounterName;
  /** Gauge: bytes held. */
  readonly bytes: CounterName;
  /** Gauge: datagrams in progress. */
  readonly datagrams: CounterName;
}

export interface FragmentQueueLimits {
  readonly timeoutMs: number;
  readonly memoryMax: number;
  readonly queuesMax: number;
  /** Bytes charged per piece on top of its data (Linux charges each fragment's skb truesize). */
  readonly fragmentOverhead: number;
}

export interface FragmentPiece {
  readonly offset: number;
  readonly end: number;
  readonly data: Uint8Array;
}

/** Where a fragment falls over the data already held. */
export const Overlap = {
  /** The same offset and end as a piece held: a retransmission or a duplicating network. */
  ExactDuplicate: 'exactDuplicate',
  /** Entirely inside data already held (one piece or adjacent ones), not an exact duplicate. */
  InsideReceived: 'insideReceived',
  /** Over held data and over a hole or past it. */
  Partial: 'partial',
} as const;
export type Overlap = (typeof Overlap)[keyof typeof Overlap];

/** What the family does with a fragment over data already held. */
export type OverlapAction = 'ignoreDuplicate' | 'dropDatagram';

/** A family check that failed: the counter to charge and the reason for the trace. */
export interface FragmentFault {
  readonly counter: CounterName;
  readonly reason: string;
}

/** What a family supplies: its names, its rules, and its own per-datagram state `T`. */
export interface FragmentFamily<T> {
  readonly counters: ReassemblyCounters;
  /** The state of a new datagram, from the fragment being received (addresses, identification). */
  newDatagram(): T;
  /** Family checks, run after the shared empty-fragment check and before anything else. */
  check?(queue: FragmentQueue<T> | undefined, offset: number, end: number, last: boolean): FragmentFault | undefined;
  overlap(overlap: Overlap): OverlapAction;
  /** The fragment being received, for traces (called only when a trace is on). */
  describe(): string;
  /** A datagram timed out (already removed and counted): trace it, send what the RFC asks for. */
  expired(queue: FragmentQueue<T>): void;
}

/** One datagram in progress. */
export class FragmentQueue<T> {
  /** Sorted by offset, never overlapping. */
  readonly pieces: FragmentPiece[] = [];
  /** Data bytes held. */
  received = 0;
  /** Data length, known once the last fragment arrived; -1 before. */
  dataLength = -1;
  /** Bytes charged against the memory budget. */
  charged = 0;
  readonly timer: Timer;

  constructor(
    readonly key: string,
    readonly state: T,
    timers: StackContext['timers'],
    onExpiry: (queue: FragmentQueue<T>) => void,
  ) {
    this.timer = timers.timer(() => onExpiry(this));
  }

  /** End of the highest piece held (0 when none). */
  get highestEnd(): number {
    return this.pieces[this.pieces.length - 1]?.end ?? 0;
  }

  /** Every byte up to the known end is held. */
  get complete(): boolean {
    return this.dataLength >= 0 && this.received === this.dataLength;
  }
}

export class FragmentQueues<T> {
  private readonly queues = new Map<string, FragmentQueue<T>>();
  private held = 0;

  constructor(
    private readonly ctx: StackContext,
    private readonly limits: FragmentQueueLimits,
    private readonly family: FragmentFamily<T>,
  ) {
    const c = family.counters;
    ctx.stats.declare(c.fails, c.timeout, c.overlaps, c.malformed, c.duplicates, c.memoryFull, c.evicted, c.bytes, c.datagrams);
  }

  /** Bytes held (data + per-piece overhead). */
  get bytesHeld(): number {
    return this.held;
  }

  get size(): number {
    return this.queues.size;
  }

  get(key: string): FragmentQueue<T> | undefined {
    return this.queues.get(key);
  }

  /**
   * Adds one fragment's `data` at byte `offset` of the datagram `key`
   * (`last`: MF/M = 0). Returns the queue when the data was stored (check
   * `complete`, then `take` it), undefined when the fragment was ignored as
   * a duplicate or dropped (counted and traced here).
   */
  add(key: string, offset: number, data: Uint8Array, last: boolean): FragmentQueue<T> | undefined {
    const { family, limits } = this;
    const c = family.counters;
    let queue = this.queues.get(key);
    const end = offset + data.length;
    if (data.length === 0) return this.fail(queue, c.malformed, 'empty fragment');
    const fault = family.check?.(queue, offset, end, last);
    if (fault) return this.fail(queue, fault.counter, fault.reason);

    const cost = data.length + limits.fragmentOverhead;
    let index = 0;
    if (queue) {
      const fault = endFault(queue, end, last);
      if (fault) return this.fail(queue, c.malformed, fault);
      index = insertionPoint(queue.pieces, offset);
      const overlap = overlapAt(queue.pieces, index, offset, end);
      if (overlap !== undefined) {
        if (family.overlap(overlap) === 'ignoreDuplicate') {
          this.ctx.trace.dropped(c.duplicates, `duplicate fragment (${overlap})`, () => family.describe());
          return undefined;
        }
        return this.fail(queue, c.overlaps, `fragment [${offset}, ${end}) overlaps data held (${overlap})`);
      }
      if (this.held + cost > limits.memoryMax) return this.fail(queue, c.memoryFull, `${this.held} bytes held, cap ${limits.memoryMax}`);
    } else {
      if (cost > limits.memoryMax) return this.fail(undefined, c.memoryFull, `${cost} bytes, cap ${limits.memoryMax}`);
      this.evictFor(cost);
      queue = this.open(key);
    }

    queue.pieces.splice(index, 0, { offset, end, data: data.slice() });
    queue.received += data.length;
    queue.charged += cost;
    this.held += cost;
    if (last) queue.dataLength = end;
    this.updateGauges();
    return queue;
  }

  /** Removes a queue that completed (or that the family gave up on); its pieces stay readable. */
  take(queue: FragmentQueue<T>): void {
    queue.timer.cancel();
    this.queues.delete(queue.key);
    this.held -= queue.charged;
    this.updateGauges();
  }

  /**
   * Counts a failure under `counter` and the family's Fails counter, dropping
   * the datagram `queue` (when there is one) with it.
   */
  fail(queue: FragmentQueue<T> | undefined, counter: CounterName, reason: string): undefined {
    if (queue) this.take(queue);
    this.ctx.stats.inc(this.family.counters.fails);
    this.ctx.trace.dropped(counter, reason, () => this.family.describe());
    return undefined;
  }

  /** Drops everything in progress and cancels the timers (interface down, stack shutdown). */
  clear(): void {
    for (const queue of this.queues.values()) queue.timer.cancel();
    this.queues.clear();
    this.held = 0;
    this.updateGauges();
  }

  /**
   * Makes room for a new datagram whose first fragment costs `cost`: drops
   * the oldest datagrams in progress (a Map iterates in insertion order, so
   * the first is the one whose timer fires first) until both caps hold.
   */
  private evictFor(cost: number): void {
    const { limits, ctx } = this;
    const c = this.family.counters;
    for (const oldest of this.queues.values()) {
      if (this.queues.size < limits.queuesMax && this.held + cost <= limits.memoryMax) return;
      this.take(oldest);
      ctx.stats.inc(c.fails);
      ctx.trace.dropped(c.evicted, `oldest datagram evicted (${this.queues.size + 1} in progress, ${this.held + oldest.charged} bytes held)`, () => this.family.describe());
    }
  }

  private open(key: string): FragmentQueue<T> {
    const queue = new FragmentQueue(key, this.family.newDatagram(), this.ctx.timers, (q) => this.expire(q));
    // RFC 791 §3.2 and RFC 8200 §4.5 start the timer with the first fragment; like Linux, later ones do not extend it.
    queue.timer.armIn(this.limits.timeoutMs);
    this.queues.set(key, queue);
    return queue;
  }

  private expire(queue: FragmentQueue<T>): void {
    const c = this.family.counters;
    this.take(queue);
    this.ctx.stats.inc(c.fails);
    this.ctx.stats.inc(c.timeout);
    this.family.expired(queue);
  }

  private updateGauges(): void {
    this.ctx.stats.set(this.family.counters.bytes, this.held);
    this.ctx.stats.set(this.family.counters.datagrams, this.queues.size);
  }
}

/**
 * RFC 791 §3.2 / RFC 8200 §4.5: the last fragment fixes the data length; a
 * second, different end, or data beyond it, is corruption.
 */
function endFault(queue: FragmentQueue<unknown>, end: number, last: boolean): string | undefined {
  if (last) {
    if (queue.dataLength >= 0 && end !== queue.dataLength) return `second last fragment ends at ${end}, not ${queue.dataLength}`;
    if (queue.highestEnd > end) return `data up to ${queue.highestEnd} beyond the end ${end}`;
  } else if (queue.dataLength >= 0 && end > queue.dataLength) {
    return `data up to ${end} beyond the end ${queue.dataLength}`;
  }
  return undefined;
}

/** Index of the first piece whose offset is >= `offset` (binary search; appending is the common case). */
function insertionPoint(pieces: readonly FragmentPiece[], offset: number): number {
  const n = pieces.length;
  if (n === 0 || pieces[n - 1]!.offset < offset) return n;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pieces[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * How [offset, end) meets the pieces around `index` (its insertion point),
 * or undefined when it falls in a hole. Inside received data means covered
 * without a gap, as Linux's "run" of adjacent fragments (IPFRAG_DUP).
 */
function overlapAt(pieces: readonly FragmentPiece[], index: number, offset: number, end: number): Overlap | undefined {
  const next = pieces[index];
  if (next && next.offset === offset && next.end === end) return Overlap.ExactDuplicate;
  const previous = pieces[index - 1];
  if (!(previous && previous.end > offset) && !(next && next.offset < end)) return undefined;
  // Walk the run of adjacent pieces from the one holding `offset`: does it reach `end` without a hole?
  let i = previous && previous.end > offset ? index - 1 : index;
  if (pieces[i]!.offset > offset) return Overlap.Partial;
  let covered = pieces[i]!.end;
  while (covered < end) {
    const piece = pieces[++i];
    if (!piece || piece.offset !== covered) return Overlap.Partial;
    covered = piece.end;
  }
  return Overlap.InsideReceived;
}
