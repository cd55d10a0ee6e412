/**
 * Every counter of IPv4 (input, output, fragmentation, reassembly, forwarding), in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 IP-MIB / Linux /proc/net/snmp (nstat: Ip*, IpExt*).
 */
export const IPV4_COUNTERS = [
  'ipForwDatagrams',
  'ipForwDirectedBroadcast',
  'ipForwFiltered',
  'ipForwHostUnreachable',
  'ipForwLinkBroadcast',
  'ipForwRejectRoute',
  'ipForwTtlExceeded',
  'ipFragCreates',
  'ipFragFails',
  'ipFragOKs',
  'ipInAddrErrors',
  'ipInCsumErrors',
  'ipInDelivers',
  'ipInDiscards',
  'ipInFiltered',
  'ipInHdrErrors',
  'ipInMartians',
  'ipInNoRoutes',
  'ipInReceives',
  'ipInSourceRouted',
  'ipInTruncatedPkts',
  'ipInUnknownProtos',
  'ipOutDiscards',
  'ipOutNoRoutes',
  'ipOutRequests',
  'ipReasmBytes',
  'ipReasmDatagrams',
  'ipReasmDuplicates',
  'ipReasmEvicted',
  'ipReasmFails',
  'ipReasmMalformed',
  'ipReasmMemoryFull',
  'ipReasmOKs',
  'ipReasmOverlaps',
  'ipReasmOversize',
  'ipReasmReqds',
  'ipReasmTimeout',
  'ipReversePathFilter',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    ipv4: typeof IPV4_COUNTERS;
  }
}
