/** The `bgp:` block of a lab router: parsed into the speaker's config, every mistake reported at its line. */
import { describe, expect, it } from 'vitest';
import { parseTopology, type TopologyProblem } from '../../../../src/runtime/topology.js';
import { formatPrefix } from '../../../../src/services/bgp/prefix.js';

const lab = (bgp: string) => `name: t
nodes:
  r:
    kind: router
    interfaces:
      eth0: { addresses: [10.0.0.1/24] }
    bgp:
${bgp}
  h:
    kind: host
    interfaces:
      eth0: { addresses: [10.0.0.2/24] }
links:
  - [r:eth0, h:eth0]
`;

describe('lab file bgp:', () => {
  it('parses neighbours, networks and policies', () => {
    const r = parseTopology(
      lab(`      as: 4200000001
      routerId: 10.0.0.1
      networks: [10.9.0.0/16, 2001:db8::/32]
      neighbors:
        - { address: 10.0.0.2, as: 65002, passive: true, maxPrefix: 10, maxPrefixRestart: 60, mrai: 0, import: [{ match: { prefix: 10.0.0.0/8, le: 24, asPath: _65010_ }, set: { localPref: 50, community: ["65001:7"] } }] }`),
      't.yaml',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const router = r.topology.nodes.find((n) => n.name === 'r');
    const bgp = router && router.kind === 'router' ? router.bgp : undefined;
    expect(bgp?.as).toBe(4200000001);
    expect(bgp?.routerId).toBe(0x0a000001);
    expect(bgp?.networks.map(formatPrefix)).toEqual(['10.9.0.0/16', '2001:db8::/32']);
    expect(bgp?.neighbors[0]).toMatchObject({ address: '10.0.0.2', as: 65002, passive: true, maxPrefix: 10, maxPrefixRestart: 60, mrai: 0 });
    const rule = bgp!.neighbors[0]!.import![0]!;
    expect(rule.match!.asPath!.test('65001 65010 65020')).toBe(true);
    expect(rule.match!.asPath!.test('65001 650100')).toBe(false);
    expect(rule.set).toEqual({ localPref: 50, community: [((65001 << 16) | 7) >>> 0] });
  });

  it('reports each mistake with its line, column and field', () => {
    const r = parseTopology(
      lab(`      as: 0
      routerId: 10.0.0.256
      networks: [10.9.0.0/33]
      neighbors:
        - { address: 10.0.0.2, as: 65002, holdTime: 2 }
        - { address: 10.0.0.2, as: 65003, import: [{ set: { community: ["70000:1"] } }] }
        - { address: 10.0.0.3, as: 65003, mrai: -1 }`),
      't.yaml',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p: TopologyProblem) => `${p.line}:${p.column} ${p.field}: ${p.message}`)).toEqual([
      '8:11 nodes.r.bgp.as: expected an integer from 1 to 4294967295, got 0',
      "9:17 nodes.r.bgp.routerId: '10.0.0.256': expected an IPv4 address",
      "10:18 nodes.r.bgp.networks.0: '10.9.0.0/33': expected a prefix like 10.1.0.0/16 or 2001:db8::/32",
      '12:53 nodes.r.bgp.neighbors.0.holdTime: hold time must be 0 or at least 3 seconds (RFC 4271 §4.2)',
      "13:73 nodes.r.bgp.neighbors.1.import.0.set.community.0: '70000:1': expected a community like 65001:100, or no-export / no-advertise",
      '14:49 nodes.r.bgp.neighbors.2.mrai: expected an integer from 0 to 3600, got -1',
    ]);
  });
});
