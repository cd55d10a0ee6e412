/**
 * ICMP echo through the host: the uplink's answer to `ping` from inside a
 * lab, for destinations outside it.
 *
 * Read first: RFC 792 (Echo / Echo Reply: "the data received in the echo
 * message must be returned in the echo reply message"), RFC 3022 §2.2 (a
 * NAPT maps ICMP query identifiers as it maps ports), RFC 5508 REQ-1 (how
 * long a query mapping lives).
 *
 * Node has no ICMP sockets; the `raw-socket` addon opens a raw IPPROTO_ICMP
 * socket (root or CAP_NET_RAW). Every echo request from inside is sent from
 * that socket to the real destination with an identifier this uplink chose
 * once (random, so two tapnet processes on one machine do not collide) and a
 * sequence number of its own, free among the echoes outstanding. The kernel
 * answers the reply to every raw ICMP socket, so replies are matched by
 * (identifier, sequence, responder) and everything else is counted and
 * ignored. A match goes back inside as an Echo Reply with the client's own
 * identifier and sequence, from the address the client pinged.
 *
 * Outstanding echoes are capped and forgotten after a timeout on the
 * injected clock, so a flood of pings to a silent address cannot grow
 * memory. ICMP errors about our echoes (TTL exceeded, unreachable) are not
 * translated back: the client simply sees no reply.
 */
import { createRequire } from 'node:module';
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import { verifyChecksum } from '../../core/checksum.js';
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { Icmpv4Type, emitIcmpv4Echo } from '../../l3/icmpv4/message.js';
import { ICMP_TIMEOUT_MS } from '../../netfilter/conntrack/conntrack.js';

/** Echoes waiting for a reply at once; slirp4netns keeps no cap, this bounds memory like UPLINK_UDP_FLOWS_MAX. */
export const HOST_ECHO_OUTSTANDING_MAX = 1024;
/** RFC 5508 REQ-1: an ICMP query mapping lives at least 60 s (Linux nf_conntrack_icmp_timeout is 30 s). */
export const HOST_ECHO_TIMEOUT_MS = ICMP_TIMEOUT_MS;
/** The largest datagram the raw socket reads: an IPv4 packet of the largest size. */
const RAW_RECEIVE_BUFFER_BYTES = 65_535;
const ECHO_HEADER_LENGTH = 8;

