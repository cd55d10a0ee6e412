/**
 * RACK-TLP (RFC 8985) and Proportional Rate Reduction (RFC 6937) on the
 * manual clock: two stacks over an in-memory link with 10 ms of delay each
 * way (RTT 20 ms, so min_RTT / 4 = a 5 ms reordering window), segments
 * dropped or held back by a hook on the sender's link.
 *
 * Where a rule's effect could also come from the older duplicate-ACK rules,
 * the test runs the same scenario with `rack: false` and checks that the
 * outcome differs, so it cannot pass without RACK-TLP.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../../../../src/l4/tcp/connection.js';
import { hasDsack, probeTimeout, prrEnter, prrOnAck, rackOnDsack, rackOnRecoveryEnd, rackUpdate, RackTlp, reorderingWindow } from '../../../../src/l4/tcp/rack.js';
import { SackScoreboard } from '../../../../src/l4/tcp/scoreboard.js';
import { Segment } from '../../../../src/l4/tcp/segment.js';
import { seq } from '../../../../src/l4/tcp/seq.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { B, onlyConnection, pattern, tcpPair, tapSegments, type CapturedSegment, type PairOptions } from './harness.js';

const MSS = 1448;
const delay: PairOptions['impairment'] = { delayMs: 10 };

async function established(options: PairOptions = {}) {
  const p = tcpPair({ impairment: delay, ...options });
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
  return { ...p, client, serverSocket: serverSocket!, received: () => got, sha256: () => hash.digest('hex') };
}

type Pair = Awaited<ReturnType<typeof established>>;
const isData = (s: CapturedSegment): boolean => s.payloadLength > 0;

/** Records the server's data segments and decides per first transmission: pass, drop, or hold back `holdMs`. */
function control(t: Pair, decide: (index: number) => 'pass' | 'drop' | number) {
  const first = new Map<number, number>();
  const sends: { index: number; at: number; retransmit: boolean }[] = [];
  const send = t.linkB.send.bind(t.linkB);
  const log = tapSegments(t.linkB, t.ctxA.clock, (s) => {
    if (!isData(s)) return false;
    const retransmit = first.has(s.seq);
    if (!retransmit) first.set(s.seq, first.size);
    const index = first.get(s.seq)!;
    sends.push({ index, at: s.at, retransmit });
    if (retransmit) return false;
    const d = decide(index);
    if (d === 'pass') return false;
    if (d === 'drop') return true;
    pendingHold = d;
    return true; // held: sent again below, later
  });
  let pendingHold = 0;
  // tapSegments hands dropped frames to nobody; wrap once more to catch the held ones and send them later.
  const tapped = t.linkB.send;
  t.linkB.send = (frame: Uint8Array): void => {
    pendingHold = 0;
    tapped(frame);
    if (pendingHold > 0) {
      const copy = frame.slice();
      t.ctxA.timers.after(pendingHold, () => send(copy));
    }
  };
  return { sends, log };
}

async function deliver(t: Pair, bytes: number, limitMs = 10_000): Promise<void> {
  const target = t.received() + bytes;
  t.serverSocket.write(pattern(bytes));
  await t.runUntil(() => t.received() >= target, limitMs);
}

const stat = (t: Pair, name: CounterName): number => t.b.ctx.stats.get(name);

