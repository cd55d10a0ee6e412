/**
 * The neighbour cache: protocol address → link-layer address, with the
 * reachability states Linux uses (NUD, "neighbour unreachability detection").
 *
 * Read first: RFC 826 (what ARP learns), RFC 1122 §2.3.2 (ARP cache
 * validation, flooding limit, the pending-packet rule), RFC 4861 §7.3.2 and
 * appendix C (the same state machine, written down for IPv6 NDP), and Linux
 * net/core/neighbour.c (neigh_timer_handler, neigh_update, __neigh_event_send)
 * whose states, defaults and names this follows. Generic over the key (an
 * IPv4 number for ARP, an IPv6 key string for NDP); the protocol talks to
 * the wire through the callbacks in `NeighbourCacheOptions`.
 *
 *   state       a packet to send          its timer fires                  a reply (unicast to us)
 *   ----------  ------------------------  -------------------------------  -----------------------
 *   (none)      → INCOMPLETE, broadcast   -                                ignored (never asked)
 *   INCOMPLETE  wait in queue (max 3)     re-solicit; 3 unanswered→FAILED  → REACHABLE, queue leaves
 *   REACHABLE   send                      30 s: → STALE (DELAY if in use)  → REACHABLE (again)
 *   STALE       send, → DELAY             removed (60 s unused)            → REACHABLE
 *   DELAY       send                      → PROBE, unicast probe (5 s)     → REACHABLE
 *   PROBE       send                      re-probe; 3 unanswered→FAILED    → REACHABLE
 *   FAILED      wait, → INCOMPLETE        removed (60 s)                   → REACHABLE
 *
 * Overheard information (a request for us, a broadcast reply, a gratuitous
 * ARP for a known entry) only moves an entry to STALE: it proves the address,
 * not that the neighbour hears us.
 *
 * Nothing sleeps: every entry owns one `Timer` on the injected `Timers`.
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import type { Instant, Timer } from '../../core/time.js';
import { formatMac, type MacAddress } from '../mac-address.js';

export const NudState = {
  /** A solicitation is out; packets wait in the entry's queue. */
  Incomplete: 'INCOMPLETE',
  /** Confirmed within the reachable time: use without question. */
  Reachable: 'REACHABLE',
  /** Address known but not recently confirmed: usable; using it starts verification. */
  Stale: 'STALE',
  /** Used while STALE: wait a little for an upper-layer confirmation before probing. */
  Delay: 'DELAY',
  /** Unicast probes are out to the known address. */
  Probe: 'PROBE',
  /** Resolution failed; the next packet starts again. */
  Failed: 'FAILED',
} as const;
export type NudState = (typeof NudState)[keyof typeof NudState];

/** Size cap: a new entry first evicts one nobody relies on (`evictOne`); never more. */
export const ARP_CACHE_MAX = 1024; // Linux net.ipv4.neigh.default.gc_thresh3
/** How long a confirmation keeps an entry REACHABLE (Linux randomises 0.5..1.5 ×; we keep it exact). */
export const REACHABLE_TIME_MS = 30_000; // Linux base_reachable_time_ms, RFC 4861 §10 REACHABLE_TIME
/** DELAY → PROBE after this long without confirmation. */
export const DELAY_FIRST_PROBE_TIME_MS = 5_000; // Linux delay_first_probe_time, RFC 4861 §10
/** Time between solicitations for one address. */
export const RETRANS_TIME_MS = 1_000; // Linux retrans_time_ms, RFC 4861 §10 RETRANS_TIMER
/** Broadcast solicitations in INCOMPLETE before FAILED. */
export const MULTICAST_PROBES = 3; // Linux mcast_solicit, RFC 4861 §10 MAX_MULTICAST_SOLICIT
/** Unicast probes in PROBE before FAILED. */
export const UNICAST_PROBES = 3; // Linux ucast_solicit, RFC 4861 §10 MAX_UNICAST_SOLICIT
/** Unused STALE and FAILED entries are removed after this long. */
export const GC_STALE_TIME_MS = 60_000; // Linux gc_stale_time
/**
 * "The recommended maximum rate is 1 per second per destination" (RFC 1122
 * §2.3.2.1, which makes some flood limit a MUST).
 */