/** What the uplink needs of a raw ICMP socket (the raw-socket addon's Socket; a fake in tests). */
export interface RawIcmpSocket {
  on(event: 'message', listener: (packet: Buffer, source: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  send(buffer: Buffer, offset: number, length: number, address: string, callback: (error: Error | null, bytes: number) => void): unknown;
  close(): unknown;
}

/** Opens a raw IPv4 ICMP socket with the raw-socket addon; throws when it is missing or not allowed (EPERM). */
export function openRawIcmpSocket(): RawIcmpSocket {
  let raw: { createSocket(options: { protocol: number; bufferSize?: number }): RawIcmpSocket; Protocol: { ICMP: number } };
  try {
    raw = createRequire(import.meta.url)('raw-socket') as typeof raw;
  } catch (e) {
    // An optional dependency: `npm install` skips it where it cannot be compiled (no g++, make, python3).
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'MODULE_NOT_FOUND'
        ? 'the optional raw-socket addon is not installed (npm install builds it with g++, make and python3)'
        : `the raw-socket addon does not load: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  return raw.createSocket({ protocol: raw.Protocol.ICMP, bufferSize: RAW_RECEIVE_BUFFER_BYTES });
}

export interface HostEchoOptions {
  readonly maxOutstanding?: number;
  readonly timeoutMs?: number;
  /** Default: openRawIcmpSocket. */
  readonly openSocket?: () => RawIcmpSocket;
}

/** An Echo Reply for the inside: `icmp` is the whole ICMP message, checksum done. */
export interface InsideEchoReply {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly icmp: Uint8Array;
}

interface Outstanding {
  readonly client: Ipv4Address;
  readonly clientIdentifier: number;
  readonly clientSequence: number;
  /** The address the client pinged (the reply comes from it). */
  readonly destination: Ipv4Address;
  /** Where the echo went on the host ("127.0.0.1" for the host alias). */
  readonly hostAddress: string;
  readonly timer: Timer;
}

export const HOST_ECHO_COUNTERS = [
  'uplinkIcmpEchoOut',
  'uplinkIcmpEchoIn',
  'uplinkIcmpEchoFull',
  'uplinkIcmpEchoTimeouts',
  'uplinkIcmpEchoUnmatched',
  'uplinkIcmpNotOurs',
  'uplinkIcmpSendErrors',
  'uplinkIcmpUnsupported',
] as const;

export class HostEcho {
  /** Our identifier on the host (RFC 792: "an identifier ... to aid in matching echos and replies"). */
  readonly identifier: number;
  private readonly outstanding = new Map<number, Outstanding>();
  private nextSequence = 0;
  private socket: RawIcmpSocket | undefined;
  /** Why the raw socket could not be opened, once that happened (not retried: it needs root, which does not come back). */
  private unavailable: string | undefined;
  private readonly maxOutstanding: number;
  private readonly timeoutMs: number;
  private readonly openSocket: () => RawIcmpSocket;
  private closed = false;

  constructor(
    private readonly ctx: StackContext,
    private readonly deliver: (reply: InsideEchoReply) => void,
    options: HostEchoOptions = {},
  ) {
    this.identifier = ctx.random.u32() & 0xffff;
    this.maxOutstanding = options.maxOutstanding ?? HOST_ECHO_OUTSTANDING_MAX;
    this.timeoutMs = options.timeoutMs ?? HOST_ECHO_TIMEOUT_MS;
    this.openSocket = options.openSocket ?? openRawIcmpSocket;
    ctx.stats.declare(...HOST_ECHO_COUNTERS);
  }

  /** Whether echoes can leave (the raw socket opens, or already has). */
  get available(): boolean {
    return this.open() !== undefined;
  }

  get pending(): number {
    return this.outstanding.size;
  }

  /**
   * An Echo Request from `client` (its identifier and sequence) to
   * `destination`, sent to `hostAddress` on the host. `data` is copied.
   */
  send(client: Ipv4Address, destination: Ipv4Address, hostAddress: string, clientIdentifier: number, clientSequence: number, data: Uint8Array): void {
    const what = (): string => `${formatIpv4(client)} > ${formatIpv4(destination)} echo id ${clientIdentifier} seq ${clientSequence}`;
    if (this.closed) return;
    const socket = this.open();
    if (!socket) {
      this.ctx.trace.dropped('uplinkIcmpUnsupported', `no raw ICMP socket: ${this.unavailable}`, what);
      return;
    }
    if (this.outstanding.size >= this.maxOutstanding) {
      this.ctx.trace.dropped('uplinkIcmpEchoFull', `${this.maxOutstanding} echoes outstanding`, what);
      return;
    }
    // A sequence number no outstanding echo uses: found within maxOutstanding + 1 steps.
    let sequence = this.nextSequence;
    while (this.outstanding.has(sequence)) sequence = (sequence + 1) & 0xffff;
    this.nextSequence = (sequence + 1) & 0xffff;
    const timer = this.ctx.timers.timer(() => {
      if (this.outstanding.get(sequence)?.timer !== timer) return;
      this.outstanding.delete(sequence);
      this.ctx.trace.dropped('uplinkIcmpEchoTimeouts', `no reply within ${this.timeoutMs} ms`, what);
    });
    const entry: Outstanding = { client, clientIdentifier, clientSequence, destination, hostAddress, timer };
    this.outstanding.set(sequence, entry);
    timer.armIn(this.timeoutMs);
    const request = Buffer.alloc(ECHO_HEADER_LENGTH + data.length);
    emitIcmpv4Echo({ type: Icmpv4Type.EchoRequest, identifier: this.identifier, sequence, data }, request, 0);
    socket.send(request, 0, request.length, hostAddress, (error) => {
      if (!error) return void this.ctx.stats.inc('uplinkIcmpEchoOut');
      if (this.outstanding.get(sequence) === entry) {
        timer.cancel();
        this.outstanding.delete(sequence);
      }
      this.ctx.trace.dropped('uplinkIcmpSendErrors', error.message, what);
    });
  }

  /** A packet the raw socket read: IPv4 header included (raw(7)), `source` the responder. */
  receive(packet: Uint8Array, source: string): void {
    if (this.closed) return;
    const headerLength = ((packet[0] ?? 0) & 0x0f) * 4;
    const icmp = packet.subarray(headerLength);
    // The raw socket sees every ICMP message the host receives: other pings, our own requests looped back on lo.
    if (headerLength < 20 || icmp.length < ECHO_HEADER_LENGTH || icmp[0] !== Icmpv4Type.EchoReply || ((icmp[4]! << 8) | icmp[5]!) !== this.identifier) {
      this.ctx.trace.dropped('uplinkIcmpNotOurs', 'not an echo reply to this uplink', () => `${packet.length} bytes from ${source}`);
      return;
    }
    const sequence = (icmp[6]! << 8) | icmp[7]!;
    const entry = this.outstanding.get(sequence);
    if (!entry || entry.hostAddress !== source || !verifyChecksum(icmp, 0, icmp.length)) {
      // Late (timed out), from someone we did not ping, or damaged.
      this.ctx.trace.dropped('uplinkIcmpEchoUnmatched', entry ? 'wrong responder or bad checksum' : 'no echo outstanding', () => `seq ${sequence} from ${source}`);
      return;
    }
    entry.timer.cancel();
    this.outstanding.delete(sequence);
    const reply = new Uint8Array(icmp.length);
    emitIcmpv4Echo({ type: Icmpv4Type.EchoReply, identifier: entry.clientIdentifier, sequence: entry.clientSequence, data: icmp.subarray(ECHO_HEADER_LENGTH) }, reply, 0);
    this.ctx.stats.inc('uplinkIcmpEchoIn');
    this.deliver({ source: entry.destination, destination: entry.client, icmp: reply });
  }

  private open(): RawIcmpSocket | undefined {
    if (this.socket || this.unavailable !== undefined || this.closed) return this.socket;
    try {
      const socket = this.openSocket();
      socket.on('message', (packet, source) => this.receive(packet, source));
      socket.on('error', (e) => {
        // The addon closes the socket after an error; the next echo opens a fresh one.
        this.ctx.trace.event('uplink raw ICMP socket error', () => e.message);
        if (this.socket === socket) this.socket = undefined;
      });
      this.socket = socket;
    } catch (e) {
      this.unavailable = (e as Error).message;
      this.ctx.trace.log.warn(`uplink: ICMP echo to the outside is off: ${this.unavailable}`);
    }
    return this.socket;
  }

  show(): string {
    const state = this.socket ? 'raw socket open' : this.unavailable !== undefined ? `unavailable (${this.unavailable})` : 'raw socket not opened yet';
    return `icmp echo: id ${this.identifier}, ${state}, ${this.outstanding.size} outstanding\n`;
  }

  close(): void {
    this.closed = true;
    for (const e of this.outstanding.values()) e.timer.cancel();
    this.outstanding.clear();
    this.socket?.close();
    this.socket = undefined;
  }
}
