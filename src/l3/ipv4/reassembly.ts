/**
 * IPv4 reassembly: putting fragments back together, with bounded memory.
 *
 * Read first: RFC 791 §3.2 (the reassembly procedure and its timer), RFC 1122
 * §3.3.2 (reassembly is a MUST; the timeout and ICMP time exceeded code 1),
 * RFC 5722 (overlapping fragments are dropped whole: written for IPv6, and
 * what Linux does for IPv4 since 2018, "ip: discard IPv4 datagrams with
 * overlapping segments", after the FragmentSmack CVE-2018-5391), RFC 4963
 * (why the 16-bit Identification wraps too fast for high rates).
 *
 * A datagram in progress is keyed by (source, destination, protocol,
 * identification) (RFC 791 §3.2). The queue of pieces, the timer and the
 * memory budget are the core IPv6 shares (../fragment/queue.ts); this file
 * holds IPv4's own rules. When the last fragment (MF = 0) has told us the
 * length and every byte up to it is present, the datagram is copied out
 * once, behind the first fragment's header.
 *
 * Failure rules, each counted:
 *  - a fragment lying entirely inside data already received (an exact
 *    duplicate, or a subset of one piece or of adjacent pieces) is a
 *    duplicate: dropped alone, the datagram kept, as Linux's
 *    inet_frag_queue_insert (IPFRAG_DUP) and gVisor do;
 *  - any other overlap with data already held (over a hole or past the data
 *    held) → the whole datagram is dropped (Linux ip_frag_queue →
 *    discard_qp). RFC 5722 is written for IPv6 and IPv6 keeps its stricter
 *    reading (../ipv6/reassembly.ts);
 *  - data past 65535 bytes ("ping of death") → the whole datagram is dropped;
 *  - malformed: empty fragment, non-final fragment whose length is not a
 *    multiple of 8 (RFC 791 §3.2; Linux trims it instead, we refuse it), or
 *    two different ends → the whole datagram is dropped;
 *  - memory: the bytes held (data + a fixed per-fragment overhead) never pass
 *    REASSEMBLY_MEMORY_MAX. A fragment that would pass it is dropped, and the
 *    datagram it belongs to with it (it can no longer complete, so holding
 *    the rest would only pin memory). A new datagram past the memory or the
 *    datagram cap evicts the oldest ones (ipReasmEvicted). Linux since 4.17
 *    refuses the new datagram instead (inet_frag_alloc() above
 *    ipfrag_high_thresh), so a flood of bogus first fragments blocks every
 *    legitimate fragmented datagram for the whole 30 s; evicting, as gVisor
 *    and lwIP do, lets a datagram whose fragments arrive close together
 *    through while the flood goes on (../fragment/queue.ts).
 */
import type { StackContext } from '../../core/context.js';
import { getU16, setU16 } from '../../core/bytes.js';
import { FragmentQueues, type FragmentFamily, type FragmentFault, type FragmentQueue, type ReassemblyCounters } from '../fragment/queue.js';
import { formatIpv4 } from './address.js';
import { Field, IPV4_MAX_PACKET_LENGTH, IPV4_MIN_HEADER_LENGTH, Ipv4HeaderView, describeIpv4, finishIpv4Header } from './header.js';

/** Linux net.ipv4.ipfrag_time (30 s). RFC 791 §3.2 gives 15 s as a lower bound; RFC 1122 §3.3.2 suggests 60-120 s. */
export const REASSEMBLY_TIMEOUT_MS = 30_000;
/** Linux net.ipv4.ipfrag_high_thresh (4 MB): past it, new fragments are refused. */
export const REASSEMBLY_MEMORY_MAX = 4 * 1024 * 1024;
/**
 * tapnet: datagrams in progress at once. Linux has no separate count (its
 * memory accounting charges each fragment's skb truesize, ≥ ~1 KB, so 4 MB
 * holds a few thousand queues); we bound the Map and its timers directly.
 */
export const REASSEMBLY_DATAGRAMS_MAX = 1024;
/**
 * tapnet: bytes charged per held fragment on top of its data (the piece
 * object, its copy's header, the first fragment's header copy), so a flood
 * of 8-byte fragments is bounded by the memory cap too, as Linux's truesize
 * accounting does.
 */
