/**
 * TCP tunables: every cap and timeout is a named constant with its source
 * (STYLE.md rule 14), and `TcpConfig` lets a Host or a test override them.
 *
 * Read first: RFC 9293 §3.8 (timeouts, MSL), RFC 6298 (RTO bounds), RFC 1122
 * §4.2.3.6 (keepalive) and Linux's Documentation/networking/ip-sysctl.rst,
 * whose defaults tapnet copies so that `ss -ti` on both ends looks alike.
 */

/** RFC 9293 §3.7.1: the default send MSS when the peer sends no MSS option (536 = 576 - 40). */
export const TCP_DEFAULT_MSS = 536;
/** Smallest MSS we accept from a peer or from PMTU (Linux net.ipv4.tcp_min_snd_mss). */
export const TCP_MIN_MSS = 48;
/** IPv4 (20) + TCP (20) header bytes subtracted from the MTU to get the MSS (RFC 9293 §3.7.1). */
export const TCP_IPV4_HEADER_OVERHEAD = 40;
/** Our window scale shift (Linux picks 7 for its default 6 MB tcp_rmem max; RFC 7323 §2.3 caps at 14). */
export const TCP_WINDOW_SCALE = 7;

/**
 * Buffer sizes per connection, Linux's net.ipv4.tcp_rmem / tcp_wmem triples
 * (min, default, max). A connection starts at the default and autotuning
 * (memory.ts) grows it with the measured bandwidth-delay product up to the
 * max; under the stack's memory budget a socket may always hold the min.
 */
export const TCP_RMEM_MIN = 4096;
export const TCP_RMEM_DEFAULT = 131_072;
export const TCP_RMEM_MAX = 6 * 1024 * 1024;
export const TCP_WMEM_MIN = 4096;
export const TCP_WMEM_DEFAULT = 16_384;
export const TCP_WMEM_MAX = 4 * 1024 * 1024;
/** Out-of-order queue cap in segments, so 1-byte segments cannot make the queue huge (tapnet's choice; its bytes are capped by the receive buffer). */
export const TCP_OFO_MAX_SEGMENTS = 1024;

/**
 * The stack-wide budget for TCP buffers (send queues, unread data,
 * out-of-order segments), Linux's net.ipv4.tcp_mem (low, pressure, high).
 * Linux sizes it from memory at boot (tcp_init_mem: pressure = 1/16 of the
 * free pages, low = 3/4 of that, high = 2 × low); these are the numbers it
 * picks on a 1 GiB machine, fixed so that a run does not depend on the host.
 */
export const TCP_MEM_LOW = 48 * 1024 * 1024;
export const TCP_MEM_PRESSURE = 64 * 1024 * 1024;
export const TCP_MEM_HIGH = 96 * 1024 * 1024;

/** RFC 6298 §2.1: RTO before any RTT sample. */
export const TCP_INITIAL_RTO_MS = 1000;
/** Lower RTO bound: Linux TCP_RTO_MIN (200 ms); RFC 6298 §2.4 suggests 1 s, which is far too slow on a LAN. */
export const TCP_MIN_RTO_MS = 200;
/** Upper RTO bound: Linux TCP_RTO_MAX; RFC 6298 §2.5 allows a maximum of at least 60 s. */
export const TCP_MAX_RTO_MS = 120_000;
/** RFC 6298 §2.1 clock granularity G (tapnet's clock ticks in 1 ms). */
export const TCP_CLOCK_GRANULARITY_MS = 1;

/** Probes or retransmissions an orphaned connection gets before it is aborted (Linux tcp_orphan_retries 0 → 8). */
export const TCP_ORPHAN_RETRIES = 8;
/** SYN retransmissions before giving up (Linux net.ipv4.tcp_syn_retries). */
export const TCP_SYN_RETRIES = 6;
/** SYN-ACK retransmissions (Linux net.ipv4.tcp_synack_retries). */
export const TCP_SYNACK_RETRIES = 5;
/** Data retransmissions before the connection is aborted (Linux net.ipv4.tcp_retries2; RFC 1122 R2 >= 100 s). */
export const TCP_RETRIES2 = 15;

/** Delayed-ACK timeout: Linux TCP_DELACK_MIN (HZ/25); RFC 9293 §3.8.6.3 requires less than 0.5 s. */
export const TCP_DELAYED_ACK_MS = 40;
/** Segments ACKed at once after the handshake before delayed ACKs start (Linux TCP_MAX_QUICKACKS). */
export const TCP_QUICKACKS = 16;

/**
 * TIME-WAIT duration (2 × MSL). RFC 9293 §3.4.2 uses MSL = 2 minutes; Linux
 * uses TCP_TIMEWAIT_LEN = 60 s (MSL 30 s), and so do we.
 */
export const TCP_TIME_WAIT_MS = 60_000;
/** How long an orphaned FIN-WAIT-2 waits for the peer's FIN (Linux net.ipv4.tcp_fin_timeout). */
export const TCP_FIN_TIMEOUT_MS = 60_000;

/** Keepalive defaults (RFC 1122 §4.2.3.6: at least 2 hours idle; Linux tcp_keepalive_time/intvl/probes). */
export const TCP_KEEPALIVE_TIME_MS = 7_200_000;
export const TCP_KEEPALIVE_INTERVAL_MS = 75_000;
export const TCP_KEEPALIVE_PROBES = 9;

/** RFC 5961 §7 / Linux net.ipv4.tcp_invalid_ratelimit: at most one challenge ACK per socket per 500 ms. */
export const TCP_CHALLENGE_ACK_INTERVAL_MS = 500;

/** Half-open (SYN-RECEIVED) connections per listener before SYN cookies take over (Node's default listen backlog). */
export const TCP_SYN_BACKLOG_DEFAULT = 511;

