/**
 * The `nat:`, `firewall:` and `conntrack:` blocks of a router in a lab file,
 * as zod schemas from plain values (YAML already parsed) to a NetfilterConfig.
 * The route-like rule and publish strings stay small hand-written languages
 * (firewall/rules.ts, `parsePublish` below); the schemas call them and their
 * error text is the message. The lab file's checker (src/runtime/topology.ts)
 * reports the problems with their line.
 *
 *   nat:
 *     masquerade: wan                      # or [wan, ...], or { out: wan, from: 10.0.0.0/24, ports: 40000-40999 }
 *     snat: [{ out: wan, to: 198.51.100.7 }]
 *     publish:                             # port forwards, like `docker run -p`
 *       - tcp 8080 -> 10.0.0.10:80
 *       - udp 203.0.113.1:5353 -> 10.0.0.53:53 in wan
 *     hairpin: true                        # RFC 4787 REQ-9 (default true)
 *     filtering: address-port-dependent    # or endpoint-independent (RFC 4787 REQ-8)
 *   firewall:
 *     policy: { input: accept, forward: drop, output: accept }
 *     rules:
 *       - forward state established,related accept
 *       - forward in lan accept
 *   conntrack:
 *     max: 4096
 *     timeouts: { udp: 300, udpUnreplied: 120, icmp: 60, tcpEstablished: 7440, tcpTransitory: 240 }   # seconds
 */
import { z } from 'zod';
import { parseIpv4, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { IpProtocol } from '../l3/ip-protocol.js';
import { parseCidrOrAddress, parseFirewallRule, CHAINS, type Chain, type FirewallRule, type Policy } from './firewall/rules.js';
import type { PublishRule, SourceNatRule, NatConfig, NatFiltering } from './nat/nat.js';
import type { PortRange } from './nat/mappings.js';
import type { ConntrackOptions } from './conntrack/conntrack.js';
import type { TcpConntrackState } from './conntrack/tcp-state.js';
import type { NetfilterConfig } from './netfilter.js';

export const NETFILTER_KEYS = ['nat', 'firewall', 'conntrack'] as const;

/** "40000-40999" or a single port. */
export function parsePortRangeText(text: string): PortRange | undefined {
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  return min <= max && max <= 65535 ? { min, max } : undefined;
}

/**
 * `[tcp|udp] [ADDRESS:]PORT -> ADDRESS:PORT [in IFACE]` (`→` works too);
 * tcp when the protocol is left out, as with `docker run -p`.
 */
export function parsePublish(text: string): { ok: true; rule: PublishRule } | { ok: false; error: string } {
  const m = /^\s*(?:(tcp|udp)\s+)?(?:([0-9.]+):)?([0-9]{1,5})\s*(?:->|→)\s*([0-9.]+):([0-9]{1,5})(?:\s+in\s+(\S+))?\s*$/.exec(text);
  if (!m) return { ok: false, error: `'${text}': expected [tcp|udp] [ADDRESS:]PORT -> ADDRESS:PORT [in IFACE], e.g. tcp 8080 -> 10.0.0.10:80` };
  const address = m[2] === undefined ? undefined : parseIpv4(m[2]);
  const to = parseIpv4(m[4]!);
  const port = Number(m[3]);
  const toPort = Number(m[5]);
  if ((m[2] !== undefined && address === undefined) || to === undefined) return { ok: false, error: `'${text}': not an IPv4 address` };
  if (port < 1 || port > 65535 || toPort < 1 || toPort > 65535) return { ok: false, error: `'${text}': ports are 1-65535` };
  const rule: PublishRule = {
    protocol: m[1] === 'udp' ? IpProtocol.UDP : IpProtocol.TCP,
    port,
    to,
    toPort,
    ...(address !== undefined ? { address } : {}),
    ...(m[6] !== undefined ? { inInterface: m[6] } : {}),
  };
  return { ok: true, rule };
}

/** A mapping's messages: the wrong type, and unknown keys listed against the ones it takes. */
function mapping<T extends z.core.$ZodLooseShape>(shape: T, expected: string): z.ZodObject<T, z.core.$strict> {
  const unknown = `unknown field (expected one of: ${Object.keys(shape).join(', ')})`;
  return z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? unknown : expected) });
}

