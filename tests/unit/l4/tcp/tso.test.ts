/**
 * TSO super-frames and loss, on the manual clock: a whole super-frame lost at
 * once (as nft drops a GSO packet) is one hole, and its retransmission goes
 * out one segment per transmission (RFC 6675 NextSeg), never as a super-frame:
 * a Linux receiver ACKs a GSO packet once and a lossy hop drops it whole, so a
 * retransmitted run in one frame would be lost or unanswered all at once.
 *
 * The in-memory link has no offload, so the sender's network is wrapped by a
 * "NIC" that records each transmission as the stack handed it over (one
 * super-frame = one record, dropped or passed whole, as nft drops a GSO
 * packet) and then cuts it into MSS-sized segments with their own checksums.
 * Every case runs over IPv4 and IPv6 (MSS 1448 and 1428 on a 1500 link).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { finishChecksum, sumWords } from '../../../../src/core/checksum.js';
import type { CounterName } from '../../../../src/core/stats.js';
import type { TcpConnection } from '../../../../src/l4/tcp/connection.js';
import type { IpAddress } from '../../../../src/l4/tcp/network.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { B, B6, onlyConnection, pattern, tcpPair, type PairOptions } from './harness.js';

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
  const client = p.a.tcp.connect({ host: options.family === 'ipv6' ? B6 : B, port: 80 });
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

for (const family of ['ipv4', 'ipv6'] as const) {
  /** Timestamps on: 1500 - IP header - 20 - 12. */
  const MSS = family === 'ipv4' ? 1448 : 1428;
  describe(`over ${family}`, () => {
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

      it('the hole is retransmitted segment by segment, each its own frame, byte-exact and without an RTO', async () => {
        const r = await response({ family }, 40, 1);
        const lost = r.sent[0]!;
        expect(lost.len).toBe(40 * MSS); // the whole response in one super-frame, lost: the TLP probe's SACK starts recovery
        expect(stat(r.t, 'TcpExtTCPLossProbes')).toBe(1);
        const retransmissions = r.sent.filter((f) => f.retransmit);
        const covered = retransmissions.reduce((n, f) => n + f.len, 0);
        expect(covered).toBeGreaterThanOrEqual(lost.len);
        expect(retransmissions.length).toBeGreaterThanOrEqual(lost.len / MSS);
        expect(retransmissions.every((f) => f.len <= MSS)).toBe(true);
        expect(r.sent.some((f) => !f.retransmit && f.len > MSS)).toBe(true); // new data still goes as super-frames
        expect(r.timeouts).toBe(0);
        expect(r.t.sha256()).toBe(createHash('sha256').update(pattern(400 * MSS)).update(pattern(40 * MSS)).digest('hex'));
      });
    });

    describe('the TLP probe when the flight is one super-frame (RFC 8985 §7.3)', () => {
      /**
       * The flight is one 40-segment super-frame (cwnd 40 segments, more data waiting); the receiver gets all of it,
       * but its ACKs are lost (as the single ACK a Linux receiver sends for a GSO packet can be). After the PTO the
       * probe goes; how long until SND.UNA passes the frame?
       */
      async function ackLost(dsackSeen: boolean) {
        const t = await established({ family });
        const frames = nic(t.c);
        await deliver(t, 400 * MSS);
        await t.runFor(200);
        // A Linux receiver sends DSACKs (RFC 2883); tapnet's receiver does not, so the test says the peer has.
        t.c.rack.dsackSeen = dsackSeen;
        t.c.cc.cwnd = 40 * MSS;
        t.c.cc.ssthresh = 40 * MSS;
        const from = frames.length;
        const start = t.now();
        // The receiver's ACKs sent in the next 30 ms are lost (the frame arrives 10 ms after it went, the PTO is ~42 ms).
        const send = t.linkA.send.bind(t.linkA);
        t.linkA.send = (frame: Uint8Array): void => {
          if (t.now() - start < 30) return;
          send(frame);
        };
        t.serverSocket.write(pattern(80 * MSS));
        const frameEnd = (t.c.sndUna + 40 * MSS) >>> 0;
        await t.runUntil(() => frames.length > from + 1, 1000); // the frame and the probe
        const probe = frames[from + 1]!;
        await t.runUntil(() => ((t.c.sndUna - frameEnd) | 0) >= 0, 1000);
        const acked = t.now();
        await t.runUntil(() => t.received() >= 480 * MSS, 5000);
        return { t, first: frames[from]!, probe, ackedAfterProbe: acked - probe.at };
      }

      it('is the last segment again, which the receiver acknowledges at once, not one new segment its delayed ACK holds', async () => {
        const r = await ackLost(true);
        expect(r.first.len).toBe(40 * MSS);
        expect(r.probe.retransmit).toBe(true);
        expect(r.probe.len).toBe(MSS);
        expect(r.probe.seq).toBe((r.first.seq + 39 * MSS) >>> 0);
        // One round trip (20 ms); a new segment would have waited for the receiver's 40 ms delayed-ACK timer as well.
        expect(r.ackedAfterProbe).toBeLessThanOrEqual(21);
        // Nothing was lost: no recovery, no RTO. (A Linux receiver also sends a DSACK for the duplicate, which ends the
        // TLP episode without a window reduction, §7.4; tapnet's receiver sends none.)
        expect(stat(r.t, 'TcpExtTCPSackRecovery')).toBe(0);
        expect(stat(r.t, 'TcpExtTCPTimeouts')).toBe(0);
        expect(r.t.sha256()).toBe(createHash('sha256').update(pattern(400 * MSS)).update(pattern(80 * MSS)).digest('hex'));
      });

      it('is one new segment (RFC 8985 §7.3) with a peer that has sent no DSACK, and then waits for its delayed ACK', async () => {
        // Without DSACKs §7.4 would take a retransmitted probe for a repaired loss and reduce the window.
        const r = await ackLost(false);
        expect(r.probe.retransmit).toBe(false);
        expect(r.probe.len).toBe(MSS);
        expect(r.probe.seq).toBe((r.first.seq + 40 * MSS) >>> 0);
        expect(r.ackedAfterProbe).toBeGreaterThanOrEqual(40); // the receiver's 40 ms delayed-ACK timer, plus the path
        expect(r.t.sha256()).toBe(createHash('sha256').update(pattern(400 * MSS)).update(pattern(80 * MSS)).digest('hex'));
      });
    });
  });
}
