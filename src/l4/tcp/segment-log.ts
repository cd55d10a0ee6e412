/**
 * A ring of sent segments in transmission order: sequence range, when it
 * went out, and one spare number per entry. RACK (RFC 8985 §6.1: "the
 * sender ... stores the most recent transmission time of each segment")
 * keeps one for original transmissions and one for retransmissions.
 *
 * Columns are typed arrays that double when full, so a connection in steady
 * state allocates nothing per segment. Entries leave from the head; an entry
 * in the middle can be marked done and is dropped once it reaches the head.
 */
import { seqLe, type SeqNum } from './seq.js';

/** First capacity (entries); it doubles on demand (a 4 MiB window of 1448-byte segments is ~2900). */
const INITIAL_CAPACITY = 64;

export class SegmentLog {
  private starts = new Uint32Array(INITIAL_CAPACITY);
  private ends = new Uint32Array(INITIAL_CAPACITY);
  private extras = new Uint32Array(INITIAL_CAPACITY);
  private times = new Float64Array(INITIAL_CAPACITY);
  private orders = new Float64Array(INITIAL_CAPACITY);
  private done = new Uint8Array(INITIAL_CAPACITY);
  private head = 0;
  /** Entries held, done or not. */
  length = 0;

  private slot(i: number): number {
    return (this.head + i) & (this.starts.length - 1);
  }

  /** `order` numbers the connection's transmissions, to order two sent in the same clock tick. */
  push(start: SeqNum, end: SeqNum, time: number, order: number, extra = 0): void {
    if (this.length === this.starts.length) this.grow();
    const k = this.slot(this.length++);
    this.starts[k] = start;
    this.ends[k] = end;
    this.times[k] = time;
    this.orders[k] = order;
    this.extras[k] = extra;
    this.done[k] = 0;
  }

  start(i: number): SeqNum {
    return this.starts[this.slot(i)]! as SeqNum;
  }
  end(i: number): SeqNum {
    return this.ends[this.slot(i)]! as SeqNum;
  }
  time(i: number): number {
    return this.times[this.slot(i)]!;
  }
  order(i: number): number {
    return this.orders[this.slot(i)]!;
  }
  extra(i: number): number {
    return this.extras[this.slot(i)]!;
  }
  isDone(i: number): boolean {
    return this.done[this.slot(i)] === 1;
  }

  /** Marks entry i finished (delivered, or found lost); it leaves when it reaches the head. */
  finish(i: number): void {
    this.done[this.slot(i)] = 1;
    while (this.length > 0 && this.done[this.head] === 1) this.dropHead();
  }

  /** Drops entries that end at or below `una` from the head (they were cumulatively acknowledged). */
  dropAcked(una: SeqNum): void {
    while (this.length > 0 && (this.done[this.head] === 1 || seqLe(this.ends[this.head]! as SeqNum, una))) this.dropHead();
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
  }

  private dropHead(): void {
    this.head = (this.head + 1) & (this.starts.length - 1);
    this.length--;
  }

  private grow(): void {
    const n = this.starts.length * 2;
    const starts = new Uint32Array(n);
    const ends = new Uint32Array(n);
    const extras = new Uint32Array(n);
    const times = new Float64Array(n);
    const orders = new Float64Array(n);
    const done = new Uint8Array(n);
    for (let i = 0; i < this.length; i++) {
      const k = this.slot(i);
      starts[i] = this.starts[k]!;
      ends[i] = this.ends[k]!;
      extras[i] = this.extras[k]!;
      times[i] = this.times[k]!;
      orders[i] = this.orders[k]!;
      done[i] = this.done[k]!;
    }
    this.starts = starts;
    this.ends = ends;
    this.extras = extras;
    this.times = times;
    this.orders = orders;
    this.done = done;
    this.head = 0;
  }
}
