/**
 * One BGP neighbour: the finite state machine of RFC 4271 §8 over one or
 * two TCP connections, with its three timers on the injected clock.
 *
 * Read first: RFC 4271 §8.2.2 (the FSM's events and actions), §6.8
 * (connection collisions), §10 (timer values), RFC 6608 (FSM errors).
 *
 *   Idle ──start──▶ Connect (our SYN is out; passive peers go to Active)
 *   Connect/Active ──TCP up──▶ OpenSent (our OPEN sent, hold timer 4 min)
 *   OpenSent ──OPEN ok──▶ OpenConfirm (KEEPALIVE sent, hold = negotiated)
 *   OpenConfirm ──KEEPALIVE──▶ Established
 *   any ──error / NOTIFICATION / hold timer / TCP closed──▶ Idle, then
 *          ConnectRetry later
 *
 * Each TCP connection (ours, the peer's, or both during a collision) walks
 * OpenSent → OpenConfirm on its own; the session's state is the furthest
 * one. The transport is a `BgpConnection`: the speaker wraps tapnet's TCP
 * sockets in it, and tests pass a fake.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import { formatIpv4 } from '../../l3/ipv4/address.js';
import { CapabilityCode, type Capability } from './capabilities.js';
import { CeaseSubcode, ErrorCode, FsmSubcode, OpenSubcode, bgpError, describeErrorCode, type BgpError } from './errors.js';
import { MessageType, keepaliveMessage, nextMessage } from './header.js';
import { describeNotification, notificationMessage, parseNotification, type Notification } from './notification.js';
import { AS_TRANS, BGP_VERSION, describeOpen, openAs, openMessage, parseOpen, type Open } from './open.js';
import { Afi, Safi, type AfiName } from './prefix.js';
import { parseRouteRefresh, routeRefreshMessage } from './route-refresh.js';
import { parseUpdate, updateMessage, type Update } from './update.js';

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** RFC 4271 §10 suggests 90 s hold (keepalive a third of it). */
export const DEFAULT_HOLD_TIME_S = 90;
/** RFC 4271 §8.2.2: "the HoldTimer ... set to a large value ... 4 minutes" while waiting for OPEN. */
export const LARGE_HOLD_TIME_MS = 240_000;
/** RFC 4271 §10 suggests 120 s; BIRD's "connect delay time" is 5 s. Labs come up in seconds, so 5 s. */
export const DEFAULT_CONNECT_RETRY_S = 5;

/** A byte pipe to the peer: a TCP socket in the speaker, a fake in tests. */
export interface BgpConnection {
  /** True for the connection we opened (RFC 4271 §6.8 decides collisions by who opened what). */
  readonly outgoing: boolean;
  send(bytes: Uint8Array): void;
  close(): void;
}

export interface SessionConfig {
  readonly localAs: number;
  readonly peerAs: number;
  readonly routerId: number;
  readonly peerAddress: string;
  readonly holdTime: number;
  readonly connectRetry: number;
  /** Passive: never connect, wait for the peer (RFC 4271 §8.1.1 PassiveTcpEstablishment). */
  readonly passive: boolean;
  readonly families: readonly AfiName[];
}

/** What the session tells its owner (the speaker). */
export interface SessionOwner {
  connect(session: BgpSession): void;
  established(session: BgpSession): void;
  down(session: BgpSession, reason: string): void;
  update(session: BgpSession, update: Update): void;
  routeRefresh(session: BgpSession, family: AfiName): void;
}

interface ConnectionState {
  readonly conn: BgpConnection;
  phase: 'OpenSent' | 'OpenConfirm' | 'Established';
  received: Uint8Array;
  open: Open | undefined;
  readonly hold: Timer;
  readonly keepalive: Timer;
  holdMs: number;
}

export class BgpSession {
  state: SessionState = 'Idle';
  /** What the peer's OPEN said, once Established. */
  peerOpen: Open | undefined;
  peerRouterId = 0;
  /** 4 when both sides sent the 4-octet AS capability (RFC 6793 §4.1). */
  asWidth: 2 | 4 = 2;
  /** Address families both sides announced (RFC 4760 §8; none announced = IPv4 unicast). */
  families: AfiName[] = [];
  peerRouteRefresh = false;
  negotiatedHoldTime = 0;
  establishedAt: number | undefined;
  lastError = '';
  readonly counts = { inUpdates: 0, outUpdates: 0, inMessages: 0, outMessages: 0, establishedTransitions: 0 };
  private readonly connections: ConnectionState[] = [];
  private readonly connectRetry: Timer;
  /** Automatic restart after shutdown() (RFC 4271 §8.1.1 IdleHoldTimer). */
  private readonly idleHold: Timer;
  private started = false;

