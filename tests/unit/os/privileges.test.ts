/** os/privileges.ts: the capability check behind "tapnet up needs CAP_NET_ADMIN: run it as root". */
import { describe, expect, it } from 'vitest';
import { Capability, effectiveCapabilities, missingPrivileges, mountedReadOnly, startProblem, type Environment } from '../../../src/os/privileges.js';

describe('privileges', () => {
  it('reads CapEff from /proc/self/status text', () => {
    expect(effectiveCapabilities('Name:\tnode\nCapEff:\t000001ffffffffff\n')).toBe(0x1ffffffffffn);
    expect(effectiveCapabilities('Name:\tnode\n')).toBeUndefined();
  });

  it('names exactly the missing capabilities', () => {
    const all = 0x1ffffffffffn;
    const noSysAdmin = all & ~(1n << 21n);
    expect(missingPrivileges([Capability.netAdmin, Capability.sysAdmin], 'lab up', all)).toBeUndefined();
    expect(missingPrivileges([Capability.netAdmin, Capability.sysAdmin], 'lab up', noSysAdmin)).toMatch(/^lab up needs CAP_SYS_ADMIN/);
    expect(missingPrivileges([Capability.netAdmin, Capability.sysAdmin], 'lab up', 0n)).toMatch(/needs CAP_NET_ADMIN and CAP_SYS_ADMIN/);
  });

  describe('startProblem', () => {
    const all = 0x1ffffffffffn;
    const ok: Environment = { capabilities: all, tun: true, procSysReadOnly: false, container: true, root: true };
    const up = { capabilities: [Capability.netAdmin], tun: true, procSys: true };
    const lab = { capabilities: [Capability.netAdmin, Capability.sysAdmin], tun: true, procSys: true };

    it('says nothing when everything is there', () => {
      expect(startProblem(lab, 'lab up', ok)).toBeUndefined();
    });

    it('in a container, names the docker run flag for each missing piece, on one line', () => {
      expect(startProblem(up, 'up', { ...ok, tun: false })).toBe('up needs /dev/net/tun: add --device /dev/net/tun to docker run');
      expect(startProblem(up, 'up', { ...ok, capabilities: all & ~(1n << 12n) })).toBe('up needs CAP_NET_ADMIN: add --cap-add NET_ADMIN to docker run');
      expect(startProblem(lab, 'lab up', { ...ok, capabilities: all & ~(1n << 21n) })).toBe('lab up needs CAP_SYS_ADMIN: add --cap-add SYS_ADMIN to docker run');
      expect(startProblem(up, 'up', { ...ok, procSysReadOnly: true })).toBe(
        'up needs a writable /proc/sys (IPv6 sysctls): add --security-opt systempaths=unconfined to docker run',
      );
      const none = startProblem(lab, 'lab up', { ...ok, tun: false, capabilities: 0n, procSysReadOnly: true });
      expect(none).toBe(
        'lab up needs /dev/net/tun and CAP_NET_ADMIN and CAP_SYS_ADMIN and a writable /proc/sys (IPv6 sysctls): ' +
          'add --device /dev/net/tun --cap-add NET_ADMIN --cap-add SYS_ADMIN --security-opt systempaths=unconfined to docker run',
      );
      expect(none).not.toContain('\n');
    });

    it('outside a container, says how to get it', () => {
      expect(startProblem(up, 'up', { ...ok, container: false, tun: false })).toBe('up needs /dev/net/tun: load the tun module (modprobe tun)');
      expect(startProblem(up, 'up', { ...ok, container: false, root: false, capabilities: 0n })).toBe(
        'up needs CAP_NET_ADMIN: run it as root (sudo), or grant the capability',
      );
    });

    it('skips the capability check when the set cannot be read, and what the command does not need', () => {
      expect(startProblem(up, 'up', { ...ok, capabilities: undefined })).toBeUndefined();
      expect(startProblem({ capabilities: [] }, 'x', { ...ok, tun: false, procSysReadOnly: true })).toBeUndefined();
    });
  });

  it('finds a read-only /proc/sys in mountinfo (the deepest mount, the last of stacked ones)', () => {
    const docker = [
      '600 500 0:50 / / rw,relatime master:1 - overlay overlay rw',
      '601 600 0:52 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
      '602 601 0:52 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw',
      '603 601 0:52 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw',
    ].join('\n');
    expect(mountedReadOnly('/proc/sys/net', docker)).toBe(true);
    expect(mountedReadOnly('/proc/net', docker)).toBe(false);
    expect(mountedReadOnly('/proc/sysrq-trigger', docker)).toBe(false);
    expect(mountedReadOnly('/proc/sys/net', `${docker}\n604 603 0:52 /sys /proc/sys rw,relatime - proc proc rw`)).toBe(false);
    expect(mountedReadOnly('/proc/sys/net', undefined)).toBe(false);
  });
});
