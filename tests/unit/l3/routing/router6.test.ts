import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { parseIpv6, parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import { Router } from '../../../../src/node/router.js';
import { Host } from '../../../../src/node/host.js';

/** A (fd01::10) — router (fd01::1 | fd02::1) — B (fd02::10), IPv6 only, DAD off to keep the clock short. */
function rig() {
  const ctx = createTestContext(21);
  const own = (): StackContext => {
    const stats = new Stats();
    return { ...ctx, stats, trace: new Tracer(silentLogger, stats) };
  };
  const a = new Host(own());
  const b = new Host(own());
  const r = new Router(own());
  const [ad, r0] = createLinkPair(ctx);
  const [r1, bd] = createLinkPair(ctx);
  const v6 = (text: string) => ({ addresses: [parseIpv6Cidr(text)!], dadTransmits: 0 });
  const aIf = a.addInterface(ad, { name: 'a0', mac: 0x02_00_00_00_0a_00, ipv6: v6('fd01::10/64') });
  r.addInterface(r0, { name: 'r0', mac: 0x02_00_00_00_01_00, ipv6: v6('fd01::1/64') });
  r.addInterface(r1, { name: 'r1', mac: 0x02_00_00_00_01_01, ipv6: v6('fd02::1/64') });
  const bIf = b.addInterface(bd, { name: 'b0', mac: 0x02_00_00_00_0b_00, ipv6: v6('fd02::10/64') });
  a.ipv6.routes.add({ destination: parseIpv6Cidr('::/0')!, gateway: parseIpv6('fd01::1')!, value: a.ipv6.on(aIf)! });
  b.ipv6.routes.add({ destination: parseIpv6Cidr('::/0')!, gateway: parseIpv6('fd02::1')!, value: b.ipv6.on(bIf)! });
  for (const h of [a, b, r]) h.start();
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => ((done = true), (value = v)));
    for (let t = 0; t < 20_000 && !done; t++) {
      ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
      await Promise.resolve();
    }
    if (!done) throw new Error('did not settle');
    return value;
  };
  return { a, b, r, run };
}

describe('Router IPv6 forwarding (RFC 8200, via src/l3/ipv6/forward.ts)', () => {
  it('forwards between two IPv6 links when forwarding is on, and not when it is off', async () => {
    const t = rig();
    const B6 = parseIpv6('fd02::10')!;
    const on = await t.run(t.a.ipv6.ping(B6, { count: 2, intervalMs: 10, timeoutMs: 1000 }));
    expect(on.map((x) => x.rttMs !== undefined)).toEqual([true, true]);
    expect(t.r.ctx.stats.get('Ip6OutForwDatagrams')).toBe(4);
    t.r.forwarding = false;
    const off = await t.run(t.a.ipv6.ping(B6, { count: 1, timeoutMs: 1000 }));
    expect(off[0]!.rttMs).toBeUndefined();
    expect(t.r.ctx.stats.get('Ip6OutForwDatagrams')).toBe(4);
  });
});
