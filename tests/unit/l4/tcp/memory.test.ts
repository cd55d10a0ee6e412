/**
 * TCP memory (src/l4/tcp/memory.ts): buffer autotuning, the per-socket
 * out-of-order cap and pruning, and the stack-wide budget with its pressure
 * mode and hard limit. Two hosts on a manual clock; nothing sleeps.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TCP_RMEM_DEFAULT, TCP_WMEM_DEFAULT, type TcpConfig } from '../../../../src/l4/tcp/config.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { B, connections, onlyConnection, pattern, tapSegments, tcpPair, type PairOptions } from './harness.js';

async function established(options: PairOptions = {}) {
  const p = tcpPair(options);
  const accepted: Socket[] = [];
  p.b.tcp.createServer((s) => accepted.push(s)).listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => accepted.length > 0 && !client.connecting);
  await p.runFor(1);
  return { ...p, client, serverSocket: accepted[0]!, accepted };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('autotuning (Linux tcp_rmem / tcp_wmem)', () => {
  // 100 Mbit/s with 10 ms each way: a bandwidth-delay product of 250 KB, twice the initial receive buffer.
  const impairment: PairOptions['impairment'] = { delayMs: 10, rateBitsPerSecond: 100e6, seed: 3 };

  it('starts at the defaults and grows both buffers with the bandwidth-delay product for a fast reader', async () => {
    const t = await established({ impairment });
    const server = onlyConnection(t.b);
    const client = onlyConnection(t.a);
    expect(server.sndBuf).toBe(TCP_WMEM_DEFAULT);
    expect(client.rcvBuf).toBe(TCP_RMEM_DEFAULT);
    const data = pattern(8 * 1024 * 1024);
    const hash = createHash('sha256');
    let got = 0;
    t.client.on('data', (d: Buffer) => {
      hash.update(d);
      got += d.length;
    });
    const started = t.now();
    t.serverSocket.write(data);
    await t.runUntil(() => got >= data.length, 60_000);
    expect(hash.digest('hex')).toBe(sha(data));
    // DRS: twice what the reader consumed per RTT, well past one BDP (250 KB), at most tcp_rmem[2].
    expect(client.rcvBuf).toBeGreaterThan(500_000);
    expect(client.rcvBuf).toBeLessThanOrEqual(t.a.tcp.layer.config.receiveBufferMax);
    // tcp_sndbuf_expand: twice cwnd, which had to reach the BDP.
    expect(server.sndBuf).toBeGreaterThan(250_000);
    // The window scale was chosen for the max buffer, so the grown buffer can be offered.
    expect(client.rcvWscale).toBe(7);
    // With buffers that grow, the link stays busy: 8 MiB at 100 Mbit/s is 0.67 s; allow slow start.
    expect(t.now() - started).toBeLessThan(1500);
  });

  it('keeps the receive buffer at its default for an application that does not read, and the sender small', async () => {
    const t = await established({ impairment });
    t.client.pause();
    let done = false;
    t.serverSocket.write(pattern(4 * 1024 * 1024), () => (done = true));
    await t.runFor(3000);
    expect(done).toBe(false);
    const client = onlyConnection(t.a);
    const server = onlyConnection(t.b);
    expect(client.rcvBuf).toBe(TCP_RMEM_DEFAULT);
    expect(t.client.readableLength).toBeLessThanOrEqual(TCP_RMEM_DEFAULT);
    // The sender holds at most two congestion windows, not 4 MiB.
    expect(server.sendBuffer.length).toBeLessThanOrEqual(server.sndBuf);
    expect(server.sndBuf).toBeLessThanOrEqual(2 * server.cc.cwnd + 1);
    expect(server.sndBuf).toBeLessThan(1024 * 1024);
    // Everything held is charged to each stack's budget.
    expect(t.a.tcp.layer.memory.allocated).toBe(t.client.readableLength);
    expect(t.b.tcp.layer.memory.allocated).toBe(server.sendBuffer.length);
  });

  it('a slow reader (16 KiB per 100 ms) keeps a small buffer', async () => {
    const t = await established({ impairment });
    t.client.pause();
    const size = 512 * 1024;
    let got = 0;
    t.serverSocket.write(pattern(size));
    while (got < size) {
      await t.runFor(100);
      let chunk: Buffer | null;
      let budget = 16 * 1024;
      while (budget > 0 && (chunk = t.client.read(Math.min(budget, t.client.readableLength) || undefined) as Buffer | null)) {
        got += chunk.length;
        budget -= chunk.length;
      }
    }
    expect(onlyConnection(t.a).rcvBuf).toBe(TCP_RMEM_DEFAULT);
  });
});

describe('out-of-order queue behind a 1-byte hole', () => {
  /** The client sends 1 byte (lost three times), then `size` bytes that queue out of order at the server. */
  async function holeTransfer(configB: Partial<TcpConfig>) {
    const t = await established({ configB, impairment: { delayMs: 5, rateBitsPerSecond: 1e9, seed: 5 } });
    let drops = 0;
    tapSegments(t.linkA, t.ctxA.clock, (s) => s.payloadLength === 1 && ++drops <= 3);
    const server = onlyConnection(t.b);
    const size = 3 * 1024 * 1024;
    const data = pattern(size);
    const hash = createHash('sha256');
    let got = 0;
    t.serverSocket.on('data', (d: Buffer) => {
      hash.update(d);
      got += d.length;
    });
    let maxSegments = 0;
    let maxBytes = 0;
    t.client.setNoDelay(true);
    t.client.write(data.subarray(0, 1));
    t.client.write(data.subarray(1));
    await t.runUntil(() => {
      maxSegments = Math.max(maxSegments, server.ofo.size);
      maxBytes = Math.max(maxBytes, server.ofo.bytes);
      return got >= size;
    }, 120_000);
    expect(drops).toBeGreaterThanOrEqual(3);
    expect(hash.digest('hex')).toBe(sha(data));
    return { t, server, maxSegments, maxBytes };
  }

  it('stays under its segment cap; the hole is filled and the data arrives byte-exact', async () => {
    const { t, maxSegments, maxBytes } = await holeTransfer({ ofoMaxSegments: 16 });
    expect(maxSegments).toBeGreaterThan(8); // the queue was used...
    expect(maxSegments).toBeLessThanOrEqual(16); // ...and capped
    expect(maxBytes).toBeLessThanOrEqual(TCP_RMEM_DEFAULT);
    expect(t.ctxB.stats.get('TcpExtTCPOFODrop')).toBeGreaterThan(0);
    expect(t.ctxB.stats.get('TcpExtOfoPruned')).toBe(0); // no reneging without memory pressure
  });

  it('under memory pressure is pruned from the right (reneging), and the data still arrives byte-exact', async () => {
    const { t, server } = await holeTransfer({ memoryLow: 1, memoryPressure: 2, memoryHigh: 1 << 30 });
    expect(t.ctxB.stats.get('TcpExtTCPMemoryPressures')).toBeGreaterThan(0);
    expect(t.ctxB.stats.get('TcpExtOfoPruned')).toBeGreaterThan(0);
    expect(server.ofo.size).toBe(0);
  });

  it('gives back every byte it charged', async () => {
    const { t } = await holeTransfer({});
    await t.runFor(1000);
    expect(t.b.tcp.layer.memory.allocated).toBe(0);
    expect(t.a.tcp.layer.memory.allocated).toBe(0);
  });
});

