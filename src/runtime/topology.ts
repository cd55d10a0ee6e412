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
 *     r1:                          # a tapnet router (RFC 1812), inside the tapnet process
 *       kind: router
 *       rpFilter: strict           # off (default) | loose | strict (RFC 3704)
 *       interfaces:
 *         eth0: { address: 10.1.0.1/24, dhcp: true }   # dhcp: serve DHCP on this interface
 *       routes: [10.9.0.0/16 via 10.2.0.2, prohibit 10.66.0.0/16]
 *       nat: { masquerade: wan, publish: [tcp 8080 -> 10.1.0.10:80] }   # conntrack + NAT (src/netfilter/config.ts)
 *       firewall: { policy: { forward: drop }, rules: [forward state established,related accept] }
 *       uplink: { hostAlias: 10.0.2.2 }   # default route out through this machine's sockets (src/services/uplink)
 *       dns: { zone: home, upstreams: [10.0.2.3], records: ["nas A 10.1.0.10"] }   # a DNS server (src/services/dns)
 *                                  # on the dhcp: interfaces (all when none), handed out by DHCP; leases get names
 *     sw1:                         # a tapnet learning switch (802.1D/802.1Q)
 *       kind: switch
 *       macTableMax: 8192          # optional; ageingTime: 300 (seconds) too
 *       ports:
 *         p1: { vlan: 10 }         # access port in VLAN 10 (default: VLAN 1)
 *         p2: { trunk: [10, 20], native: 1 }   # trunk: a list or "all"
 *   links:
 *     - [lan1-pc:eth0, r1:eth0]    # NODE:INTERFACE (or NODE:PORT) at each end
 *     - endpoints: [r1:eth1, r2:eth0]
 *       mtu: 1400                  # IP MTU of the link (default 1500)
 *       impairment: { loss: 1%, delayMs: 20, jitterMs: 5, rate: 10mbit }   # both directions
 *       capture: wan.pcap          # every frame, both directions, for tcpdump -r / Wireshark (path relative to the current directory)
 *       offload: false             # no virtio-net offload (TSO, partial checksums) on this link's ports (default on)
 *
 * Impairments are tapnet's own element (src/device/impairment.ts, netem's
 * model): loss, duplicate, reorder, corrupt (0..1 or "N%"), delayMs,
 * jitterMs, reorderDelayMs, rate ("10mbit", "512kbit") or rateBitsPerSecond,
 * queueLimitFrames, seed; or { aToB: {...}, bToA: {...} } per direction.
 *
 * Parsing never throws on bad input: `parseTopology` returns every problem
 * it found. The model keeps line numbers so runtime errors can point back.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { validateImpairmentOptions, type ImpairmentOptions } from '../device/impairment.js';
import { IFNAME_MAX } from '../device/tap.js';
import { formatIpv4, inCidr, parseIpv4, parseIpv4Cidr, type Ipv4Address, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { readFileSync } from 'node:fs';
import { formatIpv6, inIpv6Cidr, parseIpv6, parseIpv6Cidr, type Ipv6Address, type Ipv6Cidr } from '../l3/ipv6/address.js';
import { IPV4_MIN_MTU } from '../l3/ipv4/header.js';
import type { RpFilterMode } from '../l3/routing/forward.js';
import { VID_MAX, VID_MIN, type PortVlanConfig } from '../l2/switch/vlan.js';
import type { RouteType } from '../node/router.js';
import { NETFILTER_KEYS, parseNetfilterConfig, wantsNetfilter } from '../netfilter/config.js';
import type { NetfilterConfig } from '../netfilter/netfilter.js';
import { parseUplinkConfig } from '../services/uplink/config.js';
import type { UplinkOptions } from '../services/uplink/uplink.js';
import { DEFAULT_LAB_ZONE, checkRecordText } from '../services/dns/config.js';
import { parseUpstream, type Upstream } from '../services/dns/forwarder.js';

/** Namespace names become /run/netns files and `ip netns` arguments; keep them short and plain. */
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;
/** Largest link MTU a TAP takes (tun.c: MAX_MTU 65535 - the Ethernet header... Linux caps tun at 65521). */
export const LAB_MTU_MAX = 65_521;

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

export interface TopologyProblem extends SourcePosition {
  /** The field, as a dotted path: "nodes.r1.interfaces.eth0.address". */
  readonly field: string;
  readonly message: string;
}

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
  readonly at: SourcePosition;
}

export interface RouterNodeSpec {
  readonly kind: 'router';
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
  readonly at: SourcePosition;
}