export const REASSEMBLY_FRAGMENT_OVERHEAD = 128;

/** The largest data a datagram may carry: 65535 minus a header without options. */
const MAX_DATA_END = IPV4_MAX_PACKET_LENGTH - IPV4_MIN_HEADER_LENGTH;
const FLAG_DF = 0x4000;

export interface ReassemblyOptions {
  timeoutMs?: number;
  memoryMax?: number;
  datagramsMax?: number;
  /**
   * A datagram timed out with its fragment zero present: the IP layer sends
   * ICMP time exceeded, code 1 (RFC 792; RFC 1122 §3.3.2 says only then).
   * `firstFragment` is a fresh copy of that fragment (header + data).
   */
  onTimeout?: (firstFragment: Uint8Array) => void;
}

/** Linux's /proc/net/snmp names, and tapnet's in the same style. */
const COUNTERS: ReassemblyCounters = {
  fails: 'IpReasmFails',
  timeout: 'IpReasmTimeout',
  overlaps: 'IpExtReasmOverlaps',
  malformed: 'ipReasmMalformed',
  duplicates: 'ipReasmDuplicates',
  memoryFull: 'ipReasmMemoryFull',
  evicted: 'ipReasmEvicted',
  bytes: 'ipReasmBytes',
  datagrams: 'ipReasmDatagrams',
};

/** What IPv4 keeps per datagram beside the pieces. */
interface Datagram {
  readonly source: number;
  readonly destination: number;
  readonly identification: number;
  /** Header of the fragment with offset 0 (a copy), once it arrived. */
  firstHeader: Uint8Array | undefined;
}

export class Ipv4Reassembler {
  onTimeout: ((firstFragment: Uint8Array) => void) | undefined;
  private readonly view = new Ipv4HeaderView();
  private readonly queues: FragmentQueues<Datagram>;

  constructor(
    private readonly ctx: StackContext,
    options: ReassemblyOptions = {},
  ) {
    this.onTimeout = options.onTimeout;
    ctx.stats.declare(
      'IpReasmReqds',
      'IpReasmOKs',
      'IpReasmFails',
      'IpReasmTimeout',
      'IpExtReasmOverlaps',
      'ipReasmOversize',
      'ipReasmMalformed',
      'ipReasmDuplicates',
      'ipReasmMemoryFull',
      'ipReasmEvicted',
      'ipReasmBytes',
      'ipReasmDatagrams',
    );
    const view = this.view;
    const family: FragmentFamily<Datagram> = {
      counters: COUNTERS,
      newDatagram: () => ({ source: view.source, destination: view.destination, identification: view.identification, firstHeader: undefined }),
      check: (queue, offset, end, last) => this.check(queue, offset, end, last),
      // Like Linux: data already received adds nothing and is ignored; a fragment that overlaps held data and
      // also brings new bytes could rewrite what the first copy said (FragmentSmack, CVE-2018-5391): drop all.
      overlap: (overlap) => (overlap === 'partial' ? 'dropDatagram' : 'ignoreDuplicate'),
      // `view` still holds the fragment being received: describe() runs inside dropped().
      describe: () => describeIpv4(view),
      expired: (queue) => this.expired(queue),
    };
    this.queues = new FragmentQueues(
      ctx,
      {
        timeoutMs: options.timeoutMs ?? REASSEMBLY_TIMEOUT_MS,
        memoryMax: options.memoryMax ?? REASSEMBLY_MEMORY_MAX,
        queuesMax: options.datagramsMax ?? REASSEMBLY_DATAGRAMS_MAX,
        fragmentOverhead: REASSEMBLY_FRAGMENT_OVERHEAD,
      },
      family,
    );
  }

  /** Bytes held (data + per-fragment overhead); the `ipReasmBytes` gauge. */
  get bytesHeld(): number {
    return this.queues.bytesHeld;
  }

  /** Datagrams in progress; the `ipReasmDatagrams` gauge. */
  get datagramsInProgress(): number {
    return this.queues.size;
  }

