/**
 * Network address translation on top of conntrack: source NAT
 * (masquerade), destination NAT (published ports) and hairpinning.
 *
 * Read first: RFC 3022 (traditional NAT and NAPT), RFC 4787 (UDP: REQ-1
 * endpoint-independent mapping, REQ-3 port ranges, REQ-8 filtering, REQ-9
 * hairpinning), RFC 5382 (the same for TCP), RFC 5508 (ICMP: query
 * identifiers, errors translated inside), and Linux's nf_nat_core.c, whose
 * model this is:
 *
 * - NAT is decided once per connection, on its first packet, and recorded by
 *   changing the connection's REPLY tuple: DNAT changes where replies come
 *   from (the real server), SNAT where they go to (the external address).
 *   Every later packet of either direction is rewritten so that it looks
 *   like the inverse of the other direction's tuple.
 * - Destination changes happen before routing (PREROUTING, or OUTPUT for
 *   the host's own packets) so routing sees the real destination; source
 *   changes after it (POSTROUTING), once the outgoing interface is known.
 * - Masquerade uses the outgoing interface's address; its ports come from
 *   the endpoint-independent mapping table (mappings.ts).
 * - A published port (`publish tcp 8080 -> 10.0.0.10:80`, what `docker run
 *   -p` sets up) is a DNAT rule on the host's own addresses.
 * - Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): an inside client that
 *   reaches an inside server through the external address has its source
 *   translated to its own external mapping on that address (REQ-9b), so the
 *   server's replies come back through the NAT instead of straight to the
 *   client (who would not recognise them).
 * - Filtering (RFC 4787 REQ-8) is "address and port dependent" by default:
 *   only the peers a mapping has talked to get in, which is what conntrack
 *   gives for free. With `filtering: 'endpoint-independent'` any peer may
 *   send to a UDP/TCP mapping (full cone), which peer-to-peer applications like.
 */
