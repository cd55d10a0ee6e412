/**
 * Reno's window rules, the congestion-control half of NewReno.
 *
 * Read first: RFC 5681 §3.1 (slow start and congestion avoidance with
 * appropriate byte counting, RFC 3465 §2.1) and RFC 6582 §3.2 (the fast
 * recovery steps, implemented in recovery.ts).
 */
import type { CongestionControl } from './congestion.js';
import { halfFlight, slowStart } from './congestion.js';

export class NewReno implements CongestionControl {
  readonly name = 'newreno' as const;
  cwnd: number;
  ssthresh = Infinity;
  /** RFC 3465 §2.1 bytes_acked: "increase cwnd by SMSS once bytes_acked >= cwnd". */
  private bytesAcked = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  onAck(acked: number, mss: number, _now: number, _srtt: number | undefined, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      acked = slowStart(this, acked);
      if (acked === 0) return;
    }
    // Congestion avoidance: about one SMSS per RTT (RFC 5681 eq. 3, byte-counted).
    this.bytesAcked += acked;
    while (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += mss;
    }
  }

  onCongestionEvent(flight: number, mss: number): void {
    this.ssthresh = halfFlight(flight, mss);
    this.bytesAcked = 0;
  }

  onRetransmissionTimeout(flight: number, mss: number): void {
    this.ssthresh = halfFlight(flight, mss);
    // RFC 5681 §3.1: "cwnd MUST be set to no more than the loss window, LW, which equals 1 full-sized segment".
    this.cwnd = mss;
    this.bytesAcked = 0;
  }
}
