/**
 * Every counter of ICMPv6, NDP and MLD, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 / Linux /proc/net/snmp6 (nstat: Icmp6*).
 */
export const ICMPV6_COUNTERS = [
  'Icmp6InCsumErrors',
  'Icmp6InDestUnreachs',
  'Icmp6InEchoReplies',
  'Icmp6InEchos',
  'Icmp6InErrors',
  'Icmp6InGroupMembQueries',
  'Icmp6InGroupMembReductions',
  'Icmp6InGroupMembResponses',
  'Icmp6InMLDv2Reports',
  'Icmp6InMsgs',
  'Icmp6InNeighborAdvertisements',
  'Icmp6InNeighborSolicits',
  'Icmp6InParmProblems',
  'Icmp6InPktTooBigs',
  'Icmp6InRedirects',
  'Icmp6InRouterAdvertisements',
  'Icmp6InRouterSolicits',
  'Icmp6InTimeExcds',
  'icmp6InUnknownTypes',
  'Icmp6OutDestUnreachs',
  'Icmp6OutEchoReplies',
  'Icmp6OutEchos',
  'Icmp6OutErrors',
  'Icmp6OutGroupMembResponses',
  'Icmp6OutMLDv2Reports',
  'Icmp6OutMsgs',
  'Icmp6OutNeighborAdvertisements',
  'Icmp6OutNeighborSolicits',
  'Icmp6OutParmProblems',
  'Icmp6OutPktTooBigs',
  'icmp6OutRateLimitGlobal',
  'Icmp6OutRateLimitHost',
  'Icmp6OutRouterAdvertisements',
  'Icmp6OutTimeExcds',
  'mldInErrors',
  'ndpCacheEntries',
  'ndpCacheFull',
  'ndpDadFailed',
  'ndpInBadHopLimit',
  'ndpInConflict',
  'ndpInErrors',
  'ndpInForeign',
  'ndpInFragmented',
  'ndpInIgnored',
  'ndpInUnsolicited',
  'ndpQueueDrops',
  'ndpResolveFailed',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    icmpv6: typeof ICMPV6_COUNTERS;
  }
}
