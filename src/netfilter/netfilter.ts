/**
 * Conntrack, NAT and the firewall on a router's packet path, at the hook
 * points and priorities of Linux netfilter (src/l3/routing/hooks.ts):
 *
 *   prerouting   defrag + conntrack (-200)  →  dnat (-100)
 *   input        filter (0)  →  confirm (last)
 *   forward      filter (0)
 *   postrouting  snat (100)  →  confirm (last)
 *   local output conntrack, dnat, filter (output chain), snat, confirm,
 *                in one call from Ipv4Output.send (Ipv4Output.localOut)
 *
 * Read first: src/netfilter/conntrack/conntrack.ts (connections and their two
 * tuples), src/netfilter/nat/nat.ts (translation = changing the reply tuple),
 * src/netfilter/firewall/firewall.ts (chains and verdicts).
 *
 * One packet crosses several hooks, and they share what conntrack found for
 * it (Linux keeps it in skb->_nfct). Hooks run synchronously, one packet at
 * a time, so `current` holds it from prerouting to input or postrouting;
 * each later hook checks it is still the same packet.
 *
 * The host's own answers about a packet being handled (a reject's ICMP error
 * or RST, time exceeded) belong to that packet's connection even before it
 * is confirmed: local output attaches them to `current` (Linux's
 * nf_ct_attach), so they are translated back to what the sender knows.
 */
import type { StackContext } from '../core/context.js';
import { verifyChecksum } from '../core/checksum.js';
import type { TransportOffload } from '../core/offload.js';
import { formatIpv4, type Ipv4Address } from '../l3/ipv4/address.js';
import { Ipv4HeaderView } from '../l3/ipv4/header.js';
import type { Ipv4Link } from '../l3/ipv4/link.js';
import { Ipv4Reassembler } from '../l3/ipv4/reassembly.js';
import { IpProtocol } from '../l3/ip-protocol.js';
import { Conntrack, ORIGINAL, REPLY, type ConntrackOptions, type TrackResult } from './conntrack/conntrack.js';
import { classifyPacket, conntrackProtocolName, invertTuple, tuplesEqual, type PacketClass, type Tuple } from './conntrack/tuple.js';
import { Nat, type NatConfig } from './nat/nat.js';
import { Firewall, rejectIcmpCode } from './firewall/firewall.js';
import type { Chain, FirewallConfig } from './firewall/rules.js';
import { tcpResetFor } from './firewall/reject.js';
import { HookPriority, type HookPacket, type HookTable, type HookVerdict } from '../l3/routing/hooks.js';
import type { Ipv4Output } from '../l3/ipv4/output.js';

export interface NetfilterConfig {
  readonly conntrack?: ConntrackOptions;
  readonly nat?: NatConfig;
  readonly firewall?: FirewallConfig;
}

/** What netfilter needs from the node it runs on. */
export interface NetfilterHost {
  isLocalAddress(address: Ipv4Address): boolean;
  localPortInUse?(protocol: number, address: Ipv4Address, port: number): boolean;
  /** Sends a datagram the host builds itself (a reject's TCP RST). */
  sendIpv4(source: Ipv4Address, destination: Ipv4Address, protocol: number, payload: Uint8Array): void;
}

/** What a router offers to plug into (src/node/router.ts). */
export interface FilterableRouter {
  readonly ctx: StackContext;
  readonly hooks: HookTable;
  readonly ipv4Out: Ipv4Output;
  readonly ipv4In: { isLocalAddress(address: Ipv4Address): boolean };
  /** Set by `attach`, so the router answers `show conntrack|nat|firewall`. */
  netfilter: { show(what: 'conntrack' | 'firewall' | 'nat'): string; showJson(what: 'conntrack' | 'firewall' | 'nat'): unknown } | undefined;
}

interface Current {
  /** The packet's bytes as prerouting left them (later hooks get the same object). */
  readonly bytes: Uint8Array;
  readonly cls: PacketClass;
  readonly result: TrackResult;
}

const INVALID_ICMP_CHECKSUM: PacketClass = { kind: 'invalid', reason: 'ICMP error with a bad checksum' };

