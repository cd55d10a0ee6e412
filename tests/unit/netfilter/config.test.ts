/**
 * The nat:/firewall:/conntrack: blocks of a router in a lab file, through the
 * topology parser: what they become, and every mistake with its line.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology, formatProblem, type RouterNodeSpec } from '../../../src/runtime/topology.js';
import { parsePublish } from '../../../src/netfilter/config.js';
import { IpProtocol } from '../../../src/l3/ip-protocol.js';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';

const lab = (routerExtra: string): string => `name: t
nodes:
  pc:
    kind: host
    interfaces:
      eth0: { address: 10.0.0.10/24 }
    routes: [default via 10.0.0.1]
  gw:
    kind: router
    interfaces:
      lan: { address: 10.0.0.1/24 }
      wan: { address: 203.0.113.1/24 }
${routerExtra}
  web:
    kind: host
    interfaces:
      eth0: { address: 203.0.113.10/24 }
links:
  - [pc:eth0, gw:lan]
  - [gw:wan, web:eth0]
`;

function router(extra: string): RouterNodeSpec {
  const r = parseTopology(lab(extra), 't.yaml');
  if (!r.ok) throw new Error(r.problems.map((p) => formatProblem('t.yaml', p)).join('\n'));
  return r.topology.nodes.find((n) => n.name === 'gw') as RouterNodeSpec;
}

function problems(extra: string): string[] {
  const r = parseTopology(lab(extra), 't.yaml');
  return r.ok ? [] : r.problems.map((p) => formatProblem('t.yaml', p));
}

describe('router netfilter blocks in a lab file', () => {
  it('reads masquerade, publish, firewall and conntrack', () => {
    const gw = router(`    nat:
      masquerade: wan
      publish:
        - tcp 8080 -> 10.0.0.10:80
        - udp 203.0.113.1:5353 -> 10.0.0.10:53 in wan
      filtering: endpoint-independent
    firewall:
      policy: { forward: drop }
      rules:
        - forward state established,related accept
        - forward in lan out wan accept
    conntrack:
      max: 1000
      timeouts: { udp: 600, tcpEstablished: 86400 }`);
    const nf = gw.netfilter!;
    expect(nf.nat!.source).toEqual([{ outInterface: 'wan' }]);
    expect(nf.nat!.publish).toEqual([
      { protocol: IpProtocol.TCP, port: 8080, to: parseIpv4('10.0.0.10'), toPort: 80 },
      { protocol: IpProtocol.UDP, port: 5353, to: parseIpv4('10.0.0.10'), toPort: 53, address: parseIpv4('203.0.113.1'), inInterface: 'wan' },
    ]);
    expect(nf.nat!.filtering).toBe('endpoint-independent');
    expect(nf.firewall!.policy).toEqual({ forward: 'drop' });
    expect(nf.firewall!.rules!.map((r) => r.action)).toEqual(['accept', 'accept']);
    expect(nf.conntrack).toEqual({ max: 1000, timeouts: { udpReplied: 600_000, tcp: { ESTABLISHED: 86_400_000 } } });
  });

  it('leaves a router without these blocks alone', () => {
    expect(router('').netfilter).toBeUndefined();
  });

  it('reports each mistake at its line', () => {
    const found = problems(`    nat:
      masquerade: [wan, dsl]
      publish:
        - tcp 8080 to 10.0.0.10:80
      hairpin: sometimes
    firewall:
      policy: { forward: reject }
      rules:
        - forward in eth9 accept
        - sideways accept`);
    expect(found).toEqual([
      "t.yaml:14:25: nodes.gw.nat.masquerade.1: no interface 'dsl' on this router (it has: lan, wan)",
      expect.stringMatching(/^t\.yaml:16:11: nodes\.gw\.nat\.publish\.0: 'tcp 8080 to 10\.0\.0\.10:80': expected/),
      't.yaml:17:16: nodes.gw.nat.hairpin: expected true or false',
      't.yaml:19:26: nodes.gw.firewall.policy.forward: expected accept or drop',
      "t.yaml:21:11: nodes.gw.firewall.rules.0: no interface 'eth9' on this router (it has: lan, wan)",
      expect.stringMatching(/^t\.yaml:22:11: nodes\.gw\.firewall\.rules\.1: firewall rule 'sideways accept': starts with a chain/),
    ]);
  });
});

describe('publish text (like docker run -p)', () => {
  it.each([
    ['8080 -> 10.0.0.10:80', { protocol: 6, port: 8080, toPort: 80 }],
    ['udp 53 → 10.0.0.10:5353', { protocol: 17, port: 53, toPort: 5353 }],
  ])('reads %j', (text, expected) => {
    const r = parsePublish(text);
    expect(r.ok && r.rule).toMatchObject(expected);
  });

  it.each(['8080', 'tcp 8080 -> 10.0.0.300:80', 'tcp 0 -> 10.0.0.1:80', 'sctp 1 -> 10.0.0.1:1'])('refuses %j', (text) => {
    expect(parsePublish(text).ok).toBe(false);
  });
});

describe('uplink: in a lab file', () => {
  it('reads true and { hostAlias }', () => {
    expect(router('    uplink: true').uplink).toEqual({});
    expect(router('    uplink: { hostAlias: 10.0.2.2 }').uplink).toEqual({ hostAlias: parseIpv4('10.0.2.2') });
    expect(router('').uplink).toBeUndefined();
  });

  it('reports a bad alias and unknown fields', () => {
    expect(problems('    uplink: { hostAlias: localhost, mtu: 9000 }')).toEqual([
      't.yaml:13:26: nodes.gw.uplink.hostAlias: expected an IPv4 address (slirp uses 10.0.2.2)',
      't.yaml:13:37: nodes.gw.uplink.mtu: unknown field (expected hostAlias)',
    ]);
  });
});
