/**
 * Cookie reply (message type 3), 64 bytes: a responder under load answers a
 * handshake message whose mac2 is missing or stale with an encrypted cookie
 * instead of doing Diffie-Hellman. Whitepaper §5.4.7.
 *
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+-----------------------------------------------+
 * |   type = 3    |               reserved (zero)                 |   0
 * +---------------+-----------------------------------------------+
 * |     receiver index (LE u32): the sender of the message        |   4
 * +---------------------------------------------------------------+
 * |                    XChaCha20 nonce (24)                       |   8
 * +---------------------------------------------------------------+
 * |                encrypted cookie (16 + 16 tag)                 |  32
 * +---------------------------------------------------------------+  64
 */
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import { MessageType, emitMessageType, getU32le, setU32le } from './message-type.js';

export const CookieReplyField = {
  type: 0,
  receiver: 4,
  nonce: 8,
  encryptedCookie: 32,
} as const;

export const COOKIE_REPLY_LENGTH = 64;

export interface CookieReply {
  readonly receiver: number;
  readonly nonce: Uint8Array;
  readonly encryptedCookie: Uint8Array;
}

export function parseCookieReply(buf: Uint8Array): ParseResult<CookieReply> {
  if (buf.length < COOKIE_REPLY_LENGTH) return fail('truncated', 0, `${buf.length} bytes < ${COOKIE_REPLY_LENGTH}`);
  if (buf.length > COOKIE_REPLY_LENGTH) return fail('badLength', COOKIE_REPLY_LENGTH, `${buf.length} bytes > ${COOKIE_REPLY_LENGTH}`);
  if (buf[0] !== MessageType.cookieReply || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return fail('badValue', 0, 'not a cookie reply');
  const f = CookieReplyField;
  return ok({
    receiver: getU32le(buf, f.receiver),
    nonce: buf.subarray(f.nonce, f.encryptedCookie),
    encryptedCookie: buf.subarray(f.encryptedCookie, COOKIE_REPLY_LENGTH),
  });
}

export function emitCookieReply(m: CookieReply, buf: Uint8Array, offset: number): number {
  const f = CookieReplyField;
  emitMessageType(MessageType.cookieReply, buf, offset);
  setU32le(buf, offset + f.receiver, m.receiver);
  buf.set(m.nonce, offset + f.nonce);
  buf.set(m.encryptedCookie, offset + f.encryptedCookie);
  return COOKIE_REPLY_LENGTH;
}

export function describeCookieReply(m: CookieReply): string {
  return `WireGuard cookie reply, receiver ${m.receiver}`;
}
