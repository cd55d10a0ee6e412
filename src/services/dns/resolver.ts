/**
 * The recursive resolver: names outside the local zones are resolved by
 * asking the authorities themselves, starting at the root. Read first:
 * RFC 1034 §5.3.3 (the resolver algorithm, quoted below step by step),
 * RFC 1034 §4.3.2 (what a referral looks like), RFC 2308 (negative answers
 * and their caching), RFC 5452 (what makes forged replies hard; §6 and
 * RFC 2181 §5.4.1 on what data a server may be trusted for: its
 * "bailiwick"), RFC 1035 §7 (retransmit, try the next server).
 *
 *   client ─RD─▶ server.ts ─▶ resolver ─(RD=0)─▶ root   "ask test."      (referral + glue)
 *                                      ─(RD=0)─▶ test.  "ask example.test." (referral + glue)
 *                                      ─(RD=0)─▶ example.test.  "www is 10.53.0.20" (AA)
 *                                      cache: answers (cache.ts) and delegations (here)
 *
 * Everything a peer can make the resolver hold or do is capped: cache entries
 * (cache.ts), delegations, resolutions in flight and clients waiting on each,
 * referrals followed, CNAMEs chased, nested name-server lookups, and queries
 * sent per client question (the work budget, which also bounds the time a
 * resolution takes: each query waits at most RESOLVER_QUERY_TIMEOUT_MS).
 *
 * Not here: DNSSEC validation, TCP fallback on TC (a truncated referral is
 * treated as a failed server), IPv6 transport to authorities, QNAME
 * minimisation (RFC 9156).
 */
