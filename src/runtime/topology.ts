/**
 * Lab topology files: YAML → a validated model, with every mistake reported
 * as `FILE:LINE:COLUMN: field.path: what is wrong`.
 *
 * The format (labs/*.yaml are the worked examples):
 *
 *   name: two-lans                 # [a-z0-9-], names the control socket
 *   nodes:
 *     lan1-pc:                     # a host: a network namespace of that name; Linux is the stack
 *       kind: host
 *       interfaces:
 *         eth0: { address: 10.1.0.10/24 }   # or { dhcp: true }: leased from a router with dhcp: true
 *                                          # addresses: [10.1.0.10/24, fd00:1::10/64]: dual stack
 *       routes: [default via 10.1.0.1]
 *       resolvers: [10.1.0.1]      # optional: /etc/netns/NAME/resolv.conf while the lab runs (ip netns exec reads it)
 *       run: python3 lb-backend.py web1   # optional: commands started in the namespace at lab up (sh -c, from
 *                                        # the lab file's directory), stopped at lab down; a string or a list
 *     r1:                          # a tapnet router (RFC 1812), inside the tapnet process
 *       kind: router
 *       rpFilter: strict           # off (default) | loose | strict (RFC 3704)
 *       interfaces:
 *         eth0: { address: 10.1.0.1/24, dhcp: true }   # dhcp: serve DHCP on this interface
 *       routes: [10.9.0.0/16 via 10.2.0.2, prohibit 10.66.0.0/16]
 *       nat: { masquerade: wan, publish: [tcp 8080 -> 10.1.0.10:80] }   # conntrack + NAT (src/netfilter/config.ts)
 *       firewall: { policy: { forward: drop }, rules: [forward state established,related accept] }
 *       uplink: { hostAlias: 10.0.2.2 }   # default route out through this machine's sockets (src/services/uplink)
 *     (any router or host interface can be a WireGuard tunnel instead, needing no link:
 *         wg0: { kind: wireguard, privateKey: KEY, listenPort: 51820, address: 10.99.0.1/24, peers: [...] }
 *         wg0: { kind: wireguard, config: office.conf }   # a wg-quick file, beside the lab file
 *      tapnet's own WireGuard on a router, wireguard-go + wg on a host: src/services/wireguard/config.ts)
 *       dns: { zone: home, upstreams: [10.0.2.3], records: ["nas A 10.1.0.10"] }   # a DNS server (src/services/dns)
 *       dns: { zone: home, recursion: { roots: [10.53.0.1], allow: [10.1.0.0/24] } }   # or a recursive resolver
 *       iperf3: true               # an iperf3 server on port 5201 of the router's addresses (src/services/iperf3)
 *       smallServices: [echo, discard, chargen, daytime, time]   # RFC 862-868 over TCP and UDP (src/services/small), or: all
 *       bgp: { as: 65001, routerId: 10.0.0.1, networks: [...], neighbors: [{ address: 10.0.12.2, as: 65002 }] }   # BGP-4 (src/services/bgp/config.ts)
 *                                  # on the dhcp: interfaces (all when none), handed out by DHCP; leases get names
 *       lb: { web: { listen: 10.1.0.1:80, mode: proxy, backends: { web1: 10.2.0.11:80 } } }   # load balancer (src/services/lb/config.ts)
 *     lb1:                         # a load balancer: a router whose job is its lb: block (required here)
 *       kind: lb
 *       interfaces: { front: { address: 10.20.0.1/24 }, back: { address: 10.30.0.1/24 } }
 *       lb: { web: { listen: 10.20.0.1:80, mode: http, scheduler: leastconn, backends: { ... } } }
 *     sw1:                         # a tapnet learning switch (802.1D/802.1Q)
 *       kind: switch
 *       macTableMax: 8192          # optional; ageingTime: 300 (seconds) too
 *       ports:
 *         p1: { vlan: 10 }         # access port in VLAN 10 (default: VLAN 1)
 *         p2: { trunk: [10, 20], native: 1 }   # trunk: a list or "all"
 *     hub1:                        # a repeater hub: every frame out of every other port, nothing learnt
 *       kind: hub
 *       ports: { p1: , p2: , p3: }
 *   links:
 *     - [lan1-pc:eth0, r1:eth0]    # NODE:INTERFACE (or NODE:PORT) at each end
 *     - endpoints: [r1:eth1, r2:eth0]
 *       mtu: 1400                  # IP MTU of the link (default 1500)
 *       impairment: { loss: 1%, delayMs: 20, jitterMs: 5, rate: 10mbit }   # both directions
 *       capture: wan.pcap          # every frame, both directions, for tcpdump -r / Wireshark (path relative to the current directory)
 *       offload: false             # no virtio-net offload (TSO, partial checksums) on this link's ports (default on)
 *     - [sw1:p9, { vxlan: { vni: 42, remote: 192.0.2.10, local: 192.0.2.1 } }]   # the other end is a VXLAN tunnel
 *                                  # (RFC 7348) over this machine's UDP; mtu: defaults to the underlay's - 50/70
 *   (nodes may say `part: NAME`: the machine that runs them, `tapnet lab up FILE --part NAME`; src/runtime/vxlan.ts)
 *
 * Impairments are tapnet's own element (src/device/impairment.ts, netem's
 * model): loss, duplicate, reorder, corrupt (0..1 or "N%"), delayMs,
 * jitterMs, reorderDelayMs, rate ("10mbit", "512kbit") or rateBitsPerSecond,
 * queueLimitFrames, seed; or { aToB: {...}, bToA: {...} } per direction.
 *
 * Parsing never throws on bad input: `parseTopology` returns every problem
 * it found. The model keeps line numbers so runtime errors can point back.
 *
 * Why a schema library, and why zod: the file's format is written once, as
 * the schema below, and the TypeScript types of what it yields are inferred
 * from it, so the config type and its check cannot drift apart; every issue
 * carries the path of the field it is about, which config-errors.ts turns
 * into FILE:LINE:COLUMN through the YAML document; and zod is small, has no
 * dependencies and is one of the most widely used and kept TypeScript
 * libraries. The small languages inside the values (routes here, firewall
 * rules and port forwards in netfilter/config.ts, addresses) stay
 * hand-written, because they teach; the schema calls them and their error
 * text is the message.
 *
 * Checking runs in two steps inside the one schema: each field on its own,
 * then the cross references (a route's gateway on one of the node's
 * networks, links against the nodes' interfaces and ports). A node, an
 * interface, a route or a link that is wrong on its own is reported and left
 * out of the cross references (`element` in config-errors.ts), so one run
 * reports every problem without repeating one mistake as many.
 */
