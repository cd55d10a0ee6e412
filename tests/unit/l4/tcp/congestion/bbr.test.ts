/**
 * BBR v1 (draft-cardwell-iccrg-bbr-congestion-control-00) and the delivery-rate
 * estimator under it (draft-cheng-iccrg-delivery-rate-estimation), on the
 * manual clock. The model tests feed hand-made rate samples, one ACK per round
 * trip; the transfer tests run whole connections over the impaired in-memory
 * link. Expected values come from the drafts' constants, written out here.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Bbr, WindowedMax } from '../../../../../src/l4/tcp/congestion/bbr.js';
import { DeliveryRate, emptyRateSample, type RateSample } from '../../../../../src/l4/tcp/congestion/delivery-rate.js';
import type { Socket } from '../../../../../src/l4/tcp/socket.js';
import { seq } from '../../../../../src/l4/tcp/seq.js';
import { B, onlyConnection, pattern, tcpPair, type PairOptions } from '../harness.js';

const MSS = 1000;
/** draft §4.3.2: 2/ln2; §4.3.4.3 the gain cycle. */
const HIGH_GAIN = 2 / Math.log(2);
const CYCLE = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
const never = (): boolean => false;

describe('delivery-rate estimation (draft-cheng §3)', () => {
  it('rate = delivered since the packet was sent / max(send elapsed, ACK elapsed)', () => {
    const r = new DeliveryRate();
    // Ten segments at t = 0 from an empty pipe: first_sent_time = delivered_time = 0.
    for (let i = 0; i < 10; i++) r.onTransmit(seq(i * MSS), seq((i + 1) * MSS), 0, i * MSS, false);
    // The ACK for the first five at t = 10: the newest of them was sent at 0 with P.delivered = 0.
    let rs = r.onAck(10, seq(5 * MSS), seq(5 * MSS), false, 5 * MSS, never, 1);
    expect(r.delivered).toBe(5 * MSS);
    expect(rs.delivered).toBe(5 * MSS);
    expect(rs.interval).toBe(10); // send elapsed 0, ACK elapsed 10
    expect(rs.rate).toBe(500);
    expect(rs.rtt).toBe(10);
    // A segment sent at t = 10 carries P.delivered = 5000, P.delivered_time = 10, first_sent_time = 0 (the sample's send time).
    r.onTransmit(seq(10 * MSS), seq(11 * MSS), 10, 5 * MSS, false);
    rs = r.onAck(20, seq(11 * MSS), seq(11 * MSS), false, 6 * MSS, never, 1);
    expect(rs.priorDelivered).toBe(5 * MSS);
    expect(rs.delivered).toBe(6 * MSS);
    expect(rs.interval).toBe(10); // send elapsed 10 - 0, ACK elapsed 20 - 10
    expect(rs.rate).toBe(600);
  });

  it('a burst of ACKs is no faster than the data was sent: the send interval wins (§3.3)', () => {
    const r = new DeliveryRate();
    // One segment every 2 ms, all acknowledged together at t = 21.
    for (let i = 0; i < 10; i++) r.onTransmit(seq(i * MSS), seq((i + 1) * MSS), 2 * i, i === 0 ? 0 : MSS, false);
    r.onAck(3, seq(MSS), seq(MSS), false, MSS, never, 1);
    const rs = r.onAck(21, seq(10 * MSS), seq(10 * MSS), false, 9 * MSS, never, 1);
    // The newest (sent at 18) left with P.delivered = 0 and first_sent_time 0: send elapsed 18, ACK elapsed 21 - 0.
    expect(rs.interval).toBe(21);
    expect(rs.delivered).toBe(10 * MSS);
  });

  it('an interval shorter than min_rtt gives no sample', () => {
    const r = new DeliveryRate();
    r.onTransmit(seq(0), seq(MSS), 0, 0, false);
    const rs = r.onAck(1, seq(MSS), seq(MSS), false, MSS, never, 5);
    expect(rs.delivered).toBe(-1);
    expect(rs.rate).toBe(0);
  });

  it('marks samples application-limited until the data in flight at the mark is delivered (§3.3.1)', () => {
    const r = new DeliveryRate();
    r.onTransmit(seq(0), seq(MSS), 0, 0, false);
    r.markAppLimited(MSS); // nothing more to send, one segment in flight
    expect(r.appLimited).toBe(MSS);
    r.onTransmit(seq(MSS), seq(2 * MSS), 1, MSS, false); // written later, sent while app-limited
    let rs = r.onAck(10, seq(MSS), seq(MSS), false, MSS, never, 1);
    expect(rs.isAppLimited).toBe(false); // sent before the mark
    expect(r.appLimited).toBe(MSS); // C.delivered = 1000 is not past the mark yet
    rs = r.onAck(11, seq(2 * MSS), seq(2 * MSS), false, MSS, never, 1);
    expect(rs.isAppLimited).toBe(true);
    expect(r.appLimited).toBe(0); // delivered 2000 > 1000: the phase is over
    r.onTransmit(seq(2 * MSS), seq(3 * MSS), 11, 0, false);
    rs = r.onAck(21, seq(3 * MSS), seq(3 * MSS), false, MSS, never, 1);
    expect(rs.isAppLimited).toBe(false);
  });

  it('a delivered retransmission gives the sample (it was sent last), without an RTT (Karn)', () => {
    const r = new DeliveryRate();
    for (let i = 0; i < 4; i++) r.onTransmit(seq(i * MSS), seq((i + 1) * MSS), 0, i * MSS, false);
    // Segments 2-4 SACKed at t = 10 (the first was lost): 3000 delivered.
    r.onAck(10, seq(0), seq(4 * MSS), false, 3 * MSS, never, 1);
    r.onTransmit(seq(0), seq(MSS), 10, 4 * MSS, true);
    const rs = r.onAck(20, seq(4 * MSS), undefined, false, MSS, never, 1);
    expect(rs.priorDelivered).toBe(3 * MSS);
    expect(rs.delivered).toBe(MSS);
    expect(rs.rtt).toBe(-1);
    expect(r.retransmits.length).toBe(0);
    expect(r.originals.length).toBe(0);
  });
});

