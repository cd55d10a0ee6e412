/**
 * Two EDNS options' wire formats (the OPT record itself is in message.ts).
 * Read first: RFC 7873 §4 (COOKIE), RFC 9018 §4 (the interoperable server
 * cookie layout), RFC 8914 §2 (Extended DNS Error).
 *
 * COOKIE (option code 10), RFC 7873 §4:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Client Cookie (8 octets)                     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Server Cookie (absent, or 8 to 32 octets)            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Server Cookie as RFC 9018 §4.2 lays it out (16 octets):
 *
 *   | Version (1) | Reserved (3) | Timestamp (4, Unix seconds) | Hash (8) |
 *
 * Extended DNS Error (option code 15), RFC 8914 §2:
 *
 *   | INFO-CODE (2) | EXTRA-TEXT (UTF-8, not NUL-terminated, may be empty) |
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { EdnsOptionCode } from './constants.js';
import type { EdnsOption } from './message.js';

export const CLIENT_COOKIE_LENGTH = 8;
/** RFC 7873 §4: a server cookie is 8 to 32 octets. */
export const SERVER_COOKIE_MIN_LENGTH = 8;
export const SERVER_COOKIE_MAX_LENGTH = 32;

/** Offsets inside an RFC 9018 server cookie. */
export const ServerCookieField = { version: 0, reserved: 1, timestamp: 4, hash: 8 } as const;
export const SERVER_COOKIE_LENGTH = 16;
export const SERVER_COOKIE_VERSION = 1;

export interface DnsCookie {
  readonly client: Uint8Array;
  /** Absent when the client has none yet (its first query to this server). */
  readonly server: Uint8Array | undefined;
}

export type CookieParse = { ok: true; value: DnsCookie } | { ok: false; error: 'badLength'; detail: string };

/** RFC 7873 §5.2.2: any length but 8 or 16..40 is malformed (the server answers FORMERR). */
export function parseCookieOption(data: Uint8Array): CookieParse {
  const n = data.length;
  if (n !== CLIENT_COOKIE_LENGTH && (n < CLIENT_COOKIE_LENGTH + SERVER_COOKIE_MIN_LENGTH || n > CLIENT_COOKIE_LENGTH + SERVER_COOKIE_MAX_LENGTH)) {
    return { ok: false, error: 'badLength', detail: `COOKIE option of ${n} octets (8, or 16 to 40: RFC 7873 §4)` };
  }
  return {
    ok: true,
    value: { client: data.slice(0, CLIENT_COOKIE_LENGTH), server: n > CLIENT_COOKIE_LENGTH ? data.slice(CLIENT_COOKIE_LENGTH) : undefined },
  };
}

export function cookieOption(cookie: DnsCookie): EdnsOption {
  const data = new Uint8Array(cookie.client.length + (cookie.server?.length ?? 0));
  data.set(cookie.client, 0);
  if (cookie.server) data.set(cookie.server, cookie.client.length);
  return { code: EdnsOptionCode.COOKIE, data };
}

/** RFC 8914 §4 INFO-CODEs tapnet sends. */
export const ExtendedDnsError = {
  OTHER: 0,
  NOT_SUPPORTED: 21, // §4.22: the query type or class is not supported
  NOT_AUTHORITATIVE: 20, // §4.21: a name in no local zone, and recursion not possible
  PROHIBITED: 18, // §4.19: the request is refused by policy
  NO_REACHABLE_AUTHORITY: 22, // §4.23: no upstream could be reached, or all refused
  NETWORK_ERROR: 23, // §4.24: an upstream could not be reached because of network errors
} as const;

/** EDE INFO-CODE offset; EXTRA-TEXT follows. */
export const ExtendedErrorField = { infoCode: 0, extraText: 2 } as const;

export interface ExtendedError {
  readonly infoCode: number;
  readonly extraText: string;
}

export function extendedErrorOption(error: ExtendedError): EdnsOption {
  const text = new TextEncoder().encode(error.extraText);
  const data = new Uint8Array(ExtendedErrorField.extraText + text.length);
  setU16(data, ExtendedErrorField.infoCode, error.infoCode);
  data.set(text, ExtendedErrorField.extraText);
  return { code: EdnsOptionCode.EXTENDED_ERROR, data };
}

/** The EDE in `data`, or undefined when it is shorter than its INFO-CODE. Invalid UTF-8 is replaced, not thrown. */
export function parseExtendedErrorOption(data: Uint8Array): ExtendedError | undefined {
  if (data.length < ExtendedErrorField.extraText) return undefined;
  return { infoCode: getU16(data, ExtendedErrorField.infoCode), extraText: new TextDecoder().decode(data.subarray(ExtendedErrorField.extraText)) };
}
