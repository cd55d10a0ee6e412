/**
 * Two tapnet hosts (10.0.0.1 and 10.0.0.2) on one in-memory link, sharing a
 * manual clock and timer queue but with their own counters. `run(p)` moves
 * the clock forward 1 ms at a time until the promise settles.
 */
import { createTestContext, type StackContext } from '../../src/core/context.js';
import { Stats } from '../../src/core/stats.js';
import { Tracer, silentLogger } from '../../src/core/trace.js';
import { createLinkPair } from '../../src/device/link.js';
import type { ImpairmentOptions } from '../../src/device/impairment.js';
import { parseIpv4 } from '../../src/l3/ipv4/address.js';
import { parseIpv6Cidr } from '../../src/l3/ipv6/address.js';
import type { Ipv6InterfaceConfig } from '../../src/node/ipv6.js';
import { Host } from '../../src/node/host.js';

export const A = parseIpv4('10.0.0.1')!;
export const B = parseIpv4('10.0.0.2')!;

/**
 * `ipv6: true` also gives the hosts fd00::1/64 and fd00::2/64 (no DAD) and
 * starts them, for tests that need both families.
 */
export function twoHosts(options: { mtu?: number; impairment?: ImpairmentOptions; seed?: number; ipv6?: boolean } = {}) {
  const ctxA = createTestContext(options.seed ?? 7);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB) };
  const [da, db] = createLinkPair(ctxA, { mtu: options.mtu, impairment: options.impairment });
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  const ipv6 = (text: string): { ipv6?: Ipv6InterfaceConfig } =>
    options.ipv6 ? { ipv6: { addresses: [parseIpv6Cidr(text)!], dadTransmits: 0 } } : {};
  a.addInterface(da, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: A, prefixLength: 24 }], ...ipv6('fd00::1/64') });
  b.addInterface(db, { name: 'b0', mac: 0x020000000002, ipv4: [{ address: B, prefixLength: 24 }], ...ipv6('fd00::2/64') });
  if (options.ipv6) {
    a.start();
    b.start();
  }
  const run = async <T>(p: Promise<T>, ms = 10_000): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => {
      done = true;
      value = v;
    });
    for (let t = 0; t < ms && !done; t += 1) {
      ctxA.timers.advanceTo(ctxA.clock, ctxA.clock.now() + 1);
      await Promise.resolve();
    }
    await Promise.resolve();
    if (!done) throw new Error('promise did not settle');
    return value;
  };
  /** Lets queued frames and timers due now run, without moving the clock. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      ctxA.timers.run();
      await Promise.resolve();
    }
  };
  return { a, b, ctxA, ctxB, run, settle };
}

