/**
 * Router advertisements for one interface: tell hosts on the link the
 * prefixes to autoconfigure addresses from (SLAAC), the link MTU, the DNS
 * servers (RDNSS), and whether to use us as a default router; periodically,
 * and in answer to router solicitations.
 *
 * Read first: RFC 4861 §6.2 (router configuration variables and their
 * defaults, §6.2.4 the periodic schedule with its first fast advertisements,
 * §6.2.6 answering solicitations without flooding), §4.2 and §4.6 (the
 * message and its options), RFC 4862 §5.5.3 (what hosts do with a prefix),
 * RFC 8106 §5.1 (RDNSS and its lifetime). radvd's defaults are the same
 * RFC values.
 */
import type { Timer } from '../../core/time.js';
import { IPV6_ALL_NODES, isLinkLocalIpv6, prefixOf, type Ipv6Address, type Ipv6Cidr } from '../ipv6/address.js';
import type { Ipv6Interface } from '../ipv6/interface.js';
import { Icmpv6Type } from './message.js';
import { NDP_HOP_LIMIT, emitNdp, RouterPreference, type NdpMessage, type NdpOption } from './ndp-message.js';

/** RFC 4861 §6.2.1 MaxRtrAdvInterval default. */
export const MAX_RTR_ADV_INTERVAL_MS = 600_000;
/** RFC 4861 §10: the first few advertisements come faster. */
export const MAX_INITIAL_RTR_ADVERT_INTERVAL_MS = 16_000;
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
/** RFC 4861 §10: multicast advertisements are at least this far apart. */
export const MIN_DELAY_BETWEEN_RAS_MS = 3_000;
/** RFC 4861 §10: a solicited advertisement waits a random 0..500 ms. */
export const MAX_RA_DELAY_TIME_MS = 500;
/** RFC 4861 §6.2.1 AdvValidLifetime (30 days) and AdvPreferredLifetime (7 days) defaults. */
export const ADV_VALID_LIFETIME_S = 2_592_000;
export const ADV_PREFERRED_LIFETIME_S = 604_800;
/** RFC 4861 §6.2.1 AdvCurHopLimit: "the value specified in the Assigned Numbers", 64. */
export const ADV_CUR_HOP_LIMIT = 64;

export interface RouterAdvertisementConfig {
  /** Prefixes to advertise (on-link, autonomous). Default: those of the interface's non-link-local addresses. */
  readonly prefixes?: readonly Ipv6Cidr[];
  /** RDNSS servers (RFC 8106); none by default. */
  readonly dnsServers?: readonly Ipv6Address[];
  /** Seconds; 0 = "not a default router" (RFC 4861 §6.2.1 default 3 × MaxRtrAdvInterval). */
  readonly routerLifetimeSeconds?: number;
  /** MaxRtrAdvInterval; MinRtrAdvInterval is a third of it (RFC 4861 §6.2.1). */
  readonly maxIntervalMs?: number;
  /** Include the MTU option (default true). */
  readonly advertiseMtu?: boolean;
  /** RFC 4861 §4.2 M flag: addresses are available via DHCPv6 (RFC 8415 §5); default false. */
  readonly managed?: boolean;
  /** RFC 4861 §4.2 O flag: other configuration (DNS) is available via DHCPv6; default false. */
  readonly otherConfig?: boolean;
}

export class RouterAdvertiser {
  private readonly timer: Timer;
  private readonly maxIntervalMs: number;
  private readonly minIntervalMs: number;
  private initialSent = 0;
  private lastMulticastAt = -Infinity;
  private running = false;

  constructor(
    private readonly iface: Ipv6Interface,
    private readonly config: RouterAdvertisementConfig,
  ) {
    this.maxIntervalMs = config.maxIntervalMs ?? MAX_RTR_ADV_INTERVAL_MS;
    this.minIntervalMs = Math.floor(this.maxIntervalMs * 0.33);
    this.timer = iface.ctx.timers.timer(() => this.advertise());
    iface.ctx.stats.declare('Icmp6OutRouterAdvertisements');
  }

