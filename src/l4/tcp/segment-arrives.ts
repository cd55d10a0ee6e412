/**
 * SEGMENT ARRIVES: RFC 9293 §3.10.7, step by step, in the RFC's order.
 *
 * Read first: RFC 9293 §3.10.7 itself; then RFC 5961 (§3 RST, §4 SYN, §5 ACK
 * checks against blind injection), RFC 7323 §5.3 (PAWS, done before the
 * sequence number check) and RFC 2018 / RFC 5681 §4.2 (ACKing out-of-order
 * data at once).
 *
 *   §3.10.7.1  CLOSED        closedSegmentArrives
 *   §3.10.7.2  LISTEN        listenSegmentArrives (and SYN cookies, RFC 4987)
 *   §3.10.7.3  SYN-SENT      synSentSegmentArrives
 *   §3.10.7.4  other states  synchronizedSegmentArrives:
 *                first   checkSequenceNumber
 *                second  checkRst
 *                third   (security: not implemented, as in Linux)
 *                fourth  checkSyn
 *                fifth   checkAck
 *                sixth   (URG: urgent data is delivered in line, RFC 6093)
 *                seventh processSegmentText
 *                eighth  checkFin
 */
import { TCP_DEFAULT_MSS, TCP_MIN_MSS, TCP_PAWS_IDLE_MS, TCP_QUICKACKS } from './config.js';
import { createCongestionControl } from './congestion/congestion.js';
import { ecnOnEce, ecnReceive, isEcnSetupSyn, isEcnSetupSynAck } from './congestion/ecn.js';
import { TcpError, type ConnectionUser, type TcpConnection } from './connection.js';
import { TcpFlags } from './header.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { ackInAcceptableRange, finAcked, processAck } from './recovery.js';
import type { Segment } from './segment.js';
import { admitReceive, receiveRttMeasure, receiveSpaceAdjust } from './memory.js';
import { receivePool } from './receive-pool.js';
import { output, sendChallengeAck, sendCookieSynAck, sendResetFor, sendSyn, windowScaleFor } from './send.js';
import { seqAdd, seqGt, seqInWindow, seqLe, seqLt, seqSub } from './seq.js';
import { TcpState, canReceiveData } from './state.js';
import type { TcpLayer } from './tcp.js';
import { armFinWait2Timeout, armKeepalive, armRetransmit, startTimeWait } from './timers.js';

export interface Listener {
  readonly port: number;
  readonly address: IpAddress | undefined;
  readonly synBacklog: number;
  /** Connections in SYN-RECEIVED (the SYN backlog). */
  synReceivedCount: number;
  readonly accept: (connection: TcpConnection) => ConnectionUser;
}

/** 'reopen': a new SYN for a connection in TIME-WAIT; the layer retires it and hands the SYN to the listener. */
export type ArrivalResult = 'done' | 'reopen';

// --- §3.10.7.1 CLOSED --------------------------------------------------------

/** "all data in the incoming segment is discarded ... An incoming segment not containing a RST causes a RST to be sent." */
export function closedSegmentArrives(layer: TcpLayer, seg: Segment, net: TcpNetwork, local: IpAddress, remote: IpAddress): void {
  layer.ctx.trace.dropped('tcpInNoSocket', seg.rst ? 'RST for no connection' : 'no connection or listener: reset', () => `${net.format(remote)} ${seg.describe()}`);
  sendResetFor(layer, net, local, remote, seg);
  if (!seg.rst) layer.ctx.trace.step(`RFC 9293 §3.10.7.1 CLOSED: RST sent, no listener on port ${seg.destinationPort}`);
}

// --- §3.10.7.2 LISTEN ------------------------------------------------------

