/**
 * Two tapnet hosts over an in-memory link on a manual clock, IPv6 only:
 * DAD, router advertisements and SLAAC, neighbour discovery, ping both
 * ways, fragmentation and reassembly, ICMPv6 errors, path MTU.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import type { ImpairmentOptions } from '../../../../src/device/impairment.js';
import { formatIpv6, linkLocalFromMac, parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import type { Ipv6InterfaceConfig } from '../../../../src/node/ipv6.js';
import { Host } from '../../../../src/node/host.js';
import { emitIcmpv6 } from '../../../../src/l3/icmpv6/message.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';

const ROUTER = parseIpv6('fd77::1')!;
const MAC_A = 0x020000000001;
const MAC_B = 0x02000000000b;
/** B's SLAAC address: fd77::/64 + EUI-64 of 02:00:00:00:00:0b. */
const B_SLAAC = parseIpv6('fd77::ff:fe00:b')!;

function pair(options: { mtu?: number; impairment?: ImpairmentOptions; a?: Ipv6InterfaceConfig; b?: Ipv6InterfaceConfig } = {}) {
  const ctxA = createTestContext(11);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB) };
  const [da, db] = createLinkPair(ctxA, { mtu: options.mtu, impairment: options.impairment });
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  a.addInterface(da, {
    name: 'a0',
    mac: MAC_A,
    ipv6: options.a ?? { addresses: [{ address: ROUTER, prefixLength: 64 }], router: { dnsServers: [ROUTER] } },
  });
  b.addInterface(db, { name: 'b0', mac: MAC_B, ipv6: options.b ?? { acceptRouterAdvertisements: true } });
  a.start();
  b.start();
  const advance = (ms: number): void => ctxA.timers.advanceTo(ctxA.clock, ctxA.clock.now() + ms);
  const run = async <T>(p: Promise<T>, ms = 20_000): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => {
      done = true;
      value = v;
    });
    for (let t = 0; t < ms && !done; t += 1) {
      advance(1);
      await Promise.resolve();
    }
    await Promise.resolve();
    if (!done) throw new Error('promise did not settle');
    return value;
  };
  return { a, b, ctxA, ctxB, advance, run };
}

const received = (replies: { rttMs: number | undefined }[]): number => replies.filter((r) => r.rttMs !== undefined).length;

