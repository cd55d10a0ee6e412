/**
 * An iperf3-compatible server on tapnet's own TCP and UDP: `iperf3 -c
 * 10.77.0.1` (and -R, -P, -u -b, --bidir, over IPv4 and IPv6) talks to it as
 * to `iperf3 -s`.
 *
 * Read first: protocol.ts (the exchange), then control.ts (one test), then
 * tcp-stream.ts and udp-stream.ts.
 *
 * Every TCP connection to the port opens with a 37-byte cookie, so the
 * server reads that before it knows what the connection is:
 *
 *   no test running               → a control connection: a new test
 *   the test is making streams,
 *     and the cookie is its own   → one of its TCP data streams
 *   anything else                 → ACCESS_DENIED (-1), closed: the client prints
 *                                   "the server is busy running a test"
 *
 * As in iperf3, one test runs at a time; a connection busy with a test is
 * answered at once, without waiting for its cookie (iperf_accept). UDP
 * streams knock with a 4-byte datagram on the same port number
 * (udpConnectReply); each client socket (address and port) is one stream.
 */
import type { StackContext } from '../../core/context.js';
import type { Server as TcpServer, Socket } from '../../l4/tcp/socket.js';
import type { UdpRemoteInfo, UdpSocket } from '../../l4/udp/udp.js';
import type { Host } from '../../node/host.js';
import { IPERF3_HANDSHAKE_TIMEOUT_MS, Iperf3Test, type TestOwner } from './control.js';
import { IPERF3_COOKIE_SIZE, IPERF3_PORT, IperfState, encodeState, parseCookie, udpConnectReply } from './protocol.js';

/** What the server says it is (iperf3 puts its version in the results; the client prints none of it). */
export const IPERF3_SERVER_VERSION = 'tapnet iperf3-compatible server (protocol of iperf 3.x)';

export interface Iperf3Options {
  readonly port?: number;
}

export class Iperf3Server implements TestOwner {
  readonly ctx: StackContext;
  readonly version = IPERF3_SERVER_VERSION;
  readonly port: number;
  test: Iperf3Test | undefined;
  /** The last finished test, for `tapnet show iperf3`. */
  last: Iperf3Test | undefined;
  private readonly tcp: TcpServer;
  private readonly udp: UdpSocket[];

  constructor(host: Host, options: Iperf3Options = {}) {
    this.ctx = host.ctx;
    this.port = options.port ?? IPERF3_PORT;
    this.ctx.stats.declare('iperf3Tests', 'iperf3TestsCompleted', 'iperf3TestsAborted', 'iperf3AccessDenied');
    // noDelay: state bytes go out at once (iperf_accept sets TCP_NODELAY on the control socket).
    this.tcp = host.tcp.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.tcp.listen(this.port);
    this.udp = (['udp4', 'udp6'] as const).map((type) => {
      const socket = host.udp.createSocket(type);
      socket.on('message', (msg, rinfo) => this.receiveDatagram(socket, msg, rinfo));
      socket.bind(this.port);
      return socket;
    });
  }

  close(): void {
    this.test?.abort('tapnet is stopping', undefined);
    this.tcp.close();
    for (const s of this.udp) s.close();
  }

  finished(test: Iperf3Test): void {
    if (this.test === test) this.test = undefined;
    this.last = test;
  }

