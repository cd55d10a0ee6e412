/**
 * The Noise_IKpsk2 handshake functions on pinned keys: both sides reach the
 * same transport keys (mirrored), and every tampering or wrong key fails
 * where the whitepaper says it must. (Interoperability itself is tested
 * against wireguard-go in tests/integration/wireguard.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../src/core/bytes.js';
import { dh, staticKey } from '../../../../src/services/wireguard/crypto.js';
import { NO_PRESHARED_KEY, consumeInitiation, consumeResponse, createInitiation, createResponse, deriveTransportKeys } from '../../../../src/services/wireguard/noise.js';
import { tai64n } from '../../../../src/services/wireguard/tai64n.js';

const key = (byte: number) => staticKey(new Uint8Array(32).fill(byte));
const initiator = key(1);
const responder = key(2);
const eI = key(3);
const eR = key(4);

function handshake(pskI: Uint8Array, pskR: Uint8Array) {
  const ss = dh(initiator, responder.publicKey)!;
  const init = createInitiation(initiator, responder.publicKey, ss, tai64n(Date.UTC(2026, 0, 1)), eI)!;
  const consumed = consumeInitiation(responder, init.message, (pk) => (toHex(pk) === toHex(initiator.publicKey) ? dh(responder, pk) : undefined));
  if (!consumed.ok) throw new Error(consumed.error);
  const resp = createResponse(consumed.value, pskR, eR)!;
  const chainI = consumeResponse(init.state, initiator, resp.message, pskI);
  return { init, consumed: consumed.value, resp, chainI };
}

describe('Noise_IKpsk2 as WireGuard runs it', () => {
  it('the responder learns the initiator static key and timestamp; both derive mirrored transport keys', () => {
    const h = handshake(NO_PRESHARED_KEY, NO_PRESHARED_KEY);
    expect(h.consumed.remoteStatic).toEqual(initiator.publicKey);
    expect(toHex(h.consumed.timestamp)).toBe(toHex(tai64n(Date.UTC(2026, 0, 1))));
    expect(h.init.message.encryptedStatic).toHaveLength(48);
    expect(h.init.message.encryptedTimestamp).toHaveLength(28);
    expect(h.resp.message.encryptedNothing).toHaveLength(16);
    const i = deriveTransportKeys(h.chainI!, true);
    const r = deriveTransportKeys(h.resp.chainKey, false);
    expect(i.send).toEqual(r.receive);
    expect(i.receive).toEqual(r.send);
    expect(i.send).not.toEqual(i.receive);
  });

  it('the same pinned keys always give the same messages (a regression vector)', () => {
    const a = handshake(NO_PRESHARED_KEY, NO_PRESHARED_KEY);
    const b = handshake(NO_PRESHARED_KEY, NO_PRESHARED_KEY);
    expect(toHex(a.init.message.encryptedStatic)).toBe(toHex(b.init.message.encryptedStatic));
    expect(toHex(a.resp.message.encryptedNothing)).toBe(toHex(b.resp.message.encryptedNothing));
  });

  it('a preshared key mismatch fails at the response (whitepaper §5.4.3: the empty AEAD)', () => {
    expect(handshake(new Uint8Array(32).fill(9), NO_PRESHARED_KEY).chainI).toBeUndefined();
    expect(handshake(new Uint8Array(32).fill(9), new Uint8Array(32).fill(9)).chainI).toBeDefined();
  });

  it('an unknown initiator, and a tampered static or timestamp, are told apart', () => {
    const ss = dh(initiator, responder.publicKey)!;
    const init = createInitiation(initiator, responder.publicKey, ss, tai64n(0), eI)!;
    expect(consumeInitiation(responder, init.message, () => undefined)).toEqual({ ok: false, error: 'unknownPeer' });
    const known = (pk: Uint8Array) => dh(responder, pk);
    const badStatic = { ...init.message, encryptedStatic: init.message.encryptedStatic.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(consumeInitiation(responder, badStatic, known)).toEqual({ ok: false, error: 'badStatic' });
    const badTime = { ...init.message, encryptedTimestamp: init.message.encryptedTimestamp.map((b, i) => (i === 3 ? b ^ 1 : b)) };
    expect(consumeInitiation(responder, badTime, known)).toEqual({ ok: false, error: 'badTimestamp' });
    // Sent to the wrong responder: the static key does not decrypt.
    expect(consumeInitiation(key(5), init.message, known)).toEqual({ ok: false, error: 'badStatic' });
  });

  it('a low-order ephemeral key makes no handshake', () => {
    const ss = dh(initiator, responder.publicKey)!;
    const init = createInitiation(initiator, responder.publicKey, ss, tai64n(0), eI)!;
    expect(consumeInitiation(responder, { ...init.message, ephemeral: new Uint8Array(32) }, (pk) => dh(responder, pk))).toEqual({ ok: false, error: 'badStatic' });
  });
});
