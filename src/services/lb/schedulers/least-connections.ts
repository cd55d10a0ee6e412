/**
 * Weighted least connections (IPVS `wlc`, HAProxy `leastconn`): the backend
 * with the fewest active connections per unit of weight. Compared by cross
 * multiplication (a.active × b.weight < b.active × a.weight), as ip_vs_wlc.c
 * does, so no division. Ties go round robin, so idle backends take turns
 * instead of the first one taking everything.
 */
import type { Candidate, Scheduler } from './scheduler.js';

export class LeastConnections implements Scheduler {
  readonly name = 'leastconn';
  private last: string | undefined;

  pick(candidates: readonly Candidate[]): Candidate {
    // Start looking just after the last pick: the first of equals found wins.
    const start = (candidates.findIndex((c) => c.name === this.last) + 1) % candidates.length;
    let best = candidates[start]!;
    for (let k = 1; k < candidates.length; k++) {
      const c = candidates[(start + k) % candidates.length]!;
      if (c.active * best.weight < best.active * c.weight) best = c;
    }
    this.last = best.name;
    return best;
  }
}
