/**
 * A TAP's write batch: up to BATCH_FRAMES frames that leave together in one
 * `writeBatch` call of the addon (native/tap.cc), one writev(2) per frame.
 *
 * A frame is a few parts, each a (buffer, offset, length) range:
 *
 *   frame 0:  [copy: vnet hdr + headers] [ref: TCP payload, send-buffer block 3] [ref: block 4]
 *   frame 1:  [copy: vnet hdr]           [ref: forwarded frame, in a receive slot]
 *   frame 2:  [copy: vnet hdr + a whole locally built frame]
 *
 * Bytes the sender may reuse at once (a scratch buffer: headers, a frame
 * built for this one send) are COPIED into the batch's own buffer, and
 * consecutive copies of one frame share a part. Bytes that stay put until
 * the batch is written are REFERENCED: no copy in user space, the kernel's
 * copy in writev is the only one. Who may reference what, and why it is
 * safe, is decided by the device (device/tap.ts); this file only keeps the
 * lists, preallocated, so queuing a frame allocates nothing.
 *
 * What the addon gets: `buffers` (the distinct ArrayBuffers the parts name,
 * index 0 being the batch's own), `parts` (buffer index, offset, length
 * triples, frame after frame) and `frameParts` (parts per frame).
 */

/** Frames per batch (device/tap.ts BATCH_FRAMES). */
const FRAMES_MAX = 64;
/** Bytes copied into one batch: 64 full-size Ethernet frames use ~97 KB; a few 64 KB TSO frames fill it sooner. */
export const TX_BUFFER_SIZE = 256 * 1024;
/** Distinct buffers one batch may name (native/tap.cc kMaxTxBuffers). */
export const TX_BUFFERS_MAX = 64;
/** Parts of one frame (native/tap.cc kMaxFrameParts, an iovec array per writev). */
export const TX_FRAME_PARTS_MAX = 16;
/** Parts of one batch. */
const TX_PARTS_MAX = FRAMES_MAX * 4;

export class TxBatch {
  /** The batch's own buffer: copied bytes, packed back to back. */
  readonly bytes = new Uint8Array(TX_BUFFER_SIZE);
  /** Bytes of `bytes` in use. */
  used = 0;
  /** Frames queued. */
  frames = 0;
  /** Bytes of all queued frames. */
  length = 0;
  /** Frames holding at least one reference. */
  referencing = 0;

  readonly buffers: (ArrayBufferLike | undefined)[] = new Array<ArrayBufferLike | undefined>(TX_BUFFERS_MAX).fill(undefined);
  private bufferCount = 1;
  readonly parts = new Uint32Array(3 * TX_PARTS_MAX);
  private partCount = 0;
  readonly frameParts = new Uint32Array(FRAMES_MAX);
  /** The frame being built: its first part, and whether it references anything. */
  private frameStart = 0;
  private frameReferences = false;

  constructor() {
    this.buffers[0] = this.bytes.buffer;
  }

  /**
   * Would a frame of `copied` bytes to copy and `references` referenced parts
   * fit? When not, the device writes the batch first.
   */
  fits(copied: number, references: number): boolean {
    return (
      this.frames < FRAMES_MAX &&
      this.used + copied <= TX_BUFFER_SIZE &&
      this.partCount + references + 1 <= TX_PARTS_MAX &&
      this.bufferCount + references <= TX_BUFFERS_MAX
    );
  }

  /** Whether a frame of `copied` bytes and `references` references fits an empty batch at all. */
  static admits(copied: number, references: number): boolean {
    return copied <= TX_BUFFER_SIZE && references + 1 <= TX_FRAME_PARTS_MAX;
  }

  /** Starts a frame; `fits` said yes. */
  begin(): void {
    this.frameStart = this.partCount;
    this.frameReferences = false;
  }

  /** Appends a copy of `bytes` to the frame. */
  copy(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    const at = this.used;
    this.bytes.set(bytes, at);
    this.used += n;
    const last = this.partCount - 1;
    // The frame's previous part ends where this copy starts: extend it.
    if (last >= this.frameStart && this.parts[3 * last] === 0 && this.parts[3 * last + 1]! + this.parts[3 * last + 2]! === at) {
      this.parts[3 * last + 2]! += n;
      this.length += n;
    } else this.push(0, at, n);
  }

  /** Appends `length` bytes of `buffer` from `offset` by reference: they must not change until the batch is written. */
  reference(buffer: ArrayBufferLike, offset: number, length: number): void {
    if (length === 0) return;
    this.push(this.indexOf(buffer), offset, length);
    this.frameReferences = true;
  }

  /** Ends the frame. */
  end(): void {
    if (this.partCount === this.frameStart) this.push(0, this.used, 0); // an empty frame is still one write
    this.frameParts[this.frames] = this.partCount - this.frameStart;
    this.frames++;
    if (this.frameReferences) this.referencing++;
  }

  /** Empties the batch (written or dropped), letting go of the buffers it named. */
  reset(): void {
    for (let i = 1; i < this.bufferCount; i++) this.buffers[i] = undefined;
    this.bufferCount = 1;
    this.partCount = 0;
    this.frames = 0;
    this.used = 0;
    this.length = 0;
    this.referencing = 0;
  }

  private push(buffer: number, offset: number, length: number): void {
    const p = 3 * this.partCount++;
    this.parts[p] = buffer;
    this.parts[p + 1] = offset;
    this.parts[p + 2] = length;
    this.length += length;
  }

  /** The buffer's index in `buffers`, added when new (a batch names a handful: search from the most recent). */
  private indexOf(buffer: ArrayBufferLike): number {
    for (let i = this.bufferCount - 1; i >= 0; i--) if (this.buffers[i] === buffer) return i;
    this.buffers[this.bufferCount] = buffer;
    return this.bufferCount++;
  }
}
