/**
 * BBR (v1): a congestion controller built on a model of the path, not on loss.
 *
 * Read first: draft-cardwell-iccrg-bbr-congestion-control-00 (Linux
 * net/ipv4/tcp_bbr.c is the reference for the details the draft leaves
 * open). BBR estimates the bottleneck bandwidth (BtlBw: the largest delivery
 * rate, delivery-rate.ts, seen over the last 10 round trips) and the
 * round-trip propagation time (RTprop: the smallest RTT seen over the last
 * 10 s). Their product is the path's BDP, and BBR keeps about that much in
 * flight: cwnd = cwnd_gain * BDP plus allowances (§4.2.3). Four modes (§4.3):
 *
 *   STARTUP    gain 2/ln2 until the bandwidth stops growing by 25% for three
 *              rounds (the pipe is full);
 *   DRAIN      pacing gain ln2/2 until what is in flight is down to one BDP;
 *   PROBE_BW   pacing gains cycling 1.25, 0.75, 1, 1, 1, 1, 1, 1 (one phase
 *              per RTprop), cwnd gain 2;
 *   PROBE_RTT  when RTprop has not been refreshed for 10 s: cwnd 4 segments
 *              for 200 ms and a round trip, to see the empty-queue RTT.
 *
 * Loss does not change the model. During recovery the window follows packet
 * conservation for the first round (§4.2.3: cwnd = inflight + delivered) and
 * is restored when recovery ends; an ACK that reports losses takes them out
 * of cwnd before it grows back toward the target.
 *
 * NOT PACED. The draft calls pacing at pacing_gain * BtlBw essential; tapnet
 * has no pacer, so this BBR is window-limited: it computes the pacing rate
 * (shown in `tcp` tables, and it sizes the TSO allowance as Linux's
 * tcp_tso_autosize does) but nothing waits for it. The gain cycle therefore
 * only shapes state transitions, and DRAIN drains by the window alone (its
 * cwnd target is one BDP where Linux keeps 2/ln2 and paces slower). On
 * tapnet's paths (a TAP to the kernel of the same machine) the bottleneck is
 * the CPU, not a queue that pacing would keep short.
 *
 * Integration (recovery.ts / send.ts call in when `rate` is set): the
 * connection feeds the delivery-rate estimator on every transmission and
 * ACK, and `onRateSample` runs last on every ACK, after the loss detection
 * and PRR, so the window BBR chooses is the one the next send uses (Linux:
 * a cong_control module replaces tcp_cwnd_reduction). ssthresh is kept equal
 * to cwnd at congestion events, so recovery's "cwnd = ssthresh" steps leave
 * the window alone (Linux's bbr_ssthresh returns an infinite one).
 */
import type { CongestionControl } from './congestion.js';
import { DeliveryRate, type RateSample } from './delivery-rate.js';

/** §4.3.2: 2/ln(2), the smallest gain that doubles the sending rate each round. */
export const BBR_HIGH_GAIN = 2 / Math.LN2;
/** §4.3.3: the inverse, to drain the queue STARTUP built in one round. */
export const BBR_DRAIN_GAIN = 1 / BBR_HIGH_GAIN;
/** §4.3.4: cwnd gain in PROBE_BW, room for delayed and stretched ACKs. */
export const BBR_CWND_GAIN = 2;
/** §4.3.4.3: the PROBE_BW pacing gain cycle. */
export const BBR_PACING_GAIN_CYCLE: readonly number[] = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
/** §4.1.1: BtlBw is the maximum over this many round trips. */
export const BBR_BTLBW_FILTER_ROUNDS = 10;
/** §4.1.2: RTprop is the minimum over this long (ms). */
export const BBR_RTPROP_FILTER_MS = 10_000;
/** §4.3.5: PROBE_RTT holds the window at 4 segments this long (ms). */
export const BBR_PROBE_RTT_MS = 200;
export const BBR_MIN_CWND_SEGMENTS = 4;
/** §4.3.2.2: the pipe is full when the bandwidth grew less than 25% for 3 rounds. */
export const BBR_FULL_BW_THRESH = 1.25;
export const BBR_FULL_BW_ROUNDS = 3;
/** Linux bbr_extra_acked_win_rtts and bbr_extra_acked_max_us: the ACK-aggregation allowance's window and cap. */
const EXTRA_ACKED_ROUNDS = 5;
const EXTRA_ACKED_MAX_MS = 100;
/** Linux bbr_cycle_rand: PROBE_BW starts in one of this many phases (never the draining one). */
const CYCLE_RAND = 7;
/** Linux bbr_pacing_margin_percent: pace 1% below the estimate. */
const PACING_MARGIN = 0.99;
/** Linux TCP_INIT_CWND: the BDP stands for this many segments before RTprop is known. */
const INIT_CWND_SEGMENTS = 10;

