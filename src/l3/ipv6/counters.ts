/**
 * Every counter of IPv6, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 IP-MIB / Linux /proc/net/snmp6 (nstat: Ip6*).
 */
export const IPV6_COUNTERS = [
  'Ip6FragCreates',
  'Ip6FragFails',
  'Ip6FragOKs',
  'Ip6InAddrErrors',
  'Ip6InDelivers',
  'Ip6InDiscards',
  'ip6InExtHeadersTooLong',
  'Ip6InHdrErrors',
  'ip6InHopLimitExceeded',
  'ip6InMcastNotJoined',
  'Ip6InMcastPkts',
  'ip6InNoNextHeader',
  'Ip6InNoRoutes',
  'Ip6InReceives',
  'ip6InScopeErrors',
  'Ip6InTooBigErrors',
  'Ip6InTruncatedPkts',
  'Ip6InUnknownProtos',
  'Ip6OutDiscards',
  'Ip6OutForwDatagrams',
  'Ip6OutMcastPkts',
  'Ip6OutNoRoutes',
  'Ip6OutRequests',
  'ip6ReasmBytes',
  'ip6ReasmDatagrams',
  'ip6ReasmDuplicates',
  'ip6ReasmEvicted',
  'Ip6ReasmFails',
  'ip6ReasmMalformed',
  'ip6ReasmMemoryFull',
  'Ip6ReasmOKs',
  'ip6ReasmOverlaps',
  'Ip6ReasmReqds',
  'Ip6ReasmTimeout',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    ipv6: typeof IPV6_COUNTERS;
  }
}
