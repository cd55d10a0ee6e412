/**
 * TCP memory: the stack-wide budget every connection's buffers are charged
 * to, and the autotuning that sizes each connection's buffers.
 *
 * Read first: Linux's Documentation/networking/ip-sysctl.rst (tcp_mem,
 * tcp_rmem, tcp_wmem, tcp_moderate_rcvbuf), RFC 9293 §3.8.6.2.2 (the
 * receiver may not shrink the window it offered: a buffer only grows here)
 * and RFC 7323 §2.4 (the same, with window scaling).
 *
 * What is charged: bytes in send buffers (written, not yet acknowledged),
 * bytes delivered but not read by the application, and out-of-order segments
 * with a per-entry overhead (like Linux's skb truesize, so that 1-byte
 * segments are not free). Three levels, as Linux's tcp_mem:
 *   - above `pressure`: buffers stop growing and out-of-order queues are
 *     pruned; pressure ends when the total falls below `low`;
 *   - at `high`: new data is refused (a socket may still hold its minimum, as
 *     Linux guarantees tcp_rmem[0] / tcp_wmem[0]) and SYNs are dropped.
 *
 * Autotuning, as Linux: a connection starts with tcp_rmem[1] / tcp_wmem[1].
 * The receive buffer grows to twice what the application consumed in one
 * round trip (Linux tcp_rcv_space_adjust, "dynamic right-sizing"), the send
 * buffer to twice the congestion window (tcp_sndbuf_expand), both capped by
 * their max and frozen while memory is tight (tcp_should_expand_sndbuf stops at
 * tcp_mem[0]).
 */
import { pipeSize } from './recovery.js';
import type { Stats } from '../../core/stats.js';
import type { TcpConfig } from './config.js';
import type { TcpConnection } from './connection.js';

/** Bytes charged per out-of-order segment on top of its data: a Buffer, its entry and the SACK bookkeeping (tapnet's estimate of V8's cost, Linux charges skb truesize). */
export const TCP_OFO_ENTRY_OVERHEAD = 256;

export class TcpMemory {
  /** Bytes charged by all connections. */
  allocated = 0;
  /** Between crossing `pressure` and falling below `low` (Linux tcp_memory_pressure). */
  underPressure = false;
  private low: number;
  private pressure: number;
  private high: number;

  constructor(
    config: TcpConfig,
    private readonly stats: Stats,
  ) {
    this.low = config.memoryLow;
    this.pressure = config.memoryPressure;
    this.high = config.memoryHigh;
  }

  setLimits(config: TcpConfig): void {
    this.low = config.memoryLow;
    this.pressure = config.memoryPressure;
    this.high = config.memoryHigh;
  }

  /** Adds `bytes` (negative: returns them) and moves in or out of pressure. */
  charge(bytes: number): void {
    this.allocated += bytes;
    if (bytes > 0) {
      if (!this.underPressure && this.allocated > this.pressure) {
        this.underPressure = true;
        this.stats.inc('TcpExtTCPMemoryPressures');
      }
    } else if (this.underPressure && this.allocated < this.low) {
      this.underPressure = false;
    }
  }

  /** At the hard limit: no new data beyond each socket's minimum, no new connections. */
  get overLimit(): boolean {
    return this.allocated >= this.high;
  }

  /** Buffers may grow only while the total is below `low` and not in pressure (Linux tcp_should_expand_sndbuf). */
  get mayGrow(): boolean {
    return !this.underPressure && this.allocated < this.low;
  }
}

/**
 * Linux tcp_sndbuf_expand: when the application wants to queue more than fits,
 * give the send buffer room for two congestion windows (one in flight, one
 * waiting), unless the window is already full (more buffer would not be sent)
 * or memory is tight.
 */
export function expandSendBuffer(c: TcpConnection): void {
  const memory = c.layer.memory;
  // "The window is full": Linux (tcp_should_expand_sndbuf) compares packets in flight (pipe) with cwnd. BBR needs
  // that: it keeps its window through recovery, where the flight (SACKed data above the holes included) runs to
  // twice the pipe, and a buffer held at 2 * cwnd by the flight would leave it application-limited. CUBIC and
  // NewReno keep comparing the whole flight, as they were measured.
  const inFlight = c.cc.rate ? pipeSize(c) : c.flight;
  if (!memory.mayGrow || c.sndBuf >= c.config.sendBufferMax || inFlight >= c.cc.cwnd) return;
  const want = Math.min(c.config.sendBufferMax, Math.floor(2 * c.cc.cwnd));
  if (want > c.sndBuf) c.sndBuf = want;
}

