/**
 * WireGuard configuration, as a lab file gives it and as wg-quick(8) reads
 * it. In a topology (src/runtime/topology.ts), an interface of a router or
 * host with `kind: wireguard`:
 *
 *   wg0:
 *     kind: wireguard
 *     privateKey: yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=   # `wg genkey`
 *     listenPort: 51820
 *     address: 10.99.0.1/24              # or addresses: [10.99.0.1/24, fd99::1/64]
 *     mtu: 1420                          # the default, as wg-quick
 *     peers:
 *       - publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
 *         presharedKey: ...              # optional (`wg genpsk`)
 *         endpoint: 203.0.113.2:51820    # or [2001:db8::2]:51820; optional (it may contact us first)
 *         allowedIPs: [10.99.0.2/32, 10.2.0.0/24]
 *         persistentKeepalive: 25        # seconds; optional
 *
 * or `config: FILE` (relative to the lab file), a wg-quick INI file with
 * [Interface] (PrivateKey, ListenPort, Address, MTU, Table, DNS) and [Peer]
 * sections (PublicKey, PresharedKey, Endpoint, AllowedIPs,
 * PersistentKeepalive): the file you would give `wg-quick up`.
 *
 * As wg-quick does, each peer's allowed IPs get a route through the
 * interface (`Table = off` / `table: false`: none); a /0 never does (wg-quick
 * needs policy routing for that; add `routes: [default dev wg0]` yourself).
 * Endpoints are IP literals: a lab has no resolver at start-up.
 */
import { z } from 'zod';
import { parseIpv4, parseIpv4Cidr, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { formatIpv6, parseIpv6, parseIpv6Cidr, type Ipv6Cidr } from '../../l3/ipv6/address.js';
import { parseKey } from './keys.js';
import type { Endpoint, PeerConfig } from './peer.js';

/** What a `kind: wireguard` interface describes, from the lab file or a wg-quick file. */
export interface WireGuardSpec {
  readonly privateKey: Uint8Array | undefined;
  readonly listenPort: number | undefined;
  readonly addresses4: readonly Ipv4Cidr[];
  readonly addresses6: readonly Ipv6Cidr[];
  readonly mtu: number | undefined;
  /** wg-quick's Table: routes for allowed IPs (true unless `off`). */
  readonly table: boolean;
  readonly peers: readonly PeerConfig[];
  /** `config: FILE`: the rest comes from this wg-quick file (src/runtime/topology.ts loads it). */
  readonly configFile: string | undefined;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseKeyText(text: string): Parsed<Uint8Array> {
  const key = parseKey(text);
  return key ? { ok: true, value: key } : { ok: false, error: `'${text}' is not a WireGuard key (44 characters of base64, as \`wg genkey\` prints)` };
}

/** `1.2.3.4:51820` or `[2001:db8::1]:51820`. */
export function parseEndpoint(text: string): Parsed<Endpoint> {
  const m = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(text) ?? /^([0-9.]+):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  const bad = `'${text}' is not an endpoint like 203.0.113.1:51820 or [2001:db8::1]:51820 (IP literals only)`;
  if (!m || !(port >= 1 && port <= 65535)) return { ok: false, error: bad };
  if (text.startsWith('[')) {
    const a = parseIpv6(m[1]!);
    return a ? { ok: true, value: { address: formatIpv6(a), port, family: 6 } } : { ok: false, error: bad };
  }
  return parseIpv4(m[1]!) === undefined ? { ok: false, error: bad } : { ok: true, value: { address: m[1]!, port, family: 4 } };
}

/** One allowed IP or address: `10.2.0.0/24`, `fd00::/64`; a bare address is a /32 or /128 (as `wg` takes it). */
export function parseCidrText(text: string, what: 'allowed IP' | 'address'): Parsed<Ipv4Cidr | Ipv6Cidr> {
  const t = text.trim();
  const withLength = t.includes('/') ? t : `${t}/${t.includes(':') ? 128 : 32}`;
  const cidr = t.includes(':') ? parseIpv6Cidr(withLength) : parseIpv4Cidr(withLength);
  if (!cidr || (typeof cidr.address === 'number' && cidr.prefixLength > 32)) return { ok: false, error: `'${t}' is not an ${what} like 10.2.0.0/24 or fd00:2::/64` };
  return { ok: true, value: cidr };
}

export function isCidr6(c: Ipv4Cidr | Ipv6Cidr): c is Ipv6Cidr {
  return c.address instanceof Uint8Array;
}

function zodFrom<T>(parse: (t: string) => Parsed<T>) {
  return z.union([z.string(), z.number().transform(String)], { error: 'expected text' }).transform((t, ctx): T => {
    const r = parse(t);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
    return r.ok ? r.value : (undefined as never);
  });
}

const key = zodFrom(parseKeyText);
const cidrList = (what: 'allowed IP' | 'address') => z.preprocess((v) => (typeof v === 'string' ? v.split(',') : v), z.array(zodFrom((t) => parseCidrText(t, what))));
const intIn = (min: number, max: number) => {
  const error = (issue: { input?: unknown }): string => `expected an integer from ${min} to ${max}, got ${JSON.stringify(issue.input)}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const strict = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field (expected one of: ${Object.keys(shape).join(', ')})` : undefined) });

