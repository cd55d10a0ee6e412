/**
 * What to transmit now: data, retransmissions, FIN, ACKs, window updates,
 * probes and resets, and how each segment is built.
 *
 * Read first: RFC 9293 §3.8.6 (window management: sender and receiver silly
 * window syndrome avoidance, delayed ACKs), §3.7.4 (Nagle, RFC 896, with
 * Minshall's variant as Linux uses it), RFC 5681 §3-§4 (cwnd limits the
 * sender; ACK every second full-sized segment), RFC 6675 §4 (NextSeg: holes
 * before new data) and RFC 7323 §3 (the timestamps option on every segment).
 */
import { setU16 } from '../../core/bytes.js';
import { finishChecksum, fold, sumWords, verifyChecksum as verifyInternetChecksum } from '../../core/checksum.js';
import { rateOnTransmit } from './congestion/delivery-rate.js';
import { EcnCodepoint } from './congestion/ecn.js';
import type { TcpConnection } from './connection.js';
import { emitTcpFixedHeader, Field, TCP_HEADER_MIN_LENGTH, TcpFlags } from './header.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { emitTcpOptions, TCP_MAX_SACK_BLOCKS, type SackBlock, type TcpOptions } from './options.js';
import { probeRetransmits, rackOnTransmit } from './rack.js';
import { nextLostHole, nextRelost, pipeSize } from './recovery.js';
import type { Segment } from './segment.js';
import { seq, seqAdd, seqGe, seqGt, seqLt, seqSub, type SeqNum } from './seq.js';
import { TcpState } from './state.js';
import type { TcpLayer } from './tcp.js';
import { armDelayedAck, armPersistIfNeeded, armRetransmit, cancelDelayedAck, scheduleLossProbe } from './timers.js';

export function verifyChecksum(net: TcpNetwork, source: IpAddress, destination: IpAddress, bytes: Uint8Array): boolean {
  return verifyInternetChecksum(bytes, 0, bytes.length, net.pseudoHeaderSum(source, destination, bytes.length));
}

// --- The send loop ---------------------------------------------------------

/** Sends everything the windows, Nagle and SWS avoidance allow, then an ACK if one is still owed. */
export function output(c: TcpConnection): void {
  switch (c.state) {
    case TcpState.CLOSED:
    case TcpState.LISTEN:
    case TcpState.SYN_SENT:
    case TcpState.SYN_RECEIVED:
      return; // the handshake is sent by startConnect / the listener and repeated by the timer
    case TcpState.TIME_WAIT:
      if (c.ackNow) sendAck(c);
      return;
    default:
      break;
  }
  while (transmitNext(c));
  if (c.ackNow) sendAck(c);
  armPersistIfNeeded(c);
  // RFC 8985 §7.2: after new data went out or new data was acknowledged, (re)start the probe timer.
  if (c.rack.probeWanted) scheduleLossProbe(c);
}

/**
 * The data that fits in one segment right now: the MSS less any SACK blocks
 * this segment will carry (Linux tcp_current_mss), so header + data never
 * exceed the path MTU.
 */
export function currentMss(c: TcpConnection): number {
  if (!c.sackOk || c.ofo.isEmpty) return c.mss;
  const blocks = Math.min(c.ofo.sackBlocks(c.tsOk ? 3 : TCP_MAX_SACK_BLOCKS).length, c.tsOk ? 3 : TCP_MAX_SACK_BLOCKS);
  return blocks === 0 ? c.mss : Math.max(1, c.mss - (4 + 8 * blocks));
}

