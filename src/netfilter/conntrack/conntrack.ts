/**
 * Connection tracking: a table of flows, each known by its two tuples.
 *
 * Read first: RFC 4787 §4.3 (REQ-5, REQ-6: UDP mapping timeouts and refresh),
 * RFC 5382 §5 (REQ-5: TCP timeouts), RFC 5508 §3.2 (REQ-1: ICMP query
 * timeout), and Linux's nf_conntrack_core.c, whose model this follows:
 *
 * - A connection has an ORIGINAL tuple (its first packet) and a REPLY tuple
 *   (what the answer looks like). Without NAT the reply is the inverse of the
 *   original; NAT changes the reply tuple, and that change *is* the
 *   translation (src/netfilter/nat). Both tuples are keys of one Map, so one lookup
 *   finds a connection and tells the packet's direction.
 * - A connection is created *unconfirmed* by its first packet and enters the
 *   table only when that packet leaves (confirm). A first packet dropped on
 *   the way (firewall, no route) leaves no entry behind: a SYN flood against
 *   a DROP rule cannot fill the table.
 * - Every packet refreshes the timeout, in either direction (RFC 4787 REQ-6
 *   requires outbound refresh; inbound refresh is allowed and what Linux does).
 * - The table is capped. When it is full, the oldest connection that never
 *   saw a reply is evicted (Linux's early_drop spares "assured" flows); when
 *   every connection has been answered, the new one is refused instead, so a
 *   flood cannot push out established flows.
 * - Expired entries are removed lazily on lookup and by a periodic sweep
 *   (Linux's gc_worker), which is what releases their NAT ports.
 */
import type { StackContext } from '../../core/context.js';
import type { Instant, Timer } from '../../core/time.js';
import type { Ipv4HeaderView } from '../../l3/ipv4/header.js';
import {
  conntrackProtocolName,
  describeTuple,
  invertTuple,
  tupleKey,
  type PacketClass,
  type Tuple,
} from './tuple.js';
import { TCP_TIMEOUTS_MS, newTcpTrack, tcpConntrackStep, tcpOpensConnection, tcpReusable, type TcpConntrackState, type TcpTrack } from './tcp-state.js';
import { IpProtocol } from '../../l3/ip-protocol.js';

/** Linux IP_CT_DIR_ORIGINAL / IP_CT_DIR_REPLY. */
export type Direction = 0 | 1;
export const ORIGINAL: Direction = 0;
export const REPLY: Direction = 1;

/** What a firewall rule's `state` matches (iptables/nft `ct state`). */
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';
export const CT_STATES: readonly CtState[] = ['new', 'established', 'related', 'invalid', 'untracked'];

/** RFC 4787 REQ-5: "A NAT UDP mapping timer MUST NOT expire in less than two minutes". Used until a reply is seen. */
export const UDP_UNREPLIED_TIMEOUT_MS = 2 * 60_000;
/** RFC 4787 REQ-5: "The value of the NAT UDP mapping timer MAY be configurable. A default value of five minutes or more is RECOMMENDED." */
export const UDP_REPLIED_TIMEOUT_MS = 5 * 60_000;
/** RFC 5508 REQ-1: "An ICMP Query session timer MUST NOT expire in less than 60 seconds." */
export const ICMP_TIMEOUT_MS = 60_000;
/** Linux nf_conntrack_generic_timeout (600 s): protocols without ports (GRE, ESP, ...). */
export const GENERIC_TIMEOUT_MS = 600_000;
/** Linux nf_conntrack_max on a small machine (it scales with RAM; 65536 is its common value). */
export const CONNTRACK_MAX = 65_536;
/** How often expired entries are swept (Linux's gc_worker runs at most every 2 s, scanning in slices). */
export const CONNTRACK_GC_INTERVAL_MS = 5_000;

export interface ConntrackTimeouts {
  udpUnreplied: number;
  udpReplied: number;
  icmp: number;
  generic: number;
  tcp: Record<TcpConntrackState, number>;
}

export const DEFAULT_TIMEOUTS: ConntrackTimeouts = {
  udpUnreplied: UDP_UNREPLIED_TIMEOUT_MS,
  udpReplied: UDP_REPLIED_TIMEOUT_MS,
  icmp: ICMP_TIMEOUT_MS,
  generic: GENERIC_TIMEOUT_MS,
  tcp: { ...TCP_TIMEOUTS_MS },
};

export interface ConntrackOptions {
  /** Table cap (default CONNTRACK_MAX). */
  readonly max?: number;
  readonly timeouts?: Partial<Omit<ConntrackTimeouts, 'tcp'>> & { tcp?: Partial<Record<TcpConntrackState, number>> };
}

