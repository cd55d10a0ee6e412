/**
 * labs/home-nat.yaml against the kernel: two PCs lease addresses with busybox
 * udhcpc from the tapnet router's DHCP server, reach "the internet" through
 * its masquerade (the web host sees only the router's public address), and
 * traceroute through it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { inNetns, netnsExists } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

describe('labs/home-nat.yaml: DHCP and NAT behind a home router', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/home-nat.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('both PCs leased an address from the pool and the router as gateway', () => {
    for (const pc of ['hn-laptop', 'hn-phone']) {
      const addr = inNetns(pc, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']).stdout;
      expect(addr, pc).toMatch(/inet 192\.168\.1\.1\d\d\/24/);
      expect(inNetns(pc, 'ip', ['route', 'show', 'default']).stdout, pc).toContain('default via 192.168.1.1 dev eth0');
    }
  });

  it('the web host sees the router public address, not the PC', async () => {
    const dump = spawn('ip', ['netns', 'exec', 'hn-web', 'tcpdump', '-c', '1', '-nli', 'eth0', 'icmp[icmptype] == icmp-echo'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    dump.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    const done = new Promise((r) => dump.on('exit', r));
    await new Promise((r) => setTimeout(r, 1000)); // tcpdump has no readiness signal
    const r = inNetns('hn-laptop', 'ping', ['-c', '2', '-i', '0.3', '-W', '2', '198.51.100.80']);
    expect(r.stdout).toContain('2 received');
    await Promise.race([done, new Promise((res) => setTimeout(res, 5000))]);
    dump.kill();
    expect(seen).toMatch(/IP 198\.51\.100\.2 > 198\.51\.100\.80: ICMP echo request/);
  });

  it('traceroute through the NAT shows the router, then the web host', () => {
    const r = inNetns('hn-phone', 'traceroute', ['-n', '-w', '2', '-q', '1', '198.51.100.80']);
    const hops = r.stdout.split('\n').slice(1).map((l) => /^\s*\d+\s+(\S+)/.exec(l)?.[1]).filter(Boolean);
    expect(hops, r.stdout).toEqual(['192.168.1.1', '198.51.100.80']);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});
