/**
 * sysctls are written to /proc/sys directly (no procps needed at run time, issue 20): the key → file mapping,
 * with interface names that contain dots (VLANs) kept whole, as `sysctl` does with its slash form.
 */
import { describe, expect, it } from 'vitest';
import { procSysPath } from '../../../src/os/run.js';

describe('procSysPath', () => {
  it('maps dots to directories', () => {
    expect(procSysPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
    expect(procSysPath('net.ipv6.conf.tapnet0.accept_ra')).toBe('/proc/sys/net/ipv6/conf/tapnet0/accept_ra');
  });

  it('keeps an interface name with dots whole', () => {
    expect(procSysPath('net.ipv6.conf.eth0.100.disable_ipv6')).toBe('/proc/sys/net/ipv6/conf/eth0.100/disable_ipv6');
    expect(procSysPath('net.ipv4.neigh.br.lan.gc_stale_time')).toBe('/proc/sys/net/ipv4/neigh/br.lan/gc_stale_time');
  });
});
