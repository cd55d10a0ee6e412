/**
 * Linux TAP devices: the only TypeScript file that touches the OS.
 *
 * Read first: the kernel's Documentation/networking/tuntap.rst, and for the
 * optional offload header include/uapi/linux/virtio_net.h and the virtio 1.x
 * spec §5.1.6 "Device Operation" (struct virtio_net_hdr).
 *
 * The native addon (native/tap.cc) opens the TAP, polls its file descriptor on
 * the Node event loop and, on each wake-up, reads up to BATCH_FRAMES frames
 * into one receive buffer (slot i starts at i * RX_SLOT_SIZE), then calls us
 * once. We hand each frame to the receiver as a view into that buffer, run
 * `onBatchEnd`, and write everything the stack queued in the meantime with one
 * `writeBatch` (one writev(2) per frame). No threads, no per-frame allocation.
 *
 * On the way out a frame is copied into the write batch (./tx-batch.ts)
 * unless its bytes stay put until the batch is written; those are queued by
 * reference and the kernel's copy is the only one:
 *   - a frame that lies in the receive buffer of the TAP whose batch is being
 *     handed up (a switch or router forwarding it, framed in place over its
 *     received header: l2/headroom.ts). The slot is refilled by that TAP's
 *     next read, which cannot start before this batch returns; so at the end
 *     of the batch the TAP makes every TAP that borrowed from it write
 *     (`lending` below). Until then nobody writes to those bytes: a receiver
 *     that passed a frame to `send` is done with it (device.ts).
 *   - the payload of a TCP segment in the send buffer's blocks (`Slices`,
 *     core/slices.ts): the blocks are not reused while `transmitLoans` counts
 *     a frame that references them.
 * Anything else (a frame built in a scratch buffer, a fragment, an ICMP
 * error, a segment cut in software, a packet a hook replaced) is copied.
 *
 * The TAP is not persistent: it exists while tapnet holds the file descriptor,
 * and `ip link del` on it (or closing tapnet) deletes it.
 *
 * With `vnetHdr: true` every frame, in both directions, starts with a 12-byte
 * virtio-net header (struct virtio_net_hdr_mrg_rxbuf), fields little-endian
 * (TUNSETVNETLE):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     flags     |   gso_type    |        hdr_len (LE)           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        gso_size (LE)          |       csum_start (LE)         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |       csum_offset (LE)        |      num_buffers (LE)         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ethernet frame (destination MAC first) ...
 *
 *   flags        NEEDS_CSUM (1): the transport checksum is not computed; the
 *                one's-complement sum of bytes [csum_start, end) goes at
 *                csum_start + csum_offset (the field holds the pseudo-header
 *                sum already). DATA_VALID (2): checksum already verified.
 *   gso_type     NONE (0), TCPV4 (1), UDP (3), TCPV6 (4), UDP_L4 (5), | ECN (0x80):
 *                the frame is a super-packet to cut into gso_size-byte
 *                segments (TSO/USO). Only sent to us when TUNSETOFFLOAD
 *                allowed it (offloadFlags).
 *   hdr_len      bytes of Ethernet + IP + transport headers in a GSO frame.
 *   gso_size     payload bytes per segment (the MSS for TCP).
 *   csum_start   offset (from the Ethernet header) where checksumming starts.
 *   csum_offset  offset of the checksum field from csum_start (16 TCP, 6 UDP).
 *   num_buffers  unused by TAPs (0).
 *
 * Frames tapnet writes need the header too; an all-zero header means "a plain,
 * complete frame". Offsets are relative to the start of the Ethernet frame,
 * i.e. to byte 12 of what the device delivers.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { transmitLoans, type Slices } from '../core/slices.js';
import type { Device, FrameHandler, TxOffload } from './device.js';
import { TxBatch } from './tx-batch.js';

/** Size of the virtio-net header in front of every frame when `vnetHdr` is on (TUNSETVNETHDRSZ). */
export const VNET_HDR_SIZE = 12;
/** Field offsets of the virtio-net header, in wire order (see the diagram above). */
export const VnetHdrField = {
  flags: 0,
  gsoType: 1,
  hdrLen: 2,
  gsoSize: 4,
  csumStart: 6,
  csumOffset: 8,
  numBuffers: 10,
} as const;
/** virtio_net_hdr.flags bits. */
export const VnetHdrFlag = { needsCsum: 0x01, dataValid: 0x02 } as const;
/** virtio_net_hdr.gso_type values (VIRTIO_NET_HDR_GSO_*). */
export const VnetGsoType = { none: 0, tcpv4: 1, udp: 3, tcpv6: 4, udpL4: 5, ecn: 0x80 } as const;

