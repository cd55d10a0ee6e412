/**
 * The DNS part of a lab config: the zone and the upstreams, as plain strings
 * (what a lab file or the command line holds), turned into a Zone and a
 * forwarder. Errors come back as one line naming the bad entry.
 *
 * The default lab (`tapnet up`) serves
 *
 *   lab.                    SOA   gateway.lab. hostmaster.lab. 1 3600 600 86400 60
 *   lab.                    NS    gateway.lab.
 *   gateway.lab.            A     10.77.0.1       (tapnet)
 *   gateway.lab.            AAAA  fd77::1
 *   host.lab.               A     10.77.0.2       (the kernel end)
 *   1.0.77.10.in-addr.arpa. PTR   gateway.lab.    (made from the A records)
 *   2.0.77.10.in-addr.arpa. PTR   host.lab.
 *   1.0.0.0.….7.7.d.f.ip6.arpa. PTR gateway.lab.
 *
 * plus whatever `--dns-record` adds, and every DHCP lease's host name.
 *
 * A router in a lab file serves DNS with `dns: true` or
 * `dns: { zone: home, upstreams: [10.0.2.3], records: ["nas A 10.1.0.10"] }`;
 * `labDnsSchema` checks that block (src/runtime/topology.ts reports its
 * problems with their line).
 */
import { z } from 'zod';
import { formatIpv4Cidr, parseIpv4Cidr, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { formatIpv6Cidr, parseIpv6Cidr, type Ipv6Address, type Ipv6Cidr } from '../../l3/ipv6/address.js';
import { DnsClass, DnsType } from './constants.js';
import { parseUpstream, type Upstream } from './forwarder.js';
import { parseAllow, parseRootHint, type RecursionConfig } from './resolver.js';
import type { DnsRecord } from './message.js';
import { canonicalName, nameToLabels } from './name.js';
import { reverseZoneV4, reverseZoneV6 } from './reverse.js';
import { Zone, ZONE_DEFAULT_TTL, type SoaFields } from './zone.js';
import { parseRecordText, type TextResult } from './zone-text.js';

export const DEFAULT_LAB_ZONE = 'lab.';
/**
 * The lab SOA. MINIMUM, the negative-caching TTL (RFC 2308 §4), is one
 * minute so a host that just got its lease is not hidden for long by an
 * NXDOMAIN cached before; the refresh/retry/expire timers only matter to
 * secondaries, which a lab does not have (RFC 1912 §2.2 values).
 */
export const LAB_SOA_TIMERS = { refresh: 3600, retry: 600, expire: 86_400, minimum: 60 } as const;

export interface DnsZoneConfig {
  /** The forward zone (default "lab."). */
  readonly zone?: string;
  /** Master-file lines, names relative to the zone (zone-text.ts). */
  readonly records?: readonly string[];
  /** Networks whose reverse zones are served ("10.77.0.0/24", "fd77::/64"). */
  readonly reverse?: readonly string[];
}

export interface LabHosts {
  /** tapnet's own address: gateway.<zone>, the SOA MNAME and the NS. */
  readonly tapnet: Ipv4Address;
  /** The kernel end: host.<zone>, when it has an address. */
  readonly kernel?: Ipv4Address;
  readonly subnet: Ipv4Cidr;
  /** tapnet's IPv6 address (gateway.<zone> AAAA) and the lab's /64, whose ip6.arpa zone is served too. */
  readonly tapnet6?: Ipv6Address;
  readonly subnet6?: Ipv6Cidr;
}

/** Checks one record line the way the zone will read it (for the CLI's argument parser). */
export function checkRecordText(line: string, zone = DEFAULT_LAB_ZONE): TextResult<DnsRecord> {
  return parseRecordText(line, canonicalName(zone), ZONE_DEFAULT_TTL);
}

/** A lab router's `dns:` block, checked: the zone with its final dot, upstreams parsed, records as written. */
export interface LabDnsConfig {
  readonly zone: string;
  readonly upstreams: readonly Upstream[];
  readonly records: readonly string[];
  /** `recursion: { roots, allow }`: resolve other names from these root servers (resolver.ts). */
  readonly recursion?: RecursionConfig;
}

/** A domain name, or "." for the root zone (a lab's root server). */
const ZONE_NAME = /^(\.|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?)$/i;

const labRootHint = z.string().transform((text, ctx) => {
  const address = parseRootHint(text);
  if (address === undefined) ctx.addIssue({ code: 'custom', message: `'${text}': expected a root server's IPv4 address, like 10.53.0.1` });
  return address!;
});

const labAllow = z.string().transform((text, ctx) => {
  const net = parseAllow(text);
  if (!net) ctx.addIssue({ code: 'custom', message: `'${text}': expected a network like 10.1.0.0/24 or an address` });
  return net!;
});

const labRecursion = z.strictObject(
  {
    roots: z.array(labRootHint).min(1, { error: 'at least one root server address' }),
    allow: z.array(labAllow).default([]),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field (expected one of: roots, allow)' : undefined) },
);

const labUpstream = z.string().transform((text, ctx) => {
  const upstream = parseUpstream(text);
  if (!upstream) ctx.addIssue({ code: 'custom', message: `'${text}': expected ADDRESS or ADDRESS:PORT, like 10.0.2.3 or 127.0.0.1:5353` });
  return upstream!;
});

const labDnsBlock = z
  .strictObject(
    {
      zone: z
        .string()
        .regex(ZONE_NAME, { error: (issue) => `'${String(issue.input)}' is not a domain name like home or lab.example` })
        .transform((zone) => (zone.endsWith('.') ? zone : `${zone}.`))
        .default(DEFAULT_LAB_ZONE),
      upstreams: z.array(labUpstream).default([]),
      records: z.array(z.string()).default([]),
      recursion: labRecursion.optional(),
    },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field (expected one of: zone, upstreams, records, recursion)' : undefined) },
  )
  .superRefine((dns, ctx) => {
    if (dns.recursion && dns.upstreams.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['recursion'], message: 'a server forwards to upstreams or recurses from the roots, not both' });
    }
    // Records are read relative to the zone, so they are checked once the zone is known.
    dns.records.forEach((line, i) => {
      const r = checkRecordText(line, dns.zone);
      if (!r.ok) ctx.addIssue({ code: 'custom', path: ['records', i], message: `'${line}': ${r.error}` });
    });
  });