/** One segment: a lost hole first (RFC 6675 NextSeg rule 1), else new data (rule 2). False when nothing may go. */
function transmitNext(c: TcpConnection): boolean {
  const mss = currentMss(c);
  const pipe = pipeSize(c);
  const room = c.cc.cwnd - pipe;

  if (c.recoveryState !== 'open') {
    const again = c.relost.length > 0 ? nextRelost(c) : undefined;
    const hole = again ?? nextLostHole(c);
    if (hole) {
      // RFC 6675 §5 step (C): "cwnd - pipe >= 1 SMSS" (one segment always goes when nothing is in the pipe).
      if (room < mss && pipe > 0) {
        c.cwndLimited = true;
        return false;
      }
      // RFC 6675 NextSeg: one segment per transmission, never a TSO super-frame, even for a hole that was one lost
      // super-frame. A Linux receiver ACKs a GSO packet once and a lossy hop drops it whole, so a run retransmitted
      // as one frame is lost, or goes unanswered, all at once: with that frame the whole pipe, recovery stalls until
      // the RTO (seen against Linux under 3% loss: 32-62 timeouts per 256 MiB download instead of 10-13). As
      // separate segments, each is delivered and ACKed on its own and RACK sees the later ones arrive.
      const len = Math.min(mss, seqSub(hole.end, hole.start));
      transmitRange(c, hole.start, len, true, false);
      const end = seqAdd(hole.start, len);
      if (again) {
        const first = c.relost[0]!;
        if (seqGe(end, first.end)) c.relost.shift();
        else first.start = end;
      } else {
        c.highRxt = end;
      }
      return true;
    }
  }

  const offset = seqSub(c.sndNxt, c.bufSeq);
  const avail = c.sendBuffer.length - offset;
  const wantFin = c.finQueued && c.finSeq === undefined && c.state !== TcpState.ESTABLISHED && c.state !== TcpState.CLOSE_WAIT;
  if (avail <= 0 && !wantFin) {
    c.cwndLimited = false;
    return false;
  }
  if (room < Math.min(mss, Math.max(avail, 1)) && pipe > 0) {
    c.cwndLimited = true;
    return false;
  }
  const windowRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndNxt);
  let len = Math.max(0, Math.min(avail, windowRoom, c.tsoMax > mss ? c.tsoMax : mss));
  // A TSO super-segment is whole segments, and no more of them than cwnd allows.
  if (len > mss) len = Math.max(mss, Math.min(len, Math.floor(Math.max(room, mss) / mss) * mss));
  const isTail = len === avail;
  const fin = wantFin && isTail && windowRoom > len;
  if (len === 0 && !fin) return false; // window closed: the persist timer probes (timers.ts)
  if (len < mss && !fin) {
    if (!isTail) {
      // RFC 9293 §3.8.6.2.1 sender SWS avoidance: a partial segment only if it is at least half the largest window seen.
      if (len < c.maxSndWnd / 2) return false;
    } else if (!c.noDelay && c.sndSml !== undefined && seqGt(c.sndSml, c.sndUna)) {
      // Nagle (RFC 896), Minshall's variant: hold a small segment while an earlier small one is unacknowledged.
      return false;
    }
  }
  transmitRange(c, c.sndNxt, len, false, fin);
  return true;
}

/** Sends [start, start + len) from the send buffer (and the FIN if it falls there). */
function transmitRange(c: TcpConnection, start: SeqNum, len: number, isRetransmit: boolean, newFin: boolean): void {
  const layer = c.layer;
  const dataLen = Math.max(0, Math.min(len, seqSub(c.dataEnd, start)));
  let fin = false;
  if (newFin) {
    c.finSeq = seqAdd(start, dataLen);
    fin = true;
  } else if (c.finSeq !== undefined && seqAdd(start, dataLen) === c.finSeq && len > dataLen) {
    fin = true; // retransmitting the FIN
  }
  let flags = TcpFlags.ACK;
  if (fin) flags |= TcpFlags.FIN;
  if (dataLen > 0 && seqAdd(start, dataLen) === c.dataEnd) flags |= TcpFlags.PSH;
  // RFC 3168 §6.1.2/§6.1.5: new data is ECT(0), the first after a cwnd reduction carries CWR; retransmissions are Not-ECT.
  let ecn: number = EcnCodepoint.NOT_ECT;
  if (c.ecnOk && dataLen > 0 && !isRetransmit) {
    ecn = EcnCodepoint.ECT0;
    if (c.ecnSendCwr) {
      flags |= TcpFlags.CWR;
      c.ecnSendCwr = false;
    }
  }

  emit(c, start, flags, seqSub(start, c.bufSeq), dataLen, ecn);

  const end = seqAdd(start, dataLen + (fin ? 1 : 0));
  rackOnTransmit(c, start, end, isRetransmit);
  if (c.cc.rate) rateOnTransmit(c, c.cc.rate, start, end, isRetransmit);
  if (isRetransmit) {
    c.bytesRetransmitted += dataLen;
    c.totalRetransmits++;
    layer.ctx.stats.inc('TcpRetransSegs');
    c.rttSeq = undefined; // Karn (RFC 6298 §3): never time a retransmitted segment
  } else {
    c.bytesSent += dataLen;
    if (!c.tsOk && c.rttSeq === undefined && dataLen > 0) {
      c.rttSeq = start;
      c.rttSentAt = c.now();
    }
    if (dataLen < c.mss) c.sndSml = end;
  }
  if (seqGt(end, c.sndNxt)) c.sndNxt = end;
  // RFC 6298 §5.1: start the timer when it is not running.
  if (!c.retransmitTimer?.armed) armRetransmit(c);
}

