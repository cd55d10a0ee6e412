/**
 * One arriving segment as the state machine reads it: the RFC 9293 §3.3.1
 * "current segment variables" (SEG.SEQ, SEG.ACK, SEG.LEN, SEG.WND, ...) plus
 * the options that matter, filled from the wire without allocating.
 *
 * Read first: RFC 9293 §3.3.1 (segment variables) and options.ts for the
 * option layouts. One `Segment` is reused for every arrival, so nothing here
 * may be kept after the call that received it; `payload` is a view into the
 * device's buffer.
 */
import type { ParseError } from '../../core/parse-result.js';
import { Field, TCP_HEADER_MIN_LENGTH, TcpFlags, TcpHeaderView } from './header.js';
import { readTcpOptions, TCP_MAX_SACK_BLOCKS, TCP_MAX_WINDOW_SCALE, type TcpOptionVisitor } from './options.js';
import { seqAdd, type SeqNum } from './seq.js';

export class Segment implements TcpOptionVisitor {
  sourcePort = 0;
  destinationPort = 0;
  /** SEG.SEQ */
  seq = 0 as SeqNum;
  /** SEG.ACK */
  ack = 0 as SeqNum;
  flags = 0;
  /** SEG.WND as on the wire (unscaled). */
  window = 0;
  /** The IP header's ECN field this segment arrived with (RFC 3168 §5: 3 = CE). */
  ecn = 0;
  payload: Uint8Array = new Uint8Array(0);
  // Options; `has*` say whether they were present.
  mss = 0;
  hasMss = false;
  windowScale = 0;
  hasWindowScale = false;
  sackPermitted = false;
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  sackCount = 0;
  /** SACK blocks as left/right pairs: sackEdges[2i], sackEdges[2i+1]. */
  readonly sackEdges = new Uint32Array(TCP_MAX_SACK_BLOCKS * 2);
  /** The whole segment (header + data), for describe(). */
  bytes: Uint8Array = new Uint8Array(0);
  /** Reused for every arrival. */
  private readonly view = new TcpHeaderView();

  get syn(): boolean {
    return (this.flags & TcpFlags.SYN) !== 0;
  }
  get fin(): boolean {
    return (this.flags & TcpFlags.FIN) !== 0;
  }
  get rst(): boolean {
    return (this.flags & TcpFlags.RST) !== 0;
  }
  get hasAck(): boolean {
    return (this.flags & TcpFlags.ACK) !== 0;
  }
  /** SEG.LEN: data plus one for SYN and one for FIN (RFC 9293 §3.4). */
  get len(): number {
    return this.payload.length + (this.syn ? 1 : 0) + (this.fin ? 1 : 0);
  }
  /** The last sequence number the segment occupies (SEG.SEQ + SEG.LEN - 1). */
  get last(): SeqNum {
    return seqAdd(this.seq, this.len - 1);
  }

  /**
   * Reads `bytes` (header + data, checksum already checked) through the
   * header view and the options reader; returns a parse error for a bad
   * header or malformed options; never throws, allocates nothing.
   */
  load(bytes: Uint8Array): ParseError | undefined {
    const view = this.view;
    const error = view.wrap(bytes);
    if (error) return error;
    const headerLength = view.headerLength;
    this.bytes = bytes;
    this.sourcePort = view.sourcePort;
    this.destinationPort = view.destinationPort;
    this.seq = view.sequenceNumber;
    this.ack = view.acknowledgmentNumber;
    this.flags = view.flags;
    this.window = view.window;
    this.payload = view.payload;
    this.hasMss = false;
    this.hasWindowScale = false;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.sackCount = 0;
    return headerLength > TCP_HEADER_MIN_LENGTH ? readTcpOptions(bytes, Field.OPTIONS, headerLength, this) : undefined;
  }

  // --- TcpOptionVisitor: readTcpOptions fills the option slots (a repeated option keeps its last value, as Linux does).

  onEndOfOptionList(): void {}
  onNoOperation(): void {}
  onMaximumSegmentSize(mss: number): void {
    this.mss = mss;
    this.hasMss = true;
  }
  onWindowScale(shift: number): void {
    this.windowScale = Math.min(shift, TCP_MAX_WINDOW_SCALE); // RFC 7323 §2.3
    this.hasWindowScale = true;
  }
  onSackPermitted(): void {
    this.sackPermitted = true;
  }
  onSack(blockCount: number): void {
    this.sackCount = Math.min(blockCount, TCP_MAX_SACK_BLOCKS);
  }
  onSackBlock(index: number, left: SeqNum, right: SeqNum): void {
    if (index >= TCP_MAX_SACK_BLOCKS) return;
    this.sackEdges[2 * index] = left;
    this.sackEdges[2 * index + 1] = right;
  }
  onTimestamps(value: number, echoReply: number): void {
    this.tsVal = value;
    this.tsEcr = echoReply;
    this.hasTimestamps = true;
  }
  onUnknown(): void {} // RFC 9293 §3.1: unknown options are ignored

  describe(): string {
    const view = new TcpHeaderView();
    return view.wrap(this.bytes) ? `${this.bytes.length} bytes` : `${this.sourcePort} > ${this.destinationPort}: ${view.describe()}`;
  }
}
