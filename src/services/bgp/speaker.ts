/**
 * A router's BGP speaker: the sessions (session.ts), the three RIBs of
 * RFC 4271 §3.2, the decision process (decision.ts), the router's forwarding
 * table, and what goes out to each peer.
 *
 * Read first: RFC 4271 §9 (UPDATE processing: §9.1 decision, §9.2 update
 * send), RFC 4456 §8 (route reflection), then decision.ts.
 *
 *   UPDATE in ─▶ loop checks, import policy, max-prefix ─▶ Adj-RIB-In (per peer)
 *            ─▶ decision (per prefix) ─▶ Loc-RIB ─▶ FIB (router.routes, metric 20)
 *            ─▶ export rules + policy ─▶ Adj-RIB-Out (per peer) ─▶ UPDATE out
 *
 * Export rules (§9.1.3, RFC 4456): iBGP-learned routes are not sent to iBGP
 * peers unless this router reflects them (a client's route goes to every
 * iBGP peer, a non-client's only to clients); to eBGP peers the path gets our
 * AS prepended and the next hop is our address on that session, LOCAL_PREF
 * and MED are not sent (§5.1.4, §5.1.5); to iBGP peers eBGP-learned and local
 * routes get next hop self (the lab has no IGP to resolve a remote next hop),
 * reflected ones keep theirs. NO_EXPORT / NO_ADVERTISE are honoured (RFC 1997).
 */
import type { StackContext } from '../../core/context.js';
import type { Ipv4Link } from '../../l3/ipv4/link.js';
import { formatIpv4, parseIpv4 } from '../../l3/ipv4/address.js';
import { formatIpv6, parseIpv6 } from '../../l3/ipv6/address.js';
import type { Socket } from '../../l4/tcp/socket.js';
import type { Router } from '../../node/router.js';
import { asPathContains, firstAs, prependAs } from './as-path.js';
import { Origin, type PathAttributes } from './attributes.js';
import './counters.js';
import { BGP_COUNTERS } from './counters.js';
import { DEFAULT_LOCAL_PREF, chooseBest, type DecisionRule, type PeerInfo, type RibRoute } from './decision.js';
import { CeaseSubcode, ErrorCode } from './errors.js';
import { applyPolicy, type PolicyRule } from './policy.js';
import { Afi, Safi, formatPrefix, prefixIpv4, type AfiName, type Prefix } from './prefix.js';
import { DEFAULT_MRAI_EBGP_S, DEFAULT_MRAI_IBGP_S, MraiPacer } from './mrai.js';
import { BgpSession, DEFAULT_CONNECT_RETRY_S, DEFAULT_HOLD_TIME_S, type BgpConnection, type SessionOwner } from './session.js';
import type { Update } from './update.js';
import { renderBgp, bgpRows } from './show.js';

export const BGP_PORT = 179;
/** Metric of BGP routes in the FIB (FRR's zebra installs BGP routes with metric 20). */
export const BGP_ROUTE_METRIC = 20;
/**
 * Max-prefix when the lab file sets none: every table a peer can fill has a
 * cap. A full Internet table is about 1 M IPv4 routes (2026); a lab has tens.
 */
export const DEFAULT_MAX_PREFIX = 2_000_000;
/** How long a closed session's socket may wait for the peer's FIN after our NOTIFICATION (BIRD waits for its tx, then closes). */
const CLOSE_LINGER_MS = 5_000;
const NO_EXPORT = 0xffffff01;
const NO_ADVERTISE = 0xffffff02;
/** Prefixes per UPDATE, so an UPDATE stays under 4096 bytes (5 bytes per IPv4 prefix, 17 per IPv6 at most). */
const PREFIXES_PER_UPDATE: Record<AfiName, number> = { ipv4: 500, ipv6: 150 };

