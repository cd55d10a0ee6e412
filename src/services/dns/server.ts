/**
 * The DNS server: answers queries from the local zones, passes the rest to
 * the forwarder. Read first: RFC 1035 §4.1.1 (header; RCODEs FORMERR,
 * NOTIMP, REFUSED), §4.2.1 (UDP: 512 octets, TC), RFC 9619 (a QUERY has
 * exactly one question), RFC 6891 §6.1.3 and §7 (EDNS: echo an OPT when the
 * query had one, BADVERS for a version we do not speak, the requestor's
 * payload size bounds the response), RFC 3225 §3 (copy DO), RFC 2181 §9 (TC
 * only when required data is missing), RFC 8906 §3.1.5 (REFUSED for zones
 * not served), RFC 8482 (ANY may be answered with what is at hand), RFC 7873
 * §5.2 and RFC 9018 (cookies, cookies.ts), RFC 8914 (Extended DNS Errors),
 * and for the CHAOS class the de facto `version.bind` family (chaos.ts).
 *
 * `handle(query, maxSize, transport)` is pure of I/O: bytes in, bytes out
 * (or undefined: nothing to send). UDP here and TCP later both call it.
 * Local answers come back synchronously; only forwarded ones are a Promise.
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import { getU16 } from '../../core/bytes.js';
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import type { UdpLayer, UdpSocket } from '../../l4/udp/udp.js';
import { AnswerCache } from './answer-cache.js';
import type { ForwardedAnswer } from './cache.js';
import { DnsClass, DnsOpcode, DnsRcode, DnsType, EdnsOptionCode, rcodeName } from './constants.js';
import { answerChaos } from './chaos.js';
import { ServerCookies } from './cookies.js';
import { ExtendedDnsError, cookieOption, extendedErrorOption, parseCookieOption, type DnsCookie, type ExtendedError } from './edns-options.js';
import type { DnsForwarder } from './forwarder.js';
import type { DnsResolver } from './resolver.js';
import { DNS_PORT } from './forwarder.js';
import {
  DNS_HEADER_LENGTH,
  DNS_UDP_MAX_SIZE,
  DnsHeaderField,
  EDNS_MIN_UDP_PAYLOAD,
  describeDnsMessage,
  describeRecord,
  encodeDnsMessage,
  flagsFromWord,
  parseDnsMessage,
  type DnsFlags,
  type DnsMessage,
  type DnsQuestion,
  type Edns,
} from './message.js';
import type { Zone } from './zone.js';

/**
 * The largest UDP response we send, and the size we advertise: 1232 octets
 * (DNS Flag Day 2020; BIND's max-udp-size default), so answers never need IP
 * fragments (RFC 9715).
 */
export const DNS_SERVER_UDP_PAYLOAD = 1232;
/** EDNS versions spoken (RFC 6891 §6.1.3: only 0 is defined). */
export const EDNS_VERSION = 0;
/** Over TCP a message is at most 65535 octets (RFC 1035 §4.2.2). */
export const DNS_TCP_MAX_SIZE = 0xffff;

export type DnsTransport = 'udp' | 'tcp';

const RCODE_COUNTERS: Record<number, CounterName> = {
  [DnsRcode.NOERROR]: 'dnsOutNoError',
  [DnsRcode.FORMERR]: 'dnsOutFormErr',
  [DnsRcode.SERVFAIL]: 'dnsOutServFail',
  [DnsRcode.NXDOMAIN]: 'dnsOutNxDomain',
  [DnsRcode.NOTIMP]: 'dnsOutNotImp',
  [DnsRcode.REFUSED]: 'dnsOutRefused',
  [DnsRcode.BADVERS]: 'dnsOutBadVers',
  [DnsRcode.BADCOOKIE]: 'dnsOutBadCookie',
};

/** Q and meta types we do not answer (RFC 6895 §3.1): zone transfers, TSIG/TKEY, MAILA/MAILB. ANY (255) is answered. */
function isUnansweredMetaType(type: number): boolean {
  return type >= 128 && type <= 254;
}

