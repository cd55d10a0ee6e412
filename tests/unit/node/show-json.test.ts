/**
 * `tapnet show TABLE --json` (issue 14 item 9): every table is data, not the
 * text table wrapped in a string. A router behind masquerade, after one ping
 * through it: conntrack, NAT, routes, ARP, interfaces and TCP as rows.
 */
import { describe, expect, it } from 'vitest';
import { natRig } from '../netfilter/nat/nat-rig.js';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';

const WEB = parseIpv4('203.0.113.10')!;

describe('show --json', () => {
  it('gives rows for every table of a NAT router', async () => {
    const { gw, pc1, run } = natRig({ nat: { source: [{ outInterface: 'wan' }] }, firewall: { policy: { forward: 'accept' } } });
    const replies = await run(pc1.ping(WEB, { count: 1, intervalMs: 100 }));
    expect(replies[0]!.rttMs).toBeDefined();

    const conntrack = gw.showJson('conntrack') as { max: number; entries: Record<string, unknown>[] };
    expect(conntrack.entries).toHaveLength(1);
    expect(conntrack.entries[0]).toMatchObject({
      protocol: 'icmp',
      original: { src: '10.0.0.10', dst: '203.0.113.10', packets: 1 },
      reply: { src: '203.0.113.10', dst: '203.0.113.1', packets: 1 },
      unreplied: false,
    });
    const nat = gw.showJson('nat') as { rules: string[]; mappings: { internal: string; external: string }[] };
    expect(nat.rules[0]).toMatch(/^masquerade out wan/);
    expect(nat.mappings[0]!.internal).toMatch(/^10\.0\.0\.10:/);

    const routes = gw.showJson('routes') as { family: number; destination: string; interface: string }[];
    expect(routes).toContainEqual(expect.objectContaining({ family: 4, destination: '10.0.0.0/24', interface: 'lan' }));
    const arp = gw.showJson('arp') as { address: string; state: string; mac: string | null; interface: string }[];
    expect(arp).toContainEqual(expect.objectContaining({ address: '10.0.0.10', interface: 'lan' }));
    expect(arp.every((e) => typeof e.state === 'string')).toBe(true);
    const interfaces = gw.showJson('interfaces') as { name: string; mtu: number; ipv4: string[] }[];
    expect(interfaces.map((i) => i.name)).toEqual(['lan', 'wan']);
    expect(interfaces[0]!.ipv4).toEqual(['10.0.0.1/24']);
    const firewall = gw.showJson('firewall') as { chain: string; policy: string; packets: number; rules: unknown[] }[];
    expect(firewall.find((c) => c.chain === 'forward')).toMatchObject({ policy: 'accept', packets: expect.any(Number), rules: [] });
    expect(gw.showJson('tcp')).toEqual({ listeners: [], connections: [] });
    expect((gw.showJson('stats') as Record<string, number>).IpForwDatagrams).toBe(2);
    for (const table of ['conntrack', 'nat', 'routes', 'arp', 'neigh', 'interfaces', 'tcp', 'stats', 'hooks']) {
      expect(typeof gw.showJson(table), table).not.toBe('string');
    }
  });
});
