/**
 * RACK-TLP: loss detection by time instead of by counting duplicate ACKs.
 *
 * Read first: RFC 8985 §6 (RACK: a segment is lost when a segment sent
 * sufficiently later has been delivered, "sufficiently" being the reordering
 * window RACK.reo_wnd) and §7 (TLP: when the tail of a flight is lost nothing
 * comes back to trigger RACK, so after a probe timeout of about 2 RTT send one
 * segment to provoke an ACK, instead of waiting for the RTO). Linux
 * (net/ipv4/tcp_recovery.c, tcp_output.c tcp_send_loss_probe) is the model.
 *
 * How it sits on the rest of recovery (recovery.ts): original transmissions
 * go out in sequence order, so the segments RACK finds lost among them are
 * always a prefix; `lostEnd` is that boundary, and the RFC 6675 machinery
 * (scoreboard holes, HighRxt, pipe) retransmits the unSACKed holes below it.
 * Retransmissions have their own send times; one found lost goes to
 * `c.relost` and is sent again first.
 *
 * Only for connections with SACK (as Linux: without SACK there is nothing
 * to tell which later segment arrived); NewReno handles the others.
 */
import { TCP_DUPTHRESH, TCP_TLP_MAX_ACK_DELAY_MS, TCP_TLP_TIMEOUT_MIN_MS } from './config.js';
import type { TcpConnection } from './connection.js';
import type { Segment } from './segment.js';
import { SegmentLog } from './segment-log.js';
import { seq, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub, type SeqNum } from './seq.js';
import { TcpState } from './state.js';

/** RFC 8985 §6.2 step 4: how many recoveries a DSACK-widened window persists ("RACK.reo_wnd_persist = 16"). */
const REO_WND_PERSIST = 16;

export type LossTimerMode = 'none' | 'reorder' | 'probe';

/** Per-connection RACK, TLP and PRR state (RFC 8985 §6.1, §7.1; RFC 6937 §3). */
export class RackTlp {
  /** Original transmissions in send order (= sequence order): end and send time. */
  readonly sent = new SegmentLog();
  /** Retransmissions in send order; `extra` is SND.NXT when each was sent. */
  readonly retransmits = new SegmentLog();

  // RFC 8985 §6.1: the most recently sent segment among those delivered.
  /** RACK.xmit_ts (-Infinity before the first delivery). */
  xmitTs = -Infinity;
  /** RACK.end_seq */
  endSeq = seq(0);
  /**
   * Which transmission that was (a counter over all of the connection's
   * transmissions). RACK_sent_after breaks ties in xmit_ts by end_seq, which
   * assumes a clock fine enough that a retransmission never shares a tick
   * with later new data; a simulated clock often stands still, so tapnet
   * breaks ties by this send order instead.
   */
  xmitOrder = -1;
  /** Transmissions so far (the next one's order). */
  transmissions = 0;
  /** RACK.rtt: the RTT of that segment. */
  rtt = 0;
  /**
   * The smallest RACK.rtt measured on a never-retransmitted segment, from the
   * send times above (sub-millisecond). The RTT estimator's samples come from
   * TCP timestamps in whole milliseconds and read 0 on a fast path, which
   * would turn §6.2 step 2's "faster than min_RTT" test and the reordering
   * window (min_RTT / 4) off.
   */
  minRtt = Infinity;
  /** RACK.fack: the highest sequence number delivered. */
  fack = seq(0);
  /** RACK.reord: reordering was seen on this connection. */
  reord = false;
  /** RACK.reo_wnd_mult, RACK.reo_wnd_persist, RACK.dsack_round (§6.2 step 4). */
  reoWndMult = 1;
  reoWndPersist = 0;
  dsackRound: SeqNum | undefined;
  /** The peer has sent a DSACK (RFC 2883): it reports duplicates, so §7.4 can tell a needless probe retransmission. */
  dsackSeen = false;
  /** Original data below this is lost, as far as RACK knows (the prefix boundary described above). */
  lostEnd = seq(0);

  /** What the loss timer (c.lossTimer) is armed for: the RACK reordering timer or the TLP probe timer. */
  timerMode: LossTimerMode = 'none';
  /** New data was sent or new data acknowledged: re-arm the probe timer at the end of this turn (§7.2). */
  probeWanted = false;
  /** TLP.end_seq: SND.NXT when the probe went, undefined outside a TLP episode (§7.1). */
  tlpEndSeq: SeqNum | undefined;
  /** TLP.is_retrans: the probe was a retransmission. */
  tlpIsRetrans = false;