export class Netfilter {
  readonly conntrack: Conntrack;
  readonly nat: Nat | undefined;
  readonly firewall: Firewall | undefined;
  /** nf_defrag_ipv4: conntrack needs ports, which only the first fragment has. */
  private readonly defrag: Ipv4Reassembler;
  private readonly inView = new Ipv4HeaderView();
  private readonly outView = new Ipv4HeaderView();
  private current: Current | undefined;

  constructor(
    private readonly ctx: StackContext,
    config: NetfilterConfig,
    private readonly host: NetfilterHost,
  ) {
    this.conntrack = new Conntrack(ctx, config.conntrack);
    this.nat = config.nat ? new Nat(ctx, this.conntrack, config.nat, host) : undefined;
    this.firewall = config.firewall ? new Firewall(ctx, config.firewall) : undefined;
    // Linux's conntrack defrag sends no "reassembly time exceeded": only end hosts do (RFC 792).
    this.defrag = new Ipv4Reassembler(ctx);
  }

  /** Registers every hook on `router` and its local output; returns a function that removes them. */
  static attach(router: FilterableRouter, config: NetfilterConfig): Netfilter {
    const nf = new Netfilter(router.ctx, config, {
      isLocalAddress: (a) => router.ipv4In.isLocalAddress(a),
      sendIpv4: (source, destination, protocol, payload) => {
        router.ipv4Out.send({ source, destination, protocol }, payload);
      },
    });
    nf.plugInto(router.hooks);
    router.ipv4Out.localOut = (packet, route, partialChecksum) => nf.localOut(packet, route.link, partialChecksum);
    router.netfilter = nf;
    return nf;
  }

  plugInto(hooks: HookTable): () => void {
    const last = HookPriority.conntrackConfirm;
    const removers = [
      hooks.add('prerouting', (p) => this.prerouting(p), { priority: HookPriority.conntrack, name: 'conntrack' }),
      hooks.add('prerouting', (p) => this.dnat(p), { priority: HookPriority.dnat, name: 'dnat' }),
      hooks.add('input', (p) => this.filterHook('input', p), { priority: HookPriority.filter, name: 'filter' }),
      hooks.add('input', (p) => this.confirmInput(p), { priority: last, name: 'confirm' }),
      hooks.add('forward', (p) => this.filterHook('forward', p), { priority: HookPriority.filter, name: 'filter' }),
      hooks.add('postrouting', (p) => this.snat(p), { priority: HookPriority.snat, name: 'snat' }),
      hooks.add('postrouting', (p) => this.confirmForward(p), { priority: last, name: 'confirm' }),
    ];
    return () => removers.forEach((remove) => remove());
  }

  /** Defragments, classifies and tracks every arriving packet (Linux NF_IP_PRI_CONNTRACK_DEFRAG, NF_IP_PRI_CONNTRACK). */
  prerouting(p: HookPacket): HookVerdict {
    const v = this.inView;
    this.current = undefined;
    if (v.wrap(p.bytes, false)) return 'accept'; // the router checked it; Ipv4Input counts what does not parse
    if (v.isFragment) {
      const whole = this.defrag.receive(p.bytes);
      if (!whole) return 'stolen'; // held until the rest arrives (or dropped and counted by the reassembler)
      p.bytes = whole;
      v.wrap(whole, false);
    }
    const cls = this.classify(v);
    const result = this.conntrack.track(v, cls);
    const c = result.connection;
    if (c && !c.confirmed) {
      if (!this.conntrack.hasRoom()) {
        this.ctx.trace.dropped('ctDrop', 'conntrack table full of answered connections', () => v.describe());
        return 'drop';
      }
      c.inLink = p.inLink.name;
    }
    this.current = { bytes: p.bytes, cls, result };
    if (this.ctx.trace.watching) this.ctx.trace.step(`netfilter PREROUTING conntrack (nf_conntrack_in): ${v.describe()}: ${c ? `${result.state}, ${c.confirmed ? 'known connection' : 'new connection'}` : 'not tracked'}`);
    return 'accept';
  }

  /** DNAT: the first packet binds (published ports), every packet is rewritten (Linux NF_IP_PRI_NAT_DST). */
  private dnat(p: HookPacket): HookVerdict {
    const cur = this.currentFor(p);
    const c = cur.result.connection;
    if (!this.nat || !c) return 'accept';
    if (!c.confirmed) this.nat.bindDestination(c, p.inLink);
    this.nat.translate(p.bytes, cur.cls, c, cur.result.direction, 'destination', isPartial(p.offload));
    return 'accept';
  }

