/**
 * The shipped labs against the real kernel: each is brought up with
 * `tapnet lab up`, checked with ping, arping, traceroute (UDP, ICMP, TCP) and
 * scapy from its host namespaces, and taken down with `tapnet lab down`,
 * which must leave no namespace behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, inNetns, netnsExists } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

/** traceroute -n output → the address answering each hop ("*" when none did). */
function hops(output: string): string[] {
  return output
    .split('\n')
    .slice(1)
    .map((line) => /^\s*\d+\s+(\S+)/.exec(line)?.[1])
    .filter((h): h is string => h !== undefined);
}

describe('labs/lan.yaml: three PCs on one switch', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/lan.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('every PC reaches every other through the switch', () => {
    for (const [from, to] of [
      ['lan-pc1', '10.0.0.2'],
      ['lan-pc1', '10.0.0.3'],
      ['lan-pc2', '10.0.0.3'],
    ] as const) {
      const r = inNetns(lab.ns(from), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', to]);
      expect(r.stdout, `${from} → ${to}`).toContain('2 received');
    }
  });

  it('learnt each PC on its own port: tapnet show mac', () => {
    const r = lab.cli(['show', 'mac', '--lab', lab.file]);
    expect(r.status, r.stderr).toBe(0);
    for (const port of ['p1', 'p2', 'p3']) expect(r.stdout).toMatch(new RegExp(`vlan 1 +[0-9a-f:]{17} +${port} `));
    const json = JSON.parse(lab.cli(['show', 'mac', '--json', '--lab', lab.file]).stdout) as Record<string, { port: string }[]>;
    expect(json[lab.node('sw1')]!.map((e) => e.port).sort()).toEqual(['p1', 'p2', 'p3']);
    const ports = lab.cli(['show', 'ports', '--lab', lab.file, '--node', lab.node('sw1')]);
    expect(ports.stdout).toMatch(/^p1 +access 1 +[1-9]/m);
  });

  it('survives a MAC flood past its cap (macof): stops learning, counts it, PCs still talk', () => {
    // 2000 frames from random source MACs, from lan-pc3 (the table holds 256).
    const script =
      'from scapy.all import Ether, IP, sendp, RandMAC\n' +
      'sendp([Ether(src=RandMAC(), dst=RandMAC())/IP(dst="10.0.0.99") for _ in range(2000)], iface="eth0", verbose=0)\n';
    const r = inNetns(lab.ns('lan-pc3'), PYTHON, ['-c', script], { timeoutMs: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const stats = lab.stats(lab.node('sw1'));
    expect(stats.swMacTableFull).toBeGreaterThan(500); // about half of RandMAC's addresses are unicast
    expect(stats.swInBadSource).toBeGreaterThan(0); // RandMAC also makes group addresses: never learnt
    expect(inNetns(lab.ns('lan-pc1'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.0.2']).stdout).toContain('2 received');
  });

  it('lab status names the switch; lab down removes every namespace', async () => {
    const s = lab.cli(['lab', 'status', lab.file]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(new RegExp(`${lab.node('sw1')} +switch +3 ports`));
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});

describe('labs/two-lans.yaml: two LANs behind one tapnet router', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/two-lans.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('ping crosses the router with TTL 63', () => {
    const r = inNetns(lab.ns('lan1-pc'), 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']);
    expect(r.stdout).toContain('3 received');
    expect(r.stdout).toContain('ttl=63');
  });

  for (const [flag, name] of [
    [[], 'UDP'],
    [['-I'], 'ICMP'],
    [['-T'], 'TCP'],
  ] as const) {
    it(`traceroute ${name} (${flag.join('') || 'default'}) shows 10.1.0.1 then 10.2.0.10`, () => {
      const r = inNetns(lab.ns('lan1-pc'), 'traceroute', ['-n', ...flag, '-w', '2', '-q', '1', '10.2.0.10']);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(hops(r.stdout)).toEqual(['10.1.0.1', '10.2.0.10']);
    });
  }

  it('IPv6 too: ping -6 arrives with hop limit 63; traceroute -6 (UDP, ICMP) shows fd00:1::1 then fd00:2::10', () => {
    const r = inNetns(lab.ns('lan1-pc'), 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd00:2::10']);
    expect(r.stdout).toContain('2 received');
    expect(r.stdout).toContain('ttl=63');
    for (const flag of [[], ['-I']]) {
      const t = inNetns(lab.ns('lan1-pc'), 'traceroute', ['-6', '-n', ...flag, '-w', '2', '-q', '1', 'fd00:2::10']);
      expect(hops(t.stdout), t.stdout + t.stderr).toEqual(['fd00:1::1', 'fd00:2::10']);
    }
    expect(lab.stats(lab.node('r1')).Ip6OutForwDatagrams).toBeGreaterThanOrEqual(4);
    expect(lab.cli(['show', 'routes', '--lab', lab.file, '--node', lab.node('r1')]).stdout).toMatch(/fd00:2::\/64/);
  });

  it('answers TTL 0 and TTL 1 with time exceeded, counts them, and still forwards', () => {
    const before = lab.stats(lab.node('r1'));
    const script =
      'from scapy.all import IP, ICMP, sr1\n' +
      'for ttl in (0, 1):\n' +
      '  r = sr1(IP(dst="10.2.0.10", ttl=ttl)/ICMP(), timeout=2, verbose=0)\n' +
      '  print(ttl, r.src if r else None, r[ICMP].type if r else None)\n';
    const r = inNetns(lab.ns('lan1-pc'), PYTHON, ['-c', script]);
    expect(r.stdout.trim().split('\n'), r.stderr).toEqual(['0 10.1.0.1 11', '1 10.1.0.1 11']);
    const after = lab.stats(lab.node('r1'));
    expect(after.ipForwTtlExceeded! - before.ipForwTtlExceeded!).toBe(2);
    expect(inNetns(lab.ns('lan1-pc'), 'ping', ['-c', '1', '-W', '2', '10.2.0.10']).stdout).toContain('1 received');
  });

  it('network unreachable for a destination without a route', () => {
    const r = inNetns(lab.ns('lan1-pc'), 'ping', ['-c', '1', '-W', '2', '192.0.2.1']);
    expect(r.stdout).toMatch(/From 10\.1\.0\.1 .*Destination Net Unreachable/);
  });

  it('shows its routes and counters', () => {
    const routes = lab.cli(['show', 'routes', '--lab', lab.file, '--node', lab.node('r1')]);
    expect(routes.stdout).toContain('10.1.0.0/24 dev eth0');
    expect(routes.stdout).toContain('10.2.0.0/24 dev eth1');
    expect(lab.stats(lab.node('r1')).IpForwDatagrams).toBeGreaterThan(5);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});

describe('labs/vlans.yaml: two VLANs on one trunk, isolated until routed', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/vlans.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('a VLAN spans both switches over the trunk', () => {
    expect(inNetns(lab.ns('vl-red1'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.10.0.12']).stdout).toContain('2 received');
    expect(inNetns(lab.ns('vl-blue1'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.20.0.12']).stdout).toContain('2 received');
  });

  it('broadcasts never cross VLANs: arping from red for a blue address gets no answer', () => {
    const r = inNetns(lab.ns('vl-red1'), 'arping', ['-c', '2', '-w', '3', '-I', 'eth0', '10.20.0.11']);
    expect(r.stdout).toContain('Received 0 response');
  });

  it('a double-tagged frame from VLAN 10 is dropped at the first switch (VLAN hopping)', () => {
    const before = lab.stats(lab.node('sw1')).swInDoubleTagged!;
    const script =
      'from scapy.all import Ether, Dot1Q, IP, ICMP, sendp\n' +
      'sendp(Ether(dst="ff:ff:ff:ff:ff:ff")/Dot1Q(vlan=10)/Dot1Q(vlan=20)/IP(dst="10.20.0.12")/ICMP(), iface="eth0", count=3, verbose=0)\n';
    expect(inNetns(lab.ns('vl-red1'), PYTHON, ['-c', script]).status).toBe(0);
    expect(lab.stats(lab.node('sw1')).swInDoubleTagged! - before).toBe(3);
  });

  it('the router joins them: ping and traceroute from red to blue', () => {
    expect(inNetns(lab.ns('vl-red1'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.20.0.11']).stdout).toContain('2 received');
    const r = inNetns(lab.ns('vl-red1'), 'traceroute', ['-n', '-w', '2', '-q', '1', '10.20.0.12']);
    expect(hops(r.stdout)).toEqual(['10.10.0.1', '10.20.0.12']);
  });

  it('each switch learnt MACs per VLAN; the trunk carried both', () => {
    const json = JSON.parse(lab.cli(['show', 'mac', '--json', '--lab', lab.file]).stdout) as Record<string, { vid: number; port: string }[]>;
    expect(new Set(json[lab.node('sw1')]!.map((e) => e.vid))).toEqual(new Set([10, 20]));
    expect(json[lab.node('sw2')]!.some((e) => e.port === 'trunk' && e.vid === 10)).toBe(true);
    expect(json[lab.node('sw2')]!.some((e) => e.port === 'trunk' && e.vid === 20)).toBe(true);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});