  // RFC 6937 §3 Proportional Rate Reduction.
  prrDelivered = 0;
  prrOut = 0;
  recoverFs = 0;

  /** The sequence numbers above start at the connection's first data, set on its first transmission. */
  private started = false;

  startAt(first: SeqNum): void {
    if (this.started) return;
    this.started = true;
    this.endSeq = first;
    this.fack = first;
    this.lostEnd = first;
  }
}

export function rackEnabled(c: TcpConnection): boolean {
  return c.sackOk && c.config.rack;
}

/** RACK_sent_after (§6.2 step 2): sent later, or in the same tick but later (see `xmitOrder`). */
function sentAfter(t1: number, order1: number, t2: number, order2: number): boolean {
  return t1 > t2 || (t1 === t2 && order1 > order2);
}

/** Called for every segment transmitted (send.ts). */
export function rackOnTransmit(c: TcpConnection, start: SeqNum, end: SeqNum, isRetransmit: boolean): void {
  const r = c.rack;
  const now = c.now();
  r.startAt(start);
  const order = r.transmissions++;
  if (isRetransmit) r.retransmits.push(start, end, now, order, c.sndNxt);
  else r.sent.push(start, end, now, order);
  if (c.recoveryState === 'recovery') r.prrOut += seqSub(end, start);
  if (!isRetransmit) r.probeWanted = true;
}

/** RFC 2883 §4: the first SACK block reports a duplicate when it lies below the ACK or inside the second block. */
export function hasDsack(seg: Segment): boolean {
  if (seg.sackCount === 0) return false;
  const left = seq(seg.sackEdges[0]!);
  const right = seq(seg.sackEdges[1]!);
  if (seqLe(right, seg.ack)) return true;
  if (seg.sackCount < 2) return false;
  return seqLe(seq(seg.sackEdges[2]!), left) && seqLe(right, seq(seg.sackEdges[3]!));
}

/**
 * §6.2 steps 2-3 for one ACK: update RACK.xmit_ts/end_seq/rtt from the most
 * recently sent segment this ACK delivered, and note reordering. `ackTop` is
 * the end of the unSACKed data the cumulative ACK newly covered, `sackTop`
 * the end of the highest newly SACKed piece (either may be undefined).
 *
 * Returns the RTT of the newest never-retransmitted segment this ACK
 * delivered, measured from its send time (sub-millisecond), or undefined:
 * the RTT estimator's sample when there is one (see sampleRtt in recovery.ts).
 */
