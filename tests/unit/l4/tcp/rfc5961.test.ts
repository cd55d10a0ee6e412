/**
 * RFC 5961 "Improving TCP's Robustness to Blind In-Window Attacks": RSTs,
 * SYNs and data from an off-path attacker who guesses the 4-tuple but not
 * the exact sequence numbers, plus PAWS (RFC 7323 §5) and the challenge-ACK
 * rate limit.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { TcpState } from '../../../../src/l4/tcp/state.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { A_ADDR, B, B_ADDR, inject, onlyConnection, rawSegment, tapSegments, tcpPair } from './harness.js';

async function setup() {
  const p = tcpPair({ configB: { timestamps: false } });
  let serverSocket: Socket | undefined;
  p.b.tcp.createServer((s) => (serverSocket = s)).listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => serverSocket !== undefined && !client.connecting);
  const c = onlyConnection(p.b);
  // Segments "from the client" as an attacker would forge them.
  const forge = (fields: { seq: number; ack?: number; flags: number; payload?: Uint8Array }): void =>
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { sourcePort: c.remotePort, destinationPort: 80, ...fields }));
  const received: Buffer[] = [];
  serverSocket!.on('data', (d: Buffer) => received.push(d));
  serverSocket!.on('error', () => {});
  await p.runFor(1); // the window update that follows the handshake
  const fromB = tapSegments(p.linkB, p.ctxA.clock);
  return { ...p, c, fromB, forge, received, serverSocket: serverSocket! };
}

describe('RFC 5961 §3: blind RST', () => {
  it('a RST exactly at RCV.NXT resets the connection', async () => {
    const t = await setup();
    t.forge({ seq: t.c.rcvNxt, flags: TcpFlags.RST });
    expect(t.c.state).toBe(TcpState.CLOSED);
  });

  it('a RST inside the window but not at RCV.NXT gets a challenge ACK and changes nothing', async () => {
    const t = await setup();
    t.forge({ seq: (t.c.rcvNxt + 1000) >>> 0, flags: TcpFlags.RST });
    await t.runFor(1);
    expect(t.c.state).toBe(TcpState.ESTABLISHED);
    expect(t.fromB).toHaveLength(1);
    expect(t.fromB[0]!.flags).toBe(TcpFlags.ACK);
    expect(t.fromB[0]!.ack).toBe(t.c.rcvNxt);
    expect(t.b.ctx.stats.get('TcpExtTCPChallengeACK')).toBe(1);
  });

  it('a RST outside the window is dropped silently', async () => {
    const t = await setup();
    t.forge({ seq: (t.c.rcvNxt + 0x4000_0000) >>> 0, flags: TcpFlags.RST });
    await t.runFor(1);
    expect(t.c.state).toBe(TcpState.ESTABLISHED);
    expect(t.fromB).toHaveLength(0);
  });
});

describe('RFC 5961 §4: blind SYN', () => {
  it('a SYN in a synchronized state, in or out of the window, gets a challenge ACK', async () => {
    const t = await setup();
    t.forge({ seq: (t.c.rcvNxt + 10) >>> 0, flags: TcpFlags.SYN });
    await t.runFor(1);
    expect(t.c.state).toBe(TcpState.ESTABLISHED);
    expect(t.fromB.map((s) => s.flags)).toEqual([TcpFlags.ACK]);
    expect(t.b.ctx.stats.get('TcpExtTCPSYNChallenge')).toBe(1);
  });
});

describe('RFC 5961 §5: blind data injection', () => {
  it('data with an ACK older than SND.UNA - MAX.SND.WND is dropped with a challenge ACK', async () => {
    const t = await setup();
    t.forge({ seq: t.c.rcvNxt, ack: (t.c.sndUna - 0x2000_0000) >>> 0, flags: TcpFlags.ACK | TcpFlags.PSH, payload: Buffer.from('evil') });
    await t.runFor(1);
    expect(t.received).toHaveLength(0);
    expect(t.fromB.map((s) => s.flags)).toEqual([TcpFlags.ACK]);
    expect(t.b.ctx.stats.get('tcpAckOutOfRange')).toBe(1);
  });

  it('data acknowledging something never sent is dropped', async () => {
    const t = await setup();
    t.forge({ seq: t.c.rcvNxt, ack: (t.c.sndNxt + 5000) >>> 0, flags: TcpFlags.ACK, payload: Buffer.from('evil') });
    await t.runFor(1);
    expect(t.received).toHaveLength(0);
  });

  it('data outside the receive window is dropped with a duplicate ACK', async () => {
    const t = await setup();
    t.forge({ seq: (t.c.rcvNxt + 0x1000_0000) >>> 0, ack: t.c.sndNxt, flags: TcpFlags.ACK, payload: Buffer.from('evil') });
    await t.runFor(1);
    expect(t.received).toHaveLength(0);
    expect(t.b.ctx.stats.get('tcpInOutOfWindow')).toBe(1);
    expect(t.fromB.map((s) => s.ack)).toEqual([t.c.rcvNxt]);
  });

  it('data with a correct SEQ and an acceptable ACK is accepted (what the RFC cannot prevent)', async () => {
    const t = await setup();
    t.forge({ seq: t.c.rcvNxt, ack: t.c.sndNxt, flags: TcpFlags.ACK | TcpFlags.PSH, payload: Buffer.from('ok') });
    await t.runFor(1);
    expect(Buffer.concat(t.received).toString()).toBe('ok');
  });
});

describe('RFC 5961 §7: challenge ACK rate limit', () => {
  it('sends at most one challenge ACK per 500 ms per connection', async () => {
    const t = await setup();
    for (let i = 0; i < 100; i++) t.forge({ seq: (t.c.rcvNxt + 100 + i) >>> 0, flags: TcpFlags.RST });
    await t.runFor(1);
    expect(t.fromB).toHaveLength(1);
    expect(t.b.ctx.stats.get('tcpChallengeAckLimited')).toBe(99);
    await t.runFor(500);
    t.forge({ seq: (t.c.rcvNxt + 100) >>> 0, flags: TcpFlags.RST });
    await t.runFor(1);
    expect(t.fromB).toHaveLength(2);
    expect(t.c.state).toBe(TcpState.ESTABLISHED);
  });
});

describe('RFC 7323 §5: PAWS', () => {
  it('drops a segment whose timestamp is older than TS.Recent and ACKs', async () => {
    const p = tcpPair();
    let serverSocket: Socket | undefined;
    p.b.tcp.createServer((s) => (serverSocket = s)).listen(80);
    const client = p.a.tcp.connect({ host: B, port: 80 });
    await p.runUntil(() => serverSocket !== undefined && !client.connecting);
    const c = onlyConnection(p.b);
    const received: Buffer[] = [];
    serverSocket!.on('data', (d: Buffer) => received.push(d));
    const old = (c.tsRecent - 1000) >>> 0;
    inject(
      p.b,
      A_ADDR,
      B_ADDR,
      rawSegment(A_ADDR, B_ADDR, {
        sourcePort: c.remotePort,
        seq: c.rcvNxt,
        ack: c.sndNxt,
        flags: TcpFlags.ACK,
        payload: Buffer.from('replayed'),
        options: { timestamps: { value: old, echoReply: 0 } },
      }),
    );
    await p.runFor(1);
    expect(received).toHaveLength(0);
    expect(p.b.ctx.stats.get('TcpExtPAWSEstab')).toBe(1);
  });
});