export interface NeighborConfig {
  readonly address: string;
  readonly as: number;
  readonly passive?: boolean;
  readonly holdTime?: number;
  readonly connectRetry?: number;
  /** Cease / Maximum Number of Prefixes Reached past this many prefixes from the peer (RFC 4486); default DEFAULT_MAX_PREFIX. */
  readonly maxPrefix?: number;
  /** Seconds after a max-prefix Cease before the session starts again by itself; absent: it stays down (BIRD's `receive limit` action disable, FRR's `maximum-prefix` without restart). */
  readonly maxPrefixRestart?: number;
  /** MinRouteAdvertisementIntervalTimer in seconds (RFC 4271 §9.2.1.1; default 30 eBGP, 5 iBGP, §10); 0: no limit. */
  readonly mrai?: number;
  readonly routeReflectorClient?: boolean;
  readonly families?: readonly AfiName[];
  /** Our IPv6 next hop towards this peer (default: a global IPv6 address of the interface facing it). */
  readonly nextHop6?: string;
  readonly import?: readonly PolicyRule[];
  readonly export?: readonly PolicyRule[];
}

export interface BgpConfig {
  readonly as: number;
  readonly routerId: number;
  /** RFC 4456 cluster ID; default the router ID. */
  readonly clusterId?: number;
  /** MRAI in seconds for every neighbour that sets none (then RFC 4271 §10's 30 eBGP / 5 iBGP). */
  readonly mrai?: number;
  readonly neighbors: readonly NeighborConfig[];
  readonly networks: readonly Prefix[];
  readonly port?: number;
}

export class BgpPeer {
  readonly adjRibIn = new Map<string, RibRoute>();
  /** What we last advertised, by prefix key: the serialized attributes. */
  readonly adjRibOut = new Map<string, string>();
  localAddress: string | undefined;
  /** Prefixes refused by the max-prefix limit, since start (RFC 4486). */
  maxPrefixDrops = 0;
  constructor(
    readonly config: NeighborConfig,
    readonly session: BgpSession,
    /** RFC 4271 §9.2.1.1 rate limit of what goes to this peer. */
    readonly mrai: MraiPacer,
  ) {}
  get info(): PeerInfo {
    return { address: this.config.address, as: this.config.as, routerId: this.session.peerRouterId, external: this.session.external, reflectorClient: this.config.routeReflectorClient ?? false };
  }
}

interface LocEntry {
  best: RibRoute;
  rule: DecisionRule;
  /** The FIB route we installed (IPv6 needs the link to remove it). */
  installed?: { link: unknown };
}

export class BgpSpeaker implements SessionOwner {
  readonly peers: BgpPeer[];
  readonly locRib = new Map<string, LocEntry>();
  private readonly local = new Map<string, RibRoute>();
  private readonly server;
  private readonly pending = new Map<BgpPeer, Set<string>>();
  private flushQueued = false;
  private closed = false;

  constructor(
    readonly router: Router,
    readonly config: BgpConfig,
  ) {
    this.ctx.stats.declare(...BGP_COUNTERS);
    this.peers = config.neighbors.map((n) => {
      const session = new BgpSession(
        this.ctx,
        {
          localAs: config.as,
          peerAs: n.as,
          routerId: config.routerId,
          peerAddress: n.address,
          holdTime: n.holdTime ?? DEFAULT_HOLD_TIME_S,
          connectRetry: n.connectRetry ?? DEFAULT_CONNECT_RETRY_S,
          passive: n.passive ?? false,
          families: n.families ?? ['ipv4', 'ipv6'],
        },
        this,
      );
      const mraiS = n.mrai ?? config.mrai ?? (n.as === config.as ? DEFAULT_MRAI_IBGP_S : DEFAULT_MRAI_EBGP_S);
      const peer: BgpPeer = new BgpPeer(n, session, new MraiPacer(this.ctx, mraiS * 1000, (keys) => keys.forEach((k) => this.queue(peer, k))));
      return peer;
    });
    for (const p of config.networks) {
      const route: RibRoute = { prefix: p, attributes: { origin: Origin.igp, asPath: [], other: [] }, nextHop: '', peer: undefined, igpCost: 0 };
      this.local.set(formatPrefix(p), route);
    }
    this.server = router.tcp.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.listen(config.port ?? BGP_PORT);
    for (const key of this.local.keys()) this.decide(key);
    for (const peer of this.peers) peer.session.start();
  }

