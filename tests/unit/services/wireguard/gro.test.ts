/** Receive coalescing of decrypted TCP segments (src/services/wireguard/gro.ts). */
import { describe, expect, it } from 'vitest';
import { internetChecksum, pseudoHeaderSumV4, verifyChecksum } from '../../../../src/core/checksum.js';
import { completePartialChecksum, type TransportOffload } from '../../../../src/core/offload.js';
import { Segmenter } from '../../../../src/device/segment.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { emitIpv4Header, parseIpv4Header } from '../../../../src/l3/ipv4/header.js';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { MAX_SEGMENTS, TcpCoalescer } from '../../../../src/services/wireguard/gro.js';

const SRC = parseIpv4('10.99.0.2')!;
const DST = parseIpv4('10.60.0.10')!;
const MSS = 1368;

interface SegmentSpec {
  seq: number;
  data?: number;
  flags?: number;
  ack?: number;
  window?: number;
  tsval?: number;
  tos?: number;
  df?: boolean;
  srcPort?: number;
}

/** An IPv4/TCP segment with a timestamp option (12 bytes, as Linux sends), data bytes derived from the sequence number. */
function segment(s: SegmentSpec): Uint8Array {
  const data = s.data ?? MSS;
  const tcpLength = 32;
  const p = new Uint8Array(20 + tcpLength + data);
  emitIpv4Header(
    { dscp: (s.tos ?? 0) >> 2, ecn: (s.tos ?? 0) & 3, totalLength: p.length, identification: s.seq & 0xffff, dontFragment: s.df ?? true, moreFragments: false, fragmentOffset: 0, ttl: 63, protocol: 6, source: SRC, destination: DST },
    p,
    0,
  );
  const t = new DataView(p.buffer, 20);
  t.setUint16(0, s.srcPort ?? 5201);
  t.setUint16(2, 40000);
  t.setUint32(4, s.seq >>> 0);
  t.setUint32(8, s.ack ?? 777);
  p[20 + 12] = (tcpLength / 4) << 4;
  p[20 + 13] = s.flags ?? TcpFlags.ACK;
  t.setUint16(14, s.window ?? 500);
  p.set([1, 1, 8, 10], 20 + 20); // NOP NOP timestamps
  t.setUint32(24, s.tsval ?? 1000);
  t.setUint32(28, 2000);
  for (let i = 0; i < data; i++) p[20 + tcpLength + i] = (s.seq + i) & 0xff;
  t.setUint16(16, internetChecksum(p, 20, p.length - 20, pseudoHeaderSumV4(SRC, DST, 6, p.length - 20)));
  return p;
}

function coalesce(packets: Uint8Array[]): { packet: Uint8Array; offload: TransportOffload | undefined; segments: number }[] {
  const out: { packet: Uint8Array; offload: TransportOffload | undefined; segments: number }[] = [];
  new TcpCoalescer().coalesce(packets, (packet, offload, segments) => out.push({ packet: packet.slice(), offload: offload && { ...offload }, segments }));
  return out;
}

const seqs = (start: number, count: number, data = MSS): SegmentSpec[] => Array.from({ length: count }, (_, i) => ({ seq: start + i * data, data }));