export function listenSegmentArrives(layer: TcpLayer, listener: Listener, seg: Segment, net: TcpNetwork, local: IpAddress, remote: IpAddress): void {
  const { ctx, config } = layer;
  // First, check for a RST: "An incoming RST segment could not be valid ... It should be ignored."
  if (seg.rst) {
    ctx.trace.dropped('tcpListenRst', 'RST to a listener', () => seg.describe());
    return;
  }
  // Second, check for an ACK: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state.
  // An acceptable reset segment should be formed ... <SEQ=SEG.ACK><CTL=RST>". Unless it returns a SYN cookie.
  if (seg.hasAck) {
    if (!seg.syn && config.synCookies && acceptCookie(layer, listener, seg, net, local, remote)) return;
    ctx.trace.dropped('tcpListenBadAck', 'ACK to a listener: reset', () => seg.describe());
    sendResetFor(layer, net, local, remote, seg);
    return;
  }
  // Third, check for a SYN.
  if (!seg.syn) {
    // Fourth, "Any other control or text-bearing segment (not containing SYN) must have an ACK ... drop it and return."
    ctx.trace.dropped('TcpExtListenDrops', 'segment without SYN or ACK to a listener', () => seg.describe());
    return;
  }
  if (seg.fin) {
    // RFC 9293 §3.10.7.2 would queue the FIN "for processing later"; Linux (tcp_rcv_state_process, drop reason
    // TCP_FLAGS) discards SYN+FIN, with or without PSH/URG: no real client opens that way, scanners and evasion do.
    ctx.trace.dropped('tcpListenSynFin', 'SYN+FIN to a listener', () => seg.describe());
    return;
  }
  if (listener.synReceivedCount >= listener.synBacklog) {
    ctx.stats.inc('TcpExtListenOverflows');
    if (!config.synCookies) {
      ctx.trace.dropped('TcpExtListenDrops', 'SYN backlog full', () => `${net.format(remote)}:${seg.sourcePort}`);
      return;
    }
    sendCookie(layer, seg, net, local, remote);
    return;
  }
  const c = layer.createConnection(net, local, seg.destinationPort, remote, seg.sourcePort);
  c.listener = listener;
  listener.synReceivedCount++;
  // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a SYN segment sent of the form
  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1 and SND.UNA to ISS. The connection state should be
  // changed to SYN-RECEIVED." (Data in the SYN is not kept: the peer sends it again, as without TCP Fast Open.)
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.iss = layer.isn.next(net, local, c.localPort, remote, c.remotePort);
  c.sndUna = c.iss;
  c.sndNxt = seqAdd(c.iss, 1);
  c.bufSeq = c.sndNxt;
  c.recover = c.iss;
  applySynOptions(c, seg);
  // RFC 3168 §6.1.1: an ECN-setup SYN is answered with an ECN-setup SYN-ACK (Linux tcp_ecn = 1 or 2).
  c.ecnOk = config.ecn !== 0 && isEcnSetupSyn(seg);
  if (c.ecnOk) ctx.stats.inc('tcpEcnNegotiated');
  // RFC 7323 §2.2: the window field of a SYN is not scaled.
  setSendWindow(c, seg, seg.window);
  c.lastProgressAt = c.now();
  c.lastReceivedAt = c.now();
  c.setState(TcpState.SYN_RECEIVED);
  ctx.stats.inc('TcpPassiveOpens');
  if (ctx.trace.watching) ctx.trace.step(`RFC 9293 §3.10.7.2 LISTEN third: SYN to port ${seg.destinationPort}: IRS ${seg.seq}, MSS ${seg.hasMss ? seg.mss : 'none'}; enter SYN-RECEIVED and send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>`);
  c.user = listener.accept(c);
  sendSyn(c);
  c.rttSentAt = c.now();
  armRetransmit(c);
}

/** RFC 4987 §3.6: answer with a cookie and forget the SYN. */
function sendCookie(layer: TcpLayer, seg: Segment, net: TcpNetwork, local: IpAddress, remote: IpAddress): void {
  const peerMss = seg.hasMss ? seg.mss : TCP_DEFAULT_MSS;
  const mtu = net.mtuTowards(remote) ?? 1500;
  const ourMss = mtu - net.headerOverhead - 20;
  const cookie = layer.cookies.make(net, local, seg.destinationPort, remote, seg.sourcePort, seg.seq, Math.min(peerMss, ourMss));
  let tsVal: number | undefined;
  if (seg.hasTimestamps && layer.config.timestamps) {
    const tsNow = (Math.floor(layer.ctx.clock.now()) + layer.timestampOffset(net, local, seg.destinationPort, remote, seg.sourcePort)) >>> 0;
    tsVal = layer.cookies.encodeTimestamp(tsNow, {
      mss: peerMss,
      windowScale: seg.hasWindowScale && layer.config.windowScaling ? seg.windowScale : undefined,
      sackPermitted: seg.sackPermitted && layer.config.sack,
    });
  }
  layer.ctx.stats.inc('TcpExtSyncookiesSent');
  sendCookieSynAck(layer, net, local, remote, seg, cookie, ourMss, tsVal);
}

