/**
 * One TCP data stream of an iperf3 test, on tapnet's own TCP.
 *
 * Read first: iperf_tcp.c (iperf_tcp_accept: a data connection opens with the
 * test's 37-byte cookie; iperf_tcp_send / iperf_tcp_recv: blocks of "len"
 * bytes, counted only while the test is TEST_RUNNING) and iperf_api.c
 * iperf_send (the sender stops at "num" bytes or "blockcount" blocks, and
 * holds back while it is ahead of "bandwidth", checked every pacing_timer µs).
 *
 * The sender counts a block once it is in the connection's send buffer (the
 * write callback), which is what iperf3 counts after write(2) returns. While a
 * test runs the stream samples the connection (cwnd, srtt) so the results can
 * carry what `ss -ti` would show: max_snd_cwnd, min/mean/max rtt,
 * retransmits, SACK blocks the peer sent.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import type { TcpConnectionInfo } from '../../l4/tcp/connection.js';
import type { Socket } from '../../l4/tcp/socket.js';

/** What a stream reports of its connection (Linux tcp_info names where they exist). */
export interface TcpStreamInfo {
  readonly snd_cwnd: number;
  readonly max_snd_cwnd: number;
  readonly rtt_us: number;
  readonly min_rtt_us: number;
  readonly max_rtt_us: number;
  readonly mean_rtt_us: number;
  readonly rttvar_us: number;
  readonly rto_ms: number;
  readonly retransmits: number;
  readonly sack_blocks_received: number;
  readonly mss: number;
  readonly state: string;
}

export interface StreamOwner {
  readonly ctx: StackContext;
  /** May this stream send another block now? (the test's -n / -k budget). */
  maySend(stream: TcpTestStream, block: number): boolean;
  /** Bytes moved: the test notes activity (and the stream's counters). */
  moved(stream: TcpTestStream, bytes: number, sent: boolean): void;
}

export class TcpTestStream {
  readonly protocol = 'tcp';
  bytes = 0;
  running = false;
  startedAt = 0;
  endedAt = 0;
  private queued = 0;
  private retransmitsBase = 0;
  private waitingForDrain = false;
  private pacing: Timer | undefined;
  private samples = 0;
  private rttSum = 0;
  private minRtt = Infinity;
  private maxRtt = 0;
  private maxCwnd = 0;
  /** The connection as last sampled: the figures survive the connection's close at TEST_END. */
  private last: { info: TcpConnectionInfo; sackBlocks: number } | undefined;

  constructor(
    readonly id: number,
    readonly sender: boolean,
    readonly socket: Socket,
    private readonly owner: StreamOwner,
    private readonly block: Uint8Array,
    private readonly bitsPerSecond: number,
    private readonly pacingMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (!this.running) return;
      this.bytes += chunk.length;
      owner.moved(this, chunk.length, false);
    });
    // Refill on the next turn of the event loop, not inside 'drain': a sender that always finds room would
    // otherwise chain writes without ever letting the TAP be read (ACKs, and the client's TEST_END).
    socket.on('drain', () => {
      this.waitingForDrain = false;
      setImmediate(() => this.pump());
    });
  }

  start(now: number): void {
    this.running = true;
    this.startedAt = now;
    if (this.sender) this.pump();
  }

  /** TEST_END (or an abort): stop counting, close like close(2) (queued data still goes, unread data means a reset). */
  stop(now: number): void {
    if (this.running) this.endedAt = now;
    this.running = false;
    this.pacing?.cancel();
    this.sample();
    this.socket.destroy();
  }

  /** Writes blocks until the socket pushes back, the budget is spent, or -b says wait. */
  private pump(): void {
    while (this.running && !this.waitingForDrain) {
      if (!this.owner.maySend(this, this.block.length)) return;
      if (this.bitsPerSecond > 0 && !this.greenLight()) {
        this.pacing ??= this.owner.ctx.timers.timer(() => this.pump());
        this.pacing.armIn(this.pacingMs);
        return;
      }
      this.queued += this.block.length;
      const ok = this.socket.write(this.block, (error) => {
        if (error) return;
        this.bytes += this.block.length;
        this.owner.moved(this, this.block.length, true);
      });
      if (!ok) this.waitingForDrain = true;
    }
  }

  /** iperf_check_throttle: send only while the average rate so far is below the target. */
  private greenLight(): boolean {
    const seconds = (this.owner.ctx.clock.now() - this.startedAt) / 1000;
    return seconds <= 0 ? this.queued === 0 : (this.queued * 8) / seconds < this.bitsPerSecond;
  }

  /** Notes cwnd and srtt for the max/min/mean figures (the test calls this every interval). */
  sample(): void {
    const c = this.socket.connection;
    if (!c) return;
    const info = c.info();
    this.maxCwnd = Math.max(this.maxCwnd, info.cwnd);
    if (info.srtt !== undefined) {
      this.samples++;
      this.rttSum += info.srtt;
      this.minRtt = Math.min(this.minRtt, info.srtt);
      this.maxRtt = Math.max(this.maxRtt, info.srtt);
    }
    this.last = { info, sackBlocks: info.sackBlocksReceived };
  }

  /** Retransmitted segments since the start (or the end of -O omit), from Linux-style tcpi_total_retrans. */
  get retransmits(): number {
    return ((this.socket.connection?.info() ?? this.last?.info)?.retransmits ?? 0) - this.retransmitsBase;
  }

  /** -O: the first seconds do not count (iperf_reset_stats): bytes, the start time and retransmits start again. */
  omitEnded(now: number): void {
    this.bytes = 0;
    this.queued = 0;
    this.startedAt = now;
    this.retransmitsBase += this.retransmits;
  }

  tcpInfo(): TcpStreamInfo | undefined {
    if (this.running) this.sample();
    const i = this.last?.info;
    if (!i) return undefined;
    const us = (ms: number | undefined): number => Math.round((ms ?? 0) * 1000);
    return {
      snd_cwnd: i.cwnd,
      max_snd_cwnd: this.maxCwnd,
      rtt_us: us(i.srtt),
      min_rtt_us: this.samples > 0 ? us(this.minRtt) : 0,
      max_rtt_us: us(this.maxRtt),
      mean_rtt_us: this.samples > 0 ? us(this.rttSum / this.samples) : 0,
      rttvar_us: us(i.rttvar),
      rto_ms: Math.round(i.rto),
      retransmits: i.retransmits,
      sack_blocks_received: this.last!.sackBlocks,
      mss: i.mss,
      state: i.state,
    };
  }
}