import { LineCounter, isSeq, parseDocument } from 'yaml';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { impairmentOptionsSchema, type ImpairmentOptions } from '../device/impairment.js';
import { IFNAME_MAX } from '../device/tap.js';
import { formatIpv4, inCidr, parseIpv4, parseIpv4Cidr, type Ipv4Address, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { formatIpv6, inIpv6Cidr, parseIpv6, parseIpv6Cidr, type Ipv6Address, type Ipv6Cidr } from '../l3/ipv6/address.js';
import { IPV4_MIN_MTU } from '../l3/ipv4/header.js';
import type { RpFilterMode } from '../l3/routing/forward.js';
import { VID_MAX, VID_MIN, type PortVlanConfig } from '../l2/switch/vlan.js';
import type { RouteType } from '../node/router.js';
import { netfilterSchemas, toNetfilterConfig } from '../netfilter/config.js';
import type { NetfilterConfig } from '../netfilter/netfilter.js';
import { uplinkSchema } from '../services/uplink/config.js';
import type { UplinkOptions } from '../services/uplink/uplink.js';
import { labDnsSchema } from '../services/dns/config.js';
import { parseWgQuick, wireguardInterfaceSchema, type WireGuardSpec } from '../services/wireguard/config.js';
import { dirname, resolve as resolvePath } from 'node:path';
import { SMALL_SERVICE_NAMES, type SmallServiceName } from '../services/small/index.js';
import { lbSchema, type LbServiceConfig } from '../services/lb/config.js';
import { bgpSchema } from '../services/bgp/config.js';
import type { BgpConfig } from '../services/bgp/speaker.js';
import type { Upstream } from '../services/dns/forwarder.js';
import type { RecursionConfig } from '../services/dns/resolver.js';
import { partName, vxlanEndpointSchema, type VxlanLinkSpec, type VxlanSpec } from './vxlan.js';
import { YamlLocator, configErrorMap, element, fields, formatProblem, integer, problemsFromIssues, text, type ConfigPath, type ConfigProblem, type SourcePosition } from './config-errors.js';

export { formatProblem, type SourcePosition } from './config-errors.js';

/** Namespace names become /run/netns files and `ip netns` arguments; keep them short and plain. */
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;
/** Largest link MTU a TAP takes (tun.c: MAX_MTU 65535 - the Ethernet header... Linux caps tun at 65521). */
export const LAB_MTU_MAX = 65_521;

export type TopologyProblem = ConfigProblem;

export interface InterfaceSpec {
  readonly name: string;
  readonly addresses: readonly Ipv4Cidr[];
  /**
   * `dhcp: true`. On a host: the address comes from a DHCP server in the lab
   * (busybox udhcpc). On a router: the router serves DHCP on this interface
   * (src/services/dhcp/server.ts; pool .100-.199, itself as gateway).
   */
  readonly dhcp: boolean;
  /** IPv6 addresses (written in the same address:/addresses: fields); the interface speaks IPv6 when there are any. */
  readonly addresses6: readonly Ipv6Cidr[];
  /**
   * `kind: wireguard` (src/services/wireguard/config.ts): a tunnel, not cabled to any link. On a router,
   * tapnet's own WireGuard; on a host, wireguard-go + wg in its namespace. `config: FILE` is already loaded.
   */
  readonly wireguard?: WireGuardSpec;
  readonly at: SourcePosition;
}

/** An IPv6 route: `PREFIX via GATEWAY` / `PREFIX dev IFACE` with an IPv6 prefix (`::/0` for the default). */
export interface Route6Spec {
  readonly destination: Ipv6Cidr;
  readonly gateway?: Ipv6Address;
  readonly device?: string;
  readonly metric?: number;
  readonly text: string;
  readonly at: SourcePosition;
}

export interface RouteSpec {
  readonly type: RouteType;
  readonly destination: Ipv4Cidr;
  readonly gateway?: Ipv4Address;
  readonly device?: string;
  readonly metric?: number;
  /** The route as written, for `ip route add` and messages. */
  readonly text: string;
  readonly at: SourcePosition;
}

export interface HostNodeSpec {
  readonly kind: 'host';
  readonly name: string;
  readonly interfaces: readonly InterfaceSpec[];
  readonly routes: readonly RouteSpec[];
  readonly routes6: readonly Route6Spec[];
  /** `run:`: commands started inside the namespace at lab up (sh -c, cwd = the lab file's directory), killed at lab down. */
  readonly run: readonly string[];
  /** `resolvers:`: name servers for programs run with `ip netns exec` there (/etc/netns/NAME/resolv.conf). */
  readonly resolvers: readonly Ipv4Address[];
  /** `part:`: the machine that runs it when the lab is split (runtime/vxlan.ts). */
  readonly part?: string;
  readonly at: SourcePosition;
}

export interface RouterNodeSpec {
  readonly kind: 'router';
  /** Written `kind: lb`: a router whose job is its load balancer (shown as "lb" by `lab status`). */
  readonly lbNode: boolean;
  readonly name: string;
  readonly interfaces: readonly InterfaceSpec[];
  readonly routes: readonly RouteSpec[];
  readonly routes6: readonly Route6Spec[];
  readonly rpFilter: RpFilterMode;
  /** `nat:`, `firewall:`, `conntrack:` (src/netfilter/config.ts); undefined when the router has none. */
  readonly netfilter?: NetfilterConfig;
  /** `uplink:` (src/services/uplink): out to the host's network through its sockets; a default route unless one is given. */
  readonly uplink?: UplinkOptions;
  /** `dns:`: the router serves this zone (and forwards the rest); undefined when it serves no DNS. */
  readonly dns?: RouterDnsSpec;
  /** `iperf3: true`: the iperf3-compatible server on port 5201 (off by default in a lab). */
  readonly iperf3: boolean;
  /** `smallServices: [echo, ...]` or `all`: RFC small services over TCP and UDP (none by default). */
  readonly smallServices: readonly SmallServiceName[];
  /** `lb:`: virtual services (src/services/lb); undefined when the router balances nothing. */
  readonly lb?: readonly LbServiceConfig[];
  readonly lbAt?: SourcePosition;
  readonly part?: string;
  /** `bgp:` (src/services/bgp/config.ts): the router speaks BGP-4; undefined when it does not. */
  readonly bgp?: BgpConfig;
  readonly at: SourcePosition;
}

/** `dns: true` or `dns: { zone, upstreams, records }` on a router. */
export interface RouterDnsSpec {
  /** The zone's name with its final dot ("home."); DHCP hands it out as the domain name (option 15). */
  readonly zone: string;
  /** Where names outside the zone go; none: they are REFUSED. */
  readonly upstreams: readonly Upstream[];
  /** Master-file lines, names relative to the zone ("nas A 192.168.1.10"). */
  readonly records: readonly string[];
  /** `recursion: { roots, allow }`: a recursive resolver from these root servers (src/services/dns/resolver.ts). */
  readonly recursion?: RecursionConfig;
  readonly at: SourcePosition;
}

export interface SwitchPortSpec {
  readonly name: string;
  readonly vlan: PortVlanConfig;
  readonly at: SourcePosition;
}

export interface SwitchNodeSpec {
  readonly kind: 'switch';
  readonly name: string;
  readonly ports: readonly SwitchPortSpec[];
  readonly macTableMax?: number;
  readonly ageingTimeMs?: number;
  readonly part?: string;
  readonly at: SourcePosition;
}

export interface HubNodeSpec {
  readonly kind: 'hub';
  readonly name: string;
  readonly ports: readonly { readonly name: string; readonly at: SourcePosition }[];
  /** `part:`: the machine that runs it when the lab is split (runtime/vxlan.ts). */
  readonly part?: string;
  readonly at: SourcePosition;
}

export type NodeSpec = HostNodeSpec | RouterNodeSpec | SwitchNodeSpec | HubNodeSpec;

export interface Endpoint {
  readonly node: string;
  /** Interface (host, router) or port (switch) name. */
  readonly port: string;
  readonly at: SourcePosition;
}

export interface LinkSpec {
  readonly a: Endpoint;
  readonly b: Endpoint;
  readonly mtu: number;
  /** Per direction; undefined when the link is perfect. */
  readonly impairment?: { readonly aToB: ImpairmentOptions; readonly bToA: ImpairmentOptions };
  readonly capture?: string;
  /** `offload: false`: no virtio-net offload on this link's ports (default on). */
  readonly offload: boolean;
  readonly at: SourcePosition;
}

export interface Topology {
  readonly name: string;
  readonly file: string;
  readonly nodes: readonly NodeSpec[];
  readonly links: readonly LinkSpec[];
  /** Links whose other end is a VXLAN tunnel (runtime/vxlan.ts); not in `links`. */
  readonly vxlanLinks: readonly VxlanLinkSpec[];
}

export type TopologyResult = { readonly ok: true; readonly topology: Topology } | { readonly ok: false; readonly problems: readonly TopologyProblem[] };

/** Thrown by `loadTopology`: every problem, one `FILE:LINE:COL: field: message` line each. */
export class TopologyError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly TopologyProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'TopologyError';
  }
}