/** The ACK that completes a cookie handshake: rebuild the connection from the cookie (Linux cookie_v4_check). */
function acceptCookie(layer: TcpLayer, listener: Listener, seg: Segment, net: TcpNetwork, local: IpAddress, remote: IpAddress): boolean {
  const mss = layer.cookies.check(net, local, seg.destinationPort, remote, seg.sourcePort, seqAdd(seg.ack, -1), seqAdd(seg.seq, -1));
  if (mss === undefined) {
    layer.ctx.stats.inc('TcpExtSyncookiesFailed');
    return false;
  }
  layer.ctx.stats.inc('TcpExtSyncookiesRecv');
  const c = layer.createConnection(net, local, seg.destinationPort, remote, seg.sourcePort);
  c.listener = listener;
  listener.synReceivedCount++;
  c.irs = seqAdd(seg.seq, -1);
  c.rcvNxt = seg.seq;
  c.iss = seqAdd(seg.ack, -1);
  c.sndUna = c.iss;
  c.sndNxt = seg.ack;
  c.bufSeq = seg.ack;
  c.recover = c.iss;
  c.peerMss = Math.max(TCP_MIN_MSS, mss);
  if (seg.hasTimestamps && layer.config.timestamps) {
    const opts = layer.cookies.decodeTimestamp(seg.tsEcr);
    c.tsOk = true;
    c.tsRecent = seg.tsVal;
    c.tsRecentAt = c.now();
    c.sackOk = opts.sackPermitted;
    if (opts.windowScale !== undefined) {
      c.wsOk = true;
      c.sndWscale = opts.windowScale;
      c.rcvWscale = windowScaleFor(c.rcvBufMax);
    }
  }
  c.updateMss();
  c.cc = createCongestionControl(c.config.congestionControl, c.mss);
  c.rcvMss = c.mss;
  c.rcvAdvRight = seqAdd(c.rcvNxt, Math.min(0xffff, c.rcvBuf));
  c.lastProgressAt = c.now();
  c.setState(TcpState.SYN_RECEIVED);
  layer.ctx.stats.inc('TcpPassiveOpens');
  c.user = listener.accept(c);
  synchronizedSegmentArrives(c, seg);
  return true;
}

