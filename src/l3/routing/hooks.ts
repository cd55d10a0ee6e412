/**
 * Packet hook points on a router, in the places and order of Linux's
 * netfilter hooks (net/ipv4/ip_input.c, ip_forward.c, ip_output.c), so NAT,
 * conntrack and the firewall plug in where a learner expects them:
 *
 *   wire → [prerouting] → routing decision ─┬─ for us ───→ [input] → local delivery
 *                                           └─ forward ──→ [forward] → [postrouting] → wire
 *
 *   prerouting   every valid IPv4 packet that arrives, before the "for us?"
 *                decision: conntrack lookup, DNAT (port forwards), defrag
 *   input        packets for the router itself, after prerouting
 *   forward      forwarded packets after the route is chosen and the TTL is
 *                decremented: the stateful firewall's FORWARD chain
 *   postrouting  forwarded packets just before they leave: SNAT/masquerade
 *
 * Hooks run in ascending `priority` (netfilter's NF_IP_PRI_* numbers:
 * conntrack -200, DNAT -100, filter 0, SNAT 100); equal priorities run in
 * registration order. A hook may rewrite `packet.bytes` in place or replace
 * it with new bytes; either way it must leave a valid IPv4 packet with a
 * correct header checksum (and fix transport checksums it touches: RFC 1624).
 */
import type { TransportOffload } from '../../core/offload.js';
import type { Ipv4Address } from '../ipv4/address.js';
import type { Ipv4Link } from '../ipv4/link.js';

export type HookPoint = 'prerouting' | 'input' | 'forward' | 'postrouting';
export const HOOK_POINTS: readonly HookPoint[] = ['prerouting', 'input', 'forward', 'postrouting'];

/** netfilter's priorities (include/uapi/linux/netfilter_ipv4.h), for hooks that want the usual order. */
export const HookPriority = {
  conntrack: -200, // NF_IP_PRI_CONNTRACK
  dnat: -100, // NF_IP_PRI_NAT_DST
  filter: 0, // NF_IP_PRI_FILTER
  snat: 100, // NF_IP_PRI_NAT_SRC
  conntrackConfirm: 0x7fffffff, // NF_IP_PRI_CONNTRACK_CONFIRM (last)
} as const;

/** The packet as hooks see it. */
export interface HookPacket {
  /** The whole IPv4 packet. A hook may assign new bytes (it then owns the old ones no longer). */
  bytes: Uint8Array;
  /** The interface it arrived on. */
  readonly inLink: Ipv4Link;
  /** Forward and postrouting: where it will leave, and the next hop there. */
  readonly outLink: Ipv4Link | undefined;
  readonly nextHop: Ipv4Address | undefined;
  /** The Ethernet destination was broadcast or multicast. */
  readonly linkBroadcast: boolean;
  /**
   * The packet is a TSO super-packet and/or its transport checksum is partial
   * (offsets from the IP header; core/offload.ts). A hook that rewrites
   * addresses must then patch the checksum's seed, not the checksum (NAT:
   * netfilter/nat/rewrite.ts); one that needs wire packets must not assume
   * `bytes` is one.
   */
  readonly offload: TransportOffload | undefined;
}

/**
 * What a hook decides (netfilter's verdicts):
 *  - 'accept': go on to the next hook, then the stack;
 *  - 'drop': discard silently (the router counts it, the hook names why);
 *  - { reject: code }: discard and answer ICMP destination unreachable with
 *    that code (13 = communication administratively prohibited, RFC 1812 §5.2.7.1);
 *  - 'stolen': the hook took the packet (queued it, e.g. for reassembly)
 *    and will re-inject it itself; the router does nothing more.
 */
export type HookVerdict = 'accept' | 'drop' | 'stolen' | { readonly reject: number; readonly reason?: string };

export type PacketHook = (packet: HookPacket) => HookVerdict;

export interface HookOptions {
  /** Lower runs first; default 0 (filter). */
  readonly priority?: number;
  /** Shown in traces when the hook drops or rejects. */
  readonly name?: string;
}

interface Registered {
  readonly hook: PacketHook;
  readonly priority: number;
  readonly name: string;
  readonly order: number;
}

/** The result of running one hook point: the verdict and, for a drop or reject, the hook that decided. */
export interface HookResult {
  readonly verdict: HookVerdict;
  readonly by: string;
}

const ACCEPTED: HookResult = { verdict: 'accept', by: '' };

export class HookTable {
  private readonly chains = new Map<HookPoint, Registered[]>(HOOK_POINTS.map((p) => [p, []]));
  private registrations = 0;

  /** Registers `hook` at `point`; returns a function that unregisters it. */
  add(point: HookPoint, hook: PacketHook, options: HookOptions = {}): () => void {
    const entry: Registered = { hook, priority: options.priority ?? HookPriority.filter, name: options.name ?? `hook${this.registrations}`, order: this.registrations++ };
    const chain = this.chains.get(point)!;
    chain.push(entry);
    chain.sort((a, b) => a.priority - b.priority || a.order - b.order);
    return () => {
      const i = chain.indexOf(entry);
      if (i >= 0) chain.splice(i, 1);
    };
  }

  /** True when nothing is registered at `point` (the forwarding fast path skips it). */
  isEmpty(point: HookPoint): boolean {
    return this.chains.get(point)!.length === 0;
  }

  /** Runs the hooks of `point` in order until one does not accept. */
  run(point: HookPoint, packet: HookPacket): HookResult {
    const chain = this.chains.get(point)!;
    for (let i = 0; i < chain.length; i++) {
      const entry = chain[i]!;
      const verdict = entry.hook(packet);
      if (verdict !== 'accept') return { verdict, by: entry.name };
    }
    return ACCEPTED;
  }

  /** "prerouting: conntrack(-200), dnat(-100)" lines, for `tapnet show hooks`. */
  describe(): string {
    let out = '';
    for (const [point, chain] of this.chains) {
      out += `${point}: ${chain.length === 0 ? '(none)' : chain.map((e) => `${e.name}(${e.priority})`).join(', ')}\n`;
    }
    return out;
  }
}
