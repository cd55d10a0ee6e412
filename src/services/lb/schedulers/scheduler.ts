/**
 * What every scheduler sees and answers: given the backends that may take a
 * new connection (up, weight > 0: the load balancer filters first), pick one.
 *
 * Each algorithm is one small file, named as the tools name it:
 *
 *   roundrobin   round-robin.ts            IPVS rr, HAProxy roundrobin (weights ignored)
 *   weighted     weighted-round-robin.ts   nginx's smooth weighted round robin (IPVS wrr)
 *   leastconn    least-connections.ts      IPVS wlc, HAProxy leastconn
 *   sourcehash   source-hash.ts            rendezvous hashing on the client address (IPVS sh, HAProxy balance source)
 */

export interface Candidate {
  readonly name: string;
  readonly weight: number;
  /** Connections (L4) or requests (L7) the backend is serving now. */
  readonly active: number;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** One of `candidates` (never empty when called), given the client's address as text. */
  pick(candidates: readonly Candidate[], client: string): Candidate;
}

export const SCHEDULER_NAMES = ['roundrobin', 'weighted', 'leastconn', 'sourcehash'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];
