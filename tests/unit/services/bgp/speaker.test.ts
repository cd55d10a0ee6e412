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
import { fromHex } from '../../../../src/core/bytes.js';
import { ManualClock } from '../../../../src/core/time.js';
import { UpdateSubcode } from '../../../../src/services/bgp/errors.js';
import { DEFAULT_MRAI_IBGP_S, MraiPacer } from '../../../../src/services/bgp/mrai.js';
import { parseUpdate } from '../../../../src/services/bgp/update.js';

function lab(options: { r1Neighbors?: (n: NeighborConfig[]) => NeighborConfig[]; r2Networks?: string[]; r1Mrai?: number } = {}) {
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
  const s1 = new BgpSpeaker(r1, { as: 65001, routerId: id('1.1.1.1'), mrai: options.r1Mrai, neighbors: options.r1Neighbors ? options.r1Neighbors(n1) : n1, networks: [] });
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
    // RFC 4486 §4 data: AFI 1 (IPv4), SAFI 1, the limit (20) in 4 octets.
    expect(l.s2.peer('10.0.12.1')!.session.lastError).toMatch(/Cease \/ Maximum Number of Prefixes Reached \(data 00010100000014\)/);
    expect(l.s1.peer('10.0.13.3')!.session.state).toBe('Established');
    expect(l.route4(l.r1, '10.3.1.1')).toBe('10.0.13.3');
    // Adj-RIB-In held at most limit + 1 routes, and nothing of that peer is left.
    expect(l.s1.peer('10.0.12.2')!.adjRibIn.size).toBe(0);
    expect(l.s1.locRib.get('10.100.0.0/24')?.best.peer?.address).toBe('10.0.13.3'); // only R3's copy is left
    // It stays down: R2 keeps retrying (ConnectRetry), R1 does not start the session again.
    await l.advance(30_000);
    expect(l.s1.peer('10.0.12.2')!.session.state).toBe('Idle');
    expect(l.c1.stats.get('bgpMaxPrefixExceeded')).toBe(1);
    l.close();
  });

  it('max-prefix with maxPrefixRestart: the session comes back after that many seconds (and is closed again)', async () => {
    const many = Array.from({ length: 30 }, (_, i) => `10.100.${i}.0/24`);
    const l = lab({ r1Neighbors: (n) => [{ ...n[0]!, maxPrefix: 20, maxPrefixRestart: 10 }, n[1]!], r2Networks: many });
    await l.advance(3000);
    expect(l.c1.stats.get('bgpMaxPrefixExceeded')).toBe(1);
    await l.advance(5000);
    expect(l.c1.stats.get('bgpMaxPrefixExceeded')).toBe(1); // still waiting
    await l.advance(8000);
    expect(l.c1.stats.get('bgpMaxPrefixExceeded')).toBe(2); // restarted after 10 s, flooded again
    l.close();
  });

  it('RFC 7606: an UPDATE with a broken NEXT_HOP withdraws the prefix it advertises (the session stays)', async () => {
    const l = lab({ r1Neighbors: (n) => n.map((x) => ({ ...x, mrai: 0 })) });
    await l.advance(3000);
    expect(l.route4(l.r1, '10.2.1.1')).toBe('10.0.12.2');
    // From R2: 10.2.0.0/16 again, ORIGIN IGP, AS_PATH 65002, NEXT_HOP of 5 bytes.
    const body = fromHex('0000 0015 400101 00 400206 0201 0000fdea 400305 0a00000200 10 0a02');
    const parsed = parseUpdate(body, 4);
    expect(parsed.ok && parsed.value.treatAsWithdraw?.subcode).toBe(UpdateSubcode.invalidNextHopAttribute);
    const peer = l.s1.peer('10.0.12.2')!;
    if (parsed.ok) l.s1.update(peer.session, parsed.value);
    expect(peer.adjRibIn.has('10.2.0.0/16')).toBe(false);
    expect(l.route4(l.r1, '10.2.1.1')).toBe('10.0.13.3'); // the other path, through R3
    expect(peer.session.state).toBe('Established');
    l.close();
  });
});

