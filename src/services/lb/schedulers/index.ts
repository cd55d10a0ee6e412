import { LeastConnections } from './least-connections.js';
import { RoundRobin } from './round-robin.js';
import type { Scheduler, SchedulerName } from './scheduler.js';
import { SourceHash } from './source-hash.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

export { SCHEDULER_NAMES, type Candidate, type Scheduler, type SchedulerName } from './scheduler.js';

/** A fresh scheduler (each pool keeps its own rotation). */
export function createScheduler(name: SchedulerName): Scheduler {
  switch (name) {
    case 'roundrobin':
      return new RoundRobin();
    case 'weighted':
      return new WeightedRoundRobin();
    case 'leastconn':
      return new LeastConnections();
    case 'sourcehash':
      return new SourceHash();
  }
}