/** Why a connection left the table. */
export type DestroyReason = 'expired' | 'evicted' | 'flushed' | 'reopened';

/** One hash entry per direction, made once per connection, so a lookup allocates nothing. */
export interface TupleHash {
  readonly connection: Connection;
  readonly direction: Direction;
}

export interface Connection {
  readonly id: number;
  /** [ORIGINAL, REPLY]. The reply tuple changes only before confirmation, by NAT. */
  readonly tuples: [Tuple, Tuple];
  readonly hashes: readonly [TupleHash, TupleHash];
  /** TCP only. */
  readonly tcp: TcpTrack | undefined;
  confirmed: boolean;
  /** A packet went the REPLY way ("never answered" entries are evicted first). */
  seenReply: boolean;
  /** Linux IPS_ASSURED: TCP reached ESTABLISHED, or another protocol saw a reply. */
  assured: boolean;
  expiresAt: Instant;
  readonly packets: [number, number];
  readonly bytes: [number, number];
  /** The interface the first packet arrived on (undefined when the host sent it). */
  inLink: string | undefined;
  /** NAT's bookkeeping (src/netfilter/nat); conntrack only carries it. */
  nat: unknown;
}

/** Conntrack's answer for one packet. */
export interface TrackResult {
  readonly state: CtState;
  /** The connection (unconfirmed when `state` is 'new' and this is its first packet). */
  readonly connection?: Connection;
  /** The packet's direction; for 'related' ICMP errors, the direction the error travels. */
  readonly direction: Direction;
  /** Why the packet is 'invalid', for the drop trace. */
  readonly reason?: string;
}

const INVALID_STATE = (reason: string): TrackResult => ({ state: 'invalid', direction: ORIGINAL, reason });
const UNTRACKED: TrackResult = { state: 'untracked', direction: ORIGINAL };

export class Conntrack {
  readonly max: number;
  readonly timeouts: ConntrackTimeouts;
  private readonly byKey = new Map<string, TupleHash>();
  /** Confirmed connections in confirmation order. */
  private readonly connections = new Map<number, Connection>();
  /** Confirmed connections that never saw a reply, oldest first: the eviction candidates. */
  private readonly unreplied = new Map<number, Connection>();
  private nextId = 1;
  private readonly gcTimer: Timer;
  /** Called when a confirmed connection leaves the table (NAT releases its ports here). */
  private readonly destroyListeners: ((c: Connection, reason: DestroyReason) => void)[] = [];

  constructor(
    private readonly ctx: StackContext,
    options: ConntrackOptions = {},
  ) {
    this.max = options.max ?? CONNTRACK_MAX;
    const t = options.timeouts ?? {};
    this.timeouts = {
      udpUnreplied: t.udpUnreplied ?? DEFAULT_TIMEOUTS.udpUnreplied,
      udpReplied: t.udpReplied ?? DEFAULT_TIMEOUTS.udpReplied,
      icmp: t.icmp ?? DEFAULT_TIMEOUTS.icmp,
      generic: t.generic ?? DEFAULT_TIMEOUTS.generic,
      tcp: { ...DEFAULT_TIMEOUTS.tcp, ...t.tcp },
    };
    this.gcTimer = ctx.timers.timer(() => this.sweep());
    ctx.stats.declare('ctNew', 'ctInsert', 'ctInsertFailed', 'ctInvalid', 'ctDrop', 'ctEarlyDrop', 'ctExpired', 'ctEntries');
  }

  get size(): number {
    return this.connections.size;
  }

  onDestroy(listener: (c: Connection, reason: DestroyReason) => void): void {
    this.destroyListeners.push(listener);
  }

  /** The live connection `tuple` belongs to, and which way the tuple points. */
  lookup(tuple: Tuple): TupleHash | undefined {
    const hash = this.byKey.get(tupleKey(tuple));
    if (!hash) return undefined;
    if (hash.connection.expiresAt <= this.ctx.clock.now()) {
      this.remove(hash.connection, 'expired');
      return undefined;
    }
    return hash;
  }

  /** True when some live connection already uses `tuple` in either direction (NAT asks before choosing a port). */
  inUse(tuple: Tuple): boolean {
    return this.lookup(tuple) !== undefined;
  }

