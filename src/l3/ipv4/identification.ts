/**
 * The IPv4 Identification field of datagrams this node originates.
 *
 * Read first: RFC 6864 §4 (the field only has to be unique per source,
 * destination and protocol while fragments may be in flight, and atomic
 * datagrams — DF set, not fragmented — may carry any value), RFC 7739 §5
 * (a single global counter leaks the sending rate and makes the host an
 * idle-scan "zombie": an attacker who reads our IDs sees every packet we send
 * to anybody). Linux: ip_select_ident_segs() / __ip_select_ident() in
 * net/ipv4/route.c.
 *
 * What this does, like Linux:
 *  - atomic datagrams (DF) carry ID 0 (RFC 6864 §4.1; Linux does this for
 *    DF packets not sent on a connected socket);
 *  - every other datagram takes its ID from one of IP_IDENTS_BUCKETS
 *    counters, chosen by a keyed hash of (source, destination, protocol) with
 *    a secret drawn at start-up, so traffic to one peer does not move the
 *    counter another peer sees;
 *  - a bucket left unused for a while jumps ahead by a random amount up to the
 *    idle time (in ms), so even the same peer cannot count what was sent in
 *    between (RFC 7739 §5.3 "Randomized per-destination counters").
 */
import type { Random } from '../../core/time.js';
import type { Clock } from '../../core/time.js';
import type { Ipv4Address } from './address.js';

/** Linux IP_IDENTS_SZ is 2048 (net/ipv4/route.c). */
export const IP_IDENTS_BUCKETS = 2048;

/** A keyed 32-bit mix of the flow (the murmur3 finalizer over the key-xored words): which bucket, not a secret itself. */
function bucketOf(source: number, destination: number, protocol: number, key: number): number {
  let h = (key ^ Math.imul(source ^ 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ destination, 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (h >>> 16) ^ protocol, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) % IP_IDENTS_BUCKETS;
}

export class Ipv4IdentificationGenerator {
  private readonly counters = new Uint16Array(IP_IDENTS_BUCKETS);
  private readonly lastUsed = new Float64Array(IP_IDENTS_BUCKETS);
  private readonly key: number;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
  ) {
    this.key = random.u32();
    for (let i = 0; i < IP_IDENTS_BUCKETS; i++) this.counters[i] = random.u32() & 0xffff;
    this.lastUsed.fill(clock.now());
  }

  /** The ID for one datagram (a fragmented one shares it across its fragments). */
  next(source: Ipv4Address, destination: Ipv4Address, protocol: number, dontFragment: boolean): number {
    if (dontFragment) return 0;
    const b = bucketOf(source, destination, protocol, this.key);
    const now = this.clock.now();
    const idle = Math.floor(now - this.lastUsed[b]!);
    this.lastUsed[b] = now;
    // Linux: delta = get_random_u32_below(now - old) when the bucket was idle.
    const jump = idle > 0 ? Math.floor(this.random.float() * idle) : 0;
    const id = (this.counters[b]! + jump + 1) & 0xffff;
    this.counters[b] = id;
    return id;
  }
}
