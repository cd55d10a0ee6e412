/**
 * Delivery-rate estimation: how fast data is reaching the receiver, one
 * sample per ACK, for BBR (bbr.ts).
 *
 * Read first: draft-cheng-iccrg-delivery-rate-estimation §3 (Linux
 * net/ipv4/tcp_rate.c). The connection counts the bytes delivered
 * (C.delivered: cumulatively acknowledged and SACKed, each byte once) and
 * when the count last moved (C.delivered_time). Every transmission remembers
 * those two numbers as they were when it left (P.delivered,
 * P.delivered_time), when the current flight started (P.first_sent_time) and
 * whether the sender was application-limited. When an ACK delivers it, the
 * bytes delivered since it was sent, divided by the longer of the send and
 * the ACK intervals (§3.3: a burst of ACKs must not read as a higher rate
 * than the sender could send), is the delivery rate. Of the transmissions an
 * ACK delivers the most recently sent one gives the sample (§3.2 "most
 * recently sent packet").
 *
 * Which transmission is that? Original transmissions go out in sequence
 * order, so among them it is the one holding the highest byte the ACK newly
 * delivered (the same reasoning as RACK's, rack.ts). Retransmissions are few
 * and kept in their own log, scanned like RACK scans its own. Both logs are
 * typed-array rings (no allocation per segment); entries leave once
 * cumulatively acknowledged.
 */
import type { TcpConnection } from '../connection.js';
import type { BbrAckContext } from './bbr.js';
import { nextLostHole, pipeSize } from '../recovery.js';
import { seqAdd, seqGt, seqLe, seqLt, seqSub, type SeqNum } from '../seq.js';

/** One rate sample (draft §3.1 "RS.*"), reused from ACK to ACK. Times in ms, amounts in bytes. */
export interface RateSample {
  /** RS.delivered: bytes delivered over the interval, -1 when this ACK gave no valid sample. */
  delivered: number;
  /** RS.interval: max(send_elapsed, ack_elapsed), -1 when invalid. */
  interval: number;
  /** RS.delivery_rate in bytes per ms (0 when invalid). */
  rate: number;
  /** RS.prior_delivered: C.delivered when the sampled transmission left. */
  priorDelivered: number;
  /** RS.is_app_limited: the sampled transmission left while the application had nothing to send. */
  isAppLimited: boolean;
  /** RTT of the sampled transmission when it was an original never retransmitted (Karn), else -1. */
  rtt: number;
  /** Bytes this ACK newly delivered (Linux rs->acked_sacked). */
  newlyDelivered: number;
  /** Bytes this ACK marked lost (Linux rs->losses, see lossesOnAck). */
  losses: number;
  /** pipe (RFC 6675 SetPipe) before the ACK (Linux prior_in_flight) and after it (tcp_packets_in_flight). */
  priorInflight: number;
  inflight: number;
}

/** A rate sample with no measurement yet (RS.delivered and RS.interval -1, as the draft's "invalid"). */
export function emptyRateSample(): RateSample {
  return { delivered: -1, interval: -1, rate: 0, priorDelivered: 0, isAppLimited: false, rtt: -1, newlyDelivered: 0, losses: 0, priorInflight: 0, inflight: 0 };
}

const FLAG_APP_LIMITED = 1;
const FLAG_USED = 2;
const INITIAL_CAPACITY = 64;

/** A ring of transmissions with their delivery-rate send state (§3.2 "per-packet"). */
export class RateLog {
  private starts = new Uint32Array(INITIAL_CAPACITY);
  private ends = new Uint32Array(INITIAL_CAPACITY);
  private sent = new Float64Array(INITIAL_CAPACITY);
  private delivered = new Float64Array(INITIAL_CAPACITY);
  private deliveredTime = new Float64Array(INITIAL_CAPACITY);
  private firstSent = new Float64Array(INITIAL_CAPACITY);
  private flags = new Uint8Array(INITIAL_CAPACITY);
  private head = 0;
  length = 0;

  private slot(i: number): number {
    return (this.head + i) & (this.starts.length - 1);
  }

