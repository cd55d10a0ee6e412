/**
 * One UDP stream of an iperf3 test: the datagram header, the receiver's loss
 * and jitter accounting, and the paced sender.
 *
 * Read first: iperf_udp.c (iperf_udp_send, iperf_udp_recv) and RFC 1889
 * §6.3.1 / §A.8 (interarrival jitter), which iperf3 follows.
 *
 * Every datagram starts with (all big-endian):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 sec: the sender's clock, seconds              |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 usec: and microseconds                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |   packet count: 32 bits, or 64 with "udp_counters_64bit"      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |   payload up to "len" bytes (iperf3 sends random bytes)  ...
 *
 * The count starts at 1. The receiver keeps the highest count seen; a jump
 * counts the gap as lost, a count at or below it is out of order and takes
 * one back from the losses. Jitter: for each datagram the transit time is
 * arrival − sent (the clocks need not agree: only differences are used),
 * D = |transit − previous transit|, and jitter += (D − jitter) / 16.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';

export const UDP_TEST_HEADER_LENGTH_32 = 12;
export const UDP_TEST_HEADER_LENGTH_64 = 16;
/** Most datagrams a stream sends in one pacing tick (keeps one tick from holding the event loop). */
export const UDP_SEND_BURST_MAX = 256;

export interface UdpTestHeader {
  readonly sec: number;
  readonly usec: number;
  readonly count: number;
}

/** Reads the header, or undefined when the datagram is too short to hold it. */
export function parseUdpTestHeader(datagram: Uint8Array, counters64bit: boolean): UdpTestHeader | undefined {
  if (datagram.length < (counters64bit ? UDP_TEST_HEADER_LENGTH_64 : UDP_TEST_HEADER_LENGTH_32)) return undefined;
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const count = counters64bit ? Number(view.getBigUint64(8)) : view.getUint32(8);
  return { sec: view.getUint32(0), usec: view.getUint32(4), count };
}

/** Writes the header at the start of `datagram`; returns its length. */
export function emitUdpTestHeader(header: UdpTestHeader, datagram: Uint8Array, counters64bit: boolean): number {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  view.setUint32(0, header.sec >>> 0);
  view.setUint32(4, header.usec >>> 0);
  if (counters64bit) view.setBigUint64(8, BigInt(header.count));
  else view.setUint32(8, header.count >>> 0);
  return counters64bit ? UDP_TEST_HEADER_LENGTH_64 : UDP_TEST_HEADER_LENGTH_32;
}

/** The receiver's figures (iperf_udp_recv): packet_count, cnt_error, outoforder_packets, jitter (seconds). */
export class UdpReceiveAccount {
  packetCount = 0;
  errors = 0;
  outOfOrder = 0;
  jitter = 0;
  private previousTransit: number | undefined;

  receive(header: UdpTestHeader, arrivalSeconds: number): void {
    if (header.count >= this.packetCount + 1) {
      if (header.count > this.packetCount + 1) this.errors += header.count - 1 - this.packetCount;
      this.packetCount = header.count;
    } else {
      this.outOfOrder++;
      if (this.errors > 0) this.errors--;
    }
    const transit = arrivalSeconds - (header.sec + header.usec / 1e6);
    const d = Math.abs(transit - (this.previousTransit ?? transit));
    this.previousTransit = transit;
    this.jitter += (d - this.jitter) / 16;
  }
}

/** How a UDP stream reaches its peer: the server's socket for that family, already aimed at the client. */
export type UdpSend = (datagram: Uint8Array) => void;

export class UdpTestStream {
  readonly protocol = 'udp';
  bytes = 0;
  running = false;
  startedAt = 0;
  endedAt = 0;
  /** Sender: datagrams sent (the last count written). Receiver: see `account`. */
  packetsSent = 0;
  readonly account = new UdpReceiveAccount();
  private timer: Timer | undefined;
  private readonly datagram: Uint8Array;

  constructor(
    readonly id: number,
    readonly sender: boolean,
    /** `address|port` of the client's socket: how datagrams find this stream. */
    readonly peer: string,
    private readonly ctx: StackContext,
    private readonly send: UdpSend,
    private readonly options: { blockSize: number; bitsPerSecond: number; pacingMs: number; counters64bit: boolean; maySend: (bytes: number) => boolean; moved: (bytes: number, sent: boolean) => void },
  ) {
    this.datagram = new Uint8Array(options.blockSize);
    for (let i = 0; i < this.datagram.length; i++) this.datagram[i] = (i * 7 + 3) & 0xff;
  }

  get packets(): number {
    return this.sender ? this.packetsSent : this.account.packetCount;
  }

  start(now: number): void {
    this.running = true;
    this.startedAt = now;
    if (this.sender) {
      this.timer = this.ctx.timers.timer(() => this.tick());
      this.tick();
    }
  }

  /** -O: the first seconds do not count (iperf_reset_stats: bytes and jitter start again; loss counts keep going). */
  omitEnded(now: number): void {
    this.bytes = 0;
    this.startedAt = now;
    this.account.jitter = 0;
  }

  stop(now: number): void {
    if (this.running) this.endedAt = now;
    this.running = false;
    this.timer?.cancel();
  }

  /** A datagram of the running test from this stream's client. Returns false when it is too short to count. */
  receive(datagram: Uint8Array): boolean {
    if (!this.running || this.sender) return true;
    const header = parseUdpTestHeader(datagram, this.options.counters64bit);
    if (!header) return false;
    this.bytes += datagram.length;
    this.account.receive(header, this.ctx.clock.now() / 1000);
    this.options.moved(datagram.length, false);
    return true;
  }

  /** Sends what the rate allows since the start (iperf_check_throttle), then waits one pacing interval. */
  private tick(): void {
    if (!this.running) return;
    const { blockSize, bitsPerSecond, pacingMs } = this.options;
    const now = this.ctx.clock.now();
    const allowedBytes = bitsPerSecond > 0 ? (bitsPerSecond / 8) * ((now - this.startedAt) / 1000) + blockSize : Infinity;
    for (let n = 0; n < UDP_SEND_BURST_MAX && this.bytes < allowedBytes && this.options.maySend(blockSize); n++) {
      this.packetsSent++;
      emitUdpTestHeader({ sec: Math.floor(now / 1000), usec: Math.floor((now % 1000) * 1000), count: this.packetsSent }, this.datagram, this.options.counters64bit);
      this.send(this.datagram);
      this.bytes += blockSize;
      this.options.moved(blockSize, true);
    }
    this.timer!.armIn(pacingMs);
  }
}
