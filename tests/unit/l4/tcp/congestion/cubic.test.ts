/**
 * CUBIC (RFC 9438): the window after a reduction follows
 * W_cubic(t) = C * (t - K)^3 + W_max with K = cbrt(W_max * (1 - beta_cubic) / C)
 * (§4.2), beta_cubic = 0.7 (§4.6), and the Reno-friendly estimate W_est with
 * alpha_cubic = 3 * (1 - beta) / (1 + beta) (§4.3). Expected values are
 * computed here from the RFC's constants, not read back from the code.
 */
import { describe, expect, it } from 'vitest';
import { Cubic, CUBIC_BETA, CUBIC_C } from '../../../../../src/l4/tcp/congestion/cubic.js';

const MSS = 1000;
/** RFC 9438 §5 constants, written out. */
const C = 0.4;
const BETA = 0.7;

/** A controller that just had a congestion event at a window of `segments`, in congestion avoidance at beta * W. */
function afterLoss(segments: number): Cubic {
  const cc = new Cubic(10 * MSS);
  cc.cwnd = segments * MSS;
  cc.ssthresh = segments * MSS; // out of slow start
  cc.onCongestionEvent(cc.cwnd, MSS);
  cc.cwnd = cc.ssthresh; // what recovery leaves behind when it ends
  return cc;
}

describe('CUBIC (RFC 9438)', () => {
  it('uses C = 0.4 and beta_cubic = 0.7 (§5)', () => {
    expect(CUBIC_C).toBe(C);
    expect(CUBIC_BETA).toBe(BETA);
  });

  it('a congestion event sets ssthresh = 0.7 * cwnd (§4.6), at least 2 segments', () => {
    const cc = afterLoss(100);
    expect(cc.ssthresh).toBeCloseTo(70 * MSS, 9);
    const tiny = new Cubic(2 * MSS);
    tiny.onCongestionEvent(2 * MSS, MSS);
    expect(tiny.ssthresh).toBe(2 * MSS);
  });

  it('follows W_cubic(t + RTT) = C (t + RTT - K)^3 + W_max with K from §4.2, concave then convex', () => {
    const wMax = 100;
    const K = Math.cbrt((wMax * (1 - BETA)) / C); // cbrt(75) ≈ 4.217 s
    const srtt = 100;
    for (const t of [K - 1, K + 2]) {
      const cc = afterLoss(wMax);
      cc.onAck(0, MSS, 0, srtt, true); // starts the epoch at time 0 (§4.2), changes nothing
      expect(cc.cwnd).toBeCloseTo(70 * MSS, 6);
      // One ACK for a whole window: cwnd moves all the way to the target (§4.4: (target - cwnd) / cwnd per segment).
      cc.onAck(cc.cwnd, MSS, t * 1000, srtt, true);
      const target = C * (t + srtt / 1000 - K) ** 3 + wMax;
      expect(cc.cwnd / MSS).toBeCloseTo(target, 6);
    }
  });

  it('at the start of the epoch W_cubic(0) = beta * W_max, the window it reduced to', () => {
    const wMax = 100;
    const K = Math.cbrt((wMax * (1 - BETA)) / C);
    expect(C * (0 - K) ** 3 + wMax).toBeCloseTo(BETA * wMax, 9);
  });

  it('clamps the target to 1.5 * cwnd (§4.4)', () => {
    const cc = afterLoss(100);
    cc.onAck(0, MSS, 0, 100, true);
    cc.onAck(cc.cwnd, MSS, 60_000, 100, true); // W_cubic(60 s) is far above 1.5 * 70
    expect(cc.cwnd / MSS).toBeCloseTo(1.5 * 70, 6);
  });

  it('in the Reno-friendly region grows W_est by alpha_cubic = 3(1 - beta)/(1 + beta) per window (§4.3)', () => {
    const cc = afterLoss(100);
    cc.onAck(0, MSS, 0, 1, true);
    // 1 ms later with a 1 ms RTT: W_cubic has barely moved from 70, W_est = 70 + alpha_cubic.
    cc.onAck(cc.cwnd, MSS, 1, 1, true);
    const alpha = (3 * (1 - BETA)) / (1 + BETA);
    expect(alpha).toBeCloseTo(0.5294, 4);
    expect(cc.cwnd / MSS).toBeCloseTo(70 + alpha, 6);
  });

  it('once W_est passes W_max, alpha becomes 1: one segment per window like Reno', () => {
    // No loss yet: the epoch starts with W_max = cwnd and K = 0, so W_est >= W_max at once.
    const cc = new Cubic(10 * MSS);
    cc.ssthresh = 10 * MSS;
    cc.onAck(0, MSS, 0, 10, true);
    cc.onAck(10 * MSS, MSS, 10, 10, true);
    expect(cc.cwnd).toBeCloseTo(11 * MSS, 6);
  });

  it('fast convergence: a second loss below the previous maximum sets W_max = cwnd (1 + beta) / 2 (§4.7)', () => {
    const cc = afterLoss(100); // W_max 100, W_last_max 100
    cc.cwnd = 80 * MSS;
    cc.onCongestionEvent(cc.cwnd, MSS); // 80 < 100: W_max = 80 * 1.7 / 2 = 68
    cc.cwnd = cc.ssthresh; // 56
    const wMax = (80 * (1 + BETA)) / 2;
    const K = Math.cbrt((wMax - 56) / C);
    cc.onAck(0, MSS, 0, 100, true);
    cc.onAck(cc.cwnd, MSS, 1000, 100, true);
    expect(cc.cwnd / MSS).toBeCloseTo(C * (1.1 - K) ** 3 + wMax, 6);
  });

  it('does not grow while the sender is not cwnd-limited (RFC 7661)', () => {
    const cc = afterLoss(100);
    const before = cc.cwnd;
    cc.onAck(0, MSS, 0, 100, false);
    cc.onAck(cc.cwnd, MSS, 5000, 100, false);
    expect(cc.cwnd).toBe(before);
  });

  it('a retransmission timeout sets cwnd to one segment and ssthresh to 0.7 * cwnd', () => {
    const cc = new Cubic(40 * MSS);
    cc.onRetransmissionTimeout(40 * MSS, MSS);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBeCloseTo(28 * MSS, 9);
  });
});
