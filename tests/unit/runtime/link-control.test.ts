import { describe, expect, it } from 'vitest';
import { findLink, parseLinkEnd } from '../../../src/runtime/link-control.js';
import { parseTopology, type Topology } from '../../../src/runtime/topology.js';

const FILE = `name: t
nodes:
  pc: { kind: host, interfaces: { eth0: { address: 10.1.0.10/24 } }, routes: [default via 10.1.0.1] }
  r1: { kind: router, interfaces: { lan: { address: 10.1.0.1/24 }, w1: { address: 10.9.1.1/30 }, w2: { address: 10.9.2.1/30 } } }
  r2: { kind: router, interfaces: { w1: { address: 10.9.1.2/30 }, w2: { address: 10.9.2.2/30 } } }
links:
  - [pc:eth0, r1:lan]
  - [r1:w1, r2:w1]
  - [r1:w2, r2:w2]
`;

function topology(): Topology {
  const r = parseTopology(FILE, 't.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.topology;
}

describe('tapnet link down|up: which link the two ends name', () => {
  it('parses NODE and NODE:PORT, refuses anything else', () => {
    expect(parseLinkEnd('r1')).toEqual({ node: 'r1' });
    expect(parseLinkEnd('r1:w2')).toEqual({ node: 'r1', port: 'w2' });
    for (const bad of ['', 'R1', 'r1:', ':w1', 'r1:w1:x', 'r 1', 'a'.repeat(40)]) expect(parseLinkEnd(bad)).toBeUndefined();
  });

  it('finds the one link, in either order; asks for ports when two nodes share several; names the field that is wrong', () => {
    const t = topology();
    expect(findLink(t, { node: 'r1' }, { node: 'pc' })).toEqual({ ok: true, index: 0 });
    expect(findLink(t, { node: 'r2', port: 'w2' }, { node: 'r1' })).toEqual({ ok: true, index: 2 });
    const both = findLink(t, { node: 'r1' }, { node: 'r2' });
    expect(both).toMatchObject({ ok: false, field: 'A B' });
    expect(!both.ok && both.error).toMatch(/2 links join r1 and r2: name the ports \(r1:w1 — r2:w1; r1:w2 — r2:w2\)/);
    expect(findLink(t, { node: 'r9' }, { node: 'r2' })).toMatchObject({ ok: false, field: 'A' });
    expect(findLink(t, { node: 'r1' }, { node: 'r2', port: 'eth7' })).toMatchObject({ ok: false, field: 'B', error: "r2 has no linked interface or port 'eth7'" });
    const none = findLink(t, { node: 'pc' }, { node: 'r2' });
    expect(!none.ok && none.error).toMatch(/no link between pc and r2 in t\.yaml \(links of pc: pc:eth0 — r1:lan\)/);
  });
});
