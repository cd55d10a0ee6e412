/**
 * MLDv2, the listener side, for one interface: tell the link which
 * multicast groups we listen to (so snooping switches forward them to us),
 * and answer queries.
 *
 * Read first: RFC 3810 §6 (host behaviour: unsolicited reports on joining,
 * answering general and group-specific queries after a random delay), §5.2.13
 * (source: link-local, or :: before one exists), §7.2 (a router's view);
 * RFC 4291 §2.8 (all-nodes ff02::1 is never reported). Linux:
 * net/ipv6/mcast.c. What tapnet leaves out: source-specific joins (it only
 * ever joins whole groups, EXCLUDE {}) and the robustness retransmissions of
 * unsolicited reports (one report, repeated when the link-local address comes
 * up). MLDv1 compatibility (RFC 3810 §8.2.1): after an MLDv1 query the
 * interface speaks MLDv1 (one RFC 2710 report per group, sent to the group)
 * until no v1 query has been heard for the Older Version Querier Present
 * Timeout, like Linux's mc_v1_seen.
 */
import type { Disposition } from '../dispositions.js';
import type { Timer } from '../../core/time.js';
import { describeParseError } from '../../core/parse-result.js';
import {
  IPV6_ALL_MLDV2_ROUTERS,
  IPV6_ALL_NODES,
  IPV6_UNSPECIFIED,
  formatIpv6,
  ipv6Equal,
  isUnspecifiedIpv6,
  multicastScope,
  MulticastScope,
  type Ipv6Address,
} from '../ipv6/address.js';
import type { ReceivedIpv6 } from '../ipv6/input.js';
import type { Ipv6Interface } from '../ipv6/interface.js';
import { Icmpv6Type } from './message.js';
import { MldRecordType, emitMldReport, emitMldV1Report, parseMldQuery, type MldRecord } from './mld-message.js';

/** RFC 3810 §5.2.14 / §7.4: reports go out with hop limit 1. */
const MLD_HOP_LIMIT = 1;
/** tapnet: a query cannot make us wait longer than this to answer (RFC 3810's Max Response Delay is up to ~8.4 min). */
export const MLD_RESPONSE_DELAY_MAX_MS = 10_000;
/**
 * RFC 3810 §9.12 Older Version Querier Present Timeout = Robustness Variable
 * × Query Interval + Query Response Interval = 2 × 125 s + 10 s (the §9
 * defaults; Linux computes the same from its defaults).
 */
export const MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS = 2 * 125_000 + 10_000;

export class Mld {
  private readonly responseTimer: Timer;
  private pendingGroups: 'all' | Ipv6Address[] = [];
  /** Until this time an MLDv1 querier is present: speak MLDv1 (RFC 3810 §8.2.1). */
  private v1QuerierUntil = -Infinity;

  constructor(private readonly iface: Ipv6Interface) {
    this.responseTimer = iface.ctx.timers.timer(() => this.answerQuery());
    iface.ctx.stats.declare('Icmp6OutMLDv2Reports', 'Icmp6OutGroupMembResponses', 'mldInErrors');
  }

  /** Groups that appear in reports: all but all-nodes and interface-local ones (RFC 3810 §6). */
  reportableGroups(): Ipv6Address[] {
    return this.iface.joinedGroups().filter((g) => !ipv6Equal(g, IPV6_ALL_NODES) && multicastScope(g) > MulticastScope.InterfaceLocal);
  }

  /** One unsolicited report with every group we listen to (interface up, link-local address ready). */
  reportAll(): void {
    this.send(this.reportableGroups(), MldRecordType.ChangeToExclude);
  }

  /** An unsolicited report for a group just joined (RFC 3810 §6.1: "filter mode change record"). */
  reportJoin(group: Ipv6Address): void {
    if (ipv6Equal(group, IPV6_ALL_NODES) || multicastScope(group) <= MulticastScope.InterfaceLocal) return;
    this.send([group], MldRecordType.ChangeToExclude);
  }

