/**
 * The device interface: what L2 sees of a TAP, an in-memory link, or a pcap
 * wrapper. Frames are full Ethernet frames (destination MAC first).
 */

/**
 * Called once per received frame. `frame` is a view into the device's batch
 * buffer and is valid only during the call: copy what must outlive it.
 */
export type FrameHandler = (frame: Uint8Array) => void;

export interface Device {
  readonly name: string;
  /** IP MTU of the link (1500 on Ethernet): the largest frame is mtu + 14 (+4 with an 802.1Q tag). */
  readonly mtu: number;
  /** Installs the receiver. Frames arrive in batches; `onBatchEnd` (if given) runs after each batch. */
  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void;
  /**
   * Queues a frame for transmission. The bytes are copied before `send`
   * returns, so the caller may reuse its buffer at once. Queued frames leave in
   * one batch at the end of the current turn (or when `flush()` is called).
   */
  send(frame: Uint8Array): void;
  flush(): void;
  /** Called once if the device goes away underneath us (TAP deleted) or is closed. */
  onClose(handler: (reason: string) => void): void;
  close(): void;
}
