/**
 * The `lb:` block of an `lb` node (or of a router) in a lab file: virtual
 * services, each `VIP:PORT[/udp] → backends`, as zod schemas from the plain
 * value (YAML already parsed) to LbServiceConfig. The lab file's checker
 * (src/runtime/topology.ts) reports problems with their line and checks
 * that each VIP is one of the node's own addresses.
 *
 *   lb:
 *     web:                                   # the service's name (tapnet lb ... web NAME)
 *       listen: 10.20.0.1:80                 # the VIP and port; 10.20.0.1:53/udp for UDP (nat mode)
 *       mode: proxy                          # nat (IPVS-style DNAT) | proxy (TCP full proxy) | http (reverse proxy)
 *       scheduler: roundrobin                # roundrobin | weighted | leastconn | sourcehash
 *       backends:
 *         web1: 10.30.0.11:80                # NAME: ADDRESS:PORT (weight 1)
 *         web2: { address: 10.30.0.12:80, weight: 2 }   # weight 0: draining
 *       health: { check: tcp, intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 2 }   # or check: GET /health
 *       timeouts: { connectMs: 2000, responseMs: 10000, headerMs: 10000, idleMs: 60000 }
 *       routes:                              # http mode: first match wins; no match → every backend above
 *         - { host: api.lab, backends: [web3] }
 *         - { path: /static/, backends: [web1, web2], responseMs: 3000 }
 */
