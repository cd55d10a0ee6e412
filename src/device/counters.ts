/**
 * Every counter of devices: in-memory links, the impairment element and virtio-net offload, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own (compare `ip -s link`).
 */
export const DEVICE_COUNTERS = [
  'linkImpairLost',
  'linkImpairQueueDrops',
  'linkRxCarrierDown',
  'linkRxNoReceiver',
  'linkTxCarrierDown',
  'linkTxClosed',
  'linkTxOversize',
  'vnetGsoWithoutOffload',
  'vnetInCsumOutOfFrame',
  'vnetInCsumValid',
  'vnetInErrors',
  'vnetInGsoBadHeaders',
  'vnetInGsoFrames',
  'vnetInGsoSizeTooLarge',
  'vnetInGsoSizeZero',
  'vnetInGsoTypeUnknown',
  'vnetInPartialCsum',
  'vnetInSuperFrameTooLarge',
  'vnetOutPartialCsum',
  'vnetOutTsoFrames',
] as const;

declare module '../core/stats.js' {
  interface CounterTables {
    device: typeof DEVICE_COUNTERS;
  }
}