describe('windowed max filter (BtlBw, §4.1.1.5)', () => {
  it('keeps the maximum for 10 rounds, then forgets it', () => {
    const f = new WindowedMax(10);
    f.update(0, 100);
    for (let round = 1; round <= 10; round++) expect(f.update(round, 50)).toBe(100);
    expect(f.update(11, 50)).toBe(50);
  });

  it('falls back to the best sample still inside the window', () => {
    const f = new WindowedMax(10);
    f.update(0, 100);
    f.update(3, 80);
    f.update(6, 60);
    expect(f.update(11, 10)).toBe(80);
    expect(f.update(14, 10)).toBe(60);
  });
});

/** Drives a Bbr one ACK per round trip: each ACK's sample was sent when the previous ACK arrived. */
class Driver {
  readonly bbr = new Bbr(10 * MSS);
  now = 0;
  private rs: RateSample = emptyRateSample();

  /** One round: `rate` bytes/ms over `rtt` ms, `inflight` left in the pipe. */
  round(rate: number, o: { rtt?: number; inflight?: number; losses?: number; appLimited?: boolean; state?: 'open' | 'recovery' | 'loss' } = {}): void {
    const rtt = o.rtt ?? 10;
    this.now += rtt;
    const delivered = rate * rtt;
    const prior = this.bbr.rate.delivered;
    this.bbr.rate.delivered += delivered;
    Object.assign(this.rs, {
      delivered,
      interval: rtt,
      rate,
      priorDelivered: prior,
      isAppLimited: o.appLimited ?? false,
      rtt,
      newlyDelivered: delivered,
      losses: o.losses ?? 0,
      priorInflight: (o.inflight ?? delivered) + delivered,
      inflight: o.inflight ?? delivered,
    });
    this.bbr.onRateSample(this.rs, { now: this.now, mss: MSS, state: o.state ?? 'open', tsoMax: MSS, srtt: rtt });
  }

  /** STARTUP with doubling bandwidth, then flat until the pipe is full; ends in PROBE_BW at `rate`. */
  toProbeBw(rate = 1000): void {
    for (const r of [rate / 8, rate / 4, rate / 2, rate, rate, rate, rate]) this.round(r, { inflight: 2 * rate * 10 });
    this.round(rate, { inflight: 0 }); // DRAIN ends once inflight <= one BDP
  }
}