import { z } from 'zod';
import { parseIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { SCHEDULER_NAMES, type SchedulerName } from './schedulers/index.js';
import { HEALTH_DEFAULT_FALL, HEALTH_DEFAULT_INTERVAL_MS, HEALTH_DEFAULT_RISE } from './health.js';

export const LB_MODES = ['nat', 'proxy', 'http'] as const;
export type LbMode = (typeof LB_MODES)[number];

/** HAProxy's `timeout connect 5s` is typical; a lab wants to see failures sooner. */
export const LB_DEFAULT_CONNECT_MS = 3_000;
/** Time from the request to the backend's response headers before a 504 (nginx proxy_read_timeout: 60 s). */
export const LB_DEFAULT_RESPONSE_MS = 30_000;
/** A client's request headers must arrive within this (slowloris); Node's own default is 60 s. */
export const LB_DEFAULT_HEADER_MS = 10_000;
/** No bytes either way on a proxied connection for this long: both ends are closed (HAProxy timeout client/server). */
export const LB_DEFAULT_IDLE_MS = 60_000;

export interface LbBackendConfig {
  readonly name: string;
  readonly address: Ipv4Address;
  readonly port: number;
  readonly weight: number;
}

export interface LbHealthConfig {
  /** 'tcp': a connect; 'http': GET `path`, 2xx is healthy. */
  readonly kind: 'tcp' | 'http';
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
}

export interface LbTimeouts {
  readonly connectMs: number;
  readonly responseMs: number;
  readonly headerMs: number;
  readonly idleMs: number;
}

export interface LbRouteConfig {
  /** Host header to match (without the port), case-insensitive; absent: any. */
  readonly host?: string;
  /** Path prefix to match; absent: any. */
  readonly pathPrefix?: string;
  readonly backends: readonly string[];
  /** This route's response timeout (default: the service's). */
  readonly responseMs?: number;
}

export interface LbServiceConfig {
  readonly name: string;
  readonly vip: Ipv4Address;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  readonly mode: LbMode;
  readonly scheduler: SchedulerName;
  readonly backends: readonly LbBackendConfig[];
  /** Absent: no active checks (passive observation still marks backends down in proxy and http modes). */
  readonly health?: LbHealthConfig;
  readonly timeouts: LbTimeouts;
  readonly routes: readonly LbRouteConfig[];
}

const SERVICE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const LB_WEIGHT_MAX = 256; // IPVS allows up to 65535, HAProxy 256

/** "10.30.0.11:80" → address and port. */
export function parseAddressPort(text: string): { address: Ipv4Address; port: number } | undefined {
  const m = /^([0-9.]+):([0-9]{1,5})$/.exec(text.trim());
  const address = m ? parseIpv4(m[1]!) : undefined;
  const port = m ? Number(m[2]) : 0;
  return address !== undefined && port >= 1 && port <= 65535 ? { address, port } : undefined;
}

const strict = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field (expected one of: ${Object.keys(shape).join(', ')})` : undefined) });

const int = (min: number, max: number) => {
  const error = (issue: { input?: unknown }): string => `expected an integer from ${min} to ${max}, got ${JSON.stringify(issue.input)}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

const addressPort = z.string({ error: 'expected ADDRESS:PORT, like 10.30.0.11:80' }).transform((t, ctx) => {
  const parsed = parseAddressPort(t);
  if (!parsed) ctx.addIssue({ code: 'custom', message: `'${t}': expected ADDRESS:PORT, like 10.30.0.11:80` });
  return parsed!;
});

const listen = z.string({ error: 'expected VIP:PORT or VIP:PORT/udp, like 10.20.0.1:80' }).transform((t, ctx) => {
  const m = /^(.*?)(?:\/(tcp|udp))?$/.exec(t.trim())!;
  const parsed = parseAddressPort(m[1]!);
  if (!parsed) ctx.addIssue({ code: 'custom', message: `'${t}': expected VIP:PORT or VIP:PORT/udp, like 10.20.0.1:80` });
  return { vip: parsed?.address ?? 0, port: parsed?.port ?? 0, protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
});

const backend = z.union([addressPort.transform((a) => ({ ...a, weight: 1 })), strict({ address: addressPort, weight: int(0, LB_WEIGHT_MAX).default(1) }).transform((b) => ({ ...b.address, weight: b.weight }))], {
  error: (issue) => (issue.code === 'invalid_union' ? 'expected ADDRESS:PORT or { address: ADDRESS:PORT, weight: N }' : undefined),
});

/** `check: tcp` or `check: GET /path` (also `http GET /path`). */
const check = z.string({ error: 'expected tcp or GET /PATH' }).transform((t, ctx) => {
  if (t.trim() === 'tcp') return { kind: 'tcp' as const, path: '/' };
  const m = /^(?:http\s+)?GET\s+(\/\S*)$/.exec(t.trim());
  if (!m) ctx.addIssue({ code: 'custom', message: `'${t}': expected tcp or GET /PATH (an HTTP check expecting 2xx)` });
  return { kind: 'http' as const, path: m?.[1] ?? '/' };
});

const health = strict({
  check: check.default({ kind: 'tcp', path: '/' }),
  intervalMs: int(100, 3_600_000).default(HEALTH_DEFAULT_INTERVAL_MS),
  timeoutMs: int(10, 3_600_000).optional(),
  rise: int(1, 100).default(HEALTH_DEFAULT_RISE),
  fall: int(1, 100).default(HEALTH_DEFAULT_FALL),
}).transform(({ check: c, timeoutMs, ...rest }): LbHealthConfig => ({ ...c, ...rest, timeoutMs: timeoutMs ?? rest.intervalMs }));

const timeouts = strict({
  connectMs: int(10, 3_600_000).default(LB_DEFAULT_CONNECT_MS),
  responseMs: int(10, 86_400_000).default(LB_DEFAULT_RESPONSE_MS),
  headerMs: int(10, 3_600_000).default(LB_DEFAULT_HEADER_MS),
  idleMs: int(10, 86_400_000).default(LB_DEFAULT_IDLE_MS),
});

const route = strict({
  host: z.string({ error: 'expected a host name, like api.lab' }).optional(),
  path: z.string({ error: 'expected a path prefix starting with /' }).refine((p) => p.startsWith('/'), { error: 'a path prefix starts with /' }).optional(),
  backends: z.array(z.string({ error: 'expected a backend name' }), { error: 'expected a list of backend names' }).min(1, { error: 'a route needs at least one backend' }),
  responseMs: int(10, 86_400_000).optional(),
});

const service = strict({
  listen,
  mode: z.enum(LB_MODES, { error: (issue) => `'${String(issue.input)}': expected ${LB_MODES.join(', ')}` }).default('proxy'),
  scheduler: z.enum(SCHEDULER_NAMES, { error: (issue) => `'${String(issue.input)}': expected ${SCHEDULER_NAMES.join(', ')}` }).default('roundrobin'),
  backends: z.record(z.string(), backend, { error: 'expected NAME: ADDRESS:PORT entries' }),
  health: health.optional(),
  timeouts: timeouts.default({ connectMs: LB_DEFAULT_CONNECT_MS, responseMs: LB_DEFAULT_RESPONSE_MS, headerMs: LB_DEFAULT_HEADER_MS, idleMs: LB_DEFAULT_IDLE_MS }),
  routes: z.array(route, { error: 'expected a list of { host, path, backends }' }).default([]),
}).superRefine((s, ctx) => {
  const problem = (path: PropertyKey[], message: string): void => void ctx.addIssue({ code: 'custom', path, message });
  for (const name of Object.keys(s.backends)) if (!BACKEND_NAME.test(name)) problem(['backends', name], `backend name '${name}': letters, digits, '_', '.', ':', '-'`);
  if (s.listen.protocol === 'udp' && s.mode !== 'nat') problem(['mode'], `a UDP service needs mode: nat (proxy and http modes are TCP)`);
  if (s.routes.length > 0 && s.mode !== 'http') problem(['routes'], `routes (Host and path) need mode: http`);
  if (s.health && s.listen.protocol === 'udp') problem(['health'], 'health checks are TCP or HTTP: a UDP service has none');
  s.routes.forEach((r, i) =>
    r.backends.forEach((b, j) => {
      if (!(b in s.backends)) problem(['routes', i, 'backends', j], `no backend '${b}' in this service (it has: ${Object.keys(s.backends).join(', ') || 'none'})`);
    }),
  );
});

/** The `lb:` block: service name → service. */
export const lbSchema = z
  .record(z.string(), service, { error: 'expected SERVICE: { listen, mode, scheduler, backends, ... }' })
  .superRefine((services, ctx) => {
    const seen = new Map<string, string>();
    for (const [name, s] of Object.entries(services)) {
      if (!SERVICE_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `service name '${name}': lower-case letters, digits, '_' and '-' (at most 32)` });
      const key = `${s.listen.vip}:${s.listen.port}/${s.listen.protocol}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [name, 'listen'], message: `the same VIP:PORT as service '${seen.get(key)}'` });
      seen.set(key, name);
    }
  })
  .transform((services): LbServiceConfig[] =>
    Object.entries(services).map(([name, s]) => ({
      name,
      vip: s.listen.vip,
      port: s.listen.port,
      protocol: s.listen.protocol,
      mode: s.mode,
      scheduler: s.scheduler,
      backends: Object.entries(s.backends).map(([b, v]) => ({ name: b, ...v })),
      ...(s.health ? { health: s.health } : {}),
      timeouts: s.timeouts,
      routes: s.routes.map((r) => ({ backends: r.backends, ...(r.host ? { host: r.host.toLowerCase() } : {}), ...(r.path ? { pathPrefix: r.path } : {}), ...(r.responseMs ? { responseMs: r.responseMs } : {}) })),
    })),
  );