const NODE_KINDS = ['host', 'router', 'switch', 'hub', 'lb'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function present<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('topology: an element left out by a problem reached the model'); // success means no element was left out
  return value;
}

// ---- Fields ----------------------------------------------------------------

/** `address:` / `addresses:` items: an IPv4 or IPv6 address with its prefix length. */
const interfaceAddress = text.transform((t, ctx): Ipv4Cidr | Ipv6Cidr => {
  if (t.includes(':')) {
    const cidr6 = parseIpv6Cidr(t);
    if (!cidr6 || cidr6.prefixLength === 0) ctx.addIssue({ code: 'custom', message: `'${t}' is not an IPv6 address with a prefix length, like fd00:1::1/64` });
    return cidr6!;
  }
  const cidr = parseIpv4Cidr(t);
  if (!cidr || cidr.prefixLength === 0 || cidr.prefixLength > 32) ctx.addIssue({ code: 'custom', message: `'${t}' is not an IPv4 address with a prefix length, like 10.1.0.1/24` });
  return cidr!;
});

function isIpv6Cidr(cidr: Ipv4Cidr | Ipv6Cidr): cidr is Ipv6Cidr {
  return cidr.address instanceof Uint8Array;
}

function interfaceSchema(kind: 'host' | 'router') {
  return fields({ address: interfaceAddress.optional(), addresses: z.array(interfaceAddress).optional(), dhcp: z.boolean().optional() })
    .nullable()
    .transform((v, ctx) => {
      const all = [...(v?.address ? [v.address] : []), ...(v?.addresses ?? [])];
      const addresses = all.filter((a): a is Ipv4Cidr => !isIpv6Cidr(a));
      const addresses6 = all.filter(isIpv6Cidr);
      const dhcp = v?.dhcp ?? false;
      if (dhcp && kind === 'host' && addresses.length > 0) ctx.addIssue({ code: 'custom', path: ['dhcp'], message: 'a host interface gets its address either from address: or from dhcp: true, not both' });
      if (dhcp && kind === 'router' && addresses.length === 0) ctx.addIssue({ code: 'custom', path: ['dhcp'], message: 'a router serves DHCP from its own address: give the interface one' });
      return { addresses, addresses6, dhcp };
    });
}
type InterfaceFields = z.output<ReturnType<typeof interfaceSchema>> & { wireguard?: WireGuardSpec };