  /**
   * Tracks one packet: finds its connection (or makes an unconfirmed one),
   * moves the TCP state, refreshes the timeout and counts it.
   * `ip` is the wrapped packet `cls` was computed from.
   */
  track(ip: Ipv4HeaderView, cls: PacketClass): TrackResult {
    switch (cls.kind) {
      case 'invalid':
        this.ctx.stats.inc('ctInvalid');
        return INVALID_STATE(cls.reason);
      case 'icmpOther':
        return UNTRACKED;
      case 'icmpError': {
        // RFC 5508 §4.1: an error belongs to the connection of the datagram it quotes. The quote
        // went the other way, so its inverse is a tuple of the connection in the error's direction.
        const hash = this.lookup(invertTuple(cls.inner));
        if (!hash) {
          this.ctx.stats.inc('ctInvalid');
          return INVALID_STATE('ICMP error about no known connection');
        }
        this.count(hash.connection, hash.direction, ip.totalLength);
        return { state: 'related', connection: hash.connection, direction: hash.direction };
      }
      default:
        break;
    }
    const tuple = cls.tuple;
    let hash = this.lookup(tuple);
    if (hash?.connection.tcp && cls.kind === 'tcp' && hash.direction === ORIGINAL && tcpOpensConnection(cls.flags) && tcpReusable(hash.connection.tcp)) {
      this.remove(hash.connection, 'reopened');
      hash = undefined;
    }
    if (hash) {
      const c = hash.connection;
      const direction = hash.direction;
      if (c.tcp && cls.kind === 'tcp') tcpConntrackStep(c.tcp, direction, cls.flags);
      if (direction === REPLY && !c.seenReply) {
        c.seenReply = true;
        this.unreplied.delete(c.id);
      }
      if (c.seenReply && (!c.tcp || c.tcp.state === 'ESTABLISHED')) c.assured = true;
      this.count(c, direction, ip.totalLength);
      this.refresh(c);
      return { state: direction === REPLY || c.seenReply ? 'established' : 'new', connection: c, direction };
    }
    // No connection yet: only some packets may start one.
    if (cls.kind === 'tcp' && !tcpOpensConnection(cls.flags)) {
      // Linux with nf_conntrack_tcp_loose=0: no pick-up of connections in mid-stream.
      this.ctx.stats.inc('ctInvalid');
      return INVALID_STATE('TCP segment without SYN for no known connection');
    }
    if (cls.kind === 'icmpQuery' && !cls.request) {
      this.ctx.stats.inc('ctInvalid');
      return INVALID_STATE('echo reply for no known request');
    }
    const c = this.create(tuple);
    if (c.tcp && cls.kind === 'tcp') tcpConntrackStep(c.tcp, ORIGINAL, cls.flags);
    this.count(c, ORIGINAL, ip.totalLength);
    this.refresh(c);
    return { state: 'new', connection: c, direction: ORIGINAL };
  }

  /** A new, unconfirmed connection whose reply tuple is the inverse of `original`. */
  create(original: Tuple): Connection {
    const id = this.nextId++;
    const tuples: [Tuple, Tuple] = [original, invertTuple(original)];
    const c: Connection = {
      id,
      tuples,
      hashes: undefined as unknown as [TupleHash, TupleHash],
      tcp: original.protocol === IpProtocol.TCP ? newTcpTrack() : undefined,
      confirmed: false,
      seenReply: false,
      assured: false,
      expiresAt: this.ctx.clock.now(),
      packets: [0, 0],
      bytes: [0, 0],
      inLink: undefined,
      nat: undefined,
    };
    (c as { hashes: readonly [TupleHash, TupleHash] }).hashes = [
      { connection: c, direction: ORIGINAL },
      { connection: c, direction: REPLY },
    ];
    this.ctx.stats.inc('ctNew');
    return c;
  }

  /** Replaces the reply tuple of an unconfirmed connection (NAT's binding). */
  setReply(c: Connection, reply: Tuple): void {
    if (c.confirmed) throw new Error(`conntrack: connection ${c.id} is confirmed; its tuples are fixed`);
    c.tuples[REPLY] = reply;
  }

  /**
   * Puts an unconfirmed connection in the table, once its first packet is on
   * its way out. 'clash': another connection owns one of its tuples (Linux
   * insert_failed); 'full': the table is full of answered connections.
   * On failure the caller drops the packet.
   */
  confirm(c: Connection): 'ok' | 'clash' | 'full' {
    if (c.confirmed) return 'ok';
    const originalKey = tupleKey(c.tuples[ORIGINAL]);
    const replyKey = tupleKey(c.tuples[REPLY]);
    if (this.liveKey(originalKey) || this.liveKey(replyKey)) {
      this.ctx.trace.dropped('ctInsertFailed', 'tuple already in use', () => this.describe(c));
      return 'clash';
    }
    if (this.connections.size >= this.max && !this.evictOne()) {
      this.ctx.trace.dropped('ctDrop', 'conntrack table full of answered connections', () => this.describe(c));
      return 'full';
    }
    c.confirmed = true;
    this.byKey.set(originalKey, c.hashes[ORIGINAL]);
    this.byKey.set(replyKey, c.hashes[REPLY]);
    this.connections.set(c.id, c);
    if (!c.seenReply) this.unreplied.set(c.id, c);
    this.ctx.stats.inc('ctInsert');
    this.ctx.stats.set('ctEntries', this.connections.size);
    if (!this.gcTimer.armed) this.gcTimer.armIn(CONNTRACK_GC_INTERVAL_MS);
    return 'ok';
  }