export const SOLICIT_MIN_INTERVAL_MS = 1_000;
/**
 * Packets held per unresolved entry; the oldest goes first when full, so the
 * latest is always kept (RFC 1122 §2.3.2.2: "SHOULD save ... at least one (the
 * latest) packet"). Linux's unres_qlen was 3 packets until 3.3; it now caps
 * by bytes (unres_qlen_bytes = 212992, about 101 packets). Three is plenty to
 * carry a TCP SYN or a ping burst over the first resolution.
 */
export const PENDING_QUEUE_MAX = 3; // Linux unres_qlen before 3.3

export interface NeighbourTimings {
  readonly reachableTimeMs: number;
  readonly delayFirstProbeTimeMs: number;
  readonly retransTimeMs: number;
  readonly multicastProbes: number;
  readonly unicastProbes: number;
  readonly gcStaleTimeMs: number;
  readonly solicitMinIntervalMs: number;
}

export const DEFAULT_NEIGHBOUR_TIMINGS: NeighbourTimings = {
  reachableTimeMs: REACHABLE_TIME_MS,
  delayFirstProbeTimeMs: DELAY_FIRST_PROBE_TIME_MS,
  retransTimeMs: RETRANS_TIME_MS,
  multicastProbes: MULTICAST_PROBES,
  unicastProbes: UNICAST_PROBES,
  gcStaleTimeMs: GC_STALE_TIME_MS,
  solicitMinIntervalMs: SOLICIT_MIN_INTERVAL_MS,
};

export type NeighbourKey = number | string;

export interface NeighbourCacheOptions<K extends NeighbourKey> {
  readonly ctx: StackContext;
  /** Counter prefix: 'arp' gives arpCacheFull, arpQueueDrops, arpResolveFailed, arpCacheEntries. */
  readonly counterPrefix: 'arp' | 'ndp';
  readonly maxEntries?: number;
  readonly queueMaxPackets?: number;
  readonly timings?: Partial<NeighbourTimings>;
  /** For traces: 10.0.0.1 rather than 167772161. */
  describeKey?(key: K): string;
  /** Sends a solicitation: broadcast/multicast when `unicastTo` is undefined, else a unicast probe to it. */
  solicit(key: K, unicastTo: MacAddress | undefined): void;
  /** Sends a packet that waited in the queue, now that `key` resolved to `mac`. */
  transmit(key: K, mac: MacAddress, packet: Uint8Array): void;
  /** A queued packet that will never leave: resolution failed (ICMP host unreachable is the caller's call). */
  unreachable?(key: K, packet: Uint8Array): void;
}

/** What callers may read about an entry. */
export interface NeighbourEntry<K extends NeighbourKey> {
  readonly key: K;
  readonly state: NudState;
  /** The link-layer address; undefined in INCOMPLETE and FAILED. */
  readonly mac: MacAddress | undefined;
  /** Last state or address change. */
  readonly updatedAt: Instant;
  /** Last reachability confirmation (a solicited reply, or the upper layer's word). */
  readonly confirmedAt: Instant;
  /** Last time a packet was sent (or queued) through this entry. */
  readonly usedAt: Instant;
  /** Solicitations sent in the current INCOMPLETE or PROBE round. */
  readonly probes: number;
  /** Packets waiting for resolution. */
  readonly queued: number;
}

/** `resolve()` gives a MAC to send to now, or says what happened to the packet. */
export type ResolvePending = 'queued' | 'dropped';

/** What `update()` did. */
export type NeighbourUpdateOutcome =
  | 'created' // a new entry (only when `create` was asked for)
  | 'resolved' // an INCOMPLETE/FAILED entry got its address; waiting packets left
  | 'updated' // state and/or address changed
  | 'unchanged' // same address, nothing new to learn
  | 'locked' // a different address, but overriding was not allowed
  | 'unknown' // no entry, and `create` was false
  | 'full'; // no entry, and no room for one

export interface NeighbourUpdate {
  /** REACHABLE for a confirmation (a reply to us), STALE for anything merely overheard. */
  readonly state: typeof NudState.Reachable | typeof NudState.Stale;
  /** Make an entry if there is none (RFC 826: only when the packet was for us). */
  readonly create: boolean;
  /** Allow a different address to replace a known one. */
  readonly override: boolean;
}