  get ctx(): StackContext {
    return this.router.ctx;
  }

  close(): void {
    this.closed = true;
    for (const peer of this.peers) peer.session.stop();
    this.server.close();
  }

  peer(address: string): BgpPeer | undefined {
    return this.peers.find((p) => p.config.address === address);
  }

  // ── TCP (tapnet's own, port 179) ────────────────────────────────────────

  private accept(socket: Socket): void {
    const peer = this.peers.find((p) => p.config.address === socket.remoteAddress);
    if (!peer) {
      this.ctx.trace.dropped('bgpInUnknownPeer', `connection from ${socket.remoteAddress} (no neighbor with that address)`);
      socket.destroy();
      return;
    }
    this.wrap(peer, socket, false);
  }

  connect(session: BgpSession): void {
    const peer = this.peers.find((p) => p.session === session)!;
    const socket = this.router.tcp.connect({ host: peer.config.address, port: BGP_PORT, noDelay: true });
    this.wrap(peer, socket, true);
  }

  private wrap(peer: BgpPeer, socket: Socket, outgoing: boolean): void {
    const conn: BgpConnection = { outgoing, send: (b) => void socket.write(b), close: () => this.closeGracefully(socket) };
    let up = false;
    const opened = () => {
      up = true;
      peer.localAddress = socket.localAddress;
      peer.session.connectionUp(conn);
    };
    socket.on('data', (d: Uint8Array) => peer.session.receive(conn, d));
    socket.on('error', (e: Error) => (up ? undefined : peer.session.connectFailed(e.message)));
    socket.on('close', () => (up ? peer.session.connectionClosed(conn) : undefined));
    if (outgoing) socket.once('connect', opened);
    else opened();
  }

  /**
   * RFC 4271 §6: "a NOTIFICATION message ... is sent, and the BGP connection
   * is closed" — the NOTIFICATION must arrive first. close(2) on a socket
   * with unread data sends a reset and drops what is queued (RFC 2525 §2.17,
   * Linux and tapnet's TCP alike), and a peer that floods always has data in
   * flight: so FIN after the queued bytes, keep reading (and discarding)
   * until the peer closes too, and destroy after CLOSE_LINGER_MS at most.
   */
  private closeGracefully(socket: Socket): void {
    socket.end();
    socket.once('end', () => socket.destroy());
    this.ctx.timers.after(CLOSE_LINGER_MS, () => socket.destroy());
  }

  // ── Sessions ────────────────────────────────────────────────────────────

  established(session: BgpSession): void {
    const peer = this.peers.find((p) => p.session === session)!;
    peer.adjRibOut.clear();
    for (const key of this.locRib.keys()) this.queue(peer, key);
    this.flush();
  }

  down(session: BgpSession): void {
    const peer = this.peers.find((p) => p.session === session)!;
    const keys = [...peer.adjRibIn.keys()];
    peer.adjRibIn.clear();
    peer.adjRibOut.clear();
    peer.mrai.reset();
    this.pending.delete(peer);
    for (const key of keys) this.decide(key);
  }

  routeRefresh(session: BgpSession, family: AfiName): void {
    const peer = this.peers.find((p) => p.session === session)!;
    for (const key of [...peer.adjRibOut.keys()]) if (this.familyOfKey(key) === family) peer.adjRibOut.delete(key);
    // The answer re-sends what the peer had, no route change: MRAI does not hold it (held changes still wait).
    const keys = [...this.locRib.keys()].filter((k) => this.familyOfKey(k) === family);
    this.flushPeer(peer, keys, false);
  }

  /** `tapnet bgp refresh`: ask every peer (or one) to send its routes again. */
  refresh(address?: string): number {
    let n = 0;
    for (const p of this.peers) if (address === undefined || p.config.address === address) for (const f of p.session.families) n += p.session.requestRefresh(f) ? 1 : 0;
    return n;
  }

