/**
 * Round robin: each new connection goes to the next backend in the list,
 * whatever its weight (IPVS `rr`, HAProxy `balance roundrobin` with equal
 * weights). The cursor remembers the last backend by name, so a backend
 * added or removed at run time does not restart the rotation.
 */
import type { Candidate, Scheduler } from './scheduler.js';

export class RoundRobin implements Scheduler {
  readonly name = 'roundrobin';
  private last: string | undefined;

  pick(candidates: readonly Candidate[]): Candidate {
    const i = candidates.findIndex((c) => c.name === this.last);
    const next = candidates[(i + 1) % candidates.length]!; // i = -1 (unknown or first): start at 0
    this.last = next.name;
    return next;
  }
}