/** `kind: wireguard`: its addresses count as the interface's (for gateways and routes), it needs no link. */
const wireguardInterface = wireguardInterfaceSchema.transform((wireguard): InterfaceFields => ({ addresses: [...wireguard.addresses4], addresses6: [...wireguard.addresses6], dhcp: false, wireguard }));

function anyInterface(kind: 'host' | 'router') {
  return element((raw) => (isRecord(raw) && raw.kind === 'wireguard' ? wireguardInterface : (interfaceSchema(kind) as z.ZodType<InterfaceFields>)));
}

const interfaceName = z.string().refine((name) => IFNAME_PATTERN.test(name) && name.length <= IFNAME_MAX, {
  error: (issue) => `interface name '${String(issue.input)}': 1-15 letters, digits, '_', '-', '.'`,
});
const portName = z.string().refine((name) => IFNAME_PATTERN.test(name), { error: (issue) => `port name '${String(issue.input)}': 1-15 letters, digits, '_', '-', '.'` });

const vid = integer(VID_MIN, VID_MAX);
const portSchema = fields({ vlan: vid.optional(), trunk: z.union([z.literal('all'), z.array(vid)]).optional(), native: vid.optional() })
  .nullable()
  .transform((v, ctx): PortVlanConfig => {
    if (!v || (v.vlan === undefined && v.trunk === undefined && v.native === undefined)) return { mode: 'access', vid: 1 };
    if (v.vlan !== undefined && (v.trunk !== undefined || v.native !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['vlan'], message: 'a port is either access (vlan: N) or trunk (trunk: [...], native: N), not both' });
    }
    if (v.vlan !== undefined) return { mode: 'access', vid: v.vlan };
    if (v.trunk === undefined) ctx.addIssue({ code: 'custom', path: ['trunk'], message: 'native needs trunk: [VIDs] (or trunk: all)' });
    return { mode: 'trunk', allowed: v.trunk === 'all' ? 'all' : new Set(v.trunk), native: v.native };
  });

// ---- Routes: a small language, as `ip route add` takes it ------------------

const ROUTE_TYPES: readonly RouteType[] = ['unreachable', 'prohibit', 'blackhole'];

type ParsedRoute = Omit<RouteSpec, 'at'> | Omit<Route6Spec, 'at'>;

/**
 * `[TYPE] DEST [via GATEWAY] [dev IFACE] [metric N]`; DEST may be `default`,
 * or an IPv6 prefix (`::/0 via fd00:1::1`). Whether a gateway is on one of
 * the node's networks is checked with the node (`checkGateways`).
 */
export function parseRoute(text: string, isRouter: boolean, interfaces: readonly string[]): { ok: true; route: ParsedRoute } | { ok: false; error: string } {
  const words = text.trim().split(/\s+/);
  let type: RouteType = 'unicast';
  const example = words[0]?.includes(':') || words[1]?.includes(':') ? '"::/0 via fd00:1::1"' : '"default via 10.1.0.1" or "10.3.0.0/16 via 10.1.0.2"';
  const bad = (why: string, e = example): { ok: false; error: string } => ({ ok: false, error: `'${text}': ${why} (expected e.g. ${e})` });
  if (ROUTE_TYPES.includes(words[0] as RouteType)) {
    if (!isRouter) return bad(`${words[0]} routes are for routers`);
    type = words.shift() as RouteType;
  }
  const destText = words.shift();
  const v6 = destText?.includes(':') ?? false;
  if (v6 && type !== 'unicast') return bad(`${type} routes are IPv4 only here`);
  const destination = v6 ? parseIpv6Cidr(destText!) : destText === 'default' ? { address: 0, prefixLength: 0 } : destText ? parseIpv4Cidr(destText) : undefined;
  if (!destination) return bad(v6 ? `'${destText}' is not an IPv6 prefix like fd00:2::/64 or ::/0` : `'${destText ?? ''}' is not a prefix like 10.3.0.0/16 or 'default'`);
  let gateway: number | Ipv6Address | undefined;
  let device: string | undefined;
  let metric: number | undefined;
  while (words.length > 0) {
    const word = words.shift()!;
    const arg = words.shift();
    if (arg === undefined) return bad(`'${word}' needs a value`);
    if (word === 'via') {
      gateway = v6 ? parseIpv6(arg) : parseIpv4(arg);
      if (gateway === undefined) return bad(`gateway '${arg}' is not an IPv${v6 ? 6 : 4} address`);
    } else if (word === 'dev') {
      if (!interfaces.includes(arg)) return bad(`no interface '${arg}' on this node`);
      device = arg;
    } else if (word === 'metric') {
      if (!/^[0-9]{1,9}$/.test(arg)) return bad(`metric '${arg}' is not a number`);
      metric = Number(arg);
    } else return bad(`unknown word '${word}'`);
  }
  if (type === 'unicast' && gateway === undefined && device === undefined) return bad('needs "via GATEWAY" or "dev INTERFACE"');
  if (v6) return { ok: true, route: { destination: destination as Ipv6Cidr, gateway: gateway as Ipv6Address | undefined, device, metric, text } };
  return { ok: true, route: { type, destination: destination as Ipv4Cidr, gateway: gateway as Ipv4Address | undefined, device, metric, text } };
}

function isRoute6(route: ParsedRoute): route is Omit<Route6Spec, 'at'> {
  return route.destination.address instanceof Uint8Array;
}

function routeSchema(isRouter: boolean, interfaces: readonly string[]) {
  return text.transform((t, ctx): ParsedRoute => {
    const r = parseRoute(t, isRouter, interfaces);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
    return r.ok ? r.route : (undefined as never);
  });
}