describe('RACK (RFC 8985 §6)', () => {
  async function reorderedTwice(rack: boolean) {
    const t = await established({ configB: { rack } });
    let phase = 1;
    control(t, (i) => {
      // Phase 1: segment 1 of 4 arrives 2 ms late (two segments overtake it): the sender learns the path reorders.
      if (phase === 1 && i === 1) return 2;
      // Phase 2: segment 5 (the 2nd of 12) arrives 3 ms late: ten segments overtake it, but 3 ms < min_RTT / 4.
      if (phase === 2 && i === 5) return 3;
      return 'pass';
    });
    await deliver(t, 4 * MSS);
    await t.runFor(100);
    phase = 2;
    await deliver(t, 12 * MSS);
    await t.runFor(100);
    return t;
  }

  it('reordering within the reordering window is not taken for loss', async () => {
    const t = await reorderedTwice(true);
    expect(stat(t, 'TcpExtTCPSACKReorder')).toBe(1);
    expect(onlyConnection(t.b).rack.reord).toBe(true);
    expect(stat(t, 'TcpRetransSegs')).toBe(0);
    expect(stat(t, 'TcpExtTCPSackRecovery')).toBe(0);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
    // Control: RFC 6675's rule (three segments SACKed above) takes the second reordering for a loss.
    const old = await reorderedTwice(false);
    expect(stat(old, 'TcpRetransSegs')).toBeGreaterThan(0);
  });

  async function firstOfThreeLost(rack: boolean) {
    const t = await established({ configB: { rack } });
    const c = control(t, (i) => (i === 0 ? 'drop' : 'pass'));
    const start = t.now();
    await deliver(t, 3 * MSS);
    const retransmit = c.sends.find((s) => s.retransmit)!;
    return { t, retransmitAfter: retransmit.at - start, done: t.now() - start };
  }

  it('marks a segment lost once a later one is delivered and the window has passed, without three duplicate ACKs', async () => {
    const { t, retransmitAfter } = await firstOfThreeLost(true);
    // Segments 1 and 2 are SACKed 20 ms after sending (only two duplicate ACKs); segment 0 is lost when
    // RACK.rtt + reo_wnd = 20 + 5 ms have passed since it was sent: the reordering timer fires at 25 ms.
    expect(retransmitAfter).toBeGreaterThanOrEqual(25);
    expect(retransmitAfter).toBeLessThan(27);
    expect(stat(t, 'tcpRackReoTimeouts')).toBe(1);
    expect(stat(t, 'TcpExtTCPSackRecovery')).toBe(1);
    expect(stat(t, 'TcpExtTCPLossProbes')).toBe(0);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
    expect(t.sha256()).toBe(createHash('sha256').update(pattern(3 * MSS)).digest('hex'));
    // Control: two duplicate ACKs are not enough for the old rules; the RTO (200 ms floor) repairs it.
    const old = await firstOfThreeLost(false);
    expect(old.retransmitAfter).toBeGreaterThanOrEqual(200);
    expect(stat(old.t, 'TcpExtTCPTimeouts')).toBe(1);
  });

  it('after a repaired loss its marks follow SND.UNA: a stale one would read as ahead 2^31 bytes later', async () => {
    const t = await established();
    control(t, (i) => (i === 0 ? 'drop' : 'pass'));
    await deliver(t, 6 * MSS);
    await t.runFor(100); // the last ACK reaches the sender
    const c = onlyConnection(t.b);
    expect(stat(t, 'TcpExtTCPSackRecovery')).toBe(1);
    expect(c.recoveryState).toBe('open');
    // Sequence comparison is modulo 2^32 (RFC 9293 §3.4): lostEnd left at the loss would compare as ahead of
    // SND.UNA after 2 GiB more, and put a connection that lost nothing into recovery (iperf3 -R did that).
    expect(c.rack.lostEnd).toBe(c.sndUna);
    expect(c.rack.fack).toBe(c.sndUna);
    expect((c.sndUna - c.recover) >>> 0).toBeLessThanOrEqual(1); // RFC 6582's recover: at most one below
  });

  it('with no reordering seen, three SACKed segments mark the hole lost at once (reo_wnd = 0 in that case)', async () => {
    const t = await established();
    const c = control(t, (i) => (i === 0 ? 'drop' : 'pass'));
    const start = t.now();
    await deliver(t, 6 * MSS);
    const retransmit = c.sends.find((s) => s.retransmit)!;
    // The SACK for segment 3 arrives 20 ms after the burst; no timer is needed.
    expect(retransmit.at - start).toBe(20);
    expect(stat(t, 'tcpRackReoTimeouts')).toBe(0);
    expect(stat(t, 'TcpExtTCPSackRecovery')).toBe(1);
  });

  it('a lost retransmission is found by its send time and sent again', async () => {
    const t = await established();
    let drops = 0;
    const first = new Map<number, number>();
    tapSegments(t.linkB, t.ctxA.clock, (s) => {
      if (!isData(s)) return false;
      if (!first.has(s.seq)) first.set(s.seq, first.size);
      // Segment 2 is lost, and so is its first retransmission.
      if (first.get(s.seq) === 2 && drops < 2) {
        drops++;
        return true;
      }
      return false;
    });
    await deliver(t, 40 * MSS);
    expect(drops).toBe(2);
    expect(stat(t, 'TcpExtTCPLostRetransmit')).toBe(1);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
  });
});

