/**
 * Host A (10.1.0.10) — router R (10.1.0.1 | 10.2.0.1) — host B (10.2.0.10), on
 * two in-memory links, with one manual clock and separate counters.
 * B records every datagram of protocol 253 (RFC 3692 experimental) it gets;
 * A records the ICMP errors it gets.
 */
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import type { IcmpErrorEvent } from '../../../../src/l3/icmpv4/icmpv4.js';
import { Router, type RouterOptions } from '../../../../src/node/router.js';
import { Host } from '../../../../src/node/host.js';

export const ip = (text: string): number => parseIpv4(text)!;
export const A = ip('10.1.0.10');
export const R1 = ip('10.1.0.1');
export const R2 = ip('10.2.0.1');
export const B = ip('10.2.0.10');
export const TEST_PROTOCOL = 253;

export function routerRig(options: { mtuB?: number; router?: RouterOptions } = {}) {
  const ctx = createTestContext(11);
  const own = (): StackContext => {
    const stats = new Stats();
    return { ...ctx, stats, trace: new Tracer(silentLogger, stats) };
  };
  const a = new Host(own());
  const b = new Host(own());
  const r = new Router(own(), options.router);
  const [aDev, r0Dev] = createLinkPair(ctx, { nameA: 'a0', nameB: 'r0' });
  const [r1Dev, bDev] = createLinkPair(ctx, { nameA: 'r1', nameB: 'b0', mtu: options.mtuB });
  const aIf = a.addInterface(aDev, { name: 'a0', mac: 0x02_00_00_00_0a_00, ipv4: [{ address: A, prefixLength: 24 }] });
  const r0 = r.addInterface(r0Dev, { name: 'r0', mac: 0x02_00_00_00_01_00, ipv4: [{ address: R1, prefixLength: 24 }] });
  const r1 = r.addInterface(r1Dev, { name: 'r1', mac: 0x02_00_00_00_01_01, ipv4: [{ address: R2, prefixLength: 24 }] });
  const bIf = b.addInterface(bDev, { name: 'b0', mac: 0x02_00_00_00_0b_00, ipv4: [{ address: B, prefixLength: 24 }] });
  const defaultRoute = { address: 0, prefixLength: 0 };
  a.routes.add({ destination: defaultRoute, gateway: R1, value: aIf });
  b.routes.add({ destination: defaultRoute, gateway: R2, value: bIf });

  const atB: { source: number; ttl: number; packet: Uint8Array }[] = [];
  b.registerProtocol(TEST_PROTOCOL, (d) => {
    atB.push({ source: d.source, ttl: d.ttl, packet: d.packet.slice() });
    return 'delivered';
  });
  const errorsAtA: IcmpErrorEvent[] = [];
  a.icmp.onError = (e) => errorsAtA.push({ ...e, original: e.original.slice() });

  /** Lets frames in flight and timers due within `ms` run. */
  const advance = (ms = 5): void => {
    for (let i = 0; i < ms; i++) ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
  };
  const run = async <T>(p: Promise<T>, ms = 10_000): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => ((done = true), (value = v)));
    for (let t = 0; t < ms && !done; t++) {
      ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
      await Promise.resolve();
    }
    if (!done) throw new Error('promise did not settle');
    return value;
  };
  /** Sends one test datagram from A; resolves ARP on the way. */
  const sendFromA = (options: { destination?: number; ttl?: number; dontFragment?: boolean; source?: number; size?: number } = {}): void => {
    a.ipv4Out.send(
      { destination: options.destination ?? B, protocol: TEST_PROTOCOL, ttl: options.ttl, dontFragment: options.dontFragment, source: options.source },
      new Uint8Array(options.size ?? 32).fill(0x5a),
    );
    advance(20);
  };
  return { ctx, a, b, r, r0, r1, aIf, bIf, aDev, atB, errorsAtA, advance, run, sendFromA };
}
