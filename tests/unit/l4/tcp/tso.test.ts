/**
 * TSO super-frames and loss, on the manual clock: how big a super-frame may
 * be (a fraction of cwnd, so a flight is several frames), and retransmitting
 * a hole as super-frames.
 *
 * The in-memory link has no offload, so the sender's network is wrapped by a
 * "NIC" that records each transmission as the stack handed it over (one
 * super-frame = one record, dropped or passed whole, as nft drops a GSO
 * packet) and then cuts it into MSS-sized segments with their own checksums.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { finishChecksum, sumWords } from '../../../../src/core/checksum.js';
import type { CounterName } from '../../../../src/core/stats.js';
import type { TcpConnection } from '../../../../src/l4/tcp/connection.js';
import type { IpAddress } from '../../../../src/l4/tcp/network.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { B, onlyConnection, pattern, tcpPair, type PairOptions } from './harness.js';

const MSS = 1448;
const TSO_MAX = 65_000;

interface Frame {
  seq: number;
  len: number;
  at: number;
  cwnd: number;
  retransmit: boolean;
}

async function established(options: PairOptions = {}) {
  const p = tcpPair({ impairment: { delayMs: 10 }, ...options });
  let serverSocket: Socket | undefined;
  p.b.tcp.createServer((s) => (serverSocket = s)).listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => serverSocket !== undefined && !client.connecting);
  await p.runFor(100);
  let got = 0;
  const hash = createHash('sha256');
  client.on('data', (d: Buffer) => {
    got += d.length;
    hash.update(d);
  });
  const c = onlyConnection(p.b);
  c.tsoMax = TSO_MAX;
  return { ...p, c, client, serverSocket: serverSocket!, received: () => got, sha256: () => hash.digest('hex') };
}

type Pair = Awaited<ReturnType<typeof established>>;
const stat = (t: Pair, name: CounterName): number => t.b.ctx.stats.get(name);

/** Wraps the sender's network: records every data transmission, drops those `drop` names, segments the rest. */
function nic(c: TcpConnection, drop: (index: number, f: Frame) => boolean = () => false): Frame[] {
  const frames: Frame[] = [];
  let sentEnd: number | undefined;
  const net = c.net;
  const send = net.send.bind(net);
  net.send = (source: IpAddress, destination: IpAddress, segment: Uint8Array, gsoSize: number, _partial: boolean, ecn?: number): boolean => {
    const headerLength = (segment[12]! >> 4) * 4;
    const dataLen = segment.length - headerLength;
    const seqNum = new DataView(segment.buffer, segment.byteOffset).getUint32(4);
    if (dataLen > 0) {
      // Below the highest end sent so far: a retransmission (sequence numbers compare modulo 2^32).
      const retransmit = sentEnd !== undefined && ((seqNum - sentEnd) | 0) < 0;
      if (!retransmit) sentEnd = (seqNum + dataLen) >>> 0;
      const f: Frame = { seq: seqNum, len: dataLen, at: c.now(), cwnd: c.cc.cwnd, retransmit };
      frames.push(f);
      if (drop(frames.length - 1, f)) return true;
    }
    const piece = gsoSize > 0 ? gsoSize : Math.max(dataLen, 1);
    for (let off = 0; off < Math.max(dataLen, 1); off += piece) {
      const n = Math.min(piece, Math.max(dataLen - off, 0));
      const out = new Uint8Array(headerLength + n);
      out.set(segment.subarray(0, headerLength));
      out.set(segment.subarray(headerLength + off, headerLength + off + n), headerLength);
      const view = new DataView(out.buffer);
      view.setUint32(4, (seqNum + off) >>> 0);
      if (off + n < dataLen) out[13] = out[13]! & ~0x09; // FIN and PSH only on the last piece
      view.setUint16(16, 0);
      view.setUint16(16, finishChecksum(sumWords(out, 0, out.length, net.pseudoHeaderSum(source, destination, out.length))));
      send(source, destination, out, 0, false, ecn);
    }
    return true;
  };
  return frames;
}