describe('BBR state machine (§4.3)', () => {
  it('starts in STARTUP with gain 2/ln2 and leaves after 3 rounds without 25% growth', () => {
    const d = new Driver();
    expect(d.bbr.mode).toBe('startup');
    for (const r of [100, 200, 400, 800]) d.round(r, { inflight: 20_000 });
    expect(d.bbr.pacingGain).toBeCloseTo(HIGH_GAIN, 9);
    expect(d.bbr.cwndGain).toBeCloseTo(HIGH_GAIN, 9);
    d.round(900, { inflight: 20_000 }); // +12.5%: not growth
    d.round(900, { inflight: 20_000 });
    expect(d.bbr.mode).toBe('startup');
    expect(d.bbr.fullBwCount).toBe(2);
    d.round(900, { inflight: 20_000 });
    expect(d.bbr.fullBwReached).toBe(true);
    expect(d.bbr.mode).toBe('drain');
    expect(d.bbr.pacingGain).toBeCloseTo(1 / HIGH_GAIN, 9);
    d.round(900, { inflight: 1000 });
    expect(d.bbr.mode).toBe('probe_bw');
  });

  it('does not count application-limited rounds toward a full pipe', () => {
    const d = new Driver();
    for (const r of [100, 200, 400]) d.round(r, { inflight: 20_000 });
    for (let i = 0; i < 5; i++) d.round(400, { inflight: 20_000, appLimited: true });
    expect(d.bbr.fullBwReached).toBe(false);
    expect(d.bbr.mode).toBe('startup');
  });

  it('BtlBw is the max over 10 rounds: a lower rate takes over once the high one is 10 rounds old', () => {
    const d = new Driver();
    d.toProbeBw(1000);
    const roundOfMax = d.bbr.roundCount; // the last round at 1000
    for (let i = 0; i < 10; i++) {
      d.round(500, { inflight: 5000 });
      expect(d.bbr.btlBw).toBe(d.bbr.roundCount - roundOfMax > 10 ? 500 : 1000);
    }
    d.round(500, { inflight: 5000 });
    expect(d.bbr.btlBw).toBe(500);
  });

  it('cycles the PROBE_BW pacing gain 1.25, 0.75, 1 x 6, one phase per RTprop, never starting in 0.75', () => {
    const d = new Driver();
    d.toProbeBw(1000);
    expect(d.bbr.cycleIndex).not.toBe(1);
    const gains: number[] = [];
    for (let i = 0; i < 40 && gains.length < 16; i++) {
      // inflight high enough to end the probing phase (>= 1.25 BDP), low enough to end the draining one (<= BDP)
      const g = d.bbr.pacingGain;
      d.round(1000, { rtt: 10.5, inflight: g > 1 ? 20_000 : 5000 });
      if (gains[gains.length - 1] !== d.bbr.pacingGain || d.bbr.pacingGain === 1) gains.push(d.bbr.pacingGain);
    }
    // Every 1.25 is followed by 0.75, every 0.75 by 1, and between two 1.25s there are six 1s.
    const first = gains.indexOf(1.25);
    const cycle = gains.slice(first, first + 8);
    expect(cycle).toEqual(CYCLE);
    expect(d.bbr.cwndGain).toBe(2);
  });

  it('enters PROBE_RTT when RTprop is 10 s old: cwnd 4 segments for 200 ms and a round, then restores', () => {
    const d = new Driver();
    d.toProbeBw(1000);
    for (let i = 0; i < 20; i++) d.round(1000, { inflight: 20_000 });
    expect(d.bbr.cwnd).toBeGreaterThan(20 * MSS);
    const rtProp = d.bbr.rtProp;
    // 10 s pass with RTTs above RTprop (a standing queue), so RTprop is not refreshed.
    while (d.now + 12 <= d.bbr.rtPropStamp + 10_000) d.round(1000, { rtt: 12, inflight: 20_000 });
    expect(d.bbr.mode).toBe('probe_bw');
    const before = d.bbr.cwnd;
    d.round(1000, { rtt: 12, inflight: 20_000 }); // now past RTprop's stamp + 10 s
    expect(d.bbr.mode).toBe('probe_rtt');
    expect(d.bbr.rtProp).toBe(12); // the expired estimate is replaced by the newest sample
    expect(rtProp).toBe(10);
    expect(d.bbr.cwnd).toBe(4 * MSS);
    expect(d.bbr.priorCwnd).toBe(before);
    // What flows now says nothing about the bottleneck: the estimator marks it application-limited.
    expect(d.bbr.rate.appLimited).toBeGreaterThan(0);
    const probe = { rtt: 10, inflight: 4 * MSS, appLimited: true };
    d.round(400, probe); // the pipe drained: the 200 ms start now
    const start = d.now;
    while (d.now <= start + 200) {
      expect(d.bbr.mode).toBe('probe_rtt');
      expect(d.bbr.cwnd).toBe(4 * MSS);
      d.round(400, probe);
    }
    d.round(400, probe);
    expect(d.bbr.mode).toBe('probe_bw');
    expect(d.bbr.rtProp).toBe(10);
    expect(d.bbr.btlBw).toBe(1000);
    // The window comes back (to the saved one, then held to the target: 2 BDP and the allowances).
    expect(d.bbr.cwnd).toBeGreaterThanOrEqual(2 * 1000 * 10);
  });
});