export type NodeSpec = HostNodeSpec | RouterNodeSpec | SwitchNodeSpec;

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

export function formatProblem(file: string, p: TopologyProblem): string {
  return `${file}:${p.line}:${p.column}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

const NODE_KINDS = ['host', 'router', 'switch'] as const;

/** The validator: walks the YAML tree, collecting problems instead of stopping at the first. */
class Checker {
  readonly problems: TopologyProblem[] = [];
  /** Nodes and NODE:PORT names written in the file, valid or not (so one mistake is reported once, not again by every link). */
  readonly declared = new Set<string>();
  constructor(private readonly lines: LineCounter) {}

  position(node: YamlNode | Pair | null | undefined, fallback?: SourcePosition): SourcePosition {
    const range = node && 'range' in node ? node.range : node && 'key' in node && isScalar(node.key) ? node.key.range : undefined;
    if (!range) return fallback ?? { line: 1, column: 1 };
    const pos = this.lines.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  }

  problem(at: SourcePosition, field: string, message: string): undefined {
    this.problems.push({ ...at, field, message });
    return undefined;
  }

  /** A mapping's entries as [key, value node, position of the key]; unknown keys are problems. */
  entries(node: YamlNode | null, field: string, at: SourcePosition, allowed?: readonly string[]): [string, YamlNode | null, SourcePosition][] | undefined {
    if (!isMap(node)) return this.problem(this.position(node, at), field, 'expected a mapping (key: value lines)');
    const out: [string, YamlNode | null, SourcePosition][] = [];
    for (const pair of (node as YAMLMap<unknown, unknown>).items) {
      const keyPos = this.position(pair.key as YamlNode, at);
      if (!isScalar(pair.key) || (typeof pair.key.value !== 'string' && typeof pair.key.value !== 'number')) {
        this.problem(keyPos, field, 'keys must be plain names');
        continue;
      }
      const key = String(pair.key.value);
      if (allowed && !allowed.includes(key)) {
        this.problem(keyPos, join(field, key), `unknown field (expected one of: ${allowed.join(', ')})`);
        continue;
      }
      out.push([key, (pair.value as YamlNode | null) ?? null, keyPos]);
    }
    return out;
  }

  scalar(node: YamlNode | null, field: string, at: SourcePosition): unknown {
    if (!isScalar(node)) return this.problem(this.position(node, at), field, 'expected a single value');
    return (node as Scalar).value;
  }

  string(node: YamlNode | null, field: string, at: SourcePosition): string | undefined {
    const v = this.scalar(node, field, at);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') return this.problem(this.position(node, at), field, 'expected text');
    return String(v);
  }

  integer(node: YamlNode | null, field: string, at: SourcePosition, min: number, max: number): number | undefined {
    const v = this.scalar(node, field, at);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return this.problem(this.position(node, at), field, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  list(node: YamlNode | null, field: string, at: SourcePosition): YamlNode[] | undefined {
    if (!isSeq(node)) return this.problem(this.position(node, at), field, 'expected a list');
    return (node as YAMLSeq<YamlNode>).items;
  }
}

function join(field: string, key: string | number): string {
  return field ? `${field}.${key}` : String(key);
}

/** Parses and validates topology text. `file` is used in messages only. */
export function parseTopology(text: string, file: string): TopologyResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const c = new Checker(lines);
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    c.problems.push({ line: pos?.line ?? 1, column: pos?.col ?? 1, field: '', message: `YAML: ${message}` });
  }
  if (c.problems.length > 0) return { ok: false, problems: c.problems };
  const top = { line: 1, column: 1 };
  const root = c.entries(doc.contents as YamlNode | null, '', top, ['name', 'nodes', 'links']);
  if (!root) return { ok: false, problems: c.problems };
  const get = (key: string): [YamlNode | null, SourcePosition] | undefined => {
    const e = root.find(([k]) => k === key);
    return e ? [e[1], e[2]] : undefined;
  };

  let name = '';
  const nameEntry = get('name');
  if (!nameEntry) c.problem(top, 'name', 'missing (the lab name, e.g. name: two-lans)');
  else {
    const v = c.string(nameEntry[0], 'name', nameEntry[1]);
    if (v !== undefined && !NAME_PATTERN.test(v)) c.problem(c.position(nameEntry[0], nameEntry[1]), 'name', `'${v}': use lower-case letters, digits and '-' (at most 32)`);
    else if (v !== undefined) name = v;
  }

  const nodes: NodeSpec[] = [];
  const nodesEntry = get('nodes');
  if (!nodesEntry) c.problem(top, 'nodes', 'missing');
  else {
    for (const [nodeName, value, at] of c.entries(nodesEntry[0], 'nodes', nodesEntry[1]) ?? []) {
      const node = checkNode(c, nodeName, value, at);
      if (node) nodes.push(node);
    }
  }

  const links: LinkSpec[] = [];
  const linksEntry = get('links');
  if (linksEntry) {
    const items = c.list(linksEntry[0], 'links', linksEntry[1]) ?? [];
    items.forEach((item, i) => {
      const link = checkLink(c, item, `links.${i}`, c.position(item, linksEntry[1]));
      if (link) links.push(link);
    });
  }

  checkWiring(c, nodes, links, linksEntry?.[1] ?? top);
  if (c.problems.length > 0) return { ok: false, problems: c.problems };
  return { ok: true, topology: { name, file, nodes, links } };
}

function checkNode(c: Checker, name: string, value: YamlNode | null, at: SourcePosition): NodeSpec | undefined {
  const field = `nodes.${name}`;
  c.declared.add(name);
  if (isMap(value)) {
    for (const group of (value as YAMLMap).items) {
      if (!isScalar(group.key) || (group.key.value !== 'interfaces' && group.key.value !== 'ports') || !isMap(group.value)) continue;
      for (const item of (group.value as YAMLMap).items) if (isScalar(item.key)) c.declared.add(`${name}:${String(item.key.value)}`);
    }
  }
  if (!NAME_PATTERN.test(name)) return c.problem(at, field, `node name '${name}': use lower-case letters, digits and '-' (it names a namespace)`);
  const entries = c.entries(value, field, at);
  if (!entries) return undefined;
  const kindEntry = entries.find(([k]) => k === 'kind');
  if (!kindEntry) return c.problem(at, `${field}.kind`, `missing (one of: ${NODE_KINDS.join(', ')})`);
  const kind = c.string(kindEntry[1], `${field}.kind`, kindEntry[2]);
  if (kind === undefined) return undefined;
  const allowedByKind: Record<string, readonly string[]> = {
    host: ['kind', 'interfaces', 'routes'],
    router: ['kind', 'interfaces', 'routes', 'rpFilter', ...NETFILTER_KEYS, 'uplink', 'dns'],
    switch: ['kind', 'ports', 'macTableMax', 'ageingTime'],
  };
  const allowed = allowedByKind[kind];
  if (!allowed) return c.problem(c.position(kindEntry[1], kindEntry[2]), `${field}.kind`, `unknown kind '${kind}' (one of: ${NODE_KINDS.join(', ')})`);
  for (const [key, , keyAt] of entries) {
    if (!allowed.includes(key)) c.problem(keyAt, `${field}.${key}`, `not a field of a ${kind} (expected one of: ${allowed.join(', ')})`);
  }
  const entry = (key: string): [YamlNode | null, SourcePosition] | undefined => {
    const e = entries.find(([k]) => k === key);
    return e ? [e[1], e[2]] : undefined;
  };

  if (kind === 'switch') {
    const portsEntry = entry('ports');
    const ports: SwitchPortSpec[] = [];
    if (!portsEntry) c.problem(at, `${field}.ports`, 'missing (a switch needs ports)');
    else {
      for (const [portName, portValue, portAt] of c.entries(portsEntry[0], `${field}.ports`, portsEntry[1]) ?? []) {
        const port = checkPort(c, portName, portValue, portAt, `${field}.ports.${portName}`);
        if (port) ports.push(port);
      }
    }
    const maxEntry = entry('macTableMax');
    const ageEntry = entry('ageingTime');
    const macTableMax = maxEntry ? c.integer(maxEntry[0], `${field}.macTableMax`, maxEntry[1], 1, 1_000_000) : undefined;
    const ageing = ageEntry ? c.integer(ageEntry[0], `${field}.ageingTime`, ageEntry[1], 10, 1_000_000) : undefined; // 802.1Q Table 8-6: 10 s .. 1 000 000 s
    return { kind: 'switch', name, ports, macTableMax, ageingTimeMs: ageing === undefined ? undefined : ageing * 1000, at };
  }

  const interfaces: InterfaceSpec[] = [];
  const ifEntry = entry('interfaces');
  if (!ifEntry) c.problem(at, `${field}.interfaces`, 'missing');
  else {
    for (const [ifName, ifValue, ifAt] of c.entries(ifEntry[0], `${field}.interfaces`, ifEntry[1]) ?? []) {
      const iface = checkInterface(c, ifName, ifValue, ifAt, `${field}.interfaces.${ifName}`, kind);
      if (iface) interfaces.push(iface);
    }
  }
  const routes: RouteSpec[] = [];
  const routes6: Route6Spec[] = [];
  const routesEntry = entry('routes');
  if (routesEntry) {
    (c.list(routesEntry[0], `${field}.routes`, routesEntry[1]) ?? []).forEach((item, i) => {
      const route = checkRoute(c, item, `${field}.routes.${i}`, c.position(item, routesEntry[1]), kind === 'router', interfaces);
      if (route && isRoute6(route)) routes6.push(route);
      else if (route) routes.push(route);
    });
  }
  if (kind === 'host') return { kind: 'host', name, interfaces, routes, routes6, at };

  let rpFilter: RpFilterMode = 'off';
  const rpEntry = entry('rpFilter');
  if (rpEntry) {
    const v = c.string(rpEntry[0], `${field}.rpFilter`, rpEntry[1]);
    if (v === 'off' || v === 'loose' || v === 'strict') rpFilter = v;
    else if (v !== undefined) c.problem(c.position(rpEntry[0], rpEntry[1]), `${field}.rpFilter`, `'${v}': expected off, loose or strict`);
  }
  // Conntrack, NAT and the firewall are validated by their own module; problems point at the offending YAML node.
  let netfilter: NetfilterConfig | undefined;
  const netfilterRaw = Object.fromEntries(
    entries.filter(([k]) => (NETFILTER_KEYS as readonly string[]).includes(k)).map(([k, v]) => [k, v === null ? null : (v as { toJSON(): unknown }).toJSON()]),
  );
  if (wantsNetfilter(netfilterRaw)) {
    const parsed = parseNetfilterConfig(netfilterRaw, interfaces.map((i) => i.name));
    for (const p of parsed.problems) {
      const [top, ...rest] = p.path;
      const e = entries.find(([k]) => k === top);
      const node = e?.[1] && rest.length > 0 && (isMap(e[1]) || isSeq(e[1])) ? ((e[1] as YAMLMap).getIn(rest, true) as YamlNode | undefined) : e?.[1];
      c.problem(c.position(node ?? e?.[1], e?.[2] ?? at), `${field}.${p.path.join('.')}`, p.message);
    }
    netfilter = parsed.config;
  }
  let uplink: UplinkOptions | undefined;
  const uplinkEntry = entries.find(([k]) => k === 'uplink');
  if (uplinkEntry) {
    const parsed = parseUplinkConfig(uplinkEntry[1] === null ? null : (uplinkEntry[1] as { toJSON(): unknown }).toJSON());
    for (const p of parsed.problems) c.problem(c.position(uplinkEntry[1], uplinkEntry[2]), `${field}.${p.path.join('.')}`, p.message);
    uplink = parsed.options;
  }
  const dnsEntry = entry('dns');
  const dns = dnsEntry ? checkRouterDns(c, dnsEntry[0], `${field}.dns`, dnsEntry[1]) : undefined;
  return { kind: 'router', name, interfaces, routes, routes6, rpFilter, ...(netfilter ? { netfilter } : {}), ...(uplink ? { uplink } : {}), ...(dns ? { dns } : {}), at };
}

function checkRouterDns(c: Checker, node: YamlNode | null, field: string, at: SourcePosition): RouterDnsSpec | undefined {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value ? { zone: DEFAULT_LAB_ZONE, upstreams: [], records: [], at } : undefined;
  const entries = c.entries(node, field, at, ['zone', 'upstreams', 'records']);
  if (!entries) return undefined;
  let zone = DEFAULT_LAB_ZONE;
  const upstreams: Upstream[] = [];
  const records: string[] = [];
  const zoneEntry = entries.find(([k]) => k === 'zone');
  if (zoneEntry) {
    const text = c.string(zoneEntry[1], `${field}.zone`, zoneEntry[2]);
    if (text !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(text)) {
      c.problem(c.position(zoneEntry[1], zoneEntry[2]), `${field}.zone`, `'${text}' is not a domain name like home or lab.example`);
    } else if (text !== undefined) zone = text.endsWith('.') ? text : `${text}.`;
  }
  for (const [key, v, keyAt] of entries) {
    if (key === 'zone') continue;
    for (const item of c.list(v, `${field}.${key}`, keyAt) ?? []) {
      const text = c.string(item, `${field}.${key}`, keyAt);
      if (text === undefined) continue;
      const itemAt = c.position(item, keyAt);
      if (key === 'upstreams') {
        const u = parseUpstream(text);
        if (!u) c.problem(itemAt, `${field}.upstreams`, `'${text}': expected ADDRESS or ADDRESS:PORT, like 10.0.2.3 or 127.0.0.1:5353`);
        else upstreams.push(u);
      } else {
        const r = checkRecordText(text, zone);
        if (!r.ok) c.problem(itemAt, `${field}.records`, `'${text}': ${r.error}`);
        else records.push(text);
      }
    }
  }
  return { zone, upstreams, records, at };
}

function checkInterface(c: Checker, name: string, value: YamlNode | null, at: SourcePosition, field: string, kind: string): InterfaceSpec | undefined {
  if (!IFNAME_PATTERN.test(name) || name.length > IFNAME_MAX) return c.problem(at, field, `interface name '${name}': 1-15 letters, digits, '_', '-', '.'`);
  const addresses: Ipv4Cidr[] = [];
  const addresses6: Ipv6Cidr[] = [];
  let dhcp = false;
  if (value === null || (isScalar(value) && value.value === null)) return { name, addresses, addresses6, dhcp, at };
  for (const [key, v, keyAt] of c.entries(value, field, at, ['address', 'addresses', 'dhcp']) ?? []) {
    if (key === 'dhcp') {
      const on = c.scalar(v, `${field}.dhcp`, keyAt);
      if (typeof on !== 'boolean') c.problem(c.position(v, keyAt), `${field}.dhcp`, 'expected true or false');
      else dhcp = on;
      continue;
    }
    const items = key === 'address' ? [v] : (c.list(v, `${field}.addresses`, keyAt) ?? []);
    items.forEach((item) => {
      const text = c.string(item, `${field}.${key}`, keyAt);
      if (text === undefined) return;
      if (text.includes(':')) {
        const cidr6 = parseIpv6Cidr(text);
        if (!cidr6 || cidr6.prefixLength === 0) c.problem(c.position(item, keyAt), `${field}.${key}`, `'${text}' is not an IPv6 address with a prefix length, like fd00:1::1/64`);
        else addresses6.push(cidr6);
        return;
      }
      const cidr = parseIpv4Cidr(text);
      if (!cidr || cidr.prefixLength === 0 || cidr.prefixLength > 32) c.problem(c.position(item, keyAt), `${field}.${key}`, `'${text}' is not an IPv4 address with a prefix length, like 10.1.0.1/24`);
      else addresses.push(cidr);
    });
  }
  if (dhcp && kind === 'host' && addresses.length > 0) return c.problem(at, `${field}.dhcp`, 'a host interface gets its address either from address: or from dhcp: true, not both');
  if (dhcp && kind === 'router' && addresses.length === 0) return c.problem(at, `${field}.dhcp`, 'a router serves DHCP from its own address: give the interface one');
  return { name, addresses, addresses6, dhcp, at };
}

function checkPort(c: Checker, name: string, value: YamlNode | null, at: SourcePosition, field: string): SwitchPortSpec | undefined {
  if (!IFNAME_PATTERN.test(name)) return c.problem(at, field, `port name '${name}': 1-15 letters, digits, '_', '-', '.'`);
  if (value === null || (isScalar(value) && value.value === null)) return { name, vlan: { mode: 'access', vid: 1 }, at };
  const entries = c.entries(value, field, at, ['vlan', 'trunk', 'native']);
  if (!entries) return undefined;
  if (entries.length === 0) return { name, vlan: { mode: 'access', vid: 1 }, at };
  const vidField = (node: YamlNode | null, f: string, a: SourcePosition): number | undefined => c.integer(node, f, a, VID_MIN, VID_MAX);
  const vlan = entries.find(([k]) => k === 'vlan');
  const trunk = entries.find(([k]) => k === 'trunk');
  const native = entries.find(([k]) => k === 'native');
  if (vlan && (trunk || native)) return c.problem(vlan[2], `${field}.vlan`, 'a port is either access (vlan: N) or trunk (trunk: [...], native: N), not both');
  if (vlan) {
    const vid = vidField(vlan[1], `${field}.vlan`, vlan[2]);
    return vid === undefined ? undefined : { name, vlan: { mode: 'access', vid }, at };
  }
  if (!trunk) return c.problem(native?.[2] ?? at, `${field}.trunk`, 'native needs trunk: [VIDs] (or trunk: all)');
  let allowed: Set<number> | 'all' = new Set();
  if (isScalar(trunk[1]) && trunk[1].value === 'all') allowed = 'all';
  else {
    for (const item of c.list(trunk[1], `${field}.trunk`, trunk[2]) ?? []) {
      const vid = vidField(item, `${field}.trunk`, c.position(item, trunk[2]));
      if (vid !== undefined) allowed.add(vid);
    }
  }
  const nativeVid = native ? vidField(native[1], `${field}.native`, native[2]) : undefined;
  return { name, vlan: { mode: 'trunk', allowed, native: nativeVid }, at };
}

const ROUTE_TYPES: readonly RouteType[] = ['unreachable', 'prohibit', 'blackhole'];

/** `[TYPE] DEST [via GATEWAY] [dev IFACE] [metric N]`, as `ip route add` takes it; DEST may be `default`. */
function checkRoute(c: Checker, node: YamlNode, field: string, at: SourcePosition, isRouter: boolean, interfaces: readonly InterfaceSpec[]): RouteSpec | Route6Spec | undefined {
  const text = c.string(node, field, at);
  if (text === undefined) return undefined;
  const bad = (why: string): undefined => c.problem(at, field, `'${text}': ${why} (expected e.g. "default via 10.1.0.1" or "10.3.0.0/16 via 10.1.0.2")`);
  const words = text.trim().split(/\s+/);
  let type: RouteType = 'unicast';
  if (ROUTE_TYPES.includes(words[0] as RouteType)) {
    if (!isRouter) return bad(`${words[0]} routes are for routers`);
    type = words.shift() as RouteType;
  }
  const destText = words.shift();
  if (destText?.includes(':')) {
    if (type !== 'unicast') return bad(`${type} routes are IPv4 only here`);
    return checkRoute6(c, destText, words, text, field, at, interfaces);
  }
  const destination = destText === 'default' ? { address: 0, prefixLength: 0 } : destText ? parseIpv4Cidr(destText) : undefined;
  if (!destination) return bad(`'${destText ?? ''}' is not a prefix like 10.3.0.0/16 or 'default'`);
  let gateway: number | undefined;
  let device: string | undefined;
  let metric: number | undefined;
  while (words.length > 0) {
    const word = words.shift()!;
    const arg = words.shift();
    if (arg === undefined) return bad(`'${word}' needs a value`);
    if (word === 'via') {
      gateway = parseIpv4(arg);
      if (gateway === undefined) return bad(`gateway '${arg}' is not an IPv4 address`);
    } else if (word === 'dev') {
      if (!interfaces.some((i) => i.name === arg)) return bad(`no interface '${arg}' on this node`);
      device = arg;
    } else if (word === 'metric') {
      if (!/^[0-9]{1,9}$/.test(arg)) return bad(`metric '${arg}' is not a number`);
      metric = Number(arg);
    } else return bad(`unknown word '${word}'`);
  }
  if (type === 'unicast' && gateway === undefined && device === undefined) return bad('needs "via GATEWAY" or "dev INTERFACE"');
  const dhcpClient = !isRouter && interfaces.some((i) => i.dhcp); // its networks are known only once leased
  if (gateway !== undefined && device === undefined && !dhcpClient && !interfaces.some((i) => i.addresses.some((a) => inCidr(gateway!, a)))) {
    return bad(`gateway ${formatIpv4(gateway)} is not on a network of this node's interfaces`);
  }
  return { type, destination, gateway, device, metric, text, at };
}