async function deliver(t: Pair, bytes: number, limitMs = 20_000): Promise<void> {
  const target = t.received() + bytes;
  t.serverSocket.write(pattern(bytes));
  await t.runUntil(() => t.received() >= target, limitMs);
}

describe('TSO super-frame size', () => {
  it('a super-frame carries at most cwnd / tsoFramesPerWindow, so the flight is several frames', async () => {
    const t = await established();
    const frames = nic(t.c);
    await deliver(t, 300 * MSS);
    expect(t.sha256()).toBe(createHash('sha256').update(pattern(300 * MSS)).digest('hex'));
    expect(frames.some((f) => f.len > MSS)).toBe(true); // TSO is in use
    for (const f of frames) expect(f.len).toBeLessThanOrEqual(Math.max(MSS, Math.floor(f.cwnd / 4 / MSS) * MSS));
    // The first flight (initial window of 10 segments): five frames of two segments, not one of ten.
    expect(frames.slice(0, 5).map((f) => f.len)).toEqual([2 * MSS, 2 * MSS, 2 * MSS, 2 * MSS, 2 * MSS]);

    const whole = await established({ configB: { tsoFramesPerWindow: 1 } });
    const wholeFrames = nic(whole.c);
    await deliver(whole, 300 * MSS);
    expect(wholeFrames[0]!.len).toBe(10 * MSS);
  });
});

describe('a whole super-frame lost', () => {
  /** After a warm-up, a response of `segments` segments; the first `lost` transmissions after it are dropped. */
  async function response(options: PairOptions, segments: number, lost: number) {
    const t = await established(options);
    let from = Infinity;
    const frames = nic(t.c, (i) => i >= from && i < from + lost);
    await deliver(t, 400 * MSS);
    await t.runFor(200);
    from = frames.length;
    const before = stat(t, 'TcpExtTCPTimeouts');
    const start = t.now();
    await deliver(t, segments * MSS);
    const sent = frames.slice(from);
    return { t, sent, took: t.now() - start, timeouts: stat(t, 'TcpExtTCPTimeouts') - before };
  }

  it('the other frames of the flight are SACKed and RACK repairs it; one frame per window needs the RTO', async () => {
    // The response's first frame and the one after it are lost. With four frames per window the two others are
    // SACKed; with the whole response in one frame, the second transmission is the TLP probe, and nothing is left.
    const quarter = await response({}, 40, 2);
    expect(quarter.sent[0]!.len).toBeGreaterThan(MSS);
    expect(quarter.sent[0]!.len).toBeLessThan(40 * MSS);
    expect(quarter.timeouts).toBe(0);
    expect(quarter.took).toBeLessThan(150);
    const whole = await response({ configB: { tsoFramesPerWindow: 1 } }, 40, 2);
    expect(whole.sent[0]!.len).toBe(40 * MSS);
    expect(stat(whole.t, 'TcpExtTCPLossProbes')).toBeGreaterThan(0);
    expect(whole.timeouts).toBe(1);
    expect(whole.took).toBeGreaterThan(200);
  });

  it('the hole is retransmitted as super-frames (RFC 6675 NextSeg run by run, as cwnd - pipe allows), byte-exact', async () => {
    const r = await response({}, 40, 1);
    const lost = r.sent[0]!;
    const retransmissions = r.sent.filter((f) => f.retransmit);
    const covered = retransmissions.reduce((n, f) => n + f.len, 0);
    expect(covered).toBeGreaterThanOrEqual(lost.len);
    expect(retransmissions.length).toBeLessThan(lost.len / MSS);
    expect(retransmissions.some((f) => f.len > MSS)).toBe(true);
    expect(r.timeouts).toBe(0);
    expect(r.t.sha256()).toBe(createHash('sha256').update(pattern(400 * MSS)).update(pattern(40 * MSS)).digest('hex'));
  });
});