describe('the stack-wide budget (Linux tcp_mem)', () => {
  it('enters pressure, then at the hard limit refuses data and new connections, counted; recovers when freed', async () => {
    const KiB = 1024;
    const t = await established({ configB: { memoryLow: 96 * KiB, memoryPressure: 128 * KiB, memoryHigh: 256 * KiB } });
    const layerB = t.b.tcp.layer;
    // Four clients write 256 KiB each to a server that never reads.
    const clients = [t.client];
    for (let i = 0; i < 3; i++) clients.push(t.a.tcp.connect({ host: B, port: 80 }));
    const resets: string[] = [];
    for (const c of clients) c.on('error', (e: NodeJS.ErrnoException) => resets.push(e.code ?? ''));
    await t.runUntil(() => t.accepted.length === 4 && clients.every((c) => !c.connecting));
    for (const s of t.accepted) s.pause();
    for (const c of clients) c.write(pattern(256 * KiB));
    await t.runFor(5000);
    expect(t.ctxB.stats.get('TcpExtTCPMemoryPressures')).toBe(1);
    expect(layerB.memory.underPressure).toBe(true);
    expect(layerB.memory.overLimit).toBe(true);
    expect(t.ctxB.stats.get('TcpExtTCPRcvQDrop')).toBeGreaterThan(0);
    // Bounded: the limit plus at most one segment per connection that had nothing unread.
    expect(layerB.memory.allocated).toBeLessThan(256 * KiB + 4 * 65_536);
    // A new connection's SYN is dropped while the stack is at its limit.
    const late = t.a.tcp.connect({ host: B, port: 80 });
    await t.runFor(2500);
    expect(late.connecting).toBe(true);
    expect(t.ctxB.stats.get('tcpMemoryLimitSynDrops')).toBeGreaterThan(0);
    expect(t.ctxB.stats.get('TcpExtListenDrops')).toBeGreaterThan(0);
    // Closing the readers frees the memory (unread data: reset); pressure ends and the late SYN gets through.
    for (const s of t.accepted) s.destroy();
    await t.runUntil(() => !late.connecting, 10_000);
    expect(layerB.memory.underPressure).toBe(false);
    expect(connections(t.b).length).toBeGreaterThan(0);
    expect(resets).toEqual(['ECONNRESET', 'ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
  });
});