export type BbrMode = 'startup' | 'drain' | 'probe_bw' | 'probe_rtt';
type CaState = 'open' | 'recovery' | 'loss';

/**
 * A windowed maximum (Kathleen Nichols' algorithm, as Linux lib/minmax.c):
 * the best, second-best and third-best samples of the window, each younger
 * than the one before, so the maximum over the last `window` time units is
 * kept in constant space.
 */
export class WindowedMax {
  private readonly t = [0, 0, 0];
  private readonly v = [0, 0, 0];

  constructor(private readonly window: number) {}

  get value(): number {
    return this.v[0]!;
  }

  reset(time: number, value: number): void {
    for (let i = 0; i < 3; i++) {
      this.t[i] = time;
      this.v[i] = value;
    }
  }

  update(time: number, value: number): number {
    const { t, v } = this;
    if (value >= v[0]! || time - t[2]! > this.window) {
      this.reset(time, value); // a new maximum, or nothing in the window is recent enough
      return value;
    }
    if (value >= v[1]!) {
      t[1] = t[2] = time;
      v[1] = v[2] = value;
    } else if (value >= v[2]!) {
      t[2] = time;
      v[2] = value;
    }
    const age = time - t[0]!;
    if (age > this.window) {
      // The best expired: the second becomes the best (and the third, if the second is too old as well).
      this.shift(time, value);
      if (time - t[0]! > this.window) this.shift(time, value);
    } else if (t[1] === t[0] && age > this.window / 4) {
      // A quarter of the window has gone with no second choice: take one now.
      t[1] = t[2] = time;
      v[1] = v[2] = value;
    } else if (t[2] === t[1] && age > this.window / 2) {
      t[2] = time;
      v[2] = value;
    }
    return v[0]!;
  }

  private shift(time: number, value: number): void {
    const { t, v } = this;
    t[0] = t[1]!;
    v[0] = v[1]!;
    t[1] = t[2]!;
    v[1] = v[2]!;
    t[2] = time;
    v[2] = value;
  }
}

/** What the connection tells BBR with each rate sample besides the sample itself. */
export interface BbrAckContext {
  readonly now: number;
  readonly mss: number;
  /** The connection's recovery state after this ACK (recovery.ts). */
  readonly state: CaState;
  /** Largest segment the link takes (TSO), or the MSS. */
  readonly tsoMax: number;
  /** Smoothed RTT (ms), for the first pacing rate. */
  readonly srtt: number | undefined;
}