describe('MRAI (RFC 4271 §9.2.1.1) on the injected clock', () => {
  /** What R3 heard from R1 about 10.2.0.0/16: R1 learnt it from R2 and passed it on. */
  const fromR1 = (l: ReturnType<typeof lab>) => l.s3.peer('10.0.13.1')!.adjRibIn.get('10.2.0.0/16');

  it('a withdrawal right after an advertisement waits for the interval (30 s eBGP default, jittered to 22.5-30 s)', async () => {
    const l = lab();
    await l.advance(3000);
    expect(l.s1.peer('10.0.13.3')!.mrai.intervalMs).toBe(30_000);
    expect(fromR1(l)?.attributes.asPath).toEqual([{ type: 2, asns: [65001, 65002] }]); // the first advertisement went at once
    l.s2.peer('10.0.12.1')!.session.stop(); // R1 loses its route from R2: 10.2/16 is to be withdrawn from R3
    await l.advance(15_000);
    expect(fromR1(l)).toBeDefined(); // held: sent less than 22.5 s ago
    expect(l.s1.peer('10.0.13.3')!.mrai.heldCount).toBe(1);
    await l.advance(15_000);
    expect(fromR1(l)).toBeUndefined(); // at most 30 s after the advertisement
    l.close();
  });

  it('a change that is undone within the interval is never sent: the last route selected is what goes out', async () => {
    const l = lab({ r1Neighbors: (n) => n.map((x) => ({ ...x, connectRetry: 1 })) });
    await l.advance(3000);
    const updates = () => l.s3.peer('10.0.13.1')!.session.counts.inUpdates;
    const before = updates();
    l.s2.peer('10.0.12.1')!.session.stop();
    await l.advance(500);
    l.s2.peer('10.0.12.1')!.session.start(); // R2 comes back; R1's best for 10.2/16 is R2's again
    await l.advance(40_000);
    expect(l.s1.peer('10.0.12.2')!.session.state).toBe('Established');
    expect(fromR1(l)?.attributes.asPath).toEqual([{ type: 2, asns: [65001, 65002] }]);
    // R3 heard nothing about 10.2/16 in between (other prefixes, e.g. R2's session's own, may have moved).
    expect(l.s1.peer('10.0.13.3')!.mrai.heldCount).toBe(0);
    expect(updates() - before).toBe(0);
    l.close();
  });

  it('mrai in the bgp: block is the default for neighbours that set none; a neighbour\'s own mrai wins', () => {
    const l = lab({ r1Mrai: 0, r1Neighbors: (n) => [n[0]!, { ...n[1]!, mrai: 7 }] });
    expect(l.s1.peer('10.0.12.2')!.mrai.intervalMs).toBe(0);
    expect(l.s1.peer('10.0.13.3')!.mrai.intervalMs).toBe(7000);
  });

  it('mrai: 0 sends every change at once', async () => {
    const l = lab({ r1Neighbors: (n) => n.map((x) => ({ ...x, mrai: 0 })) });
    await l.advance(3000);
    l.s2.peer('10.0.12.1')!.session.stop();
    await l.advance(200);
    expect(fromR1(l)).toBeUndefined();
    l.close();
  });

  it('the jitter: intervals uniformly in [0.75, 1.0] × the configured value (RFC 4271 §10); iBGP default 5 s', () => {
    const ctx = createTestContext(9);
    const pacer = new MraiPacer(ctx, 30_000, () => {});
    const draws = Array.from({ length: 1000 }, () => pacer.startInterval());
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(22_500);
    expect(Math.max(...draws)).toBeLessThanOrEqual(30_000);
    expect(Math.min(...draws)).toBeLessThan(23_000);
    expect(Math.max(...draws)).toBeGreaterThan(29_500);
    expect(DEFAULT_MRAI_IBGP_S).toBe(5);
    // Per destination: a key sent at t=0 is held until its own time, another goes at once.
    const released: string[][] = [];
    const p = new MraiPacer(ctx, 10_000, (k) => released.push(k));
    const t0 = ctx.clock.now();
    expect(p.admit('a', t0)).toBe(true);
    p.sent('a', t0, 10_000);
    expect(p.admit('a', t0 + 1000)).toBe(false);
    expect(p.admit('b', t0 + 1000)).toBe(true);
    p.schedule();
    ctx.timers.advanceTo(ctx.clock as ManualClock, t0 + 9_999);
    expect(released).toEqual([]);
    ctx.timers.advanceTo(ctx.clock as ManualClock, t0 + 10_000);
    expect(released).toEqual([['a']]);
  });
});
