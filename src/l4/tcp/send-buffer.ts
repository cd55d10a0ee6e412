/**
 * The send buffer: bytes the application wrote that the peer has not yet
 * acknowledged, sent or not (RFC 9293 §3.3.1, the space from SND.UNA on).
 *
 * Written bytes are copied in, so a writer may reuse its Buffer as soon as its
 * write callback runs (as with a kernel socket). Storage is a queue of
 * fixed-size blocks: finding the byte at an offset is one division, acked
 * blocks go back to a small shared free list, and an idle connection holds no
 * block at all.
 *
 * Every byte held is charged to the stack's TCP memory (memory.ts); how much a
 * connection may hold (its SO_SNDBUF, grown by autotuning) is decided there
 * and in connection.ts, not here.
 *
 * A segment's data need not be copied out: `slices` describes it as ranges
 * of the blocks (core/slices.ts), which a TAP writes behind the headers
 * (device/tap.ts, writev). Such a TAP holds the bytes until the end of the
 * turn, so a block released meanwhile (its bytes acknowledged) is retired,
 * not reused, while any frame is on loan (`transmitLoans`); retired blocks
 * go back to the free list once no loan is left.
 */
import { transmitLoans, type Slices } from '../../core/slices.js';
import type { TcpMemory } from './memory.js';

/**
 * Block size: tcp_wmem[1] (16 KiB), so a connection that never grows its send
 * buffer holds one or two blocks, not a 64 KiB one (1000 such connections: 16
 * MiB, not 64); a 64 KiB TSO super-segment is copied from up to five blocks.
 */
export const SEND_BLOCK_SIZE = 16 * 1024;
/** Free blocks kept for reuse across connections (16 MiB). */
const FREE_BLOCKS_MAX = 1024;
const freeBlocks: Uint8Array[] = [];
/** Blocks released while frames were on loan: not reused before every loan is returned. */
const retiredBlocks: Uint8Array[] = [];

/** Every loan returned: the retired blocks are free again. */
function recycleRetired(): void {
  while (retiredBlocks.length > 0 && freeBlocks.length < FREE_BLOCKS_MAX) freeBlocks.push(retiredBlocks.pop()!);
  retiredBlocks.length = 0;
}
transmitLoans.whenSettled = recycleRetired;

/** A block for new data: a free one, else a new one. */
function takeBlock(): Uint8Array {
  return freeBlocks.pop() ?? new Uint8Array(SEND_BLOCK_SIZE);
}

/** A block whose bytes are all acknowledged: free at once, or retired while a TAP may still write from it. */
function releaseBlock(block: Uint8Array): void {
  if (transmitLoans.frames > 0) {
    if (retiredBlocks.length < FREE_BLOCKS_MAX) retiredBlocks.push(block);
  } else if (freeBlocks.length < FREE_BLOCKS_MAX) freeBlocks.push(block);
}

export class SendBuffer {
  private blocks: Uint8Array[] = [];
  /** Offset of the first unacknowledged byte inside blocks[0]. */
  private head = 0;
  /** Bytes held: unacknowledged plus unsent. */
  length = 0;

  constructor(private readonly memory: TcpMemory) {}

  /** Copies `data` in. The caller checks the buffer cap first. */
  push(data: Uint8Array): void {
    let from = 0;
    this.memory.charge(data.length);
    while (from < data.length) {
      const end = this.head + this.length;
      const blockIndex = Math.floor(end / SEND_BLOCK_SIZE);
      const within = end % SEND_BLOCK_SIZE;
      if (blockIndex === this.blocks.length) this.blocks.push(takeBlock());
      const n = Math.min(SEND_BLOCK_SIZE - within, data.length - from);
      this.blocks[blockIndex]!.set(data.subarray(from, from + n), within);
      from += n;
      this.length += n;
    }
  }

  /** Drops the first `n` bytes (they were acknowledged). */
  consume(n: number): void {
    n = Math.min(n, this.length);
    this.memory.charge(-n);
    this.length -= n;
    this.head += n;
    while (this.head >= SEND_BLOCK_SIZE || (this.length === 0 && this.blocks.length > 0)) {
      releaseBlock(this.blocks.shift()!);
      this.head = this.length === 0 ? 0 : this.head - SEND_BLOCK_SIZE;
    }
  }

  /** Copies `length` bytes starting `offset` bytes after the first unacknowledged one into `dst`. */
  copy(offset: number, length: number, dst: Uint8Array, dstOffset: number): void {
    let at = this.head + offset;
    let out = dstOffset;
    let left = length;
    while (left > 0) {
      const block = this.blocks[Math.floor(at / SEND_BLOCK_SIZE)]!;
      const within = at % SEND_BLOCK_SIZE;
      const n = Math.min(SEND_BLOCK_SIZE - within, left);
      dst.set(block.subarray(within, within + n), out);
      at += n;
      out += n;
      left -= n;
    }
  }

  /**
   * Describes `length` bytes starting `offset` bytes after the first
   * unacknowledged one as slices of the blocks, appended to `out` (no copy).
   * The blocks stay valid until the bytes are acknowledged, and after that
   * while a frame is on loan (see the top of this file).
   */
  slices(offset: number, length: number, out: Slices): void {
    let at = this.head + offset;
    let left = length;
    while (left > 0) {
      const block = this.blocks[Math.floor(at / SEND_BLOCK_SIZE)]!;
      const within = at % SEND_BLOCK_SIZE;
      const n = Math.min(SEND_BLOCK_SIZE - within, left);
      out.add(block, within, n);
      at += n;
      left -= n;
    }
  }

  /** Blocks held (for memory accounting in `tapnet show tcp`). */
  get blockCount(): number {
    return this.blocks.length;
  }
}
