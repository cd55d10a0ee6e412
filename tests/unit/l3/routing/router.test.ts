import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getU16 } from '../../../../src/core/bytes.js';
import { internetChecksum, verifyChecksum } from '../../../../src/core/checksum.js';
import { createTestContext } from '../../../../src/core/context.js';
import { emitEthernet } from '../../../../src/l2/ethernet/frame.js';
import { BROADCAST_MAC } from '../../../../src/l2/mac-address.js';
import { Field, emitIpv4Header, ipv4Record } from '../../../../src/l3/ipv4/header.js';
import type { Ipv4Link } from '../../../../src/l3/ipv4/link.js';
import { Ipv4Forwarder, isMartianDestination, isMartianSource } from '../../../../src/l3/routing/forward.js';
import { HookPriority, HookTable } from '../../../../src/l3/routing/hooks.js';
import { A, B, R1, R2, TEST_PROTOCOL, ip, routerRig } from './router-fixture.js';

describe('Router forwarding (RFC 1812 §5.2-5.3)', () => {
  it('forwards both ways: ping through the router, TTL 63 on arrival', async () => {
    const t = routerRig();
    const replies = await t.run(t.a.ping(B, { count: 2, intervalMs: 10 }));
    expect(replies.map((r) => r.rttMs !== undefined)).toEqual([true, true]);
    t.sendFromA({ ttl: 64 });
    expect(t.atB).toHaveLength(1);
    expect(t.atB[0]!.ttl).toBe(63);
    expect(t.atB[0]!.source).toBe(A);
    expect(t.r.ctx.stats.get('IpForwDatagrams')).toBeGreaterThanOrEqual(5);
  });

  it('patches the header checksum incrementally: it verifies and equals a full recomputation', () => {
    const t = routerRig();
    t.sendFromA({ ttl: 200 });
    const packet = t.atB[0]!.packet;
    expect(verifyChecksum(packet, 0, 20)).toBe(true);
    const copy = packet.slice();
    copy[Field.HEADER_CHECKSUM] = 0;
    copy[Field.HEADER_CHECKSUM + 1] = 0;
    expect(getU16(packet, Field.HEADER_CHECKSUM)).toBe(internetChecksum(copy, 0, 20));
  });

  it.each([1, 0])('TTL %i: ICMP time exceeded from the ingress address, nothing forwarded', (ttl) => {
    const t = routerRig();
    t.sendFromA({ ttl });
    expect(t.atB).toHaveLength(0);
    expect(t.errorsAtA).toHaveLength(1);
    expect(t.errorsAtA[0]).toMatchObject({ from: R1, type: 11, code: 0 });
    expect(t.r.ctx.stats.get('ipForwTtlExceeded')).toBe(1);
    expect(t.r.ctx.stats.get('IpInHdrErrors')).toBe(1);
    // The quote is the datagram as it arrived (TTL unchanged), as traceroute expects.
    expect(t.errorsAtA[0]!.original[Field.TTL]).toBe(ttl);
  });

  it('TTL 2 gets through with TTL 1; a datagram for the router itself with TTL 1 is delivered, not expired', async () => {
    const t = routerRig();
    t.sendFromA({ ttl: 2 });
    expect(t.atB[0]!.ttl).toBe(1);
    // traceroute's first probe to the router itself: TTL 1 is fine for a local destination.
    const icmpIn = t.r.ctx.stats.get('IcmpInEchos');
    t.a.icmp.sendEchoRequest(R2, 1, 1, new Uint8Array(8));
    t.advance(10);
    expect(t.r.ctx.stats.get('IcmpInEchos')).toBe(icmpIn + 1);
  });

  it('holds a burst for a cold next hop (traceroute sends 16 probes at once) instead of 3 like a host', async () => {
    const t = routerRig();
    await t.run(t.a.ping(R1)); // A knows the router; the router does not know B yet
    for (let ttl = 2; ttl < 18; ttl++) t.a.ipv4Out.send({ destination: B, protocol: TEST_PROTOCOL, ttl }, new Uint8Array(8));
    t.advance(20);
    expect(t.atB.map((d) => d.ttl)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(t.r.ctx.stats.get('arpQueueDrops')).toBe(0);
  });

  it('no route: ICMP network unreachable (code 0)', () => {
    const t = routerRig();
    t.sendFromA({ destination: ip('192.0.2.1') });
    expect(t.errorsAtA[0]).toMatchObject({ from: R1, type: 3, code: 0 });
    expect(t.r.ctx.stats.get('IpExtInNoRoutes')).toBe(1);
  });

  it('reject routes: prohibit → admin prohibited (13), unreachable → host unreachable (1), blackhole → silence', () => {
    const t = routerRig();
    t.r.addRoute({ destination: { address: ip('192.0.2.0'), prefixLength: 24 }, type: 'prohibit' });
    t.r.addRoute({ destination: { address: ip('198.51.100.0'), prefixLength: 24 }, type: 'unreachable' });
    t.r.addRoute({ destination: { address: ip('203.0.113.0'), prefixLength: 24 }, type: 'blackhole' });
    t.sendFromA({ destination: ip('192.0.2.1') });
    t.sendFromA({ destination: ip('198.51.100.1') });
    t.sendFromA({ destination: ip('203.0.113.1') });
    expect(t.errorsAtA.map((e) => [e.type, e.code])).toEqual([
      [3, 13],
      [3, 1],
    ]);
    expect(t.r.ctx.stats.get('ipForwRejectRoute')).toBe(3);
    expect(t.r.show('routes')).toMatch(/^prohibit 192\.0\.2\.0\/24$/m);
  });

  it('ARP for the next hop fails: ICMP host unreachable (code 1)', () => {
    const t = routerRig();
    t.sendFromA({ destination: ip('10.2.0.99') });
    t.advance(5000);
    expect(t.errorsAtA).toHaveLength(1);
    expect(t.errorsAtA[0]).toMatchObject({ from: R1, type: 3, code: 1 });
    expect(t.r.ctx.stats.get('ipForwHostUnreachable')).toBe(1);
  });

  it('static routes: longest prefix wins over the default; the gateway must be connected', () => {
    const t = routerRig();
    t.r.addRoute({ destination: { address: 0, prefixLength: 0 }, gateway: ip('10.1.0.254') });
    t.r.addRoute({ destination: { address: ip('172.16.0.0'), prefixLength: 12 }, gateway: B });
    expect(t.r.ipv4Out.route(ip('172.16.5.5'))).toMatchObject({ nextHop: B, link: t.r1 });
    expect(t.r.ipv4Out.route(ip('8.8.8.8'))).toMatchObject({ nextHop: ip('10.1.0.254'), link: t.r0 });
    expect(t.r.ipv4Out.route(ip('10.2.0.77'))).toMatchObject({ nextHop: ip('10.2.0.77'), link: t.r1 });
    expect(() => t.r.addRoute({ destination: { address: ip('10.9.0.0'), prefixLength: 16 }, gateway: ip('10.9.0.1') })).toThrow(
      /10\.9\.0\.0\/16: needs gateway 10\.9\.0\.1 on a connected network/,
    );
  });
});

describe('Router fragmentation (RFC 791 §3.2, RFC 1191)', () => {
  it('fragments to a smaller next-hop MTU; B reassembles', () => {
    const t = routerRig({ mtuB: 576 });
    t.sendFromA({ size: 1400 });
    expect(t.atB).toHaveLength(1);
    expect(t.atB[0]!.packet.length).toBe(1420);
    expect(t.r.ctx.stats.get('IpFragOKs')).toBe(1);
    expect(t.r.ctx.stats.get('IpFragCreates')).toBe(3);
  });

  it('DF set and too big: ICMP fragmentation needed carrying the next-hop MTU', () => {
    const t = routerRig({ mtuB: 576 });
    t.sendFromA({ size: 1400, dontFragment: true });
    expect(t.atB).toHaveLength(0);
    expect(t.errorsAtA[0]).toMatchObject({ from: R1, type: 3, code: 4, nextHopMtu: 576 });
    expect(t.r.ctx.stats.get('IpFragFails')).toBe(1);
  });
});

describe('Router bad input', () => {
  it('strict reverse-path filtering drops sources that do not route back through the ingress interface', () => {
    const t = routerRig({ router: { rpFilter: 'strict' } });
    t.sendFromA({ source: ip('10.2.0.77') }); // B's subnet, arriving from A's side: spoofed
    expect(t.atB).toHaveLength(0);
    expect(t.r.ctx.stats.get('ipReversePathFilter')).toBe(1);
    t.sendFromA();
    expect(t.atB).toHaveLength(1); // the real source still gets through
  });

  it('loose mode accepts any routable source; off forwards the spoof', () => {
    const loose = routerRig({ router: { rpFilter: 'loose' } });
    loose.sendFromA({ source: ip('10.2.0.77') });
    expect(loose.atB).toHaveLength(1);
    loose.sendFromA({ source: ip('192.0.2.9') }); // no route back at all
    expect(loose.r.ctx.stats.get('ipReversePathFilter')).toBe(1);
    const off = routerRig();
    off.sendFromA({ source: ip('10.2.0.77') });
    expect(off.atB).toHaveLength(1);
  });

  it('drops unicast IP in a link-layer broadcast and directed broadcasts, and still forwards afterwards', () => {
    const t = routerRig();
    t.sendFromA(); // ARP warmed up
    t.atB.length = 0;
    const frame = new Uint8Array(14 + 40);
    emitEthernet({ destination: BROADCAST_MAC, source: t.aIf.mac, etherType: 0x0800 }, frame, 0);
    emitIpv4Header(ipv4Record({ protocol: TEST_PROTOCOL, source: A, destination: B, totalLength: 40 }), frame, 14);
    t.aDev.send(frame);
    t.advance();
    expect(t.r.ctx.stats.get('ipForwLinkBroadcast')).toBe(1);
    t.sendFromA({ destination: ip('10.2.0.255') });
    expect(t.r.ctx.stats.get('ipForwDirectedBroadcast')).toBe(1);
    expect(t.atB).toHaveLength(0);
    t.sendFromA();
    expect(t.atB).toHaveLength(1);
  });

  it('martians: never forwards to 0/8, 127/8, 240/4 or from them', () => {
    expect(isMartianDestination(ip('127.0.0.1'))).toBe(true);
    expect(isMartianDestination(ip('0.1.2.3'))).toBe(true);
    expect(isMartianDestination(ip('240.0.0.1'))).toBe(true);
    expect(isMartianDestination(ip('10.0.0.1'))).toBe(false);
    expect(isMartianSource(ip('0.0.0.0'))).toBe(true);
    expect(isMartianSource(ip('224.0.0.1'))).toBe(true);
    const t = routerRig();
    t.r.addRoute({ destination: { address: 0, prefixLength: 0 }, gateway: B });
    t.sendFromA({ destination: ip('240.1.2.3') });
    expect(t.r.ctx.stats.get('IpInAddrErrors')).toBe(1);
    expect(t.atB).toHaveLength(0);
  });
});

describe('Router hook points (for NAT, conntrack and the firewall)', () => {
  it('forward hook: drop counts, reject answers admin prohibited; priorities order the hooks', () => {
    const t = routerRig();
    const order: string[] = [];
    t.r.hooks.add('forward', () => (order.push('late'), 'accept'), { priority: 10, name: 'late' });
    const remove = t.r.hooks.add('forward', () => (order.push('fw'), { reject: 13, reason: 'policy' }), { priority: HookPriority.filter, name: 'fw' });
    t.sendFromA();
    expect(order).toEqual(['fw']);
    expect(t.atB).toHaveLength(0);
    expect(t.errorsAtA[0]).toMatchObject({ type: 3, code: 13 });
    expect(t.r.ctx.stats.get('ipForwFiltered')).toBe(1);
    remove();
    t.sendFromA();
    expect(order).toEqual(['fw', 'late']);
    expect(t.atB).toHaveLength(1);
    expect(t.r.show('hooks')).toMatch(/forward: late\(10\)/);
  });

  it('postrouting sees the outgoing link and may rewrite the source (SNAT-like); prerouting may redirect (DNAT-like)', () => {
    const t = routerRig();
    t.r.hooks.add(
      'postrouting',
      (p) => {
        expect(p.outLink?.name).toBe('r1');
        expect(p.nextHop).toBe(B);
        const v = new DataView(p.bytes.buffer, p.bytes.byteOffset);
        v.setUint32(Field.SOURCE, R2);
        v.setUint16(Field.HEADER_CHECKSUM, 0);
        v.setUint16(Field.HEADER_CHECKSUM, internetChecksum(p.bytes, 0, 20));
        return 'accept';
      },
      { priority: HookPriority.snat, name: 'snat' },
    );
    // "Port forward": datagrams to the router's outside-facing address go to B instead.
    t.r.hooks.add(
      'prerouting',
      (p) => {
        const v = new DataView(p.bytes.buffer, p.bytes.byteOffset);
        if (v.getUint32(Field.DESTINATION) !== R1 || p.bytes[Field.PROTOCOL] !== TEST_PROTOCOL) return 'accept';
        v.setUint32(Field.DESTINATION, B);
        v.setUint16(Field.HEADER_CHECKSUM, 0);
        v.setUint16(Field.HEADER_CHECKSUM, internetChecksum(p.bytes, 0, 20));
        return 'accept';
      },
      { priority: HookPriority.dnat, name: 'dnat' },
    );
    t.sendFromA({ destination: R1 });
    expect(t.atB).toHaveLength(1);
    expect(t.atB[0]!.source).toBe(R2);
  });

  it('input hook filters traffic to the router itself, not through it', () => {
    const t = routerRig();
    t.r.hooks.add('input', (p) => (p.bytes[Field.PROTOCOL] === 1 ? 'drop' : 'accept'), { name: 'no-ping' });
    t.a.icmp.sendEchoRequest(R1, 1, 1, new Uint8Array(8));
    t.advance(10);
    expect(t.r.ctx.stats.get('ipInFiltered')).toBe(1);
    expect(t.r.ctx.stats.get('IcmpInEchos')).toBe(0);
  });

  it('with forwarding off the router is a host', () => {
    const t = routerRig();
    t.r.forwarding = false;
    t.sendFromA();
    expect(t.atB).toHaveLength(0);
    expect(t.r.ctx.stats.get('IpInAddrErrors')).toBe(1);
  });
});

describe('Ipv4Forwarder checksum after the TTL rewrite (property)', () => {
  it('for any valid header (options included) the forwarded header verifies and only TTL and checksum changed', () => {
    const ctx = createTestContext(1);
    const out: Ipv4Link = { name: 'out', mtu: 65_535, ipv4Addresses: [{ address: ip('10.2.0.1'), prefixLength: 24 }], sendIpv4: () => {} };
    const inLink: Ipv4Link = { name: 'in', mtu: 1500, ipv4Addresses: [{ address: ip('10.1.0.1'), prefixLength: 24 }], sendIpv4: () => {} };
    let sent: Uint8Array | undefined;
    const forwarder = new Ipv4Forwarder({
      ctx,
      route: () => ({ link: out, nextHop: ip('10.2.0.10') }),
      transmit: (packet) => ((sent = packet.slice()), 'sent'),
      sendIcmpError: () => {},
      hooks: new HookTable(),
    });
    fc.assert(
      fc.property(
        fc.record({
          ttl: fc.integer({ min: 2, max: 255 }),
          dscp: fc.integer({ min: 0, max: 63 }),
          ecn: fc.integer({ min: 0, max: 3 }),
          identification: fc.integer({ min: 0, max: 0xffff }),
          dontFragment: fc.boolean(),
          protocol: fc.integer({ min: 0, max: 255 }),
          source: fc.integer({ min: 0x0a010000, max: 0x0a01ffff }),
          destination: fc.integer({ min: 0x0a020002, max: 0x0a0200fe }),
          options: fc.uint8Array({ maxLength: 40 }).map((o) => o.map((b) => (b === 0 ? 1 : 1))), // NOPs only: always valid
          payload: fc.uint8Array({ maxLength: 64 }),
        }),
        (f) => {
          const headerLength = 20 + ((f.options.length + 3) & ~3);
          const packet = new Uint8Array(headerLength + f.payload.length);
          emitIpv4Header(ipv4Record({ ...f, totalLength: packet.length }), packet, 0);
          packet.set(f.payload, headerLength);
          const before = packet.slice();
          sent = undefined;
          forwarder.forward(packet, inLink, false);
          expect(sent).toBeDefined();
          expect(verifyChecksum(sent!, 0, headerLength)).toBe(true);
          expect(sent![Field.TTL]).toBe(f.ttl - 1);
          for (let i = 0; i < before.length; i++) {
            if (i === Field.TTL || i === Field.HEADER_CHECKSUM || i === Field.HEADER_CHECKSUM + 1) continue;
            expect(sent![i]).toBe(before[i]);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

// Keep R2 referenced for readers of the fixture.
void R2;