  update(session: BgpSession, update: Update): void {
    const peer = this.peers.find((p) => p.session === session)!;
    const a = update.attributes;
    const changed = new Set<string>();
    const remove = (p: Prefix) => {
      const key = formatPrefix(p);
      if (peer.adjRibIn.delete(key)) changed.add(key);
    };
    for (const p of update.withdrawn) remove(p);
    for (const p of a.mpUnreach?.withdrawn ?? []) remove(p);
    const limit = peer.config.maxPrefix ?? DEFAULT_MAX_PREFIX;
    const reach: { prefix: Prefix; nextHop: string }[] = [];
    if (a.nextHop !== undefined) for (const p of update.nlri) reach.push({ prefix: p, nextHop: formatIpv4(a.nextHop) });
    if (a.mpReach?.supported) {
      const nh = a.mpReach.nextHop;
      const text = nh.length === 4 ? formatIpv4(((nh[0]! << 24) | (nh[1]! << 16) | (nh[2]! << 8) | nh[3]!) >>> 0) : formatIpv6(nh.subarray(0, 16));
      for (const p of a.mpReach.nlri) reach.push({ prefix: p, nextHop: text });
    }
    if (update.treatAsWithdraw) {
      // RFC 7606 §2: every prefix the UPDATE advertises is withdrawn, whatever attribute was broken (even NEXT_HOP).
      for (const p of update.nlri) remove(p);
      for (const p of a.mpReach?.nlri ?? []) remove(p);
    } else {
      const problem = this.importProblem(peer, a);
      // One UPDATE, one set of attributes and (per family) one next hop: shared by all its routes, not copied per prefix.
      // RFC 7606 §7.5: LOCAL_PREF from an external peer is discarded.
      const received: PathAttributes = { ...a, mpReach: undefined, mpUnreach: undefined, nextHop: undefined, localPref: session.external ? undefined : a.localPref };
      const info = peer.info;
      const nextHops = new Map<string, { own: boolean; igpCost: number }>();
      const nextHopOf = (text: string) => {
        let n = nextHops.get(text);
        if (!n) nextHops.set(text, (n = { own: this.isOwnAddress(text), igpCost: this.connected(text) ? 0 : 1 }));
        return n;
      };
      for (const r of reach) {
        remove(r.prefix);
        if (!session.families.includes(r.prefix.afi)) continue;
        if (problem) {
          this.ctx.trace.dropped(problem[0], `${peer.config.address} ${formatPrefix(r.prefix)}: ${problem[1]}`);
          continue;
        }
        const nh = nextHopOf(r.nextHop);
        if (nh.own) {
          this.ctx.trace.dropped('bgpInBadNextHop', `${peer.config.address} ${formatPrefix(r.prefix)}: next hop ${r.nextHop} is our own address`);
          continue;
        }
        const attrs = applyPolicy(peer.config.import ?? [], r.prefix, received, this.config.as);
        if (!attrs) {
          this.ctx.stats.inc('bgpInPolicyRejected');
          continue;
        }
        const key = formatPrefix(r.prefix);
        peer.adjRibIn.set(key, { prefix: r.prefix, attributes: attrs, nextHop: r.nextHop, peer: info, igpCost: nh.igpCost });
        changed.add(key);
        this.ctx.stats.inc('bgpInPrefixesAccepted');
        // RFC 4486: past the limit the session is closed; Adj-RIB-In never holds more than limit + 1 routes.
        if (peer.adjRibIn.size > limit) return this.maxPrefixExceeded(peer, limit, r.prefix.afi);
      }
    }
    for (const key of changed) this.decide(key);
  }

  /** Why a whole UPDATE's routes are not usable, with the counter: loops, first AS (RFC 4271 §9.1.2, §6.3; RFC 4456 §8). */
  private importProblem(peer: BgpPeer, a: PathAttributes): ['bgpInAsPathLoop' | 'bgpInClusterLoop' | 'bgpInTreatAsWithdraw', string] | undefined {
    const path = a.asPath ?? [];
    if (asPathContains(path, this.config.as)) return ['bgpInAsPathLoop', `AS_PATH holds our AS ${this.config.as}`];
    if (peer.session.external && firstAs(path) !== peer.config.as) return ['bgpInTreatAsWithdraw', `AS_PATH does not start with the peer's AS ${peer.config.as}`];
    if (a.originatorId === this.config.routerId) return ['bgpInClusterLoop', 'ORIGINATOR_ID is our router ID'];
    if (a.clusterList?.includes(this.clusterId)) return ['bgpInClusterLoop', 'CLUSTER_LIST holds our cluster ID'];
    return undefined;
  }

