/**
 * RFC 9293 state machine, one group per state, over an in-memory link on a
 * manual clock: passive and active open, simultaneous open and close,
 * half-close, resets, TIME-WAIT.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { TcpState } from '../../../../src/l4/tcp/state.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { A, A_ADDR, B, B_ADDR, connections, inject, onlyConnection, rawSegment, tapSegments, tcpPair } from './harness.js';

const flags = (f: number): string =>
  (f & TcpFlags.SYN ? 'S' : '') + (f & TcpFlags.FIN ? 'F' : '') + (f & TcpFlags.RST ? 'R' : '') + (f & TcpFlags.ACK ? '.' : '');

async function established(options: Parameters<typeof tcpPair>[0] = {}) {
  const p = tcpPair(options);
  let serverSocket: Socket | undefined;
  const server = p.b.tcp.createServer((s) => (serverSocket = s));
  server.listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => serverSocket !== undefined && !client.connecting);
  return { ...p, server, client, serverSocket: serverSocket! };
}

describe('LISTEN and the three-way handshake (RFC 9293 §3.5)', () => {
  it('opens passively and actively, negotiating MSS, window scale, SACK and timestamps', async () => {
    const p = tcpPair();
    const fromA = tapSegments(p.linkA, p.ctxA.clock);
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    let accepted: Socket | undefined;
    p.b.tcp.createServer((s) => (accepted = s)).listen(80);
    let connected = false;
    const client = p.a.tcp.connect({ host: B, port: 80 }, () => (connected = true));
    await p.runUntil(() => connected && accepted !== undefined);
    const syn = fromA.find((s) => s.flags === TcpFlags.SYN)!;
    const synAck = fromB.find((s) => s.flags === (TcpFlags.SYN | TcpFlags.ACK))!;
    expect(syn.options.maximumSegmentSize).toBe(1460);
    expect(syn.options.sackPermitted).toBe(true);
    expect(syn.options.windowScale).toBe(7); // 4 MiB receive buffer
    expect(syn.options.timestamps?.echoReply).toBe(0);
    expect(synAck.ack).toBe((syn.seq + 1) >>> 0);
    expect(synAck.options.timestamps?.echoReply).toBe(syn.options.timestamps?.value);
    const ack = fromA.find((s) => s.flags === TcpFlags.ACK)!;
    expect(ack.ack).toBe((synAck.seq + 1) >>> 0);
    expect(onlyConnection(p.a).state).toBe(TcpState.ESTABLISHED);
    expect(onlyConnection(p.b).state).toBe(TcpState.ESTABLISHED);
    // Timestamps take 12 option bytes out of every segment: 1460 - 12.
    expect(onlyConnection(p.a).mss).toBe(1448);
    expect(client.remoteAddress).toBe(B);
    expect(accepted!.remoteAddress).toBe(A);
    expect(p.a.ctx.stats.get('TcpActiveOpens')).toBe(1);
    expect(p.b.ctx.stats.get('TcpPassiveOpens')).toBe(1);
    expect(p.b.ctx.stats.get('TcpCurrEstab')).toBe(1);
  });

  it('answers a SYN to a closed port with RST,ACK and the client reports ECONNREFUSED', async () => {
    const p = tcpPair();
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    const client = p.a.tcp.connect({ host: B, port: 81 });
    let error: (Error & { code?: string }) | undefined;
    client.on('error', (e) => (error = e));
    await p.runUntil(() => error !== undefined);
    expect(error!.code).toBe('ECONNREFUSED');
    expect(fromB.map((s) => flags(s.flags))).toEqual(['R.']);
    expect(p.b.ctx.stats.get('TcpOutRsts')).toBe(1);
    expect(connections(p.a)).toHaveLength(0);
  });

  it('resets an ACK sent to a listener (<SEQ=SEG.ACK><CTL=RST>) and ignores a RST', async () => {
    const p = tcpPair();
    p.b.tcp.createServer(() => {}).listen(80);
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { seq: 1000, ack: 5555, flags: TcpFlags.ACK }));
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { seq: 1000, flags: TcpFlags.RST }));
    await p.runFor(10);
    expect(fromB.map((s) => [flags(s.flags), s.seq])).toEqual([['R', 5555]]);
    expect(p.b.ctx.stats.get('tcpListenRst')).toBe(1);
  });

  it('retransmits the SYN with exponential backoff, then gives up with ETIMEDOUT', async () => {
    const p = tcpPair({ configA: { synRetries: 3 } });
    const fromA = tapSegments(p.linkA, p.ctxA.clock, () => true); // nothing gets through
    const client = p.a.tcp.connect({ host: B, port: 80 });
    let error: (Error & { code?: string }) | undefined;
    client.on('error', (e) => (error = e));
    await p.runUntil(() => error !== undefined, 60_000);
    const syns = fromA.filter((s) => s.flags === TcpFlags.SYN).map((s) => s.at);
    // RFC 6298 §2.1: 1 s initial RTO, then doubling (§5.5).
    expect(syns.map((t) => t - syns[0]!)).toEqual([0, 1000, 3000, 7000]);
    expect(error!.code).toBe('ETIMEDOUT');
    expect(p.now() - syns[0]!).toBe(15_000);
    expect(p.a.ctx.stats.get('TcpAttemptFails')).toBe(1);
  });
});

describe('SYN-SENT (RFC 9293 §3.10.7.3)', () => {
  it('ignores a RST whose ACK does not acknowledge the SYN (RFC 5961 §3)', async () => {
    const p = tcpPair();
    tapSegments(p.linkA, p.ctxA.clock, () => true);
    const client = p.a.tcp.connect({ host: B, port: 80 });
    const c = onlyConnection(p.a);
    inject(p.a, B_ADDR, A_ADDR, rawSegment(B_ADDR, A_ADDR, { sourcePort: 80, destinationPort: c.localPort, seq: 1, ack: c.iss, flags: TcpFlags.RST | TcpFlags.ACK }));
    await p.runFor(5);
    expect(c.state).toBe(TcpState.SYN_SENT);
    inject(p.a, B_ADDR, A_ADDR, rawSegment(B_ADDR, A_ADDR, { sourcePort: 80, destinationPort: c.localPort, seq: 1, ack: (c.iss + 1) >>> 0, flags: TcpFlags.RST | TcpFlags.ACK }));
    let error: (Error & { code?: string }) | undefined;
    client.on('error', (e) => (error = e));
    await p.runFor(5);
    expect(error?.code).toBe('ECONNREFUSED');
  });

  it('simultaneous open: two SYNs cross, both go through SYN-RECEIVED to ESTABLISHED', async () => {
    const p = tcpPair();
    const states: string[] = [];
    const a = p.a.tcp.connect({ host: B, port: 5000, localPort: 6000 });
    const b = p.b.tcp.connect({ host: A, port: 6000, localPort: 5000 });
    const ca = onlyConnection(p.a);
    const original = p.a.tcp.layer.onStateChange.bind(p.a.tcp.layer);
    p.a.tcp.layer.onStateChange = (c, from, to) => {
      states.push(to);
      original(c, from, to);
    };
    let n = 0;
    a.on('error', (e) => {
      throw e;
    });
    a.on('connect', () => n++);
    b.on('connect', () => n++);
    await p.runUntil(() => n === 2);
    expect(states).toEqual([TcpState.SYN_RECEIVED, TcpState.ESTABLISHED]);
    expect(ca.state).toBe(TcpState.ESTABLISHED);
    a.write('ping');
    const got: string[] = [];
    b.on('data', (d: Buffer) => got.push(d.toString()));
    await p.runUntil(() => got.join('') === 'ping');
  });
});

describe('SYN-RECEIVED', () => {
  it('answers a retransmitted SYN with the SYN-ACK again', async () => {
    const p = tcpPair();
    p.b.tcp.createServer(() => {}).listen(80);
    const fromB = tapSegments(p.linkB, p.ctxA.clock, () => true); // SYN-ACKs are lost
    const syn = rawSegment(A_ADDR, B_ADDR, { seq: 1000, flags: TcpFlags.SYN, options: { maximumSegmentSize: 1460 } });
    inject(p.b, A_ADDR, B_ADDR, syn);
    inject(p.b, A_ADDR, B_ADDR, syn);
    await p.runFor(1);
    expect(fromB.map((s) => flags(s.flags))).toEqual(['S.', 'S.']);
    expect(onlyConnection(p.b).state).toBe(TcpState.SYN_RECEIVED);
    // Its own timer retransmits too (1 s initial RTO), and a RST at RCV.NXT sends it back to LISTEN.
    await p.runFor(1000);
    expect(fromB).toHaveLength(3);
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { seq: 1001, flags: TcpFlags.RST }));
    expect(connections(p.b)).toHaveLength(0);
  });

  it('resets an ACK that does not acknowledge our SYN', async () => {
    const p = tcpPair();
    p.b.tcp.createServer(() => {}).listen(80);
    const fromB = tapSegments(p.linkB, p.ctxA.clock, () => true);
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { seq: 1000, flags: TcpFlags.SYN }));
    const c = onlyConnection(p.b);
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { seq: 1001, ack: (c.iss + 99) >>> 0, flags: TcpFlags.ACK }));
    await p.runFor(1);
    expect(fromB.map((s) => flags(s.flags))).toEqual(['S.', 'R']);
    expect(c.state).toBe(TcpState.SYN_RECEIVED);
  });
});

describe('ESTABLISHED', () => {
  it('carries data both ways and exposes the connection in show tcp', async () => {
    const p = await established();
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    p.serverSocket.on('data', (d: Buffer) => toServer.push(d));
    p.client.on('data', (d: Buffer) => toClient.push(d));
    p.client.write('GET / HTTP/1.1\r\n\r\n');
    p.serverSocket.write(Buffer.alloc(100_000, 7));
    await p.runUntil(() => Buffer.concat(toClient).length === 100_000 && toServer.length > 0);
    expect(Buffer.concat(toServer).toString()).toBe('GET / HTTP/1.1\r\n\r\n');
    const show = p.b.show('tcp');
    expect(show).toMatch(/ESTABLISHED +10\.0\.0\.2:80 +10\.0\.0\.1:\d+/);
    expect(show).toMatch(/LISTEN +\*:80/);
  });

  it('a reset from the peer surfaces as ECONNRESET', async () => {
    const p = await established();
    let error: (Error & { code?: string }) | undefined;
    p.client.on('error', (e) => (error = e));
    p.serverSocket.resetAndDestroy();
    await p.runUntil(() => error !== undefined);
    expect(error!.code).toBe('ECONNRESET');
    expect(p.a.ctx.stats.get('TcpEstabResets')).toBe(1);
    expect(connections(p.a)).toHaveLength(0);
    expect(connections(p.b)).toHaveLength(0);
  });
});

describe('closing: FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, LAST-ACK, TIME-WAIT, CLOSING', () => {
  it('half-close: the client ends, the server keeps sending, then closes; the client waits 2 MSL in TIME-WAIT', async () => {
    const p = await established({ configA: { timeWaitMs: 4000 } });
    p.serverSocket.allowHalfOpen = true;
    const ca = onlyConnection(p.a);
    const cb = onlyConnection(p.b);
    let serverSawEnd = false;
    p.serverSocket.on('end', () => (serverSawEnd = true));
    p.serverSocket.resume();
    p.client.end();
    await p.runUntil(() => serverSawEnd);
    expect(ca.state).toBe(TcpState.FIN_WAIT_2);
    expect(cb.state).toBe(TcpState.CLOSE_WAIT);
    // Half-closed: the server can still send.
    const got: Buffer[] = [];
    p.client.on('data', (d: Buffer) => got.push(d));
    p.serverSocket.write('still here');
    await p.runUntil(() => got.length > 0);
    expect(Buffer.concat(got).toString()).toBe('still here');
    p.serverSocket.end();
    await p.runUntil(() => ca.state === TcpState.TIME_WAIT && cb.state === TcpState.CLOSED);
    const enteredTimeWait = p.now();
    await p.runUntil(() => ca.state === TcpState.CLOSED, 10_000);
    expect(p.now() - enteredTimeWait).toBeCloseTo(4000, -1);
    expect(connections(p.a)).toHaveLength(0);
  });

  it('simultaneous close goes through CLOSING on both sides', async () => {
    const p = await established({ configA: { timeWaitMs: 1000 }, configB: { timeWaitMs: 1000 } });
    const ca = onlyConnection(p.a);
    const cb = onlyConnection(p.b);
    const seen = new Set<string>();
    for (const host of [p.a, p.b]) {
      const original = host.tcp.layer.onStateChange.bind(host.tcp.layer);
      host.tcp.layer.onStateChange = (c, from, to) => {
        seen.add(`${host === p.a ? 'a' : 'b'}:${to}`);
        original(c, from, to);
      };
    }
    p.client.resume();
    p.serverSocket.resume();
    p.client.end();
    p.serverSocket.end();
    await p.runUntil(() => ca.state === TcpState.CLOSED && cb.state === TcpState.CLOSED, 5000);
    for (const side of ['a', 'b']) {
      expect(seen).toContain(`${side}:${TcpState.FIN_WAIT_1}`);
      expect(seen).toContain(`${side}:${TcpState.CLOSING}`);
      expect(seen).toContain(`${side}:${TcpState.TIME_WAIT}`);
    }
  });

  it('TIME-WAIT ACKs a retransmitted FIN and restarts its timer; a newer SYN reopens the port', async () => {
    const p = await established({ configB: { timeWaitMs: 60_000 } });
    const cb = onlyConnection(p.b);
    p.serverSocket.resume();
    p.client.resume();
    p.serverSocket.end(); // the server closes first: it ends in TIME-WAIT
    await p.runUntil(() => cb.state === TcpState.FIN_WAIT_2);
    p.client.end();
    await p.runUntil(() => cb.state === TcpState.TIME_WAIT);
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    const finSeq = (cb.rcvNxt - 1) >>> 0;
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { sourcePort: cb.remotePort, seq: finSeq, ack: cb.sndNxt, flags: TcpFlags.FIN | TcpFlags.ACK }));
    expect(fromB.map((s) => flags(s.flags))).toEqual(['.']);
    let accepted = 0;
    p.server.on('connection', () => accepted++);
    // A SYN from the same port with a higher sequence number (RFC 6191) replaces the TIME-WAIT connection.
    inject(p.b, A_ADDR, B_ADDR, rawSegment(A_ADDR, B_ADDR, { sourcePort: cb.remotePort, seq: (cb.rcvNxt + 100_000) >>> 0, flags: TcpFlags.SYN }));
    expect(connections(p.b).map((c) => c.state)).toEqual([TcpState.SYN_RECEIVED]);
  });

  it('LAST-ACK: the side that closes second is gone once its FIN is acknowledged', async () => {
    const p = await established();
    const cb = onlyConnection(p.b);
    const states: string[] = [];
    const original = p.b.tcp.layer.onStateChange.bind(p.b.tcp.layer);
    p.b.tcp.layer.onStateChange = (c, from, to) => {
      states.push(to);
      original(c, from, to);
    };
    p.serverSocket.resume();
    p.client.resume();
    p.client.end(); // allowHalfOpen is false: the server ends too when it sees the FIN
    let closed = false;
    p.serverSocket.on('close', () => (closed = true));
    await p.runUntil(() => closed && cb.state === TcpState.CLOSED);
    expect(states).toEqual([TcpState.CLOSE_WAIT, TcpState.LAST_ACK, TcpState.CLOSED]);
  });

  it('destroy() with unread data sends a reset (RFC 2525 §2.17)', async () => {
    const p = await established();
    const fromB = tapSegments(p.linkB, p.ctxA.clock);
    p.client.on('error', () => {});
    p.client.write('unread');
    await p.runUntil(() => p.serverSocket.readableLength > 0);
    p.serverSocket.destroy();
    await p.runFor(5);
    expect(fromB.some((s) => s.flags & TcpFlags.RST)).toBe(true);
  });
});
