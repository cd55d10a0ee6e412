/**
 * Every counter of the load balancer, in one list: what `tapnet show stats`
 * shows for it, and every reason it refuses or fails a connection or
 * request. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own, after HAProxy's stats columns (conn_tot, econ, eresp,
 * hrsp_5xx, chkfail, chkdown) and IPVS's (`ipvsadm -Ln --stats`).
 */
export const LB_COUNTERS = [
  /** New connections (L4) or requests (L7) given a backend. */
  'lbScheduled',
  /** Nobody to send it to: every backend down, draining or removed (RST, ICMP or 503). */
  'lbNoBackend',
  /** Connects to a backend that failed (refused, timed out): HAProxy econ. */
  'lbConnectFailed',
  /** A connection or request moved to another backend after a failed connect: HAProxy wretr/wredis. */
  'lbRetries',
  /** A backend reset a proxied connection or dropped a request mid-way: HAProxy eresp. */
  'lbBackendErrors',
  /** The client went away before its response was complete. */
  'lbClientAborts',
  /** Connections idle past timeouts.idleMs, closed at both ends. */
  'lbIdleTimeouts',
  'lbHealthChecks',
  'lbHealthCheckFailed',
  /** Backends that went down (active or passive evidence) / came back: HAProxy chkdown. */
  'lbBackendDown',
  'lbBackendUp',
  'lbHttpRequests',
  /** Answers the proxy made itself, by status. */
  'lbHttp400',
  'lbHttp408',
  'lbHttp431',
  'lbHttp502',
  'lbHttp503',
  'lbHttp504',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    lb: typeof LB_COUNTERS;
  }
}
