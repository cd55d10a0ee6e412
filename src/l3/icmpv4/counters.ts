/**
 * Every counter of ICMPv4, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4293 ICMP stats / Linux /proc/net/snmp (nstat: Icmp*).
 */
export const ICMPV4_COUNTERS = [
  'IcmpInCsumErrors',
  'IcmpInDestUnreachs',
  'icmpInEchoBroadcastIgnored',
  'IcmpInEchoReps',
  'IcmpInEchos',
  'IcmpInErrors',
  'IcmpInMsgs',
  'IcmpInParmProbs',
  'IcmpInRedirects',
  'IcmpInTimeExcds',
  'IcmpOutDestUnreachs',
  'IcmpOutEchoReps',
  'IcmpOutEchos',
  'IcmpOutMsgs',
  'IcmpOutParmProbs',
  'IcmpOutRateLimitGlobal',
  'IcmpOutTimeExcds',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    icmpv4: typeof ICMPV4_COUNTERS;
  }
}
