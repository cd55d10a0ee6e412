/**
 * Port numbers both transports share.
 *
 * Read first: RFC 6335 §6 (system, user and dynamic ranges), RFC 6056 §3.2
 * (ephemeral port selection).
 */

/**
 * Ephemeral (dynamic) ports TCP and UDP pick local ports from: Linux's
 * net.ipv4.ip_local_port_range default, 32768-60999 (RFC 6056 §3.2 suggests
 * 1024-65535; Linux is narrower, and tapnet does what the kernel beside it does).
 */
export const EPHEMERAL_PORT_FIRST = 32_768;
export const EPHEMERAL_PORT_LAST = 60_999;