  /**
   * RFC 4486 §4: Cease / Maximum Number of Prefixes Reached, with AFI, SAFI
   * and the limit as data. The session stays down (Idle, no automatic
   * restart) unless `maxPrefixRestart` says when to try again: a peer that
   * floods once floods again on the next session.
   */
  private maxPrefixExceeded(peer: BgpPeer, limit: number, afi: AfiName): void {
    this.ctx.stats.inc('bgpMaxPrefixExceeded');
    peer.maxPrefixDrops++;
    const restart = peer.config.maxPrefixRestart;
    const after = restart === undefined ? 'the session stays down until restarted' : `restart in ${restart} s`;
    this.ctx.trace.log.warn(
      { peer: peer.config.address, as: peer.config.as, limit, afi },
      `bgp ${peer.config.address} (AS ${peer.config.as}): more than max-prefix ${limit} prefixes (${afi}): sent NOTIFICATION Cease / Maximum Number of Prefixes Reached, ${after}`,
    );
    const data = Uint8Array.of(0, Afi[afi], Safi.unicast, limit >>> 24, (limit >>> 16) & 255, (limit >>> 8) & 255, limit & 255);
    peer.session.shutdown({ code: ErrorCode.cease, subcode: CeaseSubcode.maximumPrefixes, data }, `max-prefix ${limit} exceeded (${afi})`, restart === undefined ? undefined : restart * 1000);
  }

  // ── Decision and FIB ────────────────────────────────────────────────────

  private get clusterId(): number {
    return this.config.clusterId ?? this.config.routerId;
  }

  /** Re-runs the decision process for one prefix (RFC 4271 §9.1.2), updates the FIB and queues exports. */
  private decide(key: string): void {
    const candidates: RibRoute[] = [];
    const local = this.local.get(key);
    if (local) candidates.push(local);
    for (const p of this.peers) {
      const r = p.adjRibIn.get(key);
      if (r && p.session.state === 'Established') candidates.push(r);
    }
    const old = this.locRib.get(key);
    const chosen = chooseBest(candidates);
    if (old && chosen && old.best === chosen.best) {
      old.rule = chosen.rule;
      return;
    }
    if (old) this.uninstall(old);
    if (chosen) {
      const entry: LocEntry = { best: chosen.best, rule: chosen.rule };
      this.install(entry);
      this.locRib.set(key, entry);
    } else this.locRib.delete(key);
    for (const p of this.peers) if (p.session.state === 'Established') this.queue(p, key);
  }

  private install(entry: LocEntry): void {
    const r = entry.best;
    if (!r.peer) return; // our own network: already routed (connected or static)
    const p = r.prefix;
    if (p.afi === 'ipv4') {
      const nh = parseIpv4(r.nextHop)!;
      const via = this.router.routes.lookup(nh);
      if (!via) return;
      this.router.routes.add({ destination: { address: prefixIpv4(p), prefixLength: p.length }, gateway: via.gateway ?? nh, metric: BGP_ROUTE_METRIC, value: via.value });
      entry.installed = { link: via.value };
    } else {
      const nh = parseIpv6(r.nextHop)!;
      const via = this.router.ipv6.routes.lookup(nh);
      if (!via) return;
      this.router.ipv6.routes.add({ destination: { address: p.address, prefixLength: p.length }, gateway: via.gateway ?? nh, metric: BGP_ROUTE_METRIC, value: via.value });
      entry.installed = { link: via.value };
    }
  }

