/**
 * DNS server cookies: a lightweight answer to off-path spoofing and
 * amplification (RFC 7873 §1). Read first: RFC 7873 §5.2 (what a server does
 * with a COOKIE option), RFC 9018 §4 (the server cookie's layout and its
 * 1-hour lifetime).
 *
 * Hash choice. RFC 9018 §4.4 specifies SipHash-2-4 so that every server of an
 * anycast set can check the others' cookies; Node's crypto has no SipHash and
 * tapnet is a single server, which only ever checks its own cookies. RFC 7873
 * Appendix B.2 lets a server choose its algorithm freely and gives
 * HMAC-SHA256-64 as its example, so the Hash field here is HMAC-SHA256 (node's
 * OpenSSL, audited) truncated to 64 bits, over the RFC 9018 §4.4 input:
 *
 *   Client Cookie | Version | Reserved | Timestamp | Client IP address
 *
 * The layout (version 1, reserved, timestamp, 8-octet hash) is RFC 9018's, so
 * dig and kdig print and check it the same way. The Timestamp counts seconds
 * on the stack's clock rather than Unix time: RFC 9018 wants Unix time so that
 * servers of a set agree; a lone server only compares with itself, and the
 * secret is new at every start anyway.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { getU32, setU32 } from '../../core/bytes.js';
import type { Clock, Random } from '../../core/time.js';
import { parseIpv4, writeIpv4 } from '../../l3/ipv4/address.js';
import { parseIpv6 } from '../../l3/ipv6/address.js';
import { SERVER_COOKIE_LENGTH, SERVER_COOKIE_VERSION, ServerCookieField, type DnsCookie } from './edns-options.js';

/** RFC 9018 §4.3: a cookie older than one hour is invalid... */
export const SERVER_COOKIE_LIFETIME_S = 3600;
/** ...and so is one more than five minutes in the future. */
export const SERVER_COOKIE_MAX_FUTURE_S = 300;
/** Octets of server secret: RFC 7873 §7.1 asks for at least 64 bits; SipHash and HMAC keys of 128 bits are usual. */
export const SERVER_SECRET_LENGTH = 16;
const HASH_LENGTH = 8;

export class ServerCookies {
  private readonly secret: Uint8Array;

  constructor(
    private readonly clock: Clock,
    random: Random,
  ) {
    // RFC 7873 §7.1: the secret is random and not shared with anyone.
    this.secret = new Uint8Array(SERVER_SECRET_LENGTH);
    for (let i = 0; i < SERVER_SECRET_LENGTH; i += 4) setU32(this.secret, i, random.u32());
  }

  /** A fresh 16-octet server cookie for `client` (its client cookie) at `clientAddress`. */
  make(client: Uint8Array, clientAddress: string): Uint8Array {
    const cookie = new Uint8Array(SERVER_COOKIE_LENGTH);
    cookie[ServerCookieField.version] = SERVER_COOKIE_VERSION;
    setU32(cookie, ServerCookieField.timestamp, this.nowSeconds());
    cookie.set(this.hash(client, cookie, clientAddress), ServerCookieField.hash);
    return cookie;
  }

  /** RFC 7873 §5.2.4 / RFC 9018 §4.3: our layout, our hash for this client and address, and not too old or too new. */
  verify(cookie: DnsCookie, clientAddress: string): boolean {
    const server = cookie.server;
    if (!server || server.length !== SERVER_COOKIE_LENGTH || server[ServerCookieField.version] !== SERVER_COOKIE_VERSION) return false;
    // Serial-number arithmetic on the 32-bit timestamp (RFC 9018 §4.3 refers to RFC 1982).
    const age = (this.nowSeconds() - getU32(server, ServerCookieField.timestamp)) | 0;
    if (age > SERVER_COOKIE_LIFETIME_S || age < -SERVER_COOKIE_MAX_FUTURE_S) return false;
    const expected = this.hash(cookie.client, server, clientAddress);
    return timingSafeEqual(expected, server.subarray(ServerCookieField.hash, ServerCookieField.hash + HASH_LENGTH));
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000) >>> 0;
  }

  /** HMAC-SHA256-64 over client cookie, the server cookie's first 8 octets and the client's address. */
  private hash(client: Uint8Array, server: Uint8Array, clientAddress: string): Uint8Array {
    const hmac = createHmac('sha256', this.secret);
    hmac.update(client);
    hmac.update(server.subarray(0, ServerCookieField.hash));
    hmac.update(addressBytes(clientAddress));
    return new Uint8Array(hmac.digest().subarray(0, HASH_LENGTH));
  }
}

/** 4 or 16 octets; an address we cannot parse (a test without one) hashes as no octets. */
function addressBytes(text: string): Uint8Array {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) {
    const bytes = new Uint8Array(4);
    writeIpv4(bytes, 0, v4);
    return bytes;
  }
  return parseIpv6(text) ?? new Uint8Array(0);
}
