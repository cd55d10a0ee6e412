/**
 * The UDP test header and the receiver's accounting: loss, out-of-order and
 * RFC 1889 jitter exactly as iperf_udp_recv computes them.
 */
import { describe, expect, it } from 'vitest';
import { UdpReceiveAccount, emitUdpTestHeader, parseUdpTestHeader } from '../../../../src/services/iperf3/udp-stream.js';

describe('UDP test header', () => {
  it('reads sec, usec and a 32-bit count, big-endian', () => {
    // sec 0x65432100, usec 123456 (0x0001e240), count 7
    const d = Buffer.from('65432100' + '0001e240' + '00000007' + 'a5a5a5a5', 'hex');
    expect(parseUdpTestHeader(d, false)).toEqual({ sec: 0x65432100, usec: 123456, count: 7 });
  });

  it('reads a 64-bit count with udp_counters_64bit', () => {
    const d = Buffer.from('00000001' + '00000002' + '0000000100000003', 'hex');
    expect(parseUdpTestHeader(d, true)).toEqual({ sec: 1, usec: 2, count: 2 ** 32 + 3 });
    expect(parseUdpTestHeader(d.subarray(0, 15), true)).toBeUndefined();
    expect(parseUdpTestHeader(d.subarray(0, 11), false)).toBeUndefined();
  });

  it('emits at a non-zero offset without touching the payload', () => {
    const buf = Buffer.alloc(24, 0xa5);
    const n = emitUdpTestHeader({ sec: 10, usec: 999_999, count: 258 }, buf.subarray(4), false);
    expect(n).toBe(12);
    expect(buf.toString('hex')).toBe('a5a5a5a5' + '0000000a' + '000f423f' + '00000102' + 'a5a5a5a5a5a5a5a5');
    const b64 = Buffer.alloc(16);
    emitUdpTestHeader({ sec: 1, usec: 0, count: 5 }, b64, true);
    expect(b64.toString('hex')).toBe('00000001' + '00000000' + '0000000000000005');
  });
});

describe('UdpReceiveAccount (iperf_udp_recv)', () => {
  const at = (count: number, sentSeconds: number) => ({ sec: Math.floor(sentSeconds), usec: Math.round((sentSeconds % 1) * 1e6), count });

  it('counts a gap as lost and a late datagram as out of order, taking one loss back', () => {
    const a = new UdpReceiveAccount();
    for (const c of [1, 2, 5, 3, 6]) a.receive(at(c, 100), 100);
    expect([a.packetCount, a.errors, a.outOfOrder]).toEqual([6, 1, 1]); // 3 and 4 missing, then 3 came late
  });

  it('smooths the transit-time difference by 1/16 (RFC 1889 A.8)', () => {
    const a = new UdpReceiveAccount();
    a.receive(at(1, 0), 0.010); // transit 10 ms: the first sets the reference, D = 0
    expect(a.jitter).toBe(0);
    a.receive(at(2, 0.1), 0.114); // transit 14 ms: D = 4 ms, jitter = 4/16 ms
    expect(a.jitter).toBeCloseTo(0.004 / 16, 9);
    a.receive(at(3, 0.2), 0.210); // transit 10 ms: D = 4 ms, jitter += (4 - 0.25)/16 ms
    expect(a.jitter).toBeCloseTo(0.004 / 16 + (0.004 - 0.004 / 16) / 16, 9);
  });

  it('ignores clock offsets between the two ends (only differences count)', () => {
    const a = new UdpReceiveAccount();
    for (let i = 1; i <= 10; i++) a.receive(at(i, 1_700_000_000 + i * 0.01), 5 + i * 0.01);
    expect(a.jitter).toBeLessThan(1e-6);
  });
});
