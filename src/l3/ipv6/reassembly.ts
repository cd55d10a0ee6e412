/**
 * IPv6 reassembly, with bounded memory.
 *
 * Read first: RFC 8200 §4.5 (the procedure, the 60-second limit, and the
 * Parameter Problem cases that ./input.ts checks before calling here), RFC
 * 5722 (overlapping fragments: the whole datagram is dropped, silently),
 * RFC 6946 (atomic fragments never get here), RFC 7112 (the first fragment
 * must hold the whole header chain; also checked by input).
 *
 * A datagram in progress is keyed by (source, destination, Identification)
 * (RFC 8200 §4.5). The same rules as IPv4 reassembly (../ipv4/reassembly.ts)
 * bound it, with Linux's IPv6 defaults:
 *  - overlap with a fragment already held → the whole datagram is dropped
 *    (RFC 5722; Linux ip6_frag_queue). An exact duplicate is dropped alone,
 *    as Linux's inet_frag_queue_insert does (IPFRAG_DUP);
 *  - malformed (an empty fragment, two different ends, data past the end)
 *    → the whole datagram is dropped;
 *  - memory: bytes held (data + a fixed per-fragment overhead) never pass
 *    REASSEMBLY6_MEMORY_MAX; a fragment that would, is dropped with its
 *    datagram, and new datagrams are refused rather than old ones evicted.
 *
 * The reassembled packet is the first fragment's unfragmentable part (fixed
 * header + any Hop-by-Hop/Routing header) followed by the data, with the
 * Next Header field that named the Fragment header set to the Fragment
 * header's own Next Header (RFC 8200 §4.5 "Reassembly").
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import { setU16 } from '../../core/bytes.js';
import { formatIpv6, ipv6Key, type Ipv6Address } from './address.js';
import { IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD_LENGTH, Ipv6Field } from './header.js';

/** RFC 8200 §4.5: 60 seconds; Linux net.ipv6.ip6frag_time is 60 too. */
export const REASSEMBLY6_TIMEOUT_MS = 60_000;
/** Linux net.ipv6.ip6frag_high_thresh (4 MB). */
export const REASSEMBLY6_MEMORY_MAX = 4 * 1024 * 1024;
/** tapnet: datagrams in progress at once (as REASSEMBLY_DATAGRAMS_MAX for IPv4). */
export const REASSEMBLY6_DATAGRAMS_MAX = 1024;
/** tapnet: bytes charged per held fragment on top of its data (as for IPv4, standing in for Linux's skb truesize). */
export const REASSEMBLY6_FRAGMENT_OVERHEAD = 128;

/** One fragment as IPv6 input hands it over (already checked against RFC 8200 §4.5 and RFC 7112). */
export interface Ipv6Fragment {
  readonly source: Ipv6Address;
  readonly destination: Ipv6Address;
  readonly identification: number;
  /** Bytes. */
  readonly offset: number;
  readonly moreFragments: boolean;
  /** The fragment's data (after its Fragment header). */
  readonly data: Uint8Array;
  /** The whole fragment packet (kept, copied, when offset is 0). */
  readonly packet: Uint8Array;
  /** Where the Fragment header starts in `packet` (= length of the unfragmentable part). */
  readonly fragmentHeaderOffset: number;
  /** Offset in `packet` of the Next Header octet that names the Fragment header. */
  readonly nextHeaderField: number;
  /** The Fragment header's Next Header: the first header of the fragmentable part. */
  readonly nextHeader: number;
}

export interface Reassembled {
  /** The whole packet, freshly allocated. */
  readonly packet: Uint8Array;
  /** Where the fragmentable part (now in one piece) starts. */
  readonly offset: number;
  /** The header that starts there. */
  readonly nextHeader: number;
  /** The octet that names it. */
  readonly nextHeaderField: number;
}

export interface Reassembly6Options {
  timeoutMs?: number;
  memoryMax?: number;
  datagramsMax?: number;
  /** Timed out with the first fragment present: a copy of it, for ICMPv6 Time Exceeded code 1. */
  onTimeout?: (firstFragment: Uint8Array) => void;
}

interface Piece {
  readonly offset: number;
  readonly end: number;
  readonly data: Uint8Array;
}