import type { StackContext } from '../../core/context.js';
import { getU16, getU32 } from '../../core/bytes.js';
import { formatIpv4, formatIpv4Cidr, inCidr, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { Field as Ipv4Field } from '../../l3/ipv4/header.js';
import type { Ipv4Link } from '../../l3/ipv4/link.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { ORIGINAL, REPLY, type Conntrack, type Connection, type Direction } from '../conntrack/conntrack.js';
import { describeTuple, invertTuple, tupleHasPorts, type PacketClass, type Tuple } from '../conntrack/tuple.js';
import { MappingTable, defaultRange, describeMapping, type NatMapping, type PortRange } from './mappings.js';
import { manipIcmpErrorInner, manipOuterAddress, manipPacket, type Manip } from './rewrite.js';

/** Connections leaving through `outInterface` take the source address `to`, or the interface's own (masquerade). */
export interface SourceNatRule {
  readonly outInterface?: string;
  /** Only sources in this prefix (e.g. the LAN). */
  readonly source?: Ipv4Cidr;
  /** A fixed external address (SNAT); absent: the outgoing interface's first address (masquerade). */
  readonly to?: Ipv4Address;
  /** External ports (and ICMP identifiers) to use; default per RFC 4787 REQ-3. */
  readonly ports?: PortRange;
}

/** A port forward: `protocol` traffic to `port` on the host's address goes to `to`:`toPort`. */
export interface PublishRule {
  readonly protocol: number;
  readonly port: number;
  readonly to: Ipv4Address;
  readonly toPort: number;
  /** The public address it listens on; absent: every address of the host (docker's 0.0.0.0). */
  readonly address?: Ipv4Address;
  /** Only for connections arriving on this interface. */
  readonly inInterface?: string;
}

export type NatFiltering = 'address-port-dependent' | 'endpoint-independent';

/**
 * Virtual services a load balancer in NAT mode offers on this host (IPVS's
 * model, src/services/lb/nat-mode.ts): the first packet of a connection to
 * one is DNATed to the real server the balancer schedules; every later packet
 * follows the conntrack entry, and the replies are un-NATed on the way back.
 */
export interface VirtualServers {
  /**
   * For a new connection: the real server to send it to; 'none' when it is
   * for a virtual service that has no backend to take it (the packet then
   * reaches the host itself, where nothing listens: TCP answers RST, UDP ICMP
   * port unreachable); undefined when it is not for a virtual service.
   */
  schedule(c: Connection): { readonly address: Ipv4Address; readonly port: number } | 'none' | undefined;
  /** The connection left the table (or its first packet was dropped): its real server has one less. */
  released(c: Connection): void;
}

export interface NatConfig {
  readonly source?: readonly SourceNatRule[];
  readonly publish?: readonly PublishRule[];
  /** RFC 4787 REQ-9 (default true). */
  readonly hairpin?: boolean;
  /** RFC 4787 REQ-8 (default 'address-port-dependent'). */
  readonly filtering?: NatFiltering;
  /** A load balancer's NAT-mode virtual services, scheduled before the published ports. */
  readonly virtualServers?: VirtualServers;
}

/** What the NAT needs from the host it runs on. */
export interface NatHost {
  isLocalAddress(address: Ipv4Address): boolean;
  /** The host's own sockets on `port` of `address`: never handed out as an external port. */
  localPortInUse?(protocol: number, address: Ipv4Address, port: number): boolean;
}

/** NAT's notes on one connection (kept in `connection.nat`). */
interface NatState {
  source: 'masquerade' | 'snat' | 'hairpin' | undefined;
  destination: 'publish' | 'mapping' | 'virtual' | undefined;
  /** Mappings this connection holds once confirmed. */
  readonly mappings: NatMapping[];
}

function stateOf(c: Connection): NatState {
  if (!c.nat) c.nat = { source: undefined, destination: undefined, mappings: [] } satisfies NatState;
  return c.nat as NatState;
}

export class Nat {
  readonly mappings: MappingTable;
  readonly sourceRules: readonly SourceNatRule[];
  readonly publishRules: readonly PublishRule[];
  readonly hairpin: boolean;
  readonly filtering: NatFiltering;
  private readonly virtualServers: VirtualServers | undefined;

  constructor(
    private readonly ctx: StackContext,
    private readonly conntrack: Conntrack,
    config: NatConfig,
    private readonly host: NatHost,
  ) {
    this.mappings = new MappingTable(ctx.random);
    this.sourceRules = config.source ?? [];
    this.publishRules = config.publish ?? [];
    this.hairpin = config.hairpin ?? true;
    this.filtering = config.filtering ?? 'address-port-dependent';
    this.virtualServers = config.virtualServers;
    for (const r of this.publishRules) {
      if (r.protocol !== IpProtocol.TCP && r.protocol !== IpProtocol.UDP) throw new Error(`publish: protocol ${r.protocol} has no ports`);
    }
    conntrack.onDestroy((c) => {
      const st = c.nat as NatState | undefined;
      if (st) for (const m of st.mappings) this.mappings.release(m);
      if (st?.destination === 'virtual') this.virtualServers?.released(c);
    });
    ctx.stats.declare('natSnat', 'natDnat', 'natHairpin', 'natPortExhausted', 'natMappings');
  }

  /**
   * DNAT decision for a connection's first packet, before routing
   * (PREROUTING). Published ports first, then (endpoint-independent
   * filtering only) any peer sending to an existing mapping.
   */
  bindDestination(c: Connection, inLink: Ipv4Link | undefined): void {
    const o = c.tuples[ORIGINAL];
    const r = c.tuples[REPLY];
    const real = this.virtualServers?.schedule(c);
    if (real === 'none') return;
    if (real !== undefined) {
      this.conntrack.setReply(c, { ...r, source: real.address, sourcePort: real.port });
      stateOf(c).destination = 'virtual';
      this.ctx.stats.inc('natDnat');
      return;
    }
    for (const rule of this.publishRules) {
      if (rule.protocol !== o.protocol || rule.port !== o.destinationPort) continue;
      if (rule.inInterface !== undefined && rule.inInterface !== inLink?.name) continue;
      if (rule.address !== undefined ? rule.address !== o.destination : !this.host.isLocalAddress(o.destination)) continue;
      this.conntrack.setReply(c, { ...r, source: rule.to, sourcePort: rule.toPort });
      stateOf(c).destination = 'publish';
      this.ctx.stats.inc('natDnat');
      return;
    }
    if (this.filtering === 'endpoint-independent' && (o.protocol === IpProtocol.TCP || o.protocol === IpProtocol.UDP)) {
      const m = this.mappings.findExternal(o.protocol, o.destination, o.destinationPort);
      if (!m) return;
      this.conntrack.setReply(c, { ...r, source: m.internal, sourcePort: m.internalPort });
      const st = stateOf(c);
      st.destination = 'mapping';
      st.mappings.push(m);
      this.ctx.stats.inc('natDnat');
    }
  }

  /**
   * SNAT decision for a connection's first packet, once the outgoing link is
   * known (POSTROUTING). False when no external port is left: the caller
   * drops the packet (`natPortExhausted`).
   */
  bindSource(c: Connection, outLink: Ipv4Link): boolean {
    const o = c.tuples[ORIGINAL];
    const r = c.tuples[REPLY];
    const st = c.nat as NatState | undefined;
    let external: Ipv4Address | undefined;
    let range: PortRange | undefined;
    let kind: NatState['source'];
    if (this.hairpin && st?.destination !== undefined && c.inLink === outLink.name) {
      // RFC 4787 REQ-9b: the hairpinned packet's source is the client's external address and port.
      external = o.destination;
      kind = 'hairpin';
    } else {
      const rule = this.sourceRules.find(
        (x) => (x.outInterface === undefined || x.outInterface === outLink.name) && (x.source === undefined || inCidr(o.source, x.source)),
      );
      if (!rule) return true;
      external = rule.to ?? outLink.ipv4Addresses[0]?.address;
      range = rule.ports;
      kind = rule.to === undefined ? 'masquerade' : 'snat';
    }
    // The host's own connections already carry one of its addresses; an interface without one cannot masquerade.
    if (external === undefined || this.host.isLocalAddress(o.source)) return true;

    if (!tupleHasPorts(o.protocol)) {
      // Protocols without ports share the address; two inside hosts talking to the same peer clash at confirm.
      this.conntrack.setReply(c, { ...r, destination: external });
      stateOf(c).source = kind;
      this.ctx.stats.inc(kind === 'hairpin' ? 'natHairpin' : 'natSnat');
      return true;
    }
    const mapping = this.mappingFor(o, r, external, range ?? defaultRange(o.protocol, o.sourcePort));
    if (!mapping) {
      this.ctx.trace.dropped('natPortExhausted', 'no external port left', () => `${describeTuple(o)} via ${formatIpv4(external)}`);
      return false;
    }
    // ICMP: the echo reply carries the identifier in both "port" positions (tuple.ts).
    const icmp = o.protocol === IpProtocol.ICMP;
    this.conntrack.setReply(c, {
      ...r,
      sourcePort: icmp ? mapping.externalPort : r.sourcePort,
      destination: external,
      destinationPort: mapping.externalPort,
    });
    const state = stateOf(c);
    state.source = kind;
    state.mappings.push(mapping);
    this.ctx.stats.inc(kind === 'hairpin' ? 'natHairpin' : 'natSnat');
    return true;
  }

  /** The connection entered the table: its mappings are held from now on. */
  confirmed(c: Connection): void {
    const st = c.nat as NatState | undefined;
    if (!st) return;
    for (const m of st.mappings) this.mappings.hold(m);
    this.ctx.stats.set('natMappings', this.mappings.size);
  }

  /** The first packet was dropped after bindSource: give back a mapping made only for it. */
  abandon(c: Connection): void {
    const st = c.nat as NatState | undefined;
    if (!st) return;
    for (const m of st.mappings) this.mappings.discardIfUnused(m);
    if (st.destination === 'virtual') this.virtualServers?.released(c);
  }

  /**
   * Rewrites one end of a packet of connection `c` travelling in `direction`
   * so it looks like the inverse of the other direction's tuple. DNAT hooks
   * call it with 'destination', SNAT hooks with 'source'. For ICMP errors the
   * outer address is rewritten at `manip`'s end and the quoted packet at the
   * opposite end (Linux nf_nat_icmp_reply_translation: the quote travelled
   * the other way). `partialChecksum`: the packet's transport checksum is a
   * partial one's seed (a super-packet or NEEDS_CSUM frame, rewrite.ts).
   */
  translate(packet: Uint8Array, cls: PacketClass, c: Connection, direction: Direction, manip: Manip, partialChecksum = false): void {
    if (!c.nat) return;
    const mine = c.tuples[direction];
    const other = c.tuples[direction === ORIGINAL ? REPLY : ORIGINAL];
    const target = invertTuple(other);
    if (cls.kind === 'icmpError') {
      this.translateIcmpError(packet, cls.innerOffset, mine, other, target, manip);
      return;
    }
    if (manip === 'destination') {
      if (mine.destination !== target.destination || mine.destinationPort !== target.destinationPort) {
        manipPacket(packet, 'destination', target.destination, target.destinationPort, partialChecksum);
      }
    } else if (mine.source !== target.source || mine.sourcePort !== target.sourcePort) {
      manipPacket(packet, 'source', target.source, target.sourcePort, partialChecksum);
    }
  }

  private translateIcmpError(packet: Uint8Array, innerOffset: number, mine: Tuple, other: Tuple, target: Tuple, manip: Manip): void {
    const innerL4 = innerOffset + (packet[innerOffset]! & 0x0f) * 4;
    const innerProtocol = packet[innerOffset + Ipv4Field.PROTOCOL]!;
    // The quote's port at the end being changed (an ICMP query's identifier sits at offset 4).
    const innerPort = (end: Manip): number =>
      innerProtocol === IpProtocol.ICMP ? getU16(packet, innerL4 + 4) : tupleHasPorts(innerProtocol) ? getU16(packet, innerL4 + (end === 'source' ? 0 : 2)) : 0;
    if (manip === 'destination') {
      if (mine.destination !== target.destination) manipOuterAddress(packet, 'destination', target.destination);
      const address = getU32(packet, innerOffset + Ipv4Field.SOURCE);
      if (address !== other.source || innerPort('source') !== other.sourcePort) {
        manipIcmpErrorInner(packet, innerOffset, 'source', other.source, other.sourcePort);
      }
    } else {
      if (mine.source !== target.source) manipOuterAddress(packet, 'source', target.source);
      const address = getU32(packet, innerOffset + Ipv4Field.DESTINATION);
      if (address !== other.destination || innerPort('destination') !== other.destinationPort) {
        manipIcmpErrorInner(packet, innerOffset, 'destination', other.destination, other.destinationPort);
      }
    }
  }

  /** An existing mapping of the internal endpoint on `external`, or a new one (RFC 4787 REQ-1). */
  private mappingFor(o: Tuple, r: Tuple, external: Ipv4Address, range: PortRange): NatMapping | undefined {
    const existing = this.mappings.findInternal(o.protocol, o.source, o.sourcePort, external);
    if (existing) return existing;
    const usable = (port: number): boolean => {
      if (this.isPublished(o.protocol, external, port)) return false;
      if (this.host.localPortInUse?.(o.protocol, external, port)) return false;
      // The reply tuple this port makes must not belong to a live connection (Linux nf_nat_used_tuple).
      const icmp = o.protocol === IpProtocol.ICMP;
      return !this.conntrack.inUse({ protocol: o.protocol, source: r.source, sourcePort: icmp ? port : r.sourcePort, destination: external, destinationPort: port });
    };
    const allocate = (): NatMapping | undefined => this.mappings.allocate(o.protocol, o.source, o.sourcePort, external, range, usable);
    // Expired sessions may still hold ports until the next sweep: sweep once before giving up.
    return allocate() ?? (this.conntrack.sweep() > 0 ? allocate() : undefined);
  }

  private isPublished(protocol: number, address: Ipv4Address, port: number): boolean {
    for (const rule of this.publishRules) {
      if (rule.protocol === protocol && rule.port === port && (rule.address === undefined || rule.address === address)) return true;
    }
    return false;
  }

  /** What NAT did to a connection, for `show conntrack`: "[SNAT]", "[DNAT]", "[DNAT HAIRPIN]". */
  describeConnection(c: Connection): string {
    const st = c.nat as NatState | undefined;
    if (!st) return '';
    const parts: string[] = [];
    if (st.destination) parts.push(st.destination === 'virtual' ? 'DNAT LB' : 'DNAT');
    if (st.source === 'hairpin') parts.push('HAIRPIN');
    else if (st.source) parts.push('SNAT');
    return parts.length ? `[${parts.join(' ')}]` : '';
  }

  /** Rules and mappings, for `tapnet show nat`. */
  /** `show nat --json`: the rules as `show nat` words them, the settings, and the live mappings. */
  rows(): { rules: string[]; hairpin: boolean; filtering: string; mappings: { protocol: number; internal: string; external: string; sessions: number }[] } {
    const rules = this.show().split('\n');
    return {
      rules: rules.slice(0, rules.findIndex((l) => l.startsWith('hairpin '))),
      hairpin: this.hairpin,
      filtering: this.filtering,
      mappings: this.mappings.entries().map((m) => ({
        protocol: m.protocol,
        internal: `${formatIpv4(m.internal)}:${m.internalPort}`,
        external: `${formatIpv4(m.external)}:${m.externalPort}`,
        sessions: m.refs,
      })),
    };
  }

  show(): string {
    let out = '';
    for (const r of this.sourceRules) {
      out += `${r.to === undefined ? 'masquerade' : `snat to ${formatIpv4(r.to)}`}${r.outInterface ? ` out ${r.outInterface}` : ''}`;
      out += `${r.source ? ` from ${formatIpv4Cidr(r.source)}` : ''}${r.ports ? ` ports ${r.ports.min}-${r.ports.max}` : ''}\n`;
    }
    for (const r of this.publishRules) out += `${describePublish(r)}\n`;
    out += `hairpin ${this.hairpin ? 'on' : 'off'}, filtering ${this.filtering}\n`;
    const mappings = this.mappings.entries();
    out += `mappings (${mappings.length}):\n`;
    for (const m of mappings) out += `  ${describeMapping(m)}\n`;
    return out;
  }
}

/** "publish tcp 8080 -> 10.0.0.10:80". */
export function describePublish(r: PublishRule): string {
  const proto = r.protocol === IpProtocol.TCP ? 'tcp' : 'udp';
  const on = r.address !== undefined ? `${formatIpv4(r.address)}:` : '';
  return `publish ${proto} ${on}${r.port} -> ${formatIpv4(r.to)}:${r.toPort}${r.inInterface ? ` in ${r.inInterface}` : ''}`;
}
