/**
 * The TCP layer of a host: demultiplexes arriving segments to connections and
 * listeners, owns the shared transmit buffer, and turns "nobody here" into a
 * reset.
 *
 * Read first: RFC 9293 §3.10.7.1 (a segment for a CLOSED connection), §3.9.1
 * (the user interface), RFC 5927 (checking ICMP errors against the
 * connection before believing them) and RFC 1191 (path MTU discovery).
 *
 * Address families plug in as a `TcpNetwork` (network.ts): IPv4 comes from
 * ipv4.ts; IPv6 adds its own with the same shape.
 */
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import type { Disposition } from '../../l3/dispositions.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from './config.js';
import { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST } from '../ports.js';
import { TcpConnection, TcpError, type ConnectionUser, type TcpConnectionInfo } from './connection.js';
import { TcpFlags, TcpHeaderView } from './header.js';
import { IsnGenerator } from './isn.js';
import { releaseReceiveCharge, TcpMemory } from './memory.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { Segment } from './segment.js';
import { closedSegmentArrives, listenSegmentArrives, segmentArrives, type Listener } from './segment-arrives.js';
import { Slices } from '../../core/slices.js';
import * as send from './send.js';
import { seq, seqInRange, type SeqNum } from './seq.js';
import { TcpState } from './state.js';
import { SynCookies } from './syn-cookies.js';
import { startConnect } from './timers.js';
import { enterLossForMtu } from './recovery.js';

/** Largest segment we ever build: a 64 KiB IP datagram minus the smallest IP header. */
const TX_BUFFER_SIZE = 65_536;
/** How many of the newest connections `show({ recent })` can list: a ring, so a listing never walks them all. */
export const TCP_SHOW_RECENT_MAX = 64;

export interface ListenOptions {
  readonly port: number;
  /** Only accept connections to this local address (undefined: any of ours). */
  readonly address?: IpAddress;
  readonly synBacklog?: number;
  /** Called for each new passive connection (in SYN-RECEIVED); returns its user. */
  readonly accept: (connection: TcpConnection) => ConnectionUser;
}

export interface ConnectOptions {
  readonly net: TcpNetwork;
  readonly remote: IpAddress;
  readonly remotePort: number;
  readonly local?: IpAddress;
  readonly localPort?: number;
  readonly user: ConnectionUser;
}

export class TcpLayer {
  /** Settings for connections opened from now on (`configure` changes them). */
  config: TcpConfig;
  readonly isn: IsnGenerator;
  readonly cookies: SynCookies;
  /** The stack-wide TCP memory budget (Linux tcp_mem) every connection's buffers are charged to. */
  readonly memory: TcpMemory;
  /** The one buffer every segment is built in (nothing is kept in it across calls). */
  readonly txBuffer = new Uint8Array(TX_BUFFER_SIZE);
  /** A segment's data as slices of its send buffer, when it is not copied into `txBuffer` (send.ts `emit`). */
  readonly txPayload = new Slices();
  private readonly connections = new Map<string, TcpConnection>();
  private readonly listeners = new Map<number, Listener[]>();
  private readonly segment = new Segment();
  /** The segment an ICMP error quotes (only its first 8 bytes are sure to be there). */
  private readonly quotedView = new TcpHeaderView();
  /** One-entry lookup cache: bulk transfers hit the same connection segment after segment. */
  private last: TcpConnection | undefined;
  /** Connections that owe an ACK at the end of this turn (see `scheduleAck`). */
  private readonly ackQueue = new Set<TcpConnection>();
  private ackFlushQueued = false;
  private nextEphemeral: number;
  /** Connections per state, for `TcpCurrEstab` and `show tcp`. */
  private readonly established = new Set<TcpConnection>();
  /** How many connections are in each state (CLOSED ones are gone), kept as they change state. */
  private readonly stateCounts = new Map<TcpState, number>();
  /** The TCP_SHOW_RECENT_MAX newest connections (a ring; `recentNext` is the next slot to fill). */
  private readonly recent: (TcpConnection | undefined)[] = new Array<TcpConnection | undefined>(TCP_SHOW_RECENT_MAX);
  private recentNext = 0;