/** Options from the peer's SYN (RFC 9293 §3.7.1 MSS, RFC 7323 §2.2 / §3.2, RFC 2018 §2). */
function applySynOptions(c: TcpConnection, seg: Segment): void {
  const config = c.config;
  c.peerMss = seg.hasMss ? Math.max(TCP_MIN_MSS, seg.mss) : TCP_DEFAULT_MSS;
  if (config.windowScaling && seg.hasWindowScale) {
    c.wsOk = true;
    c.sndWscale = seg.windowScale;
    c.rcvWscale = windowScaleFor(c.rcvBufMax);
  } else {
    // RFC 7323 §2.2: scaling is on only when both SYNs carry the option.
    c.wsOk = false;
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.sackOk = config.sack && seg.sackPermitted;
  c.tsOk = config.timestamps && seg.hasTimestamps;
  if (c.tsOk) {
    c.tsRecent = seg.tsVal;
    c.tsRecentAt = c.now();
  }
  c.updateMss();
  c.cc = createCongestionControl(config.congestionControl, c.mss);
  c.rcvMss = Math.min(c.advertisedMss - (c.tsOk ? 12 : 0), c.mss);
  c.quickAcks = TCP_QUICKACKS;
}

function setSendWindow(c: TcpConnection, seg: Segment, window: number): void {
  c.sndWnd = window;
  c.sndWl1 = seg.seq;
  c.sndWl2 = seg.ack;
  if (window > c.maxSndWnd) c.maxSndWnd = window;
}

/** SYN-RECEIVED → ESTABLISHED (the handshake's last ACK, or our SYN acknowledged in SYN-SENT). */
function establish(c: TcpConnection): void {
  if (c.listener) {
    c.listener.synReceivedCount--;
    c.listener = undefined;
  }
  c.synRetries = 0;
  c.retransmits = 0;
  c.retransmitTimer?.cancel();
  c.setState(TcpState.ESTABLISHED);
  armKeepalive(c);
  c.user?.onEstablished();
  // A CLOSE issued during the handshake (§3.10.4) takes effect now.
  if (c.finQueued && c.state === TcpState.ESTABLISHED) c.setState(TcpState.FIN_WAIT_1);
}

// --- §3.10.7.3 SYN-SENT ----------------------------------------------------

function synSentSegmentArrives(c: TcpConnection, seg: Segment): void {
  const layer = c.layer;
  // First, check the ACK bit: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set) ...
  // and discard the segment."
  if (seg.hasAck && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndNxt))) {
    layer.ctx.trace.dropped('tcpSynSentBadAck', 'unacceptable ACK in SYN-SENT', () => seg.describe());
    sendResetFor(layer, c.net, c.local, c.remote, seg);
    return;
  }
  // Second, check the RST bit: "If the ACK was acceptable, then signal to the user 'error: connection reset',
  // drop the segment, enter CLOSED state ... Otherwise (no ACK), drop the segment and return." (RFC 5961 §3.2.)
  if (seg.rst) {
    if (!seg.hasAck) {
      layer.ctx.trace.dropped('tcpSynSentRst', 'RST without ACK in SYN-SENT', () => seg.describe());
      return;
    }
    layer.ctx.stats.inc('TcpAttemptFails');
    layer.destroy(c, new TcpError('ECONNREFUSED', `connect ECONNREFUSED ${c.net.format(c.remote)}:${c.remotePort}`));
    return;
  }
  // Third, the security check (not implemented).
  // Fourth, check the SYN bit.
  if (!seg.syn) {
    // Fifth, "If neither of the SYN or RST bits is set, then drop the segment and return."
    layer.ctx.trace.dropped('tcpSynSentNoSyn', 'neither SYN nor RST in SYN-SENT', () => seg.describe());
    return;
  }
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  // Our SYN offered min(65535, RCV.BUFF) unscaled; that is the right edge the peer knows.
  c.rcvAdvRight = seqAdd(c.rcvNxt, Math.min(0xffff, c.rcvBuf));
  applySynOptions(c, seg);
  // RFC 3168 §6.1.1: ECN is on when we asked (our SYN had ECE+CWR) and the SYN-ACK has ECE without CWR.
  c.ecnOk = c.config.ecn === 1 && (seg.hasAck ? isEcnSetupSynAck(seg) : isEcnSetupSyn(seg));
  if (c.ecnOk) layer.ctx.stats.inc('tcpEcnNegotiated');
  if (seg.hasAck) {
    c.sndUna = seg.ack;
    // RTT of the handshake, unless the SYN was retransmitted (Karn).
    if (c.tsOk && seg.tsEcr !== 0) c.rtt.sample((c.tsNow() - seg.tsEcr) | 0);
    else if (c.synRetries === 0) c.rtt.sample(c.now() - c.rttSentAt);
  }
  setSendWindow(c, seg, seg.window);
  c.lastProgressAt = c.now();
  if (seqGt(c.sndUna, c.iss)) {
    // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to ESTABLISHED, form an ACK segment
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
    establish(c);
    c.layer.ctx.trace.step('RFC 9293 §3.10.7.3 SYN-SENT fourth: SYN,ACK acknowledges our SYN: ESTABLISHED, send ACK');
    c.ackNow = true;
    if (seg.payload.length > 0 || seg.fin) {
      processSegmentText(c, seg);
      checkFin(c, seg);
    }
    output(c);
    return;
  }
  // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it."
  // (Simultaneous open.)
  c.setState(TcpState.SYN_RECEIVED);
  sendSyn(c);
  armRetransmit(c);
}

// --- §3.10.7.4 Other states ------------------------------------------------

export function segmentArrives(c: TcpConnection, seg: Segment): ArrivalResult {
  c.lastReceivedAt = c.now();
  c.keepaliveProbesSent = 0;
  if (c.state === TcpState.SYN_SENT) {
    synSentSegmentArrives(c, seg);
    return 'done';
  }
  return synchronizedSegmentArrives(c, seg);
}

function synchronizedSegmentArrives(c: TcpConnection, seg: Segment): ArrivalResult {
  if (c.state === TcpState.TIME_WAIT && reopensTimeWait(c, seg)) return 'reopen';
  if (c.state === TcpState.SYN_RECEIVED && c.active && seg.syn && seg.hasAck && seg.seq === c.irs && seg.ack === c.sndNxt) {
    // Simultaneous open (RFC 9293 Figure 8): the peer's SYN,ACK repeats the SYN we already took, and its ACK
    // completes our side. Take the SYN off and process the rest (as Linux's tcp_validate_incoming does).
    seg.flags &= ~TcpFlags.SYN;
    seg.seq = seqAdd(seg.seq, 1);
  }
  const trace = c.layer.ctx.trace;
  if (!checkSequenceNumber(c, seg)) return 'done';
  trace.step('RFC 9293 §3.10.7.4 first: sequence number acceptable');
  if (!checkRst(c, seg)) return 'done';
  trace.step('RFC 9293 §3.10.7.4 second: RST bit not set');
  // Third: "check security" (IP security compartments): not implemented.
  if (!checkSyn(c, seg)) return 'done';
  trace.step('RFC 9293 §3.10.7.4 fourth: SYN bit not set');
  if (!checkAck(c, seg)) return 'done';
  if (trace.watching) trace.step(`RFC 9293 §3.10.7.4 fifth: ACK acceptable (SND.UNA ${c.sndUna}); state ${c.state}`);
  if (c.ecnOk) {
    // RFC 3168 §6.1.2 (an ECE: reduce cwnd once per window) and §6.1.3 (CWR stops our echo, CE starts it).
    ecnOnEce(c, seg);
    ecnReceive(c, seg);
  }
  // Sixth: "check the URG bit": urgent data is not signalled; it arrives in line (RFC 6093 §6).
  const hadText = seg.payload.length > 0;
  if (hadText) {
    processSegmentText(c, seg);
    if (trace.watching) trace.step(`RFC 9293 §3.10.7.4 seventh: ${seg.payload.length} bytes of segment text; RCV.NXT ${c.rcvNxt}`);
  }
  checkFin(c, seg);
  if (seg.fin && trace.watching) trace.step(`RFC 9293 §3.10.7.4 eighth: FIN: state ${c.state}`);
  if (c.state !== TcpState.CLOSED) {
    if (c.ackNow || c.ackPending) c.layer.scheduleAck(c);
    output(c);
  }
  return 'done';
}

