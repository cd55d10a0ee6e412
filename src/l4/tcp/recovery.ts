/**
 * What an acceptable ACK does to the sender: RTT samples, the send buffer,
 * the congestion window, and loss recovery.
 *
 * Read first: RFC 5681 §3.2 (fast retransmit / fast recovery), RFC 6582
 * (NewReno: partial ACKs), RFC 6675 (SACK-based recovery: the scoreboard,
 * IsLost, pipe, NextSeg), RFC 3042 (limited transmit), RFC 6298 (timer
 * restarts and Karn) and RFC 7323 §4 (RTTM with timestamps).
 *
 * One model serves both SACK and non-SACK peers, as in Linux: `pipe` (the
 * bytes still in the network, RFC 6675 §4 SetPipe) is the flight minus what
 * the receiver holds (SACKed, or one segment per duplicate ACK without SACK)
 * minus what is lost and not yet retransmitted; the sender may send while
 * pipe < cwnd. Recovery retransmits the lost holes (send.ts asks
 * `nextLostHole`) before new data.
 *
 * What counts as lost: with SACK, RACK (RFC 8985, rack.ts) decides by send
 * time; without SACK (or with RACK turned off), the duplicate-ACK rules above.
 * How much may be sent during recovery: Proportional Rate Reduction (RFC
 * 6937), which spreads the window reduction over the recovery's ACKs.
 */
import { rateOnAck, rateOnAckEnd } from './congestion/delivery-rate.js';
import type { TcpConnection } from './connection.js';
import { TCP_DUPTHRESH } from './config.js';
import type { Segment } from './segment.js';
import { seq, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub, type SeqNum } from './seq.js';
import {
  hasDsack,
  prrEnter,
  prrOnAck,
  rackDetectLoss,
  rackEnabled,
  rackHasLoss,
  rackOnDsack,
  rackOnRecoveryEnd,
  rackUpdate,
  tlpOnAck,
} from './rack.js';
import { armReorderTimer, armRetransmit } from './timers.js';

/** RFC 6675 §4 IsLost threshold: more than (DupThresh - 1) * SMSS bytes SACKed above. */
function lossThreshold(c: TcpConnection): number {
  return (TCP_DUPTHRESH - 1) * c.mss;
}

/** Everything unSACKed below this is considered lost (and, above HighRxt, still to be retransmitted). */
export function lostEnd(c: TcpConnection): SeqNum {
  if (c.recoveryState === 'loss') return seqMin(rackEnabled(c) ? seqMax(c.recover, c.rack.lostEnd) : c.recover, c.sndNxt);
  if (c.recoveryState === 'recovery') {
    let end = c.renoLostEnd;
    if (rackEnabled(c)) end = seqMax(end, c.rack.lostEnd);
    else if (c.sackOk) end = seqMax(end, c.scoreboard.lossBoundary(c.sndUna, lossThreshold(c)));
    return seqMin(end, c.sndNxt);
  }
  return c.sndUna;
}

/** RFC 6675 NextSeg rule 1: the first lost, unSACKed, not yet retransmitted range. */
export function nextLostHole(c: TcpConnection): { start: SeqNum; end: SeqNum } | undefined {
  const end = lostEnd(c);
  const from = seqMax(c.highRxt, c.sndUna);
  if (!seqLt(from, end)) return undefined;
  const hole = c.scoreboard.nextHole(from, c.sndNxt);
  if (!hole || !seqLt(hole.start, end)) return undefined;
  return hole;
}

/** RFC 6675 §4 SetPipe, in bytes. */
export function pipeSize(c: TcpConnection): number {
  const flight = c.flight;
  if (c.recoveryState === 'open' && c.renoSacked === 0 && c.scoreboard.isEmpty) return flight;
  let pipe = flight - c.scoreboard.sackedBytes - c.renoSacked;
  if (c.recoveryState !== 'open') {
    const from = seqMax(c.highRxt, c.sndUna);
    const end = lostEnd(c);
    if (seqLt(from, end)) pipe -= seqSub(end, from) - c.scoreboard.sackedBetween(from, end);
  }
  return Math.max(0, pipe);
}

/**
 * The fifth step's ACK processing for an ACK already known to be acceptable
 * (SEG.ACK =< SND.NXT). `isDuplicate` follows RFC 5681 §2's definition.
 * Returns the number of sequence numbers newly acknowledged.
 */
