/**
 * One TCP connection: the Transmission Control Block (RFC 9293 §3.3.1) and
 * the user calls on it (§3.10.1-§3.10.6: OPEN, SEND, CLOSE, ABORT).
 *
 * Read first: RFC 9293 §3.3.1 (the TCB variables, named here as there:
 * SND.UNA is `sndUna`, RCV.NXT is `rcvNxt`, ...), §3.10 (event processing).
 * What happens when a segment arrives is in segment-arrives.ts, what goes out
 * in send.ts, loss recovery in recovery.ts and the timers in timers.ts; this
 * file holds the state they share and the glue.
 *
 * A connection does not know about streams: it talks to its user (the Socket
 * in socket.ts) through `ConnectionUser`, so it can be driven and tested on
 * its own.
 */
import type { Timer } from '../../core/time.js';
import type { TcpConfig } from './config.js';
import { TCP_DEFAULT_MSS, TCP_INITIAL_WINDOW_SEGMENTS, TCP_MIN_MSS } from './config.js';
import { createCongestionControl, type CongestionControl } from './congestion/congestion.js';
import { rateCheckAppLimited } from './congestion/delivery-rate.js';
import { expandSendBuffer, receiveSpaceAdjust, sendSpace } from './memory.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { OutOfOrderQueue } from './reassembly.js';
import { RackTlp } from './rack.js';
import { RttEstimator } from './rtt.js';
import { SackScoreboard } from './scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { seq, seqAdd, seqSub, type SeqNum } from './seq.js';
import { TcpState } from './state.js';
import type { TcpLayer } from './tcp.js';

/** Errors a connection reports, with Node's `code`s (what `net.Socket` emits). */
export type TcpErrorCode = 'ECONNRESET' | 'ECONNREFUSED' | 'ETIMEDOUT' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'ECONNABORTED' | 'EPIPE';

export class TcpError extends Error {
  constructor(
    readonly code: TcpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TcpError';
  }
}

/** What a connection tells its user (socket.ts) and asks of it. */
export interface ConnectionUser {
  /** The handshake completed (ESTABLISHED). */
  onEstablished(): void;
  /** In-order bytes from the peer; the user owns `data`. */
  onData(data: Buffer): void;
  /**
   * When set, in-order bytes go here instead of `onData`, as a view into the
   * frame they arrived in: valid only during the call (the device reuses the
   * buffer), so no copy is made (socket.ts `consume`).
   */
  readonly onDataView?: ((data: Uint8Array) => void) | undefined;
  /** The peer's FIN: no more data will come. */
  onEnd(): void;
  /** Send-buffer space was freed (data acknowledged). */
  onSendSpace(): void;
  /** The connection is gone (CLOSED); `error` when it did not end normally. */
  onClose(error: TcpError | undefined): void;
  /** Bytes delivered but not yet read by the application (they use receive window). */
  unreadBytes(): number;
}

/** Loss-recovery phase (Linux's tcp_ca_state, simplified): Open, fast Recovery, or Loss after an RTO. */
export type RecoveryState = 'open' | 'recovery' | 'loss';

export interface ConnectionOptions {
  readonly net: TcpNetwork;
  readonly local: IpAddress;
  readonly localPort: number;
  readonly remote: IpAddress;
  readonly remotePort: number;
  readonly config: TcpConfig;
}

/** What `tapnet show tcp` prints per connection (Linux `ss -ti` names where they exist). */
export interface TcpConnectionInfo {
  readonly local: string;
  readonly remote: string;
  readonly state: TcpState;
  readonly mss: number;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly srtt: number | undefined;
  readonly rttvar: number;
  readonly rto: number;
  readonly bytesInFlight: number;
  readonly sendWindow: number;
  readonly receiveWindow: number;
  readonly retransmits: number;
  readonly bytesSent: number;
  readonly bytesRetransmitted: number;
  readonly bytesReceived: number;
  readonly congestionControl: string;
  readonly recovery: RecoveryState;
  readonly sackedBytes: number;
  /** SACK blocks the peer has sent us on this connection (RFC 2018), DSACK included. */
  readonly sackBlocksReceived: number;
  readonly ofoBytes: number;
  /** Current buffer sizes (Linux `ss -m` rb / tb), as autotuning left them. */
  readonly receiveBuffer: number;
  readonly sendBuffer: number;
}

