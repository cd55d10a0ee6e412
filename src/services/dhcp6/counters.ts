/**
 * Every counter of the DHCPv6 server (server.ts), in one list: a name missing
 * here does not compile (core/stats.ts). Names: tapnet's own, in the style of
 * the DHCPv4 table (dhcp/counters.ts).
 */
export const DHCP6_COUNTERS = [
  'dhcp6Bindings',
  'dhcp6InDiscards',
  'dhcp6InErrors',
  'dhcp6InMessages',
  'dhcp6NoAddrsAvail',
  'dhcp6OutAdvertises',
  'dhcp6OutErrors',
  'dhcp6OutReplies',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    dhcp6: typeof DHCP6_COUNTERS;
  }
}