  private filterHook(chain: Chain, p: HookPacket): HookVerdict {
    const fw = this.firewall;
    if (!fw || fw.passesAll(chain)) return 'accept';
    const cur = this.currentFor(p);
    const v = this.inView;
    if (v.wrap(p.bytes, false)) return 'accept';
    const verdict = fw.filter(chain, v, { state: cur.result.state, inInterface: p.inLink.name, outInterface: p.outLink?.name });
    if (this.ctx.trace.watching) this.ctx.trace.step(`netfilter ${chain} filter: ${'rule' in verdict && verdict.rule !== undefined ? `rule ${verdict.rule + 1}` : 'policy or accepting rule'}: ${verdict.action}`);
    if (verdict.action === 'accept') return 'accept';
    if (verdict.action === 'drop') return 'drop'; // counted by the firewall (fw<Chain>Dropped) and by the router
    const code = rejectIcmpCode(verdict.with);
    if (code !== undefined) return { reject: code, reason: `firewall rule ${verdict.rule + 1}` };
    const rst = tcpResetFor(v);
    if (rst) this.host.sendIpv4(rst.source, rst.destination, IpProtocol.TCP, rst.segment);
    return 'stolen';
  }

  /** Packets for this host: source NAT of the reply direction, then the connection enters the table. */
  private confirmInput(p: HookPacket): HookVerdict {
    const cur = this.currentFor(p);
    this.current = undefined;
    const c = cur.result.connection;
    if (!c) return 'accept';
    this.nat?.translate(p.bytes, cur.cls, c, cur.result.direction, 'source', isPartial(p.offload));
    return this.confirm(c) ? 'accept' : 'drop';
  }

  /** SNAT: the first packet binds (masquerade, hairpin), every packet is rewritten (Linux NF_IP_PRI_NAT_SRC). */
  private snat(p: HookPacket): HookVerdict {
    const cur = this.currentFor(p);
    const c = cur.result.connection;
    if (!this.nat || !c || !p.outLink) return 'accept';
    if (!c.confirmed && !this.nat.bindSource(c, p.outLink)) return 'drop'; // counted natPortExhausted
    this.nat.translate(p.bytes, cur.cls, c, cur.result.direction, 'source', isPartial(p.offload));
    return 'accept';
  }

  private confirmForward(p: HookPacket): HookVerdict {
    const cur = this.currentFor(p);
    this.current = undefined;
    const c = cur.result.connection;
    if (!c) return 'accept';
    return this.confirm(c) ? 'accept' : 'drop';
  }

  /**
   * A datagram this host sends (Ipv4Output.send, after routing): OUTPUT and
   * POSTROUTING in one call. False drops it. Rewrites happen in place.
   */
  localOut(packet: Uint8Array, outLink: Ipv4Link, partialChecksum = false): boolean {
    const v = this.outView;
    if (v.wrap(packet, false)) return true;
    const cls = this.classify(v);
    const attached = this.attachedTo(cls);
    const result = attached ?? this.conntrack.track(v, cls);
    const c = result.connection;
    if (c && !c.confirmed && !attached && !this.conntrack.hasRoom()) {
      this.ctx.trace.dropped('ctDrop', 'conntrack table full of answered connections', () => v.describe());
      return false;
    }
    if (c && this.nat) this.nat.translate(packet, cls, c, result.direction, 'destination', partialChecksum);
    const fw = this.firewall;
    if (fw && !fw.passesAll('output')) {
      // Like Linux, the host's own packets (its rejects' RSTs and ICMP errors too) pass the output chain; a drop is counted there.
      const verdict = fw.filter('output', v, { state: result.state, outInterface: outLink.name });
      if (verdict.action !== 'accept') return false;
    }
    if (!c) return true;
    if (this.nat) {
      if (!c.confirmed && !attached && !this.nat.bindSource(c, outLink)) return false;
      this.nat.translate(packet, cls, c, result.direction, 'source', partialChecksum);
    }
    // An attached connection is confirmed (or not) by the packet it answers.
    return attached ? true : this.confirm(c);
  }

