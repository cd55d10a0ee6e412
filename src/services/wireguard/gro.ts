/**
 * Receive coalescing (GRO) of the TCP segments that come out of the tunnel:
 * consecutive IPv4 segments of one flow, in order and alike in every header
 * field but the sequence number, become one super-packet with TSO metadata
 * (a `TransportOffload`: segment size, partial checksum). The node then
 * forwards one packet where it would have forwarded dozens, the device hands
 * it to the kernel whole (virtio-net GSO), and the receiver behind it answers
 * one super-packet with one ACK instead of one ACK per two segments: fewer
 * ACKs for WireGuard to seal on their way back.
 *
 * Read first: Linux net/ipv4/tcp_offload.c (tcp_gro_receive: what must match
 * for a segment to join a flow's packet) and net/ipv4/af_inet.c
 * (inet_gro_receive: the IP side), drivers/net/wireguard/receive.c (decrypted
 * packets are CHECKSUM_UNNECESSARY and go to napi_gro_receive: the AEAD
 * authenticated every byte, so their inner checksums are not verified again),
 * virtio 1.x §5.1.6.2 for the GSO metadata.
 *
 * A segment joins the packet before it when all of these hold, else the
 * packet before is finished and the segment starts a new one:
 *  - both are IPv4 with a 20-byte header (no options), DF set, not
 *    fragments, TCP, with the same source, destination, TOS (so the same ECN
 *    codepoint: a CE mark is never merged away), TTL, ports, header length,
 *    acknowledgment number, window and option bytes (timestamps included);
 *  - its flags are ACK or ACK+PSH only (SYN, FIN, RST, URG, ECE, CWR never
 *    merge), and it carries data;
 *  - its sequence number is where the packet before ends, it is no larger
 *    than the first segment (the segment size), and the packet before did not
 *    end with a shorter segment or PSH (those close a packet, as in Linux);
 *  - the result stays within 65535 bytes and MAX_SEGMENTS segments.
 * IP identification is not compared: with DF set the datagrams are atomic
 * and the field means nothing (RFC 6864 §4.1).
 * The super-packet keeps the first segment's headers, gets PSH if any
 * segment had it, its IP total length and header checksum anew, and in the
 * TCP checksum field the folded pseudo-header sum (a partial checksum, which
 * the device or the kernel finishes if the packet ever goes onto a wire).
 */
import { fold, pseudoHeaderSumV4 } from '../../core/checksum.js';
import type { TransportOffload } from '../../core/offload.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { Field as Ip, setIpv4HeaderChecksum } from '../../l3/ipv4/header.js';
import { Field as Tcp, TcpFlags } from '../../l4/tcp/header.js';

/** Segments per super-packet, besides the 64 KB of an IPv4 packet (Linux: gro_max_size 65536). */
export const MAX_SEGMENTS = 64;
const IPV4_PACKET_MAX = 65_535;
const IPV4_HEADER = 20;
const FLAG_DF = 0x40; // high byte of the flags/fragment word
const FRAGMENT_MASK = 0x3fff; // MF + offset
const MERGEABLE_FLAGS = TcpFlags.ACK | TcpFlags.PSH;

/** Where one coalesced packet goes: `offload` is undefined for a packet passed on as it came. */
export type CoalescedSink = (packet: Uint8Array, offload: TransportOffload | undefined, segments: number) => void;

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** The TCP header length of `p` if it may start or join a super-packet, else 0. */
function mergeableTcpHeader(p: Uint8Array): number {
  if (p.length < IPV4_HEADER + 20 || p[Ip.VERSION_IHL] !== 0x45 || p[Ip.PROTOCOL] !== IpProtocol.TCP) return 0;
  if (u16(p, Ip.TOTAL_LENGTH) !== p.length) return 0;
  const fragment = u16(p, Ip.FLAGS_FRAGMENT_OFFSET);
  if ((p[Ip.FLAGS_FRAGMENT_OFFSET]! & FLAG_DF) === 0 || (fragment & FRAGMENT_MASK) !== 0) return 0;
  const tcpLength = (p[IPV4_HEADER + Tcp.DATA_OFFSET]! >>> 4) * 4;
  if (tcpLength < 20 || IPV4_HEADER + tcpLength >= p.length) return 0; // no data: pure ACKs are never merged
  const flags = p[IPV4_HEADER + Tcp.FLAGS]!;
  if ((flags & ~MERGEABLE_FLAGS) !== 0 || (flags & TcpFlags.ACK) === 0) return 0;
  return tcpLength;
}

