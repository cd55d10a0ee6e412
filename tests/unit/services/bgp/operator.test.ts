/**
 * `tapnet bgp refresh|reset` (src/services/bgp/operator.ts) between two
 * tapnet routers over an in-memory link and tapnet's TCP, on a manual clock.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { parseIpv4, parseIpv4Cidr } from '../../../../src/l3/ipv4/address.js';
import { Router } from '../../../../src/node/router.js';
import { refreshIn, refreshOut, resetSessions } from '../../../../src/services/bgp/operator.js';
import { parsePrefixText } from '../../../../src/services/bgp/prefix.js';
import { BgpSpeaker } from '../../../../src/services/bgp/speaker.js';

function pair() {
  const base = createTestContext(7);
  const ctx = (): StackContext => {
    const stats = new Stats();
    return { ...base, stats, trace: new Tracer(silentLogger, stats) };
  };
  const [c1, c2] = [ctx(), ctx()];
  const r1 = new Router(c1);
  const r2 = new Router(c2);
  const [d1, d2] = createLinkPair(base, {});
  r1.addInterface(d1, { name: 'eth0', mac: 0x020000000001, ipv4: [parseIpv4Cidr('10.0.12.1/24')!] });
  r2.addInterface(d2, { name: 'eth0', mac: 0x020000000002, ipv4: [parseIpv4Cidr('10.0.12.2/24')!] });
  r1.start();
  r2.start();
  const s1 = new BgpSpeaker(r1, { as: 65001, routerId: parseIpv4('1.1.1.1')!, neighbors: [{ address: '10.0.12.2', as: 65002, families: ['ipv4'] }], networks: [] });
  const s2 = new BgpSpeaker(r2, {
    as: 65002,
    routerId: parseIpv4('2.2.2.2')!,
    neighbors: [{ address: '10.0.12.1', as: 65001, families: ['ipv4'], connectRetry: 2 }],
    networks: [parsePrefixText('10.2.0.0/16')!],
  });
  const advance = async (ms: number) => {
    const end = base.clock.now() + ms;
    while (base.clock.now() < end) {
      base.timers.advanceTo(base.clock, Math.min(end, base.clock.now() + 10));
      await new Promise((r) => setImmediate(r));
    }
  };
  return { s1, s2, c1, c2, advance, close: () => [s1, s2].forEach((s) => s.close()) };
}

describe('operator commands: soft refresh and administrative reset', () => {
  it('refresh sends ROUTE-REFRESH (RFC 2918), the peer re-sends its routes and they pass import again; refresh --out re-sends ours', async () => {
    const l = pair();
    await l.advance(3000);
    expect(l.s1.peer('10.0.12.2')!.session.state).toBe('Established');
    const updatesBefore = l.c1.stats.get('bgpInUpdates');
    expect(refreshIn(l.s1, '10.0.12.2')).toEqual(['10.0.12.2: ROUTE-REFRESH sent for ipv4']);
    await l.advance(100);
    expect(l.c2.stats.get('bgpInRouteRefreshes')).toBe(1);
    expect(l.c1.stats.get('bgpInUpdates')).toBeGreaterThan(updatesBefore); // 10.2/16 again
    expect(l.s1.locRib.get('10.2.0.0/16')?.best.peer?.address).toBe('10.0.12.2');

    const outBefore = l.s2.peer('10.0.12.1')!.session.counts.outUpdates;
    expect(refreshOut(l.s2)).toEqual(['10.0.12.1: routes re-sent for ipv4']);
    await l.advance(100);
    expect(l.s2.peer('10.0.12.1')!.session.counts.outUpdates).toBeGreaterThan(outBefore);
    expect(l.c1.stats.get('bgpInRouteRefreshes')).toBe(0); // --out asks nothing of the peer
    expect(() => refreshIn(l.s1, '10.9.9.9')).toThrow(/10\.9\.9\.9 is not a neighbor of this router \(neighbors: 10\.0\.12\.2\)/);
    l.close();
  });

  it('reset sends Cease / Administrative Reset (RFC 4486 subcode 4): the routes go, the session comes back after ConnectRetry', async () => {
    const l = pair();
    await l.advance(3000);
    expect(resetSessions(l.s2, '10.0.12.1')).toEqual(['10.0.12.1: NOTIFICATION Cease / Administrative Reset sent; reconnecting in 2 s']);
    await l.advance(50);
    const peer = l.s1.peer('10.0.12.2')!;
    expect(peer.session.lastError).toMatch(/received NOTIFICATION Cease \/ Administrative Reset/);
    expect(l.s1.locRib.has('10.2.0.0/16')).toBe(false);
    expect(resetSessions(l.s2)).toEqual([expect.stringMatching(/^10\.0\.12\.1: not reset: no connection \(the session is (Idle|Connect)\)$/)]);
    await l.advance(8000);
    expect(peer.session.state).toBe('Established');
    expect(peer.session.counts.establishedTransitions).toBe(2);
    expect(l.s1.locRib.get('10.2.0.0/16')?.best.peer?.address).toBe('10.0.12.2');
    l.close();
  });
});
