/**
 * Two tapnet hosts over an in-memory link, on a manual clock: ARP
 * resolution, ping, fragmentation both ways, ICMP errors, loss.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../src/core/context.js';
import { Stats } from '../../src/core/stats.js';
import { Tracer, silentLogger } from '../../src/core/trace.js';
import { createLinkPair } from '../../src/device/link.js';
import type { ImpairmentOptions } from '../../src/device/impairment.js';
import { parseIpv4 } from '../../src/l3/ipv4/address.js';
import { Host, type PingReply } from '../../src/stack.js';

const A = parseIpv4('10.0.0.1')!;
const B = parseIpv4('10.0.0.2')!;

function pair(options: { mtu?: number; impairment?: ImpairmentOptions } = {}) {
  const ctxA = createTestContext(7);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB) };
  const [da, db] = createLinkPair(ctxA, { mtu: options.mtu, impairment: options.impairment });
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  a.addInterface(da, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: A, prefixLength: 24 }] });
  b.addInterface(db, { name: 'b0', mac: 0x020000000002, ipv4: [{ address: B, prefixLength: 24 }] });
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
  return { a, b, ctxA, ctxB, run };
}

const received = (replies: PingReply[]): number => replies.filter((r) => r.rttMs !== undefined).length;

describe('two hosts on one link', () => {
  it('resolve each other with ARP and ping', async () => {
    const { a, b, run } = pair();
    const replies = await run(a.ping(B, { count: 3, intervalMs: 100 }));
    expect(received(replies)).toBe(3);
    expect(a.interfaces[0]!.arp.entries().some((e) => e.address === B && e.mac === 0x020000000002)).toBe(true);
    // B learned A from A's request (RFC 826: the target updates/creates the sender's entry).
    expect(b.interfaces[0]!.arp.entries().some((e) => e.address === A)).toBe(true);
    expect(b.ctx.stats.get('icmpOutEchoReps')).toBe(3);
  });

  it('fragment a 4000-byte ping on the way out and reassemble the reply', async () => {
    const { a, b, run } = pair();
    const replies = await run(a.ping(B, { count: 1, size: 4000 }));
    expect(received(replies)).toBe(1);
    expect(a.ctx.stats.get('ipFragCreates')).toBe(3);
    expect(b.ctx.stats.get('ipReasmOKs')).toBe(1);
    expect(b.ctx.stats.get('ipFragCreates')).toBe(3);
    expect(a.ctx.stats.get('ipReasmOKs')).toBe(1);
  });

  it('honour a smaller link MTU', async () => {
    const { a, run } = pair({ mtu: 576 });
    const replies = await run(a.ping(B, { count: 1, size: 1400 }));
    expect(received(replies)).toBe(1);
    expect(a.ctx.stats.get('ipFragCreates')).toBe(3); // 1428 bytes of ICMP in 552-byte pieces
  });

  it('answer an unknown protocol with ICMP protocol unreachable', async () => {
    const { a, b, run } = pair();
    await run(a.ping(B, { count: 1 })); // resolve ARP first
    const errors: number[] = [];
    a.icmp.onError = (e) => errors.push(e.type * 256 + e.code);
    a.ipv4Out.send({ destination: B, protocol: 253 }, new Uint8Array(8));
    await run(Promise.resolve(), 10);
    expect(b.ctx.stats.get('ipInUnknownProtos')).toBe(1);
    expect(errors).toEqual([3 * 256 + 2]);
  });

  it('time out a ping to an address nobody has, after ARP gives up', async () => {
    const { a, run } = pair();
    const replies = await run(a.ping(parseIpv4('10.0.0.99')!, { count: 1, timeoutMs: 5000 }));
    expect(received(replies)).toBe(0);
    expect(a.ctx.stats.get('arpOutRequests')).toBe(3);
  });

  it('keep working under 20% loss (ARP retries)', async () => {
    const { a, run } = pair({ impairment: { loss: 0.2 } });
    const replies = await run(a.ping(B, { count: 50, intervalMs: 100, timeoutMs: 1000 }), 60_000);
    const n = received(replies);
    expect(n).toBeGreaterThan(20);
    expect(n).toBeLessThan(50);
  });
});
