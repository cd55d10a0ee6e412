/**
 * Named counters, MIB style (STYLE.md rule 8).
 *
 * Names follow Linux's `nstat` / RFC 4293 / RFC 4022 spellings where they
 * exist (`ipInReceives`, `ipInHdrErrors`, `icmpInEchos`, `udpNoPorts`), so a
 * learner can put `tapnet show stats` next to `nstat -az` and compare.
 * Names tapnet invents are camelCase with the layer as prefix (`arpInForeign`).
 */
export class Stats {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  /** Sets a gauge (a value that goes up and down, e.g. `ipReasmBytes`). */
  set(name: string, value: number): void {
    this.values.set(name, value);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** Makes a counter visible at zero, so `show stats` lists it before its first event. */
  declare(...names: string[]): void {
    for (const n of names) if (!this.values.has(n)) this.values.set(n, 0);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
