/**
 * TCP connection tracking: the states a middlebox can see, and how long it
 * keeps each one.
 *
 * Read first: RFC 5382 §5 (REQ-5: the idle timeouts a NAT must honour),
 * RFC 7857 §2.2 (what to do after a RST), RFC 9293 §3.3.2 (the endpoint
 * state machine this one shadows), and Linux's nf_conntrack_proto_tcp.c
 * (`tcp_conntracks[][][]`, whose state names `conntrack -L` prints).
 *
 * A middlebox sees both directions but neither endpoint's variables, so it
 * tracks a coarser machine than RFC 9293's:
 *
 *   SYN_SENT ──SYN+ACK (reply)──▶ SYN_RECV ──ACK──▶ ESTABLISHED
 *   ESTABLISHED ──FIN (original)──▶ FIN_WAIT ─┐
 *   ESTABLISHED ──FIN (reply)─────▶ CLOSE_WAIT ┴─FIN (the other side)─▶ LAST_ACK ──ACK──▶ TIME_WAIT
 *   any ──RST──▶ CLOSE
 *
 * A SYN that reuses the tuple of a connection in TIME_WAIT or CLOSE starts a
 * new connection: conntrack.ts removes the old entry first (Linux does the same).
 *
 * Unlike Linux, sequence numbers are not checked against the windows
 * (tcp_in_window): an out-of-window segment moves the state all the same.
 */
import { TcpFlags } from '../../l4/tcp/header.js';

export type TcpConntrackState =
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE';

/** RFC 5382 REQ-5: "the value of the 'established connection idle-timeout' MUST NOT be less than 2 hours 4 minutes". */
export const TCP_ESTABLISHED_TIMEOUT_MS = (2 * 60 + 4) * 60_000;
/**
 * RFC 5382 REQ-5: "The value of the 'transitory connection idle-timeout'
 * MUST NOT be less than 4 minutes" (partially open or closing connections),
 * and RFC 7857 §2.2: after a RST the NAT "SHOULD wait for 4 minutes before
 * deleting the session". Linux is shorter (120 s SYN_SENT, 10 s CLOSE).
 */
export const TCP_TRANSITORY_TIMEOUT_MS = 4 * 60_000;

export const TCP_TIMEOUTS_MS: Readonly<Record<TcpConntrackState, number>> = {
  SYN_SENT: TCP_TRANSITORY_TIMEOUT_MS,
  SYN_RECV: TCP_TRANSITORY_TIMEOUT_MS,
  ESTABLISHED: TCP_ESTABLISHED_TIMEOUT_MS,
  FIN_WAIT: TCP_TRANSITORY_TIMEOUT_MS,
  CLOSE_WAIT: TCP_TRANSITORY_TIMEOUT_MS,
  LAST_ACK: TCP_TRANSITORY_TIMEOUT_MS,
  TIME_WAIT: TCP_TRANSITORY_TIMEOUT_MS,
  CLOSE: TCP_TRANSITORY_TIMEOUT_MS,
};

/** What the tracker remembers of one TCP connection. */
export interface TcpTrack {
  state: TcpConntrackState;
  /** Bit 0: the original direction sent a FIN; bit 1: the reply direction did. */
  finSeen: number;
  /** Direction (0 original, 1 reply) of the second FIN: the other side sends the last ACK. */
  lastFinDirection: 0 | 1;
}

/** True when the connection is over and a new SYN may reuse its tuple (Linux sTW/sCL → sSS). */
export function tcpReusable(track: TcpTrack): boolean {
  return track.state === 'TIME_WAIT' || track.state === 'CLOSE';
}

/** True when `flags` may open a connection: SYN without ACK, RST or FIN (RFC 9293 §3.5). */
export function tcpOpensConnection(flags: number): boolean {
  return (flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST | TcpFlags.FIN)) === TcpFlags.SYN;
}

export function newTcpTrack(): TcpTrack {
  return { state: 'SYN_SENT', finSeen: 0, lastFinDirection: 0 };
}

/**
 * Moves `track` for one segment seen in `direction` (0 original, 1 reply).
 * Segments that make no sense in the current state leave it unchanged (Linux's
 * "ignore"): the endpoints, not the middlebox, decide what is acceptable.
 */
export function tcpConntrackStep(track: TcpTrack, direction: 0 | 1, flags: number): void {
  const syn = (flags & TcpFlags.SYN) !== 0;
  const ack = (flags & TcpFlags.ACK) !== 0;
  const fin = (flags & TcpFlags.FIN) !== 0;
  if (flags & TcpFlags.RST) {
    track.state = 'CLOSE';
    return;
  }
  if (syn) {
    if (direction === 1 && (track.state === 'SYN_SENT' || track.state === 'SYN_RECV')) {
      // SYN+ACK, or a bare SYN from the far end (simultaneous open, RFC 9293 §3.5 figure 7).
      track.state = 'SYN_RECV';
    }
    return;
  }
  // The handshake's third segment (or the first data after it).
  if (ack && track.state === 'SYN_RECV') track.state = 'ESTABLISHED';
  const bit = direction === 0 ? 1 : 2;
  if (fin) {
    if ((track.finSeen & bit) !== 0) return; // a retransmitted FIN
    track.finSeen |= bit;
    if (track.state === 'ESTABLISHED' || track.state === 'SYN_RECV') {
      track.state = direction === 0 ? 'FIN_WAIT' : 'CLOSE_WAIT';
    } else if ((track.state === 'FIN_WAIT' || track.state === 'CLOSE_WAIT') && track.finSeen === 3) {
      track.state = 'LAST_ACK';
      track.lastFinDirection = direction;
    }
    return;
  }
  // The ACK of the second FIN comes from the side that closed first.
  if (ack && track.state === 'LAST_ACK' && direction !== track.lastFinDirection) track.state = 'TIME_WAIT';
}
