/**
 * The `bgp:` block of a router in a lab file, as a zod schema from the plain
 * value (YAML already parsed) to BgpConfig; the lab file's checker
 * (src/runtime/topology.ts) reports problems with their line and column.
 *
 *   bgp:
 *     as: 65001
 *     routerId: 10.0.0.1
 *     clusterId: 10.0.0.1              # optional: route reflector cluster (default routerId)
 *     networks: [10.1.0.0/16, 2001:db8:1::/48]   # originated (IGP origin)
 *     mrai: 0                          # optional: MRAI for every neighbour that sets none
 *     neighbors:
 *       - address: 10.0.12.2
 *         as: 65002
 *         passive: false               # true: wait for the peer to connect
 *         holdTime: 90                 # 0, or 3..65535 seconds (RFC 4271 §4.2)
 *         connectRetry: 5              # seconds
 *         maxPrefix: 1000              # Cease past this many prefixes (RFC 4486; default 2 000 000)
 *         maxPrefixRestart: 60         # seconds until the session restarts after that (default: stays down)
 *         mrai: 0                      # MinRouteAdvertisementInterval, s (RFC 4271 §9.2.1.1; default 30 eBGP, 5 iBGP)
 *         routeReflectorClient: false  # iBGP: reflect routes to and from it (RFC 4456)
 *         families: [ipv4, ipv6]
 *         nextHop6: fd12::1            # our IPv6 next hop for it (default: a global address facing it)
 *         import:                      # first match wins; no match: accept unchanged
 *           - { match: { prefix: 10.0.0.0/8, le: 24 }, action: reject }
 *           - { match: { asPath: _65010_ }, set: { localPref: 200 } }
 *         export:
 *           - { set: { prepend: 2, community: ["65001:100"], med: 10 } }
 */
import { z } from 'zod';
import { parseIpv4 } from '../../l3/ipv4/address.js';
import { parseIpv6 } from '../../l3/ipv6/address.js';
import { parseCommunity } from './attributes.js';
import { asPathRegExp, type PolicyRule } from './policy.js';
import { parsePrefixText, type Prefix } from './prefix.js';
import type { BgpConfig, NeighborConfig } from './speaker.js';

const int = (min: number, max: number) => {
  const error = (issue: { input?: unknown }): string => `expected an integer from ${min} to ${max}, got ${JSON.stringify(issue.input)}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const asNumber = int(1, 4294967295);
const ipv4 = z.string({ error: 'expected an IPv4 address' }).transform((t, ctx) => {
  const a = parseIpv4(t);
  if (a === undefined) ctx.addIssue({ code: 'custom', message: `'${t}': expected an IPv4 address` });
  return a ?? 0;
});
const address = z.string({ error: 'expected an IPv4 or IPv6 address' }).refine((t) => parseIpv4(t) !== undefined || parseIpv6(t) !== undefined, {
  error: (issue) => `'${String(issue.input)}': expected an IPv4 or IPv6 address`,
});
const prefix = z.string({ error: 'expected a prefix like 10.1.0.0/16' }).transform((t, ctx): Prefix => {
  const p = parsePrefixText(t);
  if (!p) ctx.addIssue({ code: 'custom', message: `'${t}': expected a prefix like 10.1.0.0/16 or 2001:db8::/32` });
  return p ?? { afi: 'ipv4', length: 0, address: new Uint8Array(4) };
});
const community = z.string({ error: 'expected a community like 65001:100' }).transform((t, ctx) => {
  const c = parseCommunity(t);
  if (c === undefined) ctx.addIssue({ code: 'custom', message: `'${t}': expected a community like 65001:100, or no-export / no-advertise` });
  return c ?? 0;
});
const asPathPattern = z.string({ error: 'expected a regular expression over the AS path, like _65010_' }).transform((t, ctx) => {
  try {
    return asPathRegExp(t);
  } catch {
    ctx.addIssue({ code: 'custom', message: `'${t}': not a regular expression` });
    return /$^/;
  }
});
const holdTime = int(0, 65535).refine((h) => h === 0 || h >= 3, { error: 'hold time must be 0 or at least 3 seconds (RFC 4271 §4.2)' });

const policyRule = z.strictObject({
  match: z.strictObject({ prefix: prefix.optional(), le: int(0, 128).optional(), asPath: asPathPattern.optional(), community: community.optional() }).optional(),
  action: z.enum(['accept', 'reject'], { error: 'expected accept or reject' }).optional(),
  set: z
    .strictObject({ localPref: int(0, 4294967295).optional(), med: int(0, 4294967295).optional(), community: z.array(community).optional(), prepend: int(1, 10).optional() })
    .optional(),
}) satisfies z.ZodType<PolicyRule, unknown>;

const neighbor = z.strictObject({
  address,
  as: asNumber,
  passive: z.boolean().optional(),
  holdTime: holdTime.optional(),
  connectRetry: int(1, 3600).optional(),
  maxPrefix: int(1, 10_000_000).optional(),
  maxPrefixRestart: int(1, 86_400).optional(),
  mrai: int(0, 3600).optional(),
  routeReflectorClient: z.boolean().optional(),
  families: z.array(z.enum(['ipv4', 'ipv6'], { error: 'expected ipv4 or ipv6' })).min(1).optional(),
  nextHop6: z.string().refine((t) => parseIpv6(t) !== undefined, { error: 'expected an IPv6 address' }).optional(),
  import: z.array(policyRule).optional(),
  export: z.array(policyRule).optional(),
}) satisfies z.ZodType<NeighborConfig, unknown>;

export const bgpSchema = z
  .strictObject({
    as: asNumber,
    routerId: ipv4,
    clusterId: ipv4.optional(),
    mrai: int(0, 3600).optional(),
    networks: z.array(prefix).default([]),
    neighbors: z.array(neighbor).default([]),
  })
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.neighbors.forEach((n, i) => {
      if (seen.has(n.address)) ctx.addIssue({ code: 'custom', path: ['neighbors', i, 'address'], message: `neighbor ${n.address} is listed twice` });
      seen.add(n.address);
    });
  }) satisfies z.ZodType<BgpConfig, unknown>;
