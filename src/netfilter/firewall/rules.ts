/**
 * Firewall rules: what a rule matches, what it does, and the one-line text
 * form lab files use.
 *
 * Read first: the nft(8) man page ("ct state", "reject with"), RFC 1812
 * §5.2.7.1 (code 13, "communication administratively prohibited", is what a
 * filtering router sends), RFC 9293 §3.10.7.1 (how a RST answers a segment).
 *
 * The text form reads like nft, one rule per line, fields in any order
 * before the action:
 *
 *   forward in lan out wan accept
 *   forward state established,related accept
 *   input in wan tcp dport 22 drop
 *   forward to 10.0.0.10 tcp dport 80 state new accept
 *   input icmp type echo-request reject with admin-prohibited
 *
 * Chains are Linux's: `input` (to this host), `forward` (through it),
 * `output` (from it). A rule without a field matches any value of it.
 */
import { formatIpv4, formatIpv4Cidr, parseIpv4, parseIpv4Cidr, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { Icmpv4Type, Icmpv4UnreachableCode } from '../../l3/icmpv4/message.js';
import { CT_STATES, type CtState } from '../conntrack/conntrack.js';
import type { PortRange } from '../nat/mappings.js';

export type Chain = 'input' | 'forward' | 'output';
export const CHAINS: readonly Chain[] = ['input', 'forward', 'output'];

export type FirewallAction = 'accept' | 'drop' | 'reject';
export type Policy = 'accept' | 'drop';

/** How `reject` answers: a TCP RST, or an ICMP destination unreachable code (RFC 792, RFC 1812 §5.2.7.1). */
export const RejectWith = {
  'tcp-reset': -1,
  'net-unreachable': Icmpv4UnreachableCode.net,
  'host-unreachable': Icmpv4UnreachableCode.host,
  'protocol-unreachable': Icmpv4UnreachableCode.protocol,
  'port-unreachable': Icmpv4UnreachableCode.port,
  'net-prohibited': Icmpv4UnreachableCode.netProhibited,
  'host-prohibited': Icmpv4UnreachableCode.hostProhibited,
  'admin-prohibited': Icmpv4UnreachableCode.adminProhibited,
} as const;
export type RejectKind = keyof typeof RejectWith;

const ICMP_TYPE_NAMES: Record<string, number> = {
  'echo-reply': Icmpv4Type.EchoReply,
  'destination-unreachable': Icmpv4Type.DestinationUnreachable,
  redirect: Icmpv4Type.Redirect,
  'echo-request': Icmpv4Type.EchoRequest,
  'time-exceeded': Icmpv4Type.TimeExceeded,
  'parameter-problem': Icmpv4Type.ParameterProblem,
};

export interface FirewallRule {
  readonly chain: Chain;
  readonly inInterface?: string;
  readonly outInterface?: string;
  readonly source?: Ipv4Cidr;
  readonly destination?: Ipv4Cidr;
  readonly protocol?: number;
  readonly sourcePorts?: PortRange;
  readonly destinationPorts?: PortRange;
  readonly icmpType?: number;
  readonly states?: readonly CtState[];
  readonly action: FirewallAction;
  /**
   * For `reject`; absent: a TCP RST for TCP and ICMP port unreachable for
   * everything else (what `nft ... reject` and iptables REJECT send by default).
   */
  readonly rejectWith?: RejectKind;
}

export interface FirewallConfig {
  /** Per chain; absent chains accept (Linux's default policy). */
  readonly policy?: Partial<Record<Chain, Policy>>;
  readonly rules?: readonly FirewallRule[];
}

export type RuleParseResult = { ok: true; rule: FirewallRule } | { ok: false; error: string };

const PROTOCOLS: Record<string, number> = { tcp: IpProtocol.TCP, udp: IpProtocol.UDP, icmp: IpProtocol.ICMP };

function parsePortRange(text: string): PortRange | undefined {
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (min > 65535 || max > 65535 || min > max) return undefined;
  return { min, max };
}

/** "10.0.0.0/24", or a single address as a /32. */
export function parseCidrOrAddress(text: string): Ipv4Cidr | undefined {
  if (text.includes('/')) return parseIpv4Cidr(text);
  const address = parseIpv4(text);
  return address === undefined ? undefined : { address, prefixLength: 32 };
}

/** Parses one rule in the text form above. User input: errors come back as text, never thrown. */
export function parseFirewallRule(text: string): RuleParseResult {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  const fail = (error: string): RuleParseResult => ({ ok: false, error: `firewall rule '${text.trim()}': ${error}` });
  const chain = words.shift();
  if (!chain || !CHAINS.includes(chain as Chain)) return fail(`starts with a chain (${CHAINS.join(', ')}), not '${chain ?? ''}'`);
  const rule: { -readonly [K in keyof FirewallRule]: FirewallRule[K] } = { chain: chain as Chain, action: 'accept' };
  let action: FirewallAction | undefined;
  while (words.length > 0) {
    const word = words.shift()!;
    const value = (): string | undefined => words.shift();
    if (action !== undefined) {
      if (action === 'reject' && word === 'with') {
        const kind = value();
        if (kind === undefined || !(kind in RejectWith)) return fail(`reject with one of ${Object.keys(RejectWith).join(', ')}`);
        rule.rejectWith = kind as RejectKind;
        continue;
      }
      return fail(`'${word}' after the action`);
    }
    switch (word) {
      case 'in':
      case 'out': {
        const name = value();
        if (!name) return fail(`'${word}' needs an interface name`);
        if (word === 'in') rule.inInterface = name;
        else rule.outInterface = name;
        break;
      }
      case 'from':
      case 'to': {
        const v = value() ?? '';
        const cidr = parseCidrOrAddress(v);
        if (!cidr) return fail(`'${word}' needs an address or CIDR, not '${v}'`);
        if (word === 'from') rule.source = cidr;
        else rule.destination = cidr;
        break;
      }
      case 'tcp':
      case 'udp':
      case 'icmp':
        rule.protocol = PROTOCOLS[word];
        break;
      case 'proto': {
        const v = value() ?? '';
        const n = PROTOCOLS[v] ?? (/^[0-9]{1,3}$/.test(v) && Number(v) <= 255 ? Number(v) : undefined);
        if (n === undefined) return fail(`'proto' needs tcp, udp, icmp or a number 0-255, not '${v}'`);
        rule.protocol = n;
        break;
      }
      case 'sport':
      case 'dport': {
        const v = value() ?? '';
        const range = parsePortRange(v);
        if (!range) return fail(`'${word}' needs a port or a range like 8000-8080, not '${v}'`);
        if (rule.protocol !== IpProtocol.TCP && rule.protocol !== IpProtocol.UDP) return fail(`'${word}' needs tcp or udp first`);
        if (word === 'sport') rule.sourcePorts = range;
        else rule.destinationPorts = range;
        break;
      }
      case 'type': {
        const v = value() ?? '';
        const type = ICMP_TYPE_NAMES[v] ?? (/^[0-9]{1,3}$/.test(v) && Number(v) <= 255 ? Number(v) : undefined);
        if (type === undefined) return fail(`'type' needs an ICMP type (${Object.keys(ICMP_TYPE_NAMES).join(', ')} or a number)`);
        if (rule.protocol !== IpProtocol.ICMP) return fail(`'type' needs icmp first`);
        rule.icmpType = type;
        break;
      }
      case 'state': {
        const v = value() ?? '';
        const states = v.split(',');
        const bad = states.find((s) => !CT_STATES.includes(s as CtState));
        if (bad !== undefined || v === '') return fail(`'state' needs a list of ${CT_STATES.join(', ')}, not '${v}'`);
        rule.states = states as CtState[];
        break;
      }
      case 'accept':
      case 'drop':
      case 'reject':
        action = word;
        rule.action = word;
        break;
      default:
        return fail(`unknown word '${word}'`);
    }
  }
  if (action === undefined) return fail('ends without an action (accept, drop, reject)');
  if (rule.rejectWith === 'tcp-reset' && rule.protocol !== IpProtocol.TCP) return fail(`'reject with tcp-reset' needs tcp`);
  return { ok: true, rule };
}

/** A /32 is written as the bare address, as it was probably typed. */
function describeCidr(c: Ipv4Cidr): string {
  return c.prefixLength === 32 ? formatIpv4(c.address) : formatIpv4Cidr(c);
}

function describeRange(r: PortRange): string {
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

function protocolWord(protocol: number): string {
  const name = Object.entries(PROTOCOLS).find(([, n]) => n === protocol)?.[0];
  return name ?? `proto ${protocol}`;
}

/** The rule in its text form (parseFirewallRule ∘ describeFirewallRule is the identity). */
export function describeFirewallRule(rule: FirewallRule, withChain = true): string {
  const parts: string[] = withChain ? [rule.chain] : [];
  if (rule.inInterface !== undefined) parts.push(`in ${rule.inInterface}`);
  if (rule.outInterface !== undefined) parts.push(`out ${rule.outInterface}`);
  if (rule.source) parts.push(`from ${describeCidr(rule.source)}`);
  if (rule.destination) parts.push(`to ${describeCidr(rule.destination)}`);
  if (rule.protocol !== undefined) parts.push(protocolWord(rule.protocol));
  if (rule.sourcePorts) parts.push(`sport ${describeRange(rule.sourcePorts)}`);
  if (rule.destinationPorts) parts.push(`dport ${describeRange(rule.destinationPorts)}`);
  if (rule.icmpType !== undefined) {
    const name = Object.entries(ICMP_TYPE_NAMES).find(([, t]) => t === rule.icmpType)?.[0];
    parts.push(`type ${name ?? rule.icmpType}`);
  }
  if (rule.states) parts.push(`state ${rule.states.join(',')}`);
  parts.push(rule.action);
  if (rule.rejectWith) parts.push(`with ${rule.rejectWith}`);
  return parts.join(' ');
}
