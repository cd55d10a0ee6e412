/**
 * Round-trip time estimation and the retransmission timeout.
 *
 * Read first: RFC 6298 "Computing TCP's Retransmission Timer" §2-§5, and
 * RFC 7323 §4 (RTTM: measuring with timestamps). Karn's algorithm (RFC 6298
 * §3) lives with the caller: it never feeds a sample from a retransmitted
 * segment unless a timestamp says which transmission was acknowledged.
 */
import { TCP_CLOCK_GRANULARITY_MS } from './config.js';

/** RFC 6298 §2.3: alpha = 1/8, beta = 1/4, K = 4. */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

export class RttEstimator {
  /** Smoothed RTT in ms (undefined before the first sample). */
  srtt: number | undefined;
  rttvar = 0;
  /** The RTO without backoff. */
  private baseRto: number;
  /** Number of consecutive backoffs (RFC 6298 §5.5). */
  backoff = 0;
  /** Last sample, for `tapnet show tcp`. */
  latest: number | undefined;
  /** Smallest sample seen (for CUBIC's and HyStart's delay signals). */
  minRtt = Infinity;

  constructor(
    initialRto: number,
    private readonly minRto: number,
    private readonly maxRto: number,
  ) {
    this.baseRto = initialRto;
  }

  /** Adds an RTT sample in ms (RFC 6298 §2.2-§2.3). */
  sample(r: number): void {
    if (!(r >= 0)) return;
    this.latest = r;
    if (r < this.minRtt) this.minRtt = r;
    if (this.srtt === undefined) {
      // (2.2) SRTT <- R, RTTVAR <- R/2
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      // (2.3) RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, then SRTT <- (1 - alpha) * SRTT + alpha * R'
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    // RTO <- SRTT + max (G, K*RTTVAR), bounded (2.4, 2.5)
    this.baseRto = this.clamp(this.srtt + Math.max(TCP_CLOCK_GRANULARITY_MS, K * this.rttvar));
    // RFC 6298 §5.7 leaves backoff collapse to the implementation; a fresh sample means the path works again.
    this.backoff = 0;
  }

  /** The current RTO including exponential backoff (RFC 6298 §5.5). */
  get rto(): number {
    return this.clamp(this.baseRto * 2 ** this.backoff);
  }

  /** RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")". */
  backOff(): void {
    if (this.baseRto * 2 ** this.backoff < this.maxRto) this.backoff++;
  }

  private clamp(rto: number): number {
    return Math.min(this.maxRto, Math.max(this.minRto, rto));
  }
}
