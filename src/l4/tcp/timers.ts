/**
 * The connection timers: retransmission (with SYN retries and zero-window
 * probes on the same timer, as in Linux), delayed ACK, and one "idle" timer
 * for keepalive, FIN-WAIT-2 and TIME-WAIT.
 *
 * Read first: RFC 6298 §5 (managing the RTO timer), RFC 9293 §3.8.1
 * (retransmission), §3.8.6.1 (zero-window probing: "the transmitting host
 * SHOULD send a zero-window probe ... exponentially backed off"), §3.8.6.3
 * (delayed ACK), §3.6.1 / §3.4.2 (TIME-WAIT, 2 MSL), RFC 1122 §4.2.3.6
 * (keepalive), RFC 5482 (user timeout), RFC 8985 §6.3 and §7 (the RACK
 * reordering timer and the TLP probe timer, which share one timer as in Linux).
 */
import { TCP_ORPHAN_RETRIES } from './config.js';
import { TcpError, type TcpConnection } from './connection.js';
import { probeAllowed, probeTimeout, prrOnAck, rackDetectLoss, rackHasLoss } from './rack.js';
import { enterLoss, enterRecovery, pipeSize } from './recovery.js';
import { ackDecision, output, sendLossProbe, sendProbe, sendSyn, windowScaleFor } from './send.js';
import { seqAdd, seqSub } from './seq.js';
import { TcpState } from './state.js';

/** Arms (or restarts) the retransmission timer with the current RTO (RFC 6298 §5.1, §5.3). */
export function armRetransmit(c: TcpConnection): void {
  c.retransmitTimer ??= c.layer.ctx.timers.timer(() => onRetransmitTimer(c));
  c.retransmitTimer.armIn(c.rtt.rto);
}

/** Active OPEN (RFC 9293 §3.10.1): choose the ISS, send SYN, enter SYN-SENT. */
export function startConnect(c: TcpConnection): void {
  const layer = c.layer;
  c.iss = layer.isn.next(c.net, c.local, c.localPort, c.remote, c.remotePort);
  c.sndUna = c.iss;
  c.sndNxt = seqAdd(c.iss, 1);
  c.bufSeq = c.sndNxt;
  c.recover = c.iss;
  c.rcvWscale = c.config.windowScaling ? windowScaleFor(c.rcvBufMax) : 0;
  c.lastProgressAt = c.now();
  c.setState(TcpState.SYN_SENT);
  c.rttSentAt = c.now();
  sendSyn(c);
  armRetransmit(c);
}

function onRetransmitTimer(c: TcpConnection): void {
  const layer = c.layer;
  const now = c.now();
  if (c.state === TcpState.SYN_SENT || c.state === TcpState.SYN_RECEIVED) {
    const limit = c.state === TcpState.SYN_SENT ? c.config.synRetries : c.config.synAckRetries;
    if (c.synRetries >= limit) {
      layer.ctx.stats.inc('TcpAttemptFails');
      layer.destroy(c, c.state === TcpState.SYN_SENT ? new TcpError('ETIMEDOUT', 'connect ETIMEDOUT') : undefined);
      return;
    }
    c.synRetries++;
    c.rtt.backOff();
    layer.ctx.stats.inc('TcpRetransSegs');
    sendSyn(c);
    armRetransmit(c);
    return;
  }
  if (c.state === TcpState.CLOSED || c.state === TcpState.TIME_WAIT) return;

  if (c.flight === 0) {
    // Nothing in flight but data waiting for a window: a zero-window probe (persist timer).
    if (!hasPendingData(c)) return;
    // An orphan (nobody will ever read or write it again) gets TCP_ORPHAN_RETRIES probes, answered or not
    // (Linux tcp_probe_timer), so a peer holding a zero window cannot keep it forever.
    const orphanLimit = c.orphaned && c.retransmits >= TCP_ORPHAN_RETRIES;
    if (orphanLimit || userTimedOut(c, now) || (c.userTimeoutMs === 0 && c.retransmits >= c.config.retries2 && c.probesUnanswered)) {
      abortOnTimeout(c);
      return;
    }
    c.retransmits++;
    c.probesUnanswered = true;
    layer.ctx.stats.inc('TcpExtTCPWinProbe');
    sendProbe(c);
    c.rtt.backOff();
    armRetransmit(c);
    return;
  }

  // RFC 6298 §5.4-§5.6: retransmit the earliest unacknowledged segment, back off, restart the timer.
  if (userTimedOut(c, now) || (c.userTimeoutMs === 0 && c.retransmits >= c.config.retries2)) {
    abortOnTimeout(c);
    return;
  }
  layer.ctx.stats.inc('TcpExtTCPTimeouts');
  layer.ctx.trace.event('tcp retransmission timeout', () => describeRecovery(c));
  cancelLossTimer(c);
  enterLoss(c);
  c.retransmits++;
  c.rtt.backOff();
  c.retransmitTimer?.cancel();
  output(c);
  if (!c.retransmitTimer?.armed) armRetransmit(c);
}