/**
 * RFC 8985 §7.3 TLP_send_probe: one segment of new data if the peer's window
 * takes it (cwnd does not apply), else the last segment sent again; also the
 * last segment when the flight is one super-frame (rack.ts probeRetransmits).
 * Returns whether the probe was a retransmission, undefined when nothing could go.
 */
export function sendLossProbe(c: TcpConnection): boolean | undefined {
  const avail = c.sendBuffer.length - seqSub(c.sndNxt, c.bufSeq);
  const windowRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndNxt);
  if (avail > 0 && windowRoom > 0 && c.finSeq === undefined && !probeRetransmits(c)) {
    transmitRange(c, c.sndNxt, Math.min(avail, windowRoom, c.mss), false, false);
    return false;
  }
  const len = Math.min(c.mss, c.flight);
  if (len <= 0) return undefined;
  transmitRange(c, seqAdd(c.sndNxt, -len), len, true, false);
  return true;
}

// --- ACKs ----------------------------------------------------------------

/** A pure ACK (RFC 9293: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>). */
export function sendAck(c: TcpConnection): void {
  emit(c, c.sndNxt, TcpFlags.ACK, 0, 0);
}

/**
 * Runs at the end of the turn in which data arrived (TcpLayer.scheduleAck):
 * ACK now if it is owed now, else leave it to the delayed-ACK timer.
 */
export function ackDecision(c: TcpConnection): void {
  if (c.ackNow) {
    output(c);
    return;
  }
  if (!c.ackPending) return;
  // RFC 5681 §4.2: "an ACK SHOULD be generated for at least every second full-sized segment".
  if (c.bytesSinceAck >= 2 * c.rcvMss) {
    c.ackNow = true;
    output(c);
    return;
  }
  armDelayedAck(c);
}

/** RFC 5961 §3.2/§4.2/§5.2: a challenge ACK, at most one per interval per connection (§7). */
export function sendChallengeAck(c: TcpConnection): void {
  const now = c.now();
  if (now - c.lastChallengeAckAt < c.config.challengeAckIntervalMs) {
    c.layer.ctx.stats.inc('tcpChallengeAckLimited');
    return;
  }
  c.lastChallengeAckAt = now;
  c.layer.ctx.stats.inc('TcpExtTCPChallengeACK');
  sendAck(c);
}

/**
 * Linux tcp_cleanup_rbuf: after the application reads, tell the peer when
 * the window it knows is at most half the buffer and would at least double.
 */
export function windowUpdateWorthSending(c: TcpConnection): boolean {
  const current = Math.max(0, seqSub(c.rcvAdvRight, c.rcvNxt));
  if (2 * current > c.rcvBuf) return false;
  const potential = c.rcvBuf - (c.user?.unreadBytes() ?? 0);
  return potential >= 2 * current && potential - current >= c.rcvMss;
}

