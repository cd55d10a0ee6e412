/**
 * Every counter of the small services (echo, discard, chargen, daytime,
 * time), in one list. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own.
 */
export const SMALL_SERVICES_COUNTERS = [
  'smallTcpConnections',
  'smallUdpInDatagrams',
  'smallUdpOutDatagrams',
  /** Datagrams not answered because they came from a small service's own port (the echo↔chargen loop, CERT CA-1996-01). */
  'smallUdpLoopDrops',
  'smallEchoBytes',
  'smallDiscardBytes',
  /** Bytes chargen handed to TCP sockets (it waits for 'drain', so a client that never reads costs one send buffer). */
  'smallChargenBytes',
  /** Connections closed after SMALL_IDLE_TIMEOUT_MS without a byte moving either way. */
  'smallIdleTimeouts',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    small: typeof SMALL_SERVICES_COUNTERS;
  }
}