function isRoute6(route: RouteSpec | Route6Spec): route is Route6Spec {
  return route.destination.address instanceof Uint8Array;
}

/** The IPv6 form of a route: `fd00:2::/64 via fd00:1::1`, `::/0 via fe80::1 dev eth0`. */
function checkRoute6(c: Checker, destText: string, words: string[], text: string, field: string, at: SourcePosition, interfaces: readonly InterfaceSpec[]): Route6Spec | undefined {
  const bad = (why: string): undefined => c.problem(at, field, `'${text}': ${why} (expected e.g. "::/0 via fd00:1::1")`);
  const destination = parseIpv6Cidr(destText);
  if (!destination) return bad(`'${destText}' is not an IPv6 prefix like fd00:2::/64 or ::/0`);
  let gateway: Ipv6Address | undefined;
  let device: string | undefined;
  let metric: number | undefined;
  while (words.length > 0) {
    const word = words.shift()!;
    const arg = words.shift();
    if (arg === undefined) return bad(`'${word}' needs a value`);
    if (word === 'via') {
      gateway = parseIpv6(arg);
      if (gateway === undefined) return bad(`gateway '${arg}' is not an IPv6 address`);
    } else if (word === 'dev') {
      if (!interfaces.some((i) => i.name === arg)) return bad(`no interface '${arg}' on this node`);
      device = arg;
    } else if (word === 'metric') {
      if (!/^[0-9]{1,9}$/.test(arg)) return bad(`metric '${arg}' is not a number`);
      metric = Number(arg);
    } else return bad(`unknown word '${word}'`);
  }
  if (gateway === undefined && device === undefined) return bad('needs "via GATEWAY" or "dev INTERFACE"');
  if (gateway !== undefined && device === undefined && !interfaces.some((i) => i.addresses6.some((a) => inIpv6Cidr(gateway!, a)))) {
    return bad(`gateway ${formatIpv6(gateway)} is not on a network of this node's interfaces (a link-local gateway needs dev)`);
  }
  return { destination, gateway, device, metric, text, at };
}

