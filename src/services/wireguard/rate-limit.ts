/**
 * The per-source handshake rate limit a WireGuard responder applies while
 * under load (whitepaper §5.3: "a rate limiter ... on source IP"), a token
 * bucket per address like wireguard-go's ratelimiter package: 20 handshakes
 * a second with a burst of 5. The table is capped: a flood from many
 * addresses cannot make it grow without bound.
 */
import type { StackContext } from '../../core/context.js';

/** wireguard-go ratelimiter: packetsPerSecond, packetsBurstable. */
export const RATE_LIMIT_PER_SECOND = 20;
export const RATE_LIMIT_BURST = 5;
/** Sources tracked at once; idle ones (a full bucket) are pruned first. */
export const RATE_LIMITER_ENTRIES_MAX = 4096;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly ctx: StackContext) {}

  allow(source: string, now: number): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= RATE_LIMITER_ENTRIES_MAX) this.prune(now);
      if (this.buckets.size >= RATE_LIMITER_ENTRIES_MAX) return false;
      b = { tokens: RATE_LIMIT_BURST, updatedAt: now };
      this.buckets.set(source, b);
      this.ctx.stats.set('wgRateLimiterEntries', this.buckets.size);
    }
    b.tokens = Math.min(RATE_LIMIT_BURST, b.tokens + ((now - b.updatedAt) * RATE_LIMIT_PER_SECOND) / 1000);
    b.updatedAt = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops sources whose bucket has refilled (idle for at least a burst's worth of time). */
  private prune(now: number): void {
    const full = (RATE_LIMIT_BURST * 1000) / RATE_LIMIT_PER_SECOND;
    for (const [k, b] of this.buckets) if (now - b.updatedAt >= full) this.buckets.delete(k);
    this.ctx.stats.set('wgRateLimiterEntries', this.buckets.size);
  }
}

/**
 * "Under load" (whitepaper §5.3): above `threshold` handshake messages a
 * second the responder demands cookies, and stays so for
 * UNDER_LOAD_AFTER_TIME_MS after the last second over it. wireguard-go
 * measures its handshake queue (under load at 1/8 of 1024 slots); tapnet
 * handles each message at once, so it counts arrivals per second instead.
 */
export const UNDER_LOAD_AFTER_TIME_MS = 1000;
/** wireguard-go's queue-length threshold, as a rate. */
export const UNDER_LOAD_HANDSHAKES_PER_SECOND = 128;

export class LoadDetector {
  private count = 0;
  private secondStartedAt = -Infinity;
  private underLoadUntil = -Infinity;

  constructor(
    private readonly ctx: StackContext,
    private readonly threshold = UNDER_LOAD_HANDSHAKES_PER_SECOND,
  ) {}

  /** Counts one handshake message arriving now; true while under load. */
  arrived(now: number): boolean {
    if (now - this.secondStartedAt >= 1000) {
      this.secondStartedAt = now;
      this.count = 0;
    }
    if (++this.count > this.threshold) {
      if (now >= this.underLoadUntil) this.ctx.stats.inc('wgUnderLoad');
      this.underLoadUntil = now + UNDER_LOAD_AFTER_TIME_MS;
    }
    return now < this.underLoadUntil;
  }
}
