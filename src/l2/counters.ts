/**
 * Every counter of Ethernet, ARP, the neighbour cache and the switch, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own (Linux keeps no MIB for these); ARP like Linux's arp_tbl stats.
 */
export const L2_COUNTERS = [
  'arpCacheEntries',
  'arpCacheFull',
  'arpInConflict',
  'arpInErrors',
  'arpInForeign',
  'arpInLocked',
  'arpInMartians',
  'arpInReplies',
  'arpInRequests',
  'arpInUnsolicited',
  'arpOutBadNextHop',
  'arpOutReplies',
  'arpOutRequests',
  'arpQueueDrops',
  'arpResolveFailed',
  'ethInErrors',
  'ethInFrames',
  'ethInOtherHost',
  'ethInTagged',
  'ethInUnknownType',
  'hubInFrames',
  'hubInPortDown',
  'hubOutFrames',
  'swFloodsGroup',
  'swFloodsUnknownUnicast',
  'swForwarded',
  'swInBadSource',
  'swInDoubleTagged',
  'swInErrors',
  'swInFilteredSamePort',
  'swInFrames',
  'swInPortDown',
  'swInReservedGroup',
  'swInTaggedOnAccess',
  'swInUntaggedNoNative',
  'swInVlanFiltered',
  'swMacLearned',
  'swMacMoves',
  'swMacTableFull',
] as const;

declare module '../core/stats.js' {
  interface CounterTables {
    l2: typeof L2_COUNTERS;
  }
}