  push(start: SeqNum, end: SeqNum, sent: number, delivered: number, deliveredTime: number, firstSent: number, appLimited: boolean): void {
    if (this.length === this.starts.length) this.grow();
    const k = this.slot(this.length++);
    this.starts[k] = start;
    this.ends[k] = end;
    this.sent[k] = sent;
    this.delivered[k] = delivered;
    this.deliveredTime[k] = deliveredTime;
    this.firstSent[k] = firstSent;
    this.flags[k] = appLimited ? FLAG_APP_LIMITED : 0;
  }

  start(i: number): SeqNum {
    return this.starts[this.slot(i)]! as SeqNum;
  }
  end(i: number): SeqNum {
    return this.ends[this.slot(i)]! as SeqNum;
  }
  sentTime(i: number): number {
    return this.sent[this.slot(i)]!;
  }
  deliveredAt(i: number): number {
    return this.delivered[this.slot(i)]!;
  }
  deliveredTimeAt(i: number): number {
    return this.deliveredTime[this.slot(i)]!;
  }
  firstSentAt(i: number): number {
    return this.firstSent[this.slot(i)]!;
  }
  appLimited(i: number): boolean {
    return (this.flags[this.slot(i)]! & FLAG_APP_LIMITED) !== 0;
  }
  /** The entry has given its sample (§3.2: "P.delivered_time = 0"), or, in the retransmission log, was delivered. */
  used(i: number): boolean {
    return (this.flags[this.slot(i)]! & FLAG_USED) !== 0;
  }
  markUsed(i: number): void {
    this.flags[this.slot(i)]! |= FLAG_USED;
  }

  /** Drops entries from the head that end at or below `una`, or (`usedToo`) are used. */
  dropAcked(una: SeqNum, usedToo: boolean): void {
    while (this.length > 0) {
      const k = this.head;
      if (!seqLe(this.ends[k]! as SeqNum, una) && !(usedToo && (this.flags[k]! & FLAG_USED) !== 0)) break;
      this.head = (this.head + 1) & (this.starts.length - 1);
      this.length--;
    }
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
  }

  /** Index of the entry holding byte `b`, or -1 (binary search: only for a log in sequence order). */
  indexOfByte(b: SeqNum): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqGt(this.end(mid), b)) hi = mid;
      else lo = mid + 1;
    }
    return lo < this.length && seqLe(this.start(lo), b) ? lo : -1;
  }

  private grow(): void {
    const n = this.starts.length * 2;
    const starts = new Uint32Array(n);
    const ends = new Uint32Array(n);
    const sent = new Float64Array(n);
    const delivered = new Float64Array(n);
    const deliveredTime = new Float64Array(n);
    const firstSent = new Float64Array(n);
    const flags = new Uint8Array(n);
    for (let i = 0; i < this.length; i++) {
      const k = this.slot(i);
      starts[i] = this.starts[k]!;
      ends[i] = this.ends[k]!;
      sent[i] = this.sent[k]!;
      delivered[i] = this.delivered[k]!;
      deliveredTime[i] = this.deliveredTime[k]!;
      firstSent[i] = this.firstSent[k]!;
      flags[i] = this.flags[k]!;
    }
    this.starts = starts;
    this.ends = ends;
    this.sent = sent;
    this.delivered = delivered;
    this.deliveredTime = deliveredTime;
    this.firstSent = firstSent;
    this.flags = flags;
    this.head = 0;
  }
}

/** The connection's delivery-rate state (draft §3.1 "C.*") and its two logs. */
export class DeliveryRate {
  /** C.delivered: bytes delivered so far. */
  delivered = 0;
  /** C.delivered_time: when C.delivered last moved (ms). */
  deliveredTime = 0;
  /** C.first_sent_time: send time of the transmission the last sample came from (start of the current flight). */
  firstSentTime = 0;
  /** C.app_limited: 0, or the C.delivered value past which samples are no longer application-limited. */
  appLimited = 0;
  readonly originals = new RateLog();
  readonly retransmits = new RateLog();
  readonly sample: RateSample = emptyRateSample();
  /** pipe between the SACK processing and the cumulative ACK of the ACK being processed (lossesOnAck). */
  private pipeMid = 0;
  private cumNew = 0;

