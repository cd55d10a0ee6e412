/**
 * labs/isp.yaml against the kernel: traceroute through three tapnet routers,
 * path MTU discovery across the smaller core link, iperf3 over the lossy,
 * rate-limited WAN link, and strict reverse-path filtering at the ISP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { inNetns, netnsExists } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

describe('labs/isp.yaml: three routers, a lossy slow WAN', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/isp.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('traceroute shows every hop (UDP and ICMP probes)', () => {
    for (const flag of [[], ['-I']]) {
      const r = inNetns(lab.ns('isp-home'), 'traceroute', ['-n', ...flag, '-w', '2', '-q', '3', '10.2.0.10']);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const lines = r.stdout.split('\n').slice(1).filter(Boolean);
      const expected = ['10.1.0.1', '100.64.0.2', '100.64.1.2', '10.2.0.10'];
      expect(lines, r.stdout).toHaveLength(4);
      // Three probes a hop over a 1% loss link: at least one of each answers.
      lines.forEach((line, i) => expect(line, r.stdout).toContain(expected[i]!));
    }
  });

  it('the WAN link delays: RTT of at least 40 ms (20 ms each way)', () => {
    const r = inNetns(lab.ns('isp-home'), 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']);
    const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1]);
    expect(avg, r.stdout).toBeGreaterThanOrEqual(38);
  });

  it('fragments for the 1400-byte core link; with DF set answers fragmentation needed with the MTU', () => {
    // First without DF (before the kernel has learnt the path MTU): the ISP router fragments, the server answers.
    const f = inNetns(lab.ns('isp-home'), 'ping', ['-c', '2', '-i', '0.3', '-W', '3', '-M', 'dont', '-s', '1450', '10.2.0.10']);
    expect(f.stdout).toMatch(/[12] received/);
    expect(lab.stats(lab.node('isp')).ipFragCreates).toBeGreaterThan(0);
    const r = inNetns(lab.ns('isp-home'), 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '1450', '10.2.0.10']);
    expect(r.stdout + r.stderr).toMatch(/mtu = 1400/);
  });

  it('iperf3 TCP across the WAN stays under its 10 Mbit/s rate', async () => {
    const server = spawn('ip', ['netns', 'exec', lab.ns('isp-server'), 'iperf3', '-s', '-1', '-p', '5201'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 500)); // iperf3 -s has no readiness signal
      const r = inNetns(lab.ns('isp-home'), 'iperf3', ['-c', '10.2.0.10', '-p', '5201', '-t', '3', '-J'], { timeoutMs: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
      const mbps = result.end.sum_received.bits_per_second / 1e6;
      expect(mbps).toBeGreaterThan(0.3);
      expect(mbps).toBeLessThan(10.5);
    } finally {
      server.kill();
    }
    const status = JSON.parse(lab.cli(['lab', 'status', '--json', lab.file]).stdout) as { links: { ends: string; counters?: { aToB: { frames: number } } }[] };
    const wan = status.links.find((l) => l.ends.startsWith(`${lab.node('cpe')}:wan`))!;
    expect(wan.counters!.aToB.frames).toBeGreaterThan(500);
  });

  it('strict reverse-path filtering at the ISP drops a spoofed source from the customer side', () => {
    const before = lab.stats(lab.node('isp')).ipReversePathFilter!;
    // The home PC claims an address of the data centre's subnet.
    inNetns(lab.ns('isp-home'), 'ip', ['addr', 'add', '10.2.0.99/32', 'dev', 'eth0']);
    const r = inNetns(lab.ns('isp-home'), 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '-I', '10.2.0.99', '10.2.0.10']);
    expect(r.stdout).toContain('0 received');
    expect(lab.stats(lab.node('isp')).ipReversePathFilter! - before).toBe(2);
    // The real source still gets through (three tries: the WAN loses 1% each way).
    expect(inNetns(lab.ns('isp-home'), 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']).stdout).toMatch(/[123] received/);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});
