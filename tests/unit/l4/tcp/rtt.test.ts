/**
 * RFC 6298 retransmission timer: the numbers of §2.2-§2.5 and §5.5, worked by
 * hand here (not by calling the code twice), so a wrong constant fails.
 */
import { describe, expect, it } from 'vitest';
import { TCP_CLOCK_GRANULARITY_MS } from '../../../../src/l4/tcp/config.js';
import { RttEstimator } from '../../../../src/l4/tcp/rtt.js';

const INITIAL = 1000;
const MIN = 200;
const MAX = 120_000;

describe('RttEstimator (RFC 6298)', () => {
  it('starts at the initial RTO before any sample (§2.1)', () => {
    const r = new RttEstimator(INITIAL, MIN, MAX);
    expect(r.srtt).toBeUndefined();
    expect(r.rto).toBe(1000);
  });

  it('first measurement: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR) (§2.2)', () => {
    const r = new RttEstimator(INITIAL, MIN, MAX);
    r.sample(100);
    expect(r.srtt).toBe(100);
    expect(r.rttvar).toBe(50);
    expect(r.rto).toBe(300); // 100 + 4 * 50
    expect(r.latest).toBe(100);
  });

  it('later measurements: RTTVAR first with beta = 1/4, then SRTT with alpha = 1/8 (§2.3)', () => {
    const r = new RttEstimator(INITIAL, MIN, MAX);
    r.sample(100);
    r.sample(200);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 (with the old SRTT); SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
    expect(r.rttvar).toBe(62.5);
    expect(r.srtt).toBe(112.5);
    expect(r.rto).toBe(362.5); // 112.5 + 4 * 62.5
    r.sample(40);
    // RTTVAR = 3/4 * 62.5 + 1/4 * |112.5 - 40| = 46.875 + 18.125 = 65; SRTT = 7/8 * 112.5 + 1/8 * 40 = 103.4375
    expect(r.rttvar).toBe(65);
    expect(r.srtt).toBe(103.4375);
    expect(r.rto).toBe(363.4375);
    expect(r.minRtt).toBe(40);
  });

  it('the clock granularity G is the floor of the variance term once RTTVAR is tiny', () => {
    expect(TCP_CLOCK_GRANULARITY_MS).toBe(1);
    const r = new RttEstimator(INITIAL, 0, MAX);
    for (let i = 0; i < 30; i++) r.sample(100);
    // RTTVAR = 50 * (3/4)^29 ≈ 0.012, so 4 * RTTVAR < G = 1 ms.
    expect(r.rttvar).toBeCloseTo(50 * 0.75 ** 29, 12);
    expect(r.rto).toBe(101);
  });

  it('bounds the RTO below by the minimum and above by the maximum (§2.4, §2.5)', () => {
    const low = new RttEstimator(INITIAL, MIN, MAX);
    low.sample(10); // 10 + 4 * 5 = 30 < 200
    expect(low.rto).toBe(MIN);
    const high = new RttEstimator(INITIAL, MIN, MAX);
    high.sample(100_000); // 100 000 + 4 * 50 000 > 120 000
    expect(high.rto).toBe(MAX);
  });

  it('backs off by doubling up to the maximum, and a new sample collapses the backoff (§5.5, §5.7)', () => {
    const r = new RttEstimator(INITIAL, MIN, MAX);
    r.sample(100); // RTO 300
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) {
      r.backOff();
      seen.push(r.rto);
    }
    expect(seen).toEqual([600, 1200, 2400, 4800, 9600, 19_200, 38_400, 76_800, MAX, MAX, MAX, MAX]);
    expect(r.backoff).toBe(9); // stops counting once the maximum is reached
    r.sample(100); // RTTVAR = 3/4 * 50 = 37.5, SRTT 100: RTO 250, no backoff
    expect(r.backoff).toBe(0);
    expect(r.rto).toBe(250);
  });

  it('ignores negative and NaN samples', () => {
    const r = new RttEstimator(INITIAL, MIN, MAX);
    r.sample(-1);
    r.sample(Number.NaN);
    expect(r.srtt).toBeUndefined();
    expect(r.rto).toBe(1000);
  });
});
