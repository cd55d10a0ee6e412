/**
 * Offload over a TAP opened with IFF_VNET_HDR: strips the 12-byte virtio-net
 * header from every received frame and prepends one to every sent frame, so
 * the stack above sees plain Ethernet frames (and pcap records them).
 *
 * Read first: the header diagram at the top of device/tap.ts, the virtio 1.x
 * spec §5.1.6.2 (packet transmission: NEEDS_CSUM, gso_type/gso_size/hdr_len)
 * and §5.1.6.4 (packet receive: DATA_VALID), and Linux's
 * include/linux/virtio_net.h (virtio_net_hdr_to_skb / _from_skb).
 *
 * What the kernel sends us with TUN_F_TSO4/6 is one "super-frame" of up to
 * 64 KiB per TCP burst, with NEEDS_CSUM: IPv4/IPv6 and TCP take it like any
 * other packet (the length fields are right), and the transport checksum is
 * not verified (`rxChecksumValid`). What we send with `offload` the kernel
 * cuts into MSS-sized segments and checksums (TSO), the way a NIC would.
 *
 * The receiver gets each frame's metadata with it (device.ts FrameHandler),
 * so a switch or router can pass a super-frame on whole. A header that does
 * not hold (device/segment.ts `check`: gso_size 0 or larger than the
 * payload, unknown gso_type, csum_start/offset past the end, a super-frame
 * over 65535 + headers, GSO on a TAP that was not offered TSO) drops the
 * frame, counted under `OffloadDrop` and traced.
 */
import { completePartialChecksum } from '../core/offload.js';
import { Linearizer, type Slices } from '../core/slices.js';
import { Stats } from '../core/stats.js';
import type { Tracer } from '../core/trace.js';
import type { Device, FrameHandler, TxOffload } from './device.js';
import { newTxOffload } from './offload.js';
import { OFFLOAD_DROP_REASON, OffloadDrop, Segmenter, isGso, type OffloadDropCounter } from './segment.js';
import { MAX_FRAME_SIZE, VNET_HDR_SIZE, VnetGsoType, VnetHdrField, VnetHdrFlag, TunOffload } from './tap.js';

/** A parsed virtio-net header (struct virtio_net_hdr, little-endian). */
export interface VnetHeader {
  readonly flags: number;
  readonly gsoType: number;
  readonly headerLength: number;
  readonly gsoSize: number;
  readonly checksumStart: number;
  readonly checksumOffset: number;
}

const le16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const setLe16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
};

/** Reads the header at the start of `bytes`; undefined when shorter than VNET_HDR_SIZE. */
export function parseVnetHeader(bytes: Uint8Array): VnetHeader | undefined {
  if (bytes.length < VNET_HDR_SIZE) return undefined;
  return {
    flags: bytes[VnetHdrField.flags]!,
    gsoType: bytes[VnetHdrField.gsoType]!,
    headerLength: le16(bytes, VnetHdrField.hdrLen),
    gsoSize: le16(bytes, VnetHdrField.gsoSize),
    checksumStart: le16(bytes, VnetHdrField.csumStart),
    checksumOffset: le16(bytes, VnetHdrField.csumOffset),
  };
}

/** Writes the header for `offload` (all zeros without one: "a plain, complete frame") at `buf[offset]`; returns VNET_HDR_SIZE. */
export function emitVnetHeader(offload: TxOffload | undefined, buf: Uint8Array, offset: number): number {
  buf.fill(0, offset, offset + VNET_HDR_SIZE);
  if (offload === undefined) return VNET_HDR_SIZE;
  if (offload.checksumStart > 0) {
    buf[offset + VnetHdrField.flags] = VnetHdrFlag.needsCsum;
    setLe16(buf, offset + VnetHdrField.csumStart, offload.checksumStart);
    setLe16(buf, offset + VnetHdrField.csumOffset, offload.checksumOffset);
  }
  if (offload.gsoType !== VnetGsoType.none) {
    buf[offset + VnetHdrField.gsoType] = offload.gsoType;
    setLe16(buf, offset + VnetHdrField.hdrLen, offload.headerLength);
    setLe16(buf, offset + VnetHdrField.gsoSize, offload.gsoSize);
  }
  return VNET_HDR_SIZE;
}

/** One-line summary, for traces. */
export function describeVnetHeader(h: VnetHeader): string {
  const flags = [h.flags & VnetHdrFlag.needsCsum ? 'needs_csum' : '', h.flags & VnetHdrFlag.dataValid ? 'data_valid' : ''].filter(Boolean);
  return `vnet flags [${flags.join(',')}] gso ${h.gsoType} size ${h.gsoSize} hdr_len ${h.headerLength} csum ${h.checksumStart}+${h.checksumOffset}`;
}