/**
 * RFC 6191 / Linux tcp_timewait_state_process: a SYN for a connection in
 * TIME-WAIT may start a new incarnation when its sequence number (or
 * timestamp) is newer than anything the old one used.
 */
function reopensTimeWait(c: TcpConnection, seg: Segment): boolean {
  if (!seg.syn || seg.hasAck || seg.rst) return false;
  if (c.tsOk && seg.hasTimestamps) return ((seg.tsVal - c.tsRecent) | 0) > 0;
  return seqGt(seg.seq, c.rcvNxt);
}

/** First: the acceptability test of §3.10.7.4 (after PAWS, RFC 7323 §5.3 R1). True to go on. */
function checkSequenceNumber(c: TcpConnection, seg: Segment): boolean {
  const { ctx } = c.layer;
  // RFC 7323 §5.3 R1: "If there is a Timestamps option in the arriving segment, SEG.TSval < TS.Recent, and if
  // TS.Recent is valid (see later discussion), then treat the arriving segment as not acceptable".
  if (
    c.tsOk &&
    seg.hasTimestamps &&
    !seg.rst &&
    ((seg.tsVal - c.tsRecent) | 0) < 0 &&
    c.now() - c.tsRecentAt < TCP_PAWS_IDLE_MS &&
    !isDisorderedAck(c, seg)
  ) {
    ctx.trace.dropped('TcpExtPAWSEstab', 'PAWS: old timestamp', () => `TSval ${seg.tsVal} < TS.Recent ${c.tsRecent}`);
    c.ackNow = true;
    output(c);
    return false;
  }
  const wnd = Math.max(0, seqSub(c.rcvAdvRight, c.rcvNxt));
  const len = seg.len;
  let acceptable: boolean;
  if (len === 0) acceptable = wnd === 0 ? seg.seq === c.rcvNxt : seqInWindow(seg.seq, c.rcvNxt, wnd);
  else if (wnd === 0) acceptable = false;
  else acceptable = seqInWindow(seg.seq, c.rcvNxt, wnd) || seqInWindow(seg.last, c.rcvNxt, wnd);

  if (!acceptable && wnd === 0 && seg.seq === c.rcvNxt) {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be made to accept
    // valid ACKs, URGs, and RSTs": process the control part, drop the text (a zero-window probe with data).
    if (seg.payload.length > 0) ctx.trace.dropped('TcpExtTCPZeroWindowDrop', 'data into a zero window', () => seg.describe());
    seg.payload = seg.payload.subarray(0, 0);
    seg.flags &= ~TcpFlags.FIN; // the FIN cannot be accepted either
    c.ackNow = true;
    return true;
  }
  if (!acceptable) {
    if (c.state === TcpState.SYN_RECEIVED && seg.syn && !seg.hasAck && seg.seq === c.irs) {
      // The peer did not get our SYN-ACK and sent its SYN again: answer it again (Linux tcp_check_req).
      sendSyn(c);
      return false;
    }
    ctx.trace.dropped('tcpInOutOfWindow', 'segment outside the receive window', () => `${seg.describe()} rcv.nxt ${c.rcvNxt} wnd ${wnd}`);
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply (unless the RST bit is set)."
    if (!seg.rst) {
      if (c.state === TcpState.TIME_WAIT && seg.fin) startTimeWait(c); // a retransmitted FIN restarts 2 MSL
      c.ackNow = true;
      output(c);
    }
    return false;
  }
  // RFC 7323 §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then save SEG.TSval in TS.Recent."
  if (c.tsOk && seg.hasTimestamps && ((seg.tsVal - c.tsRecent) | 0) >= 0 && seqLe(seg.seq, c.lastAckSent)) {
    c.tsRecent = seg.tsVal;
    c.tsRecentAt = c.now();
  }
  return true;
}

