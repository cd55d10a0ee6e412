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
import { getU16, getU32 } from '../../core/bytes.js';
import type { ParseError } from '../../core/parse-result.js';
import { TcpFlags, TcpHeaderView } from './header.js';
import { TCP_MAX_SACK_BLOCKS, TCP_MAX_WINDOW_SCALE, TcpOptionKind } from './options.js';
import { seq, seqAdd, type SeqNum } from './seq.js';

function badOption(offset: number, detail: string): ParseError {
  return { reason: 'badOption', offset, detail };
}

export class Segment {
  sourcePort = 0;
  destinationPort = 0;
  /** SEG.SEQ */
  seq = 0 as SeqNum;
  /** SEG.ACK */
  ack = 0 as SeqNum;
  flags = 0;
  /** SEG.WND as on the wire (unscaled). */
  window = 0;
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
   * Reads `bytes` (header + data, checksum already checked). Returns a parse
   * error for a bad header or malformed options; never throws.
   */
  load(bytes: Uint8Array): ParseError | undefined {
    const wrapped = TcpHeaderView.wrap(bytes);
    if (!wrapped.ok) return wrapped.error;
    const headerLength = (bytes[12]! >>> 4) * 4;
    this.bytes = bytes;
    this.sourcePort = getU16(bytes, 0);
    this.destinationPort = getU16(bytes, 2);
    this.seq = seq(getU32(bytes, 4));
    this.ack = seq(getU32(bytes, 8));
    this.flags = bytes[13]!;
    this.window = getU16(bytes, 14);
    this.payload = bytes.subarray(headerLength);
    this.hasMss = false;
    this.hasWindowScale = false;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.sackCount = 0;
    return headerLength > 20 ? this.loadOptions(bytes, headerLength) : undefined;
  }

  /** The same rules as parseTcpOptionList (options.ts), without building a list. */
  private loadOptions(bytes: Uint8Array, end: number): ParseError | undefined {
    let i = 20;
    while (i < end) {
      const kind = bytes[i]!;
      if (kind === TcpOptionKind.endOfOptionList) break;
      if (kind === TcpOptionKind.noOperation) {
        i++;
        continue;
      }
      if (i + 1 >= end) return badOption(i, `option ${kind} has no length byte`);
      const length = bytes[i + 1]!;
      if (length < 2 || i + length > end) return badOption(i, `option ${kind} length ${length}`);
      switch (kind) {
        case TcpOptionKind.maximumSegmentSize:
          if (length !== 4) return badOption(i, 'MSS length');
          this.mss = getU16(bytes, i + 2);
          this.hasMss = true;
          break;
        case TcpOptionKind.windowScale:
          if (length !== 3) return badOption(i, 'window scale length');
          this.windowScale = Math.min(bytes[i + 2]!, TCP_MAX_WINDOW_SCALE);
          this.hasWindowScale = true;
          break;
        case TcpOptionKind.sackPermitted:
          if (length !== 2) return badOption(i, 'SACK-permitted length');
          this.sackPermitted = true;
          break;
        case TcpOptionKind.sack: {
          const n = (length - 2) / 8;
          if (!Number.isInteger(n) || n < 1) return badOption(i, `SACK length ${length}`);
          this.sackCount = Math.min(n, TCP_MAX_SACK_BLOCKS);
          for (let b = 0; b < this.sackCount; b++) {
            this.sackEdges[2 * b] = getU32(bytes, i + 2 + 8 * b);
            this.sackEdges[2 * b + 1] = getU32(bytes, i + 6 + 8 * b);
          }
          break;
        }
        case TcpOptionKind.timestamps:
          if (length !== 10) return badOption(i, 'timestamps length');
          this.tsVal = getU32(bytes, i + 2);
          this.tsEcr = getU32(bytes, i + 6);
          this.hasTimestamps = true;
          break;
        default:
          break; // unknown options are stepped over (RFC 9293 §3.1: MUST ignore unknown options)
      }
      i += length;
    }
    return undefined;
  }

  describe(): string {
    const r = TcpHeaderView.wrap(this.bytes);
    return r.ok ? `${this.sourcePort} > ${this.destinationPort}: ${r.value.describe()}` : `${this.bytes.length} bytes`;
  }
}