interface Datagram {
  readonly key: string;
  readonly source: Ipv6Address;
  readonly destination: Ipv6Address;
  readonly identification: number;
  readonly pieces: Piece[];
  received: number;
  /** Known once the fragment with M = 0 arrived; -1 before. */
  dataLength: number;
  /** A copy of the first fragment, once it arrived. */
  first: { packet: Uint8Array; fragmentHeaderOffset: number; nextHeaderField: number; nextHeader: number } | undefined;
  charged: number;
  readonly timer: Timer;
}

export class Ipv6Reassembler {
  onTimeout: ((firstFragment: Uint8Array) => void) | undefined;
  private readonly datagrams = new Map<string, Datagram>();
  private readonly timeoutMs: number;
  private readonly memoryMax: number;
  private readonly datagramsMax: number;
  private held = 0;
  /** The fragment being received, for traces. */
  private current: Ipv6Fragment | undefined;

  constructor(
    private readonly ctx: StackContext,
    options: Reassembly6Options = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? REASSEMBLY6_TIMEOUT_MS;
    this.memoryMax = options.memoryMax ?? REASSEMBLY6_MEMORY_MAX;
    this.datagramsMax = options.datagramsMax ?? REASSEMBLY6_DATAGRAMS_MAX;
    this.onTimeout = options.onTimeout;
    ctx.stats.declare(
      'ip6ReasmReqds',
      'ip6ReasmOKs',
      'ip6ReasmFails',
      'ip6ReasmTimeout',
      'ip6ReasmOverlaps',
      'ip6ReasmMalformed',
      'ip6ReasmDuplicates',
      'ip6ReasmMemoryFull',
      'ip6ReasmQueuesFull',
      'ip6ReasmBytes',
      'ip6ReasmDatagrams',
    );
  }

  get bytesHeld(): number {
    return this.held;
  }

  get datagramsInProgress(): number {
    return this.datagrams.size;
  }

  /** Takes one fragment; returns the whole packet when this one completed it. */
  receive(f: Ipv6Fragment): Reassembled | undefined {
    this.ctx.stats.inc('ip6ReasmReqds');
    this.current = f;
    const key = `${ipv6Key(f.source)}${ipv6Key(f.destination)}${f.identification}`;
    let datagram = this.datagrams.get(key);
    const offset = f.offset;
    const end = offset + f.data.length;
    const last = !f.moreFragments;

    if (f.data.length === 0) return this.fail(datagram, 'ip6ReasmMalformed', 'empty fragment');
    const cost = f.data.length + REASSEMBLY6_FRAGMENT_OVERHEAD;
    let index: number;
    if (datagram) {
      if (last) {
        if (datagram.dataLength >= 0 && end !== datagram.dataLength) {
          return this.fail(datagram, 'ip6ReasmMalformed', `second last fragment ends at ${end}, not ${datagram.dataLength}`);
        }
        const highest = datagram.pieces[datagram.pieces.length - 1]?.end ?? 0;
        if (highest > end) return this.fail(datagram, 'ip6ReasmMalformed', `data up to ${highest} beyond the end ${end}`);
      } else if (datagram.dataLength >= 0 && end > datagram.dataLength) {
        return this.fail(datagram, 'ip6ReasmMalformed', `data up to ${end} beyond the end ${datagram.dataLength}`);
      }
      index = insertionPoint(datagram.pieces, offset);
      const next = datagram.pieces[index];
      if (next && next.offset === offset && next.end === end) {
        this.ctx.trace.dropped('ip6ReasmDuplicates', 'duplicate fragment', () => this.describeCurrent());
        return undefined;
      }
      const previous = datagram.pieces[index - 1];
      if ((previous && previous.end > offset) || (next && next.offset < end)) {
        return this.fail(datagram, 'ip6ReasmOverlaps', `fragment [${offset}, ${end}) overlaps (RFC 5722)`);
      }
      if (this.held + cost > this.memoryMax) return this.fail(datagram, 'ip6ReasmMemoryFull', `${this.held} bytes held, cap ${this.memoryMax}`);
    } else {
      if (this.datagrams.size >= this.datagramsMax) return this.fail(undefined, 'ip6ReasmQueuesFull', `${this.datagrams.size} datagrams in progress`);
      if (this.held + cost > this.memoryMax) return this.fail(undefined, 'ip6ReasmMemoryFull', `${this.held} bytes held, cap ${this.memoryMax}`);
      datagram = this.create(key, f);
      index = 0;
    }

    datagram.pieces.splice(index, 0, { offset, end, data: f.data.slice() });
    datagram.received += f.data.length;
    datagram.charged += cost;
    this.held += cost;
    if (last) datagram.dataLength = end;
    if (offset === 0) {
      datagram.first = {
        packet: f.packet.slice(),
        fragmentHeaderOffset: f.fragmentHeaderOffset,
        nextHeaderField: f.nextHeaderField,
        nextHeader: f.nextHeader,
      };
    }
    this.updateGauges();
    if (datagram.dataLength >= 0 && datagram.received === datagram.dataLength) return this.complete(datagram);
    return undefined;
  }