// --- RACK reordering timer and TLP probe timer (RFC 8985) ------------------

function lossTimer(c: TcpConnection) {
  c.lossTimer ??= c.layer.ctx.timers.timer(() => onLossTimer(c));
  return c.lossTimer;
}

function cancelLossTimer(c: TcpConnection): void {
  c.lossTimer?.cancel();
  c.rack.timerMode = 'none';
}

/**
 * RFC 8985 §6.2 step 5 / §6.3: some segments were sent before the last
 * delivered one but are still inside the reordering window; look again when
 * the window has passed (`timeout` ms from now; 0 cancels).
 */
export function armReorderTimer(c: TcpConnection, timeout: number): void {
  if (timeout > 0) {
    lossTimer(c).armIn(timeout);
    c.rack.timerMode = 'reorder';
  } else if (c.rack.timerMode === 'reorder') {
    cancelLossTimer(c);
  }
}

/**
 * RFC 8985 §7.2: after new data is sent or acknowledged, start the probe
 * timer (PTO) when a probe is allowed. The RTO is pushed back behind it: the
 * RTO restarts once the probe has gone (§7.3), so it never fires first.
 */
export function scheduleLossProbe(c: TcpConnection): void {
  const r = c.rack;
  r.probeWanted = false;
  if (r.timerMode === 'reorder' && c.lossTimer?.armed) return;
  if (!probeAllowed(c)) {
    if (r.timerMode === 'probe') cancelLossTimer(c);
    return;
  }
  const rto = c.rtt.rto;
  const rtoRemaining = c.retransmitTimer?.armed ? c.retransmitTimer.deadline - c.now() : rto;
  const pto = probeTimeout(c, rtoRemaining);
  lossTimer(c).armIn(pto);
  r.timerMode = 'probe';
  c.retransmitTimer ??= c.layer.ctx.timers.timer(() => onRetransmitTimer(c));
  c.retransmitTimer.armIn(pto + rto);
}

function onLossTimer(c: TcpConnection): void {
  const r = c.rack;
  const mode = r.timerMode;
  r.timerMode = 'none';
  if (c.state === TcpState.CLOSED || c.state === TcpState.TIME_WAIT || c.flight === 0) return;
  if (mode === 'reorder') {
    // §6.3: "RACK_detect_loss_and_arm_timer()", then repair what it found.
    c.layer.ctx.stats.inc('tcpRackReoTimeouts');
    armReorderTimer(c, rackDetectLoss(c));
    if (c.recoveryState === 'open' && rackHasLoss(c)) {
      enterRecovery(c);
      prrOnAck(c, 0, pipeSize(c));
    }
    output(c);
    return;
  }
  if (mode !== 'probe') return;
  // §7.3: one probe per episode; whatever happens, the RTO runs again from now.
  if (probeAllowed(c)) {
    const isRetransmit = sendLossProbe(c);
    if (isRetransmit !== undefined) {
      c.layer.ctx.stats.inc('TcpExtTCPLossProbes');
      r.tlpEndSeq = c.sndNxt;
      r.tlpIsRetrans = isRetransmit;
    }
  }
  armRetransmit(c);
}

/** The loss-recovery state, for the trace of a retransmission timeout (why did RACK, TLP and PRR not repair it?). */
export function describeRecovery(c: TcpConnection): string {
  const r = c.rack;
  const sb = c.scoreboard;
  return (
    `${c.localPort}>${c.remotePort} state ${c.recoveryState} una ${c.sndUna} nxt ${c.sndNxt} flight ${c.flight} ` +
    `sacked ${sb.sackedBytes} ranges ${sb.rangeCount} highSack ${sb.highestSacked ?? '-'} highRxt ${c.highRxt} lostEnd ${r.lostEnd} ` +
    `relost ${c.relost.length} rxlog ${r.retransmits.length} sentlog ${r.sent.length} cwnd ${c.cc.cwnd} ssthresh ${c.cc.ssthresh} ` +
    `pipe ${pipeSize(c)} rto ${c.rtt.rto} srtt ${c.rtt.srtt} minRtt ${c.rtt.minRtt} rack.minRtt ${r.minRtt} rack.rtt ${r.rtt} xmitTs ${r.xmitTs} ` +
    `sentHead ${r.sent.length > 0 ? `${r.sent.start(0)}@-${c.now() - r.sent.time(0)}` : '-'} ` +
    `rxHead ${r.retransmits.length > 0 ? `${r.retransmits.start(0)}-${r.retransmits.end(0)}@-${c.now() - r.retransmits.time(0)}${r.retransmits.isDone(0) ? 'done' : ''}` : '-'} ` +
    `lastRx -${c.now() - c.lastReceivedAt} now ${c.now()} timer ${r.timerMode} tlpEnd ${r.tlpEndSeq ?? '-'} retransmits ${c.retransmits} sndWnd ${c.sndWnd}`
  );
}