describe('BBR and loss (§4.2.3)', () => {
  it('does not cut the window on random loss: conservation for a round, then the window from before', () => {
    const d = new Driver();
    d.toProbeBw(1000);
    for (let i = 0; i < 20; i++) d.round(1000, { inflight: 15_000 });
    const cwnd = d.bbr.cwnd;
    // recovery.ts on entering recovery: onCongestionEvent, then cwnd = ssthresh.
    d.bbr.onCongestionEvent();
    d.bbr.cwnd = d.bbr.ssthresh;
    expect(d.bbr.cwnd).toBe(cwnd);
    // The first recovery ACK: packet conservation for a round, cwnd = inflight + delivered.
    d.round(1000, { inflight: 14_000, losses: 1000, state: 'recovery' });
    expect(d.bbr.packetConservation).toBe(true);
    expect(d.bbr.cwnd).toBe(14_000 + 10_000);
    // The next round: conservation is over, the window grows back toward the target though losses go on.
    d.round(1000, { inflight: 14_000, losses: 1000, state: 'recovery' });
    expect(d.bbr.packetConservation).toBe(false);
    expect(d.bbr.cwnd).toBeGreaterThanOrEqual(Math.min(cwnd, 14_000 + 10_000 + 10_000 - 1000));
    d.round(1000, { inflight: 15_000, state: 'open' });
    expect(d.bbr.cwnd).toBeGreaterThanOrEqual(cwnd);
    expect(d.bbr.btlBw).toBe(1000); // the model is untouched
    // An RTO: one segment, and the window from before comes back when the loss episode ends.
    d.bbr.onRetransmissionTimeout(15_000, MSS);
    expect(d.bbr.cwnd).toBe(MSS);
    d.round(1000, { inflight: 0, state: 'open' });
    expect(d.bbr.cwnd).toBeGreaterThanOrEqual(cwnd);
  });
});

describe('BBR over a lossy path', () => {
  async function transfer(cc: 'bbr' | 'cubic', impairment: PairOptions['impairment'], size: number) {
    const p = tcpPair({ impairment, configB: { congestionControl: cc } });
    let server: Socket | undefined;
    p.b.tcp.createServer((s) => (server = s)).listen(80);
    const client = p.a.tcp.connect({ host: B, port: 80 });
    await p.runUntil(() => server !== undefined && !client.connecting);
    const hash = createHash('sha256');
    let got = 0;
    client.on('data', (d: Buffer) => {
      hash.update(d);
      got += d.length;
    });
    const data = pattern(size);
    const start = p.now();
    server!.write(data);
    const c = onlyConnection(p.b);
    await p.runUntil(() => got >= size && c.flight === 0, 600_000);
    return { p, c, got, ms: p.now() - start, sha256: hash.digest('hex'), expected: createHash('sha256').update(data).digest('hex') };
  }

  it('4 MiB at 100 Mbit/s, 10 ms RTT, 3% loss each way: byte-exact, BtlBw found, window kept (CUBIC for contrast)', async () => {
    const impairment: PairOptions['impairment'] = { loss: 0.03, delayMs: 5, rateBitsPerSecond: 100e6, seed: 5 };
    const size = 4 * 1024 * 1024;
    const bbr = await transfer('bbr', impairment, size);
    expect(bbr.got).toBe(size);
    expect(bbr.sha256).toBe(bbr.expected);
    expect(bbr.p.linkA.impairment.counters.lost + bbr.p.linkB.impairment.counters.lost).toBeGreaterThan(30);
    const cc = bbr.c.cc as Bbr;
    expect(cc.name).toBe('bbr');
    // C.delivered counts every byte once, SACKed or cumulatively acknowledged.
    expect(cc.rate.delivered).toBe(size);
    // 100 Mbit/s = 12 500 bytes/ms of frames; the data rate is a little less (headers).
    expect(cc.btlBw).toBeGreaterThan(10_000);
    expect(cc.btlBw).toBeLessThan(12_600);
    expect(cc.rtProp).toBeGreaterThanOrEqual(10);
    expect(cc.fullBwReached).toBe(true);
    // The window stays near 2 BDP (+ allowances) despite the losses.
    expect(bbr.c.cc.cwnd).toBeGreaterThan(cc.btlBw * cc.rtProp);
    const cubic = await transfer('cubic', impairment, size);
    expect(cubic.sha256).toBe(cubic.expected);
    // Simulated time: BBR keeps the link busy, CUBIC halves on every loss.
    expect(bbr.ms).toBeLessThan(cubic.ms);
  }, 60_000);
});
