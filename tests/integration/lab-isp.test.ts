/**
 * labs/isp.yaml against the kernel: traceroute through three tapnet routers,
 * path MTU discovery across the smaller core link (and the kernel's cache of
 * it), iperf3 over the lossy, rate-limited WAN link with CUBIC and BBR, and
 * strict reverse-path filtering at the ISP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { inNetns, netnsExists, sh } from './harness.js';
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
    expect(lab.stats(lab.node('isp')).IpFragCreates).toBeGreaterThan(0);
    const r = inNetns(lab.ns('isp-home'), 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '1450', '10.2.0.10']);
    expect(r.stdout + r.stderr).toMatch(/mtu = 1400/);
  });

  /** One iperf3 TCP run from home to the server with congestion control `cc`: Mbit/s received and retransmissions. */
  async function iperf(cc: string, port: number): Promise<{ mbps: number; retransmits: number }> {
    const server = spawn('ip', ['netns', 'exec', lab.ns('isp-server'), 'iperf3', '-s', '-1', '-p', String(port)], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 500)); // iperf3 -s has no readiness signal
      const r = inNetns(lab.ns('isp-home'), 'iperf3', ['-c', '10.2.0.10', '-p', String(port), '-t', '5', '-C', cc, '-J'], { timeoutMs: 30_000 });
      expect(r.status, r.stderr + r.stdout.slice(-500)).toBe(0);
      const result = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number } } };
      return { mbps: result.end.sum_received.bits_per_second / 1e6, retransmits: result.end.sum_sent.retransmits };
    } finally {
      server.kill();
    }
  }

  it('iperf3 TCP across the WAN: CUBIC well under the 10 Mbit/s rate, BBR closer to it (labs/README.md)', async () => {
    const cubic = await iperf('cubic', 5201);
    expect(cubic.mbps).toBeGreaterThan(0.3);
    expect(cubic.mbps).toBeLessThan(8); // 2-4 Mbit/s on an idle machine: every loss cuts CUBIC's window by 30%
    expect(cubic.retransmits).toBeGreaterThan(0);
    // BBR, where the kernel has it: it does not take random loss for congestion.
    if (sh('modprobe', ['-q', 'tcp_bbr']).status === 0 || sh('cat', ['/proc/sys/net/ipv4/tcp_available_congestion_control']).stdout.includes('bbr')) {
      const bbr = await iperf('bbr', 5202);
      expect(bbr.mbps, `bbr ${bbr.mbps} vs cubic ${cubic.mbps}`).toBeGreaterThan(cubic.mbps);
      expect(bbr.mbps).toBeLessThan(10.5);
    }
    const status = JSON.parse(lab.cli(['lab', 'status', '--json', lab.file]).stdout) as { links: { ends: string; counters?: { aToB: { frames: number } } }[] };
    const wan = status.links.find((l) => l.ends.startsWith(`${lab.node('cpe')}:wan`))!;
    expect(wan.counters!.aToB.frames).toBeGreaterThan(500);
  });

  it('once the kernel has learnt the path MTU (earlier pings, iperf3), ping -M do fails at home; ip route flush cache brings back frag needed', () => {
    const home = lab.ns('isp-home');
    const cached = inNetns(home, 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '1450', '10.2.0.10']);
    expect(cached.stdout + cached.stderr).toMatch(/message too long, mtu=1400/);
    expect(inNetns(home, 'ip', ['route', 'flush', 'cache']).status).toBe(0);
    const fresh = inNetns(home, 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '1450', '10.2.0.10']);
    expect(fresh.stdout + fresh.stderr).toMatch(/From 100\.64\.0\.2 .*Frag needed and DF set \(mtu = 1400\)/);
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