  private uninstall(entry: LocEntry): void {
    if (!entry.installed) return;
    const p = entry.best.prefix;
    if (p.afi === 'ipv4') this.router.routes.remove({ address: prefixIpv4(p), prefixLength: p.length }, BGP_ROUTE_METRIC);
    else this.router.ipv6.routes.remove({ address: p.address, prefixLength: p.length }, entry.installed.link as never);
  }

  private connected(nextHop: string): boolean {
    if (nextHop.includes(':')) {
      const a = parseIpv6(nextHop);
      return a !== undefined && this.router.ipv6.routes.lookup(a)?.gateway === undefined;
    }
    const a = parseIpv4(nextHop);
    return a !== undefined && this.router.routes.lookup(a)?.gateway === undefined;
  }

  private isOwnAddress(address: string): boolean {
    if (address.includes(':')) return this.router.interfaces.some((i) => this.router.ipv6.interfaceAddresses(i.name).some((a) => a.address.split('/')[0] === address));
    const a = parseIpv4(address);
    return this.router.interfaces.some((i) => i.ipv4Addresses.some((c) => c.address === a));
  }

  private familyOfKey(key: string): AfiName {
    return key.includes(':') ? 'ipv6' : 'ipv4';
  }

  // ── Export (RFC 4271 §9.1.3, §9.2; RFC 4456) ────────────────────────────

