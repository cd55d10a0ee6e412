/**
 * A stateful packet filter: ordered rules per chain, first match wins,
 * otherwise the chain's policy; every rule counts the packets and bytes it
 * matched, as `nft list ruleset` / `iptables -L -v` show them.
 *
 * Read first: rules.ts (what a rule is), RFC 4787 REQ-8 / RFC 5382 REQ-3
 * (why "established,related" is the usual first rule: a stateful filter lets
 * answers in because conntrack saw the question go out), RFC 1812 §5.2.7.1.
 *
 * The filter decides; it sends nothing. A `reject` verdict says how to
 * answer, and the packet path (src/netfilter) sends the RST or the ICMP
 * error (STYLE.md rule 7: layers answer, the layer below acts).
 * Matches see the packet as it is at the hook: after DNAT, before SNAT
 * (Linux's order), so rules name real servers, not public addresses.
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import { getU16 } from '../../core/bytes.js';
import { inCidr } from '../../l3/ipv4/address.js';
import type { Ipv4HeaderView } from '../../l3/ipv4/header.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import type { CtState } from '../conntrack/conntrack.js';
import { CHAINS, RejectWith, describeFirewallRule, type Chain, type FirewallConfig, type FirewallRule, type Policy, type RejectKind } from './rules.js';

export type FilterVerdict =
  | { readonly action: 'accept' }
  | { readonly action: 'drop'; readonly rule: number | undefined }
  | { readonly action: 'reject'; readonly rule: number; readonly with: RejectKind };

const ACCEPT: FilterVerdict = { action: 'accept' };

/** Counters named per chain, so `show stats` says where packets died. */
const DROP_COUNTER: Record<Chain, CounterName> = {
  input: 'fwInputDropped',
  forward: 'fwForwardDropped',
  output: 'fwOutputDropped',
};

interface RuleCounters {
  packets: number;
  bytes: number;
}

/** What a filter needs to know about the packet besides its bytes. */
export interface FilterContext {
  readonly state: CtState;
  readonly inInterface?: string;
  readonly outInterface?: string;
}

export class Firewall {
  readonly rules: readonly FirewallRule[];
  readonly policy: Readonly<Record<Chain, Policy>>;
  private readonly byChain: Record<Chain, number[]>;
  private readonly counters: RuleCounters[];
  private readonly policyCounters: Record<Chain, RuleCounters>;

  constructor(
    private readonly ctx: StackContext,
    config: FirewallConfig,
  ) {
    this.rules = config.rules ?? [];
    this.policy = { input: 'accept', forward: 'accept', output: 'accept', ...config.policy };
    this.byChain = { input: [], forward: [], output: [] };
    this.rules.forEach((r, i) => this.byChain[r.chain].push(i));
    this.counters = this.rules.map(() => ({ packets: 0, bytes: 0 }));
    this.policyCounters = { input: { packets: 0, bytes: 0 }, forward: { packets: 0, bytes: 0 }, output: { packets: 0, bytes: 0 } };
    ctx.stats.declare(...Object.values(DROP_COUNTER), 'fwRejected');
  }

  /** True when `chain` has no rules and accepts: the packet path may skip it. */
  passesAll(chain: Chain): boolean {
    return this.byChain[chain].length === 0 && this.policy[chain] === 'accept';
  }

