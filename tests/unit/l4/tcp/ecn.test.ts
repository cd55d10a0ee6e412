/**
 * ECN (RFC 3168) on the in-process pair: negotiation (§6.1.1) as Linux's
 * tcp_ecn = 2 does it (accept when asked, never ask), ECT(0) on new data only
 * (§6.1.5), the receiver's ECE echo from a CE mark until CWR (§6.1.3), and the
 * sender's reaction: cwnd reduced once per window, no retransmission, CWR on
 * the next new data (§6.1.2). CE marks are made on the wire, as a router would.
 */
import { describe, expect, it } from 'vitest';
import { finishChecksum, sumWords } from '../../../../src/core/checksum.js';
import { setU16 } from '../../../../src/core/bytes.js';
import { EthernetFrameView } from '../../../../src/l2/ethernet/frame.js';
import { Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import type { LinkDevice } from '../../../../src/device/link.js';
import { TcpFlags, TcpHeaderView } from '../../../../src/l4/tcp/header.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { B, onlyConnection, pattern, tcpPair, type PairOptions } from './harness.js';

interface Seen {
  ecn: number;
  flags: number;
  payloadLength: number;
  seq: number;
}

/** Records the IP ECN field and TCP flags of every TCP frame `device` sends; `mark` may set CE on one first. */
function watch(device: LinkDevice, mark?: (s: Seen, index: number) => boolean): Seen[] {
  const seen: Seen[] = [];
  const send = device.send.bind(device);
  const eth = new EthernetFrameView();
  const ip = new Ipv4HeaderView();
  const tcp = new TcpHeaderView();
  let dataIndex = 0;
  device.send = (frame: Uint8Array): void => {
    if (!eth.wrap(frame) && eth.etherType === 0x0800 && !ip.wrap(eth.payload) && ip.protocol === 6 && !tcp.wrap(ip.payload)) {
      const s: Seen = { ecn: ip.ecn, flags: tcp.flags, payloadLength: tcp.payload.length, seq: tcp.sequenceNumber };
      if (s.payloadLength > 0 && mark?.(s, dataIndex++)) {
        // A router's CE mark: ECN field = 3, IPv4 header checksum recomputed.
        const header = eth.payload;
        header[1] = header[1]! | 0x03;
        setU16(header, 10, 0);
        setU16(header, 10, finishChecksum(sumWords(header, 0, (header[0]! & 0x0f) * 4)));
        s.ecn = 3;
      }
      seen.push(s);
    }
    send(frame);
  };
  return seen;
}

async function transfer(options: PairOptions, mark?: (s: Seen, index: number) => boolean, bytes = 300_000) {
  const p = tcpPair(options);
  const fromA = watch(p.linkA, mark);
  const fromB = watch(p.linkB);
  let server: Socket | undefined;
  const got: Buffer[] = [];
  p.b.tcp.createServer((s) => {
    server = s;
    s.on('data', (d: Buffer) => got.push(d));
  }).listen(9);
  const client = p.a.tcp.connect({ host: B, port: 9 });
  const data = pattern(bytes);
  client.end(data);
  await p.runUntil(() => Buffer.concat(got).length === bytes);
  expect(Buffer.concat(got).equals(data)).toBe(true);
  return { p, fromA, fromB, server: server! };
}

const hasFlag = (s: Seen, flag: number): boolean => (s.flags & flag) !== 0;

describe('ECN (RFC 3168)', () => {
  it('a peer that asks (ECE+CWR on its SYN) gets ECE on the SYN-ACK, then ECT(0) on new data only', async () => {
    const { p, fromA, fromB } = await transfer({ configA: { ecn: 1 } });
    const syn = fromA[0]!;
    const synAck = fromB[0]!;
    expect(syn.flags & (TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR)).toBe(TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR);
    expect(synAck.flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.ECE | TcpFlags.CWR)).toBe(TcpFlags.SYN | TcpFlags.ACK | TcpFlags.ECE);
    expect(syn.ecn).toBe(0);
    expect(synAck.ecn).toBe(0);
    const data = fromA.filter((s) => s.payloadLength > 0);
    expect(data.length).toBeGreaterThan(10);
    expect(data.every((s) => s.ecn === 2)).toBe(true);
    // Pure ACKs are never ECT (§6.1.4).
    expect(fromB.filter((s) => s.payloadLength === 0).every((s) => s.ecn === 0)).toBe(true);
    expect(p.ctxB.stats.get('tcpEcnNegotiated')).toBe(1);
  });

  it('by default tapnet never asks (Linux tcp_ecn = 2): no ECN on its SYN, none on the connection', async () => {
    const { fromA, fromB } = await transfer({}, undefined, 50_000);
    expect(fromA[0]!.flags & (TcpFlags.ECE | TcpFlags.CWR)).toBe(0);
    expect(fromB[0]!.flags & (TcpFlags.ECE | TcpFlags.CWR)).toBe(0);
    expect([...fromA, ...fromB].every((s) => s.ecn === 0)).toBe(true);
  });

  it('ecn: 0 ignores an ECN-setup SYN', async () => {
    const { fromB } = await transfer({ configA: { ecn: 1 }, configB: { ecn: 0 } }, undefined, 50_000);
    expect(fromB[0]!.flags & (TcpFlags.ECE | TcpFlags.CWR)).toBe(0);
    expect(fromB.every((s) => s.ecn === 0)).toBe(true);
  });

  it('CE marks: the receiver echoes ECE until CWR; the sender reduces cwnd once, retransmits nothing, and sends CWR', async () => {
    // Two marks close together (the same window): one reduction.
    const { p, fromA, fromB } = await transfer({ configA: { ecn: 1 } }, (_s, i) => i === 40 || i === 41);
    const firstEce = fromB.findIndex((s) => hasFlag(s, TcpFlags.ECE) && !hasFlag(s, TcpFlags.SYN));
    expect(firstEce).toBeGreaterThan(0);
    const cwr = fromA.filter((s) => hasFlag(s, TcpFlags.CWR) && !hasFlag(s, TcpFlags.SYN));
    expect(cwr).toHaveLength(1);
    expect(cwr[0]!.payloadLength).toBeGreaterThan(0);
    expect(cwr[0]!.ecn).toBe(2);
    // After the CWR reached B, its ACKs no longer carry ECE: the echo stopped (the last ACKs are clean).
    expect(hasFlag(fromB[fromB.length - 1]!, TcpFlags.ECE)).toBe(false);
    expect(fromB.filter((s) => hasFlag(s, TcpFlags.ECE) && !hasFlag(s, TcpFlags.SYN)).length).toBeGreaterThan(0);
    expect(p.ctxB.stats.get('tcpEcnCeReceived')).toBe(2);
    expect(p.ctxA.stats.get('tcpEcnCwndReduced')).toBe(1);
    expect(p.ctxA.stats.get('TcpRetransSegs') ?? 0).toBe(0);
    expect(onlyConnection(p.a).cc.ssthresh).toBeLessThan(Infinity);
  });

  it('a CE mark in each of two windows far apart: two reductions', async () => {
    const { p } = await transfer({ configA: { ecn: 1 } }, (_s, i) => i === 30 || i === 150, 600_000);
    expect(p.ctxA.stats.get('tcpEcnCwndReduced')).toBe(2);
    expect(p.ctxA.stats.get('TcpRetransSegs') ?? 0).toBe(0);
  });
});
