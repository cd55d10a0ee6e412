/**
 * The `nat:`, `firewall:` and `conntrack:` blocks of a router in a lab file,
 * from plain values (YAML already parsed) to a NetfilterConfig. User input:
 * every problem is returned with the path of the field it is about, nothing
 * is thrown.
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
import { parseIpv4 } from '../l3/ipv4/address.js';
import { IpProtocol } from '../l3/ip-protocol.js';
import { parseCidrOrAddress, parseFirewallRule, CHAINS, type Chain, type FirewallRule, type Policy } from './firewall/rules.js';
import type { PublishRule, SourceNatRule, NatConfig, NatFiltering } from './nat/nat.js';
import type { PortRange } from './nat/mappings.js';
import type { ConntrackOptions } from './conntrack/conntrack.js';
import type { TcpConntrackState } from './conntrack/tcp-state.js';
import type { NetfilterConfig } from './netfilter.js';

export interface ConfigProblem {
  /** Path below the router node: ['nat', 'publish', 0]. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export const NETFILTER_KEYS = ['nat', 'firewall', 'conntrack'] as const;

type Path = (string | number)[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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

/** Validates the three blocks; `interfaces` are the router's interface names. */
export function parseNetfilterConfig(raw: Partial<Record<(typeof NETFILTER_KEYS)[number], unknown>>, interfaces: readonly string[]): { config: NetfilterConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const problem = (path: Path, message: string): undefined => {
    problems.push({ path, message });
    return undefined;
  };
  const iface = (value: unknown, path: Path): string | undefined => {
    if (typeof value !== 'string') return problem(path, 'expected an interface name');
    if (!interfaces.includes(value)) return problem(path, `no interface '${value}' on this router (it has: ${interfaces.join(', ')})`);
    return value;
  };
  const keys = (value: Record<string, unknown>, path: Path, allowed: readonly string[]): void => {
    for (const k of Object.keys(value)) if (!allowed.includes(k)) problem([...path, k], `unknown field (expected one of: ${allowed.join(', ')})`);
  };

  let nat: NatConfig | undefined;
  if (raw.nat !== undefined) nat = parseNat(raw.nat, ['nat']);
  let firewall: NetfilterConfig['firewall'];
  if (raw.firewall !== undefined) firewall = parseFirewall(raw.firewall, ['firewall']);
  let conntrack: ConntrackOptions | undefined;
  if (raw.conntrack !== undefined) conntrack = parseConntrack(raw.conntrack, ['conntrack']);
  return { config: { nat, firewall, conntrack }, problems };

  function parseSourceRule(value: unknown, path: Path, masquerade: boolean): SourceNatRule | undefined {
    if (masquerade && typeof value === 'string') {
      const out = iface(value, path);
      return out === undefined ? undefined : { outInterface: out };
    }
    if (!isObject(value)) return problem(path, masquerade ? 'expected an interface name or { out, from, ports }' : 'expected { out, to, from, ports }');
    keys(value, path, masquerade ? ['out', 'from', 'ports'] : ['out', 'to', 'from', 'ports']);
    const rule: { -readonly [K in keyof SourceNatRule]: SourceNatRule[K] } = {};
    if (value.out !== undefined) rule.outInterface = iface(value.out, [...path, 'out']);
    else if (masquerade) problem([...path, 'out'], 'missing: the interface whose address connections take');
    if (value.from !== undefined) {
      const cidr = typeof value.from === 'string' ? parseCidrOrAddress(value.from) : undefined;
      if (!cidr) problem([...path, 'from'], 'expected an address or CIDR like 10.0.0.0/24');
      else rule.source = cidr;
    }
    if (!masquerade) {
      const to = typeof value.to === 'string' ? parseIpv4(value.to) : undefined;
      if (to === undefined) problem([...path, 'to'], 'expected the external IPv4 address');
      else rule.to = to;
    }
    if (value.ports !== undefined) {
      const range = parsePortRangeText(String(value.ports));
      if (!range) problem([...path, 'ports'], 'expected a port range like 40000-40999');
      else rule.ports = range;
    }
    return rule;
  }

  function parseNat(value: unknown, path: Path): NatConfig | undefined {
    if (!isObject(value)) return problem(path, 'expected a mapping with masquerade, snat, publish, hairpin, filtering');
    keys(value, path, ['masquerade', 'snat', 'publish', 'hairpin', 'filtering']);
    const source: SourceNatRule[] = [];
    for (const [key, masquerade] of [['masquerade', true], ['snat', false]] as const) {
      const v = value[key];
      if (v === undefined) continue;
      const items = Array.isArray(v) ? v : [v];
      items.forEach((item, i) => {
        const rule = parseSourceRule(item, Array.isArray(v) ? [...path, key, i] : [...path, key], masquerade);
        if (rule) source.push(rule);
      });
    }
    const publish: PublishRule[] = [];
    if (value.publish !== undefined) {
      if (!Array.isArray(value.publish)) problem([...path, 'publish'], 'expected a list like [tcp 8080 -> 10.0.0.10:80]');
      else {
        value.publish.forEach((item, i) => {
          const r = typeof item === 'string' ? parsePublish(item) : { ok: false as const, error: 'expected text like tcp 8080 -> 10.0.0.10:80' };
          if (!r.ok) return problem([...path, 'publish', i], r.error);
          if (r.rule.inInterface !== undefined && iface(r.rule.inInterface, [...path, 'publish', i]) === undefined) return;
          publish.push(r.rule);
        });
      }
    }
    let hairpin: boolean | undefined;
    if (value.hairpin !== undefined) {
      if (typeof value.hairpin !== 'boolean') problem([...path, 'hairpin'], 'expected true or false');
      else hairpin = value.hairpin;
    }
    let filtering: NatFiltering | undefined;
    if (value.filtering !== undefined) {
      if (value.filtering !== 'endpoint-independent' && value.filtering !== 'address-port-dependent') {
        problem([...path, 'filtering'], 'expected endpoint-independent or address-port-dependent');
      } else filtering = value.filtering;
    }
    return { source, publish, hairpin, filtering };
  }

  function parseFirewall(value: unknown, path: Path): NetfilterConfig['firewall'] {
    if (!isObject(value)) return problem(path, 'expected a mapping with policy and rules');
    keys(value, path, ['policy', 'rules']);
    const policy: Partial<Record<Chain, Policy>> = {};
    if (value.policy !== undefined) {
      if (!isObject(value.policy)) problem([...path, 'policy'], 'expected { input: accept|drop, forward: ..., output: ... }');
      else {
        for (const [chain, p] of Object.entries(value.policy)) {
          if (!CHAINS.includes(chain as Chain)) problem([...path, 'policy', chain], `not a chain (${CHAINS.join(', ')})`);
          else if (p !== 'accept' && p !== 'drop') problem([...path, 'policy', chain], 'expected accept or drop');
          else policy[chain as Chain] = p;
        }
      }
    }
    const rules: FirewallRule[] = [];
    if (value.rules !== undefined) {
      if (!Array.isArray(value.rules)) problem([...path, 'rules'], 'expected a list of rules like "forward in lan accept"');
      else {
        value.rules.forEach((item, i) => {
          if (typeof item !== 'string') return problem([...path, 'rules', i], 'expected a rule as text, e.g. "forward in lan accept"');
          const r = parseFirewallRule(item);
          if (!r.ok) return problem([...path, 'rules', i], r.error);
          for (const name of [r.rule.inInterface, r.rule.outInterface]) if (name !== undefined) iface(name, [...path, 'rules', i]);
          rules.push(r.rule);
        });
      }
    }
    return { policy, rules };
  }

  function parseConntrack(value: unknown, path: Path): ConntrackOptions | undefined {
    if (!isObject(value)) return problem(path, 'expected a mapping with max and timeouts');
    keys(value, path, ['max', 'timeouts']);
    let max: number | undefined;
    if (value.max !== undefined) {
      if (typeof value.max !== 'number' || !Number.isInteger(value.max) || value.max < 1 || value.max > 4_194_304) problem([...path, 'max'], 'expected an integer from 1 to 4194304');
      else max = value.max;
    }
    const timeouts: { -readonly [K in keyof NonNullable<ConntrackOptions['timeouts']>]: NonNullable<ConntrackOptions['timeouts']>[K] } = {};
    if (value.timeouts !== undefined) {
      if (!isObject(value.timeouts)) problem([...path, 'timeouts'], 'expected seconds per kind: udp, udpUnreplied, icmp, generic, tcpEstablished, tcpTransitory');
      else {
        const allowed = ['udp', 'udpUnreplied', 'icmp', 'generic', 'tcpEstablished', 'tcpTransitory'];
        keys(value.timeouts, [...path, 'timeouts'], allowed);
        const seconds = (k: string): number | undefined => {
          const v = (value.timeouts as Record<string, unknown>)[k];
          if (v === undefined) return undefined;
          if (typeof v !== 'number' || !(v > 0) || v > 10 * 24 * 3600) return problem([...path, 'timeouts', k], 'expected seconds, more than 0');
          return v * 1000;
        };
        timeouts.udpReplied = seconds('udp');
        timeouts.udpUnreplied = seconds('udpUnreplied');
        timeouts.icmp = seconds('icmp');
        timeouts.generic = seconds('generic');
        const established = seconds('tcpEstablished');
        const transitory = seconds('tcpTransitory');
        if (established !== undefined || transitory !== undefined) {
          const tcp: Partial<Record<TcpConntrackState, number>> = {};
          if (established !== undefined) tcp.ESTABLISHED = established;
          if (transitory !== undefined) for (const s of ['SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE'] as const) tcp[s] = transitory;
          timeouts.tcp = tcp;
        }
        for (const k of Object.keys(timeouts) as (keyof typeof timeouts)[]) if (timeouts[k] === undefined) delete timeouts[k];
      }
    }
    return { max, timeouts };
  }
}

/** True when a router node asks for any of conntrack, NAT or a firewall. */
export function wantsNetfilter(raw: Partial<Record<(typeof NETFILTER_KEYS)[number], unknown>>): boolean {
  return NETFILTER_KEYS.some((k) => raw[k] !== undefined);
}