describe('the reordering window and DSACK (RFC 8985 §6.2 step 4, RFC 2883)', () => {
  function fake(recoveryState: 'open' | 'recovery', sackedSegments: number) {
    const scoreboard = new SackScoreboard();
    if (sackedSegments > 0) scoreboard.add(seq(1000), seq(1000 + sackedSegments * 1000));
    return {
      rack: new RackTlp(),
      rtt: { minRtt: 20, srtt: 40 },
      recoveryState,
      scoreboard,
      mss: 1000,
      sndUna: seq(0),
      sndNxt: seq(50_000),
      layer: { ctx: { stats: { inc: () => undefined } } },
    } as unknown as TcpConnection;
  }

  it('is min_RTT / 4, and 0 without reordering seen once in recovery or with DupThresh segments SACKed', () => {
    expect(reorderingWindow(fake('open', 2))).toBe(5);
    expect(reorderingWindow(fake('open', 3))).toBe(0);
    expect(reorderingWindow(fake('recovery', 1))).toBe(0);
    const c = fake('recovery', 3);
    c.rack.reord = true;
    expect(reorderingWindow(c)).toBe(5);
  });

  it('grows by min_RTT / 4 per round with a DSACK, capped at SRTT, and falls back after 16 recoveries', () => {
    const c = fake('open', 0);
    rackOnDsack(c, true);
    expect(reorderingWindow(c)).toBe(10);
    rackOnDsack(c, true); // same round (SND.UNA has not reached the SND.NXT of the first DSACK): no change
    expect(reorderingWindow(c)).toBe(10);
    c.sndUna = seq(50_000);
    c.sndNxt = seq(90_000);
    for (let i = 0; i < 10; i++) {
      rackOnDsack(c, true);
      c.sndUna = c.sndNxt;
      c.sndNxt = seq(c.sndNxt + 40_000);
    }
    expect(reorderingWindow(c)).toBe(40); // 12 * 20 / 4 = 60, capped at SRTT
    for (let i = 0; i < 15; i++) rackOnRecoveryEnd(c);
    expect(reorderingWindow(c)).toBe(40);
    rackOnRecoveryEnd(c);
    expect(reorderingWindow(c)).toBe(5);
  });

  it('tells a DSACK block from an ordinary one (RFC 2883 §4)', () => {
    const seg = new Segment();
    seg.ack = seq(5000);
    seg.sackCount = 1;
    seg.sackEdges.set([3000, 4000]); // below the cumulative ACK: a duplicate
    expect(hasDsack(seg)).toBe(true);
    seg.sackCount = 2;
    seg.sackEdges.set([7000, 8000, 6000, 9000]); // inside the second block: a duplicate
    expect(hasDsack(seg)).toBe(true);
    seg.sackEdges.set([7000, 8000, 9000, 10000]);
    expect(hasDsack(seg)).toBe(false);
  });

  it('the scoreboard reports the highest newly SACKed piece and the last hole a cumulative ACK fills', () => {
    const sb = new SackScoreboard();
    sb.add(seq(3000), seq(4000));
    sb.add(seq(6000), seq(7000));
    // [2000, 7000) covers the gaps [2000, 3000) and [4000, 6000): the highest new piece ends at 6000.
    expect(sb.add(seq(2000), seq(7000))).toBe(true);
    expect(sb.lastAddedRight).toBe(6000);
    expect(sb.add(seq(8000), seq(9000))).toBe(true);
    expect(sb.lastAddedRight).toBe(9000);
    expect(sb.lastHoleEnd(seq(1000), seq(8500))).toBe(8000); // [7000, 8000) is the last unSACKed range
    expect(sb.lastHoleEnd(seq(2000), seq(7000))).toBeUndefined();
    expect(sb.lastHoleEnd(seq(1000), seq(7000))).toBe(2000);
  });
});

