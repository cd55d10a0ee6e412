/**
 * Copies of received segment text for the application, carved out of shared
 * slabs (the way Node's `Buffer.allocUnsafe` pool serves small buffers).
 *
 * Why: the device reads every frame into a buffer it reuses for the next
 * read, so data handed to a stream reader must be copied out. One fresh
 * `Buffer` per segment (a 64 KiB allocation per TSO super-frame on a bulk
 * upload) was the largest receive cost tapnet owned (bench/RESULTS.md "Where
 * `tapnet up`'s time goes"): an ArrayBuffer object per segment, its backing
 * store, and the garbage collections they drive. Here consecutive copies
 * share one slab; each copy is a `subarray` view that no later copy overlaps,
 * so what the application got never changes. A slab is freed by the garbage
 * collector once no view of it is alive; it is never written again after it
 * is left, so nothing is recycled behind a reader's back.
 *
 * The cost of sharing is that one view keeps its whole slab alive. Only
 * copies of at least RX_POOL_MIN_COPY bytes use the pool, so a view retains
 * at most RX_POOL_SLAB_SIZE / RX_POOL_MIN_COPY = 8 times its own size (2
 * times for a 64 KiB super-frame); smaller copies are plain `Buffer.from`
 * (which uses Node's own 8 KiB pool below 4 KiB).
 */

/** Bytes per slab. 128 KiB: two TSO super-frames, and the glibc mmap threshold, which it raises after the first free. */
export const RX_POOL_SLAB_SIZE = 128 * 1024;
/** Copies smaller than this are not pooled (see the retention bound above). */
export const RX_POOL_MIN_COPY = 16 * 1024;

export class ReceivePool {
  private slab: Buffer | undefined;
  private used = 0;
  /** Slabs allocated so far (a counter for tests and `show`-style diagnostics). */
  slabs = 0;

  constructor(
    private readonly slabSize = RX_POOL_SLAB_SIZE,
    private readonly minCopy = RX_POOL_MIN_COPY,
  ) {}

  /** A copy of `data` that the caller (and the application after it) owns: no later copy touches its bytes. */
  copy(data: Uint8Array): Buffer {
    const length = data.length;
    if (length < this.minCopy || length > this.slabSize) return Buffer.from(data);
    let slab = this.slab;
    if (slab === undefined || this.used + length > this.slabSize) {
      slab = Buffer.allocUnsafeSlow(this.slabSize);
      this.slab = slab;
      this.used = 0;
      this.slabs++;
    }
    const start = this.used;
    const out = slab.subarray(start, start + length);
    out.set(data);
    // Keep the next copy 8-byte aligned (memcpy and later readers of the view prefer it).
    this.used = (start + length + 7) & ~7;
    return out;
  }
}

/** The process-wide pool: every stack's TCP receive path copies through it (one slab in use at a time). */
export const receivePool = new ReceivePool();