  constructor(
    private readonly ctx: StackContext,
    readonly config: SessionConfig,
    private readonly owner: SessionOwner,
  ) {
    this.connectRetry = ctx.timers.timer(() => this.connectRetryExpired());
    this.idleHold = ctx.timers.timer(() => this.start());
  }

  get external(): boolean {
    return this.config.localAs !== this.config.peerAs;
  }

  /** ManualStart (RFC 4271 §8.1.2 Event 1, or Event 5 when passive). */
  start(): void {
    this.idleHold.cancel();
    this.started = true;
    this.tryConnect();
  }

  /** ManualStop (Event 2): Cease / Administrative Shutdown on every connection. */
  stop(subcode: number = CeaseSubcode.administrativeShutdown): void {
    this.started = false;
    this.idleHold.cancel();
    this.connectRetry.cancel();
    for (const c of [...this.connections]) this.closeWith(c, { code: ErrorCode.cease, subcode, data: new Uint8Array(0) }, 'stopped');
    this.state = 'Idle';
  }

  /** A new TCP connection is up (our active open finished, or the peer's was accepted). */
  connectionUp(conn: BgpConnection): void {
    if (!this.started) return conn.close();
    const established = this.connections.find((c) => c.phase === 'Established');
    if (established) {
      // RFC 4271 §6.8: a connection that collides with an Established one is closed.
      this.ctx.stats.inc('bgpCollisions');
      conn.send(notificationMessage({ code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution, data: new Uint8Array(0) }));
      return conn.close();
    }
    const c: ConnectionState = {
      conn,
      phase: 'OpenSent',
      received: new Uint8Array(0),
      open: undefined,
      hold: this.ctx.timers.timer(() => this.holdTimerExpired(c)),
      keepalive: this.ctx.timers.timer(() => this.sendKeepalive(c)),
      holdMs: LARGE_HOLD_TIME_MS,
    };
    this.connections.push(c);
    this.connectRetry.cancel();
    this.send(c, openMessage(this.ourOpen()));
    c.hold.armIn(LARGE_HOLD_TIME_MS);
    this.updateState();
  }

  /** Our active open failed (refused, timed out): wait for ConnectRetry. */
  connectFailed(reason: string): void {
    this.lastError = `connect: ${reason}`;
    if (this.connections.length === 0) this.state = this.config.passive ? 'Active' : 'Idle';
    this.armConnectRetry();
  }

  /** Bytes from the peer: whole messages are handled as they complete. */
  receive(conn: BgpConnection, data: Uint8Array): void {
    const c = this.connections.find((x) => x.conn === conn);
    if (!c) return;
    let buf = c.received.length === 0 ? data : concat(c.received, data);
    for (;;) {
      const next = nextMessage(buf);
      if (next === undefined) break;
      if (!next.ok) {
        this.fail(c, next.error, 'bgpInHeaderErrors');
        return;
      }
      buf = buf.subarray(next.value.size);
      this.ctx.stats.inc('bgpInMessages');
      this.counts.inMessages++;
      if (!this.handleMessage(c, next.value.header.type, next.value.body)) return;
    }
    // At most one partial message (≤ 4096 bytes, header.ts) stays buffered: a peer cannot make us hold more.
    c.received = buf.slice();
  }

  /** The TCP connection closed under us (FIN or RST from the peer). */
  connectionClosed(conn: BgpConnection, reason = 'connection closed by peer'): void {
    const c = this.connections.find((x) => x.conn === conn);
    if (!c) return;
    this.drop(c, reason);
  }

  sendUpdate(update: Update): void {
    const c = this.connections.find((x) => x.phase === 'Established');
    if (!c) return;
    this.ctx.stats.inc('bgpOutUpdates');
    this.counts.outUpdates++;
    this.send(c, updateMessage(update, this.asWidth));
  }