  /** The connection of the packet being handled, if `cls` answers it (a reject's RST or ICMP error). */
  private attachedTo(cls: PacketClass): TrackResult | undefined {
    const c = this.current?.result.connection;
    if (!c || c.confirmed) return undefined;
    let tuple: Tuple;
    if (cls.kind === 'icmpError') tuple = invertTuple(cls.inner);
    else if (cls.kind === 'tcp' || cls.kind === 'udp' || cls.kind === 'icmpQuery' || cls.kind === 'generic') tuple = cls.tuple;
    else return undefined;
    for (const direction of [ORIGINAL, REPLY] as const) {
      if (tuplesEqual(tuple, c.tuples[direction])) {
        return { state: cls.kind === 'icmpError' ? 'related' : 'established', connection: c, direction };
      }
    }
    return undefined;
  }

  private confirm(c: NonNullable<TrackResult['connection']>): boolean {
    if (c.confirmed) return true;
    const result = this.conntrack.confirm(c);
    if (result !== 'ok') {
      this.nat?.abandon(c);
      return false;
    }
    this.nat?.confirmed(c);
    return true;
  }

  /** What prerouting found for this packet; a packet that skipped it is tracked now. */
  private currentFor(p: HookPacket): Current {
    const cur = this.current;
    if (cur && cur.bytes === p.bytes) return cur;
    const v = this.inView;
    if (v.wrap(p.bytes, false)) return { bytes: p.bytes, cls: { kind: 'invalid', reason: 'unparsable' }, result: { state: 'invalid', direction: ORIGINAL } };
    const cls = this.classify(v);
    const fresh = { bytes: p.bytes, cls, result: this.conntrack.track(v, cls) };
    this.current = fresh;
    return fresh;
  }

  /** RFC 5508 §4.2 / Linux icmp_error(): an error is only translated when its checksum holds (the rewrite recomputes it). */
  private classify(v: Ipv4HeaderView): PacketClass {
    const cls = classifyPacket(v);
    if (cls.kind === 'icmpError' && !verifyChecksum(v.payload, 0, v.payload.length)) return INVALID_ICMP_CHECKSUM;
    return cls;
  }

  /** `tapnet show conntrack|firewall|nat`. */
  /** `show conntrack|firewall|nat --json`: field names after `conntrack -L -o` and `nft -j`. */
  showJson(what: 'conntrack' | 'firewall' | 'nat'): unknown {
    const now = this.ctx.clock.now();
    const tuple = (t: Tuple) => ({ src: formatIpv4(t.source), dst: formatIpv4(t.destination), sport: t.sourcePort, dport: t.destinationPort });
    switch (what) {
      case 'conntrack':
        return {
          max: this.conntrack.max,
          entries: this.conntrack.entries().map((c) => ({
            protocol: conntrackProtocolName(c.tuples[ORIGINAL].protocol),
            timeout: Math.max(0, Math.ceil((c.expiresAt - now) / 1000)),
            ...(c.tcp ? { state: c.tcp.state } : {}),
            original: { ...tuple(c.tuples[ORIGINAL]), packets: c.packets[0], bytes: c.bytes[0] },
            reply: { ...tuple(c.tuples[REPLY]), packets: c.packets[1], bytes: c.bytes[1] },
            unreplied: !c.seenReply,
            assured: c.assured,
            ...(this.nat?.describeConnection(c) ? { nat: this.nat.describeConnection(c) } : {}),
          })),
        };
      case 'firewall':
        return this.firewall ? this.firewall.rows() : null;
      case 'nat':
        return this.nat ? this.nat.rows() : null;
    }
  }

  show(what: 'conntrack' | 'firewall' | 'nat'): string {
    switch (what) {
      case 'conntrack': {
        const entries = this.conntrack.entries();
        let out = '';
        for (const c of entries) {
          const nat = this.nat?.describeConnection(c) ?? '';
          out += `${this.conntrack.describe(c)}${nat ? ` ${nat}` : ''}\n`;
        }
        return `${out}${entries.length} flow entries (max ${this.conntrack.max})\n`;
      }
      case 'firewall':
        return this.firewall ? this.firewall.show() : 'no firewall configured\n';
      case 'nat':
        return this.nat ? this.nat.show() : 'no NAT configured\n';
    }
  }
}

/** The packet's transport checksum is a partial one's seed (hooks.ts HookPacket.offload). */
function isPartial(offload: TransportOffload | undefined): boolean {
  return offload !== undefined && offload.checksumStart > 0;
}