/**
 * TUNSETOFFLOAD flags (include/uapi/linux/if_tun.h): what tapnet promises it
 * can take from the kernel. Without CSUM the kernel checksums everything
 * itself; without TSO4/TSO6 it segments TCP before handing it over.
 */
export const TunOffload = {
  csum: 0x01, // TUN_F_CSUM: "You can hand me unchecksummed packets"
  tso4: 0x02, // TUN_F_TSO4
  tso6: 0x04, // TUN_F_TSO6
  tsoEcn: 0x08, // TUN_F_TSO_ECN
  ufo: 0x10, // TUN_F_UFO
  uso4: 0x20, // TUN_F_USO4 (Linux 6.2)
  uso6: 0x40, // TUN_F_USO6 (Linux 6.2)
} as const;

/** Frames per read batch and per write batch (one wake-up, one JS call, one writeBatch). */
export const BATCH_FRAMES = 64;
/**
 * Receive slot size. The largest frame a TAP hands over is a 64 KiB GSO
 * super-packet (tun's gso_max_size, 65536) or a full frame at a TAP's largest
 * MTU (65521 + 14 Ethernet + 4 re-inserted 802.1Q tag = 65539), plus the
 * 12-byte virtio-net header. 64 KiB + 64 covers both.
 */
export const RX_SLOT_SIZE = 65_536 + 64;
/** Largest frame `send` accepts (the kernel refuses anything larger anyway). */
export const MAX_FRAME_SIZE = RX_SLOT_SIZE;
export { TX_BUFFER_SIZE } from './tx-batch.js';
/** IFNAMSIZ - 1 (include/uapi/linux/if.h). */
export const IFNAME_MAX = 15;

export interface TapOptions {
  /** Interface name (at most 15 characters); omitted: the kernel picks tapN. */
  name?: string;
  /** Create the TAP inside this network namespace (a name under /var/run/netns, or a path like /proc/PID/ns/net). */
  netns?: string;
  /** Prefix every frame with the 12-byte virtio-net header (IFF_VNET_HDR). */
  vnetHdr?: boolean;
  /** TUNSETOFFLOAD flags (TunOffload.*); needs vnetHdr. Default 0: the kernel sends complete, checksummed frames. */
  offloadFlags?: number;
  /** Set the TAP's MTU (SIOCSIFMTU); omitted: the kernel default, 1500. */
  mtu?: number;
  /**
   * Busy-poll budget in µs (0-1000; default BUSY_POLL_US_DEFAULT): while traffic
   * is dense, a wake-up keeps reading this long after its batch instead of
   * going back to epoll. 0 turns it off. An idle TAP never spins.
   */
  busyPollUs?: number;
}

/** native/tap.cc kBusyPollDefaultUs: a little more than one kernel round trip through a TAP. */
export const BUSY_POLL_US_DEFAULT = 50;

/** The addon's object (native/tap.cc, class TapHandle). */
interface NativeTapHandle {
  readonly name: string;
  readonly fd: number;
  readonly mtu: number;
  readonly vnetHdr: boolean;
  /** errno code of the last TUNSETOFFLOAD failure, undefined when it worked. */
  readonly offloadError: string | undefined;
  readonly lastWriteError: string | undefined;
  readonly closed: boolean;
  /** Busy-poll spins that found a frame / found nothing. */
  readonly busyPollHits: number;
  readonly busyPollMisses: number;
  setOffload(flags: number): string | undefined;
  setBusyPoll(microseconds: number): void;
  start(
    rx: Uint8Array,
    slotSize: number,
    slots: number,
    lengths: Uint32Array,
    onRead: (count: number) => void,
    onClose: (reason: string) => void,
  ): void;
  write(buf: Uint8Array, offset: number, length: number): number;
  /** Frame i is frameParts[i] (buffer index, offset, length) triples of `parts`; one writev each. Returns frames written. */
  writeBatch(buffers: readonly (ArrayBufferLike | undefined)[], parts: Uint32Array, frameParts: Uint32Array, frames: number): number;
  close(): void;
  ref(): void;
  unref(): void;
}

interface NativeTapAddon {
  TapHandle: new (options: TapOptions) => NativeTapHandle;
  VNET_HDR_SIZE: number;
}

/** native/: its build/Release (a local build) is preferred, then prebuilds/linux-ARCH (shipped; native/README.md). */
const NATIVE_DIR = fileURLToPath(new URL('../../native', import.meta.url));
let addon: NativeTapAddon | undefined;