export function processAck(c: TcpConnection, seg: Segment, isDuplicate: boolean): number {
  const now = c.now();
  const ack = seg.ack;
  const rack = rackEnabled(c);
  const sackedBefore = c.scoreboard.sackedBytes + c.renoSacked;

  const sackTop = c.sackOk ? readSackBlocks(c, seg) : undefined;
  const dsack = c.sackOk && hasDsack(seg);
  if (dsack) c.layer.ctx.stats.inc('TcpExtTCPDSACKRecv');

  const acked = seqSub(ack, c.sndUna);
  // Delivery-rate estimation (BBR): what this ACK delivered, before SND.UNA moves.
  if (c.cc.rate) rateOnAck(c, c.cc.rate, ack, sackTop, sackedBefore);
  let sentRtt: number | undefined;
  if (rack) {
    // RFC 8985 §6.2 steps 2-4: what this ACK delivered, before SND.UNA moves and the scoreboard forgets it.
    const ackTop = acked > 0 ? c.scoreboard.lastHoleEnd(c.sndUna, ack) : undefined;
    sentRtt = rackUpdate(c, seg, ackTop, sackTop);
    rackOnDsack(c, dsack);
  } else if (c.recoveryState !== 'open' && c.rack.retransmits.length > 0) {
    detectLostRetransmissions(c, ack);
  }
  if (acked > 0) {
    const flightBefore = c.flight;
    sampleRtt(c, seg, sentRtt);
    // Acknowledged data leaves the send buffer (SYN and FIN occupy sequence space but no buffer).
    const dataAcked = Math.max(0, Math.min(seqSub(ack, c.bufSeq), c.sendBuffer.length));
    if (dataAcked > 0) {
      c.sendBuffer.consume(dataAcked);
      c.bufSeq = seqAdd(c.bufSeq, dataAcked);
    }
    c.sndUna = ack;
    c.scoreboard.advance(ack);
    // RACK's marks never trail SND.UNA. Sequence numbers compare modulo 2^32 (RFC 9293 §3.4): a mark left at an
    // old loss reads as *ahead* of SND.UNA once 2^31 more bytes have been acknowledged, and a stale lostEnd then
    // put a connection that had lost nothing into recovery, retransmitting its whole flight (`iperf3 -R` after
    // 2 GiB: half a million spurious retransmissions in 5 s).
    if (seqLt(c.rack.lostEnd, ack)) c.rack.lostEnd = ack;
    if (seqLt(c.rack.fack, ack)) c.rack.fack = ack;
    // The same for RFC 6582's `recover` once the ACK is past it: kept just below SND.UNA, "ack > recover" stays true.
    if (c.recoveryState === 'open' && c.recover !== c.iss && seqGt(ack, c.recover)) c.recover = seqAdd(ack, -1);
    c.rack.sent.dropAcked(ack);
    c.rack.retransmits.dropAcked(ack);
    c.rack.probeWanted = true;
    if (seqLt(c.highRxt, ack)) c.highRxt = ack;
    c.retransmits = 0;
    c.lastProgressAt = now;
    c.dupAcks = 0;

    switch (c.recoveryState) {
      case 'recovery':
        if (seqGe(ack, c.recover)) {
          // RFC 6937 §3: PRR has brought the flight down to ssthresh; recovery ends with cwnd = ssthresh (without
          // PRR's pacing before it, RFC 6582 §3.2 step 3 option 1 guards against a burst).
          c.cc.cwnd = rack ? c.cc.ssthresh : Math.min(c.cc.ssthresh, Math.max(c.flight, c.mss) + c.mss);
          leaveRecovery(c);
        } else if (!c.sackOk) {
          // RFC 6582 §3.2 step 4 (partial acknowledgment): the next unacknowledged segment is lost too.
          c.renoSacked = Math.max(0, c.renoSacked - acked);
          c.renoLostEnd = seqAdd(ack, c.mss);
          c.highRxt = ack;
        }
        break;
      case 'loss':
        c.cc.onAck(acked, c.mss, now, c.rtt.srtt, true);
        if (seqGe(ack, c.recover)) leaveRecovery(c);
        break;
      case 'open':
        c.cc.onAck(acked, c.mss, now, c.rtt.srtt, c.cwndLimited || 2 * flightBefore >= c.cc.cwnd);
        break;
    }
    if (c.renoSacked > c.flight) c.renoSacked = c.flight;
    // RFC 6298 §5.2/§5.3: stop the timer when everything is acknowledged, else restart it.
    if (c.flight === 0) c.retransmitTimer?.cancel();
    else armRetransmit(c);
  } else if (isDuplicate) {
    c.dupAcks++;
    // Without SACK each duplicate ACK says one more segment left the network (RFC 3042 limited transmit,
    // RFC 6582 cwnd inflation): counting it out of pipe lets new data go.
    if (!c.sackOk) c.renoSacked = Math.min(c.flight, c.renoSacked + c.mss);
  }

  // RFC 8985 §7.4: did a loss probe repair a loss? Then reduce the window once, as for any congestion event.
  const pureDuplicate = acked === 0 && sackTop === undefined && seg.payload.length === 0 && !seg.fin && seg.window * 2 ** c.sndWscale === c.sndWnd;
  if (rack && c.rack.tlpEndSeq !== undefined && tlpOnAck(c, seg, dsack, pureDuplicate) && c.recoveryState === 'open') {
    c.cc.onCongestionEvent(c.flight, c.mss, now);
    c.cc.cwnd = c.cc.ssthresh;
  }

  detectLoss(c, ack, rack);

  // RFC 6937 §3: "On every ACK starting or during recovery", DeliveredData = change_in(snd.una) + change_in(SACKd)
  // (without SACK, one MSS per duplicate ACK stands in for SACKd).
  if (c.recoveryState === 'recovery') {
    const delivered = Math.max(0, acked) + (c.scoreboard.sackedBytes + c.renoSacked - sackedBefore);
    prrOnAck(c, Math.max(0, delivered), pipeSize(c));
  }
  // A rate-based controller (BBR) sets the window last, PRR's included (Linux: cong_control replaces it).
  if (c.cc.rate && c.cc.onRateSample) rateOnAckEnd(c, c.cc.rate, c.cc.onRateSample.bind(c.cc));
  return Math.max(0, acked);
}