export function rackUpdate(c: TcpConnection, seg: Segment, ackTop: SeqNum | undefined, sackTop: SeqNum | undefined): number | undefined {
  const r = c.rack;
  const now = c.now();
  const minRtt = rackMinRtt(c);
  let bestTs = -Infinity;
  let bestOrder = -1;
  let bestEnd = seq(0);

  // Retransmissions this ACK delivered, oldest first. §6.2 step 2: ignore one that came back faster than any RTT
  // (the original arrived). Like Linux (tcp_rack_advance), tapnet skips the RFC's other test, "TSecr older than
  // the retransmission": a SACK for out-of-order data echoes an old TSval by design (RFC 7323 §4.3), so the test
  // would throw away exactly the deliveries a tail loss probe is sent to provoke.
  // The highest original data delivered: originals go out in sequence order, so it is also the latest sent.
  let top = ackTop;
  if (sackTop !== undefined && (top === undefined || seqGt(sackTop, top))) top = sackTop;
  /** Some retransmission (a TLP probe outside recovery included) covered the top byte: its RTT is ambiguous (Karn). */
  let topRetransmitted = false;

  const log = r.retransmits;
  for (let i = 0; i < log.length; i++) {
    const start = log.start(i);
    const end = log.end(i);
    if (top !== undefined && seqLt(start, top) && seqLe(top, end)) topRetransmitted = true;
    if (log.isDone(i)) continue;
    const delivered = seqLe(end, seg.ack) || c.scoreboard.sackedBetween(start, end) >= seqSub(end, start);
    if (!delivered) continue;
    const t = log.time(i);
    const order = log.order(i);
    i = finishEntry(log, i);
    if (now - t < minRtt) continue;
    // The RFC's other test, for a cumulative ACK only: it echoes the TSval of the segment that moved RCV.NXT (RFC
    // 7323 §4.3), so an echo older than this retransmission's TSval means the original moved it. Taking the
    // retransmission as delivered would make RACK.xmit_ts jump to its send time and declare lost everything sent
    // before it whose ACKs are still on their way (a stack reading its ACKs in batches sees that every time):
    // those spurious retransmissions feed the next round of the same (seen against Linux under 3% loss: 20x the
    // real losses retransmitted, each answered by a DSACK).
    if (c.tsOk && seg.hasTimestamps && seqLe(end, seg.ack) && echoIsOlder(seg.tsEcr, (Math.floor(t) + c.tsOffset) >>> 0)) continue;
    if (sentAfter(t, order, bestTs, bestOrder)) {
      bestTs = t;
      bestOrder = order;
      bestEnd = end;
    }
  }

  let sample: number | undefined;
  if (top !== undefined) {
    const i = indexOfByte(r.sent, seqAdd(top, -1));
    if (i >= 0) {
      const t = r.sent.time(i);
      const order = r.sent.order(i);
      const retransmitted = topRetransmitted || (c.recoveryState !== 'open' && seqLt(seqAdd(top, -1), c.highRxt));
      if (!retransmitted && sentAfter(t, order, bestTs, bestOrder)) {
        bestTs = t;
        bestOrder = order;
        bestEnd = r.sent.end(i);
      }
      // An unambiguous RTT sample (never retransmitted, Karn: RFC 6298 §3): the precise min_RTT, and the estimator's.
      if (!retransmitted) sample = now - t;
      if (!retransmitted && now - t < r.minRtt) r.minRtt = now - t;
      // §6.2 step 3: a never-retransmitted segment delivered below RACK.fack arrived out of order.
      if (!retransmitted && seqLt(top, r.fack)) {
        if (!r.reord) c.layer.ctx.stats.inc('TcpExtTCPSACKReorder');
        r.reord = true;
      }
    }
    if (seqGt(top, r.fack)) r.fack = top;
  }
  if (bestTs === -Infinity) return sample;
  r.rtt = now - bestTs;
  if (sentAfter(bestTs, bestOrder, r.xmitTs, r.xmitOrder)) {
    r.xmitTs = bestTs;
    r.xmitOrder = bestOrder;
    r.endSeq = bestEnd;
  }
  return sample;
}

/** min_RTT for RACK: its own sub-millisecond samples, else the RTT estimator's. */
export function rackMinRtt(c: TcpConnection): number {
  const own = c.rack.minRtt;
  return Number.isFinite(own) ? own : c.rtt.minRtt;
}

/** TSecr `echo` is from before TSval `tsval` (32-bit timestamps compare modulo 2^32, RFC 7323 §5.2). */
function echoIsOlder(echo: number, tsval: number): boolean {
  return ((echo - tsval) | 0) < 0;
}

/** Marks entry i done; returns the index to continue a forward loop from (entries may have left the head). */
function finishEntry(log: SegmentLog, i: number): number {
  const before = log.length;
  log.finish(i);
  return i - (before - log.length);
}

/** Index of the original transmission holding byte `b`, or -1 (binary search on the ascending ends). */
function indexOfByte(log: SegmentLog, b: SeqNum): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqGt(log.end(mid), b)) hi = mid;
    else lo = mid + 1;
  }
  return lo < log.length && seqLe(log.start(lo), b) ? lo : -1;
}

/**
 * §6.2 step 4, RACK_update_reo_wnd: min_RTT/4 by default, widened by one
 * quarter min_RTT per round that saw a DSACK (kept for 16 recoveries), and
 * 0 while no reordering has been seen and the sender is in recovery or has
 * DupThresh segments SACKed (then RACK behaves like the duplicate-ACK rule).
 */
export function reorderingWindow(c: TcpConnection): number {
  const r = c.rack;
  if (!r.reord && (c.recoveryState !== 'open' || c.scoreboard.sackedBytes >= TCP_DUPTHRESH * c.mss)) return 0;
  const minRtt = rackMinRtt(c);
  if (!Number.isFinite(minRtt)) return 0;
  return Math.min((r.reoWndMult * minRtt) / 4, c.rtt.srtt ?? minRtt);
}

/** §6.2 step 4, the DSACK part: called for every ACK, `dsack` when its first SACK block is a duplicate. */
export function rackOnDsack(c: TcpConnection, dsack: boolean): void {
  const r = c.rack;
  if (dsack) r.dsackSeen = true;
  if (r.dsackRound !== undefined && seqGe(c.sndUna, r.dsackRound)) r.dsackRound = undefined;
  if (r.dsackRound === undefined && dsack) {
    r.dsackRound = c.sndNxt;
    r.reoWndMult++;
    r.reoWndPersist = REO_WND_PERSIST;
  }
}

