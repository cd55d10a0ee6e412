/**
 * Every counter of UDP, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4113 UDP-MIB (nstat: Udp*).
 */
export const UDP_COUNTERS = [
  'UdpInCsumErrors',
  'UdpInDatagrams',
  'UdpInErrors',
  'UdpNoPorts',
  'UdpOutDatagrams',
  'UdpSndbufErrors',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    udp: typeof UDP_COUNTERS;
  }
}