export class TcpConnection {
  state: TcpState = TcpState.CLOSED;
  readonly net: TcpNetwork;
  readonly local: IpAddress;
  readonly localPort: number;
  readonly remote: IpAddress;
  readonly remotePort: number;
  readonly config: TcpConfig;
  /** Demux key (tcp.ts). */
  key = '';
  user: ConnectionUser | undefined;
  /** The listener that created this connection (passive open), until it is established. */
  listener: { synReceivedCount: number } | undefined;
  /** Opened actively (connect) rather than from a listener. */
  active = false;

  // Send sequence variables (RFC 9293 §3.3.1).
  iss = seq(0);
  sndUna = seq(0);
  sndNxt = seq(0);
  /** SND.WND, already scaled (RFC 7323 §2.3). */
  sndWnd = 0;
  sndWl1 = seq(0);
  sndWl2 = seq(0);
  /** RFC 5961 §5.2 MAX.SND.WND: the largest window the peer has offered. */
  maxSndWnd = 0;
  /** Shift applied to the peer's windows (their Window Scale option), 0 without scaling. */
  sndWscale = 0;

  // Receive sequence variables.
  irs = seq(0);
  rcvNxt = seq(0);
  /** Our shift (the Window Scale we offered), 0 without scaling. */
  rcvWscale = 0;
  /** RCV.NXT + RCV.WND as last advertised: the right edge must never move left (RFC 9293 §3.8.6.2.2). */
  rcvAdvRight = seq(0);
  /** The receive buffer (RCV.BUFF): starts at tcp_rmem[1], grown by autotuning (memory.ts), never shrunk. */
  rcvBuf: number;
  /** Unread bytes last charged to the stack's memory (memory.ts receiveSpaceAdjust). */
  rcvCharged = 0;
  /** Dynamic right-sizing (Linux rcvq_space): bytes consumed in the last measured round trip, the consumed total then, and when. */
  rcvqSpace = 0;
  rcvqConsumed = 0;
  rcvqTime = 0;
  /** The receiver's smoothed RTT in ms (memory.ts receiveRttMeasure), 0 before a sample. */
  rcvRtt = 0;
  /** The send buffer's size (SO_SNDBUF): starts at tcp_wmem[1], grown to 2 × cwnd by autotuning. */
  sndBuf: number;

  // Segment sizes.
  /** Effective send MSS: min(peer's MSS option, our path MTU - headers). */
  mss = TCP_DEFAULT_MSS;
  /** What the peer's MSS option said (RFC 9293 §3.7.1); 536 when absent. */
  peerMss = TCP_DEFAULT_MSS;
  /** Largest segment seen from the peer (Linux rcv_mss), to tell full-sized segments from small ones. */
  rcvMss = TCP_DEFAULT_MSS;
  /** Path MTU towards the peer, lowered by ICMP fragmentation-needed (RFC 1191). */
  pathMtu = 1500;

  // Options in force (negotiated in the SYN exchange).
  /** Both SYNs carried Window Scale (RFC 7323 §2.2). */
  wsOk = false;
  tsOk = false;
  sackOk = false;
  /** RFC 7323 §4.3 TS.Recent and when it was set (PAWS §5.5). */
  tsRecent = 0;
  tsRecentAt = 0;
  /** Both SYNs agreed on ECN (RFC 3168 §6.1.1; congestion/ecn.ts). */
  ecnOk = false;
  /** A CE mark arrived: set ECE on every ACK until the peer's CWR (RFC 3168 §6.1.3). */
  ecnEcho = false;
  /** We reduced cwnd for an ECE: the next new data segment carries CWR (§6.1.2). */
  ecnSendCwr = false;
  /** SND.NXT at the last ECE reaction: ECEs before SND.UNA passes it belong to the same window. */
  ecnCwrEnd: SeqNum | undefined;
  /** RFC 7323 Last.ACK.sent. */
  lastAckSent = seq(0);
  /** Random offset for our TSval so timestamps do not reveal the clock (RFC 7323 §5.4). */
  tsOffset = 0;

