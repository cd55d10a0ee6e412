import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';
import { parseRate, parseTopology, type TopologyProblem } from '../../../src/runtime/topology.js';

const LABS = resolve(import.meta.dirname, '../../../labs');

function problems(text: string): string[] {
  const r = parseTopology(text, 't.yaml');
  if (r.ok) return [];
  return r.problems.map((p: TopologyProblem) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
}

const GOOD = `name: demo
nodes:
  pc1:
    kind: host
    interfaces:
      eth0: { address: 10.1.0.10/24 }
    routes: [default via 10.1.0.1]
  r1:
    kind: router
    rpFilter: strict
    interfaces:
      eth0: { address: 10.1.0.1/24 }
      eth1: { addresses: [10.2.0.1/24, 10.3.0.1/24] }
    routes: [10.9.0.0/16 via 10.2.0.2 metric 5, prohibit 10.66.0.0/16]
  sw1:
    kind: switch
    macTableMax: 100
    ageingTime: 60
    ports:
      p1: {}
      p2: { vlan: 10 }
      up: { trunk: [10, 20], native: 1 }
links:
  - [pc1:eth0, sw1:p1]
  - endpoints: [r1:eth0, sw1:p2]
    mtu: 1400
    impairment: { loss: 2%, delayMs: 10, rate: 10mbit, seed: 7 }
    capture: r1.pcap
  - endpoints: [r1:eth1, sw1:up]
    impairment: { aToB: { duplicate: 0.1 }, bToA: { corrupt: 0.01 } }
    offload: false
`;

describe('topology files', () => {
  it('parses a complete file into the model', () => {
    const r = parseTopology(GOOD, 'demo.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const t = r.topology;
    expect(t.name).toBe('demo');
    expect(t.nodes.map((n) => `${n.kind}:${n.name}`)).toEqual(['host:pc1', 'router:r1', 'switch:sw1']);
    const r1 = t.nodes[1]!;
    expect(r1.kind === 'router' && r1.rpFilter).toBe('strict');
    expect(r1.kind === 'router' && r1.routes.map((x) => [x.type, x.gateway, x.metric])).toEqual([
      ['unicast', parseIpv4('10.2.0.2'), 5],
      ['prohibit', undefined, undefined],
    ]);
    const sw = t.nodes[2]!;
    expect(sw.kind === 'switch' && sw.ageingTimeMs).toBe(60_000);
    expect(sw.kind === 'switch' && sw.ports.map((p) => p.vlan)).toEqual([
      { mode: 'access', vid: 1 },
      { mode: 'access', vid: 10 },
      { mode: 'trunk', allowed: new Set([10, 20]), native: 1 },
    ]);
    expect(t.links[1]).toMatchObject({
      mtu: 1400,
      capture: 'r1.pcap',
      impairment: { aToB: { loss: 0.02, delayMs: 10, rateBitsPerSecond: 10e6, seed: 7 }, bToA: { seed: 8 } },
    });
    expect(t.links[2]!.impairment).toEqual({ aToB: { duplicate: 0.1 }, bToA: { corrupt: 0.01 } });
    expect(t.links[0]!.impairment).toBeUndefined();
    expect(t.links.map((l) => l.offload)).toEqual([true, true, false]);
  });

  it('reports an offload that is not true or false, at its value', () => {
    expect(problems(GOOD.replace('offload: false', 'offload: maybe'))).toEqual(['31:14 links.2.offload: expected true or false']);
  });

  it('accepts every shipped lab', () => {
    for (const file of readdirSync(LABS).filter((f) => f.endsWith('.yaml'))) {
      // The full path: a lab may name files beside it (labs/vpn.yaml's wg-quick file).
      const r = parseTopology(readFileSync(join(LABS, file), 'utf8'), join(LABS, file));
      expect(r.ok ? [] : r.problems, file).toEqual([]);
    }
  });

  it('names line, column and field of each mistake', () => {
    const bad = GOOD.replace('10.1.0.10/24', '10.1.0.10')
      .replace('rpFilter: strict', 'rpFilter: sometimes')
      .replace('vlan: 10', 'vlan: 4095')
      .replace('loss: 2%', 'loss: 200%')
      .replace('rate: 10mbit', 'rate: fast')
      .replace('- [pc1:eth0, sw1:p1]', '- [pc1:eth0, sw1:p9]');
    expect(problems(bad)).toEqual([
      "6:24 nodes.pc1.interfaces.eth0.address: '10.1.0.10' is not an IPv4 address with a prefix length, like 10.1.0.1/24",
      // The address being unusable, the route through it is reported too.
      `7:14 nodes.pc1.routes.0: 'default via 10.1.0.1': gateway 10.1.0.1 is not on a network of this node's interfaces (expected e.g. "default via 10.1.0.1" or "10.3.0.0/16 via 10.1.0.2")`,
      "10:15 nodes.r1.rpFilter: 'sometimes': expected off, loose or strict",
      // In the order of the file, the wiring problems included.
      '20:7 nodes.sw1.ports.p1: not connected: add a link to sw1:p1 under links',
      '21:19 nodes.sw1.ports.p2.vlan: expected an integer from 1 to 4094, got 4095',
      "24:16 links.0.endpoints.1: switch 'sw1' has no port 'p9' (it has: p1, up)",
      '27:25 links.1.impairment.loss: "200%": expected a probability, 0..1 or "N%"',
      '27:50 links.1.impairment.rate: "fast": expected a rate like "10mbit" or "512kbit"',
    ]);
  });

  it('reports unknown fields, kinds, nodes, double use and unconnected ends', () => {
    expect(
      problems(`name: x
nodes:
  a: { kind: host, interfaces: { eth0: {} }, colour: red }
  b: { kind: bridge }
  s: { kind: switch, ports: { p1: {}, p2: {} } }
links:
  - [a:eth0, s:p1]
  - [a:eth0, s:p2]
  - [nobody:eth0, s:p2]
extra: 1
`),
    ).toEqual([
      '3:46 nodes.a.colour: not a field of a host (expected one of: kind, interfaces, routes, run, resolvers, part)',
      "4:14 nodes.b.kind: unknown kind 'bridge' (one of: host, router, switch, hub, lb)",
      '8:6 links.1.endpoints.0: a:eth0 is already connected by links.0',
      "9:6 links.2.endpoints.0: no node 'nobody'",
      '9:19 links.2.endpoints.1: s:p2 is already connected by links.1',
      '10:1 extra: unknown field (expected one of: name, nodes, links)',
    ]);
  });

  it('checks routes: syntax, reject types only on routers, gateways on a connected network', () => {
    const host = (route: string): string[] =>
      problems(`name: x
nodes:
  a: { kind: host, interfaces: { eth0: { address: 10.0.0.1/24 } }, routes: ['${route}'] }
  s: { kind: switch, ports: { p1: {} } }
links: [[a:eth0, s:p1]]
`);
    expect(host('default via 10.0.0.254')).toEqual([]);
    expect(host('10.5.0.0/16 dev eth0')).toEqual([]);
    expect(host('default via 10.9.9.9')[0]).toMatch(/gateway 10\.9\.9\.9 is not on a network of this node's interfaces/);
    expect(host('prohibit 10.5.0.0/16')[0]).toMatch(/prohibit routes are for routers/);
    expect(host('10.5.0.0/16')[0]).toMatch(/needs "via GATEWAY" or "dev INTERFACE"/);
    expect(host('10.5.0.0/16 dev eth9')[0]).toMatch(/no interface 'eth9'/);
    expect(host('10.5.0.0/16 via 10.0.0.2 weight 3')[0]).toMatch(/unknown word 'weight'/);
  });

  it('dhcp: hosts lease instead of configuring an address; routers serve from their address', () => {
    const lab = (pc: string, gw: string): string[] =>
      problems(`name: x
nodes:
  pc: { kind: host, interfaces: { eth0: ${pc} }, routes: [10.9.0.0/16 via 192.168.1.254] }
  gw: { kind: router, interfaces: { lan: ${gw} } }
links: [[pc:eth0, gw:lan]]
`);
    expect(lab('{ dhcp: true }', '{ address: 192.168.1.1/24, dhcp: true }')).toEqual([]); // the route's gateway is checked once leased
    expect(lab('{ dhcp: true, address: 192.168.1.5/24 }', '{ address: 192.168.1.1/24 }')[0]).toMatch(/nodes\.pc\.interfaces\.eth0\.dhcp: .*either from address: or from dhcp: true/);
    expect(lab('{ dhcp: true }', '{ dhcp: true }')[0]).toMatch(/nodes\.gw\.interfaces\.lan\.dhcp: a router serves DHCP from its own address/);
    expect(lab('{ dhcp: yes please }', '{ address: 192.168.1.1/24 }')[0]).toMatch(/eth0\.dhcp: expected true or false/);
    const ok = parseTopology(readFileSync(join(LABS, 'home-nat.yaml'), 'utf8'), 'home-nat.yaml');
    expect(ok.ok && ok.topology.nodes.flatMap((n) => (n.kind === 'switch' || n.kind === 'hub' ? [] : n.interfaces.filter((i) => i.dhcp).map((i) => `${n.name}:${i.name}`)))).toEqual([
      'hn-laptop:eth0',
      'hn-phone:eth0',
      'home:lan',
    ]);
  });

  it('dns: a router serves a zone, with upstreams and records checked', () => {
    const lab = (dns: string): string[] =>
      problems(`name: x
nodes:
  pc: { kind: host, interfaces: { eth0: { dhcp: true } } }
  gw: { kind: router, interfaces: { lan: { address: 192.168.1.1/24, dhcp: true } }, dns: ${dns} }
links: [[pc:eth0, gw:lan]]
`);
    expect(lab('true')).toEqual([]);
    expect(lab('{ zone: home, upstreams: [10.0.2.3, 127.0.0.1:5353], records: ["nas A 192.168.1.10"] }')).toEqual([]);
    expect(lab('{ zone: "bad zone" }')[0]).toMatch(/nodes\.gw\.dns\.zone: 'bad zone' is not a domain name/);
    expect(lab('{ upstreams: [10.0.2.300] }')[0]).toMatch(/nodes\.gw\.dns\.upstreams\.0: '10\.0\.2\.300': expected ADDRESS or ADDRESS:PORT/);
    expect(lab('{ records: ["nas A nowhere"] }')[0]).toMatch(/nodes\.gw\.dns\.records\.0: 'nas A nowhere'/);
    expect(lab('{ zones: home }')[0]).toMatch(/nodes\.gw\.dns\.zones: unknown field/);
    const ok = parseTopology(readFileSync(join(LABS, 'home-nat.yaml'), 'utf8'), 'home-nat.yaml');
    const home = ok.ok ? ok.topology.nodes.find((n) => n.name === 'home') : undefined;
    expect(home?.kind === 'router' && home.dns && [home.dns.zone, home.dns.records]).toEqual(['home.', ['hn-server A 192.168.1.10']]);
  });

  it('hub: ports with nothing to configure, each linked once', () => {
    const r = parseTopology(`name: h
nodes:
  a: { kind: host, interfaces: { eth0: {} } }
  b: { kind: host, interfaces: { eth0: {} } }
  h:
    kind: hub
    ports:
      p1:
      p2:
links:
  - [a:eth0, h:p1]
  - [b:eth0, h:p2]
`, 'h.yaml');
    expect(r.ok && r.topology.nodes[2]).toMatchObject({ kind: 'hub', name: 'h', ports: [{ name: 'p1' }, { name: 'p2' }] });
    expect(
      problems(`name: h
nodes:
  a: { kind: host, interfaces: { eth0: {} } }
  h: { kind: hub, ports: { p1: , p2: { vlan: 10 }, p3: }, macTableMax: 5 }
links:
  - [a:eth0, h:p1]
  - [h:p3, h:p9]
`),
    ).toEqual([
      '4:38 nodes.h.ports.p2: a hub port has no settings (write it as `p1:` with nothing after it)',
      '4:59 nodes.h.macTableMax: not a field of a hub (expected one of: kind, ports, part)',
    ]);
    expect(problems(`name: h
nodes:
  a: { kind: host, interfaces: { eth0: {} } }
  h: { kind: hub, ports: { p1: , p2: } }
links:
  - [a:eth0, h:p9]
`)).toEqual(['4:28 nodes.h.ports.p1: not connected: add a link to h:p1 under links', '4:34 nodes.h.ports.p2: not connected: add a link to h:p2 under links', "6:14 links.0.endpoints.1: hub 'h' has no port 'p9' (it has: p1, p2)"]);
  });

  it('dns recursion: root hints and an allow-list, checked; the root zone "."; not with upstreams', () => {
    const lab = (dns: string): string[] =>
      problems(`name: x
nodes:
  pc: { kind: host, interfaces: { eth0: { dhcp: true } } }
  gw: { kind: router, interfaces: { lan: { address: 192.168.1.1/24, dhcp: true } }, dns: ${dns} }
links: [[pc:eth0, gw:lan]]
`);
    expect(lab('{ zone: home, recursion: { roots: [10.53.0.2], allow: [192.168.1.0/24, 10.0.0.7] } }')).toEqual([]);
    expect(lab('{ zone: ".", records: ["test. NS ns.test.", "ns.test. A 10.53.0.3"] }')).toEqual([]);
    expect(lab('{ recursion: { roots: [] } }')[0]).toMatch(/nodes\.gw\.dns\.recursion\.roots: at least one root server address/);
    expect(lab('{ recursion: { roots: [10.53.0.300] } }')[0]).toMatch(/nodes\.gw\.dns\.recursion\.roots\.0: '10\.53\.0\.300': expected a root server's IPv4 address/);
    expect(lab('{ recursion: { roots: [10.53.0.2], allow: [10.0.0.0/33] } }')[0]).toMatch(/nodes\.gw\.dns\.recursion\.allow\.0: '10\.0\.0\.0\/33': expected a network/);
    expect(lab('{ recursion: { roots: [10.53.0.2], hints: [] } }')[0]).toMatch(/nodes\.gw\.dns\.recursion\.hints: unknown field \(expected one of: roots, allow\)/);
    expect(lab('{ upstreams: [10.0.2.3], recursion: { roots: [10.53.0.2] } }')[0]).toMatch(/nodes\.gw\.dns\.recursion: a server forwards to upstreams or recurses from the roots, not both/);
    const ok = parseTopology(readFileSync(join(LABS, 'dns-hierarchy.yaml'), 'utf8'), 'dns-hierarchy.yaml');
    const home = ok.ok ? ok.topology.nodes.find((n) => n.name === 'dh-home') : undefined;
    expect(home?.kind === 'router' && home.dns?.recursion?.roots).toEqual([0x0a350002]);
  });

  it('iperf3 and smallServices: on a router, checked, off by default; not on a host', () => {
    const lab = (router: string, host = ''): ReturnType<typeof parseTopology> =>
      parseTopology(
        `name: x
nodes:
  pc: { kind: host, interfaces: { eth0: { address: 10.1.0.10/24 } }${host} }
  gw: { kind: router, interfaces: { lan: { address: 10.1.0.1/24 } }${router} }
links: [[pc:eth0, gw:lan]]
`,
        't.yaml',
      );
    const gw = (r: ReturnType<typeof parseTopology>) => (r.ok ? r.topology.nodes.find((n) => n.name === 'gw') : undefined);
    const plain = gw(lab(''));
    expect(plain?.kind === 'router' && [plain.iperf3, plain.smallServices]).toEqual([false, []]);
    const on = gw(lab(', iperf3: true, smallServices: [echo, chargen, echo]'));
    expect(on?.kind === 'router' && [on.iperf3, on.smallServices]).toEqual([true, ['echo', 'chargen']]);
    const all = gw(lab(', smallServices: all'));
    expect(all?.kind === 'router' && all.smallServices).toEqual(['echo', 'discard', 'chargen', 'daytime', 'time']);
    const problemsOf = (r: ReturnType<typeof parseTopology>): string[] => (r.ok ? [] : r.problems.map((p) => `${p.field}: ${p.message}`));
    expect(problemsOf(lab(', smallServices: [echo, qotd]'))[0]).toMatch(/nodes\.gw\.smallServices\.1: 'qotd': expected one of echo, discard, chargen, daytime, time/);
    expect(problemsOf(lab(', iperf3: yes please'))[0]).toMatch(/nodes\.gw\.iperf3: expected true or false/);
    expect(problemsOf(lab('', ', iperf3: true'))[0]).toMatch(/nodes\.pc\.iperf3: not a field of a host/);
  });

  it('dual stack: IPv6 addresses in the same fields, IPv6 routes by their prefix', () => {
    const r = parseTopology(readFileSync(join(LABS, 'two-lans.yaml'), 'utf8'), 'two-lans.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const pc = r.topology.nodes.find((n) => n.name === 'lan1-pc')!;
    expect(pc.kind === 'host' && pc.interfaces[0]!.addresses6.map((a) => a.prefixLength)).toEqual([64]);
    expect(pc.kind === 'host' && pc.routes6.map((x) => x.text)).toEqual(['::/0 via fd00:1::1']);
    expect(pc.kind === 'host' && pc.routes.map((x) => x.text)).toEqual(['default via 10.1.0.1']);
    const lab = (address: string, route: string): string[] =>
      problems(`name: x
nodes:
  a: { kind: host, interfaces: { eth0: { address: ${address} } }, routes: ['${route}'] }
  s: { kind: switch, ports: { p1: {} } }
links: [[a:eth0, s:p1]]
`);
    expect(lab('fd00::5/64', 'fd01::/64 via fd00::1')).toEqual([]);
    expect(lab('fd00::5/64', '::/0 via fe80::1 dev eth0')).toEqual([]);
    expect(lab('fd00::zz/64', '::/0 dev eth0')[0]).toMatch(/'fd00::zz\/64' is not an IPv6 address with a prefix length/);
    expect(lab('fd00::5/64', '::/0 via fe80::1')[0]).toMatch(/gateway fe80::1 is not on a network .*link-local gateway needs dev/);
    expect(lab('fd00::5/64', 'fd01::/200 via fd00::1')[0]).toMatch(/not an IPv6 prefix/);
  });

  it('reports YAML syntax errors and a missing name or nodes', () => {
    expect(problems('name: [x\n')[0]).toMatch(/^\d+:\d+ : YAML: /);
    expect(problems('links: []\n')).toEqual(['1:1 name: missing (the lab name, e.g. name: two-lans)', '1:1 nodes: missing']);
    expect(problems('- 1\n- 2\n')[0]).toMatch(/expected a mapping/);
  });

  it('parses tc-style rates', () => {
    expect(parseRate('10mbit')).toBe(10e6);
    expect(parseRate('512kbit')).toBe(512e3);
    expect(parseRate('1.5gbit')).toBe(1.5e9);
    expect(parseRate('10')).toBeUndefined();
    expect(parseRate('0mbit')).toBeUndefined();
  });

  it('never throws, whatever the text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        parseTopology(text, 'fuzz.yaml');
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: GOOD.length - 1 }), fc.string({ maxLength: 5 }), (at, junk) => {
        parseTopology(GOOD.slice(0, at) + junk + GOOD.slice(at), 'mutated.yaml');
      }),
    );
  });
});
