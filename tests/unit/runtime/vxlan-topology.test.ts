import { describe, expect, it } from 'vitest';
import { parseTopology, type Topology, type TopologyProblem } from '../../../src/runtime/topology.js';
import { PartError, selectPart } from '../../../src/runtime/vxlan.js';

function problems(text: string): string[] {
  const r = parseTopology(text, 't.yaml');
  if (r.ok) return [];
  return r.problems.map((p: TopologyProblem) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
}

function good(text: string): Topology {
  const r = parseTopology(text, 't.yaml');
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('; '));
  return r.topology;
}

const TWO_SITES = `name: sites
nodes:
  pc1: { kind: host, part: a, interfaces: { eth0: { address: 10.5.0.1/24 } } }
  sw1: { kind: switch, part: a, ports: { p1: {}, wan: {} } }
  pc2: { kind: host, part: b, interfaces: { eth0: { address: 10.5.0.2/24 } } }
  r2: { kind: router, part: b, interfaces: { eth0: { address: 10.5.0.254/24 } } }
links:
  - [pc1:eth0, sw1:p1]
  - [sw1:wan, { vxlan: { vni: 42, remote: 192.0.2.2, local: 192.0.2.1, netns: ula } }]
  - endpoints: [{ vxlan: { vni: 42, remote: [192.0.2.1], local: 192.0.2.2, port: 8472 } }, pc2:eth0]
    mtu: 1400
  - [r2:eth0, { vxlan: { vni: 43, remote: "2001:db8::0:1" } }]
`;

describe('VXLAN links and parts in lab files', () => {
  it('reads VXLAN ends as their own links, with defaults', () => {
    const t = good(TWO_SITES);
    expect(t.links).toHaveLength(1);
    expect(t.vxlanLinks.map((l) => [l.end.node, l.end.port, l.vxlan, l.mtu])).toEqual([
      ['sw1', 'wan', { vni: 42, remotes: ['192.0.2.2'], local: '192.0.2.1', family: 4, port: 4789, netns: 'ula' }, undefined],
      ['pc2', 'eth0', { vni: 42, remotes: ['192.0.2.1'], local: '192.0.2.2', family: 4, port: 8472 }, 1400],
      ['r2', 'eth0', { vni: 43, remotes: ['2001:db8::1'], family: 6, port: 4789 }, undefined],
    ]);
  });

  it('selects a part: its nodes and links, named NAME-PART', () => {
    const a = selectPart(good(TWO_SITES), 'a');
    expect(a.name).toBe('sites-a');
    expect(a.nodes.map((n) => n.name)).toEqual(['pc1', 'sw1']);
    expect(a.links).toHaveLength(1);
    expect(a.vxlanLinks.map((l) => l.end.node)).toEqual(['sw1']);
    expect(selectPart(good(TWO_SITES), 'b').vxlanLinks.map((l) => l.end.node)).toEqual(['pc2', 'r2']);
    expect(() => selectPart(good(TWO_SITES), 'c')).toThrow(PartError);
    expect(() => selectPart(good(TWO_SITES), undefined)).toThrow(/split into parts \(a, b\): bring one up with --part NAME/);
  });

  it('reports bad VXLAN ends and parts at their line and column', () => {
    expect(
      problems(`name: bad
nodes:
  s1: { kind: switch, part: a, ports: { p1: {}, p2: {}, p3: {}, p4: {} } }
  s2: { kind: switch, part: b, ports: { p1: {} } }
  s3: { kind: switch, ports: { p1: {} } }
links:
  - [s1:p1, { vxlan: { vni: 16777216, remote: 192.0.2.1 } }]
  - [s1:p2, { vxlan: { vni: 1, remote: [192.0.2.1, "2001:db8::1"], colour: red } }]
  - [s1:p3, { vxlan: { vni: 1 } }]
  - [s1:p4, s2:p1]
  - [{ vxlan: { vni: 1, remote: 192.0.2.1 } }, { vxlan: { vni: 2, remote: 192.0.2.1 } }]
  - endpoints: [s3:p1, { vxlan: { vni: 5, remote: 192.0.2.1 } }]
    impairment: { loss: 1% }
`),
    ).toEqual([
      '5:3 nodes.s3: this lab is split into parts: give s3 one (part: NAME)',
      '7:29 links.0.endpoints.1.vxlan.vni: expected an integer from 0 to 16777215, got 16777216',
      '8:40 links.1.endpoints.1.vxlan.remote: the remotes mix IPv4 and IPv6: one underlay family per tunnel',
      '8:68 links.1.endpoints.1.vxlan.colour: not a field of vxlan (expected one of: vni, remote, local, port, netns)',
      '9:15 links.2.endpoints.1.vxlan.remote: missing (the address of the other VTEP, or a list)',
      '10:5 links.3: s1 (part a) and s2 (part b) run on different machines: join them with a VXLAN link in each part ([s1:p4, { vxlan: {...} }])',
      '11:5 links.4: a VXLAN link needs a node at its other end (NODE:INTERFACE)',
      '13:5 links.5.impairment: a VXLAN link has no impairment here (impair the underlay, or a link inside the lab)',
    ]);
  });
});
