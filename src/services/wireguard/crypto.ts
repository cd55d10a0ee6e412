/**
 * WireGuard's cryptographic primitives, each one line over an audited
 * library (STYLE.md rule 15: never hand-written primitives).
 *
 * Read first: the WireGuard whitepaper §5.4 "Messages" (the functions
 * DH, DH-GENERATE, AEAD, XAEAD, HASH, MAC, HMAC, KDFn below are its names),
 * the Noise Protocol Framework §4-5, RFC 7748 (X25519), RFC 8439
 * (ChaCha20-Poly1305), RFC 7693 (BLAKE2s), RFC 2104 (HMAC), RFC 5869 (HKDF).
 *
 * Where each one comes from, and why:
 *  - X25519, ChaCha20-Poly1305, BLAKE2s-256 and HMAC-BLAKE2s: Node's crypto
 *    (OpenSSL), the library the rest of the runtime already trusts.
 *  - MAC (keyed BLAKE2s with a 16-byte output) and XAEAD
 *    (XChaCha20-Poly1305): OpenSSL exposes neither (its BLAKE2s has no key
 *    parameter and no output length through createHash, and it has no
 *    XChaCha), so they come from @noble/hashes and @noble/ciphers: audited,
 *    dependency-free, constant-time TypeScript by Paul Miller, used by the
 *    Ethereum and Bitcoin JS ecosystems.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export const KEY_LENGTH = 32;
export const HASH_LENGTH = 32;
/** Poly1305 tag. */
export const TAG_LENGTH = 16;
/** MAC1/MAC2 and cookies: BLAKE2s with a 16-byte output. */
export const MAC_LENGTH = 16;
export const XNONCE_LENGTH = 24;

// DER wrappings of a raw X25519 key (RFC 8410): OpenSSL takes keys as PKCS#8 / SPKI.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 private key, with the KeyObject OpenSSL wants and its public key. */
export interface StaticKey {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly keyObject: KeyObject;
}

/** The private key as raw bytes (RFC 7748 §5: X25519 clamps it itself; `wg genkey` stores it clamped). */
export function staticKey(privateKey: Uint8Array): StaticKey {
  const keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(keyObject).export({ format: 'der', type: 'spki' });
  return { privateKey: Uint8Array.from(privateKey), publicKey: new Uint8Array(spki.subarray(spki.length - KEY_LENGTH)), keyObject };
}

/** DH-GENERATE(): a fresh ephemeral key pair. */
export function generateStaticKey(): StaticKey {
  const { privateKey } = generateKeyPairSync('x25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return staticKey(new Uint8Array(pkcs8.subarray(pkcs8.length - KEY_LENGTH)));
}

/** The public key of a private key (`wg pubkey`). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return staticKey(privateKey).publicKey;
}

/**
 * DH(private, public): X25519. Undefined when the result is all zeros (a
 * low-order public key, RFC 7748 §6.1: "check ... is not all zero"); OpenSSL
 * refuses to derive it, wireguard-go rejects it as errInvalidPublicKey.
 */
export function dh(privateKey: StaticKey, publicKey: Uint8Array): Uint8Array | undefined {
  try {
    const peer = createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
    const shared = new Uint8Array(diffieHellman({ privateKey: privateKey.keyObject, publicKey: peer }));
    return shared.some((b) => b !== 0) ? shared : undefined;
  } catch {
    return undefined;
  }
}

/** HASH(input...): BLAKE2s-256 over the concatenation. */
export function hash(...inputs: readonly Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const i of inputs) h.update(i);
  return new Uint8Array(h.digest());
}

/** HMAC(key, input...): RFC 2104 over BLAKE2s-256 (64-byte blocks). */
export function hmac(key: Uint8Array, ...inputs: readonly Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const i of inputs) h.update(i);
  return new Uint8Array(h.digest());
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte output (not HMAC), for MAC1, MAC2 and cookies. */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: MAC_LENGTH });
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/** KDF1..3(key, input): HKDF (RFC 5869) with HMAC-BLAKE2s, an empty info, 1..3 outputs of 32 bytes. */
export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  return hmac(hmac(key, input), ONE);
}
export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const prk = hmac(key, input);
  const t0 = hmac(prk, ONE);
  return [t0, hmac(prk, t0, TWO)];
}
export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const prk = hmac(key, input);
  const t0 = hmac(prk, ONE);
  const t1 = hmac(prk, t0, TWO);
  return [t0, t1, hmac(prk, t1, THREE)];
}

/**
 * The 96-bit ChaCha20-Poly1305 nonce for `counter` (whitepaper §5.4.6: 32
 * zero bits, then the 64-bit counter little-endian). Counters past 2^53
 * cannot occur (REJECT_AFTER_MESSAGES is checked long before).
 */
export function counterNonce(counter: number, out = new Uint8Array(12)): Uint8Array {
  out[0] = out[1] = out[2] = out[3] = 0;
  const low = counter >>> 0;
  const high = Math.floor(counter / 0x1_0000_0000);
  out[4] = low & 0xff;
  out[5] = (low >>> 8) & 0xff;
  out[6] = (low >>> 16) & 0xff;
  out[7] = low >>> 24;
  out[8] = high & 0xff;
  out[9] = (high >>> 8) & 0xff;
  out[10] = (high >>> 16) & 0xff;
  out[11] = high >>> 24;
  return out;
}

/** AEAD(key, counter, plaintext, authtext): ChaCha20-Poly1305 (RFC 8439); ciphertext ‖ tag into `out` at `offset`, returns the length. */
export function aeadSealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, authtext: Uint8Array | undefined, out: Uint8Array, offset: number): number {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LENGTH });
  if (authtext && authtext.length > 0) c.setAAD(authtext, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  out.set(body, offset);
  const final = c.final();
  out.set(final, offset + body.length);
  out.set(c.getAuthTag(), offset + body.length + final.length);
  return plaintext.length + TAG_LENGTH;
}

export function aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, authtext?: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + TAG_LENGTH);
  aeadSealInto(key, nonce, plaintext, authtext, out, 0);
  return out;
}

/** The plaintext, or undefined when the tag does not verify. */
export function aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, authtext?: Uint8Array): Uint8Array | undefined {
  if (sealed.length < TAG_LENGTH) return undefined;
  const body = sealed.subarray(0, sealed.length - TAG_LENGTH);
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LENGTH });
    d.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    if (authtext && authtext.length > 0) d.setAAD(authtext, { plaintextLength: body.length });
    const out = d.update(body);
    d.final();
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch {
    return undefined;
  }
}

/** XAEAD(key, nonce, plaintext, authtext): XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), for cookie replies. */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, authtext: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, authtext).encrypt(plaintext);
}

export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, authtext: Uint8Array): Uint8Array | undefined {
  try {
    return xchacha20poly1305(key, nonce, authtext).decrypt(sealed);
  } catch {
    return undefined;
  }
}

/** Constant-time comparison of two MACs (a MAC compare must not leak where it differs). */
export function equalMac(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function random(length: number): Uint8Array {
  return new Uint8Array(randomBytes(length));
}