  /** A query (130) or someone else's report (131, 132, 143): answer queries, ignore the rest. */
  receive(d: ReceivedIpv6): Disposition {
    const { ctx } = this.iface;
    if (d.payload[0] !== Icmpv6Type.MulticastListenerQuery) return 'delivered'; // another listener's report: nothing to do
    const parsed = parseMldQuery(d.payload);
    if (!parsed.ok) {
      ctx.trace.dropped('mldInErrors', describeParseError(parsed.error), () => `query from ${formatIpv6(d.source)}`);
      return 'dropped';
    }
    const q = parsed.value;
    // RFC 3810 §5.1.14: queries come from link-local sources with hop limit 1.
    if (d.hopLimit !== MLD_HOP_LIMIT) {
      ctx.trace.dropped('mldInErrors', `query with hop limit ${d.hopLimit}`, () => `from ${formatIpv6(d.source)}`);
      return 'dropped';
    }
    // RFC 3810 §8.2.1: an MLDv1 query switches the interface to MLDv1 compatibility mode.
    if (q.version === 1) this.v1QuerierUntil = ctx.clock.now() + MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS;
    const general = isUnspecifiedIpv6(q.group);
    if (!general && !this.iface.hasGroup(q.group)) return 'delivered';
    if (general) this.pendingGroups = 'all';
    else if (this.pendingGroups !== 'all') this.pendingGroups.push(q.group.slice());
    // RFC 3810 §6.2: answer after a random delay in [0, Max Response Delay].
    const delay = Math.floor(this.iface.ctx.random.float() * Math.min(q.maxResponseDelayMs, MLD_RESPONSE_DELAY_MAX_MS));
    const at = this.iface.ctx.clock.now() + delay;
    if (!this.responseTimer.armed || at < this.responseTimer.deadline) this.responseTimer.armAt(at);
    return 'delivered';
  }

  private answerQuery(): void {
    const groups = this.pendingGroups === 'all' ? this.reportableGroups() : this.pendingGroups.filter((g) => this.iface.hasGroup(g));
    this.pendingGroups = [];
    this.send(groups, MldRecordType.ModeIsExclude);
  }

  /** RFC 3810 §8.2.1: in MLDv1 compatibility mode. */
  get speaksV1(): boolean {
    return this.iface.ctx.clock.now() < this.v1QuerierUntil;
  }

  private send(groups: readonly Ipv6Address[], recordType: number): void {
    if (groups.length === 0) return;
    if (this.speaksV1) return this.sendV1(groups);
    const records: MldRecord[] = groups.map((group) => ({ type: recordType, group, sources: [] }));
    const source = this.iface.linkLocal ?? IPV6_UNSPECIFIED;
    this.iface.sendControl({ source, destination: IPV6_ALL_MLDV2_ROUTERS, hopLimit: MLD_HOP_LIMIT, routerAlert: true }, (buf, offset, s, dst) =>
      emitMldReport({ records }, buf, offset, s, dst),
    );
    this.iface.ctx.stats.inc('Icmp6OutMLDv2Reports');
    this.iface.ctx.stats.inc('Icmp6OutMsgs');
  }

  /** RFC 2710 §3/§4: one version 1 report per group, sent to that group, hop limit 1, Router Alert. */
  private sendV1(groups: readonly Ipv6Address[]): void {
    const source = this.iface.linkLocal ?? IPV6_UNSPECIFIED;
    for (const group of groups) {
      this.iface.sendControl({ source, destination: group, hopLimit: MLD_HOP_LIMIT, routerAlert: true }, (buf, offset, s, dst) =>
        emitMldV1Report(group, buf, offset, s, dst),
      );
      this.iface.ctx.stats.inc('Icmp6OutGroupMembResponses');
      this.iface.ctx.stats.inc('Icmp6OutMsgs');
    }
  }
}
