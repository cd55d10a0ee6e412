/**
 * RFC 6437 flow labels on originated IPv6 packets: one stable, non-zero label
 * per flow, different flows spread over the 20 bits, a secret per run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../src/core/time.js';
import { parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import { FlowLabeler } from '../../../../src/l3/ipv6/flow-label.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import { twoHosts } from '../../two-hosts.js';

const S = parseIpv6('fd00::1')!;
const D = parseIpv6('fd00::2')!;
const ports = (s: number, d: number): Uint8Array => Uint8Array.of(s >> 8, s & 0xff, d >> 8, d & 0xff, 0, 0, 0, 0);

describe('FlowLabeler', () => {
  it('gives one flow one label, and other ports another', () => {
    const f = new FlowLabeler(seededRandom(1));
    const a = f.labelFor(S, D, IpProtocol.TCP, ports(40000, 80));
    expect(f.labelFor(S, D, IpProtocol.TCP, ports(40000, 80))).toBe(a);
    expect(f.labelFor(S, D, IpProtocol.TCP, ports(40001, 80))).not.toBe(a);
    expect(f.labelFor(D, S, IpProtocol.TCP, ports(80, 40000))).not.toBe(a);
  });

  it('is never 0 and fits 20 bits, and 1000 flows get (nearly) 1000 labels', () => {
    const f = new FlowLabeler(seededRandom(2));
    const labels = new Set<number>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (s, d) => {
        const l = f.labelFor(S, D, IpProtocol.UDP, ports(s, d));
        expect(l).toBeGreaterThan(0);
        expect(l).toBeLessThanOrEqual(0xfffff);
      }),
    );
    for (let p = 0; p < 1000; p++) labels.add(f.labelFor(S, D, IpProtocol.UDP, ports(30000 + p, 53)));
    expect(labels.size).toBeGreaterThan(995);
  });

  it('depends on a per-run secret', () => {
    const a = new FlowLabeler(seededRandom(3)).labelFor(S, D, IpProtocol.UDP, ports(1, 2));
    const b = new FlowLabeler(seededRandom(4)).labelFor(S, D, IpProtocol.UDP, ports(1, 2));
    expect(a).not.toBe(b);
  });
});

describe('IPv6 output labels what it sends', () => {
  it('an echo reply leaves with a non-zero flow label', async () => {
    const { b, run } = twoHosts({ ipv6: true });
    await run(b.ipv6.ping(parseIpv6('fd00::1')!, { count: 1 })); // NDP resolved both ways
    const labels: number[] = [];
    b.ipv6In.register(IpProtocol.ICMPv6, (d) => {
      if (d.payload[0] === 129) labels.push(d.flowLabel);
      return 'delivered';
    });
    await run(b.ipv6.ping(parseIpv6('fd00::1')!, { count: 1, timeoutMs: 500 }));
    expect(labels).toHaveLength(1);
    expect(labels[0]).toBeGreaterThan(0);
  });
});