/** Loads the addon on first use, so code that never opens a TAP runs without it (unit tests, other OSes). */
function loadAddon(): NativeTapAddon {
  if (addon) return addon;
  try {
    // node-gyp-build: the prebuildify layout's loader (a local build first, then a matching prebuilt binary).
    const load = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => NativeTapAddon;
    addon = load(NATIVE_DIR);
  } catch (cause) {
    const why = (cause as Error).message.split('\n')[0] ?? '';
    if ((cause as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && why.includes("'node-gyp-build'")) {
      throw new Error(`node_modules is incomplete (${why}; a half-finished npm install?): rm -rf node_modules && npm install`, { cause });
    }
    throw new Error(`tapnet's TAP addon does not load (${why}); rebuild it: \`node scripts/build-native.mjs --from-source\` (needs g++, make, python3)`, { cause });
  }
  if (addon.VNET_HDR_SIZE !== VNET_HDR_SIZE) throw new Error('tapnet TAP addon is out of date; rebuild it with `node scripts/build-native.mjs --from-source`');
  return addon;
}

/** Offload sets to try in order when the kernel refuses the requested one (older kernels lack USO, some lack ECN). */
function offloadFallbacks(requested: number): number[] {
  const tso = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;
  return [...new Set([requested & tso, requested & TunOffload.csum, 0])].filter((f) => f !== requested);
}

const NO_PREFIX = new Uint8Array(0);

/**
 * The TAP whose receive batch is being handed up: frames in its receive
 * buffer may be queued by reference by any TAP (the borrowers), and it makes
 * them all write before its batch call returns, i.e. before its next read
 * refills the slots. Batches of two TAPs never nest (each runs from its own
 * poll callback), so one record serves the process.
 */
const lending = {
  /** The receive buffer being handed up; undefined between batches. */
  buffer: undefined as ArrayBufferLike | undefined,
  /** TAPs that queued references into it, each once (`TapDevice.borrowing`), the first `count` entries. */
  borrowers: [] as (TapDevice | undefined)[],
  count: 0,
};

/**
 * A Linux TAP as a `Device`. Counters are plain numbers you can read at any
 * time (`ip -s link` on the kernel side shows the mirror image).
 */
export class TapDevice implements Device {
  readonly name: string;
  readonly mtu: number;
  /** Frames in both directions start with the 12-byte virtio-net header (see top of file). */
  readonly vnetHdr: boolean;
  /** TUNSETOFFLOAD flags in force (may be fewer than requested; 0 without vnetHdr). */
  readonly offloadFlags: number;
  /** The namespace the TAP was created in (undefined: tapnet's own). It may have been moved since. */
  readonly netns: string | undefined;

  /** Frames and bytes read from the TAP (what the kernel sent us). */
  rxFrames = 0;
  rxBytes = 0;
  /** Read batches (wake-ups); rxFrames / rxBatches is the mean batch size. */
  rxBatches = 0;
  /** Frames read while no receiver was installed. */
  rxDropped = 0;
  /** Frames and bytes written to the TAP. */
  txFrames = 0;
  txBytes = 0;
  /** Frames not written: write(2) failed (EAGAIN, ENOBUFS, EIO while down, ...), too big, device closed, or offload asked of a TAP without the virtio-net header. */
  txDropped = 0;

  private readonly handle: NativeTapHandle;
  private closed = false;
  private readonly closeHandlers: ((reason: string) => void)[] = [];

  private onFrame: FrameHandler | undefined;
  private onBatchEnd: (() => void) | undefined;
  private readonly rxBuffer = new Uint8Array(BATCH_FRAMES * RX_SLOT_SIZE);
  private readonly rxLengths = new Uint32Array(BATCH_FRAMES);
  /**
   * The last view handed out per slot. Frames of the same length in the same
   * slot (a bulk transfer: all 1514 bytes) reuse it, so steady-state receive
   * allocates nothing. Reuse is safe: the bytes under a view change with the
   * next batch anyway, which is why receivers must copy what they keep.
   */
  private readonly rxViews: Uint8Array[];

  private readonly tx = new TxBatch();
  /** Frames queued with `Slices` (counted in transmitLoans until written). */
  private txLoans = 0;
  /** Listed in `lending.borrowers` for the batch being handed up. */
  private borrowing = false;
  private flushScheduled = false;
  /** Inside receiveBatch, which flushes at its end: sends then need no microtask of their own. */
  private receiving = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Use `openTap`. */
  constructor(handle: NativeTapHandle, offloadFlags: number, netns: string | undefined) {
    this.handle = handle;
    this.name = handle.name;
    this.mtu = handle.mtu;
    this.vnetHdr = handle.vnetHdr;
    this.offloadFlags = offloadFlags;
    this.netns = netns;
    this.rxViews = Array.from({ length: BATCH_FRAMES }, (_, i) =>
      this.rxBuffer.subarray(i * RX_SLOT_SIZE, i * RX_SLOT_SIZE),
    );
    // Polling starts at once, receiver or not, so a deleted TAP is noticed.
    handle.start(
      this.rxBuffer,
      RX_SLOT_SIZE,
      BATCH_FRAMES,
      this.rxLengths,
      (count) => this.receiveBatch(count),
      (reason) => this.closedUnderneath(reason),
    );
  }

  /** The TAP's file descriptor (for diagnostics; do not read or write it). */
  get fd(): number {
    return this.handle.fd;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Busy-poll spins after a batch that found the next frame (no epoll sleep, no wake-up latency). */
  get busyPollHits(): number {
    return this.handle.busyPollHits;
  }

  /** Busy-poll spins that found nothing within the budget (CPU spent for nothing; they make the spin back off). */
  get busyPollMisses(): number {
    return this.handle.busyPollMisses;
  }

  /** The errno code of the last failed write (EAGAIN, EIO, ...), for diagnosing `txDropped`. */
  get lastWriteError(): string | undefined {
    return this.handle.lastWriteError;
  }

  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  send(frame: Uint8Array, offload?: TxOffload): void {
    const length = frame.length;
    // Without the virtio-net header there is no way to ask the kernel to segment or checksum (device/vnet.ts does).
    const needsOffload = offload !== undefined && (offload.gsoType !== VnetGsoType.none || offload.checksumStart > 0);
    if (this.closed || length > MAX_FRAME_SIZE || needsOffload) {
      this.txDropped++;
      return;
    }
    this.enqueue(NO_PREFIX, frame);
  }

  /**
   * `send` of `prefix` + `frame` + `payload` as one frame (device/vnet.ts: the
   * virtio-net header in front, no copy before). `payload`: slices that follow
   * the frame on the wire, queued by reference (TCP's send buffer).
   */
  sendWithPrefix(prefix: Uint8Array, frame: Uint8Array, payload?: Slices): void {
    const length = prefix.length + frame.length + (payload?.length ?? 0);
    if (this.closed || length > MAX_FRAME_SIZE) {
      this.txDropped++;
      return;
    }
    this.enqueue(prefix, frame, payload);
  }

  /**
   * Queues one frame (`prefix` + `frame` + `payload`): copied, or `frame`
   * referenced when it lies in the receive buffer being handed up (see the
   * top of this file), `payload` always referenced. The batch leaves when
   * full, at the end of the lender's batch, or at the end of the turn.
   */
  private enqueue(prefix: Uint8Array, frame: Uint8Array, payload?: Slices): void {
    const tx = this.tx;
    const borrow = frame.buffer === lending.buffer && frame.length > 0;
    const copied = prefix.length + (borrow ? 0 : frame.length);
    const references = (borrow ? 1 : 0) + (payload?.count ?? 0);
    if (!TxBatch.admits(copied, references)) {
      this.txDropped++;
      return;
    }
    if (!tx.fits(copied, references)) this.flush();
    tx.begin();
    tx.copy(prefix);
    if (borrow) {
      tx.reference(frame.buffer, frame.byteOffset, frame.length);
      if (!this.borrowing) {
        this.borrowing = true;
        lending.borrowers[lending.count++] = this;
      }
    } else tx.copy(frame);
    if (payload !== undefined && payload.count > 0) {
      for (let i = 0; i < payload.count; i++) {
        const slice = payload.buffers[i]!;
        tx.reference(slice.buffer, slice.byteOffset + payload.offsets[i]!, payload.lengths[i]!);
      }
      this.txLoans++;
      transmitLoans.lend();
    }
    tx.end();
    if (tx.frames === BATCH_FRAMES) this.flush();
    else if (!this.flushScheduled && !this.receiving) {
      // End of the current turn: after the code that is sending now, before any new I/O.
      // (During receiveBatch its own flush at the end of the batch does this, one microtask fewer per batch.)
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  /**
   * Writes one frame now, after whatever is queued (so order is kept),
   * bypassing the batch. Returns false if it was dropped.
   */
  sendNow(frame: Uint8Array): boolean {
    if (this.closed) {
      this.txDropped++;
      return false;
    }
    this.flush();
    const n = this.handle.write(frame, 0, frame.length);
    if (n < 0) {
      this.txDropped++;
      return false;
    }
    this.txFrames++;
    this.txBytes += n;
    return true;
  }

  /** Writes the batch (one writev per frame). Every queued frame is written or counted as dropped: nothing stays queued. */
  flush(): void {
    const tx = this.tx;
    const count = tx.frames;
    if (count === 0) return;
    let written = 0;
    try {
      written = this.handle.writeBatch(tx.buffers, tx.parts, tx.frameParts, count);
    } finally {
      this.txFrames += written;
      this.txDropped += count - written;
      // Exact when nothing was dropped (the normal case); the addon does not say which frames failed.
      this.txBytes += written === count ? tx.length : Math.round((tx.length * written) / count);
      this.emptyBatch();
    }
  }

  /** Forgets the queued frames (written or dropped) and returns their loans. */
  private emptyBatch(): void {
    this.tx.reset();
    const loans = this.txLoans;
    this.txLoans = 0;
    transmitLoans.settle(loans);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Flushes queued frames, closes the fd (the kernel deletes the interface) and tells the onClose handlers. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.handle.close();
    this.finish('closed');
  }

  /** Keeps the process alive while open (the default: `tapnet up` is a server). */
  ref(): void {
    this.handle.ref();
  }

  /** Lets the process exit even though the TAP is open. */
  unref(): void {
    this.handle.unref();
  }

  private receiveBatch(count: number): void {
    this.rxBatches++;
    const onFrame = this.onFrame;
    if (onFrame === undefined) {
      this.rxDropped += count;
      return;
    }
    const outer = lending.buffer;
    lending.buffer = this.rxBuffer.buffer;
    try {
      this.handUp(onFrame, count);
    } finally {
      // The slots are refilled by our next read: whatever references them leaves now (also when a receiver
      // threw: what it queued before still leaves).
      lending.buffer = outer;
      this.flush();
      const borrowers = lending.borrowers;
      for (let i = 0; i < lending.count; i++) {
        const borrower = borrowers[i]!;
        borrowers[i] = undefined;
        borrower.borrowing = false;
        borrower.flush();
      }
      lending.count = 0;
    }
  }

  private handUp(onFrame: FrameHandler, count: number): void {
    const lengths = this.rxLengths;
    const views = this.rxViews;
    this.receiving = true;
    try {
      for (let i = 0; i < count; i++) {
        const length = lengths[i]!;
        let frame = views[i]!;
        if (frame.length !== length) {
          frame = this.rxBuffer.subarray(i * RX_SLOT_SIZE, i * RX_SLOT_SIZE + length);
          views[i] = frame;
        }
        this.rxFrames++;
        this.rxBytes += length;
        onFrame(frame);
        if (this.closed) return;
      }
      this.onBatchEnd?.();
    } finally {
      this.receiving = false;
    }
  }

  private closedUnderneath(reason: string): void {
    // The fd is already closed: whatever is queued can no longer leave.
    this.txDropped += this.tx.frames;
    this.emptyBatch();
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const handler of this.closeHandlers) handler(reason);
  }
}

/**
 * Creates a TAP (or attaches to a free one of that name) and starts reading.
 * Throws an Error with `code` (EBUSY, EPERM, ENOENT, ...) when the kernel
 * refuses; e.g. "TAP tapnet0 is in use by another process (EBUSY)".
 * If the kernel refuses the requested offloads, fewer are used: check
 * `offloadFlags` on the result.
 */
export function openTap(options: TapOptions = {}): TapDevice {
  if (options.name !== undefined && (options.name.length === 0 || options.name.length > IFNAME_MAX)) {
    throw new RangeError(`TAP name "${options.name}" must be 1..${IFNAME_MAX} characters`);
  }
  const requested = options.vnetHdr ? (options.offloadFlags ?? 0) : 0;
  if (!options.vnetHdr && options.offloadFlags) throw new Error('openTap: offloadFlags need vnetHdr: true');
  const { TapHandle } = loadAddon();
  const handle = new TapHandle({ ...options, offloadFlags: requested });
  if (options.busyPollUs !== undefined && options.busyPollUs !== BUSY_POLL_US_DEFAULT) {
    try {
      handle.setBusyPoll(options.busyPollUs);
    } catch (e) {
      handle.close();
      throw e;
    }
  }
  let offloadFlags = requested;
  if (handle.vnetHdr && handle.offloadError !== undefined) {
    offloadFlags = 0;
    for (const flags of offloadFallbacks(requested)) {
      if (handle.setOffload(flags) === undefined) {
        offloadFlags = flags;
        break;
      }
    }
  }
  try {
    return new TapDevice(handle, offloadFlags, options.netns);
  } catch (e) {
    handle.close();
    throw e;
  }
}