class Entry<K extends NeighbourKey> implements NeighbourEntry<K> {
  state: NudState = NudState.Incomplete;
  mac: MacAddress | undefined = undefined;
  probes = 0;
  updatedAt: Instant;
  confirmedAt: Instant = -Infinity;
  usedAt: Instant = -Infinity;
  lastSolicitAt: Instant = -Infinity;
  queue: Uint8Array[] = [];
  readonly timer: Timer;
  constructor(
    readonly key: K,
    now: Instant,
    timer: (entry: Entry<K>) => Timer,
  ) {
    this.updatedAt = now;
    this.timer = timer(this);
  }
  get queued(): number {
    return this.queue.length;
  }
}

export class NeighbourCache<K extends NeighbourKey> {
  private readonly table = new Map<K, Entry<K>>();
  private readonly t: NeighbourTimings;
  private readonly maxEntries: number;
  private readonly queueMax: number;
  private readonly counters: { cacheFull: CounterName; queueDrops: CounterName; resolveFailed: CounterName; entries: CounterName };

  constructor(private readonly options: NeighbourCacheOptions<K>) {
    this.t = { ...DEFAULT_NEIGHBOUR_TIMINGS, ...options.timings };
    this.maxEntries = options.maxEntries ?? ARP_CACHE_MAX;
    this.queueMax = options.queueMaxPackets ?? PENDING_QUEUE_MAX;
    const p = options.counterPrefix;
    this.counters = {
      cacheFull: `${p}CacheFull` as const,
      queueDrops: `${p}QueueDrops` as const,
      resolveFailed: `${p}ResolveFailed` as const,
      entries: `${p}CacheEntries` as const,
    };
    options.ctx.stats.declare(...Object.values(this.counters));
  }

  get size(): number {
    return this.table.size;
  }

  /** The entry for `key`, without side effects (no state change, no solicitation). */
  lookup(key: K): NeighbourEntry<K> | undefined {
    return this.table.get(key);
  }

  /** Every entry, in creation order. */
  entries(): NeighbourEntry<K>[] {
    return [...this.table.values()];
  }

  /**
   * The output path: the address to send `packet` to now, or 'queued' (a
   * copy waits for resolution) or 'dropped' (no room for a new entry).
   */
  resolve(key: K, packet: Uint8Array): MacAddress | ResolvePending {
    const now = this.now();
    let e = this.table.get(key);
    if (e === undefined) {
      e = this.create(key, 'ours');
      if (e === undefined) return 'dropped';
      e.usedAt = now;
      this.enqueue(e, packet);
      this.startResolution(e);
      return 'queued';
    }
    e.usedAt = now;
    switch (e.state) {
      case NudState.Reachable:
      case NudState.Delay:
      case NudState.Probe:
        return e.mac!;
      case NudState.Stale:
        // RFC 4861 §7.3.3: sending to a STALE entry moves it to DELAY; the address is used meanwhile.
        this.setState(e, NudState.Delay);
        e.timer.armIn(this.t.delayFirstProbeTimeMs);
        return e.mac!;
      case NudState.Incomplete:
        this.enqueue(e, packet);
        return 'queued';
      case NudState.Failed:
        this.enqueue(e, packet);
        this.startResolution(e);
        return 'queued';
    }
  }

  /**
   * A packet told us `key` is at `mac` (Linux neigh_update). Same address +
   * STALE keeps the current state: overhearing proves nothing about
   * reachability. A different address replaces the known one only with
   * `override`.
   */
  update(key: K, mac: MacAddress, how: NeighbourUpdate): NeighbourUpdateOutcome {
    const now = this.now();
    let e = this.table.get(key);
    let outcome: NeighbourUpdateOutcome;
    if (e === undefined) {
      if (!how.create) return 'unknown';
      e = this.create(key, how.state === NudState.Stale ? 'overheard' : 'ours');
      if (e === undefined) return 'full';
      outcome = 'created';
    } else if (e.mac === undefined) {
      outcome = 'resolved';
    } else if (e.mac !== mac) {
      if (!how.override) return 'locked';
      outcome = 'updated';
    } else if (how.state === NudState.Stale) {
      return 'unchanged';
    } else {
      outcome = 'updated';
    }
    e.mac = mac;
    e.probes = 0;
    if (how.state === NudState.Reachable) e.confirmedAt = now;
    const waiting = e.queue;
    e.queue = [];
    // Packets leaving through a STALE entry make it DELAY, as any other send would.
    const state = how.state === NudState.Stale && waiting.length > 0 ? NudState.Delay : how.state;
    this.setState(e, state);
    this.armForState(e);
    for (const packet of waiting) this.options.transmit(key, mac, packet);
    return outcome;
  }

