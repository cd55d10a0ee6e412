/**
 * The IPv6 route table: longest-prefix match over 128-bit prefixes.
 *
 * Read first: RFC 4861 §5.2 (a host's "conceptual sending algorithm": the
 * prefix list says what is on-link, the default router list the rest), RFC
 * 4191 (route preferences), RFC 1812 §5.2.4.3 (the most specific route
 * wins; among equals, the lowest metric).
 *
 * A plain list sorted by prefix length (longest first), then metric: a lab
 * has a handful of IPv6 routes, and a linear scan reads most plainly. (The
 * IPv4 table in ../routing/table.ts keys Maps by 32-bit numbers instead.)
 */
import { formatIpv6, formatIpv6Cidr, inIpv6Cidr, ipv6Equal, prefixOf, type Ipv6Address, type Ipv6Cidr } from './address.js';

export interface Ipv6Route<T> {
  /** Normalised: host bits cleared. */
  readonly destination: Ipv6Cidr;
  /** The next-hop router (often its link-local address), or undefined when on-link. */
  readonly gateway: Ipv6Address | undefined;
  readonly metric: number;
  readonly value: T;
}

export interface Ipv6RouteSpec<T> {
  destination: Ipv6Cidr;
  gateway?: Ipv6Address;
  metric?: number;
  value: T;
}

export class Ipv6RouteTable<T> {
  private list: Ipv6Route<T>[] = [];

  get size(): number {
    return this.list.length;
  }

  /** Adds a route; one with the same destination, metric and value is replaced (like `ip -6 route replace`). */
  add(spec: Ipv6RouteSpec<T>): Ipv6Route<T> {
    const route: Ipv6Route<T> = {
      destination: { address: prefixOf(spec.destination.address, spec.destination.prefixLength), prefixLength: spec.destination.prefixLength },
      gateway: spec.gateway?.slice(),
      metric: spec.metric ?? 0,
      value: spec.value,
    };
    this.list = this.list.filter((r) => !sameSlot(r, route));
    this.list.push(route);
    this.list.sort((a, b) => b.destination.prefixLength - a.destination.prefixLength || a.metric - b.metric);
    return route;
  }

  /** Removes routes to `destination` (only those pointing at `value`, when given); returns how many. */
  remove(destination: Ipv6Cidr, value?: T): number {
    const before = this.list.length;
    const d = prefixOf(destination.address, destination.prefixLength);
    this.list = this.list.filter(
      (r) => !(r.destination.prefixLength === destination.prefixLength && ipv6Equal(r.destination.address, d) && (value === undefined || r.value === value)),
    );
    return before - this.list.length;
  }

  /** The most specific route to `address`, lowest metric first among equals. */
  lookup(address: Ipv6Address): Ipv6Route<T> | undefined {
    for (const r of this.list) if (inIpv6Cidr(address, r.destination)) return r;
    return undefined;
  }

  routes(): readonly Ipv6Route<T>[] {
    return this.list;
  }
}

function sameSlot<T>(a: Ipv6Route<T>, b: Ipv6Route<T>): boolean {
  return (
    a.destination.prefixLength === b.destination.prefixLength &&
    ipv6Equal(a.destination.address, b.destination.address) &&
    a.metric === b.metric &&
    a.value === b.value
  );
}

/** "fd77::/64 dev tap0" / "::/0 via fe80::1 dev tap0" (what `ip -6 route` prints). */
export function describeIpv6Route<T extends { name: string }>(r: Ipv6Route<T>): string {
  return `${formatIpv6Cidr(r.destination)}${r.gateway ? ` via ${formatIpv6(r.gateway)}` : ''} dev ${r.value.name}${r.metric ? ` metric ${r.metric}` : ''}`;
}