describe('RACK.xmit_ts and an ambiguous retransmission (RFC 8985 §6.2 step 2)', () => {
  /**
   * Segments 0-9 (1000 bytes each) went out at t = 0-9 ms; segment 2 was retransmitted at t = 30 ms. Now (t = 31)
   * a cumulative ACK for 0-3 arrives: did the original or the retransmission move it? The echoed TSval tells.
   */
  function afterRetransmission(echo: number, at = 31, estimatorMinRtt = 0.5, rackMinRtt = Infinity) {
    const rack = new RackTlp();
    rack.minRtt = rackMinRtt;
    for (let i = 0; i < 10; i++) rack.sent.push(seq(i * 1000), seq((i + 1) * 1000), i, i);
    rack.retransmits.push(seq(2000), seq(3000), 30, 10, 10_000);
    rack.transmissions = 11;
    const c = {
      rack,
      rtt: { minRtt: estimatorMinRtt, srtt: 1 },
      recoveryState: 'recovery',
      scoreboard: new SackScoreboard(),
      mss: 1000,
      sndUna: seq(0),
      sndNxt: seq(10_000),
      highRxt: seq(3000),
      tsOk: true,
      tsOffset: 7000,
      now: () => at,
      layer: { ctx: { stats: { inc: () => undefined } } },
    } as unknown as TcpConnection;
    const ack = new Segment();
    ack.ack = seq(4000);
    ack.hasTimestamps = true;
    ack.tsEcr = 7000 + echo;
    rackUpdate(c, ack, seq(4000), undefined);
    return rack;
  }

  it("an ACK echoing the original's TSval does not make the retransmission the latest delivery", () => {
    // Taken as delivered, the retransmission (sent at 30) would declare 4-9 (sent at 4-9 ms, their ACKs still on
    // their way) lost at once: against Linux under 3% loss that fed itself, 20x the real losses retransmitted.
    const rack = afterRetransmission(3); // TSval of segment 3, sent at 3 ms
    expect(rack.xmitTs).toBe(3);
    expect(rack.endSeq).toBe(4000);
  });

  it("an ACK echoing the retransmission's own TSval takes it as delivered", () => {
    const rack = afterRetransmission(30);
    expect(rack.xmitTs).toBe(30);
    expect(rack.endSeq).toBe(3000);
    expect(rack.rtt).toBe(1);
  });

  it('min_RTT is measured from send times, below the millisecond: a retransmission "delivered" sooner is ignored', () => {
    // Timestamps tick in whole milliseconds, so on a fast path the RTT estimator's minimum reads 0 and step 2's
    // "ACK sooner than min_RTT after the retransmission" test would never fire; RACK's own min_RTT (0.5 ms here)
    // does. Without it (below), the retransmission sent 0.2 ms ago becomes RACK.xmit_ts.
    const rack = afterRetransmission(30, 30.2, 0, 0.5);
    expect(rack.xmitTs).toBe(3);
    expect(afterRetransmission(30, 30.2, 0, Infinity).xmitTs).toBe(30);
    // An original's delivery is a sample: segment 3, sent at 3 ms, delivered at 30.2 ms.
    expect(rack.minRtt).toBe(0.5);
    expect(afterRetransmission(3, 30.2, 0, Infinity).minRtt).toBeCloseTo(27.2);
  });
});