export class Bbr implements CongestionControl {
  readonly name = 'bbr' as const;
  cwnd: number;
  ssthresh = Infinity;
  readonly rate = new DeliveryRate();
  mode: BbrMode = 'startup';
  pacingGain = BBR_HIGH_GAIN;
  cwndGain = BBR_HIGH_GAIN;
  /** Bytes per ms; computed, not enforced (see the file comment). */
  pacingRate = 0;
  /** BtlBw filter over round counts (bytes per ms). */
  readonly btlBwFilter = new WindowedMax(BBR_BTLBW_FILTER_ROUNDS);
  /** RTprop (ms) and when it was last set. */
  rtProp = Infinity;
  rtPropStamp = 0;
  /** Round trips counted (§4.1.1.3), and the C.delivered value that ends the current one. */
  roundCount = 0;
  private nextRoundDelivered = 0;
  roundStart = false;
  fullBw = 0;
  fullBwCount = 0;
  fullBwReached = false;
  cycleIndex = 0;
  private cycleStamp = 0;
  private probeRttDoneStamp: number | undefined;
  private probeRttRoundDone = false;
  priorCwnd = 0;
  packetConservation = false;
  private prevState: CaState = 'open';
  /** ACK aggregation (Linux bbr_update_ack_aggregation): the most data delivered beyond what BtlBw explains. */
  private readonly extraAcked = [0, 0];
  private extraAckedIndex = 0;
  private extraAckedRounds = 0;
  private ackEpochStart = 0;
  private ackEpochAcked = 0;
  private readonly initialWindow: number;
  /** BBR's window (bytes); `cwnd` is set from it (see setCwnd). */
  private w: number;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
    this.w = initialWindow;
    this.initialWindow = initialWindow;
  }

  get btlBw(): number {
    return this.btlBwFilter.value;
  }

  /** Window growth is decided per rate sample (onRateSample); the cumulative-ACK hook has nothing to add. */
  onAck(): void {}

  /** Recovery starts, or a loss probe repaired a loss: remember the window, do not cut it (Linux bbr_ssthresh). */
  onCongestionEvent(): void {
    this.saveCwnd();
    this.cwnd = this.w;
    this.ssthresh = this.w;
  }

  /** RTO (Linux tcp_enter_loss + bbr_set_state(TCP_CA_Loss)): one segment, restored when recovery ends. */
  onRetransmissionTimeout(_flight: number, mss: number): void {
    this.saveCwnd();
    this.prevState = 'loss';
    this.fullBw = 0;
    this.roundStart = true;
    this.w = mss;
    this.cwnd = mss;
    this.ssthresh = mss;
  }

  /** §4.2.3 "save cwnd": the larger of the windows before recovery and PROBE_RTT. */
  private saveCwnd(): void {
    if (this.prevState === 'open' && this.mode !== 'probe_rtt') this.priorCwnd = this.w;
    else this.priorCwnd = Math.max(this.priorCwnd, this.w);
  }

  /** Every ACK, last (recovery.ts): update the model, then choose pacing rate and cwnd (§4.2, Linux bbr_main). */
  onRateSample(rs: RateSample, ctx: BbrAckContext): void {
    this.updateBtlBw(rs);
    this.updateAckAggregation(rs, ctx.now);
    this.updateCyclePhase(rs, ctx);
    this.checkFullPipe(rs);
    this.checkDrain(rs, ctx);
    this.updateRtProp(rs, ctx);
    this.updateGains();
    this.setPacingRate(ctx);
    this.setCwnd(rs, ctx);
  }

  /** §4.1.1.3 round counting and §4.1.1.5 the BtlBw max filter (app-limited samples only when they raise it). */
  private updateBtlBw(rs: RateSample): void {
    this.roundStart = false;
    if (rs.delivered < 0 || rs.interval <= 0) return;
    if (rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = this.rate.delivered;
      this.roundCount++;
      this.roundStart = true;
      this.packetConservation = false;
    }
    if (!rs.isAppLimited || rs.rate >= this.btlBw) this.btlBwFilter.update(this.roundCount, rs.rate);
  }

  /** §4.3.2.2: the pipe is full after three rounds without 25% more bandwidth (app-limited rounds do not count). */
  private checkFullPipe(rs: RateSample): void {
    if (this.fullBwReached || !this.roundStart || rs.isAppLimited) return;
    if (this.btlBw >= this.fullBw * BBR_FULL_BW_THRESH) {
      this.fullBw = this.btlBw;
      this.fullBwCount = 0;
      return;
    }
    this.fullBwCount++;
    this.fullBwReached = this.fullBwCount >= BBR_FULL_BW_ROUNDS;
  }

  /** §4.3.3: STARTUP → DRAIN once the pipe is full, DRAIN → PROBE_BW once inflight ≤ one BDP. */
  private checkDrain(rs: RateSample, ctx: BbrAckContext): void {
    if (this.mode === 'startup' && this.fullBwReached) {
      this.mode = 'drain';
      this.ssthresh = this.inflightFor(1, ctx);
    }
    if (this.mode === 'drain' && rs.inflight <= this.inflightFor(1, ctx)) this.enterProbeBw(ctx.now);
  }

  /** §4.3.4.4: PROBE_BW starts in a random phase other than the draining one. */
  private enterProbeBw(now: number): void {
    this.mode = 'probe_bw';
    // Linux draws the phase at random; tapnet derives it from the microsecond clock (deterministic on a manual clock).
    const r = Math.floor(now * 1000) % CYCLE_RAND;
    this.cycleIndex = BBR_PACING_GAIN_CYCLE.length - 1 - r;
    this.advanceCycle(now);
  }

  private advanceCycle(now: number): void {
    this.cycleIndex = (this.cycleIndex + 1) % BBR_PACING_GAIN_CYCLE.length;
    this.cycleStamp = now;
  }

  /**
   * §4.3.4.3: a phase lasts one RTprop; the probing phase (1.25) also waits
   * until inflight reaches 1.25 BDP or a loss shows the pipe is full, the
   * draining one (0.75) ends early once inflight is down to one BDP.
   */
  private updateCyclePhase(rs: RateSample, ctx: BbrAckContext): void {
    if (this.mode !== 'probe_bw') return;
    const fullLength = ctx.now - this.cycleStamp > this.rtProp;
    const gain = this.pacingGain;
    let next: boolean;
    if (gain === 1) next = fullLength;
    else if (gain > 1) next = fullLength && (rs.losses > 0 || rs.priorInflight >= this.inflightFor(gain, ctx));
    else next = fullLength || rs.priorInflight <= this.inflightFor(1, ctx);
    if (next) this.advanceCycle(ctx.now);
  }

  /** §4.1.2.3 the RTprop min filter, §4.3.5 PROBE_RTT. */
  private updateRtProp(rs: RateSample, ctx: BbrAckContext): void {
    const now = ctx.now;
    const expired = now > this.rtPropStamp + BBR_RTPROP_FILTER_MS;
    if (rs.rtt >= 0 && (rs.rtt < this.rtProp || expired)) {
      this.rtProp = rs.rtt;
      this.rtPropStamp = now;
    }
    if (expired && this.mode !== 'probe_rtt') {
      this.mode = 'probe_rtt';
      this.saveCwnd();
      this.probeRttDoneStamp = undefined;
    }
    if (this.mode !== 'probe_rtt') return;
    // What flows during PROBE_RTT says nothing about the bottleneck (Linux marks it application-limited).
    this.rate.markAppLimited(rs.inflight);
    if (this.probeRttDoneStamp === undefined && rs.inflight <= BBR_MIN_CWND_SEGMENTS * ctx.mss) {
      this.probeRttDoneStamp = now + BBR_PROBE_RTT_MS;
      this.probeRttRoundDone = false;
      this.nextRoundDelivered = this.rate.delivered;
    } else if (this.probeRttDoneStamp !== undefined) {
      if (this.roundStart) this.probeRttRoundDone = true;
      if (this.probeRttRoundDone && now > this.probeRttDoneStamp) {
        this.rtPropStamp = now;
        this.w = Math.max(this.w, this.priorCwnd);
        this.mode = this.fullBwReached ? 'probe_bw' : 'startup';
        if (this.mode === 'probe_bw') this.enterProbeBw(now);
      }
    }
  }

  private updateGains(): void {
    switch (this.mode) {
      case 'startup':
        this.pacingGain = BBR_HIGH_GAIN;
        this.cwndGain = BBR_HIGH_GAIN;
        break;
      case 'drain':
        // Linux keeps cwnd_gain = high_gain here and drains by pacing slower. Unpaced, only the window can drain
        // the queue STARTUP built: its target is one BDP (see setCwnd), or DRAIN would never end.
        this.pacingGain = BBR_DRAIN_GAIN;
        this.cwndGain = 1;
        break;
      case 'probe_bw':
        this.pacingGain = BBR_PACING_GAIN_CYCLE[this.cycleIndex]!;
        this.cwndGain = BBR_CWND_GAIN;
        break;
      case 'probe_rtt':
        this.pacingGain = 1;
        this.cwndGain = 1;
        break;
    }
  }

  /** §4.2.1: pacing_gain * BtlBw (1% under it); before the first sample, high_gain * initial window / SRTT. */
  private setPacingRate(ctx: BbrAckContext): void {
    if (this.btlBw <= 0) {
      if (this.pacingRate === 0) this.pacingRate = (BBR_HIGH_GAIN * this.initialWindow) / Math.max(ctx.srtt ?? 1, 0.001);
      return;
    }
    const rate = this.pacingGain * this.btlBw * PACING_MARGIN;
    if (this.fullBwReached || rate > this.pacingRate) this.pacingRate = rate;
  }

  /** §4.2.3.2 BBRInflight: gain * BDP plus the quantization allowance, in bytes. */
  inflightFor(gain: number, ctx: { mss: number; tsoMax: number }): number {
    return this.quantizationBudget(this.bdp(gain, ctx.mss), ctx);
  }

  private bdp(gain: number, mss: number): number {
    if (!Number.isFinite(this.rtProp)) return this.initialWindow; // no RTT yet (Linux: TCP_INIT_CWND)
    return Math.ceil((gain * this.btlBw * this.rtProp) / mss) * mss;
  }

  /**
   * Room for the segments TSO sends at once on both ends of the path
   * (Linux bbr_quantization_budget: 3 send quanta, rounded up to an even
   * number of segments, two more in the probing phase). The quantum is what
   * the pacing rate sends in 1 ms, 2 segments at least, at most the largest
   * frame the link takes (tcp_tso_autosize).
   */
  private quantizationBudget(bytes: number, ctx: { mss: number; tsoMax: number }): number {
    const mss = ctx.mss;
    const quantum = Math.max(2 * mss, Math.min(Math.floor(this.pacingRate / mss) * mss, Math.floor(ctx.tsoMax / mss) * mss));
    let segments = Math.ceil((bytes + 3 * quantum) / mss);
    segments += segments & 1;
    if (this.mode === 'probe_bw' && this.cycleIndex === 0) segments += 2;
    return segments * mss;
  }

  /**
   * Linux bbr_update_ack_aggregation: ACKs arrive in bursts (the receiver's
   * delayed and stretched ACKs, tapnet reading the TAP in batches), and
   * BtlBw * RTprop alone would leave the sender idle between bursts. The
   * largest excess of delivered data over what BtlBw predicts for the ACK
   * epoch, kept over 5 rounds, is added to the window (capped by 100 ms of
   * BtlBw and by cwnd).
   */
  private updateAckAggregation(rs: RateSample, now: number): void {
    if (rs.newlyDelivered <= 0 || rs.delivered < 0 || rs.interval <= 0) return;
    if (this.roundStart) {
      this.extraAckedRounds = Math.min(0x1f, this.extraAckedRounds + 1);
      if (this.extraAckedRounds >= EXTRA_ACKED_ROUNDS) {
        this.extraAckedRounds = 0;
        this.extraAckedIndex ^= 1;
        this.extraAcked[this.extraAckedIndex] = 0;
      }
    }
    let expected = this.btlBw * (now - this.ackEpochStart);
    if (this.ackEpochAcked <= expected) {
      this.ackEpochAcked = 0;
      this.ackEpochStart = now;
      expected = 0;
    }
    this.ackEpochAcked += rs.newlyDelivered;
    const extra = Math.min(this.ackEpochAcked - expected, this.w);
    if (extra > this.extraAcked[this.extraAckedIndex]!) this.extraAcked[this.extraAckedIndex] = extra;
  }

  private aggregationAllowance(): number {
    if (!this.fullBwReached) return 0;
    return Math.min(Math.max(this.extraAcked[0]!, this.extraAcked[1]!), this.btlBw * EXTRA_ACKED_MAX_MS);
  }

  /**
   * §4.2.3.4 (Linux bbr_set_cwnd): toward the target, cwnd_gain * BDP plus
   * the allowances, growing by what was delivered; in recovery, packet
   * conservation first; PROBE_RTT caps it at 4 segments. Works on BBR's own
   * window `w` and writes it to cwnd on every ACK, also one that delivered
   * nothing: PRR (rack.ts) sets cwnd during recovery, and BBR's choice must
   * be the one the next send sees.
   */
  private setCwnd(rs: RateSample, ctx: BbrAckContext): void {
    const mss = ctx.mss;
    const acked = rs.newlyDelivered;
    if (acked > 0 && !this.recoverOrRestore(rs, ctx)) {
      // In DRAIN the target is what checkDrain waits for (no aggregation allowance), so the window reaches it.
      const target =
        this.mode === 'drain' ? this.inflightFor(1, ctx) : this.quantizationBudget(this.bdp(this.cwndGain, mss) + this.aggregationAllowance(), ctx);
      if (this.fullBwReached) this.w = Math.min(this.w + acked, target);
      else if (this.w < target || this.rate.delivered < INIT_CWND_SEGMENTS * mss) this.w += acked;
      this.w = Math.max(this.w, BBR_MIN_CWND_SEGMENTS * mss);
    }
    if (this.mode === 'probe_rtt') this.w = Math.min(this.w, BBR_MIN_CWND_SEGMENTS * mss);
    this.cwnd = this.w;
  }

  /**
   * §4.2.3.3-4.2.3.4 (Linux bbr_set_cwnd_to_recover_or_restore): losses come
   * out of cwnd; the first round of recovery conserves packets (cwnd =
   * inflight + delivered); leaving recovery restores the window from before.
   * Sets `w` and says whether conservation decided it.
   */
  private recoverOrRestore(rs: RateSample, ctx: BbrAckContext): boolean {
    const mss = ctx.mss;
    let cwnd = this.w;
    if (rs.losses > 0) cwnd = Math.max(cwnd - rs.losses, mss);
    const state = ctx.state;
    if (state === 'recovery' && this.prevState !== 'recovery') {
      this.packetConservation = true;
      this.nextRoundDelivered = this.rate.delivered; // the conservation round starts now
      cwnd = rs.inflight + rs.newlyDelivered;
    } else if (this.prevState !== 'open' && state === 'open') {
      cwnd = Math.max(cwnd, this.priorCwnd);
      this.packetConservation = false;
    }
    this.prevState = state;
    if (this.packetConservation) {
      this.w = Math.max(cwnd, rs.inflight + rs.newlyDelivered);
      return true;
    }
    this.w = cwnd;
    return false;
  }
}