const PROBABILITY_KEYS = ['loss', 'duplicate', 'reorder', 'corrupt'] as const;
const NUMBER_KEYS = ['delayMs', 'jitterMs', 'reorderDelayMs', 'rateBitsPerSecond', 'queueLimitFrames', 'seed'] as const;
const IMPAIRMENT_KEYS: readonly string[] = [...PROBABILITY_KEYS, ...NUMBER_KEYS, 'rate'];

/** "10mbit", "512kbit", "1gbit", "9600bit" (tc's units) → bits per second. */
export function parseRate(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(bit|kbit|mbit|gbit)$/i.exec(text.trim());
  if (!m) return undefined;
  const scale = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit']!;
  const value = Number(m[1]) * scale;
  return value > 0 ? value : undefined;
}

function checkImpairment(c: Checker, node: YamlNode | null, field: string, at: SourcePosition): ImpairmentOptions | undefined {
  const entries = c.entries(node, field, at, IMPAIRMENT_KEYS);
  if (!entries) return undefined;
  const options: Record<string, number> = {};
  for (const [key, v, keyAt] of entries) {
    const raw = c.scalar(v, `${field}.${key}`, keyAt);
    if (raw === undefined) continue;
    const pos = c.position(v, keyAt);
    if ((PROBABILITY_KEYS as readonly string[]).includes(key)) {
      const value = typeof raw === 'string' && /^[0-9]+(\.[0-9]+)?%$/.test(raw) ? Number(raw.slice(0, -1)) / 100 : raw;
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) c.problem(pos, `${field}.${key}`, `${JSON.stringify(raw)}: expected a probability, 0..1 or "N%"`);
      else options[key] = value;
    } else if (key === 'rate') {
      const bits = typeof raw === 'string' ? parseRate(raw) : undefined;
      if (bits === undefined) c.problem(pos, `${field}.rate`, `${JSON.stringify(raw)}: expected a rate like "10mbit" or "512kbit"`);
      else options.rateBitsPerSecond = bits;
    } else if (typeof raw !== 'number') c.problem(pos, `${field}.${key}`, `${JSON.stringify(raw)}: expected a number`);
    else options[key] = raw;
  }
  try {
    validateImpairmentOptions(options);
  } catch (e) {
    return c.problem(at, field, (e as Error).message);
  }
  return options;
}