/** IPv6 needs 1280 (RFC 8200 §5); wg-quick refuses less too. */
export const WIREGUARD_MTU_MIN = 1280;

const peerSchema = strict({
  publicKey: key,
  presharedKey: key.optional(),
  endpoint: zodFrom(parseEndpoint).optional(),
  allowedIPs: cidrList('allowed IP').default([]),
  persistentKeepalive: intIn(0, 65535).optional(),
}).transform((p): PeerConfig => ({
  publicKey: p.publicKey,
  presharedKey: p.presharedKey,
  endpoint: p.endpoint,
  allowedIps4: p.allowedIPs.filter((c): c is Ipv4Cidr => !isCidr6(c)),
  allowedIps6: p.allowedIPs.filter(isCidr6),
  persistentKeepalive: p.persistentKeepalive,
}));

/** `kind: wireguard` on an interface of a lab node. */
export const wireguardInterfaceSchema = strict({
  kind: z.literal('wireguard'),
  config: z.string().optional(),
  privateKey: key.optional(),
  listenPort: intIn(0, 65535).optional(),
  address: zodFrom((t) => parseCidrText(t, 'address')).optional(),
  addresses: cidrList('address').optional(),
  mtu: intIn(WIREGUARD_MTU_MIN, 65_535).optional(),
  table: z.boolean().optional(),
  peers: z.array(peerSchema).optional(),
}).transform((v, ctx): WireGuardSpec => {
  const addresses = [...(v.address ? [v.address] : []), ...(v.addresses ?? [])];
  if (v.config !== undefined) {
    for (const f of ['privateKey', 'listenPort', 'address', 'addresses', 'peers'] as const) {
      if (v[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `give ${f} either here or in the config file ${v.config}, not both` });
    }
  } else if (v.privateKey === undefined) {
    ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'missing (`wg genkey` makes one), or give config: FILE (a wg-quick file)' });
  }
  return {
    privateKey: v.privateKey,
    listenPort: v.listenPort,
    addresses4: addresses.filter((c): c is Ipv4Cidr => !isCidr6(c)),
    addresses6: addresses.filter(isCidr6),
    mtu: v.mtu,
    table: v.table ?? true,
    peers: v.peers ?? [],
    configFile: v.config,
  };
});

/** A wg-quick problem: the line (1-based) and the key it is about. */
export interface WgQuickProblem {
  readonly line: number;
  readonly field: string;
  readonly message: string;
}

/** Keys wg-quick runs as shell commands or uses outside the tunnel; tapnet runs none of them. */
const WG_QUICK_UNSUPPORTED = new Set(['preup', 'postup', 'predown', 'postdown', 'saveconfig', 'fwmark']);

/**
 * Parses a wg-quick configuration file (wg-quick(8), wg(8) CONFIGURATION
 * FILE FORMAT): `[Interface]` then `[Peer]` sections of `Key = Value` lines,
 * keys case-insensitive, `#` comments; Address and AllowedIPs take comma
 * lists and may repeat. Every problem is returned, with its line.
 */
