/** The lb: block of a lab file: the shipped lab parses, and each mistake is one line naming its field. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTopology, type TopologyProblem } from '../../../../src/runtime/topology.js';

const LAB = resolve(import.meta.dirname, '../../../../labs/load-balancer.yaml');

function problems(text: string): string[] {
  const r = parseTopology(text, 't.yaml');
  return r.ok ? [] : r.problems.map((p: TopologyProblem) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
}

const lab = (service: string, kind = 'lb'): string => `name: t
nodes:
  c: { kind: host, interfaces: { eth0: { address: 10.20.0.10/24 } } }
  lb:
    kind: ${kind}
    interfaces: { front: { address: 10.20.0.1/24 } }
    lb:
      web:
${service}
links:
  - [c:eth0, lb:front]
`;

describe('lb: in a lab file', () => {
  it('parses labs/load-balancer.yaml into three services on an lb node', () => {
    const r = parseTopology(readFileSync(LAB, 'utf8'), LAB);
    expect(r.ok ? [] : r.problems).toEqual([]);
    if (!r.ok) return;
    const lb = r.topology.nodes.find((n) => n.name === 'lb');
    expect(lb?.kind === 'router' && lb.lbNode).toBe(true);
    expect(lb?.kind === 'router' ? lb.lb?.map((s) => `${s.name} ${s.mode} ${s.scheduler} ${s.backends.length}`) : []).toEqual(['web http roundrobin 3', 'tcp proxy leastconn 3', 'nat nat roundrobin 3']);
    const client = r.topology.nodes.find((n) => n.name === 'lb-client');
    expect(client?.kind === 'host' ? client.resolvers : []).toEqual([0x0a140001]);
  });

  it('a router may carry lb: too; defaults fill in mode, scheduler and timeouts', () => {
    const r = parseTopology(lab('        listen: 10.20.0.1:80\n        backends: { a: 10.30.0.1:80 }', 'router'), 't.yaml');
    expect(r.ok).toBe(true);
    const node = r.ok ? r.topology.nodes.find((n) => n.name === 'lb') : undefined;
    const s = node?.kind === 'router' ? node.lb?.[0] : undefined;
    expect(s?.mode).toBe('proxy');
    expect(s?.scheduler).toBe('roundrobin');
    expect(s?.timeouts.connectMs).toBeGreaterThan(0);
  });

  it('reports each mistake with its field', () => {
    expect(problems(lab('        listen: 10.20.0.9:80\n        backends: { a: 10.30.0.1:80 }'))).toEqual([
      "9:17 nodes.lb.lb.web.listen: 10.20.0.9 is not an address of this node (it has: 10.20.0.1): give an interface the VIP",
    ]);
    expect(problems(lab('        listen: 10.20.0.1:80\n        mode: roundrobin\n        backends: { a: 10.30.0.1:80 }'))[0]).toMatch(/nodes\.lb\.lb\.web\.mode: 'roundrobin': expected nat, proxy, http/);
    expect(problems(lab('        listen: 10.20.0.1:80\n        scheduler: random\n        backends: { a: 10.30.0.1:80 }'))[0]).toMatch(/nodes\.lb\.lb\.web\.scheduler: 'random': expected roundrobin, weighted, leastconn, sourcehash/);
    expect(problems(lab('        listen: 10.20.0.1:80\n        backends: { a: 10.30.0.1 }'))[0]).toMatch(/nodes\.lb\.lb\.web\.backends\.a: '10\.30\.0\.1': expected ADDRESS:PORT/);
    expect(problems(lab('        listen: 10.20.0.1:53/udp\n        mode: proxy\n        backends: { a: 10.30.0.1:53 }'))[0]).toMatch(/nodes\.lb\.lb\.web\.mode: a UDP service needs mode: nat/);
    expect(problems(lab('        listen: 10.20.0.1:80\n        mode: http\n        backends: { a: 10.30.0.1:80 }\n        routes: [{ host: x.lab, backends: [b] }]'))[0]).toMatch(/nodes\.lb\.lb\.web\.routes\.0\.backends\.0: no backend 'b' in this service/);
    expect(problems(lab('        listen: 10.20.0.1:80\n        backends: { a: 10.30.0.1:80 }\n        health: { check: PING }'))[0]).toMatch(/nodes\.lb\.lb\.web\.health\.check: 'PING': expected tcp or GET \/PATH/);
    expect(problems(lab('        listen: 10.20.0.1:80\n        backends: { a: { address: 10.30.0.1:80, weight: 1000 } }'))[0]).toMatch(/weight: expected an integer from 0 to 256/);
  });

  it('an lb node needs its lb: block', () => {
    expect(problems('name: t\nnodes:\n  lb: { kind: lb, interfaces: {} }\n')[0]).toMatch(/nodes\.lb\.lb: /);
  });
});