/** A gateway without `dev` must be on a network of the node's interfaces (a DHCP client's networks are known only once leased). */
function checkGateways(node: { routes: readonly (ParsedRoute | undefined)[]; interfaces: Record<string, InterfaceFields | undefined> }, isRouter: boolean, ctx: z.RefinementCtx): void {
  const interfaces = Object.values(node.interfaces).filter((i) => i !== undefined);
  const dhcpClient = !isRouter && interfaces.some((i) => i.dhcp);
  node.routes.forEach((route, i) => {
    if (route === undefined || route.gateway === undefined || route.device !== undefined) return;
    const problem = (message: string): void => ctx.addIssue({ code: 'custom', path: ['routes', i], message });
    if (isRoute6(route)) {
      const gateway = route.gateway!;
      if (!interfaces.some((x) => x.addresses6.some((a) => inIpv6Cidr(gateway, a)))) {
        problem(`'${route.text}': gateway ${formatIpv6(gateway)} is not on a network of this node's interfaces (a link-local gateway needs dev) (expected e.g. "::/0 via fd00:1::1")`);
      }
    } else if (!dhcpClient && !interfaces.some((x) => x.addresses.some((a) => inCidr(route.gateway!, a)))) {
      problem(`'${route.text}': gateway ${formatIpv4(route.gateway)} is not on a network of this node's interfaces (expected e.g. "default via 10.1.0.1" or "10.3.0.0/16 via 10.1.0.2")`);
    }
  });
}

// ---- Impairment: netem's model (src/device/impairment.ts) with "N%" and tc rates ----

/** "10mbit", "512kbit", "1gbit", "9600bit" (tc's units) → bits per second. */
export function parseRate(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(bit|kbit|mbit|gbit)$/i.exec(text.trim());
  if (!m) return undefined;
  const scale = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit']!;
  const value = Number(m[1]) * scale;
  return value > 0 ? value : undefined;
}