/**
 * The window to advertise, moving the right edge only by useful amounts
 * (RFC 9293 §3.8.6.2.2 receiver SWS avoidance) and never to the left.
 */
function receiveWindow(c: TcpConnection): number {
  const space = Math.max(0, c.rcvBuf - (c.user?.unreadBytes() ?? 0));
  const right = seqAdd(c.rcvNxt, space);
  if (seqGt(right, c.rcvAdvRight)) {
    const increase = seqSub(right, c.rcvAdvRight);
    const current = seqSub(c.rcvAdvRight, c.rcvNxt);
    if (increase >= Math.min(c.rcvBuf / 2, c.rcvMss) || current <= 0) c.rcvAdvRight = right;
  }
  if (seqLt(c.rcvAdvRight, c.rcvNxt)) c.rcvAdvRight = c.rcvNxt;
  return seqSub(c.rcvAdvRight, c.rcvNxt);
}

// --- Handshake, probes and resets --------------------------------------------

/**
 * SYN (in SYN-SENT) or SYN-ACK (in SYN-RECEIVED) with our options (RFC 9293
 * §3.5, RFC 7323 §2-§3, RFC 2018 §2). An active open offers everything the
 * config allows; a SYN-ACK only what the peer's SYN offered.
 */
export function sendSyn(c: TcpConnection): void {
  const config = c.config;
  const synAck = c.state === TcpState.SYN_RECEIVED;
  const options: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = { maximumSegmentSize: c.advertisedMss };
  if (synAck ? c.wsOk : config.windowScaling) options.windowScale = c.rcvWscale;
  if (synAck ? c.sackOk : config.sack) options.sackPermitted = true;
  if (synAck ? c.tsOk : config.timestamps) options.timestamps = { value: c.tsNow(), echoReply: synAck ? c.tsRecent : 0 };
  let flags = synAck ? TcpFlags.SYN | TcpFlags.ACK : TcpFlags.SYN;
  // RFC 3168 §6.1.1: ECN-setup SYN (ECE+CWR) only when configured to ask; ECN-setup SYN-ACK (ECE) when agreed.
  if (synAck ? c.ecnOk : config.ecn === 1) flags |= synAck ? TcpFlags.ECE : TcpFlags.ECE | TcpFlags.CWR;
  // RFC 7323 §2.2: the window in a SYN is never scaled.
  const window = Math.min(0xffff, c.rcvBuf);
  c.rcvAdvRight = seqAdd(c.rcvNxt, window);
  const buf = c.layer.txBuffer;
  const headerLength = TCP_HEADER_MIN_LENGTH + emitTcpOptions(options, buf, Field.OPTIONS);
  writeFixedHeader(buf, c.localPort, c.remotePort, c.iss, synAck ? c.rcvNxt : seq(0), headerLength, flags, window);
  finish(c.layer, c.net, c.local, c.remote, buf.subarray(0, headerLength), 0, false);
  if (synAck) c.lastAckSent = c.rcvNxt;
}

/** A zero-window or keepalive probe: an old sequence number with no data, which the peer must ACK (Linux tcp_xmit_probe_skb). */
export function sendProbe(c: TcpConnection): void {
  emit(c, seqAdd(c.sndUna, -1), TcpFlags.ACK, 0, 0);
}

/** A reset from a connection (ABORT, or an unacceptable segment in a half-open connection). */
export function sendReset(c: TcpConnection, seqNum: SeqNum): void {
  const buf = c.layer.txBuffer;
  writeFixedHeader(buf, c.localPort, c.remotePort, seqNum, c.rcvNxt, TCP_HEADER_MIN_LENGTH, TcpFlags.RST | TcpFlags.ACK, 0);
  finish(c.layer, c.net, c.local, c.remote, buf.subarray(0, TCP_HEADER_MIN_LENGTH), 0, false);
  c.layer.ctx.stats.inc('TcpOutRsts');
}

/**
 * RFC 9293 §3.10.7.1: the reset for a segment that reached no connection.
 * "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>;
 * if the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>."
 */
