/** os/privileges.ts: the capability check behind "tapnet up needs CAP_NET_ADMIN: run it as root". */
import { describe, expect, it } from 'vitest';
import { Capability, effectiveCapabilities, missingPrivileges, startProblem, type Environment } from '../../../src/os/privileges.js';

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
});
