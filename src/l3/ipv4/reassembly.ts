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
 * identification) (RFC 791 §3.2). Each fragment's data is copied (the
 * received frame is only valid during the call) into a list sorted by
 * offset; nothing is allocated for holes. When the last fragment (MF = 0)
 * has told us the length and every byte up to it is present, the datagram is
 * copied out once, behind the first fragment's header.
 *
 * Failure rules, each counted:
 *  - overlap with a fragment already held → the whole datagram is dropped
 *    (Linux ip_frag_queue → inet_frag_queue_insert → discard_qp); an exact
 *    duplicate (same offset and end) is dropped alone and the datagram kept;
 *  - data past 65535 bytes ("ping of death") → the whole datagram is dropped;
 *  - malformed: empty fragment, non-final fragment whose length is not a
 *    multiple of 8 (RFC 791 §3.2; Linux trims it instead, we refuse it), or
 *    two different ends → the whole datagram is dropped;
 *  - memory: the bytes held (data + a fixed per-fragment overhead) never pass
 *    REASSEMBLY_MEMORY_MAX. A fragment that would pass it is dropped, and the
 *    datagram it belongs to with it (it can no longer complete, so holding
 *    the rest would only pin memory). New datagrams are refused rather than
 *    old ones evicted: this is Linux since 4.17, where inet_frag_alloc()
 *    refuses a new queue above ipfrag_high_thresh instead of running the old
 *    LRU evictor, which let a flood flush legitimate datagrams in progress.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import { getU16, setU16 } from '../../core/bytes.js';
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

interface Piece {
  readonly offset: number;
  readonly end: number;
  readonly data: Uint8Array;
}

interface Datagram {
  readonly key: string;
  readonly source: number;
  readonly destination: number;
  readonly identification: number;
  /** Sorted by offset, never overlapping. */
  readonly pieces: Piece[];
  /** Data bytes held. */
  received: number;
  /** Data length, known once the fragment with MF = 0 arrived; -1 before. */
  dataLength: number;
  /** Header of the fragment with offset 0 (a copy), once it arrived. */
  firstHeader: Uint8Array | undefined;
  /** Bytes charged against the memory cap. */
  charged: number;
  readonly timer: Timer;
}

export class Ipv4Reassembler {
  onTimeout: ((firstFragment: Uint8Array) => void) | undefined;
  private readonly datagrams = new Map<string, Datagram>();
  private readonly view = new Ipv4HeaderView();
  private readonly timeoutMs: number;
  private readonly memoryMax: number;
  private readonly datagramsMax: number;
  private held = 0;

  constructor(
    private readonly ctx: StackContext,
    options: ReassemblyOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? REASSEMBLY_TIMEOUT_MS;
    this.memoryMax = options.memoryMax ?? REASSEMBLY_MEMORY_MAX;
    this.datagramsMax = options.datagramsMax ?? REASSEMBLY_DATAGRAMS_MAX;
    this.onTimeout = options.onTimeout;
    ctx.stats.declare(
      'ipReasmReqds',
      'ipReasmOKs',
      'ipReasmFails',
      'ipReasmTimeout',
      'ipReasmOverlaps',
      'ipReasmOversize',
      'ipReasmMalformed',
      'ipReasmDuplicates',
      'ipReasmMemoryFull',
      'ipReasmQueuesFull',
      'ipReasmBytes',
      'ipReasmDatagrams',
    );
  }

  /** Bytes held (data + per-fragment overhead); the `ipReasmBytes` gauge. */
  get bytesHeld(): number {
    return this.held;
  }

  /** Datagrams in progress; the `ipReasmDatagrams` gauge. */
  get datagramsInProgress(): number {
    return this.datagrams.size;
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
      ctx.trace.dropped('ipReasmFails', `not an IPv4 packet: ${error.reason}`);
      return undefined;
    }
    if (!view.isFragment) return view.packet;
    ctx.stats.inc('ipReasmReqds');

    const source = view.source;
    const destination = view.destination;
    const identification = view.identification;
    const offset = view.fragmentOffset;
    const data = view.payload;
    const end = offset + data.length;
    const last = !view.moreFragments;
    const key = `${source}/${destination}/${view.protocol}/${identification}`;
    let datagram = this.datagrams.get(key);

    // Checks that need no state. Linux discards the queue for these too.
    if (data.length === 0) return this.fail(datagram, 'ipReasmMalformed', 'empty fragment');
    if (!last && data.length % 8 !== 0) {
      return this.fail(datagram, 'ipReasmMalformed', `non-final fragment of ${data.length} bytes, not a multiple of 8`);
    }
    if (end > MAX_DATA_END) return this.fail(datagram, 'ipReasmOversize', `data up to ${end} > ${MAX_DATA_END}`);

