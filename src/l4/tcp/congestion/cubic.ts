/**
 * CUBIC, tapnet's default congestion controller (as in Linux).
 *
 * Read first: RFC 9438 §4: the window grows as a cubic function of the time
 * since the last congestion event,
 *
 *     W_cubic(t) = C * (t - K)^3 + W_max,    K = cbrt(W_max * (1 - beta) / C)
 *
 * concave below W_max (fast, then careful near the old limit), convex above
 * it (probing). A Reno-friendly estimate W_est (§4.3) keeps CUBIC at least as
 * fast as Reno on short-RTT paths. Windows are computed in segments (as the
 * RFC does) and kept in bytes.
 */
import type { CongestionControl } from './congestion.js';
import { slowStart } from './congestion.js';

/** RFC 9438 §5: C = 0.4, beta_cubic = 0.7. */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta), so W_est grows like Reno with the same average. */
const ALPHA_CUBIC = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export class Cubic implements CongestionControl {
  readonly name = 'cubic' as const;
  cwnd: number;
  ssthresh = Infinity;
  /** W_max in segments: the window just before the last reduction (§4.2). */
  private wMax = 0;
  /** W_max before that, for fast convergence (§4.7). */
  private wLastMax = 0;
  /** When the current congestion-avoidance epoch started (ms), or undefined before its first ACK. */
  private epochStart: number | undefined;
  private k = 0;
  private cwndEpoch = 0;
  /** W_est in segments (§4.3). */
  private wEst = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  onAck(acked: number, mss: number, now: number, srtt: number | undefined, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      acked = slowStart(this, acked);
      if (acked === 0) return;
    }
    const cwnd = this.cwnd / mss;
    if (this.epochStart === undefined) {
      // §4.2: a new epoch begins with the first ACK in congestion avoidance.
      this.epochStart = now;
      this.cwndEpoch = cwnd;
      this.wEst = cwnd;
      if (this.wMax <= cwnd) {
        // No loss yet, or already past the old maximum: start in the convex region.
        this.k = 0;
        this.wMax = cwnd;
      } else {
        this.k = Math.cbrt((this.wMax - cwnd) / CUBIC_C);
      }
    }
    const rtt = (srtt ?? 100) / 1000;
    const t = (now - this.epochStart) / 1000;
    const wCubic = (s: number): number => CUBIC_C * (s - this.k) ** 3 + this.wMax;
    const segmentsAcked = acked / mss;

    // §4.3: W_est += alpha_cubic * segments_acked / cwnd (alpha becomes 1 once W_est passes W_max).
    const alpha = this.wEst >= this.wMax ? 1 : ALPHA_CUBIC;
    this.wEst += (alpha * segmentsAcked) / cwnd;

    let next: number;
    if (wCubic(t) < this.wEst) {
      next = this.wEst; // Reno-friendly region (§4.3)
    } else {
      // §4.4/§4.5: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd]; grow by (target - cwnd) / cwnd per segment.
      const target = Math.min(Math.max(wCubic(t + rtt), cwnd), 1.5 * cwnd);
      next = cwnd + ((target - cwnd) / cwnd) * segmentsAcked;
    }
    this.cwnd = Math.max(this.cwnd, next * mss);
  }

  onCongestionEvent(flight: number, mss: number): void {
    this.reduce(mss);
    void flight;
  }

  onRetransmissionTimeout(flight: number, mss: number): void {
    this.reduce(mss);
    // RFC 9438 §4.8 defers to RFC 5681: cwnd = loss window; the cubic epoch restarts after slow start.
    this.cwnd = mss;
    void flight;
  }

  private reduce(mss: number): void {
    const cwnd = this.cwnd / mss;
    // §4.7 fast convergence: release bandwidth when the maximum keeps shrinking.
    this.wMax = cwnd < this.wLastMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    this.wLastMax = cwnd;
    // §4.6: ssthresh = cwnd * beta_cubic (never below 2 segments, RFC 5681).
    this.ssthresh = Math.max(cwnd * CUBIC_BETA, 2) * mss;
    this.epochStart = undefined;
  }
}
