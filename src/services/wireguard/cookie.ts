/**
 * MAC1, MAC2 and cookies: WireGuard's DoS protection (whitepaper §5.3 and
 * §5.4.4, §5.4.7). Every handshake message ends with two 16-byte MACs:
 *
 *   mac1 = MAC(HASH(LABEL_MAC1 ‖ S_pub_receiver), msg up to mac1)
 *          anyone who knows the receiver's public key can make it; without it
 *          a responder spends no Diffie-Hellman on the message at all.
 *   mac2 = MAC(cookie, msg up to mac2), or zeros without a fresh cookie.
 *
 * A responder under load accepts only messages whose mac2 proves the sender
 * got a cookie at its IP address and port: it answers the others with a
 * cookie reply (./cookie-reply.ts), the cookie sealed with XChaCha20-Poly1305
 * under HASH(LABEL_COOKIE ‖ S_pub_responder), with the message's mac1 as
 * associated data so only its real sender can open it.
 *
 *   cookie = MAC(R_secret, source IP ‖ source port), R_secret random,
 *            changed every COOKIE_REFRESH_TIME.
 */
import { MAC_LENGTH, XNONCE_LENGTH, equalMac, hash, mac, xaeadOpen, xaeadSeal } from './crypto.js';
import type { CookieReply } from './cookie-reply.js';

const text = new TextEncoder();
export const LABEL_MAC1 = text.encode('mac1----');
export const LABEL_COOKIE = text.encode('cookie--');
/** Whitepaper §6.6 (wireguard-go CookieRefreshTime): secrets and cookies live 120 s. */
export const COOKIE_REFRESH_TIME_MS = 120_000;

/** Where mac1 and mac2 sit: the last 32 bytes of a handshake message. */
function macOffsets(message: Uint8Array): { mac1: number; mac2: number } {
  const mac2 = message.length - MAC_LENGTH;
  return { mac1: mac2 - MAC_LENGTH, mac2 };
}

export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(LABEL_MAC1, publicKey);
}

export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(LABEL_COOKIE, publicKey);
}

/** The responder's side, for messages sent to us: checks MACs and makes cookie replies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly encryptionKey: Uint8Array;
  private secret: Uint8Array = new Uint8Array(32);
  private secretSetAt = -Infinity;

  constructor(
    localPublicKey: Uint8Array,
    private readonly random: (length: number) => Uint8Array,
  ) {
    this.mac1Key = mac1Key(localPublicKey);
    this.encryptionKey = cookieKey(localPublicKey);
  }

  checkMac1(message: Uint8Array): boolean {
    const { mac1, mac2 } = macOffsets(message);
    return equalMac(mac(this.mac1Key, message.subarray(0, mac1)), message.subarray(mac1, mac2));
  }

  /** mac2 made with the cookie we would give `source` now (false once the secret is older than 120 s). */
  checkMac2(message: Uint8Array, source: Uint8Array, now: number): boolean {
    if (now - this.secretSetAt > COOKIE_REFRESH_TIME_MS) return false;
    const cookie = mac(this.secret, source);
    const { mac2 } = macOffsets(message);
    return equalMac(mac(cookie, message.subarray(0, mac2)), message.subarray(mac2));
  }

  /** The cookie reply to `message` from `source` (its sender index is the reply's receiver). */
  createReply(message: Uint8Array, receiver: number, source: Uint8Array, now: number): CookieReply {
    if (now - this.secretSetAt > COOKIE_REFRESH_TIME_MS) {
      this.secret = this.random(32);
      this.secretSetAt = now;
    }
    const cookie = mac(this.secret, source);
    const { mac1, mac2 } = macOffsets(message);
    const nonce = this.random(XNONCE_LENGTH);
    return { receiver, nonce, encryptedCookie: xaeadSeal(this.encryptionKey, nonce, cookie, message.subarray(mac1, mac2)) };
  }
}

/** The initiator's side, one per peer: fills in the MACs of messages to that peer, keeps its cookie. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly encryptionKey: Uint8Array;
  private cookie: Uint8Array = new Uint8Array(MAC_LENGTH);
  private cookieSetAt = -Infinity;
  private lastMac1: Uint8Array | undefined;

  constructor(remotePublicKey: Uint8Array) {
    this.mac1Key = mac1Key(remotePublicKey);
    this.encryptionKey = cookieKey(remotePublicKey);
  }

  /** Writes mac1, and mac2 when a cookie younger than 120 s is held (else zeros), into `message` in place. */
  addMacs(message: Uint8Array, now: number): void {
    const { mac1, mac2 } = macOffsets(message);
    const m1 = mac(this.mac1Key, message.subarray(0, mac1));
    message.set(m1, mac1);
    this.lastMac1 = m1;
    if (now - this.cookieSetAt > COOKIE_REFRESH_TIME_MS) message.fill(0, mac2);
    else message.set(mac(this.cookie, message.subarray(0, mac2)), mac2);
  }

  /** Takes the cookie from a reply to our last message; false when it does not decrypt. */
  consumeReply(reply: CookieReply, now: number): boolean {
    if (!this.lastMac1) return false;
    const cookie = xaeadOpen(this.encryptionKey, reply.nonce, reply.encryptedCookie, this.lastMac1);
    if (!cookie) return false;
    this.cookie = cookie;
    this.cookieSetAt = now;
    return true;
  }

  get hasCookie(): boolean {
    return this.cookieSetAt > -Infinity;
  }
}
