/**
 * The forwarder: names outside the local zones are asked of configured
 * upstream servers, and the answers cached. Read first: RFC 5452 (what makes
 * forged replies hard: a random ID, a random source port, and accepting a
 * reply only when address, port, ID and question all match; §5 merging
 * identical outstanding queries so a burst cannot open a birthday attack),
 * RFC 1035 §7 (resolver behaviour: retransmit, try the next server),
 * RFC 2308 (negative answers, cached in cache.ts), RFC 6891 §6.2.3 (the
 * payload size we advertise upstream).
 *
 *   client ──query──▶ server.ts ──(not local)──▶ forwarder ──▶ upstream
 *                         ▲                          │  cache
 *                         └────── answer ◀───────────┘
 *
 * Every question in flight has its own UDP socket on a fresh random port
 * (the UDP layer draws it from ctx.random, RFC 6056) and its own random ID.
 * Time comes from ctx.timers, so tests drive retries on a manual clock.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import { formatIpv4, parseIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import type { UdpLayer, UdpRemoteInfo, UdpSocket } from '../../l4/udp/udp.js';
import { DnsCache, questionKey, type ForwardedAnswer } from './cache.js';
import { DnsOpcode, DnsRcode, rcodeName } from './constants.js';
import { ExtendedDnsError } from './edns-options.js';
import { describeDnsMessage, describeQuestion, encodeDnsMessage, fullRcode, parseDnsMessage, type DnsQuestion } from './message.js';
import { namesEqual } from './name.js';

/** Questions in flight at once; more are dropped (dnsmasq's dns-forward-max default). */
export const FORWARD_MAX_OUTSTANDING = 150;
/** Clients waiting on one question in flight; more are dropped. tapnet's choice: a burst, not a flood. */
export const FORWARD_MAX_WAITERS = 64;
/** How long one try waits for a reply. dig gives up after 5 s, so three tries fit inside its first attempt. */
export const FORWARD_TIMEOUT_MS = 1_500;
/** Tries per question, each to the next upstream in turn (RFC 1035 §7.2: "round robin"). */
export const FORWARD_MAX_TRIES = 3;
/** The UDP payload size advertised upstream (DNS Flag Day 2020: 1232 avoids IP fragmentation). */
export const FORWARD_UDP_PAYLOAD = 1232;
export const DNS_PORT = 53;

export interface Upstream {
  readonly address: Ipv4Address;
  readonly port: number;
}

