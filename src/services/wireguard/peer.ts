/**
 * One WireGuard peer: its keys, its endpoint, the handshake in progress, up
 * to three sessions (previous, current, next), the packets waiting for a
 * session, and the five timers of whitepaper §6 as wireguard-go runs them
 * (device/timers.go). The interface (./wireguard.ts) does the I/O; the
 * "timers…" methods are the events §6 names, called where they happen.
 *
 * Read first: whitepaper §6.1-6.5 (rekeying, passive keepalive, handshake
 * retransmission), §5.4.5 and §6.3 on why the responder keeps a "next"
 * session until the initiator proves it has it (key confirmation).
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import type { Ipv4Cidr } from '../../l3/ipv4/address.js';
import type { Ipv6Cidr } from '../../l3/ipv6/address.js';
import { CookieGenerator } from './cookie.js';
import { dh, type StaticKey } from './crypto.js';
import type { ConsumedInitiation, InitiatorHandshake } from './noise.js';
import { ReplayFilter } from './replay.js';
import { TAI64N_LENGTH } from './tai64n.js';

/** Whitepaper §6.1 and wireguard-go device/constants.go; every one can be shortened for tests (`timings`). */
export interface WireGuardTimings {
  /** REKEY_AFTER_TIME: the initiator of a session starts a new handshake when it sends on one this old. */
  readonly rekeyAfterTimeMs: number;
  /** REJECT_AFTER_TIME: a session this old is never used again. */
  readonly rejectAfterTimeMs: number;
  /** REKEY_ATTEMPT_TIME: give up a handshake after this long (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT tries). */
  readonly rekeyAttemptTimeMs: number;
  /** REKEY_TIMEOUT: retransmit an unanswered initiation after this (plus up to 333 ms jitter). */
  readonly rekeyTimeoutMs: number;
  /** KEEPALIVE_TIMEOUT: send an empty packet when data came in and nothing went out for this long. */
  readonly keepaliveTimeoutMs: number;
  /** REKEY_AFTER_MESSAGES: rekey after sending this many messages on one session. */
  readonly rekeyAfterMessages: number;
  /** REJECT_AFTER_MESSAGES: never send or accept a counter this high on one session. */
  readonly rejectAfterMessages: number;
}

export const DEFAULT_TIMINGS: WireGuardTimings = {
  rekeyAfterTimeMs: 120_000,
  rejectAfterTimeMs: 180_000,
  rekeyAttemptTimeMs: 90_000,
  rekeyTimeoutMs: 5_000,
  keepaliveTimeoutMs: 10_000,
  // 2^60 and 2^64 - 2^13 - 1 in the whitepaper; a JS number is exact to 2^53, and no session lives long
  // enough to send 2^53 messages (REJECT_AFTER_TIME ends it first), so the limits are clamped there.
  rekeyAfterMessages: 2 ** 52,
  rejectAfterMessages: Number.MAX_SAFE_INTEGER,
};

/** wireguard-go RekeyTimeoutJitterMaxMs: spread retries so two peers do not initiate in lockstep. */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
/** wireguard-go QueueStagedSize: packets held per peer while a handshake runs. */
export const STAGED_PACKETS_MAX = 128;

export interface PeerConfig {
  readonly publicKey: Uint8Array;
  readonly presharedKey?: Uint8Array;
  readonly endpoint?: Endpoint;
  readonly allowedIps4: readonly Ipv4Cidr[];
  readonly allowedIps6: readonly Ipv6Cidr[];
  /** Seconds; 0 or absent: off. */
  readonly persistentKeepalive?: number;
}

/** A UDP endpoint: where the peer's datagrams come from and ours go. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export function formatEndpoint(e: Endpoint): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** One session's keys (whitepaper §5.4.5) and counters. */
export interface Keypair {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  sendNonce: number;
  readonly replay: ReplayFilter;
  readonly createdAt: number;
  readonly initiator: boolean;
  readonly localIndex: number;
  readonly remoteIndex: number;
}

export type HandshakeState =
  | { readonly kind: 'zeroed' }
  | { readonly kind: 'initiationCreated'; readonly localIndex: number; readonly initiator: InitiatorHandshake }
  | { readonly kind: 'initiationConsumed'; readonly remoteIndex: number; readonly consumed: ConsumedInitiation };