  // Data.
  readonly sendBuffer: SendBuffer;
  /** Sequence number of sendBuffer's first byte (ISS + 1 plus everything acknowledged since). */
  bufSeq = seq(0);
  /** The user called CLOSE (or end()): a FIN follows the data. */
  finQueued = false;
  /** Our FIN's sequence number, once sent. */
  finSeq: SeqNum | undefined;
  readonly ofo: OutOfOrderQueue;

  // Congestion control and loss recovery (recovery.ts).
  cc: CongestionControl;
  readonly rtt: RttEstimator;
  recoveryState: RecoveryState = 'open';
  /** RFC 6582 "recover": SND.NXT when recovery began. */
  recover = seq(0);
  /** RFC 6675 HighRxt: the highest sequence number retransmitted in this recovery. */
  highRxt = seq(0);
  readonly scoreboard = new SackScoreboard();
  /** RACK-TLP and PRR state (rack.ts), including when each segment was sent and retransmitted. */
  readonly rack = new RackTlp();
  /** Retransmissions found lost: they go again before anything else. */
  relost: { start: SeqNum; end: SeqNum }[] = [];
  dupAcks = 0;
  /** Without SACK, each duplicate ACK stands for one segment that left the network (RFC 6582 cwnd inflation). */
  renoSacked = 0;
  /** Without SACK, the end of the segment NewReno treats as lost. */
  renoLostEnd = seq(0);
  /** Karn timing without timestamps: the segment being timed and when it was sent. */
  rttSeq: SeqNum | undefined;
  rttSentAt = 0;
  /** The window was full when data was last sent (RFC 7661: only then may cwnd grow). */
  cwndLimited = false;
  /** End of the last small segment sent: Minshall's Nagle variant holds a small segment only while another is unacknowledged. */
  sndSml: SeqNum | undefined;
  /** Largest segment the link takes for segmentation (TSO), 0 when it cannot. */
  tsoMax = 0;
  /** The link finishes our checksums (virtio-net NEEDS_CSUM). */
  checksumOffload = false;

  // ACK generation.
  /** Bytes received since our last ACK. */
  bytesSinceAck = 0;
  /** An ACK must go out at the end of this turn. */
  ackNow = false;
  /** An ACK is owed (delayed-ACK timer or end of turn). */
  ackPending = false;
  /**
   * The owed ACK is not to be delayed, but one at the end of the receive
   * batch covers every segment of it (TcpLayer's ACK flush): set for in-order
   * small segments and in quick-ACK mode, not for out-of-order data.
   */
  ackAtBatchEnd = false;
  quickAcks = 0;
  /** Last challenge ACK (RFC 5961 §7 rate limit). */
  lastChallengeAckAt = -Infinity;

  // Timers (timers.ts): created on first use so an idle connection holds few objects.
  retransmitTimer: Timer | undefined;
  /** The RACK reordering timer or the TLP probe timer (c.rack.timerMode says which), as Linux shares one. */
  lossTimer: Timer | undefined;
  delayedAckTimer: Timer | undefined;
  /** Keepalive, FIN-WAIT-2 timeout and TIME-WAIT share one timer (as in Linux). */
  idleTimer: Timer | undefined;
  /** Consecutive retransmission timeouts (or unanswered probes) without progress. */
  retransmits = 0;
  /** SACK blocks read from the peer's ACKs (recovery.ts), for `show tcp` and iperf3's per-stream results. */
  sackBlocksReceived = 0;
  /** A zero-window probe went out and no ACK has come back since. */
  probesUnanswered = false;
  synRetries = 0;
  /** Last time an ACK acknowledged new data (user timeout, RFC 5482). */
  lastProgressAt = 0;
  /** Last time anything arrived (keepalive). */
  lastReceivedAt = 0;
  keepaliveProbesSent = 0;