const probability = z.unknown().transform((raw, ctx): number => {
  const value = typeof raw === 'string' && /^[0-9]+(\.[0-9]+)?%$/.test(raw) ? Number(raw.slice(0, -1)) / 100 : raw;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)}: expected a probability, 0..1 or "N%"` });
  return value as number;
});
const anyNumber = z.unknown().transform((raw, ctx): number => {
  if (typeof raw !== 'number') ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)}: expected a number` });
  return raw as number;
});
const rate = z.unknown().transform((raw, ctx): number => {
  const bits = typeof raw === 'string' ? parseRate(raw) : undefined;
  if (bits === undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)}: expected a rate like "10mbit" or "512kbit"` });
  return bits!;
});

const oneWayImpairment = fields({
  loss: probability.optional(),
  duplicate: probability.optional(),
  reorder: probability.optional(),
  corrupt: probability.optional(),
  delayMs: anyNumber.optional(),
  jitterMs: anyNumber.optional(),
  reorderDelayMs: anyNumber.optional(),
  rateBitsPerSecond: anyNumber.optional(),
  queueLimitFrames: anyNumber.optional(),
  seed: anyNumber.optional(),
  rate: rate.optional(),
})
  .transform(({ rate: bits, ...options }) => Object.fromEntries(Object.entries({ ...options, rateBitsPerSecond: bits ?? options.rateBitsPerSecond }).filter(([, v]) => v !== undefined)))
  .pipe(impairmentOptionsSchema);

type LinkImpairment = { readonly aToB: ImpairmentOptions; readonly bToA: ImpairmentOptions };

const perDirectionImpairment = fields({ aToB: oneWayImpairment.default({}), bToA: oneWayImpairment.default({}) });
// The reverse direction gets seed + 1 so the two directions do not lose the same frames.
const bothWaysImpairment = oneWayImpairment.transform((both): LinkImpairment => ({ aToB: both, bToA: both.seed === undefined ? both : { ...both, seed: both.seed + 1 } }));
const impairment = element((raw) => (isRecord(raw) && ('aToB' in raw || 'bToA' in raw) ? perDirectionImpairment : bothWaysImpairment));

// ---- Links -------------------------------------------------------------------

const nodeEndpoint = text.transform((t, ctx) => {
  const m = /^([^:\s]+):([^:\s]+)$/.exec(t);
  if (!m) ctx.addIssue({ code: 'custom', message: `'${t}': expected NODE:INTERFACE, like r1:eth0` });
  return { node: m?.[1] ?? '', port: m?.[2] ?? '' };
});

type EndpointFields = { node: string; port: string } | { vxlan: VxlanSpec };

/** `NODE:INTERFACE`, or `{ vxlan: {...} }` (a VXLAN tunnel: runtime/vxlan.ts). */
const endpoint = z.unknown().transform((raw, ctx): EndpointFields => {
  const vxlan = isRecord(raw);
  const schema = (vxlan ? vxlanEndpointSchema.transform((spec) => ({ vxlan: spec })) : nodeEndpoint) as z.ZodType<EndpointFields>;
  // The chosen schema's own run (as element() in config-errors.ts): its issues keep their paths. A wrong VXLAN
  // end still leaves its link usable for the wiring check (its node end is connected), as a wrong mtu: does.
  const result = schema._zod.run({ value: raw, issues: [] }, {}) as z.core.ParsePayload<EndpointFields>;
  for (const issue of result.issues) ctx.issues.push(vxlan ? { ...issue, continue: true } : issue);
  return vxlan && result.issues.length > 0 ? ({ vxlan: undefined } as unknown as EndpointFields) : result.value;
});

function isVxlanEnd(e: EndpointFields): e is { vxlan: VxlanSpec } {
  return 'vxlan' in e;
}

const endpoints = z
  .array(z.unknown(), { error: (issue) => (issue.input === undefined ? 'missing: [NODE:INTERFACE, NODE:INTERFACE]' : 'expected a list') })
  .refine((ends) => ends.length === 2, { abort: true, error: (issue) => `a link has exactly two ends, got ${(issue.input as unknown[]).length}` })
  .pipe(z.tuple([endpoint, endpoint]));

/** `[A, B]`, or `{ endpoints: [A, B], mtu, impairment, capture, offload }`; the short form is the endpoints list itself. */
const linkSchema = z.preprocess(
  (raw) => (Array.isArray(raw) ? { endpoints: raw } : raw),
  fields({
    endpoints,
    // Each left out on its own when wrong, so the link still counts for the wiring check.
    mtu: element(integer(IPV4_MIN_MTU, LAB_MTU_MAX)).optional(),
    impairment: impairment.optional(),
    capture: element(text).optional(),
    offload: element(z.boolean({ error: 'expected true or false' })).optional(),
  }),
);

// ---- Nodes -------------------------------------------------------------------

const resolverAddress = text.transform((t, ctx): Ipv4Address => {
  const a = parseIpv4(t);
  if (a === undefined) ctx.addIssue({ code: 'custom', message: `'${t}': expected an IPv4 address` });
  return a ?? 0;
});

function hostSchema(interfaces: readonly string[]) {
  return fields(
    {
      kind: z.literal('host'),
      interfaces: z.record(interfaceName, anyInterface('host')),
      routes: z.array(element(routeSchema(false, interfaces))).default([]),
      run: z.union([z.string(), z.array(z.string())], { error: 'expected a command, or a list of commands' }).optional(),
      resolvers: z.array(resolverAddress, { error: 'expected a list of IPv4 addresses, like [10.1.0.1]' }).max(3, { error: 'at most 3 name servers (resolv.conf MAXNS)' }).optional(),
      part: partName.optional(),
    },
    'not a field of a host',
  ).superRefine((node, ctx) => checkGateways(node, false, ctx));
}

/** `smallServices: all` or a list of echo, discard, chargen, daytime, time. */
const smallServicesSchema = z.union(
  [
    z.literal('all').transform((): SmallServiceName[] => [...SMALL_SERVICE_NAMES]),
    z.array(z.enum(SMALL_SERVICE_NAMES, { error: (issue) => `'${String(issue.input)}': expected one of ${SMALL_SERVICE_NAMES.join(', ')}` })),
  ],
  { error: `expected all, or a list of ${SMALL_SERVICE_NAMES.join(', ')}` },
);

function routerSchema(interfaces: readonly string[], kind: 'router' | 'lb' = 'router') {
  return fields(
    {
      kind: z.literal(kind),
      interfaces: z.record(interfaceName, anyInterface('router')),
      routes: z.array(element(routeSchema(true, interfaces))).default([]),
      rpFilter: z.enum(['off', 'loose', 'strict'], { error: (issue) => `'${String(issue.input)}': expected off, loose or strict` }).default('off'),
      // Conntrack, NAT and the firewall: their own module's schemas (they name this router's interfaces).
      ...netfilterSchemas(interfaces),
      uplink: uplinkSchema.optional(),
      dns: labDnsSchema.optional(),
      iperf3: z.boolean({ error: 'expected true or false' }).default(false),
      smallServices: smallServicesSchema.default([]),
      lb: kind === 'lb' ? lbSchema : lbSchema.optional(),
      part: partName.optional(),
      bgp: bgpSchema.optional(),
    },
    kind === 'lb' ? 'not a field of an lb node' : 'not a field of a router',
  ).superRefine((node, ctx) => {
    checkGateways(node, true, ctx);
    checkVips(node, ctx);
  });
}

/** A virtual service listens on one of the node's own addresses (the VIP is where clients connect). */
function checkVips(node: { lb?: readonly LbServiceConfig[]; interfaces: Record<string, InterfaceFields | undefined> }, ctx: z.RefinementCtx): void {
  if (!Array.isArray(node.lb)) return; // the block itself has problems (reported already)
  const own = Object.values(node.interfaces).flatMap((i) => i?.addresses?.map((a) => a.address) ?? []);
  for (const s of node.lb) {
    if (!own.includes(s.vip)) {
      ctx.addIssue({ code: 'custom', path: ['lb', s.name, 'listen'], message: `${formatIpv4(s.vip)} is not an address of this node (it has: ${own.map(formatIpv4).join(', ') || 'none'}): give an interface the VIP` });
    }
  }
}

const switchSchema = fields(
  {
    kind: z.literal('switch'),
    ports: z.record(portName, element(portSchema), { error: (issue) => (issue.input === undefined ? 'missing (a switch needs ports)' : undefined) }),
    macTableMax: integer(1, 1_000_000).optional(),
    ageingTime: integer(10, 1_000_000).optional(), // seconds; 802.1Q Table 8-6: 10 s .. 1 000 000 s
    part: partName.optional(),
  },
  'not a field of a switch',
);

/** A hub's ports have nothing to configure (no VLANs: a repeater does not read the frame). */
const hubSchema = fields(
  {
    kind: z.literal('hub'),
    ports: z.record(
      portName,
      z.null({ error: 'a hub port has no settings (write it as `p1:` with nothing after it)' }),
      { error: (issue) => (issue.input === undefined ? 'missing (a hub needs ports)' : undefined) },
    ),
    part: partName.optional(),
  },
  'not a field of a hub',
);

/** Reports a missing or unknown kind (for a node whose kind picks no schema); it never succeeds. */
const kindOnly = z.looseObject({
  kind: z.string({ error: `missing (one of: ${NODE_KINDS.join(', ')})` }).refine(() => false, { abort: true, error: (issue) => `unknown kind '${String(issue.input)}' (one of: ${NODE_KINDS.join(', ')})` }),
}) as unknown as z.ZodType<never>;

/** The schema for a node, by its kind; routes and netfilter rules are checked against the interfaces it declares. */
function nodeSchema(raw: unknown) {
  if (!isRecord(raw)) return kindOnly;
  const interfaces = isRecord(raw.interfaces) ? Object.keys(raw.interfaces) : [];
  if (raw.kind === 'host') return hostSchema(interfaces);
  if (raw.kind === 'router') return routerSchema(interfaces);
  if (raw.kind === 'lb') return routerSchema(interfaces, 'lb');
  if (raw.kind === 'switch') return switchSchema;
  if (raw.kind === 'hub') return hubSchema;
  return kindOnly;
}
type ParsedNode = z.output<ReturnType<typeof hostSchema>> | z.output<ReturnType<typeof routerSchema>> | z.output<typeof switchSchema> | z.output<typeof hubSchema>;

// ---- The file ------------------------------------------------------------------

const labName = z
  .string({ error: (issue) => (issue.input === undefined ? 'missing (the lab name, e.g. name: two-lans)' : 'expected text') })
  .regex(NAME_PATTERN, { error: (issue) => `'${String(issue.input)}': use lower-case letters, digits and '-' (at most 32)` });

const topologySchema = fields({
  name: element(labName),
  nodes: z.record(z.string(), element(nodeSchema)),
  links: z.array(element(linkSchema)).default([]),
}).superRefine(checkWiring);
type ParsedTopology = z.output<typeof topologySchema>;

/** Every endpoint names a real interface or port, each used by exactly one link, and nothing is left unconnected. */
function checkWiring(t: { nodes: Record<string, ParsedNode | undefined>; links: readonly (z.output<typeof linkSchema> | undefined)[] }, ctx: z.RefinementCtx): void {
  const problem = (path: ConfigPath, message: string, anchor: 'key' | 'value' = 'value'): void => ctx.addIssue({ code: 'custom', path: [...path] as PropertyKey[], message, params: { anchor } });
  // A node or port that is wrong on its own was reported already: links to it are not checked again.
  const usable = new Map<string, ParsedNode>();
  for (const [name, node] of Object.entries(t.nodes)) {
    if (!NAME_PATTERN.test(name)) problem(['nodes', name], `node name '${name}': use lower-case letters, digits and '-' (it names a namespace)`, 'key');
    else if (node) usable.set(name, node);
  }
  const hasPorts = (node: ParsedNode): node is Extract<ParsedNode, { kind: 'switch' | 'hub' }> => node.kind === 'switch' || node.kind === 'hub';
  // A hub port is written `p1:` (null): present, so `in` finds it; `used` marks it connected.
  const ends = (node: ParsedNode): Record<string, unknown> => (hasPorts(node) ? (node.kind === 'hub' ? Object.fromEntries(Object.keys(node.ports).map((p) => [p, true])) : node.ports) : node.interfaces);
  const used = new Map<string, number>();
  t.links.forEach((link, i) => {
    if (!link) return;
    if (link.endpoints.every(isVxlanEnd)) return problem(['links', i], 'a VXLAN link needs a node at its other end (NODE:INTERFACE)');
    link.endpoints.forEach((e, end) => {
      if (isVxlanEnd(e)) return;
      const path = ['links', i, 'endpoints', end];
      const node = usable.get(e.node);
      if (!(e.node in t.nodes)) return problem(path, `no node '${e.node}'`);
      if (!node) return;
      const names = Object.keys(ends(node)).filter((n) => ends(node)[n] !== undefined);
      if (!(e.port in ends(node))) return problem(path, `${node.kind} '${e.node}' has no ${hasPorts(node) ? 'port' : 'interface'} '${e.port}' (it has: ${names.join(', ') || 'none'})`);
      if (ends(node)[e.port] === undefined) return;
      if ((ends(node)[e.port] as InterfaceFields).wireguard) return problem(path, `${e.node}:${e.port} is a WireGuard interface: it runs over the node's other interfaces, no link connects it`);
      const key = `${e.node}:${e.port}`;
      if (used.has(key)) problem(path, `${key} is already connected by links.${used.get(key)}`);
      else used.set(key, i);
    });
    const [a, b] = link.endpoints;
    if (isVxlanEnd(a) || isVxlanEnd(b)) {
      if (link.impairment) problem(['links', i, 'impairment'], 'a VXLAN link has no impairment here (impair the underlay, or a link inside the lab)', 'key');
      if (link.offload !== undefined) problem(['links', i, 'offload'], 'a VXLAN link never takes offload (frames are cut to the MTU before the tunnel)', 'key');
      return;
    }
    if (a.node === b.node && a.port === b.port) problem(['links', i], 'a link cannot connect an interface to itself');
    const [partA, partB] = [usable.get(a.node)?.part, usable.get(b.node)?.part];
    if (partA !== partB && partA !== undefined && partB !== undefined) {
      problem(['links', i], `${a.node} (part ${partA}) and ${b.node} (part ${partB}) run on different machines: join them with a VXLAN link in each part ([${a.node}:${a.port}, { vxlan: {...} }])`);
    }
  });
  const split = [...usable.values()].some((n) => n.part !== undefined);
  for (const [name, node] of usable) {
    if (split && node.part === undefined) problem(['nodes', name], `this lab is split into parts: give ${name} one (part: NAME)`, 'key');
  }
  for (const [name, node] of usable) {
    const group = hasPorts(node) ? 'ports' : 'interfaces';
    for (const [port, spec] of Object.entries(ends(node))) {
      if (spec !== undefined && !(spec as InterfaceFields).wireguard && !used.has(`${name}:${port}`)) problem(['nodes', name, group, port], `not connected: add a link to ${name}:${port} under links`, 'key');
    }
  }
}

