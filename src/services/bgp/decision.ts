/**
 * The decision process, RFC 4271 §9.1.2.2 (with RFC 4456 §9 for route
 * reflection): of the routes to one prefix, which is best.
 *
 * The RFC describes it as elimination: start from every feasible route and
 * apply each rule in order, keeping only the routes that are best by it,
 * until one is left. Each rule below is one step, in the RFC's order, and
 * `chooseBest` returns the winner and the rule that decided (shown by
 * `tapnet show bgp`, like FRR's "bestpath reason").
 *
 *   1. highest LOCAL_PREF                          (§9.1.1: degree of preference)
 *   2. shortest AS_PATH (an AS_SET counts 1)       (§9.1.2.2 a)
 *   3. lowest ORIGIN (IGP < EGP < INCOMPLETE)      (§9.1.2.2 b)
 *   4. lowest MED, among routes from the same
 *      neighbouring AS (no MED = 0)                (§9.1.2.2 c)
 *   5. eBGP-learned over iBGP-learned              (§9.1.2.2 d)
 *   6. lowest IGP cost to the NEXT_HOP             (§9.1.2.2 e; tapnet has no IGP: connected
 *                                                   next hops cost 0, others 1)
 *   7. lowest BGP Identifier (ORIGINATOR_ID for a
 *      reflected route, RFC 4456 §9)               (§9.1.2.2 f)
 *   8. shortest CLUSTER_LIST                       (RFC 4456 §9)
 *   9. lowest peer address                         (§9.1.2.2 g)
 * A locally originated route (a `networks:` entry) has no peer and an empty
 * AS_PATH: step 2 makes it win over any learned one with the same LOCAL_PREF.
 */
import { asPathHops, firstAs } from './as-path.js';
import type { PathAttributes } from './attributes.js';
import type { Prefix } from './prefix.js';

/** RFC 4271 §5.1.5 leaves the default to configuration; 100 is what every implementation uses. */
export const DEFAULT_LOCAL_PREF = 100;

export interface PeerInfo {
  readonly address: string;
  readonly as: number;
  readonly routerId: number;
  readonly external: boolean;
  /** Route-reflector client (RFC 4456): set on the reflector's side. */
  readonly reflectorClient: boolean;
}

/** A route in Adj-RIB-In / Loc-RIB: a prefix with attributes, from a peer or from us. */
export interface RibRoute {
  readonly prefix: Prefix;
  readonly attributes: PathAttributes;
  /** Next hop as text (IPv4 dotted or IPv6), what the FIB gets. */
  readonly nextHop: string;
  /** undefined: originated here (`networks:`). */
  readonly peer: PeerInfo | undefined;
  /** 0 when the next hop is on a connected network. */
  readonly igpCost: number;
}

export type DecisionRule = 'only route' | 'local-pref' | 'as-path length' | 'origin' | 'MED' | 'eBGP over iBGP' | 'IGP cost' | 'router id' | 'cluster list' | 'peer address';

type Step = [DecisionRule, (routes: RibRoute[]) => RibRoute[]];

/** Keeps the routes with the lowest `key`. */
function lowest(routes: RibRoute[], key: (r: RibRoute) => number): RibRoute[] {
  const min = Math.min(...routes.map(key));
  return routes.filter((r) => key(r) === min);
}

const localPref = (r: RibRoute): number => r.attributes.localPref ?? DEFAULT_LOCAL_PREF;
const neighbourAs = (r: RibRoute): number => (r.peer ? (firstAs(r.attributes.asPath ?? []) ?? r.peer.as) : 0);

/** Step 4: "remove from consideration routes with less-preferred MULTI_EXIT_DISC ... only among routes learned from the same neighboring AS". */
function lowestMedPerNeighbourAs(routes: RibRoute[]): RibRoute[] {
  return routes.filter((r) => {
    const med = r.attributes.med ?? 0;
    return !routes.some((o) => o !== r && neighbourAs(o) === neighbourAs(r) && (o.attributes.med ?? 0) < med);
  });
}

const STEPS: readonly Step[] = [
  ['local-pref', (rs) => lowest(rs, (r) => -localPref(r))],
  ['as-path length', (rs) => lowest(rs, (r) => asPathHops(r.attributes.asPath ?? []))],
  ['origin', (rs) => lowest(rs, (r) => r.attributes.origin ?? 0)],
  ['MED', lowestMedPerNeighbourAs],
  ['eBGP over iBGP', (rs) => lowest(rs, (r) => (r.peer === undefined || r.peer.external ? 0 : 1))],
  ['IGP cost', (rs) => lowest(rs, (r) => r.igpCost)],
  ['router id', (rs) => lowest(rs, (r) => (r.peer ? (r.attributes.originatorId ?? r.peer.routerId) : 0))],
  ['cluster list', (rs) => lowest(rs, (r) => r.attributes.clusterList?.length ?? 0)],
  ['peer address', (rs) => lowest(rs, (r) => addressRank(r.peer?.address))],
];

/** Orders addresses numerically (IPv4 before IPv6); a local route ranks first. */
function addressRank(address: string | undefined): number {
  if (address === undefined) return -1;
  if (!address.includes(':')) return address.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return 2 ** 32 + address.split(':').reduce((n, g) => (n * 65536 + parseInt(g || '0', 16)) % 2 ** 48, 0);
}

export function chooseBest(candidates: readonly RibRoute[]): { best: RibRoute; rule: DecisionRule } | undefined {
  if (candidates.length === 0) return undefined;
  if (candidates.length === 1) return { best: candidates[0]!, rule: 'only route' };
  let routes = [...candidates];
  for (const [rule, step] of STEPS) {
    routes = step(routes);
    if (routes.length === 1) return { best: routes[0]!, rule };
  }
  return { best: routes[0]!, rule: 'peer address' };
}