/** "ADDR" or "ADDR:PORT" (port 53 by default); undefined when invalid. */
export function parseUpstream(text: string): Upstream | undefined {
  const m = /^([0-9.]+)(?::([0-9]{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const address = parseIpv4(m[1]!);
  const port = m[2] === undefined ? DNS_PORT : Number(m[2]);
  if (address === undefined || port < 1 || port > 65535) return undefined;
  return { address, port };
}

export function formatUpstream(u: Upstream): string {
  return `${formatIpv4(u.address)}:${u.port}`;
}

export interface ForwarderOptions {
  readonly maxOutstanding?: number;
  readonly maxWaiters?: number;
  readonly timeoutMs?: number;
  readonly maxTries?: number;
  readonly cacheEntries?: number;
}

interface InFlight {
  readonly key: string;
  readonly question: DnsQuestion;
  readonly id: number;
  readonly socket: UdpSocket;
  readonly query: Uint8Array;
  /** "address:port" of every upstream this question went to: a reply must come from one of them. */
  readonly sentTo: Set<string>;
  readonly firstUpstream: number;
  tries: number;
  readonly timer: Timer;
  readonly waiters: Array<(answer: ForwardedAnswer) => void>;
}

/** A SERVFAIL that says why (RFC 8914 §4.23 No Reachable Authority: no server answered, or every one refused). */
export function servfail(extraText: string): ForwardedAnswer {
  return {
    rcode: DnsRcode.SERVFAIL,
    answers: [],
    authorities: [],
    additionals: [],
    truncated: false,
    extendedError: { infoCode: ExtendedDnsError.NO_REACHABLE_AUTHORITY, extraText },
  };
}

export class DnsForwarder {
  readonly cache: DnsCache;
  private readonly inFlight = new Map<string, InFlight>();
  private nextUpstream = 0;
  private readonly maxOutstanding: number;
  private readonly maxWaiters: number;
  private readonly timeoutMs: number;
  private readonly maxTries: number;

  constructor(
    private readonly ctx: StackContext,
    private readonly udp: UdpLayer,
    readonly upstreams: readonly Upstream[],
    options: ForwarderOptions = {},
  ) {
    if (upstreams.length === 0) throw new RangeError('a forwarder needs at least one upstream');
    this.cache = new DnsCache(ctx.clock, ctx.stats, options.cacheEntries);
    this.maxOutstanding = options.maxOutstanding ?? FORWARD_MAX_OUTSTANDING;
    this.maxWaiters = options.maxWaiters ?? FORWARD_MAX_WAITERS;
    this.timeoutMs = options.timeoutMs ?? FORWARD_TIMEOUT_MS;
    this.maxTries = options.maxTries ?? FORWARD_MAX_TRIES;
    ctx.stats.declare(
      'dnsFwdQueries',
      'dnsFwdMerged',
      'dnsFwdRetries',
      'dnsFwdTimeouts',
      'dnsFwdAnswers',
      'dnsFwdUpstreamErrors',
      'dnsFwdBadReplies',
      'dnsFwdDropped',
    );
  }

  /** Questions waiting for an upstream right now. */
  get outstanding(): number {
    return this.inFlight.size;
  }

  /** The cached answer to `q`, TTLs counted down, or undefined. */
  cached(q: DnsQuestion): ForwardedAnswer | undefined {
    return this.cache.get(q);
  }

  /**
   * The upstream's answer to `q` (call `cached` first). An identical question
   * already in flight is joined, not asked again. Resolves with SERVFAIL when
   * no upstream answered, and with undefined when the question was dropped
   * because too many are in flight.
   */
  resolve(q: DnsQuestion): Promise<ForwardedAnswer | undefined> {
    const key = questionKey(q);
    const joined = this.inFlight.get(key);
    if (joined) {
      if (joined.waiters.length >= this.maxWaiters) return this.drop(q, `${this.maxWaiters} clients already wait for this question`);
      this.ctx.stats.inc('dnsFwdMerged');
      return new Promise((resolve) => joined.waiters.push(resolve));
    }
    if (this.inFlight.size >= this.maxOutstanding) return this.drop(q, `${this.maxOutstanding} questions in flight`);
    return new Promise((resolve) => this.start(key, q, resolve));
  }

  private drop(q: DnsQuestion, reason: string): Promise<undefined> {
    this.ctx.trace.dropped('dnsFwdDropped', reason, () => describeQuestion(q));
    return Promise.resolve(undefined);
  }

  private start(key: string, question: DnsQuestion, waiter: (answer: ForwardedAnswer) => void): void {
    const { ctx } = this;
    const id = ctx.random.u32() & 0xffff;
    const query = encodeDnsMessage({
      id,
      flags: { qr: false, opcode: DnsOpcode.QUERY, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
      questions: [question],
      answers: [],
      authorities: [],
      additionals: [],
      edns: { udpPayloadSize: FORWARD_UDP_PAYLOAD, extendedRcode: 0, version: 0, dnssecOk: false, options: [] },
    });
    const socket = this.udp.createSocket();
    socket.bind(0); // a random ephemeral port (RFC 5452 §9.2, RFC 6056)
    const flight: InFlight = {
      key,
      question,
      id,
      socket,
      query,
      sentTo: new Set(),
      firstUpstream: this.nextUpstream,
      tries: 0,
      timer: ctx.timers.timer(() => this.timedOut(flight)),
      waiters: [waiter],
    };
    this.nextUpstream = (this.nextUpstream + 1) % this.upstreams.length;
    socket.on('message', (msg, rinfo) => this.receive(flight, msg, rinfo));
    this.inFlight.set(key, flight);
    ctx.stats.inc('dnsFwdQueries');
    this.send(flight);
  }

  /** Sends the question to the next upstream in turn and arms the timeout. */
  private send(flight: InFlight): void {
    const upstream = this.upstreams[(flight.firstUpstream + flight.tries) % this.upstreams.length]!;
    flight.tries++;
    flight.sentTo.add(formatUpstream(upstream));
    flight.timer.armIn(this.timeoutMs);
    try {
      flight.socket.send(flight.query, upstream.port, formatIpv4(upstream.address));
    } catch (e) {
      // No route to the upstream: the timeout moves on to the next one.
      this.ctx.trace.event('dns forward send failed', () => `${formatUpstream(upstream)}: ${(e as Error).message}`);
    }
  }

  private timedOut(flight: InFlight): void {
    if (flight.tries < this.maxTries) {
      this.ctx.stats.inc('dnsFwdRetries');
      this.send(flight);
      return;
    }
    this.ctx.stats.inc('dnsFwdTimeouts');
    this.ctx.trace.event('dns forward timeout', () => `${describeQuestion(flight.question)} after ${flight.tries} tries`);
    this.finish(flight, servfail(`no upstream answered (${flight.tries} tries)`));
  }

  /** RFC 5452 §3: accept a reply only when source address and port, ID and question all match what was sent. */
  private receive(flight: InFlight, msg: Uint8Array, rinfo: UdpRemoteInfo): void {
    const { ctx } = this;
    const from = `${rinfo.address}:${rinfo.port}`;
    if (!flight.sentTo.has(from)) {
      ctx.trace.dropped('dnsFwdBadReplies', 'reply from an address or port the question was not sent to', () => from);
      return;
    }
    const parsed = parseDnsMessage(msg);
    if (!parsed.ok) {
      ctx.trace.dropped('dnsFwdBadReplies', `malformed reply: ${parsed.error.detail ?? parsed.error.reason}`, () => from);
      return;
    }
    const reply = parsed.value;
    if (!reply.flags.qr || reply.id !== flight.id) {
      ctx.trace.dropped('dnsFwdBadReplies', `ID ${reply.id}${reply.flags.qr ? '' : ' (not a response)'} where ${flight.id} was sent`, () => from);
      return;
    }
    const q = reply.questions[0];
    const asked = flight.question;
    if (reply.questions.length !== 1 || !q || q.type !== asked.type || q.class !== asked.class || !namesEqual(q.name, asked.name)) {
      ctx.trace.dropped('dnsFwdBadReplies', 'question does not match the one sent', () => describeDnsMessage(reply));
      return;
    }
    const rcode = fullRcode(reply); // with EDNS's upper bits: BADVERS must not pass for NOERROR
    if (rcode !== DnsRcode.NOERROR && rcode !== DnsRcode.NXDOMAIN) {
      // SERVFAIL, REFUSED, ...: this upstream cannot help; the next one may.
      ctx.stats.inc('dnsFwdUpstreamErrors');
      ctx.trace.event('dns upstream error', () => `${from}: ${describeDnsMessage(reply)}`);
      if (flight.tries < this.maxTries && this.upstreams.length > 1) this.send(flight);
      else this.finish(flight, servfail(`upstream ${from} answered ${rcodeName(rcode)}`));
      return;
    }
    ctx.stats.inc('dnsFwdAnswers');
    const answer: ForwardedAnswer = {
      rcode,
      answers: reply.answers,
      authorities: reply.authorities,
      additionals: reply.additionals,
      truncated: reply.flags.tc,
    };
    this.cache.put(asked, answer);
    this.finish(flight, answer);
  }

  private finish(flight: InFlight, answer: ForwardedAnswer): void {
    flight.timer.cancel();
    flight.socket.close();
    this.inFlight.delete(flight.key);
    for (const waiter of flight.waiters) waiter(answer);
  }

  /** Fails every question in flight (SERVFAIL) and closes their sockets. */
  close(): void {
    for (const flight of [...this.inFlight.values()]) this.finish(flight, servfail('the server is shutting down'));
  }

  /** For `tapnet show dns`. */
  describe(): string {
    let out = `upstreams: ${this.upstreams.map(formatUpstream).join(', ')}\n`;
    out += `in flight: ${this.inFlight.size}, cached: ${this.cache.size}\n`;
    return out + this.cache.describe();
  }
}
