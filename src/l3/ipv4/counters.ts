/**
 * Every counter of IPv4 (input, output, fragmentation, reassembly, forwarding), in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 IP-MIB / Linux /proc/net/snmp (nstat: Ip*, IpExt*).
 */
export const IPV4_COUNTERS = [
  'IpForwDatagrams',
  'ipForwDirectedBroadcast',
  'ipForwFiltered',
  'ipForwHostUnreachable',
  'ipForwLinkBroadcast',
  'ipForwRejectRoute',
  'ipForwTtlExceeded',
  'IpFragCreates',
  'IpFragFails',
  'IpFragOKs',
  'IpInAddrErrors',
  'IpExtInCsumErrors',
  'IpInDelivers',
  'IpInDiscards',
  'ipInFiltered',
  'IpInHdrErrors',
  'ipInMartians',
  'IpExtInNoRoutes',
  'IpInReceives',
  'ipInSourceRouted',
  'IpExtInTruncatedPkts',
  'IpInUnknownProtos',
  'IpOutDiscards',
  'IpOutNoRoutes',
  'IpOutRequests',
  'ipReasmBytes',
  'ipReasmDatagrams',
  'ipReasmDuplicates',
  'ipReasmEvicted',
  'IpReasmFails',
  'ipReasmMalformed',
  'ipReasmMemoryFull',
  'IpReasmOKs',
  'IpExtReasmOverlaps',
  'ipReasmOversize',
  'IpReasmReqds',
  'IpReasmTimeout',
  'ipReversePathFilter',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    ipv4: typeof IPV4_COUNTERS;
  }
}