describe('TLP (RFC 8985 §7)', () => {
  async function tailLost(rack: boolean, lost: number[]) {
    const t = await established({ configB: { rack } });
    control(t, (i) => (lost.includes(i) ? 'drop' : 'pass'));
    const start = t.now();
    await deliver(t, 10 * MSS);
    return { t, took: t.now() - start };
  }

  it('the last three segments of a burst lost: a probe after 2 * SRTT, RACK repairs the rest, no RTO', async () => {
    const { t, took } = await tailLost(true, [7, 8, 9]);
    expect(stat(t, 'TcpExtTCPLossProbes')).toBe(1);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
    // 20 ms to ACK 0-6, a PTO of 2 * 20 + 2 ms, 20 ms for the probe's SACK, 20 ms for the retransmissions.
    expect(took).toBeLessThan(110);
    expect(t.sha256()).toBe(createHash('sha256').update(pattern(10 * MSS)).digest('hex'));
    const old = await tailLost(false, [7, 8, 9]);
    expect(stat(old.t, 'TcpExtTCPTimeouts')).toBe(1);
    expect(old.took).toBeGreaterThan(200);
  });

  it('the last segment lost: the probe repairs it instead of the RTO, and the episode counts a recovery', async () => {
    const { t } = await tailLost(true, [9]);
    const c = onlyConnection(t.b);
    expect(stat(t, 'TcpExtTCPLossProbes')).toBe(1);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
    await t.runFor(50);
    expect(c.rack.tlpEndSeq).toBe(c.sndNxt); // the probe's ACK came back; the episode stays open until an ACK passes it
    expect(c.cc.ssthresh).toBe(Infinity);
    await deliver(t, 4 * MSS);
    await t.runFor(50); // the ACK beyond the probe reaches the sender
    expect(stat(t, 'TcpExtTCPLossProbeRecovery')).toBe(1);
    expect(c.cc.ssthresh).toBeLessThan(Infinity);
    expect(c.rack.tlpEndSeq).toBeUndefined();
  });

  it('no loss: a probe whose original arrived ends the episode on the DSACK-less duplicate, without a window cut', async () => {
    const t = await established();
    // Hold the last segment back beyond the PTO: the probe retransmits it, then the original arrives too.
    control(t, (i) => (i === 9 ? 250 : 'pass'));
    await deliver(t, 10 * MSS);
    await t.runFor(500);
    const c = onlyConnection(t.b);
    expect(stat(t, 'TcpExtTCPLossProbes')).toBe(1);
    expect(stat(t, 'TcpExtTCPLossProbeRecovery')).toBe(0);
    expect(c.rack.tlpEndSeq).toBeUndefined();
    expect(c.cc.ssthresh).toBe(Infinity);
  });

  it('no probe without SACK: NewReno and the RTO as before', async () => {
    const t = await established({ configA: { sack: false } });
    expect(onlyConnection(t.b).sackOk).toBe(false);
    control(t, (i) => (i === 3 || i === 5 ? 'drop' : 'pass'));
    await deliver(t, 60 * MSS);
    expect(t.sha256()).toBe(createHash('sha256').update(pattern(60 * MSS)).digest('hex'));
    expect(stat(t, 'TcpExtTCPRenoRecovery')).toBe(1);
    expect(stat(t, 'TcpExtTCPLossProbes')).toBe(0);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
  });
});

describe('SRTT from send times (RFC 6298 §3, RFC 8985 §7.2)', () => {
  it('on a 0.5 ms path SRTT is measured below the millisecond, so the PTO is 2 * 0.5 + 2 ms', async () => {
    // Timestamps tick in whole milliseconds: their samples here would be 0 or 1, never 0.5. The send time of the
    // newest segment an ACK delivers gives the real RTT, as Linux measures it (tcp_ack_update_rtt).
    const t = await established({ impairment: { delayMs: 0.25 } });
    // Round trips of a few segments each: the receiver ACKs a batch once, so every round gives one sample, and
    // SRTT (starting from the handshake's whole-millisecond timestamp sample) needs a dozen to settle.
    for (let round = 0; round < 16; round++) {
      if (round > 0) await t.runFor(1);
      await deliver(t, 4 * MSS);
    }
    const c = onlyConnection(t.b);
    expect(Number.isInteger(c.rtt.latest)).toBe(false);
    expect(c.rtt.latest).toBeCloseTo(0.5, 6);
    expect(c.rtt.srtt).toBeGreaterThan(0.45);
    expect(c.rtt.srtt).toBeLessThan(0.6);
    expect(probeTimeout(c, 200)).toBeLessThan(3.3); // 2 * SRTT + TCP_TLP_TIMEOUT_MIN_MS
  });

  it('a segment the TLP probe retransmitted gives no send-time sample (Karn): its original went out a PTO earlier', async () => {
    const t = await established();
    // The last segment is lost: the probe resends it at the PTO (2 * SRTT + 200 ms with one segment in flight).
    control(t, (i) => (i === 9 ? 'drop' : 'pass'));
    await deliver(t, 10 * MSS);
    await t.runFor(15); // the ACK of the probe reaches the sender
    const c = onlyConnection(t.b);
    expect(c.sndUna).toBe(c.sndNxt);
    expect(stat(t, 'TcpExtTCPLossProbes')).toBe(1);
    expect(stat(t, 'TcpExtTCPTimeouts')).toBe(0);
    // RTT 20 ms; timed from the original's send time, the probe's ACK would read the PTO + 20 ms (~260 ms).
    expect(c.rtt.latest).toBe(20);
    expect(c.rtt.srtt).toBe(20);
  });
});

