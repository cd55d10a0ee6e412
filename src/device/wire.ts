/**
 * A perfect patch cable between two tapnet elements in one process (a switch
 * port and a router interface): no delay, no loss, no timer.
 *
 * The in-memory `Link` (src/device/link.ts) delivers from a timer on the
 * injected clock, which is what simulations and impaired lab links want; on
 * the real clock that timer is a setTimeout of at least 1 ms per hop. A lab
 * link with no impairment uses this instead: frames sent in one turn of the
 * event loop are delivered as one batch on the next microtask, so a frame
 * crosses a switch and a router in the same turn it arrived from the TAP.
 * Delivery is never re-entrant (a receiver that sends queues for the next batch).
 *
 * With `offload` on, a wire takes frames with their virtio-net metadata (GSO
 * super-frames, partial checksums) and delivers them with it, as a virtual
 * cable between two virtio-net devices would: memory has no MTU, so there
 * is nothing to cut. Off, it takes wire frames only, and refuses (counts) a
 * frame that still needs segmenting or checksumming: the sender should have
 * done it (device/segment.ts).
 */
import type { StackContext } from '../core/context.js';
import type { Device, FrameHandler, TxOffload } from './device.js';
import { LINK_FRAME_OVERHEAD } from './link.js';
import { newTxOffload, type TxOffloadRecord } from './offload.js';
import { OFFLOAD_DROP_REASON, OffloadDrop, SUPER_FRAME_MAX, Segmenter, isGso, needsWork, type OffloadDropCounter } from './segment.js';

export interface WireCounters {
  rxFrames: number;
  txFrames: number;
  dropped: number;
}

class WireEnd implements Device {
  peer!: WireEnd;
  readonly counters: WireCounters = { rxFrames: 0, txFrames: 0, dropped: 0 };
  private onFrame: FrameHandler | undefined;
  private onBatchEnd: (() => void) | undefined;
  private queue: Uint8Array[] = [];
  /** The metadata of each queued frame (undefined: a plain frame); records come from `spare` and go back after delivery. */
  private offloads: (TxOffloadRecord | undefined)[] = [];
  private readonly spare: TxOffloadRecord[] = [];
  private scheduled = false;
  private closed = false;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private readonly deliverTask = (): void => this.deliver();

  constructor(
    readonly name: string,
    readonly mtu: number,
    private readonly ctx: StackContext,
    private readonly offloadOn: boolean,
  ) {}

  /** Largest IP packet a super-frame may carry (the 16-bit IP length); 0 without offload. */
  get tsoMaxSize(): number {
    return this.offloadOn ? 65_535 : 0;
  }

  get checksumOffload(): boolean {
    return this.offloadOn;
  }

  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  send(frame: Uint8Array, offload?: TxOffload): void {
    if (this.closed) {
      this.counters.dropped++;
      this.ctx.trace.dropped('linkTxClosed', `${this.name} is closed`);
      return;
    }
    const work = needsWork(offload);
    if (work && !this.offloadOn) {
      this.counters.dropped++;
      this.ctx.trace.dropped(OffloadDrop.gsoWithoutOffload, `${this.name}: ${OFFLOAD_DROP_REASON[OffloadDrop.gsoWithoutOffload]} (or a partial checksum)`);
      return;
    }
    if (frame.length > (isGso(offload) ? SUPER_FRAME_MAX : this.mtu + LINK_FRAME_OVERHEAD)) {
      this.counters.dropped++;
      this.ctx.trace.dropped('linkTxOversize', `${this.name}: ${frame.length} bytes > mtu ${this.mtu} + ${LINK_FRAME_OVERHEAD}`);
      return;
    }
    this.counters.txFrames++;
    let record: TxOffloadRecord | undefined;
    if (work) {
      record = this.spare.pop() ?? newTxOffload();
      Object.assign(record, offload);
    }
    this.peer.enqueue(frame.slice(), record);
  }

  flush(): void {}

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  close(): void {
    this.shutdown();
    this.peer.shutdown();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.offloads = [];
    for (const h of this.closeHandlers.splice(0)) h('wire closed');
  }

  private enqueue(frame: Uint8Array, offload: TxOffloadRecord | undefined): void {
    if (this.closed) return;
    this.queue.push(frame);
    this.offloads.push(offload);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.deliverTask);
    }
  }

  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue;
    const offloads = this.offloads;
    this.queue = [];
    this.offloads = [];
    const onFrame = this.onFrame;
    if (!onFrame) {
      this.counters.dropped += batch.length;
      for (let i = 0; i < batch.length; i++) this.ctx.trace.dropped('linkRxNoReceiver', `${this.name} has no receiver`);
      return;
    }
    const spare = this.peer.spare;
    for (let i = 0; i < batch.length; i++) {
      if (this.closed) return;
      this.counters.rxFrames++;
      const offload = offloads[i];
      onFrame(batch[i]!, offload);
      if (offload) spare.push(offload);
    }
    this.onBatchEnd?.();
  }
}

/**
 * Drops (closed, oversize, no receiver) are counted under the same names as
 * the in-memory Link's, in `ctx`. `offload`: the ends take and deliver frames
 * with offload metadata (see the top of this file).
 */
export function createWirePair(
  ctx: StackContext,
  nameA: string,
  nameB: string,
  mtu = 1500,
  offload = false,
): [Device & { counters: WireCounters }, Device & { counters: WireCounters }] {
  const a = new WireEnd(nameA, mtu, ctx, offload);
  const b = new WireEnd(nameB, mtu, ctx, offload);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * Connects two devices back to back: every frame one receives is sent on the
 * other (a TAP spliced to an impaired in-memory link end, two TAPs of a
 * host-to-host link). `send` copies, so TAP batch views are safe to pass on.
 * A frame with offload metadata goes on whole where the other device takes
 * it, else cut and checksummed first (device/segment.ts): an impaired link
 * then loses, delays and reorders wire packets, not super-frames.
 */
export function splice(ctx: StackContext, a: Device, b: Device): void {
  const toB = new Segmenter();
  const toA = new Segmenter();
  a.setReceiver((frame, offload) => refused(ctx, b, toB.sendTo(b, frame, offload)));
  b.setReceiver((frame, offload) => refused(ctx, a, toA.sendTo(a, frame, offload)));
}

function refused(ctx: StackContext, device: Device, counter: OffloadDropCounter | undefined): void {
  if (counter) ctx.trace.dropped(counter, `towards ${device.name}: ${OFFLOAD_DROP_REASON[counter]}`);
}