function checkEndpoint(c: Checker, node: YamlNode, field: string, at: SourcePosition): Endpoint | undefined {
  const text = c.string(node, field, at);
  if (text === undefined) return undefined;
  const m = /^([^:\s]+):([^:\s]+)$/.exec(text);
  if (!m) return c.problem(c.position(node, at), field, `'${text}': expected NODE:INTERFACE, like r1:eth0`);
  return { node: m[1]!, port: m[2]!, at: c.position(node, at) };
}

function checkLink(c: Checker, node: YamlNode, field: string, at: SourcePosition): LinkSpec | undefined {
  let endpointsNode: YamlNode | null = node;
  let endpointsAt = at;
  let mtu = 1500;
  let impairment: LinkSpec['impairment'];
  let capture: string | undefined;
  let offload = true;
  if (isMap(node)) {
    const entries = c.entries(node, field, at, ['endpoints', 'mtu', 'impairment', 'capture', 'offload']) ?? [];
    const ep = entries.find(([k]) => k === 'endpoints');
    if (!ep) return c.problem(at, `${field}.endpoints`, 'missing: [NODE:INTERFACE, NODE:INTERFACE]');
    endpointsNode = ep[1];
    endpointsAt = ep[2];
    for (const [key, v, keyAt] of entries) {
      if (key === 'mtu') mtu = c.integer(v, `${field}.mtu`, keyAt, IPV4_MIN_MTU, LAB_MTU_MAX) ?? mtu;
      else if (key === 'capture') capture = c.string(v, `${field}.capture`, keyAt);
      else if (key === 'offload') {
        const value = c.scalar(v, `${field}.offload`, keyAt);
        if (typeof value === 'boolean') offload = value;
        else if (value !== undefined) c.problem(c.position(v, keyAt), `${field}.offload`, 'expected true or false');
      }
      else if (key === 'impairment') {
        const perDirection = isMap(v) && (v as YAMLMap).items.some((p) => isScalar(p.key) && (p.key.value === 'aToB' || p.key.value === 'bToA'));
        if (perDirection) {
          const dirs = c.entries(v, `${field}.impairment`, keyAt, ['aToB', 'bToA']) ?? [];
          const aToB = dirs.find(([k]) => k === 'aToB');
          const bToA = dirs.find(([k]) => k === 'bToA');
          const ab = aToB ? checkImpairment(c, aToB[1], `${field}.impairment.aToB`, aToB[2]) : {};
          const ba = bToA ? checkImpairment(c, bToA[1], `${field}.impairment.bToA`, bToA[2]) : {};
          if (ab && ba) impairment = { aToB: ab, bToA: ba };
        } else {
          const both = checkImpairment(c, v, `${field}.impairment`, keyAt);
          // The reverse direction gets seed + 1 so the two directions do not lose the same frames.
          if (both) impairment = { aToB: both, bToA: both.seed === undefined ? both : { ...both, seed: both.seed + 1 } };
        }
      }
    }
  }
  const items = c.list(endpointsNode, isMap(node) ? `${field}.endpoints` : field, endpointsAt);
  if (!items) return undefined;
  if (items.length !== 2) return c.problem(c.position(endpointsNode, endpointsAt), isMap(node) ? `${field}.endpoints` : field, `a link has exactly two ends, got ${items.length}`);
  const a = checkEndpoint(c, items[0]!, `${field}.endpoints.0`, c.position(items[0]!, at));
  const b = checkEndpoint(c, items[1]!, `${field}.endpoints.1`, c.position(items[1]!, at));
  if (!a || !b) return undefined;
  return { a, b, mtu, impairment, capture, offload, at };
}

