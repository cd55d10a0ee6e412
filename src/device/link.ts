/**
 * An in-memory point-to-point Ethernet link: two `Device`s, like the two ends
 * of a cable (or a veth pair), for tests and simulations.
 *
 * - `send()` copies the frame and hands it to the direction's `Impairment`,
 *   which says when (and whether, and how many times) it reaches the far end.
 *   The frame is "on the wire" from that moment, so `flush()` has nothing to do.
 * - Delivery is never re-entrant: it always happens from a timer on
 *   `ctx.timers`, even with no delay (delay 0 means "on the next
 *   `timers.run()`"). Tests drive a link with `timers.advanceTo(clock, t)` on a
 *   ManualClock; nothing sleeps.
 * - Every frame due at the same instant is delivered in one batch: `onFrame`
 *   for each, in order, then `onBatchEnd` once, as a TAP delivers one read
 *   batch. Frames sent from inside a receiver are delivered in a later batch.
 * - Frames longer than mtu + 18 (Ethernet header 14 + one 802.1Q tag 4) are
 *   dropped at the sender and counted, as a real NIC would refuse them.
 * - `close()` on either end closes both and calls each end's `onClose`
 *   handlers once; frames still in flight are discarded.
 */
import type { StackContext } from '../core/context.js';
import type { Instant, Timer } from '../core/time.js';
import type { Device, FrameHandler, TxOffload } from './device.js';
import { Impairment, type ImpairmentOptions } from './impairment.js';
import { OFFLOAD_DROP_REASON, OffloadDrop, needsWork } from './segment.js';

/** Ethernet header (14) + one 802.1Q tag (4): the largest frame is mtu + 18 bytes (FCS not included). */
export const LINK_FRAME_OVERHEAD = 18;
export const LINK_MTU_DEFAULT = 1500;

export interface LinkCounters {
  /** Frames handed to this end's receiver. */
  rxFrames: number;
  rxBytes: number;
  /** Frames this end accepted for transmission (before impairment). */
  txFrames: number;
  txBytes: number;
  /** Frames this end dropped: oversized or sent after close, or arrived with no receiver installed. */
  dropped: number;
}

export interface LinkOptions {
  /** IP MTU of both ends (default 1500). */
  mtu?: number;
  nameA?: string;
  nameB?: string;
  /**
   * One set of options for both directions, or one per direction. When a
   * single set carries a `seed`, B→A uses `seed + 1` so the two directions do
   * not lose the same frames.
   */
  impairment?: ImpairmentOptions | { aToB?: ImpairmentOptions; bToA?: ImpairmentOptions };
}

export interface LinkDevice extends Device {
  readonly counters: LinkCounters;
  /** The impairment applied to frames this end sends. */
  readonly impairment: Impairment;
  /** The other end. */
  readonly peer: LinkDevice;
  readonly closed: boolean;
}

interface InFlight {
  at: Instant;
  frame: Uint8Array;
}

