/**
 * The receive path without a fresh Buffer per segment (issue 10 item 3):
 * pooled copies that never change once handed out (receive-pool.ts), views
 * for a consumer that takes them during the call (Socket.consume), and one
 * ACK per receive batch for in-order data where every segment used to get
 * its own (RFC 9293 §3.8.6.3, RFC 5681 §4.2), while out-of-order segments
 * are still ACKed one by one.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { ReceivePool, RX_POOL_MIN_COPY, RX_POOL_SLAB_SIZE } from '../../../../src/l4/tcp/receive-pool.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { A_ADDR, B, B_ADDR, pattern, tapSegments, tcpPair, type PairOptions } from './harness.js';

async function established(options: PairOptions = {}, onAccept?: (s: Socket) => void) {
  const p = tcpPair(options);
  let serverSocket: Socket | undefined;
  p.b.tcp
    .createServer((s) => {
      serverSocket = s;
      onAccept?.(s);
    })
    .listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => serverSocket !== undefined && !client.connecting);
  await p.runFor(1);
  return { ...p, client, serverSocket: serverSocket! };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('ReceivePool', () => {
  it('hands out copies that share slabs, never overlap and never change when the source or later copies do', () => {
    const pool = new ReceivePool();
    const source = new Uint8Array(40_000);
    const copies: { copy: Buffer; expected: Buffer }[] = [];
    for (let i = 0; i < 20; i++) {
      source.fill(i + 1);
      const copy = pool.copy(source);
      copies.push({ copy, expected: Buffer.alloc(source.length, i + 1) });
    }
    source.fill(0xee); // the device reuses its frame buffer
    for (const { copy, expected } of copies) expect(copy.equals(expected)).toBe(true);
    // 3 copies of 40 000 bytes per 128 KiB slab: 20 copies in 7 slabs, the first three on one ArrayBuffer.
    expect(pool.slabs).toBe(Math.ceil(20 / Math.floor(RX_POOL_SLAB_SIZE / 40_000)));
    expect(copies[0]!.copy.buffer).toBe(copies[2]!.copy.buffer);
    expect(copies[0]!.copy.byteOffset + 40_000).toBeLessThanOrEqual(copies[1]!.copy.byteOffset);
    expect(copies[3]!.copy.buffer).not.toBe(copies[2]!.copy.buffer);
  });

  it('copies small and oversized data on its own, outside the slabs', () => {
    const pool = new ReceivePool();
    const small = pool.copy(new Uint8Array(RX_POOL_MIN_COPY - 1).fill(3));
    const huge = pool.copy(new Uint8Array(RX_POOL_SLAB_SIZE + 1).fill(4));
    expect(pool.slabs).toBe(0);
    expect(small.every((b) => b === 3) && small.length === RX_POOL_MIN_COPY - 1).toBe(true);
    expect(huge.every((b) => b === 4) && huge.length === RX_POOL_SLAB_SIZE + 1).toBe(true);
  });
});

describe('delivery to the application', () => {
  it('a stream reader that keeps every chunk finds them all intact at the end (64 KiB segments, pooled copies)', async () => {
    const t = await established({ mtu: 65520 });
    const data = pattern(4 << 20);
    const chunks: Buffer[] = [];
    let got = 0;
    t.serverSocket.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
    });
    t.client.end(data);
    await t.runUntil(() => got === data.length);
    expect(chunks.some((c) => c.length >= RX_POOL_MIN_COPY)).toBe(true); // the pool was used
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
  });

  it('consume() gets views during the call: no data events, nothing buffered, the window stays open, end still comes', async () => {
    const hash = createHash('sha256');
    let viewed = 0;
    let dataEvents = 0;
    let ended = false;
    const t = await established({ mtu: 65520 }, (s) => {
      s.consume((view) => {
        hash.update(view);
        viewed += view.length;
      });
      s.on('data', () => dataEvents++);
      s.on('end', () => (ended = true));
    });
    const fromB = tapSegments(t.linkB, t.ctxA.clock);
    const data = pattern(8 << 20, 5);
    t.client.end(data);
    await t.runUntil(() => ended);
    expect(viewed).toBe(data.length);
    expect(hash.digest('hex')).toBe(sha256(data));
    expect(dataEvents).toBe(0);
    expect(t.serverSocket.bytesRead).toBe(data.length);
    expect(t.serverSocket.readableLength).toBe(0);
    expect(fromB.filter((s) => s.from === B_ADDR && s.window === 0)).toEqual([]);
  });
});

describe('ACKs per receive batch', () => {
  it('quick-ACK mode: a batch of in-order segments gets one ACK at its end, not one per segment', async () => {
    const t = await established();
    t.serverSocket.on('data', () => {});
    const fromB = tapSegments(t.linkB, t.ctxA.clock);
    const fromA = tapSegments(t.linkA, t.ctxA.clock);
    t.client.write(pattern(10 * 1448)); // the initial window: ten full segments, sent (and delivered) at one instant
    await t.runFor(1);
    const data = fromA.filter((s) => s.payloadLength > 0);
    expect(data.length).toBe(10);
    expect(new Set(data.map((s) => s.at)).size).toBe(1);
    const acks = fromB.filter((s) => s.to === A_ADDR && s.payloadLength === 0);
    expect(acks.length).toBe(1);
    expect(acks[0]!.flags).toBe(TcpFlags.ACK);
    expect(acks[0]!.ack).toBe(data[9]!.seq + 1448);
    expect(acks[0]!.at).toBe(data[0]!.at); // at once, not after the delayed-ACK timer
  });

  it('out-of-order segments in one batch are still ACKed one by one, with SACK (RFC 5681 §4.2)', async () => {
    const t = await established();
    t.serverSocket.on('data', () => {});
    const fromB = tapSegments(t.linkB, t.ctxA.clock);
    let dropped = false;
    const fromA = tapSegments(t.linkA, t.ctxA.clock, (s) => {
      if (dropped || s.payloadLength === 0) return false;
      dropped = true; // the first data segment is lost
      return true;
    });
    t.client.write(pattern(10 * 1448));
    await t.runFor(1);
    const first = fromA.find((s) => s.payloadLength > 0)!;
    const sent = fromA.filter((s) => s.payloadLength > 0);
    expect(sent.slice(0, 10).map((s) => s.seq - first.seq)).toEqual([...Array(10).keys()].map((i) => i * 1448));
    expect(sent.slice(10).every((s) => s.seq === first.seq)).toBe(true); // then only the fast retransmit of the hole
    // Nine segments above the hole: nine duplicate ACKs, each with a SACK block that grew by one segment.
    const acks = fromB.filter((s) => s.to === A_ADDR && s.payloadLength === 0 && s.ack === first.seq);
    expect(acks.length).toBe(9);
    const rights = acks.map((s) => s.options.sackBlocks?.[0]?.right);
    expect(rights.every((r, i) => i === 0 || (r !== undefined && r > rights[i - 1]!))).toBe(true);
  });
});
