/**
 * Issue 11 item 8, ACK hygiene as Linux has it: no pure window update right
 * after the handshake (Linux tcp_cleanup_rbuf considers one only after the
 * application has read data), and a reply written in the turn its request
 * arrived carries the ACK (RFC 9293 §3.8.6.3: delayed ACKs; RFC 5681 §4.2).
 */
import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { A_ADDR, B, B_ADDR, tapSegments, tcpPair } from './harness.js';

describe('ACKs as Linux sends them', () => {
  it('the listening side sends nothing after its SYN-ACK until there is something to say', async () => {
    const p = tcpPair();
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    let server: Socket | undefined;
    p.b.tcp.createServer((s) => {
      server = s;
      s.on('data', () => {}); // a reading application: its first read must not announce the window
    }).listen(80);
    const client = p.a.tcp.connect({ host: B, port: 80 });
    client.on('data', () => {});
    await p.runUntil(() => server !== undefined);
    await p.runFor(2_000);
    expect(fromB.map((s) => s.flags)).toEqual([TcpFlags.SYN | TcpFlags.ACK]);
  });

  it('a reply written while the request is delivered carries the ACK: no pure ACK before it', async () => {
    const p = tcpPair();
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    p.b.tcp.createServer((s) => s.on('data', (d: Buffer) => s.write(`re: ${d.toString()}`))).listen(7);
    const client = p.a.tcp.connect({ host: B, port: 7 });
    const got: Buffer[] = [];
    client.on('data', (d: Buffer) => got.push(d));
    await p.runUntil(() => fromB.length >= 1);
    await p.runFor(100);
    client.write('question');
    await p.runUntil(() => Buffer.concat(got).toString() === 're: question');
    await p.runFor(1_000);
    const afterHandshake = fromB.slice(1).filter((s) => s.from === B_ADDR && s.to === A_ADDR);
    expect(afterHandshake.map((s) => [s.flags & ~TcpFlags.PSH, s.payloadLength])).toEqual([[TcpFlags.ACK, 're: question'.length]]);
  });
});
