/**
 * Explicit Congestion Notification for TCP: negotiation, the receiver's echo
 * and the sender's reaction, all of RFC 3168 in one place.
 *
 * Read first: RFC 3168 §5 (the IP field: ECT(0) = 2, CE = 3), §6.1.1 (the
 * handshake: an "ECN-setup SYN" has ECE and CWR, an "ECN-setup SYN-ACK" has
 * ECE only), §6.1.2 (the sender halves cwnd at most once per window of data
 * and answers with CWR), §6.1.3 (the receiver sets ECE on every ACK from a CE
 * mark until a CWR arrives), §6.1.5 (retransmissions, pure ACKs and window
 * probes are never ECT).
 *
 * Like Linux with net.ipv4.tcp_ecn = 2 (its default) tapnet accepts ECN when
 * the peer's SYN asks and never asks itself; `ecn: 1` asks too. A SYN-cookie
 * SYN-ACK does not negotiate ECN (Linux keeps the bit in the cookie's
 * timestamp; tapnet's cookies do not).
 */
import type { TcpConnection } from '../connection.js';
import { TcpFlags } from '../header.js';
import type { Segment } from '../segment.js';
import { seqLe } from '../seq.js';

/** RFC 3168 §5: the two-bit ECN field. */
export const EcnCodepoint = { NOT_ECT: 0, ECT1: 1, ECT0: 2, CE: 3 } as const;

/** §6.1.1: an ECN-setup SYN carries both ECE and CWR. */
export function isEcnSetupSyn(seg: Segment): boolean {
  return (seg.flags & (TcpFlags.ECE | TcpFlags.CWR)) === (TcpFlags.ECE | TcpFlags.CWR);
}

/** §6.1.1: an ECN-setup SYN-ACK carries ECE and not CWR. */
export function isEcnSetupSynAck(seg: Segment): boolean {
  return (seg.flags & (TcpFlags.ECE | TcpFlags.CWR)) === TcpFlags.ECE;
}

/**
 * §6.1.3, the receiver: a CWR means the sender has reacted, so stop echoing;
 * a CE mark (on this very segment too) starts echoing ECE on every ACK. The
 * first CE is ACKed at once, so the sender hears of it within one RTT (Linux
 * enters quick-ACK mode on CE).
 */
export function ecnReceive(c: TcpConnection, seg: Segment): void {
  if (seg.flags & TcpFlags.CWR) c.ecnEcho = false;
  if (seg.ecn === EcnCodepoint.CE) {
    c.layer.ctx.stats.inc('tcpEcnCeReceived');
    if (!c.ecnEcho) c.ackNow = true;
    c.ecnEcho = true;
  }
}

/**
 * §6.1.2, the sender: an ACK with ECE is a congestion signal like a loss, but
 * nothing is retransmitted. cwnd (and ssthresh) are reduced at most once per
 * window of data, and the next new data segment carries CWR. During loss
 * recovery the window was already reduced for this window: only CWR goes.
 */
export function ecnOnEce(c: TcpConnection, seg: Segment): void {
  if (!(seg.flags & TcpFlags.ECE) || seg.syn) return;
  // Same window: ACKs up to the segment that carried CWR were sent before the peer saw it, and still echo.
  if (c.ecnCwrEnd !== undefined && seqLe(c.sndUna, c.ecnCwrEnd)) return;
  c.ecnCwrEnd = c.sndNxt;
  c.ecnSendCwr = true;
  if (c.recoveryState !== 'open') return;
  c.layer.ctx.stats.inc('tcpEcnCwndReduced');
  c.cc.onCongestionEvent(c.flight, c.mss, c.now());
  c.cc.cwnd = Math.max(c.cc.ssthresh, c.mss);
}
