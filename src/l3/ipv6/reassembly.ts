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
 * (RFC 8200 §4.5). The pieces, the timer and the memory budget are the core
 * IPv4 reassembly shares (../fragment/queue.ts), with Linux's IPv6 defaults;
 * the rules:
 *  - overlap with a fragment already held → the whole datagram is dropped
 *    (RFC 5722; Linux ip6_frag_queue). An exact duplicate is dropped alone,
 *    as Linux's inet_frag_queue_insert does (IPFRAG_DUP);
 *  - malformed (an empty fragment, two different ends, data past the end)
 *    → the whole datagram is dropped;
 *  - memory: bytes held (data + a fixed per-fragment overhead) never pass
 *    REASSEMBLY6_MEMORY_MAX; a fragment that would, is dropped with its
 *    datagram, and a new datagram past either cap evicts the oldest ones
 *    (ip6ReasmEvicted), as for IPv4.
 *
 * The reassembled packet is the first fragment's unfragmentable part (fixed
 * header + any Hop-by-Hop/Routing header) followed by the data, with the
 * Next Header field that named the Fragment header set to the Fragment
 * header's own Next Header (RFC 8200 §4.5 "Reassembly").
 */
import type { StackContext } from '../../core/context.js';
import { setU16 } from '../../core/bytes.js';
import { FragmentQueues, type FragmentFamily, type FragmentQueue, type ReassemblyCounters } from '../fragment/queue.js';
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

/** Linux's /proc/net/snmp6 names, and tapnet's in the same style. */
const COUNTERS: ReassemblyCounters = {
  fails: 'Ip6ReasmFails',
  timeout: 'Ip6ReasmTimeout',
  overlaps: 'ip6ReasmOverlaps',
  malformed: 'ip6ReasmMalformed',
  duplicates: 'ip6ReasmDuplicates',
  memoryFull: 'ip6ReasmMemoryFull',
  evicted: 'ip6ReasmEvicted',
  bytes: 'ip6ReasmBytes',
  datagrams: 'ip6ReasmDatagrams',
};

/** What IPv6 keeps per datagram beside the pieces. */
interface Datagram {
  readonly source: Ipv6Address;
  readonly destination: Ipv6Address;
  readonly identification: number;
  /** A copy of the first fragment, once it arrived. */
  first: { packet: Uint8Array; fragmentHeaderOffset: number; nextHeaderField: number; nextHeader: number } | undefined;
}

export class Ipv6Reassembler {
  onTimeout: ((firstFragment: Uint8Array) => void) | undefined;
  private readonly queues: FragmentQueues<Datagram>;
  /** The fragment being received, for traces and a new datagram's state. */
  private current: Ipv6Fragment | undefined;

  constructor(
    private readonly ctx: StackContext,
    options: Reassembly6Options = {},
  ) {
    this.onTimeout = options.onTimeout;
    ctx.stats.declare(
      'Ip6ReasmReqds',
      'Ip6ReasmOKs',
      'Ip6ReasmFails',
      'Ip6ReasmTimeout',
      'ip6ReasmOverlaps',
      'ip6ReasmMalformed',
      'ip6ReasmDuplicates',
      'ip6ReasmMemoryFull',
      'ip6ReasmEvicted',
      'ip6ReasmBytes',
      'ip6ReasmDatagrams',
    );
    const family: FragmentFamily<Datagram> = {
      counters: COUNTERS,
      newDatagram: () => {
        const f = this.current!;
        return { source: f.source.slice(), destination: f.destination.slice(), identification: f.identification, first: undefined };
      },
      // RFC 5722 §4 (with Errata 3089): any overlap drops the whole datagram, silently; an exact duplicate is
      // ignored, as Linux's inet_frag_queue_insert does (IPFRAG_DUP).
      overlap: (overlap) => (overlap === 'exactDuplicate' ? 'ignoreDuplicate' : 'dropDatagram'),
      describe: () => this.describeCurrent(),
      expired: (queue) => this.expired(queue),
    };
    this.queues = new FragmentQueues(
      ctx,
      {
        timeoutMs: options.timeoutMs ?? REASSEMBLY6_TIMEOUT_MS,
        memoryMax: options.memoryMax ?? REASSEMBLY6_MEMORY_MAX,
        queuesMax: options.datagramsMax ?? REASSEMBLY6_DATAGRAMS_MAX,
        fragmentOverhead: REASSEMBLY6_FRAGMENT_OVERHEAD,
      },
      family,
    );
  }

  get bytesHeld(): number {
    return this.queues.bytesHeld;
  }

  get datagramsInProgress(): number {
    return this.queues.size;
  }

  /** Takes one fragment; returns the whole packet when this one completed it. */
  receive(f: Ipv6Fragment): Reassembled | undefined {
    this.ctx.stats.inc('Ip6ReasmReqds');
    this.current = f;
    const key = `${ipv6Key(f.source)}${ipv6Key(f.destination)}${f.identification}`;
    const queue = this.queues.add(key, f.offset, f.data, !f.moreFragments);
    if (!queue) return undefined;
    if (f.offset === 0) {
      queue.state.first = {
        packet: f.packet.slice(),
        fragmentHeaderOffset: f.fragmentHeaderOffset,
        nextHeaderField: f.nextHeaderField,
        nextHeader: f.nextHeader,
      };
    }
    return queue.complete ? this.complete(queue) : undefined;
  }

  /** Drops everything in progress (interface down, shutdown). */
  clear(): void {
    this.queues.clear();
  }

  private complete(queue: FragmentQueue<Datagram>): Reassembled | undefined {
    this.queues.take(queue);
    const first = queue.state.first;
    if (!first) return undefined; // unreachable: full coverage includes offset 0
    const unfragmentable = first.fragmentHeaderOffset;
    const total = unfragmentable + queue.dataLength;
    if (total - IPV6_HEADER_LENGTH > IPV6_MAX_PAYLOAD_LENGTH) {
      // Input refuses such fragments first (Parameter Problem); a guard, not a path.
      return this.queues.fail(undefined, 'ip6ReasmMalformed', `reassembled payload ${total - IPV6_HEADER_LENGTH} > 65535`);
    }
    const out = new Uint8Array(total);
    out.set(first.packet.subarray(0, unfragmentable), 0);
    for (const piece of queue.pieces) out.set(piece.data, unfragmentable + piece.offset);
    out[first.nextHeaderField] = first.nextHeader;
    setU16(out, Ipv6Field.PAYLOAD_LENGTH, total - IPV6_HEADER_LENGTH);
    this.ctx.stats.inc('Ip6ReasmOKs');
    return { packet: out, offset: unfragmentable, nextHeader: first.nextHeader, nextHeaderField: first.nextHeaderField };
  }

  /** RFC 8200 §4.5: Time Exceeded code 1 to the source, only if the first fragment had arrived. */
  private expired(queue: FragmentQueue<Datagram>): void {
    const d = queue.state;
    this.ctx.trace.event(
      'IPv6 reassembly timeout',
      () => `${formatIpv6(d.source)} > ${formatIpv6(d.destination)} id 0x${d.identification.toString(16)}, ${queue.received} bytes`,
    );
    if (d.first && this.onTimeout) this.onTimeout(d.first.packet);
  }

  private describeCurrent(): string {
    const f = this.current;
    if (!f) return '';
    return `${formatIpv6(f.source)} > ${formatIpv6(f.destination)} frag id 0x${f.identification.toString(16)} [${f.offset}, ${f.offset + f.data.length})${f.moreFragments ? ' MF' : ''}`;
  }
}
