/**
 * labs/vm-modes.yaml against the kernel: VirtualBox's NAT, bridged and
 * host-only modes, built from tapnet switches, routers (DHCP, masquerade) and
 * namespaces. Who reaches whom is the lesson, so that is what is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns, netnsExists } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const addressOf = (ns: string): string => /inet (\d+\.\d+\.\d+\.\d+)\//.exec(inNetns(ns, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']).stdout)?.[1] ?? '';

describe('labs/vm-modes.yaml: NAT, bridged and host-only VMs', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/vm-modes.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('each VM leased from its own network', () => {
    expect(addressOf(lab.ns('vm-bridged'))).toMatch(/^192\.168\.50\.1\d\d$/);
    expect(addressOf(lab.ns('vm-natted'))).toMatch(/^10\.0\.2\.1\d\d$/);
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

  it('host-only: the VM reaches the host, not the LAN', () => {
    expect(inNetns(lab.ns('vm-hostonly'), 'ping', ['-c', '1', '-W', '2', '192.168.56.1']).stdout).toContain('1 received');
    expect(inNetns(lab.ns('vm-hostonly'), 'ping', ['-c', '1', '-W', '2', '192.168.50.20']).stdout).toMatch(/Destination Net Unreachable/);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});