/** What a peer's timers make it do; the interface implements them. */
export interface PeerActions {
  sendInitiation(peer: Peer, isRetry: boolean): void;
  sendKeepalive(peer: Peer): void;
  /** Drops the session keys and the handshake (their indices too). */
  zeroKeys(peer: Peer): void;
  handshakeGaveUp(peer: Peer): void;
}

export class Peer {
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | undefined;
  /** DH(S_priv_local, S_pub_peer): fixed for the peer, computed once (undefined for a low-order key: no handshake). */
  readonly staticStatic: Uint8Array | undefined;
  readonly cookies: CookieGenerator;
  readonly allowedIps4: Ipv4Cidr[];
  readonly allowedIps6: Ipv6Cidr[];
  endpoint: Endpoint | undefined;
  persistentKeepalive: number;

  handshake: HandshakeState = { kind: 'zeroed' };
  /** Newest TAI64N accepted from this peer (replay protection of initiations). */
  lastTimestamp: Uint8Array = new Uint8Array(TAI64N_LENGTH);
  lastInitiationConsumedAt = -Infinity;
  lastSentHandshakeAt = -Infinity;
  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;
  /** IP packets waiting for a session (copies). */
  staged: Uint8Array[] = [];

  rxBytes = 0;
  txBytes = 0;
  /** Wall-clock ms of the last completed handshake (for `latest handshake`), 0 for never. */
  lastHandshakeWallMs = 0;

  handshakeAttempts = 0;
  private needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;
  private readonly retransmitHandshake: Timer;
  private readonly sendKeepaliveTimer: Timer;
  private readonly newHandshake: Timer;
  private readonly zeroKeyMaterial: Timer;
  private readonly persistentKeepaliveTimer: Timer;

  constructor(
    private readonly ctx: StackContext,
    local: StaticKey,
    config: PeerConfig,
    private readonly timings: WireGuardTimings,
    private readonly actions: PeerActions,
  ) {
    this.publicKey = Uint8Array.from(config.publicKey);
    this.presharedKey = config.presharedKey;
    this.staticStatic = dh(local, this.publicKey);
    this.cookies = new CookieGenerator(this.publicKey);
    this.allowedIps4 = [...config.allowedIps4];
    this.allowedIps6 = [...config.allowedIps6];
    this.endpoint = config.endpoint;
    this.persistentKeepalive = config.persistentKeepalive ?? 0;
    const t = ctx.timers;
    this.retransmitHandshake = t.timer(() => this.expiredRetransmitHandshake());
    this.sendKeepaliveTimer = t.timer(() => this.expiredSendKeepalive());
    this.newHandshake = t.timer(() => this.actions.sendInitiation(this, false));
    this.zeroKeyMaterial = t.timer(() => this.actions.zeroKeys(this));
    this.persistentKeepaliveTimer = t.timer(() => {
      if (this.persistentKeepalive > 0) this.actions.sendKeepalive(this);
    });
  }

  get now(): number {
    return this.ctx.clock.now();
  }

  /** Up to 333 ms added to REKEY_TIMEOUT-based timers. */
  private jitter(): number {
    return Math.floor(this.ctx.random.float() * REKEY_TIMEOUT_JITTER_MAX_MS);
  }

  /**
   * The jitter of the "no answer to our data" timer, drawn once per session: that timer is cancelled by
   * every packet received and armed again by the next one sent, and a fresh random number each time would
   * cost a crypto RNG call per packet for no extra spread.
   */
  private dataSentJitter = 0;

  /** The session the initiator confirmed by sending on it: `next` becomes `current` (wireguard-go ReceivedWithKeypair). */
  receivedWith(keypair: Keypair, deleteKeypair: (k: Keypair) => void): boolean {
    if (this.next !== keypair) return false;
    if (this.previous) deleteKeypair(this.previous);
    this.previous = this.current;
    this.current = keypair;
    this.next = undefined;
    return true;
  }

  /** Installs a fresh session: as initiator it is current at once; as responder it waits as `next` for key confirmation. */
  installKeypair(keypair: Keypair, deleteKeypair: (k: Keypair) => void): void {
    if (keypair.initiator) {
      const oldPrevious = this.previous;
      if (this.next) {
        this.previous = this.next;
        this.next = undefined;
        if (this.current) deleteKeypair(this.current);
      } else {
        this.previous = this.current;
      }
      if (oldPrevious) deleteKeypair(oldPrevious);
      this.current = keypair;
    } else {
      if (this.next) deleteKeypair(this.next);
      this.next = keypair;
      if (this.previous) deleteKeypair(this.previous);
      this.previous = undefined;
    }
  }

