/**
 * Every counter of IPv6, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 IP-MIB / Linux /proc/net/snmp6 (nstat: Ip6*).
 */
export const IPV6_COUNTERS = [
  'ip6FragCreates',
  'ip6FragFails',
  'ip6FragOKs',
  'ip6InAddrErrors',
  'ip6InDelivers',
  'ip6InDiscards',
  'ip6InExtHeadersTooLong',
  'ip6InHdrErrors',
  'ip6InHopLimitExceeded',
  'ip6InMcastNotJoined',
  'ip6InMcastPkts',
  'ip6InNoNextHeader',
  'ip6InNoRoutes',
  'ip6InReceives',
  'ip6InScopeErrors',
  'ip6InTooBigErrors',
  'ip6InTruncatedPkts',
  'ip6InUnknownProtos',
  'ip6OutDiscards',
  'ip6OutForwDatagrams',
  'ip6OutMcastPkts',
  'ip6OutNoRoutes',
  'ip6OutRequests',
  'ip6ReasmBytes',
  'ip6ReasmDatagrams',
  'ip6ReasmDuplicates',
  'ip6ReasmEvicted',
  'ip6ReasmFails',
  'ip6ReasmMalformed',
  'ip6ReasmMemoryFull',
  'ip6ReasmOKs',
  'ip6ReasmOverlaps',
  'ip6ReasmReqds',
  'ip6ReasmTimeout',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    ipv6: typeof IPV6_COUNTERS;
  }
}