/** Text parsed by one of the small languages above; its own error is the message. */
function parsedText<T>(parse: (text: string) => T | undefined, message: string | ((text: string) => string)) {
  return z.unknown().transform((value, ctx): T => {
    const parsed = typeof value === 'string' || typeof value === 'number' ? parse(String(value)) : undefined;
    if (parsed === undefined) ctx.addIssue({ code: 'custom', message: typeof message === 'string' ? message : message(String(value)) });
    return parsed!;
  });
}

const SECONDS_MAX = 10 * 24 * 3600;
const seconds = z
  .number({ error: 'expected seconds, more than 0' })
  .positive({ error: 'expected seconds, more than 0' })
  .max(SECONDS_MAX, { error: 'expected seconds, more than 0' })
  .transform((s) => s * 1000)
  .optional();
const TIMEOUT_KINDS = ['udp', 'udpUnreplied', 'icmp', 'generic', 'tcpEstablished', 'tcpTransitory'];
const TCP_TRANSITORY_STATES = ['SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE'] as const;

const conntrackSchema = mapping(
  {
    max: z.int({ error: 'expected an integer from 1 to 4194304' }).min(1, { error: 'expected an integer from 1 to 4194304' }).max(4_194_304, { error: 'expected an integer from 1 to 4194304' }).optional(),
    timeouts: mapping(
      { udp: seconds, udpUnreplied: seconds, icmp: seconds, generic: seconds, tcpEstablished: seconds, tcpTransitory: seconds },
      `expected seconds per kind: ${TIMEOUT_KINDS.join(', ')}`,
    ).optional(),
  },
  'expected a mapping with max and timeouts',
).transform(({ max, timeouts: t }): ConntrackOptions => {
  if (!t) return { max, timeouts: {} };
  const tcp: Partial<Record<TcpConntrackState, number>> = {};
  if (t.tcpEstablished !== undefined) tcp.ESTABLISHED = t.tcpEstablished;
  if (t.tcpTransitory !== undefined) for (const state of TCP_TRANSITORY_STATES) tcp[state] = t.tcpTransitory;
  const timeouts = { udpReplied: t.udp, udpUnreplied: t.udpUnreplied, icmp: t.icmp, generic: t.generic, ...(Object.keys(tcp).length > 0 ? { tcp } : {}) };
  return { max, timeouts: Object.fromEntries(Object.entries(timeouts).filter(([, v]) => v !== undefined)) };
});

/**
 * The schemas of the three blocks for a router with these interfaces (rules
 * and NAT name them, so the check depends on the router). Each is the value
 * of the router's field of that name.
 */