  stop(): void {
    this.retransmitHandshake.cancel();
    this.sendKeepaliveTimer.cancel();
    this.newHandshake.cancel();
    this.zeroKeyMaterial.cancel();
    this.persistentKeepaliveTimer.cancel();
  }

  // ---- §6 timer events (wireguard-go device/timers.go) ----------------------------------------

  private expiredRetransmitHandshake(): void {
    if (this.handshakeAttempts > Math.floor(this.timings.rekeyAttemptTimeMs / this.timings.rekeyTimeoutMs)) {
      // Give up: drop what waited, and clear what is left of the exchange later.
      this.sendKeepaliveTimer.cancel();
      this.staged = [];
      this.actions.handshakeGaveUp(this);
      if (!this.zeroKeyMaterial.armed) this.zeroKeyMaterial.armIn(this.timings.rejectAfterTimeMs * 3);
      return;
    }
    this.handshakeAttempts++;
    this.actions.sendInitiation(this, true);
  }

  private expiredSendKeepalive(): void {
    this.actions.sendKeepalive(this);
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.sendKeepaliveTimer.armIn(this.timings.keepaliveTimeoutMs);
    }
  }

  /** After an authenticated data packet was sent: expect something back within KEEPALIVE + REKEY_TIMEOUT, else rehandshake. */
  timersDataSent(): void {
    if (!this.newHandshake.armed) this.newHandshake.armIn(this.timings.keepaliveTimeoutMs + this.timings.rekeyTimeoutMs + this.dataSentJitter);
  }

  /** After an authenticated data packet was received: answer with a keepalive if nothing else goes out (passive keepalive, §6.5). */
  timersDataReceived(): void {
    if (!this.sendKeepaliveTimer.armed) this.sendKeepaliveTimer.armIn(this.timings.keepaliveTimeoutMs);
    else this.needAnotherKeepalive = true;
  }

  /** After any authenticated packet (keepalive, data, handshake) was sent. */
  timersAnyAuthenticatedPacketSent(): void {
    this.sendKeepaliveTimer.cancel();
  }

  /** After any authenticated packet was received. */
  timersAnyAuthenticatedPacketReceived(): void {
    this.newHandshake.cancel();
  }

  timersHandshakeInitiated(): void {
    this.retransmitHandshake.armIn(this.timings.rekeyTimeoutMs + this.jitter());
  }

  /** A response was consumed, or the first data on a responder's session arrived. */
  timersHandshakeComplete(wallMs: number): void {
    this.retransmitHandshake.cancel();
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshakeWallMs = wallMs;
  }

  /** A session was derived: if no new one comes within 3 × REJECT_AFTER_TIME, every key goes. */
  timersSessionDerived(): void {
    this.dataSentJitter = this.jitter();
    this.zeroKeyMaterial.armIn(this.timings.rejectAfterTimeMs * 3);
  }

  /** Before an authenticated packet is sent or after one is received: persistent keepalive restarts. */
  timersAnyAuthenticatedPacketTraversal(): void {
    if (this.persistentKeepalive > 0) this.persistentKeepaliveTimer.armIn(this.persistentKeepalive * 1000);
  }

  /** Whether sending on `current` should start a handshake (§6.2: REKEY_AFTER_MESSAGES, or REKEY_AFTER_TIME for its initiator). */
  needsRekeyOnSend(): boolean {
    const k = this.current;
    if (!k) return false;
    return k.sendNonce > this.timings.rekeyAfterMessages || (k.initiator && this.now - k.createdAt > this.timings.rekeyAfterTimeMs);
  }

  /**
   * §6.2: the initiator of a session that is about to be rejected
   * (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old) rekeys on
   * receive too, once, so a peer that only listens still gets a new session.
   */
  needsRekeyOnReceive(): boolean {
    if (this.sentLastMinuteHandshake) return false;
    const k = this.current;
    const t = this.timings;
    if (k && k.initiator && this.now - k.createdAt > t.rejectAfterTimeMs - t.keepaliveTimeoutMs - t.rekeyTimeoutMs) {
      this.sentLastMinuteHandshake = true;
      return true;
    }
    return false;
  }

  /** The session to send on, if it may still be used. */
  usableSendKeypair(): Keypair | undefined {
    const k = this.current;
    if (!k || k.sendNonce >= this.timings.rejectAfterMessages || this.now - k.createdAt >= this.timings.rejectAfterTimeMs) return undefined;
    return k;
  }
}