/**
 * RTT on an ACK that advances SND.UNA (RFC 6298 §3, RFC 7323 §4.1). First
 * choice: `sentRtt`, the RTT of the newest never-retransmitted segment this
 * ACK delivered, from its send time (RACK keeps those, rack.ts). Timestamps
 * tick in whole milliseconds, so on a path of a few hundred microseconds each
 * of their samples reads 0 or 1, and RFC 8985 §7.2's PTO (2 * SRTT + 2 ms) is
 * built on SRTT. Linux too prefers send times to timestamps
 * (tcp_ack_update_rtt, microseconds), timing the oldest segment an ACK newly
 * acknowledges where tapnet times the newest it delivered (RACK.rtt's choice).
 * Else the echoed timestamp (a segment a TLP probe retransmitted, say), else
 * the one timed segment (Karn).
 */
function sampleRtt(c: TcpConnection, seg: Segment, sentRtt: number | undefined): void {
  if (sentRtt !== undefined) c.rtt.sample(sentRtt);
  else if (c.tsOk && seg.hasTimestamps && seg.tsEcr !== 0) {
    const r = (c.tsNow() - seg.tsEcr) | 0;
    if (r >= 0) c.rtt.sample(r);
  } else if (c.rttSeq !== undefined && seqGt(seg.ack, c.rttSeq)) {
    c.rtt.sample(c.now() - c.rttSentAt);
    c.rttSeq = undefined;
  }
}

/**
 * RFC 6675 §5: update the scoreboard from the SACK blocks (RFC 2018 §4
 * validity: above SND.UNA, not past SND.NXT). Returns the end of the highest
 * newly SACKed piece, for RACK.
 */
function readSackBlocks(c: TcpConnection, seg: Segment): SeqNum | undefined {
  const ack = seg.ack;
  let sackTop: SeqNum | undefined;
  c.sackBlocksReceived += seg.sackCount;
  for (let i = 0; i < seg.sackCount; i++) {
    const left = seq(seg.sackEdges[2 * i]!);
    const right = seq(seg.sackEdges[2 * i + 1]!);
    if (!seqLt(left, right) || seqGt(right, c.sndNxt) || !seqGt(right, ack)) continue;
    if (c.scoreboard.add(seqMax(left, ack), right) && (sackTop === undefined || seqGt(c.scoreboard.lastAddedRight, sackTop))) {
      sackTop = c.scoreboard.lastAddedRight;
    }
  }
  return sackTop;
}

/**
 * Loss detection after an ACK: RACK (RFC 8985 §6.2 step 5, and its timer for
 * segments still inside the reordering window), else RFC 5681 §3.2 (three
 * duplicate ACKs) or RFC 6675 §5 (IsLost(HighACK + 1)).
 */
function detectLoss(c: TcpConnection, ack: SeqNum, rack: boolean): void {
  if (c.flight === 0) return;
  if (rack) {
    armReorderTimer(c, rackDetectLoss(c));
    if (c.recoveryState === 'open' && rackHasLoss(c)) enterRecovery(c);
    return;
  }
  if (c.recoveryState !== 'open') return;
  const lostBySack = c.sackOk && seqGt(c.scoreboard.lossBoundary(c.sndUna, lossThreshold(c)), c.sndUna);
  // RFC 6582 §3.2 step 1: without SACK, duplicate ACKs for data sent before the last recovery do not start another.
  const newWindow = c.sackOk || seqGt(ack, c.recover) || c.recover === c.iss;
  if ((c.dupAcks >= TCP_DUPTHRESH && newWindow) || lostBySack) enterRecovery(c);
}

/**
 * A retransmission can be lost too, and RFC 6675 alone only finds out by
 * timeout. Like Linux before RACK (tcp_mark_lost_retrans): once the receiver
 * SACKs data sent well after a retransmission, while the retransmitted range
 * is still missing, that retransmission is lost; send it again.
 */
