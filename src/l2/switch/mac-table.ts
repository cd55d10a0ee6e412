/**
 * The MAC address table (IEEE 802.1Q's "Filtering Database", Linux's FDB):
 * which port a station was last heard on, per VLAN.
 *
 * Read first: IEEE 802.1Q-2018 §8.8 (The Filtering Database) and §8.8.3
 * (Dynamic Filtering Entries: learnt from source addresses, removed by the
 * ageing process), §8.8.8 (Independent VLAN Learning: one table per VID, so
 * the same MAC may live on different ports in different VLANs). IEEE
 * 802.1D-2004 §7.8-7.9 says the same for bridges without VLANs.
 *
 * Ageing is lazy: an entry older than the ageing time is treated as absent
 * by every lookup and removed when seen, and the whole table is swept before
 * it refuses to learn for being full. No timer is needed, so tests move a
 * ManualClock and nothing else. (Linux's br_fdb_cleanup sweeps on a timer;
 * the observable behaviour is the same.)
 *
 * The cap: when the table holds `maxEntries` live entries, new stations are
 * not learnt; frames to them are flooded, as on a real switch under a MAC
 * flood (the switch "fails open" into a hub, which is why the attack works:
 * `macof`). Known stations keep working, and their entries are refreshed.
 */
import { formatMac, type MacAddress } from '../mac-address.js';

/** IEEE 802.1Q-2018 Table 8-6 (and 802.1D-2004 Table 7-5): recommended ageing time 300 s; Linux bridge ageing_time default. */
export const MAC_AGEING_TIME_MS = 300_000;
/**
 * Table size cap. Linux's bridge has none by default (max_learned = 0 means
 * unlimited, so a flood grows it without bound); small managed switches hold
 * 8K entries, which is plenty for any lab and small enough to fill in a test.
 */
export const MAC_TABLE_MAX_ENTRIES = 8192;

export interface MacEntry<P> {
  readonly mac: MacAddress;
  readonly vid: number;
  port: P;
  /** When a frame from this station last arrived (ms on the injected clock). */
  lastSeen: number;
}

/** What `learn` did, for counters and traces. */
export type LearnOutcome = 'learned' | 'refreshed' | 'moved' | 'full';

export interface MacTableOptions {
  ageingTimeMs?: number;
  maxEntries?: number;
}

export class MacTable<P> {
  readonly ageingTimeMs: number;
  readonly maxEntries: number;
  /** vid → (mac → entry). */
  private readonly byVlan = new Map<number, Map<MacAddress, MacEntry<P>>>();
  private count = 0;

  constructor(options: MacTableOptions = {}) {
    this.ageingTimeMs = options.ageingTimeMs ?? MAC_AGEING_TIME_MS;
    this.maxEntries = options.maxEntries ?? MAC_TABLE_MAX_ENTRIES;
    if (!(this.ageingTimeMs > 0)) throw new RangeError(`MacTable: ageingTimeMs must be > 0, got ${this.ageingTimeMs}`);
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries >= 1)) {
      throw new RangeError(`MacTable: maxEntries must be an integer >= 1, got ${this.maxEntries}`);
    }
  }

  /** Entries held, expired ones not yet swept included (see `entries()` for the live ones). */
  get size(): number {
    return this.count;
  }

  /**
   * 802.1Q §8.8.3: a frame from `mac` arrived on `port` in VLAN `vid` at `now`.
   * A station seen on another port has moved (a cable moved, a VM migrated):
   * the entry follows it.
   */
  learn(vid: number, mac: MacAddress, port: P, now: number): LearnOutcome {
    let table = this.byVlan.get(vid);
    const entry = table?.get(mac);
    if (entry) {
      const moved = entry.port !== port;
      entry.port = port;
      entry.lastSeen = now;
      return moved ? 'moved' : 'refreshed';
    }
    if (this.count >= this.maxEntries && this.sweep(now) === 0) return 'full';
    if (!table) {
      table = new Map();
      this.byVlan.set(vid, table);
    }
    table.set(mac, { mac, vid, port, lastSeen: now });
    this.count++;
    return 'learned';
  }

  /** The port `mac` was last heard on in VLAN `vid`, or undefined (unknown or aged out: flood). */
  lookup(vid: number, mac: MacAddress, now: number): P | undefined {
    const table = this.byVlan.get(vid);
    const entry = table?.get(mac);
    if (!entry) return undefined;
    if (now - entry.lastSeen >= this.ageingTimeMs) {
      table!.delete(mac);
      this.count--;
      return undefined;
    }
    return entry.port;
  }

  /** Removes entries not refreshed within the ageing time; returns how many went. */
  sweep(now: number): number {
    let removed = 0;
    for (const [vid, table] of this.byVlan) {
      for (const [mac, entry] of table) {
        if (now - entry.lastSeen >= this.ageingTimeMs) {
          table.delete(mac);
          removed++;
        }
      }
      if (table.size === 0) this.byVlan.delete(vid);
    }
    this.count -= removed;
    return removed;
  }

  /** Forgets every station learnt on `port` (the port went down or was removed: 802.1Q §8.8.3 "topology change"). */
  flushPort(port: P): number {
    let removed = 0;
    for (const [vid, table] of this.byVlan) {
      for (const [mac, entry] of table) {
        if (entry.port === port) {
          table.delete(mac);
          removed++;
        }
      }
      if (table.size === 0) this.byVlan.delete(vid);
    }
    this.count -= removed;
    return removed;
  }

  clear(): void {
    this.byVlan.clear();
    this.count = 0;
  }

  /** Live entries, sorted by VLAN then MAC (for `tapnet show mac`). Sweeps expired ones first. */
  entries(now: number): MacEntry<P>[] {
    this.sweep(now);
    const out: MacEntry<P>[] = [];
    for (const table of this.byVlan.values()) out.push(...table.values());
    return out.sort((a, b) => a.vid - b.vid || a.mac - b.mac);
  }
}

/** One `bridge fdb`-like line: "vlan 10  02:00:00:00:00:01  port p1  age 12s". */
export function describeMacEntry<P>(entry: MacEntry<P>, now: number, portName: (port: P) => string): string {
  return `vlan ${String(entry.vid).padEnd(5)} ${formatMac(entry.mac)}  ${portName(entry.port).padEnd(10)} age ${Math.floor((now - entry.lastSeen) / 1000)}s`;
}