  /** Asks the peer to send its routes again (RFC 2918), when it said it can. */
  requestRefresh(family: AfiName): boolean {
    const c = this.connections.find((x) => x.phase === 'Established');
    if (!c || !this.peerRouteRefresh || !this.families.includes(family)) return false;
    this.send(c, routeRefreshMessage({ afi: Afi[family], safi: Safi.unicast, subtype: 0 }));
    return true;
  }

  /** Session reset from the speaker (e.g. the max-prefix limit): NOTIFICATION, close, retry later. */
  reset(notification: Notification, reason: string): void {
    for (const c of [...this.connections]) this.closeWith(c, notification, reason);
  }

  /**
   * Like ManualStop (RFC 4271 §8.1.2 Event 2) with the speaker's NOTIFICATION
   * (e.g. Cease / Maximum Number of Prefixes Reached): the session goes Idle
   * and accepts no connection; with `restartAfterMs` it starts again by
   * itself then (RFC 4271 §8.1.1 IdleHoldTimer, FRR's maximum-prefix restart).
   */
  shutdown(notification: Notification, reason: string, restartAfterMs?: number): void {
    this.started = false;
    this.connectRetry.cancel();
    for (const c of [...this.connections]) this.closeWith(c, notification, reason);
    this.state = 'Idle';
    this.lastError = reason;
    this.idleHold.cancel();
    if (restartAfterMs !== undefined) this.idleHold.armIn(restartAfterMs);
  }

  private ourOpen(): Open {
    const caps: Capability[] = this.config.families.map((f) => ({ kind: 'multiprotocol' as const, afi: Afi[f], safi: Safi.unicast }));
    caps.push({ kind: 'routeRefresh' }, { kind: 'fourOctetAs', as: this.config.localAs });
    return {
      version: BGP_VERSION,
      myAs: this.config.localAs > 0xffff ? AS_TRANS : this.config.localAs,
      holdTime: this.config.holdTime,
      bgpIdentifier: this.config.routerId,
      capabilities: caps,
    };
  }

  /** Returns false when the connection was closed (stop reading). */
  private handleMessage(c: ConnectionState, type: number, body: Uint8Array): boolean {
    switch (type) {
      case MessageType.open:
        this.ctx.stats.inc('bgpInOpens');
        if (c.phase !== 'OpenSent') return this.fsmError(c, 'OPEN');
        return this.receiveOpen(c, body);
      case MessageType.keepalive:
        this.ctx.stats.inc('bgpInKeepalives');
        if (c.phase === 'OpenSent') return this.fsmError(c, 'KEEPALIVE');
        this.restartHold(c);
        if (c.phase === 'OpenConfirm') this.becomeEstablished(c);
        return true;
      case MessageType.update: {
        this.ctx.stats.inc('bgpInUpdates');
        this.counts.inUpdates++;
        if (c.phase !== 'Established') return this.fsmError(c, 'UPDATE');
        this.restartHold(c);
        const update = parseUpdate(body, this.asWidth);
        if (!update.ok) return this.fail(c, update.error, 'bgpInUpdateErrors');
        if (update.value.treatAsWithdraw) this.ctx.trace.dropped('bgpInTreatAsWithdraw', `${this.config.peerAddress}: ${update.value.treatAsWithdraw.detail}`);
        for (const d of update.value.discarded ?? []) this.ctx.trace.dropped('bgpInAttributeDiscard', `${this.config.peerAddress}: ${d.detail}`);
        this.owner.update(this, update.value);
        return this.connections.includes(c);
      }
      case MessageType.notification: {
        this.ctx.stats.inc('bgpInNotifications');
        const n = parseNotification(body);
        this.drop(c, `received NOTIFICATION ${n.ok ? describeNotification(n.value) : '(malformed)'}`);
        return false;
      }
      case MessageType.routeRefresh: {
        this.ctx.stats.inc('bgpInRouteRefreshes');
        if (c.phase !== 'Established') return this.fsmError(c, 'ROUTE-REFRESH');
        const r = parseRouteRefresh(body);
        if (!r.ok) return this.fail(c, r.error, 'bgpInUpdateErrors');
        // RFC 2918 §4: a refresh for a family not negotiated is ignored.
        const family = r.value.afi === Afi.ipv4 ? 'ipv4' : r.value.afi === Afi.ipv6 ? 'ipv6' : undefined;
        if (family && r.value.safi === Safi.unicast && this.families.includes(family)) this.owner.routeRefresh(this, family);
        return true;
      }
    }
    return true; // parseHeader already refused unknown types
  }

