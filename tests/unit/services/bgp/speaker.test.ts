/**
 * Three tapnet routers in three ASes, over in-memory links and tapnet's own
 * TCP on port 179, on a manual clock:
 *
 *        R1 (AS 65001)
 *   .1 /           \ .1
 *  10.0.12.0/24   10.0.13.0/24
 *   .2 /           \ .3
 *  R2 (AS 65002) ── R3 (AS 65003)       10.0.23.0/24
 *  originates         originates
 *  10.2.0.0/16        10.3.0.0/16, 2001:db8:3::/48
 *
 * The decision process, the FIB, withdrawals after a session goes down,
 * local-pref from an import policy, max-prefix, route refresh, IPv6 via
 * MP_REACH_NLRI.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { formatIpv4, parseIpv4, parseIpv4Cidr } from '../../../../src/l3/ipv4/address.js';
import { parseIpv6, parseIpv6Cidr, formatIpv6 } from '../../../../src/l3/ipv6/address.js';
import { Router } from '../../../../src/node/router.js';
import { parsePrefixText } from '../../../../src/services/bgp/prefix.js';
import { BgpSpeaker, type NeighborConfig } from '../../../../src/services/bgp/speaker.js';

function lab(options: { r1Neighbors?: (n: NeighborConfig[]) => NeighborConfig[]; r2Networks?: string[] } = {}) {
  const base = createTestContext(3);
  const ctx = (): StackContext => {
    const stats = new Stats();
    return { ...base, stats, trace: new Tracer(silentLogger, stats) };
  };
  const [c1, c2, c3] = [ctx(), ctx(), ctx()];
  const r1 = new Router(c1);
  const r2 = new Router(c2);
  const r3 = new Router(c3);
  let mac = 0x020000000010;
  const connect = (ra: Router, a: string, a6: string, rb: Router, b: string, b6: string, name: string) => {
    const [da, db] = createLinkPair(base, {});
    ra.addInterface(da, { name: `${name}a`, mac: mac++, ipv4: [parseIpv4Cidr(a)!], ipv6: { addresses: [parseIpv6Cidr(a6)!], dadTransmits: 0 } });
    rb.addInterface(db, { name: `${name}b`, mac: mac++, ipv4: [parseIpv4Cidr(b)!], ipv6: { addresses: [parseIpv6Cidr(b6)!], dadTransmits: 0 } });
  };
  connect(r1, '10.0.12.1/24', 'fd12::1/64', r2, '10.0.12.2/24', 'fd12::2/64', 'l12');
  connect(r1, '10.0.13.1/24', 'fd13::1/64', r3, '10.0.13.3/24', 'fd13::3/64', 'l13');
  connect(r2, '10.0.23.2/24', 'fd23::2/64', r3, '10.0.23.3/24', 'fd23::3/64', 'l23');
  for (const r of [r1, r2, r3]) r.start();
  const id = (s: string) => parseIpv4(s)!;
  const n1: NeighborConfig[] = [
    { address: '10.0.12.2', as: 65002 },
    { address: '10.0.13.3', as: 65003, passive: true },
  ];
  const s1 = new BgpSpeaker(r1, { as: 65001, routerId: id('1.1.1.1'), neighbors: options.r1Neighbors ? options.r1Neighbors(n1) : n1, networks: [] });
  const s2 = new BgpSpeaker(r2, {
    as: 65002,
    routerId: id('2.2.2.2'),
    neighbors: [{ address: '10.0.12.1', as: 65001 }, { address: '10.0.23.3', as: 65003 }],
    networks: (options.r2Networks ?? ['10.2.0.0/16']).map((t) => parsePrefixText(t)!),
  });
  const s3 = new BgpSpeaker(r3, {
    as: 65003,
    routerId: id('3.3.3.3'),
    neighbors: [{ address: '10.0.13.1', as: 65001 }, { address: '10.0.23.2', as: 65002 }],
    networks: ['10.3.0.0/16', '2001:db8:3::/48'].map((t) => parsePrefixText(t)!),
  });
  /** Moves the shared clock in 10 ms steps, letting sockets' nextTick/immediate callbacks run. */
  const advance = async (ms: number) => {
    const end = base.clock.now() + ms;
    while (base.clock.now() < end) {
      base.timers.advanceTo(base.clock, Math.min(end, base.clock.now() + 10));
      await new Promise((r) => setImmediate(r));
    }
  };
  const route4 = (r: Router, dest: string) => {
    const rt = r.routes.lookup(parseIpv4(dest)!);
    return rt && rt.metric === 20 ? formatIpv4(rt.gateway!) : undefined;
  };
  const route6 = (r: Router, dest: string) => {
    const rt = r.ipv6.routes.lookup(parseIpv6(dest)!);
    return rt && rt.metric === 20 ? formatIpv6(rt.gateway!) : undefined;
  };
  const close = () => [s1, s2, s3].forEach((s) => s.close());
  return { r1, r2, r3, s1, s2, s3, c1, advance, route4, route6, close };
}