/**
 * Linux tcp_disordered_ack: a duplicate pure ACK that was merely overtaken
 * (reordering) is not an old duplicate; PAWS lets it through so its SACK
 * blocks count. Its timestamp must still be within one RTO of TS.Recent.
 */
function isDisorderedAck(c: TcpConnection, seg: Segment): boolean {
  return (
    seg.hasAck &&
    seg.len === 0 &&
    seg.seq === c.rcvNxt &&
    seg.ack === c.sndUna &&
    seg.window * 2 ** c.sndWscale === c.sndWnd &&
    ((c.tsRecent - seg.tsVal) | 0) <= c.rtt.rto
  );
}

/** Second: the RST bit, with RFC 5961 §3.2's exact-match rule. True to go on. */
function checkRst(c: TcpConnection, seg: Segment): boolean {
  if (!seg.rst) return true;
  const layer = c.layer;
  // RFC 5961 §3.2: "If the RST bit is set and the sequence number exactly matches the next expected sequence
  // number (RCV.NXT), then TCP MUST reset the connection." Otherwise (in the window) "TCP MUST send an ACK
  // (challenge ACK)" and drop the segment.
  if (seg.seq !== c.rcvNxt) {
    layer.ctx.trace.dropped('tcpRstChallenged', 'RST not at RCV.NXT: challenge ACK', () => `${seg.describe()} rcv.nxt ${c.rcvNxt}`);
    sendChallengeAck(c);
    return false;
  }
  switch (c.state) {
    case TcpState.SYN_RECEIVED:
      // "If this connection was initiated with a passive OPEN, then return this connection to the LISTEN state";
      // active: "the connection was refused".
      layer.destroy(c, c.active ? new TcpError('ECONNREFUSED', 'connect ECONNREFUSED') : undefined);
      return false;
    case TcpState.ESTABLISHED:
    case TcpState.FIN_WAIT_1:
    case TcpState.FIN_WAIT_2:
    case TcpState.CLOSE_WAIT:
      // "Any outstanding RECEIVEs and SEND should receive 'reset' responses ... enter the CLOSED state".
      layer.ctx.stats.inc('TcpEstabResets');
      layer.destroy(c, new TcpError('ECONNRESET', 'read ECONNRESET'));
      return false;
    default:
      // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB, and return."
      layer.destroy(c, undefined);
      return false;
  }
}

/** Fourth: the SYN bit. RFC 5961 §4.2: in any synchronized state, answer with a challenge ACK and drop. */
function checkSyn(c: TcpConnection, seg: Segment): boolean {
  if (!seg.syn) return true;
  c.layer.ctx.stats.inc('TcpExtTCPSYNChallenge');
  c.layer.ctx.trace.dropped('tcpSynInWindow', 'SYN in a synchronized state: challenge ACK', () => seg.describe());
  sendChallengeAck(c);
  return false;
}

