/**
 * Counter names are typed (core/stats.ts + each layer's counters.ts): a
 * misspelt name is a compile error, which `npm test`'s typecheck catches.
 */
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
    const ok: CounterName = 'ipInReceives';
    stats.inc(ok);
    expect(stats.get('ipInReceives')).toBe(1);
  });

  it('every name is in exactly one table and spelt in the MIB camelCase style', () => {
    const seen = new Map<string, string>();
    for (const [table, names] of Object.entries(TABLES)) {
      for (const n of names) {
        expect(n, `${n} in ${table}`).toMatch(/^[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*$/);
        expect(seen.get(n), `${n} in ${table} and ${seen.get(n)}`).toBeUndefined();
        seen.set(n, table);
      }
    }
    expect(seen.size).toBeGreaterThan(300);
  });
});