  /** §3.2 "Transmitting a data packet": `flightBefore` is SND.NXT - SND.UNA before this transmission. */
  onTransmit(start: SeqNum, end: SeqNum, now: number, flightBefore: number, isRetransmit: boolean): void {
    if (flightBefore === 0) {
      // "If there are no packets in flight yet, then we can start the delivery rate interval at the current time".
      this.firstSentTime = now;
      this.deliveredTime = now;
    }
    const log = isRetransmit ? this.retransmits : this.originals;
    log.push(start, end, now, this.delivered, this.deliveredTime, this.firstSentTime, this.appLimited !== 0);
  }

  /**
   * §3.3.1 (Linux tcp_rate_check_app_limited): the sender has nothing more to send, room in its window and no
   * loss to repair; samples until the data now in flight is delivered are application-limited.
   */
  markAppLimited(pipe: number): void {
    this.appLimited = Math.max(this.delivered + pipe, 1);
  }

  /**
   * §3.2 "Upon receiving an ACK" + §3.3 GenerateRateSample, before SND.UNA
   * moves. `top` is the end of the highest byte of original data this ACK
   * newly delivered (undefined: none), `topRetransmitted` whether that byte
   * was ever retransmitted (its RTT is then ambiguous), `retransmitDelivered`
   * tells whether a retransmitted range is now SACKed. `minRtt` is the
   * smallest RTT seen (§3.3: an interval shorter than that is an artefact of
   * ACK compression, not a rate).
   */
  onAck(
    now: number,
    ack: SeqNum,
    top: SeqNum | undefined,
    topRetransmitted: boolean,
    newlyDelivered: number,
    retransmitDelivered: (start: SeqNum, end: SeqNum) => boolean,
    minRtt: number,
  ): RateSample {
    const rs = this.sample;
    this.delivered += newlyDelivered;
    if (newlyDelivered > 0) this.deliveredTime = now;
    rs.newlyDelivered = newlyDelivered;
    rs.losses = 0;
    rs.rtt = -1;

    // The most recently sent transmission among those this ACK delivered: largest P.delivered, then latest sent.
    let best: RateLog | undefined;
    let bestIndex = -1;
    let bestDelivered = -1;
    let bestSent = -Infinity;
    const consider = (log: RateLog, i: number): void => {
      const d = log.deliveredAt(i);
      const s = log.sentTime(i);
      if (d > bestDelivered || (d === bestDelivered && s > bestSent)) {
        best = log;
        bestIndex = i;
        bestDelivered = d;
        bestSent = s;
      }
    };
    if (top !== undefined) {
      const i = this.originals.indexOfByte(seqAdd(top, -1));
      if (i >= 0 && !this.originals.used(i)) consider(this.originals, i);
    }
    const rx = this.retransmits;
    for (let i = 0; i < rx.length; i++) {
      if (rx.used(i)) continue;
      if (seqLe(rx.end(i), ack) || retransmitDelivered(rx.start(i), rx.end(i))) {
        consider(rx, i);
        rx.markUsed(i);
      }
    }

    rs.delivered = -1;
    rs.interval = -1;
    rs.rate = 0;
    if (best !== undefined) {
      const log: RateLog = best;
      rs.priorDelivered = log.deliveredAt(bestIndex);
      rs.isAppLimited = log.appLimited(bestIndex);
      const sendElapsed = log.sentTime(bestIndex) - log.firstSentAt(bestIndex);
      const ackElapsed = this.deliveredTime - log.deliveredTimeAt(bestIndex);
      this.firstSentTime = log.sentTime(bestIndex);
      if (log === this.originals) {
        if (!topRetransmitted) rs.rtt = now - log.sentTime(bestIndex);
        log.markUsed(bestIndex);
      }
      // §3.3: "Use the longer of the send_elapsed and ack_elapsed"; shorter than min_rtt: not a real interval.
      const interval = Math.max(sendElapsed, ackElapsed);
      if (interval > 0 && interval >= (Number.isFinite(minRtt) ? minRtt : 0)) {
        rs.interval = interval;
        rs.delivered = this.delivered - rs.priorDelivered;
        rs.rate = rs.delivered / interval;
      }
    }
    // §3.3.1: the application-limited phase ends once the data that was in flight then is delivered.
    if (this.appLimited !== 0 && this.delivered > this.appLimited) this.appLimited = 0;

    this.originals.dropAcked(ack, false);
    this.retransmits.dropAcked(ack, true);
    return rs;
  }