    const cost = data.length + REASSEMBLY_FRAGMENT_OVERHEAD;
    let index: number;
    if (datagram) {
      if (last) {
        // RFC 791: MF = 0 fixes the length; a second, different end or data beyond it is corruption.
        if (datagram.dataLength >= 0 && end !== datagram.dataLength) {
          return this.fail(datagram, 'ipReasmMalformed', `second last fragment ends at ${end}, not ${datagram.dataLength}`);
        }
        const highest = datagram.pieces[datagram.pieces.length - 1]?.end ?? 0;
        if (highest > end) return this.fail(datagram, 'ipReasmMalformed', `data up to ${highest} beyond the end ${end}`);
      } else if (datagram.dataLength >= 0 && end > datagram.dataLength) {
        return this.fail(datagram, 'ipReasmMalformed', `data up to ${end} beyond the end ${datagram.dataLength}`);
      }
      index = insertionPoint(datagram.pieces, offset);
      const next = datagram.pieces[index];
      if (next && next.offset === offset && next.end === end) {
        // Exact duplicate (a retransmission by a lower layer, or duplication in the network): not an attack.
        ctx.trace.dropped('ipReasmDuplicates', 'duplicate fragment', () => describeFragment(datagram!, offset, end));
        return undefined;
      }
      const previous = datagram.pieces[index - 1];
      if ((previous && previous.end > offset) || (next && next.offset < end)) {
        return this.fail(datagram, 'ipReasmOverlaps', `fragment [${offset}, ${end}) overlaps`);
      }
      if (this.held + cost > this.memoryMax) {
        return this.fail(datagram, 'ipReasmMemoryFull', `${this.held} bytes held, cap ${this.memoryMax}`);
      }
    } else {
      if (this.datagrams.size >= this.datagramsMax) {
        return this.fail(undefined, 'ipReasmQueuesFull', `${this.datagrams.size} datagrams in progress`);
      }
      if (this.held + cost > this.memoryMax) {
        return this.fail(undefined, 'ipReasmMemoryFull', `${this.held} bytes held, cap ${this.memoryMax}`);
      }
      datagram = this.create(key, source, destination, identification);
      index = 0;
    }

    datagram.pieces.splice(index, 0, { offset, end, data: data.slice() });
    datagram.received += data.length;
    datagram.charged += cost;
    this.held += cost;
    if (last) datagram.dataLength = end;
    if (offset === 0) datagram.firstHeader = view.buffer.slice(0, view.headerLength);
    this.updateGauges();

    const headerLength = datagram.firstHeader?.length ?? IPV4_MIN_HEADER_LENGTH;
    const highest = datagram.pieces[datagram.pieces.length - 1]!.end;
    if (headerLength + highest > IPV4_MAX_PACKET_LENGTH) {
      return this.fail(datagram, 'ipReasmOversize', `${headerLength} + ${highest} bytes > 65535`);
    }
    if (datagram.dataLength >= 0 && datagram.received === datagram.dataLength) return this.complete(datagram);
    return undefined;
  }

  /** Drops everything in progress and cancels the timers (interface down, stack shutdown). */
  clear(): void {
    for (const datagram of this.datagrams.values()) datagram.timer.cancel();
    this.datagrams.clear();
    this.held = 0;
    this.updateGauges();
  }

  private create(key: string, source: number, destination: number, identification: number): Datagram {
    const datagram: Datagram = {
      key,
      source,
      destination,
      identification,
      pieces: [],
      received: 0,
      dataLength: -1,
      firstHeader: undefined,
      charged: 0,
      timer: this.ctx.timers.timer(() => this.expire(datagram)),
    };
    // RFC 791 §3.2 arms the timer with the first fragment; like Linux, later fragments do not extend it.
    datagram.timer.armIn(this.timeoutMs);
    this.datagrams.set(key, datagram);
    return datagram;
  }

  private remove(datagram: Datagram): void {
    datagram.timer.cancel();
    this.datagrams.delete(datagram.key);
    this.held -= datagram.charged;
    this.updateGauges();
  }

  /**
   * Counts a failure under `counter` and ipReasmFails, dropping the datagram
   * this fragment belongs to (if one is in progress) with it.
   */
  private fail(datagram: Datagram | undefined, counter: string, reason: string): undefined {
    if (datagram) this.remove(datagram);
    this.ctx.stats.inc('ipReasmFails');
    // `view` still holds the fragment being received: describe() runs inside dropped().
    this.ctx.trace.dropped(counter, reason, () => describeIpv4(this.view));
    return undefined;
  }

  private complete(datagram: Datagram): Uint8Array | undefined {
    const header = datagram.firstHeader;
    this.remove(datagram);
    if (!header) return undefined; // unreachable: full coverage includes offset 0
    const totalLength = header.length + datagram.dataLength;
    const out = new Uint8Array(totalLength);
    out.set(header, 0);
    for (const piece of datagram.pieces) out.set(piece.data, header.length + piece.offset);
    // The first fragment's header, now describing the whole datagram: MF = 0, offset 0 (DF kept).
    setU16(out, Field.FLAGS_FRAGMENT_OFFSET, getU16(out, Field.FLAGS_FRAGMENT_OFFSET) & FLAG_DF);
    finishIpv4Header(out, 0, totalLength);
    this.ctx.stats.inc('ipReasmOKs');
    return out;
  }

  private expire(datagram: Datagram): void {
    this.remove(datagram);
    this.ctx.stats.inc('ipReasmFails');
    this.ctx.stats.inc('ipReasmTimeout');
    this.ctx.trace.event('reassembly timeout', () => describeFragment(datagram, 0, datagram.received));
    const header = datagram.firstHeader;
    const first = datagram.pieces[0];
    if (!header || !first || first.offset !== 0 || !this.onTimeout) return;
    const fragment = new Uint8Array(header.length + first.data.length);
    fragment.set(header, 0);
    fragment.set(first.data, header.length);
    this.onTimeout(fragment);
  }

  private updateGauges(): void {
    this.ctx.stats.set('ipReasmBytes', this.held);
    this.ctx.stats.set('ipReasmDatagrams', this.datagrams.size);
  }
}

/** Index of the first piece whose offset is >= `offset` (binary search; appending is the common case). */
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

function describeFragment(datagram: Datagram, offset: number, end: number): string {
  return `${formatIpv4(datagram.source)} > ${formatIpv4(datagram.destination)} id ${datagram.identification} [${offset}, ${end})`;
}
