/**
 * One iperf3 test, seen from the server: the control connection's state
 * machine (protocol.ts draws the exchange), and the streams it owns.
 *
 * Read first: iperf_server_api.c (iperf_run_server, iperf_handle_message_server)
 * and iperf_api.c (iperf_exchange_parameters, iperf_exchange_results).
 *
 *   parameters ──JSON──▶ createStreams ──all streams──▶ running ──TEST_END──▶ results ──JSON──▶ display ──IPERF_DONE──▶ done
 *        └──────────── garbage, timeout, CLIENT_TERMINATE, close: aborted (a counter and a log line) ─────────────┘
 *
 * Streams the server receives on come first, then those it sends on
 * (iperf_run_server: rec_streams_accepted before send_streams_accepted), in
 * the order they arrive; the client makes them in the same order, so the ids
 * (results.ts streamId) agree on both sides.
 *
 * A client cannot hold the server: each phase where the client must speak has
 * a deadline (IPERF3_HANDSHAKE_TIMEOUT_MS); a running test ends when nothing
 * moves for IPERF3_NO_DATA_TIMEOUT_MS, or at -t plus iperf3's own 40 s grace.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import type { Socket } from '../../l4/tcp/socket.js';
import type { CounterName } from '../../core/stats.js';
import { ControlReader, IperfError, IperfState, encodeJsonBlock, encodeServerError, encodeState, stateName, type ControlRead } from './protocol.js';
import { parseParameters, type TestParameters } from './params.js';
import { checkClientResults, cpuUtilization, serverOutputJson, serverResults, streamId, type StreamSummary } from './results.js';
import { TcpTestStream } from './tcp-stream.js';
import { UdpTestStream, type UdpSend } from './udp-stream.js';

/** A client must send its cookie, parameters, streams and results within this (tapnet's choice; iperf3 waits forever). */
export const IPERF3_HANDSHAKE_TIMEOUT_MS = 10_000;
/** iperf_api.h DEFAULT_NO_MSG_RCVD_TIMEOUT: a running test where nothing moves for this long is over. */
export const IPERF3_NO_DATA_TIMEOUT_MS = 120_000;
/** iperf_server_api.c create_server_timers: a -t test may run 4 s × 10 state transitions past its time. */
export const IPERF3_GRACE_MS = 40_000;
/** How often a running test samples its TCP streams (cwnd, srtt) for the results. */
export const IPERF3_SAMPLE_INTERVAL_MS = 1_000;

export type TestPhase = 'parameters' | 'createStreams' | 'running' | 'results' | 'display' | 'done';
export type TestStream = TcpTestStream | UdpTestStream;

/** What a test needs from the server that made it. */
export interface TestOwner {
  readonly ctx: StackContext;
  readonly version: string;
  /** The test is over (completed or aborted): the server is free again. */
  finished(test: Iperf3Test, completed: boolean): void;
}

export class Iperf3Test {
  phase: TestPhase = 'parameters';
  params: TestParameters | undefined;
  readonly streams: TestStream[] = [];
  /** The client's results block and ours, kept for `tapnet show iperf3`. */
  clientResults: Record<string, unknown> | undefined;
  serverResults: Record<string, unknown> | undefined;
  outcome: string | undefined;
  private readonly reader = new ControlReader();
  private readonly watchdog: Timer;
  private sampler: Timer | undefined;
  private deadline: Timer | undefined;
  private omitTimer: Timer | undefined;
  private lastActivity = 0;
  private queuedToSend = 0;
  private startedAt = 0;
  private endedAt = 0;
  private cpuStart: NodeJS.CpuUsage | undefined;
  private cpuEnd: NodeJS.CpuUsage | undefined;
  private block: Uint8Array | undefined;

  constructor(
    private readonly owner: TestOwner,
    readonly control: Socket,
    readonly cookie: string,
    readonly remote: string,
  ) {
    this.watchdog = owner.ctx.timers.timer(() => this.onWatchdog());
    control.on('data', (chunk: Buffer) => this.receiveControl(chunk));
    control.on('end', () => this.abort('the client closed the control connection', undefined));
    control.on('close', () => this.abort('the control connection closed', undefined));
    control.on('error', (e: Error) => this.abort(`control connection: ${e.message}`, undefined));
  }

  /**
   * Asks for the parameters and reads what came with the cookie. Separate from the constructor so the server
   * holds the test before any of it runs: a client whose first bytes already end the test frees the server.
   */
  begin(leftover: Uint8Array): void {
    this.send(encodeState(IperfState.PARAM_EXCHANGE));
    this.watchdog.armIn(IPERF3_HANDSHAKE_TIMEOUT_MS);
    if (leftover.length > 0) this.receiveControl(leftover);
  }