export interface DnsServerOptions {
  readonly zone: Zone;
  /**
   * Names outside the zone: asked of configured upstreams (DnsForwarder) or
   * resolved from the root (DnsResolver, RFC 1034 §5.3.3); without either
   * those get REFUSED.
   */
  readonly forwarder?: DnsForwarder | DnsResolver;
  /** Encoded answers kept (default ANSWER_CACHE_MAX_ENTRIES); 0 turns the answer cache off (bench/dns-server.ts). */
  readonly answerCacheEntries?: number;
}

export class DnsServer {
  readonly zone: Zone;
  readonly forwarder: DnsForwarder | DnsResolver | undefined;
  private readonly sockets: UdpSocket[] = [];
  /** Encoded local answers by query shape (answer-cache.ts): a repeated question skips parse, lookup and encode. */
  private readonly answers: AnswerCache;
  private readonly cookies: ServerCookies;

  constructor(
    private readonly ctx: StackContext,
    options: DnsServerOptions,
  ) {
    this.zone = options.zone;
    this.forwarder = options.forwarder;
    this.answers = new AnswerCache(options.answerCacheEntries);
    this.cookies = new ServerCookies(ctx.clock, ctx.random);
    ctx.stats.declare(
      'dnsInQueries',
      'dnsInErrors',
      'dnsInFormErrors',
      'dnsOutResponses',
      'dnsOutTruncated',
      'dnsAuthAnswers',
      'dnsForwarded',
      'dnsOutRecursionRefused',
      'dnsInCookies',
      'dnsInCookiesValid',
      ...Object.values(RCODE_COUNTERS),
    );
  }

  /**
   * Answers on UDP port `port` of each IPv4 address (one socket per address,
   * so each reply leaves from the address its query was sent to), and with
   * '::' on every IPv6 address: one wildcard udp6 socket, since an address
   * still in duplicate address detection cannot be bound yet (RFC 4862 §5.4),
   * and IPv6 source selection (RFC 6724) answers from the matching address.
   */
  listen(udp: UdpLayer, addresses: ReadonlyArray<Ipv4Address | '::'>, port = DNS_PORT): void {
    for (const address of addresses) {
      const socket = udp.createSocket(address === '::' ? 'udp6' : 'udp4');
      socket.bind(port, address === '::' ? address : formatIpv4(address));
      socket.on('message', (msg, rinfo) => {
        const reply = this.handle(msg, DNS_SERVER_UDP_PAYLOAD, 'udp', rinfo.address);
        if (reply === undefined) return;
        const send = (bytes: Uint8Array | undefined): void => {
          if (bytes === undefined || socket.closed) return;
          try {
            socket.send(bytes, rinfo.port, rinfo.address);
          } catch (e) {
            this.ctx.trace.event('dns reply not sent', () => `${rinfo.address}:${rinfo.port}: ${(e as Error).message}`);
          }
        };
        if (reply instanceof Uint8Array) send(reply);
        else void reply.then(send);
      });
      this.sockets.push(socket);
    }
  }

  close(): void {
    for (const s of this.sockets) s.close();
    this.sockets.length = 0;
    this.forwarder?.close();
  }

