/**
 * The congestion controller interface: what the ACK and loss processing in
 * segment-arrives.ts / recovery.ts tells it, and the two numbers it answers
 * with. Windows are in bytes; the controller gets the MSS with each call.
 *
 * Read first: RFC 5681 §3 (slow start, congestion avoidance, the
 * "congestion event"), RFC 9438 (CUBIC) and RFC 6582 (NewReno recovery,
 * which recovery.ts implements; the controller only sets the windows).
 * BBR (bbr.ts) answers delivery-rate samples instead of acknowledged bytes.
 */
import type { CongestionControlName } from '../config.js';
import { TCP_INITIAL_WINDOW_SEGMENTS } from '../config.js';
import { Bbr, type BbrAckContext } from './bbr.js';
import { Cubic } from './cubic.js';
import type { DeliveryRate, RateSample } from './delivery-rate.js';
import { NewReno } from './newreno.js';

export interface CongestionControl {
  readonly name: CongestionControlName;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow start threshold, bytes (Infinity until the first congestion event, RFC 5681 §3.1). */
  ssthresh: number;
  /**
   * New data was cumulatively acknowledged while not in fast recovery.
   * `cwndLimited`: the sender had filled the window before this ACK
   * (RFC 7661: do not grow a window the application does not use).
   */
  onAck(acked: number, mss: number, now: number, srtt: number | undefined, cwndLimited: boolean): void;
  /** Loss detected by duplicate ACKs or SACK: set ssthresh (the caller then sets cwnd for recovery). */
  onCongestionEvent(flight: number, mss: number, now: number): void;
  /** The retransmission timer expired (RFC 5681 §3.1 eq. 4, cwnd = loss window). */
  onRetransmissionTimeout(flight: number, mss: number, now: number): void;
  /**
   * A controller that works from delivery-rate samples (BBR) has this: the
   * connection then feeds it on every transmission and ACK
   * (delivery-rate.ts) and calls `onRateSample` last on every ACK. CUBIC and
   * NewReno have neither, and pay nothing for them.
   */
  readonly rate?: DeliveryRate;
  onRateSample?(rs: RateSample, ctx: BbrAckContext): void;
}

/** RFC 5681 §3.1 eq. 4: ssthresh = max (FlightSize / 2, 2*SMSS). */
export function halfFlight(flight: number, mss: number): number {
  return Math.max(flight / 2, 2 * mss);
}

/** RFC 6928: IW = min (10*MSS, max (2*MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(TCP_INITIAL_WINDOW_SEGMENTS * mss, Math.max(2 * mss, 14_600));
}

export function createCongestionControl(name: CongestionControlName, mss: number): CongestionControl {
  switch (name) {
    case 'newreno':
      return new NewReno(initialWindow(mss));
    case 'bbr':
      return new Bbr(initialWindow(mss));
    case 'cubic':
      return new Cubic(initialWindow(mss));
  }
}

/**
 * Slow start (RFC 5681 §3.1), shared by both controllers: cwnd grows by the
 * bytes acknowledged, up to ssthresh. Like Linux (tcp_slow_start) we count
 * every acknowledged byte even for stretch ACKs; RFC 3465 §2.3 would cap each
 * ACK at 2*SMSS. Returns the bytes left over once ssthresh is reached.
 */
export function slowStart(cc: { cwnd: number; ssthresh: number }, acked: number): number {
  const room = Math.max(0, cc.ssthresh - cc.cwnd);
  const used = Math.min(acked, room);
  cc.cwnd += used;
  return acked - used;
}