/** RFC 5681 §3.2 DupThresh. */
export const TCP_DUPTHRESH = 3;
/** RFC 6928 initial window: 10 segments. */
export const TCP_INITIAL_WINDOW_SEGMENTS = 10;

/** RFC 8985 §7.2 WCDelAckT: the peer's worst-case delayed ACK, added to the probe timeout when one segment is in flight. */
export const TCP_TLP_MAX_ACK_DELAY_MS = 200;
/** Added to 2*SRTT for the probe timeout otherwise (Linux tcp_schedule_loss_probe: TCP_TIMEOUT_MIN, 2 jiffies). */
export const TCP_TLP_TIMEOUT_MIN_MS = 2;

/** PAWS: TS.Recent is invalid after 24 days idle (RFC 7323 §5.5). */
export const TCP_PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** The congestion controllers (src/l4/tcp/congestion): CUBIC (RFC 9438, the default), NewReno (RFC 5681/6582), BBR v1. */
export const CONGESTION_CONTROL_NAMES = ['cubic', 'newreno', 'bbr'] as const;
export type CongestionControlName = (typeof CONGESTION_CONTROL_NAMES)[number];

export interface TcpConfig {
  readonly congestionControl: CongestionControlName;
  /** Receive buffer a connection starts with (tcp_rmem[1]); it grows up to `receiveBufferMax` (DRS, memory.ts). */
  readonly receiveBuffer: number;
  /** What a socket may always hold, even at the memory limit (tcp_rmem[0]). */
  readonly receiveBufferMin: number;
  /** Largest receive buffer autotuning grows to (tcp_rmem[2]); our window scale is chosen for it. */
  readonly receiveBufferMax: number;
  /** Send buffer a connection starts with (tcp_wmem[1]); it grows to 2 × cwnd, at most `sendBufferMax`. */
  readonly sendBuffer: number;
  readonly sendBufferMin: number;
  readonly sendBufferMax: number;
  /** Out-of-order segments held per connection (their bytes are capped by the receive buffer). */
  readonly ofoMaxSegments: number;
  /** Stack-wide TCP memory in bytes (tcp_mem): below `memoryLow` pressure ends, above `memoryPressure` buffers stop growing and out-of-order queues are pruned, at `memoryHigh` new data and connections are refused. */
  readonly memoryLow: number;
  readonly memoryPressure: number;
  readonly memoryHigh: number;
  readonly timeWaitMs: number;
  readonly finTimeoutMs: number;
  readonly delayedAckMs: number;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  readonly initialRtoMs: number;
  readonly synRetries: number;
  readonly synAckRetries: number;
  readonly retries2: number;
  /** Offer and use RFC 2018 SACK. */
  readonly sack: boolean;
  /** Offer and use RFC 7323 timestamps. */
  readonly timestamps: boolean;
  /** Offer RFC 7323 window scaling. */
  readonly windowScaling: boolean;
  /**
   * RACK-TLP loss detection (RFC 8985) on SACK connections (Linux
   * net.ipv4.tcp_recovery = 1); off: RFC 6675 DupThresh rules and no loss probes.
   */
  readonly rack: boolean;
  readonly synBacklog: number;
  /** Answer SYNs with cookies when the backlog is full (Linux net.ipv4.tcp_syncookies = 1). */
  readonly synCookies: boolean;
  /**
   * ECN (RFC 3168) as Linux's net.ipv4.tcp_ecn: 0 never, 1 ask on our SYNs and accept, 2 (Linux's default)
   * accept when the peer's SYN asks, never ask.
   */
  readonly ecn: 0 | 1 | 2;
  readonly challengeAckIntervalMs: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveProbes: number;
  /**
   * Largest segment handed to a link that segments for us (TSO/GSO); 0 turns
   * it off. Only used on links that say they can (Ipv4Link/Ipv6Link.tsoMaxSize; offload.ts tsoDataMax).
   */
  readonly tsoMaxSize: number;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  congestionControl: 'cubic',
  receiveBuffer: TCP_RMEM_DEFAULT,
  receiveBufferMin: TCP_RMEM_MIN,
  receiveBufferMax: TCP_RMEM_MAX,
  sendBuffer: TCP_WMEM_DEFAULT,
  sendBufferMin: TCP_WMEM_MIN,
  sendBufferMax: TCP_WMEM_MAX,
  ofoMaxSegments: TCP_OFO_MAX_SEGMENTS,
  memoryLow: TCP_MEM_LOW,
  memoryPressure: TCP_MEM_PRESSURE,
  memoryHigh: TCP_MEM_HIGH,
  timeWaitMs: TCP_TIME_WAIT_MS,
  finTimeoutMs: TCP_FIN_TIMEOUT_MS,
  delayedAckMs: TCP_DELAYED_ACK_MS,
  minRtoMs: TCP_MIN_RTO_MS,
  maxRtoMs: TCP_MAX_RTO_MS,
  initialRtoMs: TCP_INITIAL_RTO_MS,
  synRetries: TCP_SYN_RETRIES,
  synAckRetries: TCP_SYNACK_RETRIES,
  retries2: TCP_RETRIES2,
  sack: true,
  timestamps: true,
  windowScaling: true,
  rack: true,
  synBacklog: TCP_SYN_BACKLOG_DEFAULT,
  synCookies: true,
  ecn: 2,
  challengeAckIntervalMs: TCP_CHALLENGE_ACK_INTERVAL_MS,
  keepaliveTimeMs: TCP_KEEPALIVE_TIME_MS,
  keepaliveIntervalMs: TCP_KEEPALIVE_INTERVAL_MS,
  keepaliveProbes: TCP_KEEPALIVE_PROBES,
  tsoMaxSize: 65_535 - 20 - 60,
};
