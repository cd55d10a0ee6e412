/**
 * The route table: longest-prefix match.
 *
 * Read first: RFC 1812 §5.2.4.3 "Next Hop Address" (the most specific route
 * wins; among equals, the best metric), RFC 4632 §5.1 (longest match in
 * CIDR), RFC 1122 §3.3.1 (a host's routing decision).
 *
 * One Map per prefix length, keyed by network address: a lookup masks the
 * address with each prefix length in use, longest first, and stops at the
 * first hit: at most 33 Map probes and no allocation. (Linux's FIB is an
 * LC-trie; a lab has tens of routes, where this reads more plainly.)
 * Routes with the same destination are kept sorted by metric, lowest first.
 */
import { formatIpv4, formatIpv4Cidr, prefixMask, type Ipv4Address, type Ipv4Cidr } from '../ipv4/address.js';

export interface Route<T> {
  /** Normalised: host bits cleared. */
  readonly destination: Ipv4Cidr;
  /** The next-hop router, or undefined for a directly connected network. */
  readonly gateway: Ipv4Address | undefined;
  /** Lower wins among routes to the same destination (Linux's default is 0). */
  readonly metric: number;
  /** What the route points at: an interface, a link, a name. */
  readonly value: T;
}

export interface RouteSpec<T> {
  destination: Ipv4Cidr;
  gateway?: Ipv4Address;
  metric?: number;
  value: T;
}

const MASKS: readonly number[] = Array.from({ length: 33 }, (_, length) => prefixMask(length));

export class RouteTable<T> {
  /** byLength[n]: network address → routes to it, sorted by metric. */
  private readonly byLength: (Map<number, Route<T>[]> | undefined)[] = new Array<Map<number, Route<T>[]> | undefined>(33);
  /** Prefix lengths with at least one route, longest first. */
  private lengths: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Adds a route. Host bits of the destination are cleared. A route with the
   * same destination and metric is replaced (like `ip route replace`).
   */
  add(spec: RouteSpec<T>): Route<T> {
    const { prefixLength } = spec.destination;
    const network = (spec.destination.address & MASKS[prefixLength]!) >>> 0;
    const route: Route<T> = {
      destination: { address: network, prefixLength },
      gateway: spec.gateway,
      metric: spec.metric ?? 0,
      value: spec.value,
    };
    let map = this.byLength[prefixLength];
    if (!map) {
      map = new Map();
      this.byLength[prefixLength] = map;
      this.lengths = [...this.lengths, prefixLength].sort((a, b) => b - a);
    }
    const list = map.get(network);
    if (!list) {
      map.set(network, [route]);
      this.count++;
      return route;
    }
    const same = list.findIndex((r) => r.metric === route.metric);
    if (same >= 0) {
      list[same] = route;
    } else {
      list.push(route);
      list.sort((a, b) => a.metric - b.metric);
      this.count++;
    }
    return route;
  }

  /** Removes the routes to `destination` (only the one with `metric` if given). Returns how many went. */
  remove(destination: Ipv4Cidr, metric?: number): number {
    const { prefixLength } = destination;
    const network = (destination.address & MASKS[prefixLength]!) >>> 0;
    const map = this.byLength[prefixLength];
    const list = map?.get(network);
    if (!map || !list) return 0;
    const kept = metric === undefined ? [] : list.filter((r) => r.metric !== metric);
    const removed = list.length - kept.length;
    if (kept.length > 0) map.set(network, kept);
    else map.delete(network);
    this.count -= removed;
    if (map.size === 0) this.dropLength(prefixLength);
    return removed;
  }

  /** Removes every route matching `predicate` (e.g. all routes through an interface that went down). */
  removeWhere(predicate: (route: Route<T>) => boolean): number {
    let removed = 0;
    for (const route of this.routes()) {
      if (!predicate(route)) continue;
      removed += this.remove(route.destination, route.metric);
    }
    return removed;
  }

  /** The most specific route to `address`, lowest metric first; undefined when nothing (not even a default) matches. */
  lookup(address: Ipv4Address): Route<T> | undefined {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      const list = this.byLength[length]!.get((address & MASKS[length]!) >>> 0);
      if (list) return list[0];
    }
    return undefined;
  }

  /** Every route, most specific first, then by network address, then by metric. */
  routes(): Route<T>[] {
    const out: Route<T>[] = [];
    for (const length of this.lengths) {
      const networks = [...this.byLength[length]!.keys()].sort((a, b) => a - b);
      for (const network of networks) out.push(...this.byLength[length]!.get(network)!);
    }
    return out;
  }

  clear(): void {
    this.byLength.fill(undefined);
    this.lengths = [];
    this.count = 0;
  }

  private dropLength(prefixLength: number): void {
    this.byLength[prefixLength] = undefined;
    this.lengths = this.lengths.filter((l) => l !== prefixLength);
  }
}

/** `ip route`-style line: "10.77.0.0/24 via 10.77.0.1 metric 10". */
export function describeRoute<T>(route: Route<T>, describeValue: (value: T) => string = String): string {
  const destination = route.destination.prefixLength === 0 ? 'default' : formatIpv4Cidr(route.destination);
  const via = route.gateway === undefined ? '' : ` via ${formatIpv4(route.gateway)}`;
  return `${destination}${via} dev ${describeValue(route.value)}${route.metric !== 0 ? ` metric ${route.metric}` : ''}`;
}
