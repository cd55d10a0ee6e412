/**
 * Every counter of conntrack, NAT and the firewall, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own, after Linux's conntrack stats (`conntrack -S`).
 */
export const NETFILTER_COUNTERS = [
  'ctDrop',
  'ctEarlyDrop',
  'ctEntries',
  'ctExpired',
  'ctInsert',
  'ctInsertFailed',
  'ctInvalid',
  'ctNew',
  'fwForwardDropped',
  'fwInputDropped',
  'fwOutputDropped',
  'fwRejected',
  'natDnat',
  'natHairpin',
  'natMappings',
  'natPortExhausted',
  'natSnat',
] as const;

declare module '../core/stats.js' {
  interface CounterTables {
    netfilter: typeof NETFILTER_COUNTERS;
  }
}