/** The TAP side `withVnetHeader` needs: a device whose frames carry the header, and the offloads in force. */
export interface VnetCapableDevice extends Device {
  readonly vnetHdr: boolean;
  readonly offloadFlags: number;
  /**
   * Queues `prefix` + `frame` (+ `payload`) as one frame, each part copied
   * into the batch or queued by reference (the TAP, device/tap.ts): the
   * virtio-net header goes in front of a 64 KB frame without a copy of the
   * frame first. Optional: without it `send` gets one buffer.
   */
  sendWithPrefix?(prefix: Uint8Array, frame: Uint8Array, payload?: Slices): void;
}

/** Counters of offload use (`tapnet show stats`), tapnet's own names with the vnet prefix. */
export const VnetCounter = {
  /** GSO super-frames received (gso_type not none): the kernel used TSO towards us. */
  inGsoFrames: 'vnetInGsoFrames',
  /** Frames received with a partial checksum (NEEDS_CSUM). */
  inPartialCsum: 'vnetInPartialCsum',
  /** Frames received with DATA_VALID. */
  inCsumValid: 'vnetInCsumValid',
  /** Frames dropped: shorter than the header. */
  inErrors: 'vnetInErrors',
  /** A GSO frame asked of a TAP whose TSO the kernel refused (the sender should have segmented it). */
  outGsoWithoutOffload: OffloadDrop.gsoWithoutOffload,
  /** TSO frames sent (the kernel cut them into segments). */
  outTsoFrames: 'vnetOutTsoFrames',
  /** Frames sent with a partial checksum for the kernel to finish. */
  outPartialCsum: 'vnetOutPartialCsum',
} as const;

/** Largest IP packet in a TSO frame: IPv4 total length / IPv6 payload length is 16 bits. */
const TSO_MAX_IP_PACKET = 65_535;

/**
 * Wraps a TAP opened with `vnetHdr: true` as a Device of plain Ethernet
 * frames. TSO and checksum offload are offered above only as far as the
 * kernel accepted them (`offloadFlags`).
 */
export class VnetDevice implements Device {
  readonly tsoMaxSize: number;
  readonly checksumOffload: boolean;
  private rxFlags = 0;
  private readonly tx = new Uint8Array(MAX_FRAME_SIZE);
  /** The virtio-net header of the frame being sent, when the device takes it as a prefix. */
  private readonly txHeader = new Uint8Array(VNET_HDR_SIZE);
  /** A frame put together from headers and payload slices where the TAP cannot gather (made on first use). */
  private readonly linear = new Linearizer();
  /** The received frame's metadata, refilled for every frame (valid during the receive call). */
  private readonly rxOffload = newTxOffload();
  private readonly checker = new Segmenter();
  private readonly tsoOffered: boolean;

  constructor(
    readonly device: VnetCapableDevice,
    private readonly stats: Stats = new Stats(),
    /** Where refused headers are traced (debug log); without one they are only counted. */
    private readonly trace?: Tracer,
  ) {
    stats.declare(...Object.values(VnetCounter), ...Object.values(OffloadDrop));
    this.tsoOffered = (device.offloadFlags & (TunOffload.tso4 | TunOffload.tso6)) !== 0;
    if (!device.vnetHdr) throw new Error(`VnetDevice: ${device.name} was not opened with vnetHdr`);
    this.checksumOffload = (device.offloadFlags & TunOffload.csum) !== 0;
    // TSO needs CSUM (the kernel refuses TSO without it); IPv4 and IPv6 are offered together or not at all.
    const tso = this.checksumOffload && (device.offloadFlags & (TunOffload.tso4 | TunOffload.tso6)) === (TunOffload.tso4 | TunOffload.tso6);
    this.tsoMaxSize = tso ? TSO_MAX_IP_PACKET : 0;
  }

  get name(): string {
    return this.device.name;
  }

  get mtu(): number {
    return this.device.mtu;
  }