function userTimedOut(c: TcpConnection, now: number): boolean {
  return c.userTimeoutMs > 0 && now - c.lastProgressAt >= c.userTimeoutMs;
}

function abortOnTimeout(c: TcpConnection): void {
  c.layer.ctx.stats.inc('TcpExtTCPAbortOnTimeout');
  c.abort(new TcpError('ETIMEDOUT', 'read ETIMEDOUT'));
}

/** Data or a FIN is waiting to go. */
function hasPendingData(c: TcpConnection): boolean {
  return seqSub(c.dataEnd, c.sndNxt) > 0 || (c.finQueued && c.finSeq === undefined);
}

/**
 * RFC 9293 §3.8.6.1: with nothing in flight, data waiting and no window to
 * send it in, start probing (the retransmission timer doubles as the persist timer).
 */
export function armPersistIfNeeded(c: TcpConnection): void {
  if (c.flight !== 0 || c.retransmitTimer?.armed || !hasPendingData(c)) return;
  const windowRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndNxt);
  if (windowRoom >= Math.min(c.mss, seqSub(c.dataEnd, c.sndNxt))) return;
  armRetransmit(c);
}

// --- Delayed ACK ---------------------------------------------------------

export function armDelayedAck(c: TcpConnection): void {
  c.delayedAckTimer ??= c.layer.ctx.timers.timer(() => onDelayedAck(c));
  if (!c.delayedAckTimer.armed) c.delayedAckTimer.armIn(c.config.delayedAckMs);
}

export function cancelDelayedAck(c: TcpConnection): void {
  if (c.delayedAckTimer?.armed) c.delayedAckTimer.cancel();
}

function onDelayedAck(c: TcpConnection): void {
  if (!c.ackPending || c.state === TcpState.CLOSED) return;
  c.layer.ctx.stats.inc('delayedAcks');
  c.ackNow = true;
  ackDecision(c);
}

// --- Keepalive, FIN-WAIT-2, TIME-WAIT --------------------------------------

function idleTimer(c: TcpConnection) {
  c.idleTimer ??= c.layer.ctx.timers.timer(() => onIdleTimer(c));
  return c.idleTimer;
}

/** RFC 9293 §3.6.1: TIME-WAIT lasts 2 MSL; every other timer stops. */
export function startTimeWait(c: TcpConnection): void {
  c.setState(TcpState.TIME_WAIT);
  c.retransmitTimer?.cancel();
  cancelDelayedAck(c);
  idleTimer(c).armIn(c.config.timeWaitMs);
}

/** Linux tcp_fin_timeout: an orphaned FIN-WAIT-2 does not wait forever for the peer's FIN. */
export function armFinWait2Timeout(c: TcpConnection): void {
  idleTimer(c).armIn(c.config.finTimeoutMs);
}

/** RFC 1122 §4.2.3.6: probe an idle connection after keepaliveTimeMs. */
export function armKeepalive(c: TcpConnection): void {
  if (!c.keepalive) {
    if (c.state !== TcpState.TIME_WAIT && c.state !== TcpState.FIN_WAIT_2) c.idleTimer?.cancel();
    return;
  }
  c.keepaliveProbesSent = 0;
  idleTimer(c).armIn(c.keepaliveTimeMs);
}

function onIdleTimer(c: TcpConnection): void {
  const layer = c.layer;
  switch (c.state) {
    case TcpState.TIME_WAIT:
      layer.destroy(c, undefined);
      return;
    case TcpState.FIN_WAIT_2:
      if (c.orphaned) {
        layer.destroy(c, undefined);
        return;
      }
      break;
    default:
      break;
  }
  if (!c.keepalive || (c.state !== TcpState.ESTABLISHED && c.state !== TcpState.CLOSE_WAIT && c.state !== TcpState.FIN_WAIT_2)) return;
  const idle = c.now() - c.lastReceivedAt;
  if (idle < c.keepaliveTimeMs && c.keepaliveProbesSent === 0) {
    c.idleTimer!.armIn(c.keepaliveTimeMs - idle);
    return;
  }
  if (c.keepaliveProbesSent >= c.config.keepaliveProbes) {
    layer.ctx.stats.inc('tcpKeepAliveTimeouts');
    c.abort(new TcpError('ETIMEDOUT', 'keepalive ETIMEDOUT'));
    return;
  }
  c.keepaliveProbesSent++;
  layer.ctx.stats.inc('TcpExtTCPKeepAlive');
  sendProbe(c);
  c.idleTimer!.armIn(c.config.keepaliveIntervalMs);
}