  private accept(socket: Socket): void {
    const remote = socket.remoteFamily === 'IPv6' ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.ctx.trace.log;
    socket.on('error', () => socket.destroy());
    if (this.test && this.test.phase !== 'createStreams') return this.deny(socket, remote, 'iperf3AccessDenied');
    // Wait for the cookie: 37 bytes, within the handshake time.
    let buffered = Buffer.alloc(0);
    const timer = this.ctx.timers.after(IPERF3_HANDSHAKE_TIMEOUT_MS, () => {
      this.ctx.stats.inc('iperf3Timeouts');
      log.warn(`iperf3: ${remote} sent no cookie within ${IPERF3_HANDSHAKE_TIMEOUT_MS / 1000} s; closed`);
      socket.destroy();
    });
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < IPERF3_COOKIE_SIZE) return;
      timer.cancel();
      socket.off('data', onData);
      socket.pause();
      const cookie = parseCookie(buffered.subarray(0, IPERF3_COOKIE_SIZE));
      const rest = buffered.subarray(IPERF3_COOKIE_SIZE);
      if (cookie === undefined) {
        this.ctx.stats.inc('iperf3InBadCookie');
        log.warn(`iperf3: ${remote} opened with ${JSON.stringify(buffered.subarray(0, 16).toString('latin1'))}..., not an iperf3 cookie; closed`);
        socket.destroy();
        return;
      }
      this.connectionWithCookie(socket, remote, cookie, rest);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('close', () => timer.cancel());
  }

  private connectionWithCookie(socket: Socket, remote: string, cookie: string, rest: Uint8Array): void {
    const test = this.test;
    if (!test) {
      this.test = new Iperf3Test(this, socket, cookie, remote);
      this.test.begin(rest);
      return;
    }
    if (cookie === test.cookie && test.wantsStream('tcp')) return test.addTcpStream(socket, rest);
    this.deny(socket, remote, cookie === test.cookie ? 'iperf3InStrayStreams' : 'iperf3AccessDenied');
  }

  /** ACCESS_DENIED and close (iperf_accept / iperf_tcp_accept). */
  private deny(socket: Socket, remote: string, counter: 'iperf3AccessDenied' | 'iperf3InStrayStreams'): void {
    this.ctx.stats.inc(counter);
    this.ctx.trace.log.warn(`iperf3: ${remote} refused: ${counter === 'iperf3AccessDenied' ? 'busy running a test' : 'a stream the test did not ask for'} (ACCESS_DENIED)`);
    socket.end(encodeState(IperfState.ACCESS_DENIED));
  }

  private receiveDatagram(socket: UdpSocket, msg: Buffer, rinfo: UdpRemoteInfo): void {
    const peer = `${rinfo.address}|${rinfo.port}`;
    const test = this.test;
    const stream = test?.udpStream(peer);
    if (stream) {
      this.ctx.stats.inc('iperf3UdpInDatagrams');
      if (!stream.receive(msg)) this.ctx.stats.inc('iperf3UdpInShort');
      return;
    }
    const reply = udpConnectReply(msg);
    if (!test || !reply || !test.wantsStream('udp')) {
      this.ctx.stats.inc('iperf3InStrayStreams');
      this.ctx.trace.log.debug(`iperf3: datagram from ${rinfo.address}:${rinfo.port} belongs to no test; dropped`);
      return;
    }
    const send = (datagram: Uint8Array): void => {
      try {
        socket.send(datagram, rinfo.port, rinfo.address);
        this.ctx.stats.inc('iperf3UdpOutDatagrams');
      } catch {
        // Counted by UDP (UdpSndbufErrors, no route); a paced sender just carries on, as iperf3 does on ENOBUFS.
      }
    };
    // Answer before adding: the stream that completes the set starts the test, and the client wants the reply first.
    send(reply);
    test.addUdpStream(peer, send);
  }

  /** `tapnet show iperf3`: the running (or last) test, its streams as tapnet counts them, and its results. */
  status(): Record<string, unknown> {
    const describe = (t: Iperf3Test): Record<string, unknown> => ({
      remote: t.remote,
      phase: t.phase,
      outcome: t.outcome,
      parameters: t.params,
      streams: t.summaries().map((s, i) => {
        const stream = t.streams[i]!;
        const info = stream.protocol === 'tcp' ? stream.socket.connection?.info() : undefined;
        return { ...s, ...(info ? { connection: { local: info.local, remote: info.remote, bytesSent: info.bytesSent, bytesReceived: info.bytesReceived } } : {}) };
      }),
      serverResults: t.serverResults,
      clientResults: t.clientResults,
    });
    return { port: this.port, busy: this.test !== undefined, test: this.test ? describe(this.test) : undefined, last: this.last ? describe(this.last) : undefined };
  }

  show(): string {
    return formatIperf3Status(this.status());
  }
}

/** `tapnet show iperf3` as text: the test (running or last), one line per stream, the figures tapnet counted. */
export function formatIperf3Status(status: Record<string, unknown>): string {
  type Stream = { id: number; protocol: string; sender: boolean; bytes: number; seconds: number; retransmits: number; jitter: number; errors: number; packets: number; tcpInfo?: { snd_cwnd: number; rtt_us: number; rto_ms: number; sack_blocks_received: number } };
  type Test = { remote: string; phase: string; outcome?: string; parameters?: { protocol: string; direction: string; streams: number }; streams: Stream[] };
  let out = `iperf3 server on port ${status.port}: ${status.busy ? 'busy' : 'idle'}\n`;
  for (const [title, t] of [['running', status.test], ['last', status.last]] as const) {
    const test = t as Test | undefined;
    if (!test) continue;
    const p = test.parameters;
    out += `${title} test from ${test.remote}: ${p ? `${p.protocol}, ${p.streams} stream(s), ${p.direction}` : 'no parameters yet'}; ${test.outcome ?? test.phase}\n`;
    for (const s of test.streams) {
      const rate = s.seconds > 0 ? ((s.bytes * 8) / s.seconds / 1e6).toFixed(1) : '-';
      const extra = s.protocol === 'udp'
        ? `jitter ${(s.jitter * 1000).toFixed(3)} ms lost ${s.errors}/${s.packets}`
        : s.tcpInfo ? `cwnd ${s.tcpInfo.snd_cwnd} rtt ${(s.tcpInfo.rtt_us / 1000).toFixed(2)} ms rto ${s.tcpInfo.rto_ms} retrans ${s.retransmits} sack ${s.tcpInfo.sack_blocks_received}` : '';
      out += `  [${s.id}] ${s.protocol} ${s.sender ? 'send' : 'recv'} ${s.bytes} bytes ${s.seconds.toFixed(2)} s ${rate} Mbit/s ${extra}\n`;
    }
  }
  return out;
}

export function startIperf3Server(host: Host, options: Iperf3Options = {}): Iperf3Server {
  return new Iperf3Server(host, options);
}