  /** `handle` as a Promise, for callers that do not care whether the answer was local. */
  answer(query: Uint8Array, maxSize: number, transport: DnsTransport, client = ''): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.handle(query, maxSize, transport, client));
  }

  /**
   * One query in, one response out. `maxSize` is what the transport carries
   * (UDP: DNS_SERVER_UDP_PAYLOAD; TCP: 65535); over UDP the client's EDNS
   * size (or 512 without EDNS) lowers it. `client` is the sender's address
   * (its server cookie is bound to it). Undefined: drop, nothing to send.
   */
  handle(query: Uint8Array, maxSize: number, transport: DnsTransport, client = ''): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    const { ctx } = this;
    ctx.stats.inc('dnsInQueries');
    if (query.length < DNS_HEADER_LENGTH) {
      ctx.trace.dropped('dnsInErrors', `${query.length} octets, shorter than the DNS header`);
      return undefined;
    }
    const id = getU16(query, DnsHeaderField.id);
    const flags = flagsFromWord(getU16(query, DnsHeaderField.flags));
    if (flags.qr) {
      // Answering responses could make two servers bounce messages forever.
      ctx.trace.dropped('dnsInErrors', 'a response (QR=1) sent to the server', () => `id ${id}`);
      return undefined;
    }
    const key = this.answers.key(query, `${transport}${maxSize}|`);
    if (key !== undefined) {
      const hit = this.answers.get(key, query, this.zone.serial);
      if (hit) {
        ctx.stats.inc('dnsAuthAnswers');
        this.count(hit.rcode, hit.truncated);
        return hit.bytes;
      }
    }
    const parsed = parseQuery(query);
    if (flags.opcode !== DnsOpcode.QUERY) {
      // RFC 1035 §4.1.1: NOTIMP, "the name server does not support the requested kind of query".
      const questions = parsed.ok ? parsed.value.questions : [];
      return this.respond({ id, flags, questions, edns: parsed.ok ? parsed.value.edns : undefined }, DnsRcode.NOTIMP, maxSize, transport);
    }
    if (!parsed.ok) {
      ctx.trace.dropped('dnsInFormErrors', parsed.error, () => `id ${id}`);
      return this.respond({ id, flags, questions: [], edns: undefined }, DnsRcode.FORMERR, maxSize, transport);
    }
    const message = parsed.value;
    const request: Request = { id, flags, questions: message.questions, edns: message.edns };
    const cookieData = message.edns?.options.find((o) => o.code === EdnsOptionCode.COOKIE)?.data;
    let cookieValid = false;
    if (cookieData) {
      ctx.stats.inc('dnsInCookies');
      const cookie = parseCookieOption(cookieData);
      if (!cookie.ok) {
        // RFC 7873 §5.2.2: a malformed COOKIE option gets FORMERR.
        ctx.trace.dropped('dnsInFormErrors', cookie.detail, () => `id ${id}`);
        return this.respond({ ...request, questions: [] }, DnsRcode.FORMERR, maxSize, transport);
      }
      cookieValid = cookie.value.server !== undefined && this.cookies.verify(cookie.value, client);
      if (cookieValid) ctx.stats.inc('dnsInCookiesValid');
      // §5.2.3 / §5.2.4: every response to a query with a client cookie carries a fresh server cookie; an
      // invalid or stale server cookie is treated as if only the client cookie had come (no BADCOOKIE for it
      // on a query with a question: tapnet does not require cookies).
      request.cookie = { client: cookie.value.client, server: this.cookies.make(cookie.value.client, client) };
      if (message.questions.length === 0) {
        // §5.4: a query with no question and a cookie fetches a server cookie: NOERROR with it when the client
        // cookie came alone or with a valid server cookie, BADCOOKIE when its server cookie is not ours.
        const rcode = cookie.value.server === undefined || cookieValid ? DnsRcode.NOERROR : DnsRcode.BADCOOKIE;
        return this.respond(request, rcode, maxSize, transport);
      }
    }
    if (message.questions.length !== 1) {
      ctx.trace.dropped('dnsInFormErrors', `QDCOUNT ${message.questions.length}, a query has one question (RFC 9619)`, () => `id ${id}`);
      return this.respond({ ...request, questions: [] }, DnsRcode.FORMERR, maxSize, transport);
    }
    if (message.edns && message.edns.version !== EDNS_VERSION) {
      return this.respond(request, DnsRcode.BADVERS, maxSize, transport);
    }
    const question = message.questions[0]!;
    if (question.type === DnsType.OPT) {
      ctx.trace.dropped('dnsInFormErrors', 'QTYPE OPT is a pseudo-type (RFC 6891 §6.1.1)', () => `id ${id}`);
      return this.respond(request, DnsRcode.FORMERR, maxSize, transport);
    }
    if (isUnansweredMetaType(question.type)) {
      return this.respond(withError(request, ExtendedDnsError.NOT_SUPPORTED, 'zone transfers and meta queries are not served'), DnsRcode.NOTIMP, maxSize, transport);
    }
    if (question.class === DnsClass.CH) {
      const chaos = answerChaos(question);
      if (chaos) return this.respond(request, chaos.rcode, maxSize, transport, chaos, true);
    }
    if (question.class !== DnsClass.IN) {
      return this.respond(withError(request, ExtendedDnsError.NOT_SUPPORTED, 'only class IN is served'), DnsRcode.REFUSED, maxSize, transport);
    }

    const local = this.zone.lookup(question.name, question.type);
    if (local) {
      ctx.stats.inc('dnsAuthAnswers');
      // A referral (RFC 1034 §4.3.2 step 3b) is not an authoritative answer: AA clear.
      const bytes = this.respond(request, local.rcode, maxSize, transport, local, !local.referral);
      // A response with a server cookie is for one client only, and a rotated RRset (round robin) must
      // come out in the next order next time: neither is reusable by the answer cache.
      if (bytes && key !== undefined && !request.cookie && !local.rotated) this.answers.put(key, { bytes, rcode: local.rcode, truncated: isTruncated(bytes) }, this.zone.serial);
      return bytes;
    }
    const forwarder = this.forwarder;
    // RFC 8914 §4.21: Not Authoritative, for a name outside our zones when we will not recurse for it.
    if (!forwarder) return this.respond(withError(request, ExtendedDnsError.NOT_AUTHORITATIVE, 'not in a local zone and no upstream configured'), DnsRcode.REFUSED, maxSize, transport);
    if ('allows' in forwarder && !forwarder.allows(client)) {
      // RFC 8914 §4.19 Prohibited: recursion is offered to the configured networks only (BIND's allow-recursion).
      ctx.stats.inc('dnsOutRecursionRefused');
      return this.respond(withError(request, ExtendedDnsError.PROHIBITED, 'recursion is not offered to this client'), DnsRcode.REFUSED, maxSize, transport);
    }
    const hit = forwarder.cached(question);
    if (hit) return this.respond(request, hit.rcode, maxSize, transport, hit, false);
    // RFC 1034 §4.3.1: without RD the client asked us not to recurse.
    if (!flags.rd) return this.respond(withError(request, ExtendedDnsError.NOT_AUTHORITATIVE, 'not in a local zone and recursion not desired (RD=0)'), DnsRcode.REFUSED, maxSize, transport);
    ctx.stats.inc('dnsForwarded');
    return forwarder.resolve(question).then((answer) => {
      if (!answer) return undefined; // dropped (counted by the forwarder)
      const r = answer.extendedError ? withError(request, answer.extendedError.infoCode, answer.extendedError.extraText) : request;
      return this.respond(r, answer.rcode, maxSize, transport, answer, false);
    });
  }

  /** Builds and encodes the response to `request`. */
  private respond(
    request: Request,
    rcode: number,
    maxSize: number,
    transport: DnsTransport,
    sections?: Pick<ForwardedAnswer, 'answers' | 'authorities' | 'additionals'> & { truncated?: boolean },
    authoritative = false,
  ): Uint8Array | undefined {
    const { ctx } = this;
    const q = request.edns;
    // RFC 6891 §7: an OPT in the response only when the query had one; extended RCODE bits live in it, and
    // so do the options that answer the query's (COOKIE) or explain the RCODE (RFC 8914 §3: EDE only to a
    // client that sent an OPT).
    const options = [];
    if (request.cookie) options.push(cookieOption(request.cookie));
    if (request.extendedError) options.push(extendedErrorOption(request.extendedError));
    const edns: Edns | undefined = q
      ? { udpPayloadSize: DNS_SERVER_UDP_PAYLOAD, extendedRcode: rcode >>> 4, version: EDNS_VERSION, dnssecOk: q.dnssecOk, options }
      : undefined;
    const flags: DnsFlags = {
      qr: true,
      opcode: request.flags.opcode,
      aa: authoritative,
      tc: sections?.truncated ?? false,
      rd: request.flags.rd,
      ra: this.forwarder !== undefined,
      ad: false,
      cd: request.flags.cd,
      rcode: rcode & 0xf,
    };
    const message: DnsMessage = {
      id: request.id,
      flags,
      questions: request.questions,
      answers: sections?.answers ?? [],
      authorities: sections?.authorities ?? [],
      additionals: sections?.additionals ?? [],
      edns,
    };
    let limit = Math.min(maxSize, DNS_TCP_MAX_SIZE);
    // RFC 6891 §6.2.5: sizes under 512 mean 512; RFC 1035 §4.2.1: 512 without EDNS.
    if (transport === 'udp') limit = Math.min(limit, q ? Math.max(q.udpPayloadSize, EDNS_MIN_UDP_PAYLOAD) : DNS_UDP_MAX_SIZE);
    let bytes: Uint8Array;
    try {
      bytes = encodeDnsMessage(message, limit);
    } catch (e) {
      // Data we cannot write (a programmer error, never wire input): answer SERVFAIL rather than nothing.
      ctx.trace.log.error({ err: e }, `dns: cannot encode ${describeDnsMessage(message)}`);
      if (rcode === DnsRcode.SERVFAIL) return undefined;
      return this.respond(withError({ ...request, questions: [] }, ExtendedDnsError.OTHER, 'the answer could not be encoded'), DnsRcode.SERVFAIL, maxSize, transport);
    }
    this.count(rcode, isTruncated(bytes));
    return bytes;
  }

  private count(rcode: number, truncated: boolean): void {
    const { stats } = this.ctx;
    stats.inc('dnsOutResponses');
    stats.inc(RCODE_COUNTERS[rcode] ?? 'dnsOutOtherRcodes');
    if (truncated) stats.inc('dnsOutTruncated');
  }

  /** `tapnet show dns`: the zone, the leases, the forwarder and its cache. */
  /** `show dns --json`: the zone's records (master-file text, one per entry), the leases, the upstreams and cache. */
  showJson(): unknown {
    return {
      zone: this.zone.origin,
      serial: this.zone.serial,
      records: this.zone.records().map((r) => ({ record: describeRecord(r), source: r.source })),
      leases: this.zone.leases().map((l) => ({ name: l.name, address: formatIpv4(l.address) })),
      forwarder: this.forwarder ? this.forwarder.describe().split('\n').filter(Boolean) : null,
      // The forwarder's or resolver's answer cache (services/dns/cache.ts), one row per question.
      cache: this.forwarder ? this.forwarder.cache.rows() : [],
    };
  }

  show(): string {
    let out = `zone ${this.zone.origin} serial ${this.zone.serial}\n${this.zone.describe()}`;
    const leases = this.zone.leases();
    out += `\nleases: ${leases.length === 0 ? 'none' : leases.map((l) => `${l.name} ${formatIpv4(l.address)}`).join(', ')}\n`;
    out += this.forwarder ? `\n${this.forwarder.describe()}` : '\nno upstreams: names outside the zone are REFUSED\n';
    return out;
  }
}

/** What a response echoes from its query, and the options it adds. */
interface Request {
  readonly id: number;
  readonly flags: DnsFlags;
  readonly questions: readonly DnsQuestion[];
  readonly edns: Edns | undefined;
  /** The client's cookie and our fresh server cookie for it (RFC 7873 §5.2.3). */
  cookie?: DnsCookie;
  readonly extendedError?: ExtendedError;
}

function withError(request: Request, infoCode: number, extraText: string): Request {
  return { ...request, extendedError: { infoCode, extraText } };
}

const TC_BIT = 0x0200;
function isTruncated(response: Uint8Array): boolean {
  return (getU16(response, DnsHeaderField.flags) & TC_BIT) !== 0;
}

type QueryParse = { ok: true; value: DnsMessage } | { ok: false; error: string };

/** The query parsed, or why it is malformed (for the FORMERR trace). */
function parseQuery(query: Uint8Array): QueryParse {
  const r = parseDnsMessage(query);
  return r.ok ? r : { ok: false, error: r.error.detail ?? r.error.reason };
}
