/**
 * A tapnet router between two tapnet hosts, IPv6 only: SLAAC on both links,
 * forwarding with hop limit, Time Exceeded, Packet Too Big and path MTU, no route.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import { Ipv6Forwarder } from '../../../../src/l3/ipv6/forward.js';
import { emitIcmpv6 } from '../../../../src/l3/icmpv6/message.js';
import { Host } from '../../../../src/node/host.js';

const H1 = parseIpv6('fd77::ff:fe00:a1')!; // SLAAC from 02:00:00:00:00:a1
const H2 = parseIpv6('fd78::ff:fe00:b2')!;

function network() {
  const ctx = createTestContext(21);
  const own = (): StackContext => {
    const stats = new Stats();
    return { ...ctx, stats, trace: new Tracer(silentLogger, stats) };
  };
  const [l1h, l1r] = createLinkPair(ctx);
  const [l2r, l2h] = createLinkPair(ctx, { mtu: 1280 });
  const h1 = new Host(own());
  const r = new Host(own());
  const h2 = new Host(own());
  h1.addInterface(l1h, { name: 'h1', mac: 0x0200000000a1, ipv6: { acceptRouterAdvertisements: true } });
  h2.addInterface(l2h, { name: 'h2', mac: 0x0200000000b2, ipv6: { acceptRouterAdvertisements: true } });
  r.addInterface(l1r, { name: 'r1', mac: 0x020000000001, ipv6: { addresses: [{ address: parseIpv6('fd77::1')!, prefixLength: 64 }], router: {} } });
  r.addInterface(l2r, { name: 'r2', mac: 0x020000000002, ipv6: { addresses: [{ address: parseIpv6('fd78::1')!, prefixLength: 64 }], router: {} } });
  const forwarder = new Ipv6Forwarder({
    ctx: r.ctx,
    route: (d) => r.ipv6Out.route(d),
    sendError: (p, e, c) => r.icmp6.sendError(p, e, c),
  });
  r.ipv6.inputHooks.forward = (p, link, m) => forwarder.forward(p, link, m);
  for (const h of [h1, r, h2]) h.start();
  const advance = (ms: number): void => ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + ms);
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => ((done = true), (value = v)));
    for (let t = 0; t < 20_000 && !done; t++) {
      advance(1);
      await Promise.resolve();
    }
    await Promise.resolve();
    if (!done) throw new Error('promise did not settle');
    return value;
  };
  advance(3000);
  return { h1, r, h2, advance, run };
}

const received = (replies: { rttMs: number | undefined }[]): number => replies.filter((x) => x.rttMs !== undefined).length;

describe('IPv6 forwarding (RFC 8200 §3, RFC 4443 §3)', () => {
  it('hosts on both links autoconfigure and ping each other through the router', async () => {
    const { h1, r, run } = network();
    const replies = await run(h1.ipv6.ping(H2, { count: 2, intervalMs: 100 }));
    expect(received(replies)).toBe(2);
    expect(r.ctx.stats.get('Ip6OutForwDatagrams')).toBe(4);
  });

  it('hop limit 1: the router answers Time Exceeded (traceroute\'s first hop)', () => {
    const { h1, r, advance } = network();
    const errors: string[] = [];
    h1.icmp6.onError = (e) => errors.push(`${e.type}/${e.code}`);
    const buf = new Uint8Array(16);
    const n = emitIcmpv6({ kind: 'echo', type: 128, identifier: 1, sequence: 1, data: new Uint8Array(8) }, buf, 0, H1, H2);
    expect(h1.ipv6Out.send({ destination: H2, nextHeader: 58, hopLimit: 1 }, buf.subarray(0, n))).toBe('sent');
    advance(50);
    expect(r.ctx.stats.get('ip6InHopLimitExceeded')).toBe(1);
    expect(errors).toEqual(['3/0']);
  });

  it('too big for the 1280-byte link: Packet Too Big, then the source fragments to the path MTU', async () => {
    const { h1, r, h2, run } = network();
    const replies = await run(h1.ipv6.ping(H2, { count: 2, intervalMs: 500, size: 1400 }));
    expect(replies.map((x) => x.rttMs !== undefined)).toEqual([false, true]);
    expect(r.ctx.stats.get('Ip6InTooBigErrors')).toBe(1);
    expect(r.ctx.stats.get('Icmp6OutPktTooBigs')).toBe(1);
    expect(h1.ipv6Out.pathMtu.lookup(H2)).toBe(1280);
    expect(h2.ctx.stats.get('Ip6ReasmOKs')).toBe(1);
  });

  it('no route: Destination Unreachable code 0', () => {
    const { h1, r, advance } = network();
    const errors: string[] = [];
    h1.icmp6.onError = (e) => errors.push(`${e.type}/${e.code}`);
    h1.ipv6Out.send({ destination: parseIpv6('fd79::1')!, nextHeader: 59 }, new Uint8Array(0));
    advance(50);
    expect(r.ctx.stats.get('Ip6InNoRoutes')).toBe(1);
    expect(errors).toEqual(['1/0']);
  });
});
