import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inCidr, parseIpv4, parseIpv4Cidr, type Ipv4Cidr } from '../../../../src/l3/ipv4/address.js';
import { RouteTable, describeRoute, type Route } from '../../../../src/l3/routing/table.js';

const ip = (text: string): number => parseIpv4(text)!;
const cidr = (text: string): Ipv4Cidr => parseIpv4Cidr(text)!;

function table(): RouteTable<string> {
  const t = new RouteTable<string>();
  t.add({ destination: cidr('0.0.0.0/0'), gateway: ip('10.77.0.1'), value: 'uplink' });
  t.add({ destination: cidr('10.77.0.0/24'), value: 'lan' });
  t.add({ destination: cidr('10.77.0.128/25'), value: 'lan-upper' });
  t.add({ destination: cidr('10.0.0.0/8'), gateway: ip('10.77.0.2'), value: 'corp' });
  t.add({ destination: cidr('10.77.0.42/32'), value: 'host-route' });
  return t;
}

describe('RouteTable longest-prefix match (RFC 1812 §5.2.4.3)', () => {
  it.each([
    ['10.77.0.5', 'lan'],
    ['10.77.0.200', 'lan-upper'],
    ['10.77.0.42', 'host-route'],
    ['10.77.1.1', 'corp'],
    ['10.1.2.3', 'corp'],
    ['8.8.8.8', 'uplink'],
    ['255.255.255.255', 'uplink'],
  ])('%s goes to %s', (address, value) => {
    expect(table().lookup(ip(address))?.value).toBe(value);
  });

  it('returns undefined without a default route', () => {
    const t = new RouteTable<string>();
    t.add({ destination: cidr('192.168.1.0/24'), value: 'lan' });
    expect(t.lookup(ip('192.168.2.1'))).toBeUndefined();
    expect(t.lookup(ip('192.168.1.255'))?.value).toBe('lan');
  });

  it('breaks ties between equal prefixes by the lowest metric', () => {
    const t = new RouteTable<string>();
    t.add({ destination: cidr('0.0.0.0/0'), gateway: ip('10.0.0.1'), metric: 600, value: 'wifi' });
    t.add({ destination: cidr('0.0.0.0/0'), gateway: ip('10.0.1.1'), metric: 100, value: 'ethernet' });
    t.add({ destination: cidr('0.0.0.0/0'), gateway: ip('10.0.2.1'), metric: 300, value: 'lte' });
    expect(t.lookup(ip('1.1.1.1'))).toMatchObject({ value: 'ethernet', gateway: ip('10.0.1.1'), metric: 100 });
    expect(t.remove(cidr('0.0.0.0/0'), 100)).toBe(1);
    expect(t.lookup(ip('1.1.1.1'))?.value).toBe('lte');
    expect(t.size).toBe(2);
  });

  it('normalises host bits and replaces a route with the same destination and metric', () => {
    const t = new RouteTable<string>();
    const route = t.add({ destination: cidr('10.77.0.1/24'), value: 'old' });
    expect(route.destination).toEqual(cidr('10.77.0.0/24'));
    expect(route.gateway).toBeUndefined();
    expect(route.metric).toBe(0);
    t.add({ destination: cidr('10.77.0.0/24'), value: 'new' });
    expect(t.size).toBe(1);
    expect(t.lookup(ip('10.77.0.9'))?.value).toBe('new');
  });

  it('removes routes, and falls back to the next most specific', () => {
    const t = table();
    expect(t.remove(cidr('10.77.0.200/25'))).toBe(1); // host bits ignored, as when adding
    expect(t.lookup(ip('10.77.0.200'))?.value).toBe('lan');
    expect(t.remove(cidr('10.77.0.0/24'))).toBe(1);
    expect(t.lookup(ip('10.77.0.200'))?.value).toBe('corp');
    expect(t.remove(cidr('10.77.0.0/24'))).toBe(0);
    expect(t.remove(cidr('172.16.0.0/12'))).toBe(0);
    expect(t.size).toBe(3);
  });

  it('removeWhere drops every route through one interface', () => {
    const t = table();
    expect(t.removeWhere((r) => r.value.startsWith('lan'))).toBe(2);
    expect(t.lookup(ip('10.77.0.200'))?.value).toBe('corp');
    t.clear();
    expect(t.size).toBe(0);
    expect(t.lookup(ip('8.8.8.8'))).toBeUndefined();
  });

  it('lists routes most specific first, then by address, then by metric', () => {
    const t = table();
    t.add({ destination: cidr('10.77.0.0/24'), metric: 50, value: 'lan-backup' });
    t.add({ destination: cidr('10.76.0.0/24'), value: 'lab' });
    expect(t.routes().map((r) => describeRoute(r))).toEqual([
      '10.77.0.42/32 dev host-route',
      '10.77.0.128/25 dev lan-upper',
      '10.76.0.0/24 dev lab',
      '10.77.0.0/24 dev lan',
      '10.77.0.0/24 dev lan-backup metric 50',
      '10.0.0.0/8 via 10.77.0.2 dev corp',
      'default via 10.77.0.1 dev uplink',
    ]);
  });

  it('agrees with a brute-force search over random tables', () => {
    const routeArb = fc.record({
      address: fc.integer({ min: 0, max: 0xffffffff }),
      prefixLength: fc.integer({ min: 0, max: 32 }),
      metric: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(routeArb, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 20 }), (specs, probes) => {
        const t = new RouteTable<number>();
        const all: Route<number>[] = [];
        specs.forEach((s, i) => {
          const route = t.add({ destination: { address: s.address, prefixLength: s.prefixLength }, metric: s.metric, value: i });
          const same = all.findIndex((r) => r.destination.address === route.destination.address && r.destination.prefixLength === route.destination.prefixLength && r.metric === route.metric);
          if (same >= 0) all.splice(same, 1);
          all.push(route);
        });
        expect(t.size).toBe(all.length);
        // Probe each route's own network too, so matches are not left to chance.
        for (const address of [...probes, ...specs.map((s) => s.address)]) {
          const candidates = all.filter((r) => inCidr(address, r.destination));
          candidates.sort((a, b) => b.destination.prefixLength - a.destination.prefixLength || a.metric - b.metric);
          expect(t.lookup(address)?.value).toBe(candidates[0]?.value);
        }
      }),
      { numRuns: 300 },
    );
  });
});
