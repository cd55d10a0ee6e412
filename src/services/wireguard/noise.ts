/**
 * The Noise_IKpsk2 handshake as WireGuard runs it: whitepaper §5.4.2
 * (initiation), §5.4.3 (response), §5.4.5 (transport keys). Each function is
 * one side of one message, written in the whitepaper's order of operations
 * (Ci = chaining key, Hi = hash, the "mix" steps of Noise):
 *
 *   initiator                                   responder
 *   createInitiation  ── initiation (148) ──▶   consumeInitiation
 *   consumeResponse   ◀── response (92) ─────   createResponse
 *   deriveTransportKeys(initiator)              deriveTransportKeys(responder)
 *
 * These functions hold no state of their own and do no I/O: the peer
 * (./peer.ts) keeps what they return, checks timestamps and indices, and
 * sends. Ephemeral keys are parameters so the tests can pin them.
 */
import { TAG_LENGTH, aeadOpen, aeadSeal, dh, hash, kdf1, kdf2, kdf3, type StaticKey } from './crypto.js';
import { ENCRYPTED_STATIC_LENGTH, ENCRYPTED_TIMESTAMP_LENGTH, type Initiation } from './initiation.js';
import type { Response } from './response.js';
import { TAI64N_LENGTH } from './tai64n.js';

const text = new TextEncoder();
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
/** Ci := HASH(CONSTRUCTION) */
export const INITIAL_CHAIN_KEY = hash(text.encode(CONSTRUCTION));
/** Hi := HASH(Ci ‖ IDENTIFIER) */
export const INITIAL_HASH = hash(INITIAL_CHAIN_KEY, text.encode(IDENTIFIER));
const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);
/** A peer without a preshared key uses 32 zero bytes (whitepaper §5.4.3, Q). */
export const NO_PRESHARED_KEY = new Uint8Array(32);

/** The running transcript of one handshake. */
export interface HandshakeTranscript {
  readonly chainKey: Uint8Array;
  readonly hash: Uint8Array;
}

/** What the initiator keeps between sending the initiation and reading the response. */
export interface InitiatorHandshake extends HandshakeTranscript {
  readonly ephemeral: StaticKey;
}

/** The initiation's fields before MACs, and the state to keep. */
export interface CreatedInitiation {
  readonly message: Omit<Initiation, 'mac1' | 'mac2' | 'sender'>;
  readonly state: InitiatorHandshake;
}

/**
 * Initiator, message 1. `staticStatic` is DH(S_priv_i, S_pub_r), computed once
 * per peer; `timestamp` a TAI64N (./tai64n.ts). Undefined when a DH result is
 * all zeros (a bad peer public key).
 */
export function createInitiation(local: StaticKey, remoteStatic: Uint8Array, staticStatic: Uint8Array, timestamp: Uint8Array, ephemeral: StaticKey): CreatedInitiation | undefined {
  let h = hash(INITIAL_HASH, remoteStatic); //                  Hi := HASH(Hi ‖ S_pub_r)
  let c = kdf1(INITIAL_CHAIN_KEY, ephemeral.publicKey); //       Ci := KDF1(Ci, E_pub_i)
  h = hash(h, ephemeral.publicKey); //                           Hi := HASH(Hi ‖ msg.ephemeral)
  const es = dh(ephemeral, remoteStatic);
  if (!es) return undefined;
  let key: Uint8Array;
  [c, key] = kdf2(c, es); //                                     (Ci, κ) := KDF2(Ci, DH(E_priv_i, S_pub_r))
  const encryptedStatic = aeadSeal(key, ZERO_NONCE, local.publicKey, h); // msg.static := AEAD(κ, 0, S_pub_i, Hi)
  h = hash(h, encryptedStatic);
  [c, key] = kdf2(c, staticStatic); //                           (Ci, κ) := KDF2(Ci, DH(S_priv_i, S_pub_r))
  const encryptedTimestamp = aeadSeal(key, ZERO_NONCE, timestamp, h); // msg.timestamp := AEAD(κ, 0, TAI64N(), Hi)
  h = hash(h, encryptedTimestamp);
  return { message: { ephemeral: ephemeral.publicKey, encryptedStatic, encryptedTimestamp }, state: { chainKey: c, hash: h, ephemeral } };
}

/** What the responder learns from a valid initiation. */
export interface ConsumedInitiation extends HandshakeTranscript {
  readonly remoteStatic: Uint8Array;
  readonly remoteEphemeral: Uint8Array;
  readonly timestamp: Uint8Array;
}

export type InitiationError = 'badStatic' | 'unknownPeer' | 'badTimestamp';

/**
 * Responder, message 1: decrypt the initiator's static key, find the peer
 * (`staticStaticFor` returns DH(S_priv_r, S_pub_i) for a configured peer),
 * decrypt the timestamp. Timestamp replay is the peer's check (./peer.ts).
 */