/** Every endpoint names a real interface or port, each used by exactly one link, and nothing is left unconnected. */
function checkWiring(c: Checker, nodes: readonly NodeSpec[], links: readonly LinkSpec[], linksAt: SourcePosition): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const used = new Map<string, number>();
  links.forEach((link, i) => {
    for (const [end, e] of [
      ['0', link.a],
      ['1', link.b],
    ] as const) {
      const field = `links.${i}.endpoints.${end}`;
      const node = byName.get(e.node);
      if (!node) {
        if (!c.declared.has(e.node)) c.problem(e.at, field, `no node '${e.node}'`);
        continue;
      }
      const names = node.kind === 'switch' ? node.ports.map((p) => p.name) : node.interfaces.map((x) => x.name);
      if (!names.includes(e.port)) {
        if (c.declared.has(`${e.node}:${e.port}`)) continue; // declared but invalid: already reported
        c.problem(e.at, field, `${node.kind} '${e.node}' has no ${node.kind === 'switch' ? 'port' : 'interface'} '${e.port}' (it has: ${names.join(', ') || 'none'})`);
        continue;
      }
      const key = `${e.node}:${e.port}`;
      if (used.has(key)) c.problem(e.at, field, `${key} is already connected by links.${used.get(key)}`);
      else used.set(key, i);
    }
    if (link.a.node === link.b.node && link.a.port === link.b.port) c.problem(link.at, `links.${i}`, 'a link cannot connect an interface to itself');
  });
  for (const node of nodes) {
    const ends = node.kind === 'switch' ? node.ports : node.interfaces;
    for (const e of ends) {
      if (!used.has(`${node.name}:${e.name}`)) c.problem(e.at, `nodes.${node.name}.${node.kind === 'switch' ? 'ports' : 'interfaces'}.${e.name}`, `not connected: add a link to ${node.name}:${e.name} under links`);
    }
  }
  void linksAt;
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
