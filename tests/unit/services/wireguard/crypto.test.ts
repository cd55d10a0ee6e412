/**
 * WireGuard's primitives against published test vectors: RFC 7748 (X25519),
 * RFC 8439 §2.8.2 (ChaCha20-Poly1305), RFC 7693 Appendix B and the BLAKE2
 * reference KAT (BLAKE2s, keyed), draft-irtf-cfrg-xchacha-03 §A.3.1
 * (XChaCha20-Poly1305); and the Noise constants every WireGuard shares.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { aeadOpen, aeadSeal, counterNonce, dh, generateStaticKey, hash, hmac, kdf1, kdf2, mac, staticKey, xaeadOpen, xaeadSeal } from '../../../../src/services/wireguard/crypto.js';
import { blake2s } from '@noble/hashes/blake2.js';
import { INITIAL_CHAIN_KEY, INITIAL_HASH } from '../../../../src/services/wireguard/noise.js';
import { formatKey, parseKey, publicKeyFor } from '../../../../src/services/wireguard/keys.js';
import { tai64n, tai64nAfter } from '../../../../src/services/wireguard/tai64n.js';

const te = new TextEncoder();
const SUNSCREEN = te.encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");

describe('X25519 (RFC 7748)', () => {
  it('§6.1: Alice and Bob derive the same shared secret', () => {
    const alice = staticKey(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = staticKey(fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(dh(alice, bob.publicKey)!)).toBe(shared);
    expect(toHex(dh(bob, alice.publicKey)!)).toBe(shared);
  });

  it('§5.2: the first scalar-multiplication vector', () => {
    const k = staticKey(fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'));
    expect(toHex(dh(k, fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'))!)).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
  });

  it('a low-order public key gives no shared secret (all zeros, §6.1 check)', () => {
    expect(dh(generateStaticKey(), new Uint8Array(32))).toBeUndefined();
  });
});

describe('ChaCha20-Poly1305 (RFC 8439 §2.8.2)', () => {
  const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = fromHex('070000004041424344454647');
  const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
  const sealed =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  it('seals to the RFC ciphertext and tag', () => {
    expect(toHex(aeadSeal(key, nonce, SUNSCREEN, aad))).toBe(sealed);
  });
  it('opens it, and refuses a flipped bit', () => {
    expect(aeadOpen(key, nonce, fromHex(sealed), aad)).toEqual(SUNSCREEN);
    const bad = fromHex(sealed);
    bad[10]! ^= 1;
    expect(aeadOpen(key, nonce, bad, aad)).toBeUndefined();
  });
  it('the transport nonce is 4 zero bytes then the counter, little-endian', () => {
    expect(toHex(counterNonce(0x0102030405))).toBe('000000000504030201000000');
  });
});

describe('BLAKE2s (RFC 7693)', () => {
  it('Appendix B: BLAKE2s-256("abc")', () => {
    expect(toHex(hash(te.encode('abc')))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  });
  it('keyed BLAKE2s (reference KAT, key 00..1f, empty input), the mode MAC1 uses', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(toHex(blake2s(new Uint8Array(0), { key, dkLen: 32 }))).toBe('48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49');
    expect(mac(key, new Uint8Array(0))).toHaveLength(16);
  });
  it('HMAC-BLAKE2s is RFC 2104 with 64-byte blocks (checked against a by-hand HMAC)', () => {
    const key = te.encode('key');
    const padded = new Uint8Array(64);
    padded.set(key);
    const ipad = padded.map((b) => b ^ 0x36);
    const opad = padded.map((b) => b ^ 0x5c);
    expect(toHex(hmac(key, te.encode('msg')))).toBe(toHex(hash(opad, hash(ipad, te.encode('msg')))));
  });
  it('KDF1/KDF2 are HKDF: T1 = HMAC(PRK, 0x1), T2 = HMAC(PRK, T1 ‖ 0x2)', () => {
    const key = new Uint8Array(32).fill(1);
    const input = new Uint8Array(32).fill(2);
    const prk = hmac(key, input);
    const [t1, t2] = kdf2(key, input);
    expect(t1).toEqual(hmac(prk, Uint8Array.of(1)));
    expect(t2).toEqual(hmac(prk, t1, Uint8Array.of(2)));
    expect(kdf1(key, input)).toEqual(t1);
  });
});

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §A.3.1)', () => {
  it('seals the draft vector and opens it', () => {
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const sealed = xaeadSeal(key, nonce, SUNSCREEN, aad);
    expect(toHex(sealed)).toBe(
      'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
        'c0875924c1c7987947deafd8780acf49',
    );
    expect(xaeadOpen(key, nonce, sealed, aad)).toEqual(SUNSCREEN);
    expect(xaeadOpen(key, nonce, sealed, new Uint8Array(1))).toBeUndefined();
  });
});

describe('Noise and key formats', () => {
  it('the initial chaining key and hash every WireGuard derives from CONSTRUCTION and IDENTIFIER', () => {
    expect(toHex(INITIAL_CHAIN_KEY)).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
    expect(toHex(INITIAL_HASH)).toBe('2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  });
  it('keys round-trip through wg base64; wg pubkey of the RFC 7748 key', () => {
    const alice = formatKey(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    expect(publicKeyFor(alice)).toBe(formatKey(fromHex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')));
    expect(parseKey(alice)).toEqual(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    expect(parseKey('too short=')).toBeUndefined();
    expect(parseKey(`${alice.slice(0, -2)}B=`)).toBeUndefined(); // non-canonical last character
  });
  it('TAI64N: 2^62 + 10 + seconds, then nanoseconds rounded to 2^24 ns; later is after', () => {
    const t = tai64n(1_000_500);
    // 1000 s after 1970 → 0x400000000000000a + 1000; 500 ms = 500 000 000 ns → 29 × 2^24 = 0x1d000000.
    expect(toHex(t)).toBe('40000000000003f21d000000');
    expect(tai64nAfter(tai64n(1_001_000), t)).toBe(true);
    expect(tai64nAfter(t, t)).toBe(false);
  });
});
