/**
 * iperf3's wire protocol: the constants, and the framing of the control
 * connection. No state and no I/O; control.ts drives it.
 *
 * Read first: iperf3's own source (github.com/esnet/iperf, src/iperf_api.h
 * for the states, iperf_server_api.c iperf_accept, iperf_api.c
 * iperf_exchange_parameters / send_results / JSON_write, iperf_udp.c for
 * the UDP hello). There is no RFC; the C code is the specification, and the
 * values below were read from it (3.12, Debian's client, and the current
 * master agree on all of them).
 *
 * A test on the control connection (TCP, port 5201):
 *
 *   client                                   server
 *   37-byte cookie ("abc...7\0")  ────────▶
 *                                 ◀──────── PARAM_EXCHANGE (9)        one signed byte
 *   [len:4 BE][JSON parameters]   ────────▶
 *                                 ◀──────── CREATE_STREAMS (10)
 *   data connections: TCP, each opens with the same cookie;
 *   UDP, each sends 4 bytes "9876" and waits for "6789" back
 *                                 ◀──────── TEST_START (1), TEST_RUNNING (2)
 *          ... data flows for -t seconds / -n bytes ...
 *   TEST_END (4)                  ────────▶
 *                                 ◀──────── EXCHANGE_RESULTS (13)
 *   [len][JSON client results]    ────────▶
 *                                 ◀──────── [len][JSON server results]
 *                                 ◀──────── DISPLAY_RESULTS (14)
 *   IPERF_DONE (16)               ────────▶  (or CLIENT_TERMINATE (12) on Ctrl-C)
 *
 * A server that is busy answers a new control connection with ACCESS_DENIED
 * (-1) at once; one that fails sends SERVER_ERROR (-2) and two 4-byte
 * big-endian numbers, iperf3's error code (i_errno) and errno.
 */

/** iperf.h PORT: "don't use the same port as iperf2". */
export const IPERF3_PORT = 5201;
/** iperf.h COOKIE_SIZE: "size of an ascii uuid" — 36 characters and a NUL. */
export const IPERF3_COOKIE_SIZE = 37;
/** The cookie's alphabet (iperf_util.c make_cookie: base32 without padding). */
const COOKIE_CHARS = /^[a-z2-7]{36}$/;
/**
 * Largest JSON block tapnet reads (parameters or results). iperf3 sends
 * parameters of a few hundred bytes (its own MAX_PARAMS_JSON_STRING is 8 KB);
 * results grow with the stream count (128 streams at most), well under this.
 */
export const IPERF3_JSON_MAX = 64 * 1024;
/** iperf.h MAX_STREAMS. */
export const IPERF3_MAX_STREAMS = 128;
/** iperf.h MAX_TIME (seconds). */
export const IPERF3_MAX_TIME = 86_400;
/** iperf_api.h DEFAULT_TCP_BLKSIZE / iperf.h MAX_BLOCKSIZE / MAX_UDP_BLOCKSIZE. */
export const IPERF3_DEFAULT_TCP_BLKSIZE = 128 * 1024;
export const IPERF3_DEFAULT_UDP_BLKSIZE = 1460;
export const IPERF3_MAX_BLOCKSIZE = 1024 * 1024;
export const IPERF3_MAX_UDP_BLOCKSIZE = 65_535 - 8 - 20;
/** iperf.h MIN_UDP_BLOCKSIZE: sec + usec + a 64-bit counter. */
export const IPERF3_MIN_UDP_BLOCKSIZE = 4 + 4 + 8;

/** The state bytes (iperf_api.h), signed: ACCESS_DENIED and SERVER_ERROR are negative. */
export const IperfState = {
  TEST_START: 1,
  TEST_RUNNING: 2,
  TEST_END: 4,
  PARAM_EXCHANGE: 9,
  CREATE_STREAMS: 10,
  SERVER_TERMINATE: 11,
  CLIENT_TERMINATE: 12,
  EXCHANGE_RESULTS: 13,
  DISPLAY_RESULTS: 14,
  IPERF_START: 15,
  IPERF_DONE: 16,
  ACCESS_DENIED: -1,
  SERVER_ERROR: -2,
} as const;
export type IperfState = (typeof IperfState)[keyof typeof IperfState];

/** iperf_api.h's error numbers the server sends after SERVER_ERROR (the client prints their text). */
export const IperfError = {
  IERECVCOOKIE: 106,
  IECTRLCLOSE: 109,
  IEMESSAGE: 110,
  IERECVPARAMS: 114,
  IERECVRESULTS: 117,
  IEACCESSDENIED: 121,
  IEPROTOCOL: 131,
  IENOMSG: 144,
} as const;

export function stateName(state: number): string {
  return Object.entries(IperfState).find(([, v]) => v === state)?.[0] ?? `unknown(${state})`;
}

/**
 * The UDP hello (iperf.h UDP_CONNECT_MSG / UDP_CONNECT_REPLY). iperf3 writes
 * the 32-bit value in host order: 0x36373839 on a little-endian machine is
 * the bytes "9876" on the wire, the reply 0x39383736 is "6789". Before 3.11
 * the values were 123456789 and 987654321, so the bytes seen depend on the
 * client's byte order; tapnet accepts every form and answers in the form it
 * was greeted with (a client accepts both the new and the legacy reply).
 */