/** Same flow and same everything but sequence number and PSH (see the list at the top). */
function sameHeaders(a: Uint8Array, b: Uint8Array, tcpLength: number): boolean {
  if (a[Ip.DSCP_ECN] !== b[Ip.DSCP_ECN] || a[Ip.TTL] !== b[Ip.TTL]) return false;
  for (let i = Ip.SOURCE; i < IPV4_HEADER; i++) if (a[i] !== b[i]) return false;
  const t = IPV4_HEADER;
  if (u32(a, t + Tcp.SOURCE_PORT) !== u32(b, t + Tcp.SOURCE_PORT)) return false; // both ports
  if (u32(a, t + Tcp.ACKNOWLEDGMENT_NUMBER) !== u32(b, t + Tcp.ACKNOWLEDGMENT_NUMBER)) return false;
  if (a[t + Tcp.DATA_OFFSET] !== b[t + Tcp.DATA_OFFSET] || u16(a, t + Tcp.WINDOW) !== u16(b, t + Tcp.WINDOW)) return false;
  for (let i = t + 20; i < t + tcpLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Coalesces a batch of IP packets (in arrival order) and hands each result
 * to `sink` in the same order. Packets that cannot merge (IPv6, non-TCP, pure
 * ACKs, a lone segment) pass through untouched.
 */
export class TcpCoalescer {
  private readonly run: Uint8Array[] = [];
  private runHeader = 0;
  private runBytes = 0;
  private segmentSize = 0;
  private nextSequence = 0;
  private closed = false;
  private psh = false;
  private readonly offload = { segmentSize: 0, headerLength: 0, checksumStart: 0, checksumOffset: 0 };

  coalesce(packets: readonly Uint8Array[], sink: CoalescedSink): void {
    for (const p of packets) {
      const tcpLength = mergeableTcpHeader(p);
      if (tcpLength === 0) {
        this.finish(sink);
        sink(p, undefined, 1);
        continue;
      }
      const header = IPV4_HEADER + tcpLength;
      const data = p.length - header;
      const sequence = u32(p, IPV4_HEADER + Tcp.SEQUENCE_NUMBER);
      const first = this.run[0];
      const joins =
        first !== undefined &&
        !this.closed &&
        header === this.runHeader &&
        sequence === this.nextSequence &&
        data <= this.segmentSize &&
        this.runBytes + data <= IPV4_PACKET_MAX &&
        this.run.length < MAX_SEGMENTS &&
        sameHeaders(first, p, tcpLength);
      if (!joins) {
        this.finish(sink);
        this.runHeader = header;
        this.runBytes = header;
        this.segmentSize = data;
        this.psh = false;
        this.closed = false;
      }
      this.run.push(p);
      this.runBytes += data;
      this.nextSequence = (sequence + data) >>> 0;
      const psh = (p[IPV4_HEADER + Tcp.FLAGS]! & TcpFlags.PSH) !== 0;
      this.psh ||= psh;
      // Linux closes a packet on PSH or on a segment shorter than the segment size.
      if (psh || data < this.segmentSize) this.closed = true;
    }
    this.finish(sink);
  }

  /** Emits the packet being built: the lone segment as it is, or the super-packet. */
  private finish(sink: CoalescedSink): void {
    const run = this.run;
    if (run.length === 0) return;
    if (run.length === 1) {
      const only = run[0]!;
      run.length = 0;
      sink(only, undefined, 1);
      return;
    }
    const header = this.runHeader;
    const out = new Uint8Array(this.runBytes);
    out.set(run[0]!.subarray(0, header));
    let at = header;
    for (const p of run) {
      out.set(p.subarray(header), at);
      at += p.length - header;
    }
    out[Ip.TOTAL_LENGTH] = out.length >>> 8;
    out[Ip.TOTAL_LENGTH + 1] = out.length & 0xff;
    setIpv4HeaderChecksum(out, 0);
    if (this.psh) out[IPV4_HEADER + Tcp.FLAGS] = out[IPV4_HEADER + Tcp.FLAGS]! | TcpFlags.PSH;
    const tcpLength = out.length - IPV4_HEADER;
    const seed = fold(pseudoHeaderSumV4(u32(out, Ip.SOURCE), u32(out, Ip.DESTINATION), IpProtocol.TCP, tcpLength));
    out[IPV4_HEADER + Tcp.CHECKSUM] = seed >>> 8;
    out[IPV4_HEADER + Tcp.CHECKSUM + 1] = seed & 0xff;
    const o = this.offload;
    o.segmentSize = this.segmentSize;
    o.headerLength = header;
    o.checksumStart = IPV4_HEADER;
    o.checksumOffset = Tcp.CHECKSUM;
    const segments = run.length;
    run.length = 0;
    sink(out, o, segments);
  }
}
