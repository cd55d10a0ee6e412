/**
 * Retransmission and congestion control over the impaired in-memory link:
 * RTO backoff (RFC 6298), SACK recovery (RFC 6675), NewReno (RFC 6582),
 * cwnd traces for CUBIC (RFC 9438) and NewReno, and large transfers that must
 * arrive byte-exact under loss, reordering and duplication.
 *
 * The big transfer is 64 MiB each way (about 10 s); TAPNET_TCP_BIG_MB=N
 * changes the size.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CongestionControl } from '../../../../src/l4/tcp/congestion/congestion.js';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { seqSub, type SeqNum } from '../../../../src/l4/tcp/seq.js';
import { B, onlyConnection, pattern, tapSegments, tcpPair, type CapturedSegment, type PairOptions } from './harness.js';

async function established(options: PairOptions = {}) {
  const p = tcpPair(options);
  let serverSocket: Socket | undefined;
  p.b.tcp.createServer((s) => (serverSocket = s)).listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => serverSocket !== undefined && !client.connecting);
  await p.runFor(1);
  return { ...p, client, serverSocket: serverSocket! };
}

/** Sends `data` from the server to the client; resolves with what arrived and its hash. */
async function download(t: Awaited<ReturnType<typeof established>>, data: Buffer, limitMs = 600_000) {
  const hash = createHash('sha256');
  let got = 0;
  t.client.on('data', (d: Buffer) => {
    hash.update(d);
    got += d.length;
  });
  t.serverSocket.write(data);
  await t.runUntil(() => got >= data.length, limitMs);
  return { got, sha256: hash.digest('hex') };
}

const isData = (s: CapturedSegment): boolean => s.payloadLength > 0;

describe('retransmission timeout (RFC 6298)', () => {
  it('retransmits with exponential backoff while the path is down, then recovers', async () => {
    const t = await established();
    let down = true;
    const fromB = tapSegments(t.linkB, t.ctxA.clock, (s) => down && isData(s));
    const start = t.now();
    t.serverSocket.write(Buffer.alloc(1000, 1));
    await t.runFor(3500);
    const sends = fromB.filter(isData).map((s) => s.at - start);
    // A tail loss probe first (RFC 8985 §7.2: 2*SRTT + 200 ms for one segment in flight, capped at the RTO), then
    // the RTO restarts from the probe at the 200 ms floor (the RTT is tiny) and doubles: 0, 200, 400, 800, 1600, 3200.
    expect(sends).toEqual([0, 200, 400, 800, 1600, 3200]);
    expect(t.b.ctx.stats.get('TcpExtTCPLossProbes')).toBe(1);
    expect(t.b.ctx.stats.get('TcpExtTCPTimeouts')).toBe(4);
    down = false;
    const got: Buffer[] = [];
    t.client.on('data', (d: Buffer) => got.push(d));
    await t.runUntil(() => Buffer.concat(got).length === 1000, 10_000);
    await t.runFor(1); // the client's ACK leaves at the end of its receive batch and reaches the server
    expect(onlyConnection(t.b).rtt.backoff).toBe(0); // a new RTT sample collapses the backoff
  });

  it('gives up after retries2 retransmissions with ETIMEDOUT, or after the user timeout', async () => {
    const t = await established({ configB: { retries2: 3 } });
    tapSegments(t.linkB, t.ctxA.clock, () => true);
    let error: (Error & { code?: string }) | undefined;
    t.serverSocket.on('error', (e) => (error = e));
    t.serverSocket.write('lost');
    await t.runUntil(() => error !== undefined, 60_000);
    expect(error!.code).toBe('ETIMEDOUT');
    expect(t.b.ctx.stats.get('TcpExtTCPAbortOnTimeout')).toBe(1);

    const u = await established();
    tapSegments(u.linkB, u.ctxA.clock, () => true);
    let userError: (Error & { code?: string }) | undefined;
    u.serverSocket.on('error', (e) => (userError = e));
    u.serverSocket.setUserTimeout(5000);
    const start = u.now();
    u.serverSocket.write('lost');
    await u.runUntil(() => userError !== undefined, 60_000);
    expect(userError!.code).toBe('ETIMEDOUT');
    expect(u.now() - start).toBeGreaterThanOrEqual(5000);
    expect(u.now() - start).toBeLessThan(7000);
  });
});

