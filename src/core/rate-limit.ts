/**
 * A token bucket on the injected clock. Used for ICMP error rate limiting
 * (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f)) and other "at most N per second" rules.
 */
import type { Clock } from './time.js';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    /** Tokens added per second. */
    private readonly ratePerSecond: number,
    /** Bucket size: the largest burst. */
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
