/**
 * The eleven TCP connection states.
 *
 * Read first: RFC 9293 §3.3.2 "State Machine Overview" and its Figure 5.
 *
 *                              +---------+ ---------\      active OPEN
 *                              |  CLOSED |            \    -----------
 *                              +---------+<---------\   \   create TCB
 *                                |     ^              \   \  snd SYN
 *                   passive OPEN |     |   CLOSE        \   \
 *                   ------------ |     | ----------       \   \
 *                    create TCB  |     | delete TCB         \   \
 *                                V     |                      \   \
 *            rcv RST (note 1)  +---------+            CLOSE    |    \
 *         -------------------->|  LISTEN |          ---------- |     |
 *        /                     +---------+          delete TCB |     |
 *       /           rcv SYN      |     |     SEND              |     |
 *      /           -----------   |     |    -------            |     V
 *  +--------+      snd SYN,ACK  /       \   snd SYN          +--------+
 *  |        |<-----------------           ------------------>|        |
 *  |  SYN   |                    rcv SYN                     |  SYN   |
 *  |  RCVD  |<-----------------------------------------------|  SENT  |
 *  |        |                  snd SYN,ACK                   |        |
 *  |        |------------------           -------------------|        |
 *  +--------+   rcv ACK of SYN  \       /  rcv SYN,ACK       +--------+
 *     |         --------------   |     |   -----------
 *     |                x         |     |     snd ACK
 *     |                          V     V
 *     |  CLOSE                 +---------+
 *     | -------                |  ESTAB  |
 *     | snd FIN                +---------+
 *     |                 CLOSE    |     |    rcv FIN
 *     V                -------   |     |    -------
 *  +---------+         snd FIN  /       \   snd ACK         +---------+
 *  |  FIN    |<----------------          ------------------>|  CLOSE  |
 *  | WAIT-1  |------------------                            |   WAIT  |
 *  +---------+          rcv FIN  \                          +---------+
 *    | rcv ACK of FIN   -------   |                          CLOSE  |
 *    | --------------   snd ACK   |                         ------- |
 *    V        x                   V                         snd FIN V
 *  +---------+               +---------+                    +---------+
 *  |FINWAIT-2|               | CLOSING |                    | LAST-ACK|
 *  +---------+               +---------+                    +---------+
 *    |              rcv ACK of FIN |                 rcv ACK of FIN |
 *    |  rcv FIN     -------------- |    Timeout=2MSL -------------- |
 *    |  -------            x       V    ------------        x       V
 *     \ snd ACK              +---------+delete TCB          +---------+
 *       -------------------->|TIME-WAIT|------------------->| CLOSED  |
 *                            +---------+                    +---------+
 *
 * LISTEN lives in the listener (demux.ts), not in a connection: a listening
 * port answers a SYN by creating a connection in SYN-RECEIVED.
 */

export const TcpState = {
  CLOSED: 'CLOSED',
  LISTEN: 'LISTEN',
  SYN_SENT: 'SYN-SENT',
  SYN_RECEIVED: 'SYN-RECEIVED',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT_1: 'FIN-WAIT-1',
  FIN_WAIT_2: 'FIN-WAIT-2',
  CLOSE_WAIT: 'CLOSE-WAIT',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST-ACK',
  TIME_WAIT: 'TIME-WAIT',
} as const;

export type TcpState = (typeof TcpState)[keyof typeof TcpState];

/** RFC 9293 §3.10.7.4: the states past the handshake, where sequence numbers are synchronized. */
export function isSynchronized(state: TcpState): boolean {
  return state !== TcpState.CLOSED && state !== TcpState.LISTEN && state !== TcpState.SYN_SENT;
}

/** States in which the peer may still send us data (RFC 9293 §3.10.7.4 seventh step). */
export function canReceiveData(state: TcpState): boolean {
  return state === TcpState.ESTABLISHED || state === TcpState.FIN_WAIT_1 || state === TcpState.FIN_WAIT_2;
}

/** States in which we may still send data (our FIN not yet queued). */
export function canSendData(state: TcpState): boolean {
  return state === TcpState.ESTABLISHED || state === TcpState.CLOSE_WAIT;
}
