/**
 * The forwarder's answer cache. Read first: RFC 1035 §7.4 (cache what
 * answers, not what is only additional), RFC 2181 §5.2 and §8 (an RRset has
 * one TTL; a TTL with the top bit set counts as zero), RFC 2308 §5 (negative
 * caching: NXDOMAIN and NODATA are cached for min(SOA TTL, SOA MINIMUM), and
 * not at all without an SOA), RFC 1035 §4.1.3 (TTLs count down while cached).
 *
 * Entries are keyed by the question only (lower-case name, type, class) and
 * hold the whole answer that came back for it. Nothing from one answer is
 * ever served for another question, so an upstream reply cannot plant data
 * under a name it was not asked about (the poisoning RFC 5452 §2 is about).
 *
 * Eviction is least-recently-used: a Map keeps insertion order, and a hit
 * moves its entry to the end.
 */
import type { ExtendedError } from './edns-options.js';
import type { Clock } from '../../core/time.js';
import type { Stats } from '../../core/stats.js';
import { DnsRcode, DnsType, dnsClassName, dnsTypeName, rcodeName } from './constants.js';
import { describeRdata, type DnsQuestion, type DnsRecord } from './message.js';

/** Entries kept; the least recently used goes first. tapnet's choice (dnsmasq's default cache-size is 150 names). */
export const DNS_CACHE_MAX_ENTRIES = 10_000;
/** Longest positive TTL honoured: one day (unbound's cache-max-ttl default). */
export const DNS_CACHE_MAX_TTL_S = 86_400;
/** Longest negative TTL honoured: one hour (unbound's cache-max-negative-ttl; RFC 2308 §5 suggests one to three hours). */
export const DNS_CACHE_MAX_NEGATIVE_TTL_S = 3_600;

/** An answer as the server puts it in a response. */
export interface ForwardedAnswer {
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
  /** The upstream set TC: the answer is incomplete (and was not cached). */
  readonly truncated: boolean;
  /** Why a SERVFAIL, as an RFC 8914 Extended DNS Error for the client (never cached: only failures carry one). */
  readonly extendedError?: ExtendedError;
}

interface Entry {
  readonly answer: ForwardedAnswer;
  readonly storedAt: number;
  /** Seconds the entry lives (already capped). */
  readonly ttl: number;
  readonly negative: boolean;
}

export function questionKey(q: DnsQuestion): string {
  return `${q.name.toLowerCase()}|${q.type}|${q.class}`;
}

/** RFC 2181 §8: a TTL with the most significant bit set is treated as zero. */
function effectiveTtl(ttl: number): number {
  return ttl > 0x7fff_ffff ? 0 : ttl;
}

/**
 * How long an answer may be cached, in seconds; 0 means not at all.
 * Positive: the smallest TTL of the answer section. Negative (RFC 2308 §5):
 * min(SOA TTL, MINIMUM). Both capped (DNS_CACHE_MAX_*).
 */
export function cacheTtl(q: DnsQuestion, answer: ForwardedAnswer): { ttl: number; negative: boolean } {
  if (answer.truncated) return { ttl: 0, negative: false };
  if (answer.rcode !== DnsRcode.NOERROR && answer.rcode !== DnsRcode.NXDOMAIN) return { ttl: 0, negative: false }; // SERVFAIL and friends
  // The CNAMEs of a chain count too: the answer is only as fresh as its shortest link.
  const answerTtl = Math.min(DNS_CACHE_MAX_TTL_S, ...answer.answers.map((r) => effectiveTtl(r.ttl)));
  const answered = answer.answers.some((r) => r.type === q.type || q.type === DnsType.ANY);
  if (answer.rcode === DnsRcode.NOERROR && answered) return { ttl: answerTtl, negative: false };
  // NXDOMAIN, or NODATA (RFC 2308 §2.2): "Negative responses without SOA records SHOULD NOT be cached" (§5).
  const soa = answer.authorities.find((r) => r.type === DnsType.SOA);
  if (!soa || soa.data.kind !== 'SOA') return { ttl: 0, negative: true };
  const ttl = Math.min(effectiveTtl(soa.ttl), soa.data.minimum, DNS_CACHE_MAX_NEGATIVE_TTL_S, answerTtl);
  return { ttl, negative: true };
}