describe('IPv6 between two hosts', () => {
  it('DAD makes the router addresses preferred after one probe each, then it advertises', () => {
    const { a, advance } = pair();
    const ia = a.ipv6.interfaces[0]!;
    expect(ia.ipv6Addresses.map((x) => x.state)).toEqual(['tentative', 'tentative']);
    advance(999);
    expect(ia.ipv6Addresses.every((x) => x.state === 'tentative')).toBe(true);
    advance(1);
    expect(ia.ipv6Addresses.map((x) => x.state)).toEqual(['preferred', 'preferred']);
    expect(a.ctx.stats.get('Icmp6OutNeighborSolicits')).toBe(2); // one DAD probe per address (RFC 4862 §5.1)
    expect(a.ctx.stats.get('Icmp6OutRouterAdvertisements')).toBe(1);
  });

  it('the host forms a SLAAC address from the advertisement, learns RDNSS and a default route', () => {
    const { b, advance } = pair();
    advance(3000);
    const ib = b.ipv6.interfaces[0]!;
    const slaac = ib.ipv6Addresses.find((x) => x.autoconfigured);
    expect(slaac && formatIpv6(slaac.address)).toBe('fd77::ff:fe00:b');
    expect(slaac?.state).toBe('preferred');
    expect(ib.dnsServers.map((s) => formatIpv6(s))).toEqual(['fd77::1']);
    expect(b.show('routes')).toContain(`::/0 via ${formatIpv6(linkLocalFromMac(MAC_A))} dev b0 metric 1024`);
    expect(b.show('routes')).toContain('fd77::/64 dev b0');
  });

  it('resolve each other with NDP and ping both ways', async () => {
    const { a, b, advance, run } = pair();
    advance(3000);
    const replies = await run(b.ipv6.ping(ROUTER, { count: 3, intervalMs: 100 }));
    expect(received(replies)).toBe(3);
    expect(b.ctx.stats.get('Icmp6InEchoReplies')).toBe(3);
    expect(a.ctx.stats.get('Icmp6OutEchoReplies')).toBe(3);
    // A learned B from B's solicitation (STALE: proven address, unproven reachability), then used it.
    expect(a.show('neigh')).toMatch(/fd77::ff:fe00:b\s+(STALE|DELAY|REACHABLE)\s+02:00:00:00:00:0b/);
    const back = await run(a.ipv6.ping(B_SLAAC, { count: 2, intervalMs: 100 }));
    expect(received(back)).toBe(2);
  });

  it('ping link-local to link-local', async () => {
    const { a, b, advance, run } = pair();
    advance(3000);
    const replies = await run(b.ipv6.ping(linkLocalFromMac(MAC_A), { count: 1 }));
    expect(received(replies)).toBe(1);
    expect(a.ctx.stats.get('Icmp6OutEchoReplies')).toBe(1);
  });

  it('fragments a 4000-byte ping on the way out and reassembles the reply', async () => {
    const { a, b, advance, run } = pair();
    advance(3000);
    const replies = await run(b.ipv6.ping(ROUTER, { count: 1, size: 4000 }));
    expect(received(replies)).toBe(1);
    // 40 + 4008 bytes of ICMPv6 in pieces of 1448: 3 fragments each way.
    expect(b.ctx.stats.get('Ip6FragCreates')).toBe(3);
    expect(a.ctx.stats.get('Ip6ReasmOKs')).toBe(1);
    expect(a.ctx.stats.get('Ip6FragCreates')).toBe(3);
    expect(b.ctx.stats.get('Ip6ReasmOKs')).toBe(1);
  });

  it('answers an unknown next header with Parameter Problem code 1 pointing at it', async () => {
    const { a, b, advance, run } = pair();
    advance(3000);
    await run(b.ipv6.ping(ROUTER, { count: 1 }));
    const errors: string[] = [];
    b.icmp6.onError = (e) => errors.push(`${e.type}/${e.code}/${e.value}`);
    expect(b.ipv6Out.send({ destination: ROUTER, nextHeader: 253 }, new Uint8Array(8))).toBe('sent');
    advance(10);
    expect(a.ctx.stats.get('Ip6InUnknownProtos')).toBe(1);
    expect(errors).toEqual(['4/1/6']);
  });

  it('copies a request\'s non-zero code into the echo reply, as Linux does', async () => {
    const { b, advance, run } = pair();
    advance(3000);
    await run(b.ipv6.ping(ROUTER, { count: 1 }));
    const source = b.ipv6Out.sourceFor(ROUTER)!;
    const request = new Uint8Array(16);
    emitIcmpv6({ kind: 'echo', type: 128, code: 7, identifier: 0x77, sequence: 1, data: new Uint8Array(8) }, request, 0, source, ROUTER);
    const replyCodes: number[] = [];
    b.ipv6In.register(IpProtocol.ICMPv6, (d) => {
      if (d.payload[0] === 129) replyCodes.push(d.payload[1]!);
      return 'delivered';
    });
    expect(b.ipv6Out.send({ destination: ROUTER, nextHeader: IpProtocol.ICMPv6, source }, request)).toBe('sent');
    advance(10);
    expect(replyCodes).toEqual([7]);
  });

  it('rate-limits errors per host: a burst of 6, then one a second (Linux icmp ratelimit)', async () => {
    const { a, b, advance, run } = pair();
    advance(3000);
    await run(b.ipv6.ping(ROUTER, { count: 1 }));
    for (let i = 0; i < 10; i++) b.ipv6Out.send({ destination: ROUTER, nextHeader: 253 }, new Uint8Array(8));
    advance(10);
    expect(a.ctx.stats.get('Icmp6OutParmProblems')).toBe(6);
    expect(a.ctx.stats.get('Icmp6OutRateLimitHost')).toBe(4);
    advance(1000);
    b.ipv6Out.send({ destination: ROUTER, nextHeader: 253 }, new Uint8Array(8));
    advance(10);
    expect(a.ctx.stats.get('Icmp6OutParmProblems')).toBe(7);
    // Echo replies are not errors: never limited.
    const replies = await run(b.ipv6.ping(ROUTER, { count: 20, intervalMs: 1 }));
    expect(received(replies)).toBe(20);
  });

  it('learns a path MTU from Packet Too Big and fragments to it', async () => {
    const { a, b, advance, run } = pair();
    advance(3000);
    const ib = b.ipv6.interfaces[0]!;
    // A Packet Too Big from the router about a packet B sent to it, saying 1280.
    const quote = new Uint8Array(1300);
    quote[0] = 0x60;
    quote.set(B_SLAAC, 8);
    quote.set(ROUTER, 24);
    a.icmp6.sendError(quote, { type: 2, code: 0, mtu: 1280 }, { link: a.ipv6.interfaces[0]!, toMulticast: false });
    advance(10);
    expect(b.ctx.stats.get('Icmp6InPktTooBigs')).toBe(1);
    expect(b.ipv6Out.mtuFor(ROUTER, ib)).toBe(1280);
    const replies = await run(b.ipv6.ping(ROUTER, { count: 1, size: 1400 }));
    expect(received(replies)).toBe(1);
    expect(b.ctx.stats.get('Ip6FragCreates')).toBe(2);
  });

  it('DAD detects a duplicate: both ends configured with the same address', () => {
    const shared = { address: parseIpv6('fd77::99')!, prefixLength: 64 };
    const { a, b, advance } = pair({ a: { addresses: [shared] }, b: { addresses: [shared] } });
    advance(2000);
    // Each side sees the other's probe from :: for its tentative address (RFC 4862 §5.4.3).
    expect(a.ipv6.interfaces[0]!.addressEntry(shared.address)?.state).toBe('duplicate');
    expect(b.ipv6.interfaces[0]!.addressEntry(shared.address)?.state).toBe('duplicate');
    expect(a.ctx.stats.get('ndpDadFailed')).toBe(1);
  });

  it('resolution fails after three solicitations for an absent neighbour', async () => {
    const { a, advance, run } = pair();
    advance(3000);
    const replies = await run(a.ipv6.ping(parseIpv6('fd77::99')!, { count: 1, timeoutMs: 5000 }));
    expect(received(replies)).toBe(0);
    expect(a.ctx.stats.get('ndpResolveFailed')).toBe(1);
  });

  it('keeps working under 20% loss', async () => {
    const { b, advance, run } = pair({ impairment: { loss: 0.2, seed: 5 } });
    advance(40_000); // the initial advertisements are 16 s apart at most: some get through
    const replies = await run(b.ipv6.ping(ROUTER, { count: 40, intervalMs: 100, timeoutMs: 1000 }), 60_000);
    const n = received(replies);
    expect(n).toBeGreaterThan(15);
    expect(n).toBeLessThan(40);
  });
});