  /** Drops everything in progress (interface down, shutdown). */
  clear(): void {
    for (const d of this.datagrams.values()) d.timer.cancel();
    this.datagrams.clear();
    this.held = 0;
    this.updateGauges();
  }

  private create(key: string, f: Ipv6Fragment): Datagram {
    const datagram: Datagram = {
      key,
      source: f.source.slice(),
      destination: f.destination.slice(),
      identification: f.identification,
      pieces: [],
      received: 0,
      dataLength: -1,
      first: undefined,
      charged: 0,
      timer: this.ctx.timers.timer(() => this.expire(datagram)),
    };
    // As Linux: the timer starts with the first fragment and later ones do not extend it.
    datagram.timer.armIn(this.timeoutMs);
    this.datagrams.set(key, datagram);
    return datagram;
  }

  private remove(d: Datagram): void {
    d.timer.cancel();
    this.datagrams.delete(d.key);
    this.held -= d.charged;
    this.updateGauges();
  }

  private fail(d: Datagram | undefined, counter: string, reason: string): undefined {
    if (d) this.remove(d);
    this.ctx.stats.inc('ip6ReasmFails');
    this.ctx.trace.dropped(counter, reason, () => this.describeCurrent());
    return undefined;
  }

  private complete(d: Datagram): Reassembled | undefined {
    this.remove(d);
    const first = d.first;
    if (!first) return undefined; // unreachable: full coverage includes offset 0
    const unfragmentable = first.fragmentHeaderOffset;
    const total = unfragmentable + d.dataLength;
    if (total - IPV6_HEADER_LENGTH > IPV6_MAX_PAYLOAD_LENGTH) {
      // Input refuses such fragments first (Parameter Problem); a guard, not a path.
      return this.fail(undefined, 'ip6ReasmMalformed', `reassembled payload ${total - IPV6_HEADER_LENGTH} > 65535`);
    }
    const out = new Uint8Array(total);
    out.set(first.packet.subarray(0, unfragmentable), 0);
    for (const piece of d.pieces) out.set(piece.data, unfragmentable + piece.offset);
    out[first.nextHeaderField] = first.nextHeader;
    setU16(out, Ipv6Field.PAYLOAD_LENGTH, total - IPV6_HEADER_LENGTH);
    this.ctx.stats.inc('ip6ReasmOKs');
    return { packet: out, offset: unfragmentable, nextHeader: first.nextHeader, nextHeaderField: first.nextHeaderField };
  }

  private expire(d: Datagram): void {
    this.remove(d);
    this.ctx.stats.inc('ip6ReasmFails');
    this.ctx.stats.inc('ip6ReasmTimeout');
    this.ctx.trace.event('IPv6 reassembly timeout', () => `${formatIpv6(d.source)} > ${formatIpv6(d.destination)} id 0x${d.identification.toString(16)}, ${d.received} bytes`);
    if (d.first && this.onTimeout) this.onTimeout(d.first.packet);
  }

  private updateGauges(): void {
    this.ctx.stats.set('ip6ReasmBytes', this.held);
    this.ctx.stats.set('ip6ReasmDatagrams', this.datagrams.size);
  }

  private describeCurrent(): string {
    const f = this.current;
    if (!f) return '';
    return `${formatIpv6(f.source)} > ${formatIpv6(f.destination)} frag id 0x${f.identification.toString(16)} [${f.offset}, ${f.offset + f.data.length})${f.moreFragments ? ' MF' : ''}`;
  }
}

function insertionPoint(pieces: readonly Piece[], offset: number): number {
  const n = pieces.length;
  if (n === 0 || pieces[n - 1]!.offset < offset) return n;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pieces[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
