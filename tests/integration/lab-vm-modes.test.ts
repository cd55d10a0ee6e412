/**
 * labs/vm-modes.yaml against the kernel: VirtualBox's NAT, bridged and
 * host-only modes, built from tapnet switches, routers (DHCP, masquerade) and
 * namespaces. Who reaches whom is the lesson, so that is what is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns, netnsExists } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';
import { tcpdumpDuring } from './lab-lessons.js';

const addressOf = (ns: string): string => /inet (\d+\.\d+\.\d+\.\d+)\//.exec(inNetns(ns, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']).stdout)?.[1] ?? '';

describe('labs/vm-modes.yaml: NAT, bridged and host-only VMs', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/vm-modes.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('each VM leased from its own network', () => {
    expect(addressOf(lab.ns('vm-bridged'))).toMatch(/^192\.168\.50\.1\d\d$/);
    expect(addressOf(lab.ns('vm-natted'))).toBe('10.0.2.15'); // VirtualBox's first NAT VM; written in the file
    expect(addressOf(lab.ns('vm-hostonly'))).toMatch(/^192\.168\.56\.1\d\d$/);
  });

  it('bridged: the VM is one more machine on the LAN, reachable from it', () => {
    expect(inNetns(lab.ns('vm-lanpc'), 'ping', ['-c', '1', '-W', '2', addressOf(lab.ns('vm-bridged'))]).stdout).toContain('1 received');
    expect(inNetns(lab.ns('vm-bridged'), 'ping', ['-c', '1', '-W', '2', '192.168.50.10']).stdout).toContain('1 received');
  });

  it('NAT: the VM reaches the LAN through the NAT router; the LAN cannot reach the VM', () => {
    expect(inNetns(lab.ns('vm-natted'), 'ping', ['-c', '1', '-W', '2', '192.168.50.20']).stdout).toContain('1 received');
    const back = inNetns(lab.ns('vm-lanpc'), 'ping', ['-c', '1', '-W', '1', addressOf(lab.ns('vm-natted'))]);
    expect(back.stdout + back.stderr).toMatch(/Network is unreachable|0 received/);
  });

  it('NAT: the LAN sees the VM as the host (192.168.50.20); only the forwarded port 2222 reaches the VM', async () => {
    // vm-host's nftables come from the lab's run: (asynchronous); wait for its port forward.
    const deadline = Date.now() + 10_000;
    while (!/dport 2222/.test(inNetns(lab.ns('vm-host'), 'nft', ['list', 'ruleset']).stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const seen = await tcpdumpDuring(lab.ns('vm-lanpc'), ['-lni', 'eth0', 'icmp'], () => {
      expect(inNetns(lab.ns('vm-natted'), 'ping', ['-c', '1', '192.168.50.10']).stdout).toContain('1 received');
    });
    expect(seen).toMatch(/192\.168\.50\.20 > 192\.168\.50\.10: ICMP echo request/);
    expect(seen).not.toMatch(/10\.0\.2\.15/);
    // The VM's services (run:) may still be starting: the SSH stand-in's banner through host:2222.
    let banner = '';
    for (let i = 0; i < 50 && !banner.includes('SSH-2.0'); i++) {
      banner = inNetns(lab.ns('vm-lanpc'), 'nc', ['-w', '2', '192.168.50.20', '2222']).stdout;
      if (!banner.includes('SSH-2.0')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(banner).toContain('SSH-2.0-OpenSSH_9.2 vm-natted');
    const web = inNetns(lab.ns('vm-lanpc'), 'curl', ['-sS', 'http://192.168.50.20/']);
    expect(web.stderr).toMatch(/Failed to connect to 192\.168\.50\.20 port 80/);
    const direct = inNetns(lab.ns('vm-lanpc'), 'curl', ['-sS', 'http://10.0.2.15/']);
    expect(direct.stderr).toMatch(/Failed to connect to 10\.0\.2\.15 port 80/);
    expect(inNetns(lab.ns('vm-host'), 'nft', ['list', 'table', 'ip', 'vboxnat']).stdout).toMatch(/masquerade[\s\S]*dnat to 10\.0\.2\.15:22/);
    const trace = inNetns(lab.ns('vm-natted'), 'traceroute', ['-n', '192.168.50.20']).stdout;
    expect(trace).toMatch(/1\s+10\.0\.2\.2 [\s\S]*2\s+192\.168\.50\.20 /);
    const rule = inNetns(lab.ns('vm-host'), 'nft', ['add', 'rule', 'ip', 'vboxnat', 'prerouting', 'iif', 'eth0', 'tcp', 'dport', '8080', 'dnat', 'to', '10.0.2.15:80']);
    expect(rule.status, rule.stderr).toBe(0);
    expect(inNetns(lab.ns('vm-lanpc'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://192.168.50.20:8080/']).stdout).toBe('200');
  });

  it('host-only: the VM reaches the host, not the LAN', () => {
    expect(inNetns(lab.ns('vm-hostonly'), 'ping', ['-c', '1', '-W', '2', '192.168.56.1']).stdout).toContain('1 received');
    expect(inNetns(lab.ns('vm-hostonly'), 'ping', ['-c', '1', '-W', '2', '192.168.50.20']).stdout).toMatch(/Destination Net Unreachable/);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});