  /**
   * Linux rs->losses, from pipe: what left pipe on this ACK without being
   * delivered was newly marked lost. Measured between the SACK processing
   * and the end of the ACK, so it misses the (rare) lost bytes that a
   * cumulative ACK covered before their retransmission, and the losses the
   * RACK reordering timer finds between ACKs.
   */
  notePipeMid(pipe: number, cumNew: number, newlySacked: number): void {
    this.pipeMid = pipe;
    this.cumNew = cumNew;
    this.sample.priorInflight = pipe + newlySacked;
  }

  lossesOnAck(pipeEnd: number): void {
    this.sample.inflight = pipeEnd;
    this.sample.losses = Math.max(0, this.pipeMid - this.cumNew - pipeEnd);
  }
}

// --- Glue to the connection (send.ts and recovery.ts call these when c.cc.rate is set) ---------------------------

/**
 * The application writes (connection.ts send, before the data is queued):
 * when it finds less than a segment unsent, room in the window and no loss
 * waiting for retransmission, the sender has been application-limited
 * (draft §3.3.1, Linux tcp_rate_check_app_limited in tcp_sendmsg). Checked
 * where the application writes, not where the send loop runs dry: after an
 * ACK the loop often finds the buffer empty a moment before the application
 * refills it, and that is not an application-limited sender.
 */
export function rateCheckAppLimited(c: TcpConnection, rate: DeliveryRate): void {
  const unsent = c.sendBuffer.length - seqSub(c.sndNxt, c.bufSeq);
  if (unsent >= c.mss) return;
  const pipe = pipeSize(c);
  if (pipe >= c.cc.cwnd) return;
  if (c.recoveryState !== 'open' && (c.relost.length > 0 || nextLostHole(c) !== undefined)) return;
  rate.markAppLimited(pipe);
}

/** A segment [start, end) goes out (send.ts transmitRange, before SND.NXT moves). */
export function rateOnTransmit(c: TcpConnection, rate: DeliveryRate, start: SeqNum, end: SeqNum, isRetransmit: boolean): void {
  rate.onTransmit(start, end, c.now(), c.flight, isRetransmit);
}

/**
 * An acceptable ACK, after its SACK blocks are on the scoreboard and before
 * SND.UNA moves (recovery.ts processAck). `sackTop`: the end of the highest
 * newly SACKed piece; `sackedBefore`: SACKed bytes before this ACK.
 */
export function rateOnAck(c: TcpConnection, rate: DeliveryRate, ack: SeqNum, sackTop: SeqNum | undefined, sackedBefore: number): void {
  const acked = Math.max(0, seqSub(ack, c.sndUna));
  const sb = c.scoreboard;
  const cumNew = acked > 0 ? acked - sb.sackedBetween(c.sndUna, ack) : 0;
  const newlySacked = c.sackOk ? Math.max(0, sb.sackedBytes - sackedBefore) : 0;
  let top = acked > 0 ? sb.lastHoleEnd(c.sndUna, ack) : undefined;
  if (sackTop !== undefined && (top === undefined || seqGt(sackTop, top))) top = sackTop;
  let topRetransmitted = false;
  if (top !== undefined) {
    const b = seqAdd(top, -1);
    if (c.recoveryState !== 'open' && seqLt(b, c.highRxt)) topRetransmitted = true;
    const rx = rate.retransmits;
    for (let i = 0; i < rx.length && !topRetransmitted; i++) if (seqLe(rx.start(i), b) && seqLt(b, rx.end(i))) topRetransmitted = true;
  }
  rate.notePipeMid(pipeSize(c), cumNew, newlySacked);
  const minRtt = c.rack.minRtt;
  rate.onAck(c.now(), ack, top, topRetransmitted, cumNew + newlySacked, (s, e) => sb.sackedBetween(s, e) >= seqSub(e, s), minRtt);
}

/** Last on every acceptable ACK (recovery.ts processAck): complete the sample and hand it to the controller. */
export function rateOnAckEnd(c: TcpConnection, rate: DeliveryRate, onSample: (rs: RateSample, ctx: BbrAckContext) => void): void {
  rate.lossesOnAck(pipeSize(c));
  onSample(rate.sample, { now: c.now(), mss: c.mss, state: c.recoveryState, tsoMax: c.tsoMax > c.mss ? c.tsoMax : c.mss, srtt: c.rtt.srtt });
}
