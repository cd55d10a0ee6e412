/**
 * What a transport asks of the link for one IP packet, in the packet's own
 * terms: offsets count from the first byte of the IP header, and nothing here
 * knows about Ethernet or virtio-net. IP hands it down with the packet
 * (`sendIpv4/sendIpv6` on l2/interface.ts); device/offload.ts translates it
 * into the virtio-net header the TAP wants, or does in software what the
 * device cannot.
 *
 * Read first: RFC 1071 §4 (the one's-complement sum that makes a partial
 * checksum finishable later), and the virtio 1.x spec §5.1.6.2 for what a
 * device does with such a request.
 */
import { finishChecksum, sumWords } from './checksum.js';

export interface TransportOffload {
  /** Data bytes per segment: the link cuts the packet into segments of this size (TSO); 0: send it as one packet. */
  readonly segmentSize: number;
  /** IP + transport header bytes (segmentation repeats them in every segment). */
  readonly headerLength: number;
  /**
   * Where the sum of a partial transport checksum starts (the transport
   * header); 0: the checksum is complete. The field then holds only the
   * pseudo-header sum (RFC 9293 §3.1, RFC 768).
   */
  readonly checksumStart: number;
  /** Offset of the checksum field from `checksumStart` (TCP 16, UDP 6). */
  readonly checksumOffset: number;
}

/**
 * Finishes a partial checksum in software: the field holds the pseudo-header
 * sum, so the sum from `checksumStart` to the end of `packet`, complemented,
 * is the checksum (RFC 1071 §4). Offsets are relative to `packet`. A result
 * of zero is written as 0xffff, its other one's-complement form (as Linux's
 * skb_checksum_help writes CSUM_MANGLED_0): the same to a TCP receiver, and
 * what UDP needs, where zero would mean "no checksum" (RFC 768).
 */
export function completePartialChecksum(packet: Uint8Array, offload: { readonly checksumStart: number; readonly checksumOffset: number }): void {
  const start = offload.checksumStart;
  const at = start + offload.checksumOffset;
  const sum = finishChecksum(sumWords(packet, start, packet.length - start)) || 0xffff;
  packet[at] = sum >>> 8;
  packet[at + 1] = sum & 0xff;
}

/** A `TransportOffload` filled in place for each packet (no allocation per packet). */
export type TransportOffloadRecord = { -readonly [K in keyof TransportOffload]: TransportOffload[K] };

export function newTransportOffload(): TransportOffloadRecord {
  return { segmentSize: 0, headerLength: 0, checksumStart: 0, checksumOffset: 0 };
}

/**
 * Where a TCP header keeps its Data Offset, in 32-bit words (the high nibble; RFC 9293 §3.1): GSO frames carry
 * TCP only. l4/tcp/header.ts Field.DATA_OFFSET is the same (core may not import l4).
 */
const TCP_DATA_OFFSET = 12;

/**
 * A super-packet's offload as a router passes it on: the arriving packet's
 * metadata, with the header length a segmenter needs (IP header + TCP header,
 * which every segment repeats), written into `into` (no allocation per packet).
 * `transportStart` is where TCP begins in `packet`; undefined when `rx` is.
 * The device checked a GSO frame's headers (device/segment.ts check).
 */
export function forwardedOffload(
  into: TransportOffloadRecord,
  rx: TransportOffload | undefined,
  packet: Uint8Array,
  transportStart: number,
): TransportOffloadRecord | undefined {
  if (rx === undefined) return undefined;
  into.segmentSize = rx.segmentSize;
  into.checksumStart = rx.checksumStart;
  into.checksumOffset = rx.checksumOffset;
  into.headerLength = rx.segmentSize > 0 ? transportStart + (packet[transportStart + TCP_DATA_OFFSET]! >>> 4) * 4 : 0;
  return into;
}