/** Parses and validates topology text. `file` is used in messages, and files the topology names (`config:` of a WireGuard interface) are found beside it. */
export function parseTopology(text: string, file: string): TopologyResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return { line: pos?.line ?? 1, column: pos?.col ?? 1, field: '', message: `YAML: ${message}` };
    });
    return { ok: false, problems };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, problems: [{ line: 1, column: 1, field: '', message: `YAML: ${(e as Error).message}` }] };
  }
  const locator = new YamlLocator(doc, lines);
  // A link written as [A, B] is its endpoints list: links.0.endpoints.1 is written at links.0.1.
  const yamlPath = (path: ConfigPath): ConfigPath => (path[0] === 'links' && path[2] === 'endpoints' && isSeq(doc.getIn(['links', path[1]])) ? ([path[0], path[1], ...path.slice(3)] as ConfigPath) : path);
  const r = topologySchema.safeParse(raw, { error: configErrorMap });
  if (!r.success) return { ok: false, problems: problemsFromIssues(r.error.issues, locator, yamlPath) };
  const topology = toModel(r.data, file, (path, anchor) => locator.locate(yamlPath(path), anchor));
  const problems = loadWireGuardFiles(topology, (path) => locator.locate(path, 'value'));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, topology };
}

/**
 * `config: FILE` on a WireGuard interface: reads the wg-quick file (relative
 * to the lab file) into the interface's spec; its problems are reported at
 * `config:` as `FILE:LINE: Key: what is wrong`. Host WireGuard interfaces
 * (wireguard-go) also need names unique in the lab: wireguard-go's control
 * socket, /var/run/wireguard/NAME.sock, is shared by every namespace.
 */