export function consumeInitiation(
  local: StaticKey,
  m: Pick<Initiation, 'ephemeral' | 'encryptedStatic' | 'encryptedTimestamp'>,
  staticStaticFor: (remoteStatic: Uint8Array) => Uint8Array | undefined,
): { ok: true; value: ConsumedInitiation } | { ok: false; error: InitiationError } {
  let h = hash(INITIAL_HASH, local.publicKey);
  h = hash(h, m.ephemeral);
  let c = kdf1(INITIAL_CHAIN_KEY, m.ephemeral);
  const es = dh(local, m.ephemeral);
  if (!es) return { ok: false, error: 'badStatic' };
  let key: Uint8Array;
  [c, key] = kdf2(c, es);
  const remoteStatic = aeadOpen(key, ZERO_NONCE, m.encryptedStatic, h);
  if (!remoteStatic || m.encryptedStatic.length !== ENCRYPTED_STATIC_LENGTH) return { ok: false, error: 'badStatic' };
  h = hash(h, m.encryptedStatic);
  const ss = staticStaticFor(remoteStatic);
  if (!ss) return { ok: false, error: 'unknownPeer' };
  [c, key] = kdf2(c, ss);
  const timestamp = aeadOpen(key, ZERO_NONCE, m.encryptedTimestamp, h);
  if (!timestamp || m.encryptedTimestamp.length !== ENCRYPTED_TIMESTAMP_LENGTH || timestamp.length !== TAI64N_LENGTH) return { ok: false, error: 'badTimestamp' };
  h = hash(h, m.encryptedTimestamp);
  return { ok: true, value: { chainKey: c, hash: h, remoteStatic: Uint8Array.from(remoteStatic), remoteEphemeral: Uint8Array.from(m.ephemeral), timestamp: Uint8Array.from(timestamp) } };
}

/**
 * Responder, message 2: the response's fields and the final chaining key.
 * Undefined when a DH result is all zeros.
 */
export function createResponse(
  consumed: ConsumedInitiation,
  presharedKey: Uint8Array,
  ephemeral: StaticKey,
): { message: Pick<Response, 'ephemeral' | 'encryptedNothing'>; chainKey: Uint8Array } | undefined {
  let c = kdf1(consumed.chainKey, ephemeral.publicKey); //     Cr := KDF1(Cr, E_pub_r)
  let h = hash(consumed.hash, ephemeral.publicKey); //         Hr := HASH(Hr ‖ msg.ephemeral)
  const ee = dh(ephemeral, consumed.remoteEphemeral);
  const se = dh(ephemeral, consumed.remoteStatic);
  if (!ee || !se) return undefined;
  c = kdf1(c, ee); //                                          Cr := KDF1(Cr, DH(E_priv_r, E_pub_i))
  c = kdf1(c, se); //                                          Cr := KDF1(Cr, DH(E_priv_r, S_pub_i))
  let tau: Uint8Array;
  let key: Uint8Array;
  [c, tau, key] = kdf3(c, presharedKey); //                    (Cr, τ, κ) := KDF3(Cr, Q)
  h = hash(h, tau);
  const encryptedNothing = aeadSeal(key, ZERO_NONCE, EMPTY, h); // msg.empty := AEAD(κ, 0, ε, Hr)
  return { message: { ephemeral: ephemeral.publicKey, encryptedNothing }, chainKey: c };
}

/** Initiator, message 2: the final chaining key, or undefined when the response does not authenticate. */
export function consumeResponse(state: InitiatorHandshake, local: StaticKey, m: Pick<Response, 'ephemeral' | 'encryptedNothing'>, presharedKey: Uint8Array): Uint8Array | undefined {
  let c = kdf1(state.chainKey, m.ephemeral);
  let h = hash(state.hash, m.ephemeral);
  const ee = dh(state.ephemeral, m.ephemeral);
  const se = dh(local, m.ephemeral);
  if (!ee || !se) return undefined;
  c = kdf1(c, ee);
  c = kdf1(c, se);
  let tau: Uint8Array;
  let key: Uint8Array;
  [c, tau, key] = kdf3(c, presharedKey);
  h = hash(h, tau);
  if (m.encryptedNothing.length !== TAG_LENGTH || !aeadOpen(key, ZERO_NONCE, m.encryptedNothing, h)) return undefined;
  return c;
}

/** §5.4.5: (T_send, T_recv) := KDF2(C, ε) for the initiator, swapped for the responder. */
export function deriveTransportKeys(chainKey: Uint8Array, initiator: boolean): { send: Uint8Array; receive: Uint8Array } {
  const [t1, t2] = kdf2(chainKey, EMPTY);
  return initiator ? { send: t1, receive: t2 } : { send: t2, receive: t1 };
}