export function sendResetFor(layer: TcpLayer, net: TcpNetwork, local: IpAddress, remote: IpAddress, seg: Segment): void {
  if (seg.rst) return; // "An incoming segment containing a RST is discarded."
  const buf = layer.txBuffer;
  if (seg.hasAck) writeFixedHeader(buf, seg.destinationPort, seg.sourcePort, seg.ack, seq(0), TCP_HEADER_MIN_LENGTH, TcpFlags.RST, 0);
  else writeFixedHeader(buf, seg.destinationPort, seg.sourcePort, seq(0), seqAdd(seg.seq, seg.len), TCP_HEADER_MIN_LENGTH, TcpFlags.RST | TcpFlags.ACK, 0);
  finish(layer, net, local, remote, buf.subarray(0, TCP_HEADER_MIN_LENGTH), 0, false);
  layer.ctx.stats.inc('TcpOutRsts');
}

/** A SYN-ACK that keeps no state: the ISN is a SYN cookie (syn-cookies.ts). */
export function sendCookieSynAck(
  layer: TcpLayer,
  net: TcpNetwork,
  local: IpAddress,
  remote: IpAddress,
  seg: Segment,
  cookie: SeqNum,
  mss: number,
  tsVal: number | undefined,
): void {
  const options: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = { maximumSegmentSize: mss };
  if (tsVal !== undefined) {
    options.timestamps = { value: tsVal, echoReply: seg.tsVal };
    if (seg.sackPermitted && layer.config.sack) options.sackPermitted = true;
    if (seg.hasWindowScale && layer.config.windowScaling) options.windowScale = layer.config.receiveBufferMax > 0xffff ? windowScaleFor(layer.config.receiveBufferMax) : 0;
  }
  const buf = layer.txBuffer;
  const headerLength = TCP_HEADER_MIN_LENGTH + emitTcpOptions(options, buf, Field.OPTIONS);
  writeFixedHeader(buf, seg.destinationPort, seg.sourcePort, cookie, seqAdd(seg.seq, 1), headerLength, TcpFlags.SYN | TcpFlags.ACK, Math.min(0xffff, layer.config.receiveBuffer));
  finish(layer, net, local, remote, buf.subarray(0, headerLength), 0, false);
}

/** The smallest shift that lets a 16-bit field describe `buffer` bytes (RFC 7323 §2.3), at most 14. */
export function windowScaleFor(buffer: number): number {
  let shift = 0;
  while (shift < 14 && 0xffff * 2 ** shift < buffer) shift++;
  return shift;
}

// --- Building segments ---------------------------------------------------

function writeFixedHeader(buf: Uint8Array, sourcePort: number, destinationPort: number, seqNum: SeqNum, ack: SeqNum, headerLength: number, flags: number, window: number): void {
  emitTcpFixedHeader(buf, 0, sourcePort, destinationPort, seqNum, ack, headerLength, flags, window, 0);
}

/**
 * The options of a data segment or ACK, one record reused for every segment so
 * that building one allocates nothing: timestamps on every segment once
 * negotiated (RFC 7323 §3.2), SACK blocks while out-of-order data is held
 * (RFC 2018 §4). emitTcpOptions lays them out as Linux does (NOP, NOP, kind...).
 */
const segmentTimestamps = { value: 0, echoReply: 0 };
const segmentOptions: { timestamps?: { value: number; echoReply: number }; sackBlocks?: readonly SackBlock[] } = {
  timestamps: undefined,
  sackBlocks: undefined,
};

/**
 * Builds one segment of a synchronized connection in the layer's transmit
 * buffer: header, timestamps and SACK options, `dataLen` bytes from the send
 * buffer at `dataOffset`, checksum; then hands it to the network.
 *
 * With checksum offload towards a network that gathers
 * (`TcpNetwork.sendWithPayload`), the data is not copied: the segment is the
 * header, followed by slices of the send buffer's blocks (send-buffer.ts),
 * and the device writes both with one writev (device/tap.ts). The data is
 * then never read by tapnet: the kernel sums it (NEEDS_CSUM). Without
 * offload the checksum covers the data, so it is copied and summed here.
 */
