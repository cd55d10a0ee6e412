/**
 * iBGP and route reflection (RFC 4271 §9.1.3, RFC 4456) between three tapnet
 * routers in one AS over tapnet TCP: R1 in the middle, R2 and R3 at the ends.
 * Without reflection R3 never hears R2's route (iBGP-learned routes are not
 * passed to iBGP peers); with R1 reflecting for its clients it does, with
 * ORIGINATOR_ID and CLUSTER_LIST, and the next hop left alone.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { parseIpv4, parseIpv4Cidr } from '../../../../src/l3/ipv4/address.js';
import { Router } from '../../../../src/node/router.js';
import { parsePrefixText } from '../../../../src/services/bgp/prefix.js';
import { BgpSpeaker } from '../../../../src/services/bgp/speaker.js';

async function line(reflect: boolean) {
  const base = createTestContext(5);
  const ctx = (): StackContext => {
    const stats = new Stats();
    return { ...base, stats, trace: new Tracer(silentLogger, stats) };
  };
  const [r1, r2, r3] = [new Router(ctx()), new Router(ctx()), new Router(ctx())];
  let mac = 0x020000000100;
  const link = (ra: Router, a: string, rb: Router, b: string) => {
    const [da, db] = createLinkPair(base, {});
    ra.addInterface(da, { name: `e${mac}`, mac: mac++, ipv4: [parseIpv4Cidr(a)!] });
    rb.addInterface(db, { name: `e${mac}`, mac: mac++, ipv4: [parseIpv4Cidr(b)!] });
  };
  link(r1, '10.0.12.1/24', r2, '10.0.12.2/24');
  link(r1, '10.0.13.1/24', r3, '10.0.13.3/24');
  r3.addRoute({ destination: parseIpv4Cidr('10.0.12.0/24')!, gateway: parseIpv4('10.0.13.1')! }); // the "IGP"
  const s1 = new BgpSpeaker(r1, {
    as: 65001,
    routerId: parseIpv4('1.1.1.1')!,
    neighbors: [
      { address: '10.0.12.2', as: 65001, routeReflectorClient: reflect },
      { address: '10.0.13.3', as: 65001, routeReflectorClient: reflect },
    ],
    networks: [],
  });
  const s2 = new BgpSpeaker(r2, { as: 65001, routerId: parseIpv4('2.2.2.2')!, neighbors: [{ address: '10.0.12.1', as: 65001 }], networks: [parsePrefixText('10.2.0.0/16')!] });
  const s3 = new BgpSpeaker(r3, { as: 65001, routerId: parseIpv4('3.3.3.3')!, neighbors: [{ address: '10.0.13.1', as: 65001 }], networks: [] });
  const end = base.clock.now() + 3000;
  while (base.clock.now() < end) {
    base.timers.advanceTo(base.clock, base.clock.now() + 10);
    await new Promise((r) => setImmediate(r));
  }
  const close = () => [s1, s2, s3].forEach((s) => s.close());
  return { r3, s1, s3, close };
}

describe('iBGP', () => {
  it('without route reflection, an iBGP-learned route is not passed to another iBGP peer', async () => {
    const l = await line(false);
    expect(l.s1.locRib.get('10.2.0.0/16')?.best.nextHop).toBe('10.0.12.2'); // R2 sent next hop self
    expect(l.s1.locRib.get('10.2.0.0/16')?.best.attributes.localPref).toBe(100);
    expect(l.s3.locRib.has('10.2.0.0/16')).toBe(false);
    l.close();
  });

  it('a route reflector passes a client route to its other clients with ORIGINATOR_ID and CLUSTER_LIST', async () => {
    const l = await line(true);
    const r = l.s3.locRib.get('10.2.0.0/16')?.best;
    expect(r?.nextHop).toBe('10.0.12.2'); // RFC 4456 §10: the reflector does not change the next hop
    expect(r?.attributes.originatorId).toBe(parseIpv4('2.2.2.2'));
    expect(r?.attributes.clusterList).toEqual([parseIpv4('1.1.1.1')]);
    expect(r?.attributes.asPath).toEqual([]); // iBGP: no AS prepended
    // Installed through the static route to the next hop's network.
    const fib = l.r3.routes.lookup(parseIpv4('10.2.3.4')!);
    expect(fib?.metric).toBe(20);
    expect(fib?.gateway).toBe(parseIpv4('10.0.13.1'));
    l.close();
  });
});