  private queue(peer: BgpPeer, key: string): void {
    let set = this.pending.get(peer);
    if (!set) this.pending.set(peer, (set = new Set()));
    set.add(key);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** The attributes and next hop to send `peer` for `route`, or undefined when it is not for that peer. */
  exportFor(peer: BgpPeer, route: RibRoute): Exported | undefined {
    const from = route.peer;
    if (from?.address === peer.config.address) return undefined; // not back to where it came from
    const communities = route.attributes.communities ?? [];
    if (communities.includes(NO_ADVERTISE)) return undefined;
    const external = peer.session.external;
    if (external && communities.includes(NO_EXPORT)) return undefined;
    let a: PathAttributes = { ...route.attributes, other: route.attributes.other };
    let reflected = false;
    if (from && !from.external && !external) {
      // RFC 4456 §8: from a client → to all iBGP peers; from a non-client → to clients only.
      if (!from.reflectorClient && !peer.config.routeReflectorClient) return undefined;
      reflected = true;
      a.originatorId ??= from.routerId;
      a.clusterList = [this.clusterId, ...(a.clusterList ?? [])];
    }
    if (external) {
      a.asPath = prependAs(a.asPath ?? [], this.config.as);
      delete a.localPref;
      delete a.med;
      delete a.originatorId;
      delete a.clusterList;
    } else {
      // RFC 4271 §5.1.4: a neighbouring AS's MED may travel inside our AS (iBGP), never to another AS.
      a.localPref ??= DEFAULT_LOCAL_PREF;
    }
    const nextHop = reflected ? route.nextHop : this.nextHopSelf(peer, route.prefix.afi);
    if (nextHop === undefined) return undefined;
    const out = applyPolicy(peer.config.export ?? [], route.prefix, a, this.config.as);
    if (!out) return undefined;
    if (route.prefix.afi === 'ipv4') out.nextHop = parseIpv4(nextHop);
    return { attributes: out, nextHop };
  }

  private nextHopSelf(peer: BgpPeer, afi: AfiName): string | undefined {
    const local = peer.localAddress;
    if (afi === 'ipv4') return local && !local.includes(':') ? local : undefined;
    if (local?.includes(':')) return local;
    if (peer.config.nextHop6) return peer.config.nextHop6;
    // The interface that reaches the peer's IPv4 address: one of its global IPv6 addresses.
    const via = this.router.routes.lookup(parseIpv4(peer.config.address) ?? 0);
    const name = (via?.value as Ipv4Link | undefined)?.name;
    if (!name) return undefined;
    return this.router.ipv6.interfaceAddresses(name).find((a) => a.scope === 'global')?.address.split('/')[0];
  }

  /** Sends what changed: withdrawals per family, announcements grouped by identical attributes. */
  private flush(): void {
    this.flushQueued = false;
    if (this.closed) return;
    for (const [peer, keys] of this.pending) this.flushPeer(peer, keys, true);
    this.pending.clear();
  }

  /** The UPDATEs for `keys` to one peer; `paced`: changes to destinations sent within MRAI are held (mrai.ts). */
  private flushPeer(peer: BgpPeer, keys: Iterable<string>, paced: boolean): void {
    if (peer.session.state !== 'Established') return;
    const now = this.ctx.clock.now();
    const withdraw: Record<AfiName, Prefix[]> = { ipv4: [], ipv6: [] };
    const announce = new Map<string, { exported: Exported; prefixes: Prefix[] }>();
    const interval = peer.mrai.startInterval();
    const admit = (key: string) => (paced ? peer.mrai.admit(key, now) : !peer.mrai.isHeld(key));
    for (const key of keys) {
      const entry = this.locRib.get(key);
      const afi = this.familyOfKey(key);
      if (!peer.session.families.includes(afi)) continue;
      const exported = entry ? this.exportFor(peer, entry.best) : undefined;
      if (!exported) {
        if (!peer.adjRibOut.has(key) || !admit(key)) continue;
        peer.adjRibOut.delete(key);
        peer.mrai.sent(key, now, interval);
        withdraw[afi].push(entry?.best.prefix ?? parsePrefixKey(key));
        continue;
      }
      const text = serialize(exported, afi);
      if (peer.adjRibOut.get(key) === text || !admit(key)) continue;
      peer.adjRibOut.set(key, text);
      peer.mrai.sent(key, now, interval);
      const group = announce.get(text) ?? { exported, prefixes: [] };
      group.prefixes.push(entry!.best.prefix);
      announce.set(text, group);
    }
    this.sendWithdrawals(peer, withdraw);
    for (const { exported, prefixes } of announce.values()) this.sendAnnouncements(peer, exported, prefixes);
    peer.mrai.schedule();
  }

  private sendWithdrawals(peer: BgpPeer, withdraw: Record<AfiName, Prefix[]>): void {
    for (const chunk of chunks(withdraw.ipv4, PREFIXES_PER_UPDATE.ipv4)) peer.session.sendUpdate({ withdrawn: chunk, attributes: { other: [] }, nlri: [] });
    for (const chunk of chunks(withdraw.ipv6, PREFIXES_PER_UPDATE.ipv6)) {
      peer.session.sendUpdate({ withdrawn: [], attributes: { other: [], mpUnreach: { afi: Afi.ipv6, safi: Safi.unicast, withdrawn: chunk, supported: true } }, nlri: [] });
    }
  }

  private sendAnnouncements(peer: BgpPeer, exported: Exported, prefixes: Prefix[]): void {
    const afi = prefixes[0]!.afi;
    for (const chunk of chunks(prefixes, PREFIXES_PER_UPDATE[afi])) {
      if (afi === 'ipv4') peer.session.sendUpdate({ withdrawn: [], attributes: exported.attributes, nlri: chunk });
      else {
        const nextHop = parseIpv6(exported.nextHop)!;
        const mpReach = { afi: Afi.ipv6, safi: Safi.unicast, nextHop, nlri: chunk, supported: true };
        peer.session.sendUpdate({ withdrawn: [], attributes: { ...exported.attributes, mpReach }, nlri: [] });
      }
    }
  }

  // ── Show ────────────────────────────────────────────────────────────────

  show(): string {
    return renderBgp(this);
  }

  showJson(): unknown {
    return bgpRows(this);
  }
}

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

export interface Exported {
  readonly attributes: PathAttributes;
  readonly nextHop: string;
}

function serialize(a: Exported, afi: AfiName): string {
  return `${afi}|${JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v))}`;
}

function parsePrefixKey(key: string): Prefix {
  const [address, length] = key.split('/');
  if (key.includes(':')) return { afi: 'ipv6', length: Number(length), address: parseIpv6(address!)! };
  const a = parseIpv4(address!)!;
  return { afi: 'ipv4', length: Number(length), address: Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255) };
}