  /**
   * Runs `packet` (wrapped in `ip`) through `chain`. Drops and rejects are
   * counted and traced here; the caller sends a reject's answer.
   */
  filter(chain: Chain, ip: Ipv4HeaderView, context: FilterContext): FilterVerdict {
    const length = ip.totalLength;
    for (const index of this.byChain[chain]) {
      const rule = this.rules[index]!;
      if (!this.matches(rule, ip, context)) continue;
      const c = this.counters[index]!;
      c.packets++;
      c.bytes += length;
      switch (rule.action) {
        case 'accept':
          return ACCEPT;
        case 'drop':
          this.ctx.trace.dropped(DROP_COUNTER[chain], `rule ${index + 1}: ${describeFirewallRule(rule)}`, () => ip.describe());
          return { action: 'drop', rule: index };
        case 'reject': {
          this.ctx.trace.dropped(DROP_COUNTER[chain], `rule ${index + 1}: ${describeFirewallRule(rule)}`, () => ip.describe());
          this.ctx.stats.inc('fwRejected');
          const kind = rule.rejectWith ?? (ip.protocol === IpProtocol.TCP ? 'tcp-reset' : 'port-unreachable');
          return { action: 'reject', rule: index, with: kind };
        }
      }
    }
    const p = this.policyCounters[chain];
    p.packets++;
    p.bytes += length;
    if (this.policy[chain] === 'accept') return ACCEPT;
    this.ctx.trace.dropped(DROP_COUNTER[chain], `${chain} policy drop`, () => ip.describe());
    return { action: 'drop', rule: undefined };
  }

  private matches(rule: FirewallRule, ip: Ipv4HeaderView, context: FilterContext): boolean {
    if (rule.inInterface !== undefined && rule.inInterface !== context.inInterface) return false;
    if (rule.outInterface !== undefined && rule.outInterface !== context.outInterface) return false;
    if (rule.states && !rule.states.includes(context.state)) return false;
    if (rule.source && !inCidr(ip.source, rule.source)) return false;
    if (rule.destination && !inCidr(ip.destination, rule.destination)) return false;
    if (rule.protocol !== undefined && rule.protocol !== ip.protocol) return false;
    if (rule.sourcePorts || rule.destinationPorts || rule.icmpType !== undefined) {
      // Ports and types live in the first fragment only; conntrack reassembled before us.
      if (ip.fragmentOffset !== 0) return false;
      const l4 = ip.payload;
      if (rule.icmpType !== undefined) return l4.length >= 1 && l4[0] === rule.icmpType;
      if (l4.length < 4) return false;
      if (rule.sourcePorts && !inRange(getU16(l4, 0), rule.sourcePorts)) return false;
      if (rule.destinationPorts && !inRange(getU16(l4, 2), rule.destinationPorts)) return false;
    }
    return true;
  }

  /** `iptables -L -v`-style listing with hit counters, for `tapnet show firewall`. */
  show(): string {
    let out = '';
    for (const chain of CHAINS) {
      const p = this.policyCounters[chain];
      out += `chain ${chain} (policy ${this.policy[chain]}: ${p.packets} packets, ${p.bytes} bytes)\n`;
      out += `  ${'#'.padStart(3)} ${'pkts'.padStart(8)} ${'bytes'.padStart(10)}  rule\n`;
      for (const index of this.byChain[chain]) {
        const c = this.counters[index]!;
        out += `  ${String(index + 1).padStart(3)} ${String(c.packets).padStart(8)} ${String(c.bytes).padStart(10)}  ${describeFirewallRule(this.rules[index]!, false)}\n`;
      }
    }
    return out;
  }

  /** `show firewall --json`: each chain's policy and counters, its rules in order with theirs. */
  rows(): { chain: Chain; policy: string; packets: number; bytes: number; rules: { index: number; rule: string; packets: number; bytes: number }[] }[] {
    return CHAINS.map((chain) => ({
      chain,
      policy: this.policy[chain],
      ...this.policyCounters[chain],
      rules: this.byChain[chain].map((index) => ({ index: index + 1, rule: describeFirewallRule(this.rules[index]!, false), ...this.counters[index]! })),
    }));
  }

  /** Hit counters by rule index, for tests and `show firewall --json`. */
  hits(): { rule: string; packets: number; bytes: number }[] {
    return this.rules.map((r, i) => ({ rule: describeFirewallRule(r), ...this.counters[i]! }));
  }
}

function inRange(port: number, range: { min: number; max: number }): boolean {
  return port >= range.min && port <= range.max;
}

/** The ICMP code for a reject kind, or undefined for a TCP reset. */
export function rejectIcmpCode(kind: RejectKind): number | undefined {
  const code = RejectWith[kind];
  return code < 0 ? undefined : code;
}