describe('PRR (RFC 6937 §3)', () => {
  /** The parts of a connection PRR reads and writes. */
  function fakeConnection(ssthresh: number, mss = 1000) {
    return { rack: { prrDelivered: 0, prrOut: 0, recoverFs: 0 }, cc: { cwnd: 0, ssthresh }, mss, flight: 0 } as unknown as TcpConnection & {
      cc: { cwnd: number; ssthresh: number };
    };
  }

  /**
   * Runs recovery ACK by ACK: each ACK delivers one segment; `lost` segments
   * are missing from the start (all are repaired by the first sends).
   * Returns the segments sent after each ACK and the pipe after it.
   */
  function run(recoverFs: number, ssthresh: number, lost: number, acks: number) {
    const c = fakeConnection(ssthresh * 1000);
    (c as unknown as { flight: number }).flight = recoverFs * 1000;
    prrEnter(c);
    let delivered = 0;
    const sent: number[] = [];
    const pipes: number[] = [];
    for (let k = 0; k < acks; k++) {
      delivered += 1000;
      // RFC 6675 pipe: what was in flight, less what was delivered and what is lost, plus what PRR sent.
      const pipe = recoverFs * 1000 - delivered - lost * 1000 + c.rack.prrOut;
      prrOnAck(c, 1000, pipe);
      const n = Math.max(0, Math.floor((c.cc.cwnd - pipe) / 1000));
      c.rack.prrOut += n * 1000;
      sent.push(n);
      pipes.push(pipe + n * 1000);
    }
    return { sent, pipes, prrOut: c.rack.prrOut / 1000 };
  }

  it('one loss in a window of 20, ssthresh 10 (the RFC 6937 §5 example): one segment for every two ACKs', () => {
    const { sent, pipes, prrOut } = run(20, 10, 1, 19);
    // The first ACK sends the fast retransmit; then PRR sends on every other ACK (ssthresh / RecoverFS = 1/2),
    // never bursting, until pipe has come down to ssthresh; there PRR-SSRB holds it (ACK 17 sends nothing,
    // ACKs 18 and 19 replace what they delivered).
    expect(sent).toEqual([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1]);
    expect(prrOut).toBe(10); // CEIL(19 * 10 / 20): what was sent in recovery stays within ssthresh
    expect(Math.max(...sent)).toBe(1);
    expect(pipes[pipes.length - 1]).toBe(10 * 1000); // recovery ends with exactly ssthresh in flight
  });

  it('CUBIC (beta 0.7): seven segments for every ten delivered', () => {
    const { sent, prrOut } = run(20, 14, 1, 10);
    expect(sent.reduce((a, b) => a + b, 0)).toBe(Math.ceil((10 * 14) / 20));
    expect(prrOut).toBe(7);
  });

  it('a burst loss takes pipe below ssthresh: PRR-SSRB grows back like slow start, one MSS above what was delivered', () => {
    const { sent, pipes } = run(20, 14, 10, 8);
    // pipe = 20 - 1 - 10 = 9 < 14 after the first ACK: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS = 2.
    expect(sent.slice(0, 3)).toEqual([2, 2, 2]);
    for (const p of pipes) expect(p).toBeLessThanOrEqual(14 * 1000);
    expect(pipes[pipes.length - 1]).toBe(14 * 1000);
  });

  it('in a real recovery, the data sent stays within ssthresh and cwnd ends at ssthresh', async () => {
    const t = await established({ configB: { congestionControl: 'newreno' } });
    const c = onlyConnection(t.b);
    control(t, (i) => (i === 30 ? 'drop' : 'pass'));
    let recoverySent = 0;
    let flightAtStart = 0;
    let inRecovery = false;
    const original = t.linkB.send.bind(t.linkB);
    t.linkB.send = (frame: Uint8Array): void => {
      if (c.recoveryState === 'recovery') {
        if (!inRecovery) flightAtStart = c.rack.recoverFs;
        inRecovery = true;
        recoverySent = c.rack.prrOut;
      }
      original(frame);
    };
    await deliver(t, 80 * MSS);
    expect(stat(t, 'TcpExtTCPSackRecovery')).toBe(1);
    expect(inRecovery).toBe(true);
    // NewReno: ssthresh = FlightSize / 2; PRR sent at most ssthresh * delivered / RecoverFS, so at most ssthresh.
    expect(recoverySent).toBeLessThanOrEqual(c.cc.ssthresh + MSS);
    expect(c.cc.ssthresh).toBeCloseTo(flightAtStart / 2, -3);
  });
});