  get rxChecksumValid(): boolean {
    return (this.rxFlags & (VnetHdrFlag.needsCsum | VnetHdrFlag.dataValid)) !== 0;
  }

  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    const stats = this.stats;
    this.device.setReceiver((bytes) => {
      if (bytes.length < VNET_HDR_SIZE) {
        stats.inc(VnetCounter.inErrors);
        return;
      }
      const flags = bytes[VnetHdrField.flags]!;
      const offload = this.rxOffload;
      offload.gsoType = bytes[VnetHdrField.gsoType]!;
      offload.gsoSize = le16(bytes, VnetHdrField.gsoSize);
      offload.headerLength = le16(bytes, VnetHdrField.hdrLen);
      // virtio 1.x §5.1.6.4: csum_start/csum_offset mean something only with NEEDS_CSUM.
      offload.checksumStart = flags & VnetHdrFlag.needsCsum ? le16(bytes, VnetHdrField.csumStart) : 0;
      offload.checksumOffset = flags & VnetHdrFlag.needsCsum ? le16(bytes, VnetHdrField.csumOffset) : 0;
      const frame = bytes.subarray(VNET_HDR_SIZE);
      // A partial checksum that starts at byte 0 would be "no partial checksum" in TxOffload terms: refuse it too.
      const bad: OffloadDropCounter | undefined =
        flags & VnetHdrFlag.needsCsum && offload.checksumStart === 0 ? OffloadDrop.checksumOutOfFrame : this.checker.check(frame, offload, this.tsoOffered);
      if (bad) {
        this.refused(bad, offload);
        return;
      }
      if (offload.gsoType !== VnetGsoType.none) stats.inc(VnetCounter.inGsoFrames);
      if (flags & VnetHdrFlag.needsCsum) stats.inc(VnetCounter.inPartialCsum);
      else if (flags & VnetHdrFlag.dataValid) stats.inc(VnetCounter.inCsumValid);
      this.rxFlags = flags;
      try {
        onFrame(frame, offload.gsoType !== VnetGsoType.none || offload.checksumStart > 0 ? offload : undefined);
      } finally {
        this.rxFlags = 0;
      }
    }, onBatchEnd);
  }

  /**
   * The frame's headers (`frame`) and data (`payload`, referenced) behind a
   * virtio-net header, as one frame. Only where the TAP gathers and no
   * checksum is left for us to finish; otherwise the payload is copied
   * behind the frame and it goes the usual way.
   */
  sendWithPayload(frame: Uint8Array, offload: TxOffload | undefined, payload: Slices): void {
    const finishHere = offload !== undefined && offload.checksumStart > 0 && !this.checksumOffload;
    if (this.device.sendWithPrefix === undefined || finishHere || (offload !== undefined && isGso(offload) && this.tsoMaxSize === 0)) {
      this.send(this.linear.join(frame, payload), offload);
      return;
    }
    this.count(offload);
    emitVnetHeader(offload, this.txHeader, 0);
    this.device.sendWithPrefix(this.txHeader, frame, payload);
  }

  private count(offload: TxOffload | undefined): void {
    if (offload === undefined) return;
    if (offload.gsoType !== VnetGsoType.none) this.stats.inc(VnetCounter.outTsoFrames);
    if (offload.checksumStart > 0) this.stats.inc(VnetCounter.outPartialCsum);
  }

  send(frame: Uint8Array, offload?: TxOffload): void {
    if (frame.length + VNET_HDR_SIZE > this.tx.length) {
      this.device.send(frame); // too big either way: let the device count the drop
      return;
    }
    if (offload) {
      if (offload.gsoType !== VnetGsoType.none && this.tsoMaxSize === 0) {
        // Whoever passed it on should have segmented it (device/segment.ts): a super-frame never leaves as one packet.
        this.refused(OffloadDrop.gsoWithoutOffload, offload);
        return;
      }
      this.count(offload);
    }
    if (this.device.sendWithPrefix && !(offload && offload.checksumStart > 0 && !this.checksumOffload)) {
      // The common case: header and frame go straight into the TAP's batch (a forwarded frame by reference, device/tap.ts).
      const header = this.txHeader;
      emitVnetHeader(offload, header, 0);
      this.device.sendWithPrefix(header, frame);
      return;
    }
    const tx = this.tx;
    tx.set(frame, VNET_HDR_SIZE);
    const out = tx.subarray(VNET_HDR_SIZE, VNET_HDR_SIZE + frame.length);
    if (offload && offload.checksumStart > 0 && !this.checksumOffload) {
      // The kernel would not finish it (TUN_F_CSUM refused): finish it here, on our copy.
      completePartialChecksum(out, offload);
      emitVnetHeader(offload.gsoType === VnetGsoType.none ? undefined : offload, tx, 0);
    } else emitVnetHeader(offload, tx, 0);
    this.device.send(tx.subarray(0, VNET_HDR_SIZE + frame.length));
  }

  private refused(counter: OffloadDropCounter, offload: TxOffload): void {
    if (this.trace) {
      this.trace.dropped(counter, `${this.name}: ${OFFLOAD_DROP_REASON[counter]}`, () =>
        `gso ${offload.gsoType} size ${offload.gsoSize} hdr_len ${offload.headerLength} csum ${offload.checksumStart}+${offload.checksumOffset}`,
      );
    } else this.stats.inc(counter);
  }

  flush(): void {
    this.device.flush();
  }

  onClose(handler: (reason: string) => void): void {
    this.device.onClose(handler);
  }

  close(): void {
    this.device.close();
  }
}
