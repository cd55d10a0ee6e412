/** os/privileges.ts: the capability check behind "tapnet up needs CAP_NET_ADMIN: run it as root". */
import { describe, expect, it } from 'vitest';
import { Capability, effectiveCapabilities, missingPrivileges } from '../../../src/os/privileges.js';

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
});
