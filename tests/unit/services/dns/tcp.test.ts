/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766) on tapnet's TCP, in process: a
 * local answer is written in the turn its query arrives, so it carries the ACK
 * of the query instead of following a pure ACK (issue 11 item 8), and a client
 * that half-closes after its query still gets the answer, then our FIN.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { DnsServer } from '../../../../src/services/dns/server.js';
import { listenDnsTcp } from '../../../../src/services/dns/tcp.js';
import { DnsType } from '../../../../src/services/dns/message.js';
import { A_ADDR, B, B_ADDR, tapSegments, tcpPair } from '../../l4/tcp/harness.js';
import { exampleZone, query } from './fixture.js';

function framed(q: Uint8Array): Buffer {
  const b = Buffer.alloc(2 + q.length);
  b.writeUInt16BE(q.length, 0);
  b.set(q, 2);
  return b;
}

function setup() {
  const p = tcpPair();
  listenDnsTcp(p.b, new DnsServer(p.ctxB, { zone: exampleZone() }));
  const fromB = tapSegments(p.linkB, p.ctxA.clock);
  const client = p.a.tcp.connect({ host: B, port: 53, allowHalfOpen: true });
  const got: Buffer[] = [];
  let ended = false;
  client.on('data', (d: Buffer) => got.push(d));
  client.on('end', () => (ended = true));
  const answer = (): Buffer => Buffer.concat(got);
  return { ...p, fromB, client, answer, ended: () => ended };
}

describe('DNS over TCP', () => {
  it('the answer piggybacks the ACK of its query', async () => {
    const t = setup();
    await t.runUntil(() => t.fromB.length >= 1);
    await t.runFor(50);
    t.client.write(framed(query('www.example.test.', DnsType.A)));
    await t.runUntil(() => t.answer().length > 2 && t.answer().length === 2 + t.answer().readUInt16BE(0));
    await t.runFor(1_000);
    const afterHandshake = t.fromB.slice(1).filter((s) => s.from === B_ADDR && s.to === A_ADDR);
    expect(afterHandshake).toHaveLength(1);
    expect(afterHandshake[0]!.flags & TcpFlags.ACK).toBe(TcpFlags.ACK);
    expect(afterHandshake[0]!.payloadLength).toBe(t.answer().length);
  });

  it('a client that half-closes after its query gets the answer, then the FIN', async () => {
    const t = setup();
    t.client.end(framed(query('www.example.test.', DnsType.A, { id: 0x4242 })));
    await t.runUntil(() => t.ended());
    const a = t.answer();
    expect(a.readUInt16BE(0)).toBe(a.length - 2);
    expect(a.readUInt16BE(2)).toBe(0x4242);
  });
});