class LinkEnd implements LinkDevice {
  readonly counters: LinkCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, dropped: 0 };
  peer!: LinkEnd;
  closed = false;

  private onFrame: FrameHandler | undefined;
  private onBatchEnd: (() => void) | undefined;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private closeReason = '';
  /** Frames on their way to this end, sorted by `at`, equal times in send order; `head` is the first live slot. */
  private inbound: InFlight[] = [];
  private head = 0;
  private readonly deliveryTimer: Timer;
  private readonly deliverToPeer = (frame: Uint8Array, at: Instant): void => this.peer.enqueue(frame, at);

  constructor(
    private readonly ctx: StackContext,
    readonly name: string,
    readonly mtu: number,
    readonly impairment: Impairment,
  ) {
    this.deliveryTimer = ctx.timers.timer(() => this.deliverDue());
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
    if (needsWork(offload)) {
      // This link offers no offload: the impairment works on wire packets, so the sender cuts them (device/segment.ts).
      this.counters.dropped++;
      this.ctx.trace.dropped(OffloadDrop.gsoWithoutOffload, `${this.name}: ${OFFLOAD_DROP_REASON[OffloadDrop.gsoWithoutOffload]} (or a partial checksum)`);
      return;
    }
    if (frame.length > this.mtu + LINK_FRAME_OVERHEAD) {
      this.counters.dropped++;
      this.ctx.trace.dropped('linkTxOversize', `${this.name}: ${frame.length} bytes > mtu ${this.mtu} + ${LINK_FRAME_OVERHEAD}`);
      return;
    }
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    this.impairment.process(frame.slice(), this.ctx.clock.now(), this.deliverToPeer);
  }

  flush(): void {
    // Frames enter the wire in send(); delivery is already on a timer.
  }

  onClose(handler: (reason: string) => void): void {
    if (this.closed) handler(this.closeReason);
    else this.closeHandlers.push(handler);
  }

  close(): void {
    if (this.closed) return;
    const reason = `link closed by ${this.name}`;
    this.shutdown(reason);
    this.peer.shutdown(reason);
  }

  private shutdown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.deliveryTimer.cancel();
    this.inbound = [];
    this.head = 0;
    const handlers = this.closeHandlers.splice(0);
    for (const h of handlers) h(reason);
  }

  private enqueue(frame: Uint8Array, at: Instant): void {
    if (this.closed) return;
    const q = this.inbound;
    // Frames nearly always arrive in time order, so search from the tail.
    let i = q.length;
    while (i > this.head && q[i - 1]!.at > at) i--;
    if (i === q.length) q.push({ at, frame });
    else q.splice(i, 0, { at, frame });
    if (i === this.head) this.deliveryTimer.armAt(at);
  }

  private deliverDue(): void {
    const now = this.ctx.clock.now();
    const q = this.inbound;
    let end = this.head;
    while (end < q.length && q[end]!.at <= now) end++;
    // Take the batch out first: receivers may send, which can enqueue more frames here.
    const batch = q.slice(this.head, end);
    this.head = end;
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.inbound = q.slice(this.head);
      this.head = 0;
    }
    this.rearm();

    const onFrame = this.onFrame;
    for (const { frame } of batch) {
      if (this.closed) return;
      if (!onFrame) {
        this.counters.dropped++;
        this.ctx.trace.dropped('linkRxNoReceiver', `${this.name} has no receiver`);
        continue;
      }
      this.counters.rxFrames++;
      this.counters.rxBytes += frame.length;
      onFrame(frame);
    }
    if (!this.closed && onFrame) this.onBatchEnd?.();
  }

  private rearm(): void {
    const next = this.inbound[this.head];
    if (next) this.deliveryTimer.armAt(next.at);
    else this.deliveryTimer.cancel();
  }
}

function isPerDirection(
  impairment: NonNullable<LinkOptions['impairment']>,
): impairment is { aToB?: ImpairmentOptions; bToA?: ImpairmentOptions } {
  return 'aToB' in impairment || 'bToA' in impairment;
}

/** Creates the two ends of an in-memory link; see the file header for semantics. */
export function createLinkPair(ctx: StackContext, options: LinkOptions = {}): [LinkDevice, LinkDevice] {
  const mtu = options.mtu ?? LINK_MTU_DEFAULT;
  if (!(Number.isInteger(mtu) && mtu >= 68)) throw new Error(`createLinkPair: mtu must be an integer >= 68 (RFC 791), got ${mtu}`);
  let aToB: ImpairmentOptions = {};
  let bToA: ImpairmentOptions = {};
  const imp = options.impairment;
  if (imp && isPerDirection(imp)) {
    aToB = imp.aToB ?? {};
    bToA = imp.bToA ?? {};
  } else if (imp) {
    aToB = imp;
    bToA = imp.seed === undefined ? imp : { ...imp, seed: imp.seed + 1 };
  }
  const a = new LinkEnd(ctx, options.nameA ?? 'linkA', mtu, new Impairment(aToB, ctx));
  const b = new LinkEnd(ctx, options.nameB ?? 'linkB', mtu, new Impairment(bToA, ctx));
  a.peer = b;
  b.peer = a;
  return [a, b];
}