function loadWireGuardFiles(topology: Topology, locate: (path: ConfigPath) => SourcePosition): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const hostWg = new Map<string, string>();
  for (const node of topology.nodes) {
    if (node.kind === 'switch' || node.kind === 'hub') continue;
    node.interfaces.forEach((iface, i) => {
      const spec = iface.wireguard;
      if (!spec) return;
      const field = `nodes.${node.name}.interfaces.${iface.name}`;
      if (node.kind === 'host') {
        const other = hostWg.get(iface.name);
        if (other) problems.push({ ...iface.at, field, message: `host ${other} has a WireGuard interface ${iface.name} too: wireguard-go's control socket /var/run/wireguard/${iface.name}.sock is shared by all namespaces, so give each a different name` });
        hostWg.set(iface.name, node.name);
      }
      if (spec.configFile === undefined) return;
      const path = resolvePath(dirname(topology.file), spec.configFile);
      const at = locate(['nodes', node.name, 'interfaces', iface.name, 'config']);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        problems.push({ ...at, field: `${field}.config`, message: `cannot read ${spec.configFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
        return;
      }
      const parsed = parseWgQuick(text);
      if (!parsed.ok) {
        for (const p of parsed.problems) problems.push({ ...at, field: `${field}.config`, message: `${spec.configFile}:${p.line}: ${p.field ? `${p.field}: ` : ''}${p.message}` });
        return;
      }
      const loaded = { ...parsed.value, configFile: spec.configFile, mtu: parsed.value.mtu ?? spec.mtu, table: parsed.value.table && spec.table };
      (node.interfaces as InterfaceSpec[])[i] = { ...iface, addresses: loaded.addresses4, addresses6: loaded.addresses6, wireguard: loaded };
    });
  }
  return problems;
}

const part = (node: { part?: string }): { part?: string } => (node.part === undefined ? {} : { part: node.part });

/** The checked file as the model lab.ts builds from, with the source position of each part. */
function toModel(t: ParsedTopology, file: string, locate: (path: ConfigPath, anchor?: 'key' | 'value') => SourcePosition): Topology {
  const key = (...path: ConfigPath): SourcePosition => locate(path, 'key');
  const value = (...path: ConfigPath): SourcePosition => locate(path);
  const nodes = Object.entries(t.nodes).map(([name, parsed]): NodeSpec => {
    const node = present(parsed);
    const at = key('nodes', name);
    if (node.kind === 'switch') {
      const ports = Object.entries(node.ports).map(([port, vlan]): SwitchPortSpec => ({ name: port, vlan: present(vlan), at: key('nodes', name, 'ports', port) }));
      return { kind: 'switch', name, ports, macTableMax: node.macTableMax, ageingTimeMs: node.ageingTime === undefined ? undefined : node.ageingTime * 1000, ...part(node), at };
    }
    if (node.kind === 'hub') return { kind: 'hub', name, ports: Object.keys(node.ports).map((port) => ({ name: port, at: key('nodes', name, 'ports', port) })), ...part(node), at };
    const interfaces = Object.entries(node.interfaces).map(([iface, spec]): InterfaceSpec => ({ name: iface, ...present(spec), at: key('nodes', name, 'interfaces', iface) }));
    const routes: RouteSpec[] = [];
    const routes6: Route6Spec[] = [];
    node.routes.forEach((route, i) => {
      const r = present(route);
      if (isRoute6(r)) routes6.push({ ...r, at: value('nodes', name, 'routes', i) });
      else routes.push({ ...r, at: value('nodes', name, 'routes', i) });
    });
    if (node.kind === 'host') return { kind: 'host', name, interfaces, routes, routes6, run: node.run === undefined ? [] : typeof node.run === 'string' ? [node.run] : node.run, resolvers: node.resolvers ?? [], ...part(node), at };
    const netfilter = toNetfilterConfig({ nat: node.nat, firewall: node.firewall, conntrack: node.conntrack });
    const dns = node.dns ? { ...node.dns, at: key('nodes', name, 'dns') } : undefined;
    const lb = node.lb && node.lb.length > 0 ? { lb: node.lb, lbAt: key('nodes', name, 'lb') } : {};
    return {
      kind: 'router',
      lbNode: node.kind === 'lb',
      name,
      interfaces,
      routes,
      routes6,
      rpFilter: node.rpFilter,
      iperf3: node.iperf3,
      smallServices: [...new Set(node.smallServices)],
      ...(netfilter ? { netfilter } : {}),
      ...(node.uplink ? { uplink: node.uplink } : {}),
      ...(dns ? { dns } : {}),
      ...lb,
      ...part(node),
      ...(node.bgp ? { bgp: node.bgp } : {}),
      at,
    };
  });
  const links: LinkSpec[] = [];
  const vxlanLinks: VxlanLinkSpec[] = [];
  t.links.forEach((parsed, i) => {
    const link = present(parsed);
    const [a, b] = link.endpoints.map((e, end) => ({ ...e, at: value('links', i, 'endpoints', end) }));
    if (isVxlanEnd(a!) || isVxlanEnd(b!)) {
      const [end, tunnel] = (isVxlanEnd(a!) ? [b, a] : [a, b]) as [Endpoint, { vxlan: VxlanSpec }];
      vxlanLinks.push({ end: { node: end.node, port: end.port, at: end.at }, vxlan: tunnel.vxlan, mtu: link.mtu, capture: link.capture, at: value('links', i) });
      return;
    }
    links.push({ a: a as Endpoint, b: b as Endpoint, mtu: link.mtu ?? 1500, impairment: link.impairment, capture: link.capture, offload: link.offload ?? true, at: value('links', i) });
  });
  return { name: present(t.name), file, nodes, links, vxlanLinks };
}
/** Reads and validates a topology file; throws TopologyError (every problem) or the I/O error. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TopologyError(file, [{ line: 1, column: 1, field: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  const result = parseTopology(text, file);
  if (!result.ok) throw new TopologyError(file, result.problems);
  return result.topology;
}
