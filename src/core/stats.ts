/**
 * Named counters, MIB style (STYLE.md rule 8).
 *
 * A counter Linux also keeps has exactly the name `nstat -az` prints for it
 * (`IpInReceives`, `IpExtInNoRoutes`, `IcmpInEchos`, `Ip6InReceives`,
 * `TcpExtListenDrops`, `UdpNoPorts`), so a learner can diff `tapnet show stats`
 * against `nstat -az`. Such names start with a capital letter; names tapnet
 * invents are lower camelCase with the layer as prefix (`arpInForeign`,
 * `ipForwTtlExceeded`), so the case tells which is which. UDP counts both
 * families under Udp* (Linux splits Udp and Udp6).
 *
 * Every name is declared once, in its layer's table (`l3/ipv4/counters.ts`:
 * every way IPv4 counts or drops a packet, in one list). Each table adds
 * itself to `CounterTables` below by declaration merging, so `CounterName` is
 * the union of all of them and a misspelt counter does not compile:
 *
 *   export const IPV4_COUNTERS = ['IpInReceives', ...] as const;
 *   declare module '../../core/stats.js' { interface CounterTables { ipv4: typeof IPV4_COUNTERS } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface CounterTables {}

/** Any counter name of any layer's table. */
export type CounterName = { [K in keyof CounterTables]: CounterTables[K] extends readonly (infer N)[] ? N : never }[keyof CounterTables];

export class Stats {
  private readonly values = new Map<string, number>();

  inc(name: CounterName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  /** Sets a gauge (a value that goes up and down, e.g. `ipReasmBytes`). */
  set(name: CounterName, value: number): void {
    this.values.set(name, value);
  }

  get(name: CounterName): number {
    return this.values.get(name) ?? 0;
  }

  /** Makes a counter visible at zero, so `show stats` lists it before its first event. */
  declare(...names: readonly CounterName[]): void {
    for (const n of names) if (!this.values.has(n)) this.values.set(n, 0);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