  /** Starts advertising (once the link-local source address is usable, RFC 4861 §6.2.2). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.advertise();
  }

  stop(): void {
    this.running = false;
    this.timer.cancel();
  }

  /**
   * RFC 4861 §6.2.6: answer a solicitation with a multicast advertisement
   * after a random 0..MAX_RA_DELAY_TIME, but never sooner than
   * MIN_DELAY_BETWEEN_RAS after the previous one.
   */
  solicited(): void {
    if (!this.running) return;
    const { clock, random } = this.iface.ctx;
    const at = Math.max(clock.now() + random.float() * MAX_RA_DELAY_TIME_MS, this.lastMulticastAt + MIN_DELAY_BETWEEN_RAS_MS);
    if (!this.timer.armed || at < this.timer.deadline) this.timer.armAt(at);
  }

  /** The advertisement as it would be sent now. */
  message(): NdpMessage & { type: typeof Icmpv6Type.RouterAdvertisement } {
    const iface = this.iface;
    const options: NdpOption[] = [{ kind: 'sourceLinkLayerAddress', mac: iface.mac }];
    if (this.config.advertiseMtu ?? true) options.push({ kind: 'mtu', mtu: iface.mtu });
    const prefixes = this.config.prefixes ?? iface.ipv6Addresses.filter((a) => !isLinkLocalIpv6(a.address) && a.state !== 'duplicate' && !a.autoconfigured);
    for (const p of prefixes) {
      options.push({
        kind: 'prefixInformation',
        prefixLength: p.prefixLength,
        onLink: true,
        // RFC 4862 §5.5.3: hosts form addresses only from 64-bit prefixes on Ethernet.
        autonomous: p.prefixLength === 64,
        validLifetime: ADV_VALID_LIFETIME_S,
        preferredLifetime: ADV_PREFERRED_LIFETIME_S,
        prefix: prefixOf(p.address, p.prefixLength),
      });
    }
    const dns = this.config.dnsServers ?? [];
    // RFC 8106 §5.1: the lifetime "SHOULD by default be at least 3 × MaxRtrAdvInterval".
    if (dns.length > 0) options.push({ kind: 'recursiveDnsServer', lifetime: Math.ceil((3 * this.maxIntervalMs) / 1000), servers: dns });
    return {
      type: Icmpv6Type.RouterAdvertisement,
      curHopLimit: ADV_CUR_HOP_LIMIT,
      managed: this.config.managed ?? false,
      other: this.config.otherConfig ?? false,
      routerPreference: RouterPreference.Medium,
      routerLifetime: this.config.routerLifetimeSeconds ?? Math.min(9000, Math.ceil((3 * this.maxIntervalMs) / 1000)),
      reachableTime: 0,
      retransTimer: 0,
      options,
    };
  }

  private advertise(): void {
    if (!this.running) return;
    const iface = this.iface;
    const source = iface.linkLocal;
    if (source) {
      const message = this.message();
      iface.sendControl({ source, destination: IPV6_ALL_NODES, hopLimit: NDP_HOP_LIMIT }, (buf, offset, s, d) => emitNdp(message, buf, offset, s, d));
      iface.ctx.stats.inc('Icmp6OutRouterAdvertisements');
      iface.ctx.stats.inc('Icmp6OutMsgs');
      this.lastMulticastAt = iface.ctx.clock.now();
    }
    // RFC 4861 §6.2.4: uniformly random in [Min, Max]; the first few at most 16 s apart.
    let interval = this.minIntervalMs + iface.ctx.random.float() * (this.maxIntervalMs - this.minIntervalMs);
    if (this.initialSent < MAX_INITIAL_RTR_ADVERTISEMENTS) {
      this.initialSent++;
      interval = Math.min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS);
    }
    this.timer.armIn(interval);
  }
}