describe('fast retransmit and recovery', () => {
  /** Drops the first transmission of the data segments with these indexes (0-based, in sequence order). */
  function dropFirst(indexes: number[]) {
    const firstSeq = new Map<number, number>();
    return (s: CapturedSegment): boolean => {
      if (!isData(s)) return false;
      if (firstSeq.has(s.seq)) return false; // a retransmission
      firstSeq.set(s.seq, firstSeq.size);
      return indexes.includes(firstSeq.size - 1);
    };
  }

  it('SACK (RFC 6675): three holes are repaired in one recovery, without a timeout', async () => {
    const t = await established();
    const fromB = tapSegments(t.linkB, t.ctxA.clock, dropFirst([3, 5, 7]));
    const data = pattern(60 * 1448);
    const r = await download(t, data, 5000);
    expect(r.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    const c = onlyConnection(t.b);
    const seqs = fromB.filter(isData).map((s) => seqSub(s.seq, fromB.find(isData)!.seq) / 1448);
    const retransmitted = seqs.filter((s, i) => seqs.indexOf(s) !== i);
    expect(retransmitted).toEqual([3, 5, 7]);
    expect(t.b.ctx.stats.get('TcpExtTCPSackRecovery')).toBe(1);
    expect(t.b.ctx.stats.get('TcpExtTCPTimeouts')).toBe(0);
    expect(c.totalRetransmits).toBe(3);
    // The receiver held the segments above each hole and reported them with SACK blocks.
    expect(t.a.ctx.stats.get('TcpExtTCPOFOQueue')).toBeGreaterThan(3);
    // The sender counted the blocks it read (what `show tcp` and iperf3's tcp_info report as SACK blocks).
    expect(c.info().sackBlocksReceived).toBeGreaterThan(3);
    const row = t.b.tcp.show().split('\n').find((l) => l.startsWith('ESTABLISHED'))!;
    expect(t.b.tcp.show().split('\n')[0]).toMatch(/srtt\s+rttvar\s+rto\s+inflight\s+retrans\s+sack$/);
    expect(row).toMatch(new RegExp(`\\s3\\s+${c.sackBlocksReceived} mss`));
  });

  it('NewReno (RFC 6582) without SACK: partial ACKs retransmit one hole each', async () => {
    const t = await established({ configA: { sack: false } });
    expect(onlyConnection(t.b).sackOk).toBe(false);
    const fromB = tapSegments(t.linkB, t.ctxA.clock, dropFirst([3, 5]));
    const data = pattern(60 * 1448);
    const r = await download(t, data, 5000);
    expect(r.got).toBe(data.length);
    expect(r.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    const seqs = fromB.filter(isData).map((s) => seqSub(s.seq, fromB.find(isData)!.seq) / 1448);
    expect(seqs.filter((s, i) => seqs.indexOf(s) !== i)).toEqual([3, 5]);
    expect(t.b.ctx.stats.get('TcpExtTCPRenoRecovery')).toBe(1);
    expect(t.b.ctx.stats.get('TcpExtTCPTimeouts')).toBe(0);
  });

  it('finds a lost retransmission from later SACKs instead of waiting for the RTO', async () => {
    const t = await established();
    const order: number[] = [];
    let dropped = 0;
    tapSegments(t.linkB, t.ctxA.clock, (s) => {
      if (!isData(s)) return false;
      if (!order.includes(s.seq)) order.push(s.seq);
      // The 10th segment is lost, and so is its first retransmission.
      if (s.seq === order[9] && dropped < 2) {
        dropped++;
        return true;
      }
      return false;
    });
    const data = pattern(200 * 1448);
    const r = await download(t, data, 5000);
    expect(r.got).toBe(data.length);
    expect(dropped).toBe(2);
    expect(t.b.ctx.stats.get('TcpExtTCPLostRetransmit')).toBe(1);
    expect(t.b.ctx.stats.get('TcpExtTCPTimeouts')).toBe(0);
  });
});

describe('congestion window traces', () => {
  /** A 20 Mbit/s bottleneck with a 10 ms one-way delay and a 60-frame queue. */
  const bottleneck: PairOptions['impairment'] = { aToB: {}, bToA: { rateBitsPerSecond: 20e6, delayMs: 10, queueLimitFrames: 60, seed: 1 } };

  async function trace(cc: 'cubic' | 'newreno') {
    const t = await established({ impairment: bottleneck, configB: { congestionControl: cc } });
    const c = onlyConnection(t.b);
    const reductions: { flight: number; cwnd: number; ssthresh: number }[] = [];
    const original = c.cc.onCongestionEvent.bind(c.cc);
    c.cc.onCongestionEvent = (flight: number, mss: number, now: number): void => {
      const cwnd = c.cc.cwnd;
      original(flight, mss, now);
      reductions.push({ flight, cwnd, ssthresh: c.cc.ssthresh });
    };
    const samples: number[] = [];
    const timer = t.ctxA.timers.timer(() => {
      samples.push(c.cc.cwnd);
      timer.armIn(10);
    });
    timer.armIn(10);
    const start = t.now();
    const data = pattern(6 * 1024 * 1024);
    const r = await download(t, data, 120_000);
    timer.cancel();
    expect(r.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    return { c, reductions, samples, seconds: (t.now() - start) / 1000, cc: c.cc as CongestionControl, t };
  }

  it('CUBIC: slow start, then multiplicative decrease by beta = 0.7 and regrowth; the link stays busy', async () => {
    const { reductions, samples, seconds, t } = await trace('cubic');
    expect(reductions.length).toBeGreaterThanOrEqual(2);
    for (const r of reductions) expect(r.ssthresh / r.cwnd).toBeCloseTo(0.7, 2);
    // A sawtooth, not a collapse: after a reduction cwnd grows back past where it was cut to.
    const last = reductions[reductions.length - 1]!;
    expect(last.cwnd).toBeGreaterThan(Math.min(...reductions.slice(0, -1).map((r) => r.ssthresh)));
    expect(Math.max(...samples.slice(-20))).toBeGreaterThan(last.ssthresh);
    // 6 MiB at 20 Mbit/s takes 2.5 s; allow 25% for slow start and recovery.
    expect(seconds).toBeLessThan(2.5 * 1.25);
    expect(t.b.ctx.stats.get('TcpExtTCPTimeouts')).toBe(0);
  });

  it('NewReno: ssthresh = FlightSize / 2 (RFC 5681 eq. 4), linear growth in between', async () => {
    const { reductions, seconds } = await trace('newreno');
    expect(reductions.length).toBeGreaterThanOrEqual(2);
    for (const r of reductions) expect(r.ssthresh).toBeCloseTo(Math.max(r.flight / 2, 2 * 1448), 0);
    expect(seconds).toBeLessThan(2.5 * 1.4);
  });
});

describe('large transfers under loss, reordering and duplication', () => {
  const mb = Number(process.env.TAPNET_TCP_BIG_MB ?? 64);
  const impairment: PairOptions['impairment'] = { loss: 0.05, reorder: 0.03, duplicate: 0.02, delayMs: 1, rateBitsPerSecond: 1e9, seed: 11 };

  it(`${mb} MiB each way arrive byte-exact (5% loss, 3% reorder, 2% duplication)`, async () => {
    const t = await established({ impairment });
    const size = mb * 1024 * 1024;
    const down = pattern(size);
    const up = pattern(size, 7);
    const hashes = { down: createHash('sha256'), up: createHash('sha256') };
    let gotDown = 0;
    let gotUp = 0;
    t.client.on('data', (d: Buffer) => {
      hashes.down.update(d);
      gotDown += d.length;
    });
    t.serverSocket.on('data', (d: Buffer) => {
      hashes.up.update(d);
      gotUp += d.length;
    });
    t.serverSocket.end(down);
    t.client.end(up);
    await t.runUntil(() => gotDown >= size && gotUp >= size, 3_600_000);
    expect(gotDown).toBe(size);
    expect(gotUp).toBe(size);
    expect(hashes.down.digest('hex')).toBe(createHash('sha256').update(down).digest('hex'));
    expect(hashes.up.digest('hex')).toBe(createHash('sha256').update(up).digest('hex'));
    expect(t.linkA.impairment.counters.lost).toBeGreaterThan(100);
    expect(t.linkA.impairment.counters.duplicated).toBeGreaterThan(100);
    expect(t.linkA.impairment.counters.reordered).toBeGreaterThan(100);
  }, 600_000);
});

// Keep the import used (for readers: sequence numbers are compared with seqSub, never `<`).
export type { SeqNum };
void TcpFlags;