  constructor(
    readonly ctx: StackContext,
    config: Partial<TcpConfig> = {},
  ) {
    this.config = { ...DEFAULT_TCP_CONFIG, ...config };
    this.memory = new TcpMemory(this.config, ctx.stats);
    this.isn = new IsnGenerator(ctx.clock, ctx.random);
    this.cookies = new SynCookies(ctx.clock, this.isn);
    this.nextEphemeral = EPHEMERAL_PORT_FIRST + (ctx.random.u32() % (EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1));
    ctx.stats.declare(
      'TcpActiveOpens',
      'TcpPassiveOpens',
      'TcpAttemptFails',
      'TcpEstabResets',
      'TcpCurrEstab',
      'TcpInSegs',
      'TcpOutSegs',
      'TcpRetransSegs',
      'TcpInErrs',
      'TcpInCsumErrors',
      'TcpOutRsts',
      'TcpExtTCPTimeouts',
      'TcpExtTCPFastRetrans',
      'TcpExtTCPSackRecovery',
      'TcpExtTCPRenoRecovery',
      'TcpExtTCPLostRetransmit',
      'TcpExtTCPLossProbes',
      'TcpExtTCPLossProbeRecovery',
      'TcpExtTCPSACKReorder',
      'TcpExtTCPDSACKRecv',
      'tcpRackReoTimeouts',
      'TcpExtTCPChallengeACK',
      'TcpExtTCPSYNChallenge',
      'TcpExtTCPOFOQueue',
      'TcpExtTCPOFODrop',
      'TcpExtOfoPruned',
      'TcpExtTCPRcvQDrop',
      'TcpExtTCPMemoryPressures',
      'tcpMemoryLimitSynDrops',
      'TcpExtPAWSEstab',
      'TcpExtTCPAbortOnTimeout',
      'TcpExtTCPAbortOnData',
      'TcpExtListenOverflows',
      'TcpExtListenDrops',
      'TcpExtSyncookiesSent',
      'TcpExtSyncookiesRecv',
      'TcpExtSyncookiesFailed',
      'delayedAcks',
    );
  }

  /** Changes settings for connections created from now on (tests, `tapnet up` flags). */
  configure(changes: Partial<TcpConfig>): void {
    this.config = { ...this.config, ...changes };
    this.memory.setLimits(this.config);
  }

  // --- Demultiplexing -------------------------------------------------------

  private keyOf(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): string {
    return `${net.family}|${net.key(remote)}|${remotePort}|${localPort}|${net.key(local)}`;
  }

  lookup(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): TcpConnection | undefined {
    const c = this.last;
    if (c && c.remotePort === remotePort && c.localPort === localPort && c.net === net && net.equal(c.remote, remote) && net.equal(c.local, local)) {
      return c;
    }
    const found = this.connections.get(this.keyOf(net, local, localPort, remote, remotePort));
    if (found) this.last = found;
    return found;
  }

  private findListener(local: IpAddress, localPort: number, net: TcpNetwork): Listener | undefined {
    const list = this.listeners.get(localPort);
    if (!list) return undefined;
    let wildcard: Listener | undefined;
    for (const l of list) {
      if (l.address === undefined) wildcard = l;
      else if (net.equal(l.address, local)) return l;
    }
    return wildcard;
  }

  /**
   * A segment from the network layer. `checksumVerified` is set when the link
   * already checked it (virtio-net DATA_VALID / NEEDS_CSUM from a TAP);
   * `ecn` is the IP header's ECN field (RFC 3168 §5).
   */
  receive(net: TcpNetwork, source: IpAddress, destination: IpAddress, bytes: Uint8Array, checksumVerified = false, ecn = 0): Disposition {
    const { ctx, segment } = this;
    ctx.stats.inc('TcpInSegs');
    if (!checksumVerified && !send.verifyChecksum(net, source, destination, bytes)) {
      ctx.stats.inc('TcpInErrs');
      ctx.trace.dropped('TcpInCsumErrors', 'bad checksum', () => `${bytes.length} bytes from ${net.format(source)}`);
      return 'dropped';
    }
    const error = segment.load(bytes);
    if (error) {
      ctx.trace.dropped('TcpInErrs', describeParseError(error), () => `from ${net.format(source)}`);
      return 'dropped';
    }
    segment.ecn = ecn;
    // RFC 1122 §4.2.3.10: a segment to or from a broadcast/multicast address is discarded (IP filters those).
    const c = this.lookup(net, destination, segment.destinationPort, source, segment.sourcePort);
    if (ctx.trace.watching) ctx.trace.step(`RFC 9293 §3.10.7: checksum good; ${segment.describe()}: ${c ? `connection in ${c.state}` : 'no connection: look for a listener'}`);
    if (c) {
      const result = segmentArrives(c, segment);
      if (result === 'reopen') {
        // A new SYN for a connection in TIME-WAIT (RFC 9293 §3.10.7.4 note, RFC 6191): retire it, then listen.
        this.destroy(c, undefined);
      } else {
        return 'delivered';
      }
    }
    const listener = this.findListener(destination, segment.destinationPort, net);
    if (listener && segment.syn && !segment.hasAck && this.memory.overLimit) {
      // At the memory limit a new connection could not hold even its minimum buffers: drop the SYN (the peer retries).
      ctx.stats.inc('TcpExtListenDrops');
      ctx.trace.dropped('tcpMemoryLimitSynDrops', 'TCP memory limit reached: SYN dropped', () => `${this.memory.allocated} bytes in use`);
      return 'dropped';
    }
    if (listener) {
      listenSegmentArrives(this, listener, segment, net, destination, source);
      return 'delivered';
    }
    closedSegmentArrives(this, segment, net, destination, source);
    return 'delivered';
  }