export const UDP_CONNECT_MSG = Uint8Array.of(0x39, 0x38, 0x37, 0x36); // "9876"
export const UDP_CONNECT_REPLY = Uint8Array.of(0x36, 0x37, 0x38, 0x39); // "6789"
const UDP_CONNECT_MSG_BE = Uint8Array.of(0x36, 0x37, 0x38, 0x39);
const UDP_CONNECT_REPLY_BE = Uint8Array.of(0x39, 0x38, 0x37, 0x36);
const LEGACY_MSG_LE = Uint8Array.of(0x15, 0xcd, 0x5b, 0x07); // 123456789 little-endian
const LEGACY_MSG_BE = Uint8Array.of(0x07, 0x5b, 0xcd, 0x15);
const LEGACY_REPLY_LE = Uint8Array.of(0xb1, 0x68, 0xde, 0x3a); // 987654321 little-endian
const LEGACY_REPLY_BE = Uint8Array.of(0x3a, 0xde, 0x68, 0xb1);

/** The reply for a UDP hello, or undefined when the datagram is not one. */
export function udpConnectReply(datagram: Uint8Array): Uint8Array | undefined {
  if (datagram.length !== 4) return undefined;
  const is = (b: Uint8Array): boolean => b.every((x, i) => datagram[i] === x);
  if (is(UDP_CONNECT_MSG)) return UDP_CONNECT_REPLY;
  if (is(UDP_CONNECT_MSG_BE)) return UDP_CONNECT_REPLY_BE;
  if (is(LEGACY_MSG_LE)) return LEGACY_REPLY_LE;
  if (is(LEGACY_MSG_BE)) return LEGACY_REPLY_BE;
  return undefined;
}

/** The cookie's text when `bytes` (exactly IPERF3_COOKIE_SIZE of them) is one, else undefined. */
export function parseCookie(bytes: Uint8Array): string | undefined {
  if (bytes.length !== IPERF3_COOKIE_SIZE || bytes[IPERF3_COOKIE_SIZE - 1] !== 0) return undefined;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, IPERF3_COOKIE_SIZE - 1).toString('latin1');
  return COOKIE_CHARS.test(text) ? text : undefined;
}

/** One state byte, as iperf_set_send_state writes it (a signed char). */
export function encodeState(state: IperfState): Uint8Array {
  return Uint8Array.of(state & 0xff);
}

/** JSON_write: a 4-byte big-endian length, then the JSON text (cJSON_PrintUnformatted, no NUL). */
export function encodeJsonBlock(value: unknown): Uint8Array {
  const text = Buffer.from(JSON.stringify(value), 'utf8');
  const out = new Uint8Array(4 + text.length);
  new DataView(out.buffer).setUint32(0, text.length);
  out.set(text, 4);
  return out;
}

/** SERVER_ERROR followed by i_errno and errno, 4 bytes each, big-endian (iperf_exchange_parameters). */
export function encodeServerError(iperfErrno: number, errno = 0): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  view.setInt8(0, IperfState.SERVER_ERROR);
  view.setInt32(1, iperfErrno);
  view.setInt32(5, errno);
  return out;
}

export type ControlReadError = 'badCookie' | 'jsonTooLong' | 'badJson';
/** What the reader yields: a value, "need more bytes" (undefined), or an error. */
export type ControlRead<T> = { ok: true; value: T } | { ok: false; error: ControlReadError; detail: string } | undefined;

/**
 * Accumulates the bytes of a control connection and takes the next message
 * of the kind the state machine expects: a cookie, a state byte, a JSON block.
 */
export class ControlReader {
  private buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): void {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  private take(n: number): Buffer {
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  cookie(): ControlRead<string> {
    if (this.buffer.length < IPERF3_COOKIE_SIZE) return undefined;
    const bytes = this.take(IPERF3_COOKIE_SIZE);
    const cookie = parseCookie(bytes);
    if (cookie === undefined) return { ok: false, error: 'badCookie', detail: `not an iperf3 cookie: ${JSON.stringify(bytes.toString('latin1').slice(0, 16))}...` };
    return { ok: true, value: cookie };
  }

  state(): ControlRead<number> {
    if (this.buffer.length < 1) return undefined;
    return { ok: true, value: this.take(1).readInt8(0) };
  }

  /** JSON_read: the length is checked before any of the text is waited for, so a huge claim costs nothing. */
  json(): ControlRead<Record<string, unknown>> {
    if (this.buffer.length < 4) return undefined;
    const length = this.buffer.readUInt32BE(0);
    if (length > IPERF3_JSON_MAX) return { ok: false, error: 'jsonTooLong', detail: `JSON block of ${length} bytes (at most ${IPERF3_JSON_MAX})` };
    if (this.buffer.length < 4 + length) return undefined;
    this.take(4);
    const text = this.take(length).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: 'badJson', detail: `JSON block: ${(e as Error).message}` };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'badJson', detail: 'JSON block: not an object' };
    return { ok: true, value: value as Record<string, unknown> };
  }
}