function detectLostRetransmissions(c: TcpConnection, ack: SeqNum): void {
  const high = c.scoreboard.highestSacked;
  const log = c.rack.retransmits;
  // The log is in send order, so SND.NXT at retransmission only grows: stop at the first one still in doubt.
  while (log.length > 0) {
    const start = log.start(0);
    const end = log.end(0);
    if (!seqLe(end, ack)) {
      if (high === undefined || !seqGt(high, seqAdd(log.extra(0) as SeqNum, lossThreshold(c)))) break;
      if (c.scoreboard.sackedBetween(start, end) < seqSub(end, start)) {
        c.relost.push({ start, end });
        c.layer.ctx.stats.inc('TcpExtTCPLostRetransmit');
      }
    }
    log.finish(0);
  }
}

/** A retransmission found lost (detectLostRetransmissions), still missing: the first thing to send. */
export function nextRelost(c: TcpConnection): { start: SeqNum; end: SeqNum } | undefined {
  while (c.relost.length > 0) {
    const r = c.relost[0]!;
    const start = seqMax(r.start, c.sndUna);
    if (seqLt(start, r.end) && c.scoreboard.sackedBetween(start, r.end) < seqSub(r.end, start)) {
      const hole = c.scoreboard.nextHole(start, r.end);
      if (hole) return hole;
    }
    c.relost.shift();
  }
  return undefined;
}

/** RFC 5681 §3.2 steps 2-3 / RFC 6675 §5 step 4: halve, remember where we were, retransmit. */
export function enterRecovery(c: TcpConnection): void {
  const stats = c.layer.ctx.stats;
  stats.inc('TcpExtTCPFastRetrans');
  stats.inc(c.sackOk ? 'TcpExtTCPSackRecovery' : 'TcpExtTCPRenoRecovery');
  c.cc.onCongestionEvent(c.flight, c.mss, c.now());
  c.cc.cwnd = c.cc.ssthresh;
  c.recoveryState = 'recovery';
  c.recover = c.sndNxt;
  c.highRxt = c.sndUna;
  // With RACK, RACK alone says what is lost; otherwise the first unacknowledged segment is (the fast retransmit).
  c.renoLostEnd = rackEnabled(c) ? c.sndUna : seqAdd(c.sndUna, c.mss);
  c.rack.tlpEndSeq = undefined;
  prrEnter(c);
  c.layer.ctx.trace.event('tcp fast recovery', () => `${c.localPort}>${c.remotePort} una ${c.sndUna} nxt ${c.sndNxt} cwnd ${c.cc.cwnd}`);
}

/** RFC 5681 §3.1 / RFC 6298 §5.4-5.6: after a retransmission timeout everything outstanding counts as lost. */
export function enterLoss(c: TcpConnection): void {
  // RFC 5681 §3.1: ssthresh is set on the first timeout only, not again when the same data times out twice.
  if (c.retransmits === 0) c.cc.onRetransmissionTimeout(c.flight, c.mss, c.now());
  else c.cc.cwnd = c.mss;
  // RFC 2018 §8 / RFC 6675 §5.1: a receiver may renege on SACKed data; after a second timeout, stop trusting the scoreboard.
  if (c.retransmits > 0) c.scoreboard.clear();
  markAllLost(c);
}

/** RFC 1191 / Linux tcp_simple_retransmit: the MSS shrank, so everything in flight must be resent; cwnd is untouched. */
export function enterLossForMtu(c: TcpConnection): void {
  if (c.flight === 0) return;
  markAllLost(c);
}

function markAllLost(c: TcpConnection): void {
  c.rack.retransmits.clear();
  c.rack.tlpEndSeq = undefined;
  c.relost = [];
  c.recoveryState = 'loss';
  c.recover = c.sndNxt;
  c.highRxt = c.sndUna;
  c.renoSacked = 0;
  c.renoLostEnd = c.sndUna;
  c.dupAcks = 0;
}

function leaveRecovery(c: TcpConnection): void {
  if (!rackEnabled(c)) c.rack.retransmits.clear();
  rackOnRecoveryEnd(c);
  c.relost = [];
  c.recoveryState = 'open';
  c.renoSacked = 0;
  c.dupAcks = 0;
  c.renoLostEnd = c.sndUna;
}

/** True when SEG.ACK acknowledges our FIN. */
export function finAcked(c: TcpConnection): boolean {
  return c.finSeq !== undefined && seqGt(c.sndUna, c.finSeq);
}

/** RFC 5961 §5.2: "(SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT". */
export function ackInAcceptableRange(c: TcpConnection, ack: SeqNum): boolean {
  return seqLe(ack, c.sndNxt) && seqGe(ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)));
}