/** §6.2 step 4: "Else if exiting Fast or RTO recovery: RACK.reo_wnd_persist -= 1". */
export function rackOnRecoveryEnd(c: TcpConnection): void {
  const r = c.rack;
  if (--r.reoWndPersist <= 0) {
    r.reoWndPersist = 0;
    r.reoWndMult = 1;
  }
}

/**
 * §6.2 step 5, RACK_detect_loss: every unacknowledged segment sent before
 * RACK.xmit_ts is lost once RACK.rtt + RACK.reo_wnd has passed since it was
 * sent. Moves `lostEnd` and `c.relost`; returns how long until the next
 * segment would be declared lost (0: none pending), for the reordering timer.
 */
export function rackDetectLoss(c: TcpConnection): number {
  const r = c.rack;
  if (r.xmitTs === -Infinity) return 0;
  const now = c.now();
  const wait = r.rtt + reorderingWindow(c);
  let timeout = 0;

  // Retransmissions (in send order): a lost one is sent again (Linux counts TcpExtTCPLostRetransmit).
  const log = r.retransmits;
  for (let i = 0; i < log.length; i++) {
    if (log.isDone(i)) continue;
    const t = log.time(i);
    const end = log.end(i);
    if (!sentAfter(r.xmitTs, r.xmitOrder, t, log.order(i))) break;
    const remaining = t + wait - now;
    if (remaining > 0) {
      timeout = Math.max(timeout, remaining);
      continue;
    }
    const start = seqMax(log.start(i), c.sndUna);
    if (seqLt(start, end) && c.scoreboard.sackedBetween(start, end) < seqSub(end, start)) {
      c.relost.push({ start, end });
      c.layer.ctx.stats.inc('TcpExtTCPLostRetransmit');
    }
    i = finishEntry(log, i);
  }

  // Originals: the ones sent before RACK.xmit_ts form a prefix of the log, and so do the expired ones.
  const sent = r.sent;
  let lo = 0;
  let hi = sent.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sentAfter(r.xmitTs, r.xmitOrder, sent.time(mid), sent.order(mid))) lo = mid + 1;
    else hi = mid;
  }
  const before = lo; // entries [0, before) were sent before RACK.xmit_ts
  lo = 0;
  hi = before;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sent.time(mid) + wait - now <= 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) {
    const end = sent.end(lo - 1);
    if (seqGt(end, r.lostEnd)) r.lostEnd = end;
  }
  for (let i = lo; i < before; i++) {
    // Only a segment with unSACKed bytes needs the timer; SACKed ones are delivered already.
    const start = seqMax(sent.start(i), c.sndUna);
    const end = sent.end(i);
    if (seqLt(start, end) && c.scoreboard.sackedBetween(start, end) < seqSub(end, start)) {
      timeout = Math.max(timeout, sent.time(before - 1) + wait - now);
      break;
    }
  }
  return timeout;
}

/** RACK has found something lost that is not yet being repaired. */
export function rackHasLoss(c: TcpConnection): boolean {
  if (c.relost.length > 0) return true;
  const r = c.rack;
  if (!seqGt(r.lostEnd, c.sndUna)) return false;
  return c.scoreboard.nextHole(c.sndUna, r.lostEnd) !== undefined;
}

// --- TLP (§7) ---------------------------------------------------------------

/** §7.2: a probe timer may run: SACK, nothing SACKed, not in recovery, data outstanding, no probe in flight. */
export function probeAllowed(c: TcpConnection): boolean {
  return (
    rackEnabled(c) &&
    c.recoveryState === 'open' &&
    c.scoreboard.isEmpty &&
    c.flight > 0 &&
    c.rack.tlpEndSeq === undefined &&
    (c.state === TcpState.ESTABLISHED || c.state === TcpState.CLOSE_WAIT || c.state === TcpState.FIN_WAIT_1 || c.state === TcpState.CLOSING || c.state === TcpState.LAST_ACK)
  );
}

/**
 * §7.2 TLP_calc_PTO: 2 * SRTT, plus the peer's worst-case delayed ACK when
 * one segment is in flight (its ACK may be delayed), 1 s without an RTT
 * sample; never past when the RTO would fire.
 */