  /** RFC 4271 §6.2 checks, then capability negotiation (RFC 5492, RFC 6793, RFC 4760). */
  private receiveOpen(c: ConnectionState, body: Uint8Array): boolean {
    const parsed = parseOpen(body);
    if (!parsed.ok) return this.fail(c, parsed.error, 'bgpInOpenErrors');
    const open = parsed.value;
    const openError = (subcode: number, detail: string, data?: Uint8Array) =>
      this.fail(c, bgpError('sessionReset', ErrorCode.openMessage, subcode, 0, detail, data), 'bgpInOpenErrors');
    if (openAs(open) !== this.config.peerAs) return openError(OpenSubcode.badPeerAs, `peer AS ${openAs(open)}, expected ${this.config.peerAs}`);
    // §6.2: "Hold Time ... MUST reject Hold Time values of one or two seconds".
    if (open.holdTime === 1 || open.holdTime === 2) return openError(OpenSubcode.unacceptableHoldTime, `hold time ${open.holdTime}`);
    const id = open.bgpIdentifier;
    if (id === 0 || id >>> 28 >= 0xe || (!this.external && id === this.config.routerId)) return openError(OpenSubcode.badBgpIdentifier, `BGP identifier ${formatIpv4(id)}`);
    c.open = open;
    // §6.8 collision detection: now both OPENs of a pair may be known.
    const other = this.connections.find((x) => x !== c && x.open !== undefined);
    if (other && !this.resolveCollision(c, other)) return false;
    if (!this.connections.includes(c)) return false;
    this.ctx.trace.event(`bgp ${this.config.peerAddress}: ${describeOpen(open)}`);
    const holdS = Math.min(open.holdTime, this.config.holdTime);
    c.holdMs = holdS * 1000;
    this.negotiatedHoldTime = holdS;
    this.send(c, keepaliveMessage());
    c.phase = 'OpenConfirm';
    if (holdS === 0) c.hold.cancel();
    else {
      c.hold.armIn(c.holdMs);
      c.keepalive.armIn(c.holdMs / 3);
    }
    this.updateState();
    return true;
  }

  /**
   * RFC 4271 §6.8: with two connections to one peer, "the connection
   * initiated by the BGP speaker with the larger BGP Identifier" survives.
   * Returns false when `c` itself was closed.
   */
  private resolveCollision(c: ConnectionState, other: ConnectionState): boolean {
    this.ctx.stats.inc('bgpCollisions');
    const localWins = this.config.routerId > c.open!.bgpIdentifier;
    const keepOutgoing = localWins;
    const loser = c.conn.outgoing === keepOutgoing ? other : c;
    this.closeWith(loser, { code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution, data: new Uint8Array(0) }, 'connection collision', false);
    return loser !== c;
  }

  private becomeEstablished(c: ConnectionState): void {
    c.phase = 'Established';
    const open = c.open!;
    const theirs = open.capabilities;
    this.peerOpen = open;
    this.peerRouterId = open.bgpIdentifier;
    this.asWidth = theirs.some((x) => x.kind === 'fourOctetAs') ? 4 : 2;
    const mp = theirs.filter((x): x is Extract<Capability, { kind: 'multiprotocol' }> => x.kind === 'multiprotocol' && x.safi === Safi.unicast);
    const peerFamilies: AfiName[] = mp.length === 0 ? ['ipv4'] : mp.flatMap((x) => (x.afi === Afi.ipv4 ? ['ipv4' as const] : x.afi === Afi.ipv6 ? ['ipv6' as const] : []));
    this.families = this.config.families.filter((f) => peerFamilies.includes(f));
    this.peerRouteRefresh = theirs.some((x) => x.kind === 'routeRefresh' || (x.kind === 'unknown' && x.code === CapabilityCode.ciscoRouteRefresh));
    this.establishedAt = this.ctx.clock.now();
    this.lastError = '';
    this.counts.establishedTransitions++;
    this.ctx.stats.inc('bgpEstablishedTransitions');
    for (const x of [...this.connections]) if (x !== c) this.closeWith(x, { code: ErrorCode.cease, subcode: CeaseSubcode.connectionCollisionResolution, data: new Uint8Array(0) }, 'connection collision', false);
    this.updateState();
    this.ctx.trace.log.info({ peer: this.config.peerAddress, as: this.config.peerAs }, `bgp ${this.config.peerAddress}: Established (hold ${this.negotiatedHoldTime} s, families ${this.families.join(' ')})`);
    this.owner.established(this);
  }