export const labDnsSchema: z.ZodType<LabDnsConfig | undefined, unknown> = z.union([
  z.boolean().transform((on): LabDnsConfig | undefined => (on ? { zone: DEFAULT_LAB_ZONE, upstreams: [], records: [] } : undefined)),
  labDnsBlock,
], { error: (issue) => (issue.code === 'invalid_union' ? 'expected true or { zone, upstreams, records }' : undefined) });

/** Parses upstream specs, failing on the first bad one. */
export function parseUpstreams(texts: readonly string[]): TextResult<Upstream[]> {
  const out: Upstream[] = [];
  for (const t of texts) {
    const u = parseUpstream(t);
    if (!u) return { ok: false, error: `bad upstream "${t}": expected ADDRESS or ADDRESS:PORT, e.g. 10.77.0.2:5353` };
    out.push(u);
  }
  return { ok: true, value: out };
}

/** The lab's zone: gateway/host, SOA and NS, reverse zones, then the configured records. */
export function buildLabZone(hosts: LabHosts, config: DnsZoneConfig = {}, serial = 1): TextResult<Zone> {
  const zoneText = config.zone ?? DEFAULT_LAB_ZONE;
  const labels = nameToLabels(zoneText);
  if (!labels.ok) return { ok: false, error: `bad zone name "${zoneText}": ${labels.error.detail}` };
  const origin = canonicalName(zoneText);
  const reverseZones: string[] = [];
  const defaultReverse = [formatIpv4Cidr(hosts.subnet), ...(hosts.subnet6 ? [formatIpv6Cidr(hosts.subnet6)] : [])];
  for (const text of config.reverse ?? defaultReverse) {
    const v4 = parseIpv4Cidr(text);
    const v6 = v4 ? undefined : parseIpv6Cidr(text);
    if (v4 && v4.prefixLength >= 8) reverseZones.push(reverseZoneV4(v4));
    else if (v6 && v6.prefixLength >= 4) reverseZones.push(reverseZoneV6(v6));
    else return { ok: false, error: `bad reverse network "${text}": expected a CIDR like 10.77.0.0/24 or fd77::/64` };
  }
  const under = (label: string): string => (origin === '.' ? `${label}.` : `${label}.${origin}`);
  const gateway = under('gateway');
  const soa: SoaFields = { mname: gateway, rname: under('hostmaster'), serial, ...LAB_SOA_TIMERS };
  const zone = new Zone({ origin, soa, nameServers: [gateway], reverseZones });
  const a = (name: string, address: Ipv4Address): DnsRecord => ({
    name,
    type: DnsType.A,
    class: DnsClass.IN,
    ttl: ZONE_DEFAULT_TTL,
    data: { kind: 'A', address },
  });
  const records: DnsRecord[] = [a(gateway, hosts.tapnet)];
  if (hosts.tapnet6) {
    records.push({ name: gateway, type: DnsType.AAAA, class: DnsClass.IN, ttl: ZONE_DEFAULT_TTL, data: { kind: 'AAAA', address: hosts.tapnet6 } });
  }
  if (hosts.kernel !== undefined) records.push(a(under('host'), hosts.kernel));
  for (const line of config.records ?? []) {
    const r = parseRecordText(line, origin, ZONE_DEFAULT_TTL);
    if (!r.ok) return { ok: false, error: `bad record "${line}": ${r.error}` };
    records.push(r.value);
  }
  for (const r of records) {
    const error = zone.add(r);
    if (error) return { ok: false, error: `bad record ${r.name}: ${error}` };
  }
  return { ok: true, value: zone };
}