export function parseWgQuick(text: string): { ok: true; value: WireGuardSpec } | { ok: false; problems: WgQuickProblem[] } {
  const problems: WgQuickProblem[] = [];
  let section: 'none' | 'interface' | 'peer' = 'none';
  let privateKey: Uint8Array | undefined;
  let listenPort: number | undefined;
  let mtu: number | undefined;
  let table = true;
  const addresses: (Ipv4Cidr | Ipv6Cidr)[] = [];
  const peers: { publicKey?: Uint8Array; presharedKey?: Uint8Array; endpoint?: Endpoint; allowed: (Ipv4Cidr | Ipv6Cidr)[]; keepalive?: number; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') return;
    const problem = (field: string, message: string): void => void problems.push({ line, field, message });
    const header = /^\[(\w+)\]$/.exec(content);
    if (header) {
      const name = header[1]!.toLowerCase();
      if (name === 'interface') section = 'interface';
      else if (name === 'peer') {
        section = 'peer';
        peers.push({ allowed: [], line });
      } else problem(header[1]!, 'unknown section (expected [Interface] or [Peer])');
      return;
    }
    const kv = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(content);
    if (!kv) return problem('', `'${content}': expected Key = Value`);
    const [, name, value] = kv as unknown as [string, string, string];
    const k = name.toLowerCase();
    const take = <T>(r: Parsed<T>, set: (v: T) => void): void => (r.ok ? set(r.value) : problem(name, r.error));
    const integer = (min: number, max: number, set: (v: number) => void): void => {
      if (/^[0-9]+$/.test(value) && Number(value) >= min && Number(value) <= max) set(Number(value));
      else problem(name, `'${value}': expected an integer from ${min} to ${max}`);
    };
    const cidrs = (what: 'allowed IP' | 'address', into: (Ipv4Cidr | Ipv6Cidr)[]): void => {
      for (const part of value.split(',').filter((p) => p.trim() !== '')) take(parseCidrText(part, what), (c) => into.push(c));
    };
    if (section === 'none') return problem(name, 'outside a section: put it under [Interface] or [Peer]');
    if (WG_QUICK_UNSUPPORTED.has(k)) return problem(name, 'wg-quick runs this on the host; tapnet does not (remove it for the lab)');
    if (section === 'interface') {
      if (k === 'privatekey') take(parseKeyText(value), (v) => (privateKey = v));
      else if (k === 'listenport') integer(0, 65535, (v) => (listenPort = v));
      else if (k === 'address') cidrs('address', addresses);
      else if (k === 'mtu') integer(WIREGUARD_MTU_MIN, 65535, (v) => (mtu = v));
      else if (k === 'table') table = value.toLowerCase() !== 'off';
      else if (k === 'dns') return; // the lab's hosts keep their own resolver
      else problem(name, 'unknown key in [Interface] (PrivateKey, ListenPort, Address, MTU, Table, DNS)');
      return;
    }
    const peer = peers[peers.length - 1]!;
    if (k === 'publickey') take(parseKeyText(value), (v) => (peer.publicKey = v));
    else if (k === 'presharedkey') take(parseKeyText(value), (v) => (peer.presharedKey = v));
    else if (k === 'endpoint') take(parseEndpoint(value), (v) => (peer.endpoint = v));
    else if (k === 'allowedips') cidrs('allowed IP', peer.allowed);
    else if (k === 'persistentkeepalive') {
      if (value.toLowerCase() === 'off') peer.keepalive = 0;
      else integer(0, 65535, (v) => (peer.keepalive = v));
    } else problem(name, 'unknown key in [Peer] (PublicKey, PresharedKey, Endpoint, AllowedIPs, PersistentKeepalive)');
  });
  if (!privateKey && !problems.some((p) => p.field.toLowerCase() === 'privatekey')) problems.push({ line: 1, field: 'PrivateKey', message: 'missing in [Interface]' });
  for (const p of peers) if (!p.publicKey && !problems.some((x) => x.line > p.line && x.field.toLowerCase() === 'publickey')) problems.push({ line: p.line, field: 'PublicKey', message: 'missing in [Peer]' });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      privateKey,
      listenPort,
      addresses4: addresses.filter((c): c is Ipv4Cidr => !isCidr6(c)),
      addresses6: addresses.filter(isCidr6),
      mtu,
      table,
      configFile: undefined,
      peers: peers.map((p) => ({
        publicKey: p.publicKey!,
        presharedKey: p.presharedKey,
        endpoint: p.endpoint,
        allowedIps4: p.allowed.filter((c): c is Ipv4Cidr => !isCidr6(c)),
        allowedIps6: p.allowed.filter(isCidr6),
        persistentKeepalive: p.keepalive,
      })),
    },
  };
}

/** The spec as wg(8) `setconf` reads it (wg-quick's Address, MTU and Table are applied with `ip` instead). */
export function formatWgSetconf(spec: WireGuardSpec, formatKey: (k: Uint8Array) => string, formatCidr: (c: Ipv4Cidr | Ipv6Cidr) => string): string {
  let out = `[Interface]\nPrivateKey = ${formatKey(spec.privateKey!)}\n`;
  if (spec.listenPort !== undefined) out += `ListenPort = ${spec.listenPort}\n`;
  for (const p of spec.peers) {
    out += `\n[Peer]\nPublicKey = ${formatKey(p.publicKey)}\n`;
    if (p.presharedKey) out += `PresharedKey = ${formatKey(p.presharedKey)}\n`;
    if (p.endpoint) out += `Endpoint = ${p.endpoint.family === 6 ? `[${p.endpoint.address}]` : p.endpoint.address}:${p.endpoint.port}\n`;
    const allowed = [...p.allowedIps4, ...p.allowedIps6];
    if (allowed.length > 0) out += `AllowedIPs = ${allowed.map(formatCidr).join(', ')}\n`;
    if (p.persistentKeepalive) out += `PersistentKeepalive = ${p.persistentKeepalive}\n`;
  }
  return out;
}