export class DnsCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly stats: Stats,
    readonly maxEntries = DNS_CACHE_MAX_ENTRIES,
  ) {
    stats.declare('dnsCacheHits', 'dnsCacheMisses', 'dnsCacheInserts', 'dnsCacheEvictions', 'dnsCacheEntries');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached answer with every TTL counted down by the time it has been held, or undefined. */
  get(q: DnsQuestion): ForwardedAnswer | undefined {
    const key = questionKey(q);
    const entry = this.entries.get(key);
    if (!entry) {
      this.stats.inc('dnsCacheMisses');
      return undefined;
    }
    const elapsed = Math.floor((this.clock.now() - entry.storedAt) / 1000);
    const left = entry.ttl - elapsed;
    if (left <= 0) {
      this.entries.delete(key);
      this.stats.set('dnsCacheEntries', this.entries.size);
      this.stats.inc('dnsCacheMisses');
      return undefined;
    }
    this.entries.delete(key); // LRU: move to the end
    this.entries.set(key, entry);
    this.stats.inc('dnsCacheHits');
    const age = (records: readonly DnsRecord[]): DnsRecord[] =>
      records.map((r) => ({ ...r, ttl: Math.max(0, Math.min(effectiveTtl(r.ttl), entry.ttl) - elapsed) }));
    const a = entry.answer;
    return { rcode: a.rcode, answers: age(a.answers), authorities: age(a.authorities), additionals: age(a.additionals), truncated: false };
  }

  /** Stores the answer to `q` if it may be cached; returns whether it was. */
  put(q: DnsQuestion, answer: ForwardedAnswer): boolean {
    const { ttl, negative } = cacheTtl(q, answer);
    if (ttl <= 0) return false;
    const key = questionKey(q);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.stats.inc('dnsCacheEvictions');
    }
    this.entries.set(key, { answer, storedAt: this.clock.now(), ttl, negative });
    this.stats.inc('dnsCacheInserts');
    this.stats.set('dnsCacheEntries', this.entries.size);
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.stats.set('dnsCacheEntries', 0);
  }

  /** `tapnet show dns --json`: one row per live entry, the records' data with the TTL it has left. */
  rows(): { name: string; class: string; type: string; result: string; rcode: string; answers: string[]; ttlLeft: number }[] {
    const now = this.clock.now();
    const out = [];
    for (const [key, e] of this.entries) {
      const left = e.ttl - Math.floor((now - e.storedAt) / 1000);
      if (left <= 0) continue;
      const [name = '', type, klass] = key.split('|');
      out.push({
        name,
        class: dnsClassName(Number(klass)),
        type: dnsTypeName(Number(type)),
        result: e.negative ? (e.answer.rcode === DnsRcode.NXDOMAIN ? 'NXDOMAIN' : 'NODATA') : `${e.answer.answers.length} records`,
        rcode: rcodeName(e.answer.rcode),
        answers: e.answer.answers.map((r) => `${dnsTypeName(r.type)} ${describeRdata(r.data)}`),
        ttlLeft: left,
      });
    }
    return out;
  }

  /** One line per entry for `tapnet show dns`: question, result, seconds left. */
  describe(): string {
    const now = this.clock.now();
    let out = '';
    for (const [key, e] of this.entries) {
      const left = e.ttl - Math.floor((now - e.storedAt) / 1000);
      if (left <= 0) continue;
      const [name, type, klass] = key.split('|');
      const what = e.negative ? (e.answer.rcode === DnsRcode.NXDOMAIN ? 'NXDOMAIN' : 'NODATA') : `${e.answer.answers.length} records`;
      out += `${name} ${dnsClassName(Number(klass))} ${dnsTypeName(Number(type))}  ${what}  ${rcodeName(e.answer.rcode)}  ${left}s left\n`;
    }
    return out;
  }
}
