/**
 * Counter names are typed (core/stats.ts + each layer's counters.ts): a
 * misspelt name is a compile error, which `npm test`'s typecheck catches.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Stats, type CounterName } from '../../../src/core/stats.js';
import { IPV4_COUNTERS } from '../../../src/l3/ipv4/counters.js';
import { IPV6_COUNTERS } from '../../../src/l3/ipv6/counters.js';
import { TCP_COUNTERS } from '../../../src/l4/tcp/counters.js';
import { UDP_COUNTERS } from '../../../src/l4/udp/counters.js';
import { L2_COUNTERS } from '../../../src/l2/counters.js';
import { DEVICE_COUNTERS } from '../../../src/device/counters.js';
import { ICMPV4_COUNTERS } from '../../../src/l3/icmpv4/counters.js';
import { ICMPV6_COUNTERS } from '../../../src/l3/icmpv6/counters.js';
import { NETFILTER_COUNTERS } from '../../../src/netfilter/counters.js';
import { DHCP_COUNTERS } from '../../../src/services/dhcp/counters.js';
import { DNS_COUNTERS } from '../../../src/services/dns/counters.js';
import { DHCP6_COUNTERS } from '../../../src/services/dhcp6/counters.js';
import { UPLINK_COUNTERS } from '../../../src/services/uplink/counters.js';

const TABLES = {
  IPV4_COUNTERS,
  IPV6_COUNTERS,
  TCP_COUNTERS,
  UDP_COUNTERS,
  L2_COUNTERS,
  DEVICE_COUNTERS,
  ICMPV4_COUNTERS,
  ICMPV6_COUNTERS,
  NETFILTER_COUNTERS,
  DHCP_COUNTERS,
  DNS_COUNTERS,
  DHCP6_COUNTERS,
  UPLINK_COUNTERS,
};

describe('typed counters', () => {
  it('a misspelt counter does not compile', () => {
    const stats = new Stats();
    // @ts-expect-error 'ipInRecieves' is in no table (the typecheck fails if this line compiles)
    stats.inc('ipInRecieves');
    const ok: CounterName = 'IpInReceives';
    stats.inc(ok);
    expect(stats.get('IpInReceives')).toBe(1);
  });

  it('every name is in exactly one table; a capitalised name is one Linux keeps, the others are camelCase', () => {
    const linux = linuxMibNames();
    const seen = new Map<string, string>();
    for (const [table, names] of Object.entries(TABLES)) {
      for (const n of names) {
        if (/^[A-Z]/.test(n)) expect(linux.has(n), `${n} in ${table} is not a Linux MIB name`).toBe(true);
        else {
          expect(n, `${n} in ${table}`).toMatch(/^[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*$/);
          const capitalised = n[0]!.toUpperCase() + n.slice(1);
          expect(linux.has(capitalised), `${n} in ${table}: Linux spells it ${capitalised}`).toBe(false);
        }
        expect(seen.get(n), `${n} in ${table} and ${seen.get(n)}`).toBeUndefined();
        seen.set(n, table);
      }
    }
    expect([...seen.keys()].filter((n) => /^[A-Z]/.test(n)).length).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThan(300);
  });
});

/**
 * The names Linux's `nstat` builds, read the way it reads them: /proc/net/snmp
 * and /proc/net/netstat hold pairs of lines ("Ip: Forwarding DefaultTTL ..." then
 * the values), a name is the prefix and the field (IpInReceives, TcpExtListenDrops);
 * /proc/net/snmp6 holds one "Ip6InReceives 0" per line.
 */
function linuxMibNames(): Set<string> {
  const names = new Set<string>();
  for (const file of ['/proc/net/snmp', '/proc/net/netstat']) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^(\w+): ([A-Za-z].*)$/.exec(line);
      if (m && !/^\d/.test(m[2]!)) for (const field of m[2]!.split(' ')) names.add(m[1] + field);
    }
  }
  for (const line of readFileSync('/proc/net/snmp6', 'utf8').split('\n')) names.add(line.split(/\s+/)[0]!);
  return names;
}