  /** Would a new connection fit (possibly after evicting an unanswered one)? Checked before NAT spends a port. */
  hasRoom(): boolean {
    return this.connections.size < this.max || this.unreplied.size > 0;
  }

  /** Every live connection, oldest first. */
  entries(): Connection[] {
    const now = this.ctx.clock.now();
    return [...this.connections.values()].filter((c) => c.expiresAt > now);
  }

  /** Removes everything (`conntrack -F`). */
  flush(): void {
    for (const c of [...this.connections.values()]) this.remove(c, 'flushed');
  }

  /** Removes expired connections now; returns how many. Also runs from the periodic timer. */
  sweep(): number {
    const now = this.ctx.clock.now();
    let removed = 0;
    for (const c of this.connections.values()) {
      if (c.expiresAt <= now) {
        this.remove(c, 'expired');
        removed++;
      }
    }
    if (this.connections.size > 0) this.gcTimer.armIn(CONNTRACK_GC_INTERVAL_MS);
    return removed;
  }

  /** Seconds left and state, as `conntrack -L` prints them. */
  describe(c: Connection): string {
    const now = this.ctx.clock.now();
    const seconds = Math.max(0, Math.ceil((c.expiresAt - now) / 1000));
    const [o, r] = c.tuples;
    let s = `${conntrackProtocolName(o.protocol).padEnd(8)} ${String(o.protocol).padEnd(2)} ${seconds} `;
    if (c.tcp) s += `${c.tcp.state} `;
    s += `${describeTuple(o)} packets=${c.packets[0]} bytes=${c.bytes[0]} `;
    if (!c.seenReply) s += '[UNREPLIED] ';
    s += `${describeTuple(r)} packets=${c.packets[1]} bytes=${c.bytes[1]}`;
    if (c.assured) s += ' [ASSURED]';
    return s;
  }

  private liveKey(key: string): boolean {
    const hash = this.byKey.get(key);
    if (!hash) return false;
    if (hash.connection.expiresAt <= this.ctx.clock.now()) {
      this.remove(hash.connection, 'expired');
      return false;
    }
    return true;
  }

  /** Early drop: the oldest confirmed connection that never saw a reply. */
  private evictOne(): boolean {
    const first = this.unreplied.values().next();
    if (first.done) return false;
    this.ctx.trace.dropped('ctEarlyDrop', 'table full: evicting the oldest unanswered connection', () => this.describe(first.value));
    this.remove(first.value, 'evicted');
    return true;
  }

  private remove(c: Connection, reason: DestroyReason): void {
    if (!this.connections.delete(c.id)) return;
    this.unreplied.delete(c.id);
    for (const d of [ORIGINAL, REPLY] as const) {
      const key = tupleKey(c.tuples[d]);
      if (this.byKey.get(key) === c.hashes[d]) this.byKey.delete(key);
    }
    if (reason === 'expired') {
      this.ctx.stats.inc('ctExpired');
      this.ctx.trace.event('conntrack expired', () => this.describe(c));
    }
    this.ctx.stats.set('ctEntries', this.connections.size);
    for (const listener of this.destroyListeners) listener(c, reason);
    if (this.connections.size === 0) this.gcTimer.cancel();
  }

  private count(c: Connection, direction: Direction, length: number): void {
    c.packets[direction]++;
    c.bytes[direction] += length;
  }

  private refresh(c: Connection): void {
    c.expiresAt = this.ctx.clock.now() + this.timeoutFor(c);
  }

  timeoutFor(c: Connection): number {
    const t = this.timeouts;
    if (c.tcp) return t.tcp[c.tcp.state];
    switch (c.tuples[ORIGINAL].protocol) {
      case IpProtocol.UDP:
        return c.seenReply ? t.udpReplied : t.udpUnreplied;
      case IpProtocol.ICMP:
        return t.icmp;
      default:
        return t.generic;
    }
  }
}