  private get ctx(): StackContext {
    return this.owner.ctx;
  }

  private count(name: CounterName, by = 1): void {
    this.ctx.stats.inc(name, by);
  }

  private send(bytes: Uint8Array): void {
    if (!this.control.destroyed && this.control.writable) this.control.write(bytes);
  }

  /** How many streams the test has: "parallel" of them, twice that with --bidir (the server receives on the first half). */
  private get streamsWanted(): number {
    if (!this.params) return 0;
    return this.params.direction === 'bidirectional' ? 2 * this.params.streams : this.params.streams;
  }

  wantsStream(protocol: 'tcp' | 'udp'): boolean {
    return this.phase === 'createStreams' && this.params?.protocol === protocol && this.streams.length < this.streamsWanted;
  }

  private nextStreamSends(): boolean {
    const p = this.params!;
    if (p.direction === 'clientSends') return false;
    if (p.direction === 'serverSends') return true;
    return this.streams.length >= p.streams;
  }

  private maySend(bytes: number): boolean {
    const p = this.params!;
    const budget = p.bytes > 0 ? p.bytes : p.blocks > 0 ? p.blocks * p.blockSize : Infinity;
    if (this.queuedToSend >= budget) return false;
    this.queuedToSend += bytes;
    return true;
  }

  private moved(bytes: number, sent: boolean): void {
    this.lastActivity = this.ctx.clock.now();
    this.count(sent ? 'iperf3BytesSent' : 'iperf3BytesReceived', bytes);
  }

  /** A data connection that opened with this test's cookie (server.ts checked it and wantsStream). */
  addTcpStream(socket: Socket, leftover: Uint8Array): void {
    const p = this.params!;
    this.block ??= new Uint8Array(p.blockSize).map((_, i) => (i * 7 + 3) & 0xff);
    const owner = { ctx: this.ctx, maySend: (_: TcpTestStream, n: number) => this.maySend(n), moved: (_: TcpTestStream, n: number, sent: boolean) => this.moved(n, sent) };
    const stream = new TcpTestStream(streamId(this.streams.length), this.nextStreamSends(), socket, owner, this.block, p.bitsPerSecond, Math.max(1, p.pacingTimerUs / 1000));
    // -w: iperf3 sets SO_RCVBUF/SO_SNDBUF; tapnet sizes the receive buffer (the window the client sees).
    if (p.window > 0 && !stream.sender) socket.connection?.setReceiveBuffer(p.window);
    // Nagle back on for data (iperf3 sets TCP_NODELAY on data streams only with -N): with it off, every few KB an
    // ACK freed went out as a small segment of its own, and the ACK flood back overran the TAP.
    if (!p.noDelay) socket.setNoDelay(false);
    socket.on('error', () => socket.destroy());
    if (leftover.length > 0) socket.unshift(Buffer.from(leftover));
    this.streams.push(stream);
    this.count('iperf3TcpStreams');
    this.streamAdded();
  }

  /** A UDP "connect" from `peer` (server.ts answered it): a new stream that sends through `send`. */
  addUdpStream(peer: string, send: UdpSend): UdpTestStream {
    const p = this.params!;
    const stream = new UdpTestStream(streamId(this.streams.length), this.nextStreamSends(), peer, this.ctx, send, {
      blockSize: p.blockSize,
      bitsPerSecond: p.bitsPerSecond,
      pacingMs: Math.max(1, p.pacingTimerUs / 1000),
      counters64bit: p.udpCounters64bit,
      maySend: (n) => this.maySend(n),
      moved: (n, sent) => this.moved(n, sent),
    });
    this.streams.push(stream);
    this.count('iperf3UdpStreams');
    this.streamAdded();
    return stream;
  }

  udpStream(peer: string): UdpTestStream | undefined {
    return this.streams.find((s): s is UdpTestStream => s.protocol === 'udp' && s.peer === peer);
  }

