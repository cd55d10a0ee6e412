/**
 * Segments to a listening port that Linux refuses: SYN+FIN (with or without
 * PSH/URG) is a scanner's probe and an evasion trick, not an open. RFC 9293
 * §3.10.7.2 would queue the FIN "for processing later"; Linux's
 * tcp_rcv_state_process drops the segment (drop reason TCP_FLAGS), and so
 * does tapnet, counted. A plain SYN still gets its SYN-ACK (the control case).
 */
import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { A_ADDR, B_ADDR, inject, rawSegment, tapSegments, tcpPair } from './harness.js';

function setup() {
  const p = tcpPair();
  p.b.tcp.createServer(() => {}).listen(80);
  const fromB = tapSegments(p.linkB, p.ctxA.clock);
  const send = (flags: number): void =>
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { sourcePort: 40001, destinationPort: 80, seq: 1000, flags }));
  return { ...p, fromB, send };
}

describe('LISTEN: SYN+FIN', () => {
  it('a plain SYN is answered with a SYN-ACK', async () => {
    const t = setup();
    t.send(TcpFlags.SYN);
    await t.runFor(1);
    expect(t.fromB.map((s) => s.flags)).toEqual([TcpFlags.SYN | TcpFlags.ACK]);
  });

  for (const [name, extra] of [
    ['SYN+FIN', 0],
    ['SYN+FIN+PSH', TcpFlags.PSH],
    ['SYN+FIN+URG', TcpFlags.URG],
    ['SYN+FIN+PSH+URG', TcpFlags.PSH | TcpFlags.URG],
  ] as const) {
    it(`${name} is dropped without an answer or a connection, and counted`, async () => {
      const t = setup();
      t.send(TcpFlags.SYN | TcpFlags.FIN | extra);
      await t.runFor(3000); // past the SYN-ACK retransmission timer a connection would have armed
      expect(t.fromB).toEqual([]);
      expect(t.b.tcp.layer.connectionCount).toBe(0);
      expect(t.b.ctx.stats.get('tcpListenSynFin')).toBe(1);
      expect(t.b.ctx.stats.get('TcpPassiveOpens')).toBe(0);
    });
  }
});
