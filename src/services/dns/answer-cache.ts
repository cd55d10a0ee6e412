/**
 * Encoded authoritative responses, keyed by the query that produced them.
 *
 * An authoritative response is a pure function of the query bytes and the
 * zone. Two queries that differ only in their ID and in the case of their
 * question name get responses that differ only there too: the question is
 * echoed as sent, and every later owner equal to it is a compression pointer
 * to it (RFC 1035 §4.1.4). So the second such query needs no parsing,
 * lookup or encoding: copy the bytes, patch the ID and the name's octets.
 *
 *   query    | ID |flags counts| qname (any case) |type class| OPT ... |
 *   key           └─────────── same octets, qname lower-cased ────────┘
 *
 * The key holds every octet after the ID (flags, counts, type, class, the
 * whole OPT), so anything that could change the answer changes the key.
 * Entries are dropped whenever the zone's serial moves (a lease came or
 * went). Only local answers are kept: forwarded ones have TTLs that count
 * down.
 */
import { DNS_HEADER_LENGTH, DnsHeaderField } from './message.js';
import { getU16 } from '../../core/bytes.js';

/** Distinct query shapes kept; the oldest goes first. tapnet's choice: a lab zone has far fewer names. */
export const ANSWER_CACHE_MAX_ENTRIES = 4096;
/** Queries longer than this are not cached (a plain query with OPT is ~40 octets; cookies add 12-40). */
const MAX_KEYED_QUERY = 300;

export interface CachedResponse {
  readonly bytes: Uint8Array;
  readonly rcode: number;
  readonly truncated: boolean;
}

/** Where the question name ends (after its root label), or -1 when the query is not a plain single question. */
export function questionNameEnd(query: Uint8Array): number {
  if (query.length < DNS_HEADER_LENGTH || query.length > MAX_KEYED_QUERY) return -1;
  if (getU16(query, DnsHeaderField.questionCount) !== 1) return -1;
  if (getU16(query, DnsHeaderField.answerCount) !== 0 || getU16(query, DnsHeaderField.authorityCount) !== 0) return -1;
  let pos = DNS_HEADER_LENGTH;
  for (;;) {
    if (pos >= query.length) return -1;
    const length = query[pos]!;
    if (length === 0) return pos + 1 + 4 <= query.length ? pos + 1 : -1;
    if (length > 63) return -1; // a pointer or a reserved label type: leave it to the full parser
    pos += 1 + length;
  }
}

/** A copy. (Not `.slice()`: on a Node Buffer, which UDP hands us, that is a view, and folding case would change the query.) */
function copyOf(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

export class AnswerCache {
  private readonly entries = new Map<string, CachedResponse>();
  private serial: number | undefined;

  constructor(readonly maxEntries = ANSWER_CACHE_MAX_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  /** The key of `query` for a transport and size limit, or undefined when the query is not a cacheable shape. */
  key(query: Uint8Array, context: string): string | undefined {
    if (this.maxEntries === 0) return undefined;
    const nameEnd = questionNameEnd(query);
    if (nameEnd < 0) return undefined;
    // Every octet after the ID, as a latin1 string (one char per octet), with
    // ASCII case folded in the name only (RFC 4343 §3); elsewhere 'A' and 'a' differ.
    const octets = copyOf(query.subarray(DnsHeaderField.flags));
    for (let i = DNS_HEADER_LENGTH - DnsHeaderField.flags; i < nameEnd - DnsHeaderField.flags; i++) {
      const b = octets[i]!;
      if (b >= 0x41 && b <= 0x5a) octets[i] = b | 0x20;
    }
    return context + Buffer.from(octets.buffer, octets.byteOffset, octets.length).toString('latin1');
  }

  /** The cached response for `query`, with its ID and question name copied in; undefined on a miss or a new serial. */
  get(key: string, query: Uint8Array, serial: number): CachedResponse | undefined {
    if (serial !== this.serial) {
      this.entries.clear();
      this.serial = serial;
      return undefined;
    }
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    const bytes = copyOf(hit.bytes);
    bytes[0] = query[0]!;
    bytes[1] = query[1]!;
    bytes.set(query.subarray(DNS_HEADER_LENGTH, questionNameEnd(query)), DNS_HEADER_LENGTH);
    return { bytes, rcode: hit.rcode, truncated: hit.truncated };
  }

  put(key: string, response: CachedResponse, serial: number): void {
    if (this.maxEntries === 0) return;
    if (serial !== this.serial) {
      this.entries.clear();
      this.serial = serial;
    }
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { ...response, bytes: copyOf(response.bytes) });
  }
}
