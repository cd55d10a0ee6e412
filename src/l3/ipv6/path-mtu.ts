/**
 * Path MTU discovery for IPv6: remember the MTUs that Packet Too Big
 * messages report, per destination, for a while.
 *
 * Read first: RFC 8201 (Path MTU Discovery for IPv6; §4: never below 1280,
 * and try a larger MTU again after "at least 5 minutes ... recommended 10"),
 * RFC 8200 §5 (1280 is the minimum link MTU), RFC 8021 (a PTB reporting
 * less than 1280 no longer asks for atomic fragments: clamp to 1280).
 */
import type { StackContext } from '../../core/context.js';
import { formatIpv6, ipv6Key, type Ipv6Address } from './address.js';
import { IPV6_MIN_MTU } from './header.js';

/** Linux net.ipv6.route.mtu_expires (600 s), RFC 8201 §4's recommended 10 minutes. */
export const PMTU_EXPIRES_MS = 600_000;
/** tapnet: destinations remembered at once; the oldest entry goes first (Linux bounds its route cache by gc_thresh). */
export const PMTU_CACHE_MAX = 1024;

interface Entry {
  readonly mtu: number;
  readonly expiresAt: number;
}

export class PathMtuCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ctx: StackContext,
    private readonly expiresMs = PMTU_EXPIRES_MS,
    private readonly max = PMTU_CACHE_MAX,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The learned MTU towards `destination`, if one is known and fresh. */
  lookup(destination: Ipv6Address): number | undefined {
    if (this.entries.size === 0) return undefined;
    const key = ipv6Key(destination);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.ctx.clock.now() >= e.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return e.mtu;
  }

  /**
   * A Packet Too Big said `mtu` towards `destination`. Only a decrease is
   * believed (RFC 8201 §4: "a node MUST NOT increase its estimate of the
   * Path MTU in response to the contents of a Packet Too Big message").
   * Returns the MTU now in force.
   */
  update(destination: Ipv6Address, mtu: number, linkMtu: number): number {
    const clamped = Math.max(IPV6_MIN_MTU, Math.min(mtu, linkMtu));
    const current = this.lookup(destination) ?? linkMtu;
    if (clamped >= current) return current;
    const key = ipv6Key(destination);
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { mtu: clamped, expiresAt: this.ctx.clock.now() + this.expiresMs });
    this.ctx.trace.event('path MTU', () => `${formatIpv6(destination)} mtu ${clamped}`);
    return clamped;
  }
}