/** Fifth: the ACK field (with RFC 5961 §5.2's range check). True to go on. */
function checkAck(c: TcpConnection, seg: Segment): boolean {
  const layer = c.layer;
  // "if the ACK bit is off, drop the segment and return"
  if (!seg.hasAck) {
    layer.ctx.trace.dropped('tcpInNoAck', 'no ACK bit in a synchronized state', () => seg.describe());
    return false;
  }
  c.probesUnanswered = false;
  if (c.state === TcpState.SYN_RECEIVED) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing ...
    // If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
    if (!(seqLt(c.sndUna, seg.ack) && seqLe(seg.ack, c.sndNxt))) {
      layer.ctx.trace.dropped('tcpSynRecvBadAck', 'unacceptable ACK in SYN-RECEIVED: reset', () => seg.describe());
      sendResetFor(layer, c.net, c.local, c.remote, seg);
      return false;
    }
    if (c.tsOk && seg.hasTimestamps && seg.tsEcr !== 0) c.rtt.sample((c.tsNow() - seg.tsEcr) | 0);
    else if (c.synRetries === 0) c.rtt.sample(c.now() - c.rttSentAt);
    c.sndUna = seg.ack;
    setSendWindow(c, seg, seg.window * 2 ** c.sndWscale);
    establish(c);
  }
  // RFC 5961 §5.2: "If the ACK value is acceptable ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT) ... otherwise
  // send an ACK (a challenge ACK for an ACK too old) and drop"; RFC 9293: "If the ACK acks something not yet sent
  // (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and return."
  if (!ackInAcceptableRange(c, seg.ack)) {
    layer.ctx.trace.dropped('tcpAckOutOfRange', 'ACK outside (SND.UNA - MAX.SND.WND, SND.NXT]', () => `${seg.describe()} una ${c.sndUna} nxt ${c.sndNxt}`);
    sendChallengeAck(c);
    return false;
  }

  const window = seg.window * 2 ** c.sndWscale;
  // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": outstanding data, no data or SYN/FIN, ACK = SND.UNA, same window.
  const isDuplicate = c.flight > 0 && seg.payload.length === 0 && !seg.fin && seg.ack === c.sndUna && window === c.sndWnd;
  const acked = processAck(c, seg, isDuplicate);

  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ
  // and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
  if (seqLe(c.sndUna, seg.ack) && (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, seg.ack)))) {
    setSendWindow(c, seg, window);
  }
  if (acked > 0 && c.sendSpace > 0) c.user?.onSendSpace();

  switch (c.state) {
    case TcpState.FIN_WAIT_1:
      // "In addition to the processing for the ESTABLISHED state, if the FIN segment is now acknowledged, then enter
      // FIN-WAIT-2 and continue processing in that state."
      if (finAcked(c)) {
        c.setState(TcpState.FIN_WAIT_2);
        c.retransmitTimer?.cancel();
        if (c.orphaned) armFinWait2Timeout(c);
      }
      break;
    case TcpState.CLOSING:
      // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the segment."
      if (finAcked(c)) {
        startTimeWait(c);
        break;
      }
      // The rest of the segment is ignored, but the ACK may have opened the window for data still queued.
      output(c);
      return false;
    case TcpState.LAST_ACK:
      // "The only thing that can arrive in this state is an acknowledgment of our FIN. If our FIN is now
      // acknowledged, delete the TCB, enter the CLOSED state, and return."
      if (finAcked(c)) {
        layer.destroy(c, undefined);
        return false;
      }
      break;
    default:
      break;
  }
  return true;
}

/** Seventh: the segment text, in order to the user, out of order into the queue (with an immediate ACK). */
function processSegmentText(c: TcpConnection, seg: Segment): void {
  const layer = c.layer;
  if (!canReceiveData(c.state)) {
    // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has been received from the
    // remote side. Ignore the segment text."
    layer.ctx.trace.dropped('tcpInAfterFin', 'data after the peer FIN', () => seg.describe());
    return;
  }
  if (c.orphaned) {
    // Nobody will read it: Linux resets (TCPAbortOnData, RFC 2525 §2.17).
    layer.ctx.stats.inc('TcpExtTCPAbortOnData');
    c.abort(undefined);
    return;
  }
  let data = seg.payload;
  let start = seg.syn ? seqAdd(seg.seq, 1) : seg.seq;
  // Trim what we already have ("segments with higher beginning sequence numbers ... held", the rest trimmed).
  const old = seqSub(c.rcvNxt, start);
  if (old > 0) {
    data = data.subarray(Math.min(old, data.length));
    start = c.rcvNxt;
  }
  const room = seqSub(c.rcvAdvRight, start);
  let finFits = true;
  if (data.length > room) {
    data = data.subarray(0, Math.max(0, room));
    finFits = false;
  }
  if (seg.payload.length > c.rcvMss) c.rcvMss = Math.min(seg.payload.length, c.advertisedMss);
  if (data.length === 0) {
    c.ackNow = true; // a duplicate: tell the sender where we are
    return;
  }
  if (admitReceive(c, start === c.rcvNxt) === 'refuse') {
    // The stack's TCP memory is at its hard limit (memory.ts): not queued, not acknowledged; the peer retransmits.
    layer.ctx.trace.dropped(start === c.rcvNxt ? 'TcpExtTCPRcvQDrop' : 'TcpExtTCPOFODrop', 'TCP memory limit reached', () => `${layer.memory.allocated} bytes in use`);
    c.ackNow = true;
    return;
  }
  c.ackPending = true;
  c.bytesSinceAck += data.length;

  if (start === c.rcvNxt) {
    // RCV.NXT moves before the user sees the data: whatever it sends in response must acknowledge it.
    c.rcvNxt = seqAdd(c.rcvNxt, data.length);
    let pieces: Buffer[] | undefined;
    let finReached = false;
    if (!c.ofo.isEmpty) {
      // RFC 5681 §4.2: "an immediate ACK ... when an incoming segment fills in all or part of a gap".
      c.ackNow = true;
      pieces = [];
      const drained = c.ofo.drain(c.rcvNxt, (piece) => pieces!.push(piece));
      c.rcvNxt = drained.rcvNxt;
      finReached = drained.fin;
    }
    // Small (pushed) segments and the first segments of a connection are not left to the delayed-ACK timer, so
    // the peer's Nagle never waits on it and slow start is not slowed (Linux ICSK_ACK_PUSHED and quick-ACK
    // mode). They are ACKed at the end of the receive batch, once for all the segments of this connection in it
    // (RFC 9293 §3.8.6.3 and RFC 5681 §4.2 allow the delay; Linux ACKs a GRO batch once), and a reply the user
    // writes meanwhile carries that ACK and settles what is owed. Holes and out-of-order data are still ACKed
    // segment by segment (above and below): the sender counts those ACKs.
    if (data.length < c.rcvMss) c.ackAtBatchEnd = true;
    if (c.quickAcks > 0) {
      c.quickAcks--;
      c.ackAtBatchEnd = true;
    }
    deliver(c, data);
    if (pieces) for (const piece of pieces) deliverOwned(c, piece);
    if (seg.hasTimestamps) receiveRttMeasure(c, seg.tsEcr);
    receiveSpaceAdjust(c);
    if (finReached) finArrived(c);
    return;
  }
  // Out of order: hold it (RFC 9293 §3.10.7.4 seventh step) and ACK at once with SACK (RFC 5681 §4.2, RFC 2018 §4).
  const result = c.ofo.insert(start, data, seg.fin && finFits);
  if (result === 'full') layer.ctx.trace.dropped('TcpExtTCPOFODrop', 'out-of-order queue full', () => `${c.ofo.bytes} bytes held`);
  else if (result === 'queued') layer.ctx.stats.inc('TcpExtTCPOFOQueue');
  c.ackNow = true;
  if (seg.fin) seg.flags &= ~TcpFlags.FIN; // the FIN, if any, waits in the queue with its data
}