describe('TcpCoalescer', () => {
  it('merges a flow\'s in-order full segments and a short last one into a super-packet with TSO metadata', () => {
    const specs = [...seqs(1000, 3), { seq: 1000 + 3 * MSS, data: 100 }];
    const [out, ...rest] = coalesce(specs.map(segment));
    expect(rest).toEqual([]);
    expect(out!.segments).toBe(4);
    expect(out!.offload).toEqual({ segmentSize: MSS, headerLength: 52, checksumStart: 20, checksumOffset: 16 });
    const p = out!.packet;
    expect(p.length).toBe(52 + 3 * MSS + 100);
    const ip = parseIpv4Header(p);
    expect(ip.ok && ip.value.totalLength).toBe(p.length); // and the header checksum verified
    for (let i = 0; i < 3 * MSS + 100; i++) if (p[52 + i] !== ((1000 + i) & 0xff)) throw new Error(`payload byte ${i}`);
    // The TCP checksum is partial (pseudo-header only); finished, it verifies.
    completePartialChecksum(p, out!.offload!);
    expect(verifyChecksum(p, 20, p.length - 20, pseudoHeaderSumV4(SRC, DST, 6, p.length - 20))).toBe(true);
  });

  it('round trip: the one segmentation routine cuts the super-packet back into the original segments', () => {
    const originals = seqs(5000, 5).map((s, i) => segment({ ...s, flags: i === 4 ? TcpFlags.ACK | TcpFlags.PSH : TcpFlags.ACK }));
    const [out] = coalesce(originals);
    expect(out!.segments).toBe(5);
    const cut: Uint8Array[] = [];
    expect(new Segmenter().ipToWire(out!.packet, false, out!.offload!, (s) => cut.push(s.slice()))).toBeUndefined();
    expect(cut.length).toBe(5);
    for (let i = 0; i < 5; i++) {
      // TCP header and data as sent (PSH only on the last, checksums complete); the IP ID is the segmenter's.
      expect(cut[i]!.subarray(20)).toEqual(originals[i]!.subarray(20));
      expect(verifyChecksum(cut[i]!, 0, 20)).toBe(true);
    }
  });

  it('passes through what must not merge, in order', () => {
    const base = 10_000;
    const cases: [string, SegmentSpec][] = [
      ['another ack number', { seq: base + MSS, ack: 778 }],
      ['another window', { seq: base + MSS, window: 501 }],
      ['another timestamp', { seq: base + MSS, tsval: 1001 }],
      ['a CE mark (another TOS)', { seq: base + MSS, tos: 3 }],
      ['FIN', { seq: base + MSS, flags: TcpFlags.ACK | TcpFlags.FIN }],
      ['a gap in the sequence', { seq: base + 2 * MSS }],
      ['a larger segment than the first', { seq: base + MSS, data: MSS + 1 }],
      ['another flow', { seq: base + MSS, srcPort: 5202 }],
      ['no DF', { seq: base + MSS, df: false }],
    ];
    for (const [what, second] of cases) {
      const packets = [segment({ seq: base }), segment(second)];
      const out = coalesce(packets);
      expect(out.map((o) => o.offload), what).toEqual([undefined, undefined]);
      expect(out.map((o) => o.packet), what).toEqual(packets);
    }
    // A pure ACK and an IPv6 packet never start a run; SYN neither.
    const pureAck = segment({ seq: base, data: 0 });
    const ipv6 = Uint8Array.of(0x60, 0, 0, 0, 0, 0, 6, 64, ...new Uint8Array(32));
    const syn = segment({ seq: base, flags: TcpFlags.SYN | TcpFlags.ACK });
    expect(coalesce([pureAck, pureAck, ipv6, syn, syn]).map((o) => o.segments)).toEqual([1, 1, 1, 1, 1]);
  });

  it('PSH and a short segment close a super-packet; what follows starts the next', () => {
    const a = seqs(0, 2).map((s, i) => segment({ ...s, flags: i === 1 ? TcpFlags.ACK | TcpFlags.PSH : TcpFlags.ACK }));
    const b = seqs(2 * MSS, 2).map((s) => segment(s));
    const out = coalesce([...a, ...b]);
    expect(out.map((o) => o.segments)).toEqual([2, 2]);
    expect(out[0]!.packet[20 + 13]! & TcpFlags.PSH).toBe(TcpFlags.PSH);
    expect(out[1]!.packet[20 + 13]! & TcpFlags.PSH).toBe(0);
    const short = coalesce([segment({ seq: 0 }), segment({ seq: MSS, data: 500 }), segment({ seq: MSS + 500 })]);
    expect(short.map((o) => o.segments)).toEqual([2, 1]);
  });

  it(`stops at ${MAX_SEGMENTS} segments and at 65535 bytes`, () => {
    const small = coalesce(seqs(0, MAX_SEGMENTS + 3, 100).map(segment));
    expect(small.map((o) => o.segments)).toEqual([MAX_SEGMENTS, 3]);
    const big = coalesce(seqs(0, 50).map(segment));
    const first = Math.floor((65_535 - 52) / MSS);
    expect(big.map((o) => o.segments)).toEqual([first, 50 - first]);
    expect(big[0]!.packet.length).toBeLessThanOrEqual(65_535);
  });
});
