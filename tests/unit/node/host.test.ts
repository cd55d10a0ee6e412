/**
 * Two tapnet hosts over an in-memory link, on a manual clock: ARP
 * resolution, ping, fragmentation both ways, ICMP errors, loss.
 */
import { describe, expect, it } from 'vitest';
import { A, B, twoHosts } from '../two-hosts.js';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';
import type { PingReply } from '../../../src/node/host.js';

const received = (replies: PingReply[]): number => replies.filter((r) => r.rttMs !== undefined).length;

describe('two hosts on one link', () => {
  it('resolve each other with ARP and ping', async () => {
    const { a, b, run } = twoHosts();
    const replies = await run(a.ping(B, { count: 3, intervalMs: 100 }));
    expect(received(replies)).toBe(3);
    expect(a.interfaces[0]!.arp.entries().some((e) => e.address === B && e.mac === 0x020000000002)).toBe(true);
    // B learned A from A's request (RFC 826: the target updates/creates the sender's entry).
    expect(b.interfaces[0]!.arp.entries().some((e) => e.address === A)).toBe(true);
    expect(b.ctx.stats.get('IcmpOutEchoReps')).toBe(3);
  });

  it('fragment a 4000-byte ping on the way out and reassemble the reply', async () => {
    const { a, b, run } = twoHosts();
    const replies = await run(a.ping(B, { count: 1, size: 4000 }));
    expect(received(replies)).toBe(1);
    expect(a.ctx.stats.get('IpFragCreates')).toBe(3);
    expect(b.ctx.stats.get('IpReasmOKs')).toBe(1);
    expect(b.ctx.stats.get('IpFragCreates')).toBe(3);
    expect(a.ctx.stats.get('IpReasmOKs')).toBe(1);
  });

  it('honour a smaller link MTU', async () => {
    const { a, run } = twoHosts({ mtu: 576 });
    const replies = await run(a.ping(B, { count: 1, size: 1400 }));
    expect(received(replies)).toBe(1);
    expect(a.ctx.stats.get('IpFragCreates')).toBe(3); // 1428 bytes of ICMP in 552-byte pieces
  });

  it('answer an unknown protocol with ICMP protocol unreachable', async () => {
    const { a, b, run } = twoHosts();
    await run(a.ping(B, { count: 1 })); // resolve ARP first
    const errors: number[] = [];
    a.icmp.onError = (e) => errors.push(e.type * 256 + e.code);
    a.ipv4Out.send({ destination: B, protocol: 253 }, new Uint8Array(8));
    await run(Promise.resolve(), 10);
    expect(b.ctx.stats.get('IpInUnknownProtos')).toBe(1);
    expect(errors).toEqual([3 * 256 + 2]);
  });

  it('time out a ping to an address nobody has, after ARP gives up', async () => {
    const { a, run } = twoHosts();
    const replies = await run(a.ping(parseIpv4('10.0.0.99')!, { count: 1, timeoutMs: 5000 }));
    expect(received(replies)).toBe(0);
    expect(a.ctx.stats.get('arpOutRequests')).toBe(3);
  });

  it('keep working under 20% loss (ARP retries)', async () => {
    const { a, run } = twoHosts({ impairment: { loss: 0.2 } });
    const replies = await run(a.ping(B, { count: 50, intervalMs: 100, timeoutMs: 1000 }), 60_000);
    const n = received(replies);
    expect(n).toBeGreaterThan(20);
    expect(n).toBeLessThan(50);
  });
});