  private streamAdded(): void {
    if (this.streams.length < this.streamsWanted) return;
    // All streams are there: TEST_START then TEST_RUNNING, and the data flows.
    this.send(encodeState(IperfState.TEST_START));
    this.send(encodeState(IperfState.TEST_RUNNING));
    this.phase = 'running';
    const now = this.ctx.clock.now();
    this.startedAt = this.lastActivity = now;
    this.cpuStart = process.cpuUsage();
    for (const s of this.streams) s.start(now);
    this.watchdog.armIn(IPERF3_NO_DATA_TIMEOUT_MS);
    this.sampler = this.ctx.timers.timer(() => this.sample());
    this.sampler.armIn(IPERF3_SAMPLE_INTERVAL_MS);
    const p = this.params!;
    if (p.omitSeconds > 0) {
      this.omitTimer = this.ctx.timers.after(p.omitSeconds * 1000, () => {
        const at = this.ctx.clock.now();
        this.queuedToSend = 0;
        this.startedAt = at;
        for (const s of this.streams) s.omitEnded(at);
      });
    }
    if (p.durationSeconds > 0) {
      this.deadline = this.ctx.timers.after((p.durationSeconds + p.omitSeconds) * 1000 + IPERF3_GRACE_MS, () =>
        this.abort(`the test ran ${p.durationSeconds} s plus ${IPERF3_GRACE_MS / 1000} s grace without TEST_END`, 'iperf3Timeouts'),
      );
    }
  }

  private sample(): void {
    for (const s of this.streams) if (s.protocol === 'tcp') s.sample();
    if (this.phase === 'running') this.sampler!.armIn(IPERF3_SAMPLE_INTERVAL_MS);
  }

  private receiveControl(chunk: Uint8Array): void {
    if (this.phase === 'done') return;
    this.reader.push(chunk);
    // One message per step, as long as the phase has a complete one buffered.
    while (this.step() && this.reader.buffered > 0);
  }

  /** Takes one message for the current phase; false when more bytes are needed (or the test ended). */
  private step(): boolean {
    if (this.phase === 'parameters') return this.onParameters(this.reader.json());
    if (this.phase === 'results') return this.onClientResults(this.reader.json());
    const state = this.reader.state();
    if (!state?.ok) return false;
    switch (state.value) {
      case IperfState.TEST_END:
        if (this.phase !== 'running') return this.protocolError(`TEST_END while ${this.phase}`);
        this.endTest();
        return true;
      case IperfState.IPERF_DONE:
        if (this.phase !== 'display') return this.protocolError(`IPERF_DONE while ${this.phase}`);
        this.finish(true, 'completed');
        return false;
      case IperfState.CLIENT_TERMINATE:
        this.abort('the client has terminated (CLIENT_TERMINATE)', undefined);
        return false;
      default:
        return this.protocolError(`state ${stateName(state.value)} from a client while ${this.phase}`);
    }
  }

  private onParameters(read: ControlRead<Record<string, unknown>>): boolean {
    if (read === undefined) return false;
    if (!read.ok) return this.refuse(read.detail, read.error === 'jsonTooLong' ? 'iperf3InJsonTooLong' : 'iperf3InBadJson', IperfError.IERECVPARAMS);
    const params = parseParameters(read.value);
    if (!params.ok) return this.refuse(`parameters: ${params.error}`, 'iperf3InBadJson', read.value.sctp !== undefined ? IperfError.IEPROTOCOL : IperfError.IERECVPARAMS);
    this.params = params.value;
    const p = params.value;
    this.ctx.trace.log.info(
      `iperf3: test from ${this.remote}: ${p.protocol}, ${p.streams} stream${p.streams > 1 ? 's' : ''}, ${p.direction}, ` +
        (p.bytes > 0 ? `${p.bytes} bytes` : p.blocks > 0 ? `${p.blocks} blocks` : `${p.durationSeconds} s`) +
        (p.bitsPerSecond > 0 ? `, ${p.bitsPerSecond} bit/s` : '') +
        ` (client ${p.clientVersion})`,
    );
    this.count('iperf3Tests');
    this.phase = 'createStreams';
    this.send(encodeState(IperfState.CREATE_STREAMS));
    this.watchdog.armIn(IPERF3_HANDSHAKE_TIMEOUT_MS);
    return true;
  }

  private endTest(): void {
    this.endedAt = this.ctx.clock.now();
    this.cpuEnd = process.cpuUsage();
    this.sampler?.cancel();
    this.deadline?.cancel();
    this.omitTimer?.cancel();
    for (const s of this.streams) s.stop(this.endedAt);
    this.phase = 'results';
    this.send(encodeState(IperfState.EXCHANGE_RESULTS));
    this.watchdog.armIn(IPERF3_HANDSHAKE_TIMEOUT_MS);
  }