export function probeTimeout(c: TcpConnection, rtoRemaining: number): number {
  const srtt = c.rtt.srtt;
  let pto: number;
  if (srtt === undefined) pto = 1000;
  else {
    pto = 2 * srtt;
    pto += c.flight <= c.mss ? TCP_TLP_MAX_ACK_DELAY_MS : TCP_TLP_TIMEOUT_MIN_MS;
  }
  return Math.max(0, Math.min(pto, rtoRemaining));
}

/**
 * §7.3 TLP_send_probe sends new data when there is some and the peer's window
 * takes it. tapnet retransmits the last segment instead when the whole flight
 * is one TSO super-frame (one transmission of more than one segment). A
 * receiver answers a GSO packet with one ACK; when that ACK is lost, a probe
 * of one new segment arrives in order and may wait for the receiver's
 * delayed-ACK timer (RFC 5681 §4.2 lets it wait for a second segment; Linux
 * waits ~40 ms), while a duplicate is acknowledged at once (RFC 5681 §4.2,
 * with a DSACK, RFC 2883) and the DSACK tells §7.4 nothing was lost. Against
 * Linux under 3% loss about half of the ~170 probes per 256 MiB download met
 * that timer (bench/RESULTS.md). When the frame itself was lost, the
 * retransmitted last segment is SACKed at once and RACK repairs the rest.
 * Only with a peer that has sent a DSACK already: without one, §7.4 must take
 * every retransmitted probe for a repaired loss and reduce the window.
 */
export function probeRetransmits(c: TcpConnection): boolean {
  const r = c.rack;
  return r.dsackSeen && r.sent.length === 1 && r.retransmits.length === 0 && c.flight > c.mss;
}

/**
 * §7.4, what an ACK means for a TLP episode (Linux tcp_process_tlp_ack).
 * Returns true when the probe repaired a loss, which calls for a congestion
 * response (the caller reduces the window once).
 */
export function tlpOnAck(c: TcpConnection, seg: Segment, dsack: boolean, pureDuplicate: boolean): boolean {
  const r = c.rack;
  const end = r.tlpEndSeq;
  if (end === undefined || seqLt(seg.ack, end)) return false;
  if (!r.tlpIsRetrans) {
    r.tlpEndSeq = undefined; // the probe was new data, and it was delivered
    return false;
  }
  if (dsack && seq(seg.sackEdges[1]!) === end) {
    r.tlpEndSeq = undefined; // the receiver had the original too: no loss
    return false;
  }
  if (seqGt(seg.ack, end)) {
    // The ACK moved past the probe without a DSACK for it: the probe repaired a loss.
    r.tlpEndSeq = undefined;
    c.layer.ctx.stats.inc('TcpExtTCPLossProbeRecovery');
    return true;
  }
  // Linux: a pure duplicate ACK (no new data ACKed or SACKed, no window update) at the probe's end means the
  // original and the probe both arrived.
  if (pureDuplicate) r.tlpEndSeq = undefined;
  return false;
}

// --- PRR (RFC 6937 §3) -------------------------------------------------------

/** "At the beginning of recovery": RecoverFS = snd.nxt - snd.una, the counters at zero. */
export function prrEnter(c: TcpConnection): void {
  const r = c.rack;
  r.prrDelivered = 0;
  r.prrOut = 0;
  r.recoverFs = Math.max(c.flight, 1);
}

/**
 * "On every ACK starting or during recovery": sndcnt from the delivered and
 * sent counts, with the slow-start reduction bound (PRR-SSRB); the window
 * becomes pipe + sndcnt so the send loop sends exactly that. `pipe` is
 * RFC 6675 SetPipe (recovery.ts).
 */
export function prrOnAck(c: TcpConnection, delivered: number, pipe: number): void {
  const r = c.rack;
  r.prrDelivered += delivered;
  const ssthresh = c.cc.ssthresh;
  let sndcnt: number;
  if (pipe > ssthresh) {
    // Proportional Rate Reduction: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out, the CEIL taken
    // in whole segments as in the RFC's examples (and Linux, which counts packets).
    sndcnt = Math.ceil((r.prrDelivered * ssthresh) / r.recoverFs / c.mss) * c.mss - r.prrOut;
  } else {
    // PRR-SSRB: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS; sndcnt = MIN(ssthresh - pipe, limit)
    const limit = Math.max(r.prrDelivered - r.prrOut, delivered) + c.mss;
    sndcnt = Math.min(ssthresh - pipe, limit);
  }
  // Linux tcp_cwnd_reduction: the fast retransmit itself always goes out.
  if (r.prrOut === 0 && sndcnt < c.mss) sndcnt = c.mss;
  c.cc.cwnd = pipe + Math.max(0, sndcnt);
}