describe('a larger transfer under loss and reordering', () => {
  const rounds = Number(process.env.TAPNET_TCP_RACK_ROUNDS ?? 1000);
  const chunk = 16 * 1024;
  // 3% loss each way, 1% of frames held back 3 ms, 5 ms one-way delay, 100 Mbit/s.
  const impairment: PairOptions['impairment'] = { loss: 0.03, reorder: 0.01, reorderDelayMs: 3, delayMs: 5, rateBitsPerSecond: 100e6, seed: 5 };

  /**
   * The download goes in 16 KiB responses, each asked for by a small request
   * (as HTTP/1.1 keep-alive or an RPC stream does): every response has a tail,
   * and a tail loss is what duplicate ACKs cannot repair.
   */
  async function transfer(rack: boolean) {
    const t = await established({ impairment, configA: { rack }, configB: { rack } });
    const data = pattern(rounds * chunk);
    let asked = 0;
    t.serverSocket.on('data', () => {
      // One request byte per response.
      if (asked < rounds) t.serverSocket.write(data.subarray(asked * chunk, ++asked * chunk));
    });
    const start = t.now();
    let requested = 0;
    const ask = (): void => {
      requested++;
      t.client.write('?');
    };
    ask();
    await t.runUntil(() => {
      if (t.received() >= requested * chunk && requested < rounds) ask();
      return t.received() >= rounds * chunk;
    }, 3_600_000);
    const sum = (name: CounterName): number => t.a.ctx.stats.get(name) + t.b.ctx.stats.get(name);
    const result = {
      seconds: (t.now() - start) / 1000,
      timeouts: sum('TcpExtTCPTimeouts'),
      probes: sum('TcpExtTCPLossProbes'),
      recoveries: sum('TcpExtTCPSackRecovery'),
      lost: t.linkA.impairment.counters.lost + t.linkB.impairment.counters.lost,
      sha256: t.sha256(),
    };
    if (process.env.TAPNET_TCP_RACK_REPORT) console.log(JSON.stringify({ rack, ...result }));
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(result.lost).toBeGreaterThan(100);
    return result;
  }

  it(`${rounds} responses of 16 KiB arrive byte-exact, tail losses repaired by probes instead of timeouts`, async () => {
    const rack = await transfer(true);
    const old = await transfer(false);
    expect(rack.probes).toBeGreaterThan(0);
    // Measured with this seed (1000 rounds): RACK-TLP 13 timeouts in 36.9 s of simulated time; `rack: false` 152 in
    // 64.4 s; the code before RACK-TLP and PRR 163 in 67.0 s. What is left are probes lost too, and lost requests.
    expect(rack.timeouts).toBeLessThanOrEqual(Math.ceil(rounds * 0.03));
    expect(old.timeouts).toBeGreaterThan(Math.ceil(rounds * 0.03));
    expect(rack.seconds).toBeLessThan(old.seconds * 0.75);
  }, 600_000);
});