  private onClientResults(read: ControlRead<Record<string, unknown>>): boolean {
    if (read === undefined) return false;
    if (!read.ok) return this.refuse(read.detail, read.error === 'jsonTooLong' ? 'iperf3InJsonTooLong' : 'iperf3InBadJson', IperfError.IERECVRESULTS);
    const problem = checkClientResults(read.value);
    if (problem) return this.refuse(`client results: ${problem}`, 'iperf3InBadJson', IperfError.IERECVRESULTS);
    this.clientResults = read.value;
    const p = this.params!;
    const summaries = this.summaries();
    const cpu = cpuUtilization(this.cpuStart!, this.cpuEnd!, this.endedAt - this.startedAt);
    const congestion = this.congestionUsed();
    const output = p.getServerOutput ? serverOutputJson(p, summaries, cpu, { version: this.owner.version, cookie: this.cookie, remote: this.remote }) : undefined;
    this.serverResults = serverResults(p, summaries, cpu, congestion, output);
    this.send(encodeJsonBlock(this.serverResults));
    this.send(encodeState(IperfState.DISPLAY_RESULTS));
    this.phase = 'display';
    this.watchdog.armIn(IPERF3_HANDSHAKE_TIMEOUT_MS);
    return true;
  }

  private congestionUsed(): string | undefined {
    for (const s of this.streams) if (s.protocol === 'tcp' && s.socket.connection) return s.socket.connection.info().congestionControl;
    return this.params?.protocol === 'tcp' ? 'unknown' : undefined;
  }

  summaries(): StreamSummary[] {
    const now = this.ctx.clock.now();
    return this.streams.map((s) => ({
      id: s.id,
      protocol: s.protocol,
      sender: s.sender,
      bytes: s.bytes,
      seconds: ((s.running ? now : s.endedAt) - s.startedAt) / 1000,
      retransmits: s.protocol === 'tcp' ? s.retransmits : 0,
      jitter: s.protocol === 'udp' ? s.account.jitter : 0,
      errors: s.protocol === 'udp' ? s.account.errors : 0,
      packets: s.protocol === 'udp' ? s.packets : 0,
      outOfOrder: s.protocol === 'udp' ? s.account.outOfOrder : 0,
      tcpInfo: s.protocol === 'tcp' ? s.tcpInfo() : undefined,
    }));
  }

  private onWatchdog(): void {
    if (this.phase === 'running') {
      const idle = this.ctx.clock.now() - this.lastActivity;
      if (idle < IPERF3_NO_DATA_TIMEOUT_MS) {
        this.watchdog.armIn(IPERF3_NO_DATA_TIMEOUT_MS - idle);
        return;
      }
      this.abort(`nothing moved for ${IPERF3_NO_DATA_TIMEOUT_MS / 1000} s`, 'iperf3Timeouts');
      return;
    }
    // A client that got DISPLAY_RESULTS has its results; a missing IPERF_DONE is no failure.
    if (this.phase === 'display') return this.finish(true, 'completed (no IPERF_DONE)');
    this.abort(`the client sent nothing for ${IPERF3_HANDSHAKE_TIMEOUT_MS / 1000} s while ${this.phase}`, 'iperf3Timeouts');
  }

  private protocolError(detail: string): boolean {
    return this.refuse(detail, 'iperf3InBadState', IperfError.IEMESSAGE);
  }

  /** Tells the client why (SERVER_ERROR and iperf3's error number, which it prints), then gives up the test. */
  private refuse(detail: string, counter: CounterName, iperfErrno: number): boolean {
    this.send(encodeServerError(iperfErrno));
    this.abort(detail, counter);
    return false;
  }

  abort(reason: string, counter: CounterName | undefined): void {
    if (this.phase === 'done') return;
    if (counter) this.count(counter);
    this.count('iperf3TestsAborted');
    this.ctx.trace.log.warn(`iperf3: test from ${this.remote} aborted: ${reason}`);
    this.finish(false, `aborted: ${reason}`);
  }

  private finish(completed: boolean, outcome: string): void {
    if (this.phase === 'done') return;
    if (this.phase === 'running' || this.phase === 'createStreams') {
      this.endedAt = this.ctx.clock.now();
      for (const s of this.streams) s.stop(this.endedAt);
    }
    for (const s of this.streams) if (s.protocol === 'tcp') s.socket.destroy();
    this.phase = 'done';
    this.outcome = outcome;
    this.watchdog.cancel();
    this.sampler?.cancel();
    this.deadline?.cancel();
    this.omitTimer?.cancel();
    if (completed) {
      this.count('iperf3TestsCompleted');
      this.ctx.trace.log.info(`iperf3: test from ${this.remote} ${outcome}`);
    }
    this.control.end();
    this.owner.finished(this, completed);
  }
}
