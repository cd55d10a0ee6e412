import type { Slices } from '../core/slices.js';

/**
 * The device interface: what L2 sees of a TAP, an in-memory link, or a pcap
 * wrapper. Frames are full Ethernet frames (destination MAC first).
 */

/**
 * Called once per received frame. `frame` is a view into the device's batch
 * buffer and is valid only during the call: copy what must outlive it. The
 * receiver owns the bytes until it returns and may rewrite them (a router
 * decrements the TTL in place and frames the packet it forwards over the
 * received link header: l2/headroom.ts).
 * `offload` is the frame's virtio-net metadata when it has any (a GSO
 * super-frame, a partial checksum: `TxOffload` read the other way), a record
 * the device reuses for every frame, so it too is valid only during the
 * call; undefined for a plain, complete frame. A receiver that forwards the
 * frame passes it on with `send(frame, offload)` (device/segment.ts when the
 * next device cannot take it), and is then done with those bytes: it does not
 * write to them again during the batch, because a TAP may have queued them by
 * reference (device/tap.ts) instead of copying them.
 */
export type FrameHandler = (frame: Uint8Array, offload?: TxOffload) => void;

/**
 * Offload request for one transmitted frame, or the offload metadata of a
 * received one (the virtio-net header fields, device/tap.ts): offsets count
 * from the first byte of the Ethernet frame.
 */
export interface TxOffload {
  /** VnetGsoType: none (0), tcpv4 (1), tcpv6 (4). */
  readonly gsoType: number;
  /** Data bytes per segment when `gsoType` is not none (the MSS). */
  readonly gsoSize: number;
  /** Ethernet + IP + transport header bytes (hdr_len). */
  readonly headerLength: number;
  /** Where the partial checksum's sum starts (csum_start); 0: the checksum is complete. */
  readonly checksumStart: number;
  /** Offset of the checksum field from `checksumStart` (16 TCP, 6 UDP). */
  readonly checksumOffset: number;
}

export interface Device {
  readonly name: string;
  /** IP MTU of the link (1500 on Ethernet): the largest frame is mtu + 14 (+4 with an 802.1Q tag). */
  readonly mtu: number;
  /** Installs the receiver. Frames arrive in batches; `onBatchEnd` (if given) runs after each batch. */
  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void;
  /**
   * Queues a frame for transmission. The caller may reuse its buffer as soon
   * as `send` returns: the bytes are copied, except a received frame being
   * passed on during its receive call, which a TAP may queue by reference
   * (see FrameHandler). Queued frames leave in one batch at the end of the
   * current turn (or when `flush()` is called).
   */
  send(frame: Uint8Array, offload?: TxOffload): void;
  /**
   * `send` of `frame` followed by `payload`, slices of other buffers that the
   * device writes after the frame's bytes without copying them
   * (core/slices.ts; a TAP, with writev). The slices must not change until
   * the device flushed (`transmitLoans` says when). Absent: the device does
   * not gather, and the sender copies the payload behind the headers.
   */
  sendWithPayload?(frame: Uint8Array, offload: TxOffload | undefined, payload: Slices): void;
  flush(): void;
  /** Largest frame `send` accepts with a TSO `offload` (0 or absent: no TSO). */
  readonly tsoMaxSize?: number;
  /** `send` accepts partial checksums (`offload.checksumStart`). */
  readonly checksumOffload?: boolean;
  /**
   * During the receive callback: the frame's transport checksum need not be
   * verified (the kernel checked it, or it is partial because the frame never
   * crossed a wire: virtio-net DATA_VALID / NEEDS_CSUM).
   */
  readonly rxChecksumValid?: boolean;
  /** Called once if the device goes away underneath us (TAP deleted) or is closed. */
  onClose(handler: (reason: string) => void): void;
  close(): void;
}

/** What a wrapper changes about the device it wraps (capture, observe, carrier): everything else passes through. */
export interface DeviceWrap {
  /** The handler to install on the wrapped device, given the one the layer above installs. */
  receive(onFrame: FrameHandler): FrameHandler;
  send(frame: Uint8Array, offload?: TxOffload): void;
  /**
   * The wrapper's `Device.sendWithPayload`, offered upward only when the
   * wrapped device has one. Absent: senders above copy payloads into frames.
   */
  sendWithPayload?(frame: Uint8Array, offload: TxOffload | undefined, payload: Slices): void;
  /** false: offer no TSO and no partial checksums upward (the wrapper wants finished wire frames). */
  readonly offload?: boolean;
}

/** A device that is `inner` except for what `wrap` changes: the one pass-through every wrapper shares. */
export function wrapDevice(inner: Device, wrap: DeviceWrap): Device {
  const offload = wrap.offload ?? true;
  return {
    get name() {
      return inner.name;
    },
    get mtu() {
      return inner.mtu;
    },
    get tsoMaxSize() {
      return offload ? inner.tsoMaxSize : 0;
    },
    get checksumOffload() {
      return offload ? inner.checksumOffload : false;
    },
    get rxChecksumValid() {
      return inner.rxChecksumValid;
    },
    setReceiver: (onFrame, onBatchEnd) => inner.setReceiver(wrap.receive(onFrame), onBatchEnd),
    send: wrap.send,
    sendWithPayload: inner.sendWithPayload !== undefined ? wrap.sendWithPayload : undefined,
    flush: () => inner.flush(),
    onClose: (handler) => inner.onClose(handler),
    close: () => inner.close(),
  };
}
