/**
 * Payload that follows a packet's headers without sitting in the same buffer:
 * a short list of slices of other buffers (TCP's send-buffer blocks, l4/tcp/
 * send-buffer.ts). A device that gathers (device/tap.ts: one writev(2) per
 * frame) writes the slices straight after the headers; any layer that needs
 * the packet in one piece (a netfilter hook, fragmentation, software
 * segmentation, a capture) copies them behind the headers with `copyTo`
 * first. Linux keeps a packet's payload the same way, in an skb's page
 * fragments (skb_shinfo(skb)->frags), and linearizes it where needed.
 *
 * Lending: a gathering device holds the slices' bytes until it writes them,
 * at the end of the turn at the latest. `transmitLoans.frames` counts the
 * frames queued that way, all devices together; the owner of the bytes (the
 * send buffer) must not reuse memory while it is above zero.
 */

/** Slices of one payload at most: a 64 KiB TSO segment spans up to five 16 KiB send-buffer blocks. */
export const SLICES_MAX = 8;

export class Slices {
  /** Slices in use. */
  count = 0;
  /** Their bytes together. */
  length = 0;
  /** Slice i is buffers[i][offsets[i], offsets[i] + lengths[i]). */
  readonly buffers: Uint8Array[] = new Array<Uint8Array>(SLICES_MAX);
  readonly offsets = new Uint32Array(SLICES_MAX);
  readonly lengths = new Uint32Array(SLICES_MAX);

  clear(): void {
    for (let i = 0; i < this.count; i++) this.buffers[i] = EMPTY; // hold no block beyond the send
    this.count = 0;
    this.length = 0;
  }

  /** Appends `length` bytes of `buffer` from `offset`. Throws past SLICES_MAX (a caller's bug). */
  add(buffer: Uint8Array, offset: number, length: number): void {
    if (this.count === SLICES_MAX) throw new RangeError(`Slices: more than ${SLICES_MAX} slices`);
    this.buffers[this.count] = buffer;
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
    this.length += length;
  }

  /** Copies the slices, in order, to `dst` at `at`; returns the bytes copied (`length`). */
  copyTo(dst: Uint8Array, at: number): number {
    let out = at;
    for (let i = 0; i < this.count; i++) {
      const offset = this.offsets[i]!;
      dst.set(this.buffers[i]!.subarray(offset, offset + this.lengths[i]!), out);
      out += this.lengths[i]!;
    }
    return out - at;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Frames queued by reference to slices and not yet written, across all
 * devices (see the top of this file). A device calls `lend` when it queues
 * such a frame and `settle` when its frames were written or dropped; once
 * none is left, `whenSettled` (the send buffer's) runs.
 */
export const transmitLoans = {
  frames: 0,
  /** Called when `frames` drops to 0 (set once by the owner of lent memory: l4/tcp/send-buffer.ts). */
  whenSettled: undefined as (() => void) | undefined,
  lend(): void {
    this.frames++;
  },
  settle(frames: number): void {
    if (frames === 0) return;
    this.frames -= frames;
    if (this.frames === 0) this.whenSettled?.();
  },
};

/**
 * Puts headers and payload slices together in one buffer, where something
 * needs the packet in one piece (a device that does not gather, a packet
 * waiting for ARP, a watcher). The buffer grows on first use and is reused:
 * the result is valid until the next `join`.
 */
export class Linearizer {
  private buf = new Uint8Array(0);

  join(head: Uint8Array, payload: Slices): Uint8Array {
    const length = head.length + payload.length;
    if (this.buf.length < length) this.buf = new Uint8Array(length);
    this.buf.set(head, 0);
    payload.copyTo(this.buf, head.length);
    return this.buf.subarray(0, length);
  }
}
