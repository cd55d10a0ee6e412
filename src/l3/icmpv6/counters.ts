/**
 * Every counter of ICMPv6, NDP and MLD, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 / Linux /proc/net/snmp6 (nstat: Icmp6*).
 */
export const ICMPV6_COUNTERS = [
  'icmp6InCsumErrors',
  'icmp6InDestUnreachs',
  'icmp6InEchoReplies',
  'icmp6InEchos',
  'icmp6InErrors',
  'icmp6InGroupMembQueries',
  'icmp6InGroupMembReductions',
  'icmp6InGroupMembResponses',
  'icmp6InMLDv2Reports',
  'icmp6InMsgs',
  'icmp6InNeighborAdvertisements',
  'icmp6InNeighborSolicits',
  'icmp6InParmProblems',
  'icmp6InPktTooBigs',
  'icmp6InRedirects',
  'icmp6InRouterAdvertisements',
  'icmp6InRouterSolicits',
  'icmp6InTimeExcds',
  'icmp6InUnknownTypes',
  'icmp6OutDestUnreachs',
  'icmp6OutEchoReplies',
  'icmp6OutEchos',
  'icmp6OutErrors',
  'icmp6OutGroupMembResponses',
  'icmp6OutMLDv2Reports',
  'icmp6OutMsgs',
  'icmp6OutNeighborAdvertisements',
  'icmp6OutNeighborSolicits',
  'icmp6OutParmProblems',
  'icmp6OutPktTooBigs',
  'icmp6OutRateLimitGlobal',
  'icmp6OutRateLimitHost',
  'icmp6OutRouterAdvertisements',
  'icmp6OutTimeExcds',
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
