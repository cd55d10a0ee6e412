/**
 * Every counter of the iperf3 server, in one list: what `tapnet show stats`
 * can show for it, and every reason it refuses a client or a connection.
 * A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own, after iperf3's error names (IEACCESSDENIED, IERECVCOOKIE, IERECVPARAMS, ...).
 */
export const IPERF3_COUNTERS = [
  /** A control connection that became a test (cookie and parameters accepted). */
  'iperf3Tests',
  /** Tests that reached IPERF_DONE with results exchanged. */
  'iperf3TestsCompleted',
  /** Tests torn down early: the client vanished, sent CLIENT_TERMINATE, timed out or broke the protocol. */
  'iperf3TestsAborted',
  /** A second client while a test runs: ACCESS_DENIED (-1), "the server is busy running a test". */
  'iperf3AccessDenied',
  /** First 37 bytes not an iperf3 cookie (36 of [a-z2-7] and a NUL): garbage, or not iperf3 at all. */
  'iperf3InBadCookie',
  /** A data connection (or UDP stream) whose cookie is not the running test's, or with no test to join. */
  'iperf3InStrayStreams',
  /** A parameter or results block longer than IPERF3_JSON_MAX. */
  'iperf3InJsonTooLong',
  /** A parameter or results block that is not JSON, or not the object iperf3 sends. */
  'iperf3InBadJson',
  /** A state byte the server does not expect from a client. */
  'iperf3InBadState',
  /** A client that went quiet in a phase where it must talk (cookie, parameters, streams, results). */
  'iperf3Timeouts',
  /** TCP data streams accepted, and UDP streams "connected" (the 4-byte hello answered). */
  'iperf3TcpStreams',
  'iperf3UdpStreams',
  /** Payload bytes the streams moved, counted by the server (compare with iperf3's own figures). */
  'iperf3BytesReceived',
  'iperf3BytesSent',
  /** UDP datagrams of a running test: received, sent, and ones too short for the iperf3 header. */
  'iperf3UdpInDatagrams',
  'iperf3UdpOutDatagrams',
  'iperf3UdpInShort',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    iperf3: typeof IPERF3_COUNTERS;
  }
}