export function netfilterSchemas(interfaces: readonly string[]) {
  const iface = z.string({ error: (issue) => (issue.input === undefined ? 'missing: the interface whose address connections take' : 'expected an interface name') }).refine((name) => interfaces.includes(name), {
    error: (issue) => `no interface '${String(issue.input)}' on this router (it has: ${interfaces.join(', ')})`,
  });
  /** A rule names interfaces in its text; they must be this router's. */
  const checkNames = (names: readonly (string | undefined)[], ctx: z.RefinementCtx): void => {
    for (const name of names) {
      if (name !== undefined && !interfaces.includes(name)) ctx.addIssue({ code: 'custom', message: `no interface '${name}' on this router (it has: ${interfaces.join(', ')})` });
    }
  };
  const cidr = parsedText(parseCidrOrAddress, 'expected an address or CIDR like 10.0.0.0/24').optional();
  const ports = parsedText(parsePortRangeText, 'expected a port range like 40000-40999').optional();
  const sourceRule = (masquerade: boolean) => {
    const toRule = (r: { out?: string; to?: number; from?: Ipv4Cidr; ports?: PortRange }): SourceNatRule => ({
      ...(r.out !== undefined ? { outInterface: r.out } : {}),
      ...(r.from !== undefined ? { source: r.from } : {}),
      ...(r.to !== undefined ? { to: r.to } : {}),
      ...(r.ports !== undefined ? { ports: r.ports } : {}),
    });
    if (!masquerade) {
      const to = parsedText(parseIpv4, 'expected the external IPv4 address');
      const one = mapping({ out: iface.optional(), to, from: cidr, ports }, 'expected { out, to, from, ports }').transform(toRule);
      return z.union([z.array(one), one.transform((r) => [r])]);
    }
    const one = z.union([
      iface.transform((out): SourceNatRule => ({ outInterface: out })),
      mapping({ out: iface, from: cidr, ports }, 'expected an interface name or { out, from, ports }').transform(toRule),
    ]);
    return z.union([z.array(one), one.transform((r) => [r])]);
  };
  const publishItem = z.string({ error: 'expected text like tcp 8080 -> 10.0.0.10:80' }).transform((line, ctx): PublishRule => {
    const r = parsePublish(line);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
    else checkNames([r.rule.inInterface], ctx);
    return r.ok ? r.rule : (undefined as never);
  });
  const ruleItem = z.string({ error: 'expected a rule as text, e.g. "forward in lan accept"' }).transform((line, ctx): FirewallRule => {
    const r = parseFirewallRule(line);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
    else checkNames([r.rule.inInterface, r.rule.outInterface], ctx);
    return r.ok ? r.rule : (undefined as never);
  });
  const nat = mapping(
    {
      masquerade: sourceRule(true).optional(),
      snat: sourceRule(false).optional(),
      publish: z.array(publishItem, { error: 'expected a list like [tcp 8080 -> 10.0.0.10:80]' }).optional(),
      hairpin: z.boolean({ error: 'expected true or false' }).optional(),
      filtering: z.enum(['endpoint-independent', 'address-port-dependent'], { error: 'expected endpoint-independent or address-port-dependent' }).optional(),
    },
    'expected a mapping with masquerade, snat, publish, hairpin, filtering',
  ).transform(({ masquerade, snat, publish, hairpin, filtering }): NatConfig => ({ source: [...(masquerade ?? []), ...(snat ?? [])], publish: publish ?? [], hairpin, filtering }));
  const firewall = mapping(
    {
      policy: z
        .record(z.string(), z.unknown(), { error: 'expected { input: accept|drop, forward: ..., output: ... }' })
        .superRefine((policy, ctx) => {
          for (const [chain, p] of Object.entries(policy)) {
            if (!CHAINS.includes(chain as Chain)) ctx.addIssue({ code: 'custom', path: [chain], message: `not a chain (${CHAINS.join(', ')})` });
            else if (p !== 'accept' && p !== 'drop') ctx.addIssue({ code: 'custom', path: [chain], message: 'expected accept or drop' });
          }
        })
        .transform((policy) => policy as Partial<Record<Chain, Policy>>)
        .optional(),
      rules: z.array(ruleItem, { error: 'expected a list of rules like "forward in lan accept"' }).optional(),
    },
    'expected a mapping with policy and rules',
  ).transform(({ policy, rules }): NonNullable<NetfilterConfig['firewall']> => ({ policy: policy ?? {}, rules: rules ?? [] }));
  return { nat: nat.optional(), firewall: firewall.optional(), conntrack: conntrackSchema.optional() };
}

/** The router's netfilter, or undefined when it asks for none of conntrack, NAT or a firewall. */
export function toNetfilterConfig(blocks: NetfilterConfig): NetfilterConfig | undefined {
  return blocks.nat === undefined && blocks.firewall === undefined && blocks.conntrack === undefined ? undefined : blocks;
}
