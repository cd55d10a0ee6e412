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
 */
import type { StackContext } from '../core/context.js';
import type { Device, FrameHandler } from './device.js';
import { LINK_FRAME_OVERHEAD } from './link.js';

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
  private scheduled = false;
  private closed = false;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private readonly deliverTask = (): void => this.deliver();

  constructor(
    readonly name: string,
    readonly mtu: number,
    private readonly ctx: StackContext,
  ) {}

  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  send(frame: Uint8Array): void {
    if (this.closed) {
      this.counters.dropped++;
      this.ctx.trace.dropped('linkTxClosed', `${this.name} is closed`);
      return;
    }
    if (frame.length > this.mtu + LINK_FRAME_OVERHEAD) {
      this.counters.dropped++;
      this.ctx.trace.dropped('linkTxOversize', `${this.name}: ${frame.length} bytes > mtu ${this.mtu} + ${LINK_FRAME_OVERHEAD}`);
      return;
    }
    this.counters.txFrames++;
    this.peer.enqueue(frame.slice());
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
    for (const h of this.closeHandlers.splice(0)) h('wire closed');
  }

  private enqueue(frame: Uint8Array): void {
    if (this.closed) return;
    this.queue.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.deliverTask);
    }
  }

  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const onFrame = this.onFrame;
    if (!onFrame) {
      this.counters.dropped += batch.length;
      for (let i = 0; i < batch.length; i++) this.ctx.trace.dropped('linkRxNoReceiver', `${this.name} has no receiver`);
      return;
    }
    for (const frame of batch) {
      if (this.closed) return;
      this.counters.rxFrames++;
      onFrame(frame);
    }
    this.onBatchEnd?.();
  }
}

/** Drops (closed, oversize, no receiver) are counted under the same names as the in-memory Link's, in `ctx`. */
export function createWirePair(ctx: StackContext, nameA: string, nameB: string, mtu = 1500): [Device & { counters: WireCounters }, Device & { counters: WireCounters }] {
  const a = new WireEnd(nameA, mtu, ctx);
  const b = new WireEnd(nameB, mtu, ctx);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * Connects two devices back to back: every frame one receives is sent on the
 * other (a TAP spliced to an impaired in-memory link end, two TAPs of a
 * host-to-host link). `send` copies, so TAP batch views are safe to pass on.
 */
export function splice(a: Device, b: Device): void {
  a.setReceiver((frame) => b.send(frame));
  b.setReceiver((frame) => a.send(frame));
}