  /**
   * Upper-layer reachability confirmation (RFC 4861 §7.3.1: "forward progress",
   * e.g. a TCP ACK for new data). Like Linux, only noted here; the REACHABLE and
   * DELAY timers look at it when they fire, so a busy TCP flow costs nothing.
   */
  confirm(key: K): void {
    const e = this.table.get(key);
    if (e !== undefined && e.mac !== undefined) e.confirmedAt = this.now();
  }

  /**
   * Verifies `key` now, without a packet: starts resolution if unknown or
   * FAILED, sends a unicast probe if the address is known and not already
   * being probed or resolved.
   */
  probe(key: K): void {
    let e = this.table.get(key);
    if (e === undefined) {
      e = this.create(key, 'ours');
      if (e !== undefined) this.startResolution(e);
      return;
    }
    switch (e.state) {
      case NudState.Failed:
        this.startResolution(e);
        return;
      case NudState.Reachable:
      case NudState.Stale:
      case NudState.Delay:
        this.setState(e, NudState.Probe);
        e.probes = 0;
        this.solicit(e, e.mac);
        return;
      case NudState.Incomplete:
      case NudState.Probe:
        return;
    }
  }

  /** Removes an entry (its waiting packets are dropped and reported unreachable). */
  delete(key: K): boolean {
    const e = this.table.get(key);
    if (e === undefined) return false;
    this.remove(e, 'deleted');
    return true;
  }

  clear(): void {
    for (const e of [...this.table.values()]) this.remove(e, 'cleared');
  }

  // --- internals ---

  private now(): Instant {
    return this.options.ctx.clock.now();
  }

  private describe(key: K): string {
    return this.options.describeKey ? this.options.describeKey(key) : String(key);
  }

  /** `overheard`: the entry is for a packet that merely named the address (a solicitation, a broadcast request). */
  private create(key: K, why: 'ours' | 'overheard'): Entry<K> | undefined {
    if (this.table.size >= this.maxEntries && !this.evictOne(why)) {
      this.options.ctx.trace.dropped(this.counters.cacheFull, 'neighbour table full', () => this.describe(key));
      return undefined;
    }
    const e = new Entry<K>(key, this.now(), (entry) => this.options.ctx.timers.timer(() => this.onTimer(entry)));
    this.table.set(key, e);
    this.options.ctx.stats.set(this.counters.entries, this.table.size);
    return e;
  }

  /**
   * Makes room, taking first what is worth least: a FAILED entry; then one
   * that nothing ever confirmed (STALE, DELAY or PROBE: an address some packet
   * named, perhaps a spoofed one, that our answer is now verifying); then, only
   * for our own traffic, a STALE entry that was confirmed once; the least
   * recently updated of a kind first. Never an INCOMPLETE entry (we are
   * resolving it, packets wait) nor a confirmed one in use (REACHABLE, DELAY,
   * PROBE). So a flood of overheard addresses displaces only its own kind,
   * and the neighbour that really talks to us keeps its entry, or gets one
   * back. (Linux neigh_forced_gc also spares entries in use; it ranks by age
   * alone, which a flood of unanswered solicitations fills just as well.)
   */
  private evictOne(why: 'ours' | 'overheard'): boolean {
    const rank = (e: Entry<K>): number => {
      if (e.state === NudState.Failed) return 0;
      if (e.state === NudState.Incomplete) return Infinity;
      if (e.confirmedAt === -Infinity) return 1;
      if (e.state === NudState.Stale && why === 'ours') return 2;
      return Infinity;
    };
    let victim: Entry<K> | undefined;
    let victimRank = Infinity;
    for (const e of this.table.values()) {
      const r = rank(e);
      if (r < victimRank || (r === victimRank && r !== Infinity && e.updatedAt < victim!.updatedAt)) {
        victim = e;
        victimRank = r;
      }
    }
    if (victim === undefined) return false;
    this.remove(victim, 'evicted');
    return true;
  }

  private remove(e: Entry<K>, why: string): void {
    e.timer.cancel();
    this.table.delete(e.key);
    this.options.ctx.stats.set(this.counters.entries, this.table.size);
    this.options.ctx.trace.event(`neighbour ${why}`, () => `${this.describe(e.key)} ${e.state}`);
    this.dropQueue(e, why);
  }