  /**
   * Takes one received IPv4 packet (already validated by IP input). Returns
   * the complete datagram when this fragment finished one, the packet itself
   * when it is not a fragment, and undefined when it was kept or dropped.
   * The returned datagram is freshly allocated and owned by the caller.
   */
  receive(packet: Uint8Array): Uint8Array | undefined {
    const { ctx, view } = this;
    const error = view.wrap(packet, false);
    if (error) {
      ctx.trace.dropped('IpReasmFails', `not an IPv4 packet: ${error.reason}`);
      return undefined;
    }
    if (!view.isFragment) return view.packet;
    ctx.stats.inc('IpReasmReqds');

    const offset = view.fragmentOffset;
    const key = `${view.source}/${view.destination}/${view.protocol}/${view.identification}`;
    const queue = this.queues.add(key, offset, view.payload, !view.moreFragments);
    if (!queue) return undefined;
    if (offset === 0) queue.state.firstHeader = view.buffer.slice(0, view.headerLength);
    return queue.complete ? this.complete(queue) : undefined;
  }

  /** Drops everything in progress and cancels the timers (interface down, stack shutdown). */
  clear(): void {
    this.queues.clear();
  }

  /**
   * IPv4's own checks, before the shared ones. Linux discards the queue for
   * these too.
   */
  private check(queue: FragmentQueue<Datagram> | undefined, offset: number, end: number, last: boolean): FragmentFault | undefined {
    const length = end - offset;
    // RFC 791 §3.2: every fragment but the last carries a multiple of 8 octets (Linux trims it instead; we refuse it).
    if (!last && length % 8 !== 0) return { counter: 'ipReasmMalformed', reason: `non-final fragment of ${length} bytes, not a multiple of 8` };
    // "Ping of death": data past what a 65535-byte datagram can carry.
    if (end > MAX_DATA_END) return { counter: 'ipReasmOversize', reason: `data up to ${end} > ${MAX_DATA_END}` };
    // The first fragment's header (options make it up to 60 bytes) plus all the data must fit in 65535 too.
    const headerLength = offset === 0 ? this.view.headerLength : (queue?.state.firstHeader?.length ?? IPV4_MIN_HEADER_LENGTH);
    const highest = Math.max(end, queue?.highestEnd ?? 0);
    if (headerLength + highest > IPV4_MAX_PACKET_LENGTH) return { counter: 'ipReasmOversize', reason: `${headerLength} + ${highest} bytes > 65535` };
    return undefined;
  }

  private complete(queue: FragmentQueue<Datagram>): Uint8Array | undefined {
    const header = queue.state.firstHeader;
    this.queues.take(queue);
    if (!header) return undefined; // unreachable: full coverage includes offset 0
    const totalLength = header.length + queue.dataLength;
    const out = new Uint8Array(totalLength);
    out.set(header, 0);
    for (const piece of queue.pieces) out.set(piece.data, header.length + piece.offset);
    // The first fragment's header, now describing the whole datagram: MF = 0, offset 0 (DF kept).
    setU16(out, Field.FLAGS_FRAGMENT_OFFSET, getU16(out, Field.FLAGS_FRAGMENT_OFFSET) & FLAG_DF);
    finishIpv4Header(out, 0, totalLength);
    this.ctx.stats.inc('IpReasmOKs');
    return out;
  }

  /** RFC 1122 §3.3.2: ICMP time exceeded (code 1) only when fragment zero had arrived. */
  private expired(queue: FragmentQueue<Datagram>): void {
    const d = queue.state;
    this.ctx.trace.event('reassembly timeout', () => `${formatIpv4(d.source)} > ${formatIpv4(d.destination)} id ${d.identification} [0, ${queue.received})`);
    const header = d.firstHeader;
    const first = queue.pieces[0];
    if (!header || !first || first.offset !== 0 || !this.onTimeout) return;
    const fragment = new Uint8Array(header.length + first.data.length);
    fragment.set(header, 0);
    fragment.set(first.data, header.length);
    this.onTimeout(fragment);
  }
}