  // --- Opening --------------------------------------------------------------

  listen(options: ListenOptions): Listener {
    const list = this.listeners.get(options.port) ?? [];
    if (list.some((l) => (l.address === undefined) === (options.address === undefined) && (l.address === undefined || l.address === options.address))) {
      throw Object.assign(new Error(`listen EADDRINUSE: port ${options.port}`), { code: 'EADDRINUSE' });
    }
    const listener: Listener = {
      port: options.port,
      address: options.address,
      synBacklog: options.synBacklog ?? this.config.synBacklog,
      synReceivedCount: 0,
      accept: options.accept,
    };
    list.push(listener);
    this.listeners.set(options.port, list);
    return listener;
  }

  unlisten(listener: Listener): void {
    const list = this.listeners.get(listener.port);
    if (!list) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(listener.port);
  }

  /** Creates a connection object and registers it under its 4-tuple. */
  createConnection(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): TcpConnection {
    const c = new TcpConnection(this, { net, local, localPort, remote, remotePort, config: this.config });
    c.key = this.keyOf(net, local, localPort, remote, remotePort);
    c.tsOffset = this.timestampOffset(net, local, localPort, remote, remotePort);
    this.connections.set(c.key, c);
    this.recent[this.recentNext] = c;
    this.recentNext = (this.recentNext + 1) % TCP_SHOW_RECENT_MAX;
    return c;
  }

  /**
   * RFC 7323 §5.4 / Linux secure_tcp_ts_off: a keyed hash of the 4-tuple, added
   * to our timestamp clock. Deterministic per connection, so a SYN-cookie
   * SYN-ACK (sent before any connection exists) uses the same offset as the
   * connection built from the cookie later.
   */
  timestampOffset(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): number {
    return this.isn.hash(net, local, localPort, remote, remotePort, 0x7473_6f66);
  }

  /** Active OPEN (RFC 9293 §3.10.1): picks a local address and port, sends the SYN. */
  connect(options: ConnectOptions): TcpConnection {
    const { net, remote, remotePort } = options;
    const local = options.local ?? net.sourceFor(remote);
    if (local === undefined) throw new TcpError('ENETUNREACH', `connect ENETUNREACH ${net.format(remote)}:${remotePort}`);
    const localPort = options.localPort ?? this.ephemeralPort(net, local, remote, remotePort);
    if (this.lookup(net, local, localPort, remote, remotePort)) {
      throw Object.assign(new Error(`connect EADDRINUSE ${net.format(local)}:${localPort}`), { code: 'EADDRINUSE' });
    }
    const c = this.createConnection(net, local, localPort, remote, remotePort);
    c.user = options.user;
    c.active = true;
    this.ctx.stats.inc('TcpActiveOpens');
    startConnect(c);
    return c;
  }