  private enqueue(e: Entry<K>, packet: Uint8Array): void {
    if (e.queue.length >= this.queueMax) {
      e.queue.shift();
      this.options.ctx.trace.dropped(this.counters.queueDrops, 'pending queue full', () => this.describe(e.key));
    }
    // A copy: the caller's buffer (often a receive batch) is reused once we return.
    e.queue.push(packet.slice());
  }

  private dropQueue(e: Entry<K>, why: string): void {
    const waiting = e.queue;
    e.queue = [];
    for (const packet of waiting) {
      this.options.ctx.trace.dropped(this.counters.queueDrops, why, () => this.describe(e.key));
      this.options.unreachable?.(e.key, packet);
    }
  }

  private setState(e: Entry<K>, state: NudState): void {
    const old = e.state;
    e.state = state;
    e.updatedAt = this.now();
    if (old !== state) {
      this.options.ctx.trace.event('neighbour', () => {
        const mac = e.mac === undefined ? '' : ` ${formatMac(e.mac)}`;
        return `${this.describe(e.key)} ${old} -> ${state}${mac}`;
      });
    }
  }

  private armForState(e: Entry<K>): void {
    switch (e.state) {
      case NudState.Reachable:
        e.timer.armAt(e.confirmedAt + this.t.reachableTimeMs);
        return;
      case NudState.Delay:
        e.timer.armIn(this.t.delayFirstProbeTimeMs);
        return;
      case NudState.Stale:
      case NudState.Failed:
        e.timer.armIn(this.t.gcStaleTimeMs);
        return;
      case NudState.Incomplete:
      case NudState.Probe:
        e.timer.armIn(this.t.retransTimeMs);
        return;
    }
  }

  private startResolution(e: Entry<K>): void {
    e.mac = undefined;
    e.probes = 0;
    this.setState(e, NudState.Incomplete);
    this.solicit(e, undefined);
  }

  /**
   * Sends one solicitation unless one left less than SOLICIT_MIN_INTERVAL_MS
   * ago; then the timer brings us back when it is allowed.
   */
  private solicit(e: Entry<K>, unicastTo: MacAddress | undefined): void {
    const now = this.now();
    const allowedAt = e.lastSolicitAt + this.t.solicitMinIntervalMs;
    if (now < allowedAt) {
      e.timer.armAt(allowedAt);
      return;
    }
    e.lastSolicitAt = now;
    e.probes++;
    // Arm before calling out: a reply delivered synchronously re-arms for its own state.
    e.timer.armIn(this.t.retransTimeMs);
    this.options.solicit(e.key, unicastTo);
  }

  private fail(e: Entry<K>): void {
    e.mac = undefined;
    e.probes = 0;
    this.setState(e, NudState.Failed);
    this.options.ctx.stats.inc(this.counters.resolveFailed);
    this.armForState(e);
    this.dropQueue(e, 'resolution failed');
  }

  /** Linux neigh_timer_handler, one case per state. */
  private onTimer(e: Entry<K>): void {
    const now = this.now();
    switch (e.state) {
      case NudState.Incomplete:
        if (e.probes >= this.t.multicastProbes) this.fail(e);
        else this.solicit(e, undefined);
        return;
      case NudState.Probe:
        if (e.probes >= this.t.unicastProbes) this.fail(e);
        else this.solicit(e, e.mac);
        return;
      case NudState.Reachable:
        if (now < e.confirmedAt + this.t.reachableTimeMs) {
          // Confirmed again since the timer was armed (confirm() only notes the time).
          e.timer.armAt(e.confirmedAt + this.t.reachableTimeMs);
        } else if (now < e.usedAt + this.t.delayFirstProbeTimeMs) {
          this.setState(e, NudState.Delay);
          this.armForState(e);
        } else {
          this.setState(e, NudState.Stale);
          this.armForState(e);
        }
        return;
      case NudState.Delay:
        if (now <= e.confirmedAt + this.t.delayFirstProbeTimeMs) {
          this.setState(e, NudState.Reachable);
          this.armForState(e);
        } else {
          this.setState(e, NudState.Probe);
          e.probes = 0;
          this.solicit(e, e.mac);
        }
        return;
      case NudState.Stale:
      case NudState.Failed:
        this.remove(e, 'collected');
        return;
    }
  }
}