  // User options.
  noDelay = false;
  keepalive = false;
  keepaliveTimeMs: number;
  /** RFC 5482 / TCP_USER_TIMEOUT: abort when sent data stays unacknowledged this long; 0 = use retries2. */
  userTimeoutMs = 0;
  /** The user closed or destroyed its socket: nobody reads anymore (an orphan, in Linux terms). */
  orphaned = false;

  // Counters for `show tcp`.
  bytesSent = 0;
  bytesRetransmitted = 0;
  bytesReceived = 0;
  totalRetransmits = 0;

  constructor(
    readonly layer: TcpLayer,
    options: ConnectionOptions,
  ) {
    this.net = options.net;
    this.local = options.local;
    this.localPort = options.localPort;
    this.remote = options.remote;
    this.remotePort = options.remotePort;
    this.config = options.config;
    this.rcvBuf = options.config.receiveBuffer;
    this.sndBuf = options.config.sendBuffer;
    this.sendBuffer = new SendBuffer(layer.memory);
    this.ofo = new OutOfOrderQueue(this.rcvBuf, options.config.ofoMaxSegments, layer.memory);
    this.rcvqSpace = TCP_INITIAL_WINDOW_SEGMENTS * TCP_DEFAULT_MSS;
    this.rcvqTime = layer.ctx.clock.now();
    this.rtt = new RttEstimator(options.config.initialRtoMs, options.config.minRtoMs, options.config.maxRtoMs);
    this.cc = createCongestionControl(options.config.congestionControl, TCP_DEFAULT_MSS);
    this.keepaliveTimeMs = options.config.keepaliveTimeMs;
    this.pathMtu = options.net.mtuTowards(options.remote) ?? 1500;
    const tso = options.net.tsoMaxTowards(options.remote);
    this.tsoMax = options.config.tsoMaxSize > 0 ? Math.min(tso, options.config.tsoMaxSize) : 0;
    this.checksumOffload = options.net.checksumOffloadTowards(options.remote);
  }

  now(): number {
    return this.layer.ctx.clock.now();
  }

  /** Our TSval: a millisecond clock plus the per-connection offset (RFC 7323 §5.4). */
  tsNow(): number {
    return (Math.floor(this.now()) + this.tsOffset) >>> 0;
  }

  /** Bytes sent and not yet acknowledged (RFC 5681 FlightSize), SYN and FIN included. */
  get flight(): number {
    return seqSub(this.sndNxt, this.sndUna);
  }

  /** Sequence number just past the last byte the user has written. */
  get dataEnd(): SeqNum {
    return seqAdd(this.bufSeq, this.sendBuffer.length);
  }

  /** Free send-buffer space (SO_SNDBUF minus what is held; at the stack's memory limit, only up to tcp_wmem[0]). */
  get sendSpace(): number {
    return sendSpace(this);
  }

  /** Grows the receive buffer (autotuning); the out-of-order queue may hold as much. */
  setReceiveBuffer(bytes: number): void {
    this.rcvBuf = bytes;
    this.ofo.maxBytes = bytes;
  }

  /** The largest receive buffer this connection can reach: the window scale we offer is chosen for it. */
  get rcvBufMax(): number {
    return Math.max(this.rcvBuf, this.config.receiveBufferMax);
  }

  /** The MSS we announce: our MTU towards the peer minus the headers (RFC 9293 §3.7.1). */
  get advertisedMss(): number {
    return Math.max(TCP_MIN_MSS, Math.min(65_495, this.pathMtu - this.net.headerOverhead - 20));
  }