/**
 * In-order text from the frame buffer to the user: a view for a user that
 * consumes during the call (ConnectionUser.onDataView), else a copy it owns
 * (the device reuses the frame buffer), carved from the shared receive pool.
 */
function deliver(c: TcpConnection, data: Uint8Array): void {
  c.bytesReceived += data.length;
  const user = c.user;
  if (user === undefined) return;
  const view = user.onDataView;
  if (view !== undefined) view(data);
  else user.onData(receivePool.copy(data));
}

/** Text the out-of-order queue already copied: the user may keep it as it is. */
function deliverOwned(c: TcpConnection, data: Buffer): void {
  c.bytesReceived += data.length;
  const user = c.user;
  if (user === undefined) return;
  const view = user.onDataView;
  if (view !== undefined) view(data);
  else user.onData(data);
}

/** Eighth: the FIN bit. */
function checkFin(c: TcpConnection, seg: Segment): void {
  if (!seg.fin) return;
  // The FIN follows the segment's data; it counts only when that is exactly RCV.NXT.
  const finSeq = seqAdd(seg.syn ? seqAdd(seg.seq, 1) : seg.seq, seg.payload.length);
  if (finSeq !== c.rcvNxt) {
    if (seqGt(finSeq, c.rcvNxt)) c.ofo.insert(finSeq, new Uint8Array(0), true);
    c.ackNow = true;
    return;
  }
  finArrived(c);
}

/**
 * "If the FIN bit is set, signal the user 'connection closing' ... advance RCV.NXT over the FIN, and send an
 * acknowledgment for the FIN", then the per-state transition.
 */
function finArrived(c: TcpConnection): void {
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.ackNow = true;
  c.ackPending = true;
  c.layer.scheduleAck(c);
  switch (c.state) {
    case TcpState.SYN_RECEIVED:
    case TcpState.ESTABLISHED:
      c.setState(TcpState.CLOSE_WAIT);
      break;
    case TcpState.FIN_WAIT_1:
      // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...; otherwise, enter the CLOSING state."
      if (finAcked(c)) startTimeWait(c);
      else c.setState(TcpState.CLOSING);
      break;
    case TcpState.FIN_WAIT_2:
      startTimeWait(c);
      break;
    case TcpState.TIME_WAIT:
      startTimeWait(c); // "Restart the 2 MSL time-wait timeout."
      break;
    default:
      break; // CLOSE-WAIT, CLOSING, LAST-ACK: "Remain in the ... state."
  }
  c.user?.onEnd();
}