  /** RFC 6056 §3.3.2-like: a random start, then the next free port for this remote endpoint. */
  private ephemeralPort(net: TcpNetwork, local: IpAddress, remote: IpAddress, remotePort: number): number {
    const span = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1;
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_PORT_FIRST + ((this.nextEphemeral - EPHEMERAL_PORT_FIRST + i) % span);
      if (!this.lookup(net, local, port, remote, remotePort) && !this.listeners.has(port)) {
        this.nextEphemeral = port + 1;
        return port;
      }
    }
    throw Object.assign(new Error('connect EADDRNOTAVAIL: no free ephemeral port'), { code: 'EADDRNOTAVAIL' });
  }

  // --- What connections call ---------------------------------------------

  output(c: TcpConnection): void {
    send.output(c);
  }

  sendReset(c: TcpConnection, seqNum: SeqNum): void {
    send.sendReset(c, seqNum);
  }

  windowUpdateWorthSending(c: TcpConnection): boolean {
    return send.windowUpdateWorthSending(c);
  }

  /**
   * Owes an ACK at the end of this turn: after the whole receive batch and
   * whatever the application does in response (a reply carries the ACK for
   * free), like Linux's ACKs after GRO.
   */
  scheduleAck(c: TcpConnection): void {
    this.ackQueue.add(c);
    if (this.ackFlushQueued) return;
    this.ackFlushQueued = true;
    queueMicrotask(this.flushAcks);
  }

  private readonly flushAcks = (): void => {
    this.ackFlushQueued = false;
    for (const c of this.ackQueue) {
      this.ackQueue.delete(c);
      if (c.ackAtBatchEnd) {
        // Owed at the end of the batch, unless an ACK (a reply, an out-of-order ACK) has gone out since.
        c.ackAtBatchEnd = false;
        if (c.ackPending) c.ackNow = true;
      }
      if (c.state !== TcpState.CLOSED) send.ackDecision(c);
    }
  };

  onStateChange(c: TcpConnection, from: TcpState, to: TcpState): void {
    if (from !== TcpState.CLOSED) this.stateCounts.set(from, (this.stateCounts.get(from) ?? 1) - 1);
    if (to !== TcpState.CLOSED) this.stateCounts.set(to, (this.stateCounts.get(to) ?? 0) + 1);
    if (to === TcpState.ESTABLISHED) {
      this.established.add(c);
      this.ctx.stats.set('TcpCurrEstab', this.established.size);
    } else if (from === TcpState.ESTABLISHED || from === TcpState.CLOSE_WAIT) {
      if (to !== TcpState.CLOSE_WAIT) this.established.delete(c);
      this.ctx.stats.set('TcpCurrEstab', this.established.size);
    }
    this.ctx.trace.event('tcp state', () => `${c.net.format(c.local)}:${c.localPort} ${c.net.format(c.remote)}:${c.remotePort} ${from} -> ${to}`);
  }

  /** Deletes the TCB (RFC 9293 "enter the CLOSED state and delete the TCB"). */
  destroy(c: TcpConnection, error: TcpError | undefined): void {
    if (c.state === TcpState.CLOSED && !this.connections.has(c.key)) return;
    if (c.listener && c.state === TcpState.SYN_RECEIVED) {
      c.listener.synReceivedCount--;
      c.listener = undefined;
    }
    c.setState(TcpState.CLOSED);
    this.established.delete(c);
    this.ctx.stats.set('TcpCurrEstab', this.established.size);
    c.retransmitTimer?.cancel();
    c.lossTimer?.cancel();
    c.delayedAckTimer?.cancel();
    c.idleTimer?.cancel();
    c.sendBuffer.consume(c.sendBuffer.length);
    c.ofo.clear();
    releaseReceiveCharge(c);
    if (this.connections.get(c.key) === c) this.connections.delete(c.key);
    if (this.last === c) this.last = undefined;
    this.ackQueue.delete(c);
    const user = c.user;
    c.user = undefined;
    user?.onClose(error);
  }

  // --- ICMP -----------------------------------------------------------------

  /**
   * An ICMP error quoting one of our segments (RFC 1122 §4.2.3.9, RFC 5927).
   * `mtu` is set for "fragmentation needed" / "packet too big".
   */
  receiveIcmpError(
    net: TcpNetwork,
    local: IpAddress,
    remote: IpAddress,
    quotedTcp: Uint8Array,
    kind: { mtu?: number; hard?: TcpError },
  ): void {
    const quoted = this.quotedView;
    if (quoted.wrapQuoted(quotedTcp)) return; // fewer than the 8 bytes RFC 792 promises
    const c = this.lookup(net, local, quoted.sourcePort, remote, quoted.destinationPort);
    if (!c) return;
    const s = quoted.sequenceNumber;
    // RFC 5927 §4.1: only believe errors about data in flight (SND.UNA =< seq < SND.NXT).
    if (!seqInRange(s, c.sndUna, c.sndNxt) && !(s === c.sndUna && c.sndUna === c.sndNxt)) {
      this.ctx.trace.dropped('tcpIcmpOutOfWindow', 'ICMP error for a sequence number not in flight', () => `${s}`);
      return;
    }
    if (kind.mtu !== undefined) {
      // RFC 1191 §6.3: lower the path MTU (never below 68, RFC 791) and resend what no longer fits.
      const mtu = Math.max(68, kind.mtu);
      if (mtu >= c.pathMtu) return;
      c.pathMtu = mtu;
      const before = c.mss;
      c.updateMss();
      if (c.mss < before) enterLossForMtu(c);
      this.output(c);
      return;
    }
    if (kind.hard && c.state === TcpState.SYN_SENT) {
      // RFC 1122 §4.2.3.9: hard errors abort; while connecting Linux also reports unreachables (ECONNREFUSED, EHOSTUNREACH).
      this.ctx.stats.inc('TcpAttemptFails');
      this.destroy(c, kind.hard);
    }
  }

  // --- Introspection ------------------------------------------------------

  connectionsInfo(): TcpConnectionInfo[] {
    return [...this.connections.values()].map((c) => c.info());
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listenersInfo(): { address: string; port: number; synReceived: number }[] {
    const out: { address: string; port: number; synReceived: number }[] = [];
    for (const list of this.listeners.values()) {
      for (const l of list) out.push({ address: l.address === undefined ? '*' : String(l.address), port: l.port, synReceived: l.synReceivedCount });
    }
    return out;
  }

  /** Connections per state right now (no walk over the connections: the counts are kept as states change). */
  stateSummary(): Partial<Record<TcpState, number>> {
    const out: Partial<Record<TcpState, number>> = {};
    for (const [state, n] of this.stateCounts) if (n > 0) out[state] = n;
    return out;
  }

  /** The `n` newest connections (at most TCP_SHOW_RECENT_MAX), newest first, those already closed left out. */
  recentConnections(n: number): TcpConnection[] {
    const out: TcpConnection[] = [];
    const count = Math.min(n, TCP_SHOW_RECENT_MAX);
    for (let i = 1; i <= TCP_SHOW_RECENT_MAX && out.length < count; i++) {
      const c = this.recent[(this.recentNext - i + TCP_SHOW_RECENT_MAX) % TCP_SHOW_RECENT_MAX];
      if (c && c.state !== TcpState.CLOSED) out.push(c);
    }
    return out;
  }

  /**
   * `tapnet show tcp`: one line per listener and per connection, `ss -ti` style.
   * With `recent`, a bounded summary instead (the status page): the count per
   * state, then only the `recent` newest connections.
   */
  /** `show tcp --json`: the listeners and every connection's `ss -ti`-style figures. */
  rows(): { listeners: { address: string; port: number; synReceived: number }[]; connections: TcpConnectionInfo[] } {
    return { listeners: this.listenersInfo(), connections: [...this.connections.values()].map((c) => c.info()) };
  }

  show(options: { recent?: number } = {}): string {
    let out = '';
    let list: Iterable<TcpConnection> = this.connections.values();
    if (options.recent !== undefined) {
      const summary = Object.entries(this.stateSummary()).map(([state, n]) => `${state} ${n}`);
      list = this.recentConnections(options.recent);
      out += `connections: ${this.connections.size}${summary.length > 0 ? ` (${summary.join(', ')})` : ''}; the newest ${options.recent} below\n`;
    }
    out += 'State        Local                  Peer                   cwnd     ssthresh srtt    rttvar  rto    inflight retrans sack\n';
    for (const l of this.listenersInfo()) {
      out += `${'LISTEN'.padEnd(12)} ${`${l.address}:${l.port}`.padEnd(22)} ${'*:*'.padEnd(22)}\n`;
    }
    for (const c of list) {
      const i = c.info();
      out +=
        `${i.state.padEnd(12)} ${i.local.padEnd(22)} ${i.remote.padEnd(22)} ` +
        `${String(i.cwnd).padEnd(8)} ${String(i.ssthresh).padEnd(8)} ${(i.srtt === undefined ? '-' : i.srtt.toFixed(1)).padEnd(7)} ` +
        `${(i.srtt === undefined ? '-' : i.rttvar.toFixed(1)).padEnd(7)} ` +
        `${i.rto.toFixed(0).padEnd(6)} ${String(i.bytesInFlight).padEnd(8)} ${String(i.retransmits).padEnd(7)} ${i.sackBlocksReceived}` +
        ` mss ${i.mss} cc ${i.congestionControl} ${i.recovery} sent ${i.bytesSent} rcvd ${i.bytesReceived}\n`;
    }
    return out;
  }

  /** Flag names for traces. */
  static flagsOf(flags: number): string {
    return Object.entries(TcpFlags)
      .filter(([, bit]) => flags & bit)
      .map(([name]) => name)
      .join('|');
  }
}