  /** Recomputes the effective send MSS from the peer's option and the path MTU (RFC 9293 §3.7.1, RFC 1191). */
  updateMss(): void {
    const optionsBytes = this.tsOk ? 12 : 0;
    const fromPath = this.pathMtu - this.net.headerOverhead - 20;
    this.mss = Math.max(TCP_MIN_MSS, Math.min(this.peerMss, fromPath) - optionsBytes);
  }

  /** Moves to `next` and traces the transition. */
  setState(next: TcpState): void {
    if (this.state === next) return;
    const from = this.state;
    this.state = next;
    this.layer.onStateChange(this, from, next);
  }

  // --- User calls (RFC 9293 §3.10) ---

  /** SEND (§3.10.2): copies as much of `data` as fits in the send buffer; returns the bytes taken. */
  send(data: Uint8Array): number {
    if (data.length > this.sendSpace) expandSendBuffer(this);
    const n = Math.min(data.length, this.sendSpace);
    if (n === 0) return 0;
    if (this.cc.rate) rateCheckAppLimited(this, this.cc.rate);
    this.sendBuffer.push(n === data.length ? data : data.subarray(0, n));
    this.layer.output(this);
    return n;
  }

  /** CLOSE (§3.10.4): "queue this until all preceding SENDs have been segmentized, then form a FIN". */
  close(): void {
    switch (this.state) {
      case TcpState.SYN_SENT:
        this.layer.destroy(this, undefined);
        return;
      case TcpState.SYN_RECEIVED:
        // §3.10.4: the FIN waits for ESTABLISHED (segment-arrives.ts moves on to FIN-WAIT-1 then).
        this.finQueued = true;
        return;
      case TcpState.ESTABLISHED:
        this.finQueued = true;
        this.setState(TcpState.FIN_WAIT_1);
        break;
      case TcpState.CLOSE_WAIT:
        this.finQueued = true;
        this.setState(TcpState.LAST_ACK);
        break;
      default:
        return; // already closing: "error: connection closing"
    }
    this.layer.output(this);
  }

  /** ABORT (§3.10.5): send a reset unless nothing was ever synchronized, then delete the TCB. */
  abort(error?: TcpError): void {
    if (this.state === TcpState.CLOSED) return;
    if (this.state !== TcpState.SYN_SENT && this.state !== TcpState.TIME_WAIT && this.state !== TcpState.LISTEN) {
      this.layer.sendReset(this, this.sndNxt);
      this.layer.ctx.stats.inc('TcpEstabResets');
    }
    this.layer.destroy(this, error);
  }

  /** The application read data: maybe the window opened enough to tell the peer (Linux tcp_cleanup_rbuf). */
  onUserRead(): void {
    if (this.user) receiveSpaceAdjust(this);
    if (this.state === TcpState.CLOSED || !this.layer.windowUpdateWorthSending(this)) return;
    this.ackNow = true;
    this.layer.output(this);
  }

  info(): TcpConnectionInfo {
    return {
      local: `${this.net.format(this.local)}:${this.localPort}`,
      remote: `${this.net.format(this.remote)}:${this.remotePort}`,
      state: this.state,
      mss: this.mss,
      cwnd: Math.round(this.cc.cwnd),
      ssthresh: this.cc.ssthresh === Infinity ? -1 : Math.round(this.cc.ssthresh),
      srtt: this.rtt.srtt,
      rttvar: this.rtt.rttvar,
      rto: this.rtt.rto,
      bytesInFlight: this.flight,
      sendWindow: this.sndWnd,
      receiveWindow: Math.max(0, seqSub(this.rcvAdvRight, this.rcvNxt)),
      retransmits: this.totalRetransmits,
      bytesSent: this.bytesSent,
      bytesRetransmitted: this.bytesRetransmitted,
      bytesReceived: this.bytesReceived,
      congestionControl: this.cc.name,
      recovery: this.recoveryState,
      sackedBytes: this.scoreboard.sackedBytes,
      sackBlocksReceived: this.sackBlocksReceived,
      ofoBytes: this.ofo.bytes,
      receiveBuffer: this.rcvBuf,
      sendBuffer: this.sndBuf,
    };
  }
}