  private fsmError(c: ConnectionState, what: string): boolean {
    const subcode = c.phase === 'OpenSent' ? FsmSubcode.openSent : c.phase === 'OpenConfirm' ? FsmSubcode.openConfirm : FsmSubcode.established;
    return this.fail(c, bgpError('sessionReset', ErrorCode.fsm, subcode, 0, `${what} in ${c.phase}`), 'bgpInFsmErrors');
  }

  /** An error we detected: NOTIFICATION with its code/subcode/data, count, close (RFC 4271 §6). Returns false. */
  private fail(c: ConnectionState, error: BgpError, counter: 'bgpInHeaderErrors' | 'bgpInOpenErrors' | 'bgpInUpdateErrors' | 'bgpInFsmErrors'): boolean {
    this.ctx.trace.dropped(counter, `${this.config.peerAddress}: ${error.detail}`);
    this.closeWith(c, { code: error.code, subcode: error.subcode, data: error.data }, `sent NOTIFICATION ${describeErrorCode(error.code, error.subcode)} (${error.detail})`);
    return false;
  }

  /** RFC 4271 §8.2.2: KEEPALIVE or UPDATE restarts the HoldTimer, "if the negotiated HoldTime value is non-zero". */
  private restartHold(c: ConnectionState): void {
    if (c.holdMs > 0) c.hold.armIn(c.holdMs);
  }

  private holdTimerExpired(c: ConnectionState): void {
    this.ctx.stats.inc('bgpHoldTimerExpired');
    this.closeWith(c, { code: ErrorCode.holdTimerExpired, subcode: 0, data: new Uint8Array(0) }, 'hold timer expired');
  }

  private sendKeepalive(c: ConnectionState): void {
    this.send(c, keepaliveMessage());
    c.keepalive.armIn(c.holdMs / 3);
  }

  private send(c: ConnectionState, bytes: Uint8Array): void {
    this.ctx.stats.inc('bgpOutMessages');
    this.counts.outMessages++;
    c.conn.send(bytes);
  }

  private closeWith(c: ConnectionState, n: Notification, reason: string, sessionDown = true): void {
    this.ctx.stats.inc('bgpOutNotifications');
    this.send(c, notificationMessage(n));
    this.drop(c, reason, sessionDown);
  }

  /** Closes one connection; when it was the session's last (or its Established one), the session goes down. */
  private drop(c: ConnectionState, reason: string, sessionDown = true): void {
    const i = this.connections.indexOf(c);
    if (i < 0) return;
    this.connections.splice(i, 1);
    c.hold.cancel();
    c.keepalive.cancel();
    c.conn.close();
    const wasEstablished = c.phase === 'Established';
    if (!sessionDown && !wasEstablished) return this.updateState();
    if (this.connections.length > 0 && !wasEstablished) return this.updateState();
    this.lastError = reason;
    for (const x of [...this.connections]) this.drop(x, reason, false);
    this.state = 'Idle';
    this.establishedAt = undefined;
    this.ctx.trace.log.info({ peer: this.config.peerAddress }, `bgp ${this.config.peerAddress}: down: ${reason}`);
    if (wasEstablished) this.owner.down(this, reason);
    if (this.started) this.armConnectRetry();
  }

  private tryConnect(): void {
    if (!this.started || this.connections.length > 0) return;
    if (this.config.passive) {
      this.state = 'Active';
      return;
    }
    this.state = 'Connect';
    this.armConnectRetry();
    this.owner.connect(this);
  }

  private armConnectRetry(): void {
    this.connectRetry.armIn(this.config.connectRetry * 1000);
  }

  private connectRetryExpired(): void {
    if (this.connections.length === 0) this.tryConnect();
  }

  private updateState(): void {
    const phases = this.connections.map((c) => c.phase);
    this.state = phases.includes('Established') ? 'Established' : phases.includes('OpenConfirm') ? 'OpenConfirm' : phases.includes('OpenSent') ? 'OpenSent' : this.config.passive ? 'Active' : 'Connect';
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