describe('BGP speaker over tapnet TCP', () => {
  it('establishes (active and passive), picks the shortest AS path, installs it, reroutes when a session goes down', async () => {
    const l = lab();
    await l.advance(3000);
    expect(l.s1.peers.map((p) => p.session.state)).toEqual(['Established', 'Established']);
    // 10.2/16: direct from R2 (path 65002) beats via R3 (65003 65002).
    expect(l.route4(l.r1, '10.2.1.1')).toBe('10.0.12.2');
    expect(l.s1.locRib.get('10.2.0.0/16')?.rule).toBe('as-path length');
    expect(l.route4(l.r1, '10.3.1.1')).toBe('10.0.13.3');
    // IPv6 over the IPv4 sessions (MP_REACH_NLRI), next hop R3's address on the shared link.
    expect(l.route6(l.r1, '2001:db8:3::1')).toBe('fd13::3');
    // R2 learned 10.3/16 from R3 directly and via R1: R1 prepended its AS and set itself as next hop.
    const viaR1 = l.s2.peer('10.0.12.1')!.adjRibIn.get('10.3.0.0/16')!;
    expect(viaR1.nextHop).toBe('10.0.12.1');
    expect(viaR1.attributes.asPath).toEqual([{ type: 2, asns: [65001, 65003] }]);
    expect(l.s1.show()).toMatch(/\*> 10\.2\.0\.0\/16 +10\.0\.12\.2 .* 65002 i +\(as-path length\)/);

    // R2 shuts its session to R1: R1 withdraws and reroutes through R3.
    l.s2.peer('10.0.12.1')!.session.stop();
    await l.advance(200);
    expect(l.s1.peer('10.0.12.2')!.session.state).not.toBe('Established');
    expect(l.route4(l.r1, '10.2.1.1')).toBe('10.0.13.3');
    expect(l.s1.locRib.get('10.2.0.0/16')?.best.attributes.asPath).toEqual([{ type: 2, asns: [65003, 65002] }]);
    // and back: R2 starts again, R1's ConnectRetry brings the session up, the short path returns.
    l.s2.peer('10.0.12.1')!.session.start();
    await l.advance(8000);
    expect(l.route4(l.r1, '10.2.1.1')).toBe('10.0.12.2');
    l.close();
  });

  it('local-pref from an import policy beats a shorter AS path; route refresh re-sends the table', async () => {
    const l = lab({ r1Neighbors: (n) => [n[0]!, { ...n[1]!, import: [{ set: { localPref: 200 } }] }] });
    await l.advance(3000);
    expect(l.route4(l.r1, '10.2.1.1')).toBe('10.0.13.3');
    expect(l.s1.locRib.get('10.2.0.0/16')?.rule).toBe('local-pref');
    const before = l.s2.peer('10.0.12.1')!.session.counts.outUpdates;
    expect(l.s1.refresh('10.0.12.2')).toBe(2); // ipv4 and ipv6
    await l.advance(100);
    expect(l.s2.peer('10.0.12.1')!.session.counts.outUpdates).toBeGreaterThan(before);
    expect(l.c1.stats.get('bgpInRouteRefreshes')).toBe(0); // R1 asked, R2 answered
    l.close();
  });

  it('max-prefix: a peer over the limit is closed with Cease / Maximum Number of Prefixes Reached, other sessions keep forwarding', async () => {
    const many = Array.from({ length: 30 }, (_, i) => `10.100.${i}.0/24`);
    const l = lab({ r1Neighbors: (n) => [{ ...n[0]!, maxPrefix: 20, connectRetry: 600 }, n[1]!], r2Networks: many });
    await l.advance(3000);
    expect(l.c1.stats.get('bgpMaxPrefixExceeded')).toBeGreaterThanOrEqual(1);
    expect(l.s1.peer('10.0.12.2')!.session.state).not.toBe('Established');
    expect(l.s2.peer('10.0.12.1')!.session.lastError).toMatch(/Maximum Number of Prefixes Reached/);
    expect(l.s1.peer('10.0.13.3')!.session.state).toBe('Established');
    expect(l.route4(l.r1, '10.3.1.1')).toBe('10.0.13.3');
    l.close();
  });
});