/** Send-buffer bytes the application may add now: the socket's space, and at the memory limit no more than its minimum. */
export function sendSpace(c: TcpConnection): number {
  const held = c.sendBuffer.length;
  const cap = c.layer.memory.overLimit ? Math.min(c.sndBuf, c.config.sendBufferMin) : c.sndBuf;
  return Math.max(0, cap - held);
}

/**
 * Charges the bytes delivered but not read (they sit in the socket's stream)
 * and, once per round trip, grows the receive buffer to twice what the
 * application consumed in that round trip (Linux tcp_rcv_space_adjust). A
 * slow reader consumes little, so its buffer stays small; a fast one doubles
 * its window every RTT, as slow start needs.
 */
export function receiveSpaceAdjust(c: TcpConnection): void {
  const unread = c.user?.unreadBytes() ?? 0;
  const memory = c.layer.memory;
  memory.charge(unread - c.rcvCharged);
  c.rcvCharged = unread;
  const consumed = c.bytesReceived - unread;
  const now = c.now();
  // The receiver's round trip (receiveRttMeasure), else the sender-side estimate, at least 1 ms. Measuring over a
  // period shorter than the real RTT would see less than a window per period and never grow.
  const rtt = Math.max(1, c.rcvRtt > 0 ? c.rcvRtt : (c.rtt.srtt ?? 1));
  if (now - c.rcvqTime < rtt) return;
  const copied = consumed - c.rcvqConsumed;
  if (copied > c.rcvqSpace) {
    const want = Math.min(c.config.receiveBufferMax, 2 * copied);
    if (want > c.rcvBuf && memory.mayGrow) c.setReceiveBuffer(want);
    c.rcvqSpace = copied;
  }
  c.rcvqConsumed = consumed;
  c.rcvqTime = now;
}

/**
 * The round trip as the receiver sees it (Linux tcp_rcv_rtt_measure_ts): an
 * in-order data segment echoes the TSval of our ACK that released it (RFC
 * 7323 §4.3), so now minus TSecr is one RTT. Smoothed with gain 1/8. A pure
 * receiver has no other RTT sample: it acknowledges data but sends none.
 */
export function receiveRttMeasure(c: TcpConnection, tsEcr: number): void {
  if (!c.tsOk || tsEcr === 0) return;
  const sample = (c.tsNow() - tsEcr) | 0;
  if (sample < 0 || sample > 60_000) return;
  c.rcvRtt = c.rcvRtt === 0 ? Math.max(sample, 1) : c.rcvRtt + (Math.max(sample, 1) - c.rcvRtt) / 8;
}

/** Returns everything a closing connection still has charged for unread data. */
export function releaseReceiveCharge(c: TcpConnection): void {
  c.layer.memory.charge(-c.rcvCharged);
  c.rcvCharged = 0;
}

export type ReceiveAdmission = 'accept' | 'refuse';

/**
 * May `length` new bytes enter this connection's receive side? Under pressure
 * the out-of-order queue is pruned first (Linux tcp_prune_ofo_queue); at the
 * hard limit data is refused unless the socket holds nothing unread, so every
 * connection can still make progress (Linux sk_forced_mem_schedule when the
 * receive queue is empty).
 */
export function admitReceive(c: TcpConnection, inOrder: boolean): ReceiveAdmission {
  const memory = c.layer.memory;
  if (memory.underPressure && !c.ofo.isEmpty) pruneOutOfOrder(c, c.rcvBuf >> 3);
  if (!memory.overLimit) return 'accept';
  if (inOrder && (c.user?.unreadBytes() ?? 0) === 0) return 'accept';
  return 'refuse';
}

/**
 * Drops out-of-order data from the right (the bytes furthest from RCV.NXT,
 * the last the application would get) until at most `goal` bytes remain.
 * Those bytes may have been SACKed: this is reneging, which RFC 2018 §8
 * allows because the sender keeps SACKed data until it is cumulatively
 * acknowledged. We do it only under memory pressure (the last resort); when a
 * single connection's queue is full, the arriving segment is dropped instead.
 */
export function pruneOutOfOrder(c: TcpConnection, goal: number): void {
  if (c.ofo.bytes <= goal) return;
  const dropped = c.ofo.pruneFromRight(goal);
  if (dropped > 0) c.layer.ctx.trace.dropped('TcpExtOfoPruned', 'memory pressure: out-of-order queue pruned', () => `${dropped} segments, ${c.ofo.bytes} bytes left`);
}
