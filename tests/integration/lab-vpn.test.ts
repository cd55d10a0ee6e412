/**
 * labs/vpn.yaml, the commands of its labs/README.md section: two offices
 * behind NAT routers joined by tapnet's WireGuard (one configured in the lab
 * file, one from a wg-quick file), a wireguard-go road warrior that roams, and
 * a WireGuard peer nobody configured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, inNetns, netnsExists, sh } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const CAPTURE = join(ROOT, 'vpn-internet.pcap');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('labs/vpn.yaml: a site-to-site WireGuard tunnel and a road warrior', () => {
  let lab: LabProcess | undefined;
  const r = (): LabProcess => lab!;
  const showWg = (): string => r().cli(['show', 'wg', '--lab', r().file, '--node', r().node('gw-a')]).stdout;

  beforeAll(async () => {
    lab = await startLab('labs/vpn.yaml');
  }, 60_000);

  afterAll(async () => {
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
    for (const name of ['wg-vpn-laptop', 'wg-vpn-eve']) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
    rmSync(CAPTURE, { force: true });
  });

  it('office to office through the tunnel: traceroute shows the internet as one hop', () => {
    expect(inNetns(r().ns('vpn-a-pc'), 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']).stdout).toMatch(/ttl=62[\s\S]*3 received/);
    const trace = inNetns(r().ns('vpn-a-pc'), 'traceroute', ['-n', '-w', '2', '10.2.0.10'], { timeoutMs: 60_000 }).stdout;
    expect(trace).toMatch(/\n 1 {2}10\.1\.0\.1 .*\n 2 {2}10\.99\.0\.2 .*\n 3 {2}10\.2\.0\.10 /);
  });

  it('the internet link carries only UDP to and from port 51820', async () => {
    await sleep(1500); // the capture is flushed every second
    const dump = sh('tcpdump', ['-nr', CAPTURE, 'not', 'arp']).stdout.trim().split('\n');
    expect(dump.length).toBeGreaterThan(5);
    for (const line of dump) expect(line).toMatch(/ IP 198\.51\.100\.2\.51820 > [0-9.]+: UDP| IP [0-9.]+ > 198\.51\.100\.2\.51820: UDP/);
    expect(dump.join('\n')).not.toMatch(/10\.[12]\.0\.10/);
  });

  it('tapnet show wg lists both peers like wg show', () => {
    const show = showWg();
    expect(show).toMatch(/^interface: wg0\n  public key: gKzKOgVrm\/2\/eQ10pSMZNLsyN73S8xzMdktAEbsQB0U=\n  private key: \(hidden\)\n  listening port: 51820\n/);
    expect(show).toMatch(/peer: vcoXXGxxU9We1FJPuU0w\/Bu7ANYRfPTq8A5fyQIugQ4=\n  endpoint: 203\.0\.113\.2:51820\n  allowed ips: 10\.99\.0\.2\/32, 10\.2\.0\.0\/24\n  latest handshake: .* ago\n  transfer: /);
  });

  it('the wireguard-go road warrior reaches both offices, and roams', () => {
    expect(inNetns(r().ns('vpn-laptop'), 'ping', ['-c', '3', '-i', '0.3', '-W', '3', '10.1.0.10']).stdout).toMatch(/[23] received/);
    expect(inNetns(r().ns('vpn-laptop'), 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']).stdout).toMatch(/ttl=62[\s\S]*3 received/);
    expect(inNetns(r().ns('vpn-laptop'), 'wg', ['show']).stdout).toMatch(/peer: gKzKOgVrm\/2\/eQ10pSMZNLsyN73S8xzMdktAEbsQB0U=\n  endpoint: 198\.51\.100\.2:51820\n[\s\S]*latest handshake/);
    expect(inNetns(r().ns('vpn-laptop'), 'wg', ['set', 'wg-vpn-laptop', 'listen-port', '40000']).status).toBe(0);
    expect(inNetns(r().ns('vpn-laptop'), 'ping', ['-c', '1', '-W', '2', '10.1.0.10']).stdout).toMatch(/1 received/);
    expect(showWg()).toContain('endpoint: 192.0.2.50:40000');
    expect(inNetns(r().ns('vpn-a-pc'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.99.0.10']).stdout).toMatch(/2 received/);
  });

  it('a peer without a configured key gets nothing back', () => {
    const before = r().stats(r().node('gw-a'));
    expect(inNetns(r().ns('vpn-eve'), 'ping', ['-c', '3', '-i', '0.3', '-W', '1', '10.1.0.10']).stdout).toContain(' 0 received');
    const after = r().stats(r().node('gw-a'));
    expect(after.wgInUnknownPeer!).toBeGreaterThanOrEqual(1);
    expect(after.wgOutResponses).toBe(before.wgOutResponses);
  });

  it('lab down stops wireguard-go and leaves nothing behind', async () => {
    expect(await r().down(), r().output()).toBe(0);
    for (const ns of r().hosts) expect(netnsExists(ns), ns).toBe(false);
    for (const name of ['wg-vpn-laptop', 'wg-vpn-eve']) expect(sh('test', ['-e', `/var/run/wireguard/${name}.sock`]).status, name).not.toBe(0);
    lab = undefined;
  });
});
