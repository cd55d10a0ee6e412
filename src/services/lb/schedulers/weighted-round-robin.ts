/**
 * Smooth weighted round robin, as nginx does it (ngx_http_upstream_round_robin.c,
 * ngx_http_upstream_get_peer): every pick, each backend's `current` grows by
 * its weight; the largest wins and pays back the total. Weights 5, 1, 1 give
 * a a b a c a a: the heavy backend's turns are spread out, not bunched.
 */
import type { Candidate, Scheduler } from './scheduler.js';

export class WeightedRoundRobin implements Scheduler {
  readonly name = 'weighted';
  private readonly current = new Map<string, number>();

  pick(candidates: readonly Candidate[]): Candidate {
    let total = 0;
    let best: Candidate | undefined;
    let bestCurrent = -Infinity;
    for (const c of candidates) {
      const now = (this.current.get(c.name) ?? 0) + c.weight;
      this.current.set(c.name, now);
      total += c.weight;
      if (now > bestCurrent) {
        best = c;
        bestCurrent = now;
      }
    }
    this.current.set(best!.name, bestCurrent - total);
    // Forget backends that left, so one that comes back starts from zero.
    if (this.current.size > candidates.length * 2) {
      for (const name of this.current.keys()) if (!candidates.some((c) => c.name === name)) this.current.delete(name);
    }
    return best!;
  }
}
