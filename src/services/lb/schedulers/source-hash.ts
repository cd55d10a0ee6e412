/**
 * Source hashing with rendezvous (highest random weight) hashing: the same
 * client address always lands on the same backend while the set of backends
 * stays the same, and when one backend leaves only the clients it had move
 * (each to its next-best backend); nobody else's choice changes, because a
 * client's score for a backend depends on that client and that backend only.
 *
 * Read first: Thaler & Ravishankar, "Using name-based mappings to increase
 * hit rates" (IEEE/ACM ToN 1998), the rendezvous hashing paper; weights as
 * in Schindelhauer & Schomaker's "weighted distributed hash tables" (score =
 * -weight / ln(hash ∈ (0,1))), so a backend of weight 2 gets twice the
 * clients. (IPVS `sh` and HAProxy `balance source` with `hash-type
 * consistent` solve the same problem with a lookup table or a ring.)
 */
import type { Candidate, Scheduler } from './scheduler.js';

/** 64-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/), folded to a number in (0, 1). */
export function hashUnit(text: string): number {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  // FNV-1a mixes its last bytes poorly into the high bits: a final avalanche (MurmurHash3's fmix64).
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & 0xffffffffffffffffn;
  h ^= h >> 33n;
  return (Number(h >> 11n) + 1) / (2 ** 53 + 1);
}

export class SourceHash implements Scheduler {
  readonly name = 'sourcehash';

  pick(candidates: readonly Candidate[], client: string): Candidate {
    let best = candidates[0]!;
    let bestScore = -Infinity;
    for (const c of candidates) {
      const score = -c.weight / Math.log(hashUnit(`${client}/${c.name}`));
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  }
}