import type { StackContext } from '../../core/context.js';
import { formatIpv4, parseIpv4, parseIpv4Cidr, inCidr, formatIpv4Cidr, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import type { UdpLayer } from '../../l4/udp/udp.js';
import { DNS_CACHE_MAX_TTL_S, DnsCache, questionKey, type ForwardedAnswer } from './cache.js';
import { DnsClass, DnsOpcode, DnsRcode, DnsType, rcodeName } from './constants.js';
import { ExtendedDnsError } from './edns-options.js';
import { DNS_PORT, FORWARD_MAX_OUTSTANDING, FORWARD_MAX_WAITERS, FORWARD_UDP_PAYLOAD, servfail } from './forwarder.js';
import { describeQuestion, encodeDnsMessage, fullRcode, parseDnsMessage, type DnsMessage, type DnsQuestion, type DnsRecord } from './message.js';
import { canonicalName, isSubdomain, namesEqual } from './name.js';

/** How long one query to an authority waits (unbound starts near 376 ms and backs off; a lab answers in <10 ms). */
export const RESOLVER_QUERY_TIMEOUT_MS = 800;
/** Queries sent for one client question, all steps and nested lookups together (unbound's max-sent-count: 32). */
export const RESOLVER_MAX_QUERIES = 32;
/** Tries per step before the resolution fails, each to the next server of the set (RFC 1035 §7.2). */
export const RESOLVER_MAX_TRIES_PER_STEP = 4;
/** Referrals followed for one name: a name has at most 127 labels, real chains are 2-5 deep. tapnet's choice. */
export const RESOLVER_MAX_REFERRALS = 16;
/** CNAMEs chased for one question (BIND's max is 16 in the answer; tapnet's zone uses 8, zone.ts MAX_CNAME_CHAIN). */
export const RESOLVER_MAX_CNAMES = 8;
/** Nested lookups of glue-less name-server names (BIND's max-recursion-depth default: 7). */
export const RESOLVER_MAX_DEPTH = 7;
/** Delegations (zone cut → servers) kept; the oldest goes first. tapnet's choice (unbound's infra-cache-numhosts is 10000). */
export const RESOLVER_MAX_DELEGATIONS = 1_000;
/** Name servers and addresses taken from one referral (BIND's max 20 NS per delegation is generous; tapnet's choice). */
export const RESOLVER_MAX_SERVERS = 8;

/** `recursion:` of a router's `dns:` block, checked. */
export interface RecursionConfig {
  /** Root server addresses (the "root hints", RFC 1034 §5.3.2 SBELT). */
  readonly roots: readonly Ipv4Address[];
  /** Clients allowed to ask for recursion; empty: everyone (an open resolver, fine inside a lab). */
  readonly allow: readonly Ipv4Cidr[];
}

/** "10.53.0.1" → the address; undefined when invalid (for the lab schema). */
export function parseRootHint(text: string): Ipv4Address | undefined {
  return parseIpv4(text);
}

/** "10.1.0.0/24" or a single address → the network; undefined when invalid (for the lab schema). */
export function parseAllow(text: string): Ipv4Cidr | undefined {
  if (text.includes('/')) return parseIpv4Cidr(text);
  const a = parseIpv4(text);
  return a === undefined ? undefined : { address: a, prefixLength: 32 };
}

/** A zone cut and the addresses of its servers, as a referral taught it. */
interface Delegation {
  readonly zone: string;
  readonly nameServers: readonly string[];
  readonly addresses: readonly Ipv4Address[];
  readonly expiresAt: number;
}

/** The servers to ask next (SLIST of RFC 1034 §5.3.2): the zone they serve and their addresses. */
interface ServerList {
  readonly zone: string;
  readonly addresses: readonly Ipv4Address[];
}

/** One client question's resolution: its work budget. */
interface Work {
  queries: number;
}

/** Why a resolution failed: the SERVFAIL's Extended DNS Error text (RFC 8914). */
class ResolveError extends Error {}

export class DnsResolver {
  readonly cache: DnsCache;
  private readonly delegations = new Map<string, Delegation>();
  private readonly inFlight = new Map<string, Array<(answer: ForwardedAnswer) => void>>();
  private readonly sockets = new Set<{ close(): void }>();
  private closed = false;
  /** Answers given from cached address RRsets: the next rotation. */
  private rotation = 0;

  constructor(
    private readonly ctx: StackContext,
    private readonly udp: UdpLayer,
    readonly config: RecursionConfig,
    private readonly port = DNS_PORT,
  ) {
    if (config.roots.length === 0) throw new RangeError('a resolver needs at least one root server address');
    this.cache = new DnsCache(ctx.clock, ctx.stats);
    ctx.stats.declare(
      'dnsRecQueries',
      'dnsRecMerged',
      'dnsRecSent',
      'dnsRecTimeouts',
      'dnsRecReferrals',
      'dnsRecCnames',
      'dnsRecGlueless',
      'dnsRecLame',
      'dnsRecBadReplies',
      'dnsRecOutOfBailiwick',
      'dnsRecBudgetExceeded',
      'dnsRecServFail',
      'dnsRecDropped',
    );
  }

  /** Whether `client` (an address as text) may ask for recursion. */
  allows(client: string): boolean {
    if (this.config.allow.length === 0) return true;
    const address = parseIpv4(client);
    return address !== undefined && this.config.allow.some((net) => inCidr(address, net));
  }

  /** The cached answer to `q`, TTLs counted down, or undefined (RFC 1034 §5.3.3 step 1, for the server). */
  cached(q: DnsQuestion): ForwardedAnswer | undefined {
    const hit = this.cache.get(q);
    return hit && (q.type === DnsType.A || q.type === DnsType.AAAA) ? this.rotated(q, hit) : hit;
  }

  /**
   * The cached address RRset rotated by one per answer, as BIND's resolver
   * does with rrset-order cyclic: a cached round robin keeps spreading clients.
   */
  private rotated(q: DnsQuestion, answer: ForwardedAnswer): ForwardedAnswer {
    const at: number[] = [];
    answer.answers.forEach((r, i) => r.type === q.type && at.push(i));
    if (at.length < 2) return answer;
    const shift = this.rotation++ % at.length;
    const answers = [...answer.answers];
    at.forEach((pos, i) => (answers[pos] = answer.answers[at[(i + shift) % at.length]!]!));
    return { ...answer, answers };
  }

  /**
   * Resolves `q` from the root down. An identical question in flight is
   * joined. Resolves with SERVFAIL when no authority could answer, and with
   * undefined when the question was dropped (too many in flight).
   */
  resolve(q: DnsQuestion): Promise<ForwardedAnswer | undefined> {
    const { ctx } = this;
    const key = questionKey(q);
    const waiters = this.inFlight.get(key);
    if (waiters) {
      if (waiters.length >= FORWARD_MAX_WAITERS) return this.drop(q, `${FORWARD_MAX_WAITERS} clients already wait for this question`);
      ctx.stats.inc('dnsRecMerged');
      return new Promise((resolve) => waiters.push(resolve));
    }
    if (this.inFlight.size >= FORWARD_MAX_OUTSTANDING) return this.drop(q, `${FORWARD_MAX_OUTSTANDING} questions in flight`);
    ctx.stats.inc('dnsRecQueries');
    const list: Array<(answer: ForwardedAnswer) => void> = [];
    this.inFlight.set(key, list);
    const work: Work = { queries: 0 };
    return this.lookup(q, work, 0)
      .catch((e: unknown) => {
        ctx.stats.inc('dnsRecServFail');
        ctx.trace.event('dns resolution failed', () => `${describeQuestion(q)}: ${(e as Error).message}`);
        return servfail((e as Error).message);
      })
      .then((answer) => {
        this.inFlight.delete(key);
        for (const w of list) w(answer);
        return answer;
      });
  }

  private drop(q: DnsQuestion, reason: string): Promise<undefined> {
    this.ctx.trace.dropped('dnsRecDropped', reason, () => describeQuestion(q));
    return Promise.resolve(undefined);
  }

  /**
   * RFC 1034 §5.3.3, for one question. `depth` counts nested lookups (a
   * name server's address needed to follow a glue-less referral).
   */
  private async lookup(q: DnsQuestion, work: Work, depth: number): Promise<ForwardedAnswer> {
    const chain: DnsRecord[] = [];
    const seen = new Set<string>();
    let sname = q.name;
    for (let cnames = 0; ; cnames++) {
      if (cnames > RESOLVER_MAX_CNAMES) throw new ResolveError(`more than ${RESOLVER_MAX_CNAMES} CNAMEs from ${q.name}`);
      if (seen.has(sname.toLowerCase())) throw new ResolveError(`CNAME loop at ${sname}`);
      seen.add(sname.toLowerCase());
      const question: DnsQuestion = { name: sname, type: q.type, class: q.class };
      // "1. See if the answer is in local information, and if so return it to the client."
      const local = this.cache.get(question);
      const result = local ?? (await this.iterate(question, work, depth));
      const { answers } = result;
      // Where the CNAMEs in this answer lead (the server may have followed them inside its zone).
      let end = sname;
      for (let hops = 0; q.type !== DnsType.CNAME && hops <= RESOLVER_MAX_CNAMES; hops++) {
        const c = answers.find((r) => r.type === DnsType.CNAME && namesEqual(r.name, end));
        if (!c || c.data.kind !== 'CNAME') break;
        end = c.data.target;
      }
      // A CNAME whose target the answer did not cover: "change SNAME to the canonical name in the
      // CNAME RR and go to step 1" (step 4c).
      const answered = answers.some((r) => (r.type === q.type || q.type === DnsType.ANY) && namesEqual(r.name, end));
      if (answered || end === sname || result.rcode !== DnsRcode.NOERROR) {
        const full: ForwardedAnswer = { ...result, answers: [...chain, ...answers] };
        if (chain.length > 0) this.cache.put(q, full);
        return full;
      }
      this.ctx.stats.inc('dnsRecCnames');
      chain.push(...answers);
      sname = end;
    }
  }

  /**
   * Steps 2-4 for one name, no CNAME chasing across servers: the answer,
   * a negative answer, or the CNAME that step 1 follows.
   */
  private async iterate(question: DnsQuestion, work: Work, depth: number): Promise<ForwardedAnswer> {
    const { ctx } = this;
    // "2. Find the best servers to ask."
    let servers = this.bestServers(question.name);
    for (let referrals = 0; ; referrals++) {
      if (referrals > RESOLVER_MAX_REFERRALS) throw new ResolveError(`more than ${RESOLVER_MAX_REFERRALS} referrals for ${question.name}`);
      // "3. Send them queries until one returns a response."
      const { reply, from } = await this.ask(servers, question, work);
      // "4. Analyze the response, either: ..."
      const rcode = fullRcode(reply);
      const inZone = (r: DnsRecord): boolean => isSubdomain(r.name, servers.zone);
      const answers = this.answerRecords(reply, question, servers.zone);
      const soa = reply.authorities.find((r) => r.type === DnsType.SOA && inZone(r) && isSubdomain(question.name, r.name));
      // "a. if the response answers the question or contains a name error, cache the data as well as
      //  returning it back to the client."
      if (rcode === DnsRcode.NXDOMAIN || answers.length > 0) {
        const answer: ForwardedAnswer = { rcode, answers, authorities: soa ? [soa] : [], additionals: [], truncated: false };
        this.cache.put(question, answer);
        return answer;
      }
      // "b. if the response contains a better delegation to other servers, cache the delegation
      //  information, and go to step 2." Better: a zone below the one asked, at or above SNAME.
      const cut = reply.authorities.find((r) => r.type === DnsType.NS && !namesEqual(r.name, servers.zone) && inZone(r) && isSubdomain(question.name, r.name));
      if (!soa && cut) {
        ctx.stats.inc('dnsRecReferrals');
        const delegation = await this.learnDelegation(reply, cut.name, servers.zone, work, depth);
        ctx.trace.event('dns referral', () => `${describeQuestion(question)}: ${from} → ${delegation.zone} (${delegation.addresses.map(formatIpv4).join(', ')})`);
        servers = delegation;
        continue;
      }
      if (soa || reply.flags.aa) {
        // NODATA (RFC 2308 §2.2): the name exists, not with this type. Without an SOA it is not cached (§5).
        const answer: ForwardedAnswer = { rcode: DnsRcode.NOERROR, answers: [], authorities: soa ? [soa] : [], additionals: [], truncated: false };
        this.cache.put(question, answer);
        return answer;
      }
      // "d. if the response shows a server failure or other bizarre contents, delete the server from the
      //  SLIST and go back to step 3." A lame server (no answer, no SOA, no useful referral) is the case here.
      ctx.stats.inc('dnsRecLame');
      ctx.trace.event('dns lame server', () => `${from} for ${servers.zone}: ${describeQuestion(question)}`);
      const rest = servers.addresses.filter((a) => formatIpv4(a) !== from);
      if (rest.length === 0) throw new ResolveError(`lame delegation: ${from} gave no answer and no referral for ${question.name}`);
      servers = { zone: servers.zone, addresses: rest };
    }
  }

  /**
   * The answer section's records that answer `question` and that the server
   * may speak for (its zone): the RRset of SNAME, or its CNAME and what the
   * same answer says about the CNAME's targets inside the zone.
   */
  private answerRecords(reply: DnsMessage, question: DnsQuestion, zone: string): DnsRecord[] {
    const out: DnsRecord[] = [];
    let name = question.name;
    for (let hops = 0; hops <= RESOLVER_MAX_CNAMES; hops++) {
      if (!isSubdomain(name, zone)) break;
      const matched = reply.answers.filter((r) => namesEqual(r.name, name) && r.class === question.class && (r.type === question.type || question.type === DnsType.ANY));
      if (matched.length > 0) return [...out, ...matched];
      const cname = reply.answers.find((r) => namesEqual(r.name, name) && r.type === DnsType.CNAME);
      if (!cname || cname.data.kind !== 'CNAME') break;
      out.push(cname);
      name = cname.data.target;
    }
    const dropped = reply.answers.length - out.length;
    if (dropped > 0 && out.length === 0) this.ctx.stats.inc('dnsRecOutOfBailiwick', dropped);
    return out;
  }

  /**
   * A referral to `zone`: its NS names, and their addresses from the glue
   * (only glue inside the zone that referred: RFC 2181 §5.4.1) or, with none,
   * by resolving the names (a nested lookup from step 1).
   */
  private async learnDelegation(reply: DnsMessage, zone: string, parent: string, work: Work, depth: number): Promise<Delegation> {
    const nameServers = reply.authorities
      .filter((r) => r.type === DnsType.NS && namesEqual(r.name, zone) && r.data.kind === 'NS')
      .map((r) => (r.data.kind === 'NS' ? canonicalName(r.data.target) : ''))
      .slice(0, RESOLVER_MAX_SERVERS);
    const ttl = Math.min(DNS_CACHE_MAX_TTL_S, ...reply.authorities.filter((r) => r.type === DnsType.NS && namesEqual(r.name, zone)).map((r) => r.ttl));
    const addresses: Ipv4Address[] = [];
    for (const r of reply.additionals) {
      if (r.type !== DnsType.A || r.data.kind !== 'A' || addresses.length >= RESOLVER_MAX_SERVERS) continue;
      if (!nameServers.some((ns) => namesEqual(ns, r.name))) continue;
      if (!isSubdomain(r.name, parent)) {
        this.ctx.stats.inc('dnsRecOutOfBailiwick');
        continue;
      }
      if (!addresses.includes(r.data.address)) addresses.push(r.data.address);
    }
    if (addresses.length === 0) {
      // Glue-less: the names' addresses are a question of their own.
      if (depth + 1 > RESOLVER_MAX_DEPTH) throw new ResolveError(`name servers of ${zone} nested more than ${RESOLVER_MAX_DEPTH} deep`);
      for (const ns of nameServers) {
        if (isSubdomain(ns, zone)) continue; // needs glue we did not get: asking would loop
        this.ctx.stats.inc('dnsRecGlueless');
        const found = await this.lookup({ name: ns, type: DnsType.A, class: DnsClass.IN }, work, depth + 1).catch(() => undefined);
        for (const r of found?.answers ?? []) if (r.data.kind === 'A' && r.type === DnsType.A) addresses.push(r.data.address);
        if (addresses.length > 0) break;
      }
      if (addresses.length === 0) throw new ResolveError(`no address for any name server of ${zone} (${nameServers.join(', ')})`);
    }
    const delegation: Delegation = { zone: canonicalName(zone), nameServers, addresses, expiresAt: this.ctx.clock.now() + Math.max(ttl, 0) * 1000 };
    this.rememberDelegation(delegation);
    return delegation;
  }

  private rememberDelegation(d: Delegation): void {
    this.delegations.delete(d.zone);
    while (this.delegations.size >= RESOLVER_MAX_DELEGATIONS) this.delegations.delete(this.delegations.keys().next().value as string);
    this.delegations.set(d.zone, d);
  }

  /** RFC 1034 §5.3.3 step 2: the closest enclosing zone whose servers we know, else the root hints. */
  private bestServers(name: string): ServerList {
    const now = this.ctx.clock.now();
    let key = canonicalName(name);
    for (;;) {
      const d = this.delegations.get(key);
      if (d && d.expiresAt > now) return d;
      if (d) this.delegations.delete(key);
      if (key === '.') break;
      const dot = key.indexOf('.');
      key = dot + 1 >= key.length ? '.' : key.slice(dot + 1);
    }
    return { zone: '.', addresses: this.config.roots };
  }

  /** Step 3: the servers in turn until one answers NOERROR or NXDOMAIN; each try spends from the work budget. */
  private async ask(servers: ServerList, question: DnsQuestion, work: Work): Promise<{ reply: DnsMessage; from: string }> {
    const start = this.ctx.random.u32() % servers.addresses.length;
    let last = 'no server answered';
    for (let t = 0; t < RESOLVER_MAX_TRIES_PER_STEP; t++) {
      if (this.closed) throw new ResolveError('the server is shutting down');
      if (work.queries >= RESOLVER_MAX_QUERIES) {
        this.ctx.stats.inc('dnsRecBudgetExceeded');
        throw new ResolveError(`work budget of ${RESOLVER_MAX_QUERIES} queries spent`);
      }
      work.queries++;
      const address = formatIpv4(servers.addresses[(start + t) % servers.addresses.length]!);
      const reply = await this.query(address, question);
      if (reply === undefined) {
        last = `${address} did not answer`;
        continue;
      }
      const rcode = fullRcode(reply);
      if (reply.flags.tc || (rcode !== DnsRcode.NOERROR && rcode !== DnsRcode.NXDOMAIN)) {
        // "d. ... a server failure ...": the next server may do better.
        this.ctx.stats.inc('dnsRecLame');
        last = `${address} answered ${reply.flags.tc ? 'truncated' : rcodeName(rcode)}`;
        continue;
      }
      return { reply, from: address };
    }
    throw new ResolveError(`${last} (zone ${servers.zone})`);
  }

  /**
   * One query to one server: a fresh socket on a random port and a random ID
   * (RFC 5452 §9.2); a reply counts only from that address and port, with
   * that ID and question (§3). Undefined after RESOLVER_QUERY_TIMEOUT_MS.
   */
  private query(address: string, question: DnsQuestion): Promise<DnsMessage | undefined> {
    const { ctx } = this;
    const id = ctx.random.u32() & 0xffff;
    const bytes = encodeDnsMessage({
      id,
      flags: { qr: false, opcode: DnsOpcode.QUERY, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0 },
      questions: [question],
      answers: [],
      authorities: [],
      additionals: [],
      edns: { udpPayloadSize: FORWARD_UDP_PAYLOAD, extendedRcode: 0, version: 0, dnssecOk: false, options: [] },
    });
    return new Promise((resolve) => {
      const socket = this.udp.createSocket();
      socket.bind(0);
      this.sockets.add(socket);
      const done = (reply: DnsMessage | undefined): void => {
        timer.cancel();
        socket.close();
        this.sockets.delete(socket);
        resolve(reply);
      };
      const timer = ctx.timers.timer(() => {
        ctx.stats.inc('dnsRecTimeouts');
        done(undefined);
      });
      socket.on('message', (msg, rinfo) => {
        if (rinfo.address !== address || rinfo.port !== this.port) {
          ctx.trace.dropped('dnsRecBadReplies', 'reply from an address or port the query was not sent to', () => `${rinfo.address}:${rinfo.port}`);
          return;
        }
        const parsed = parseDnsMessage(msg);
        if (!parsed.ok) {
          ctx.trace.dropped('dnsRecBadReplies', `malformed reply: ${parsed.error.detail ?? parsed.error.reason}`, () => address);
          return;
        }
        const reply = parsed.value;
        const q = reply.questions[0];
        if (!reply.flags.qr || reply.id !== id || reply.questions.length !== 1 || !q || q.type !== question.type || q.class !== question.class || !namesEqual(q.name, question.name)) {
          ctx.trace.dropped('dnsRecBadReplies', 'ID or question does not match the query sent', () => address);
          return;
        }
        done(reply);
      });
      timer.armIn(RESOLVER_QUERY_TIMEOUT_MS);
      ctx.stats.inc('dnsRecSent');
      try {
        socket.send(bytes, this.port, address);
      } catch (e) {
        ctx.trace.event('dns resolver send failed', () => `${address}: ${(e as Error).message}`);
      }
    });
  }

  /** Fails every query in flight (their timeouts end them) and stops new ones. */
  close(): void {
    this.closed = true;
    for (const s of this.sockets) s.close();
    this.sockets.clear();
  }

  /** For `tapnet show dns`: the root hints, the delegations learned, the answer cache. */
  describe(): string {
    const now = this.ctx.clock.now();
    let out = `recursion from root hints ${this.config.roots.map(formatIpv4).join(', ')}`;
    out += this.config.allow.length > 0 ? `; allowed: ${this.config.allow.map((n) => `${formatIpv4Cidr(n)}`).join(', ')}\n` : '; open to every client\n';
    out += `in flight: ${this.inFlight.size}, delegations: ${this.delegations.size}, cached: ${this.cache.size}\n`;
    for (const d of this.delegations.values()) {
      const left = Math.floor((d.expiresAt - now) / 1000);
      if (left > 0) out += `delegation ${d.zone} NS ${d.nameServers.join(' ')} at ${d.addresses.map(formatIpv4).join(' ')}  ${left}s left\n`;
    }
    return out + this.cache.describe();
  }
}