function emit(c: TcpConnection, seqNum: SeqNum, flags: number, dataOffset: number, dataLen: number, ecn = 0): void {
  const buf = c.layer.txBuffer;
  // RFC 3168 §6.1.3: every ACK carries ECE from a CE mark until the peer's CWR.
  if (c.ecnEcho && flags & TcpFlags.ACK) flags |= TcpFlags.ECE;
  if (c.tsOk) {
    segmentTimestamps.value = c.tsNow();
    segmentTimestamps.echoReply = c.tsRecent;
    segmentOptions.timestamps = segmentTimestamps;
  } else {
    segmentOptions.timestamps = undefined;
  }
  // RFC 2018 §3: with timestamps, 3 blocks fit in the 40 option bytes.
  segmentOptions.sackBlocks = c.sackOk && !c.ofo.isEmpty ? c.ofo.sackBlocks(c.tsOk ? 3 : TCP_MAX_SACK_BLOCKS) : undefined;
  const headerLength = TCP_HEADER_MIN_LENGTH + emitTcpOptions(segmentOptions, buf, Field.OPTIONS);
  segmentOptions.sackBlocks = undefined; // the blocks belong to the queue; do not keep them alive
  const window = Math.min(0xffff, Math.floor(receiveWindow(c) / 2 ** c.rcvWscale));
  writeFixedHeader(buf, c.localPort, c.remotePort, seqNum, c.rcvNxt, headerLength, flags, window);
  const gso = c.tsoMax > 0 && dataLen > c.mss ? currentMss(c) : 0;
  if (dataLen > 0 && c.checksumOffload && c.net.sendWithPayload !== undefined) {
    finishGathered(c, buf.subarray(0, headerLength), dataOffset, dataLen, gso, ecn);
  } else {
    if (dataLen > 0) c.sendBuffer.copy(dataOffset, dataLen, buf, headerLength);
    finish(c.layer, c.net, c.local, c.remote, buf.subarray(0, headerLength + dataLen), gso, c.checksumOffload, ecn);
  }

  if (flags & TcpFlags.ACK) {
    // Every segment with ACK carries RCV.NXT: the owed ACK has gone out.
    c.lastAckSent = c.rcvNxt;
    c.ackNow = false;
    c.ackPending = false;
    c.bytesSinceAck = 0;
    cancelDelayedAck(c);
  }
}

/** `finish` for a header whose data stays in the send buffer: the pseudo-header sum only (NEEDS_CSUM), data as slices. */
function finishGathered(c: TcpConnection, header: Uint8Array, dataOffset: number, dataLen: number, gsoSize: number, ecn: number): void {
  const payload = c.layer.txPayload;
  c.sendBuffer.slices(dataOffset, dataLen, payload);
  setU16(header, Field.CHECKSUM, fold(c.net.pseudoHeaderSum(c.local, c.remote, header.length + dataLen)));
  c.layer.ctx.stats.inc('TcpOutSegs');
  c.net.sendWithPayload!(c.local, c.remote, header, payload, gsoSize, ecn);
  payload.clear(); // the device took its references
}

/** Checksum (complete, or the pseudo-header part for the link to finish) and send. */
function finish(layer: TcpLayer, net: TcpNetwork, local: IpAddress, remote: IpAddress, segment: Uint8Array, gsoSize: number, partial: boolean, ecn = 0): void {
  const pseudo = net.pseudoHeaderSum(local, remote, segment.length);
  if (partial) setU16(segment, Field.CHECKSUM, fold(pseudo)); // virtio-net NEEDS_CSUM: the link sums from the TCP header on
  else setU16(segment, Field.CHECKSUM, finishChecksum(sumWords(segment, 0, segment.length, pseudo)));
  layer.ctx.stats.inc('TcpOutSegs');
  net.send(local, remote, segment, gsoSize, partial, ecn);
}
