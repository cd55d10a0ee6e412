/**
 * What a transport (TCP) asks of IP for one segment's offload, and how IPv4
 * and IPv6 output turn it into the link's request (core/offload.ts), one way
 * for both families: only the IP header's length differs.
 *
 * Read first: RFC 1191 §3 and RFC 8201 §5.2 (TCP sizes its segments to the
 * path, so IP never fragments them), the virtio 1.x spec §5.1.6.2 (what a
 * device does with gso_size and a partial checksum), and Linux
 * net/core/gso.c skb_gso_validate_network_len (a GSO packet fits a link
 * when each of its segments does: headers + gso_size ≤ MTU).
 */
import type { TransportOffloadRecord } from '../core/offload.js';

/** What TCP asks of the link for one segment (IP turns it into a TransportOffload, core/offload.ts). */
export interface IpOffloadRequest {
  /** Data bytes per segment: the link cuts the datagram into MSS-sized ones (TSO); 0: send as is. */
  readonly gsoSize: number;
  /** The transport checksum at this offset in the payload holds only the pseudo-header sum (NEEDS_CSUM). */
  readonly partialChecksumOffset: number | undefined;
  /** Transport header bytes (TSO repeats the headers in every segment). */
  readonly transportHeaderLength: number;
}

/** An `IpOffloadRequest` filled in place for each segment (no allocation per segment). */
export type IpOffloadRequestRecord = { -readonly [K in keyof IpOffloadRequest]: IpOffloadRequest[K] };

export function newIpOffloadRequest(): IpOffloadRequestRecord {
  return { gsoSize: 0, partialChecksumOffset: undefined, transportHeaderLength: 0 };
}

/**
 * A packet of `length` bytes (IP header `ipHeaderLength` included) with
 * `request` leaves as one packet on a link with `mtu` (the path MTU for
 * IPv6) that segments up to `tsoMaxSize`: it fits as it is, or it is a
 * super-packet the link cuts into segments that each fit (headers +
 * gso_size ≤ MTU). Anything else must not leave whole.
 */
export function leavesWhole(length: number, ipHeaderLength: number, mtu: number, tsoMaxSize: number | undefined, request: IpOffloadRequest): boolean {
  if (length <= mtu) return true;
  return request.gsoSize > 0 && ipHeaderLength + request.transportHeaderLength + request.gsoSize <= mtu && length <= (tsoMaxSize ?? 0);
}

/** `request` in IP's terms (offsets from the IP header, which is `ipHeaderLength` bytes), written into `into`. */
export function transportOffloadFor(into: TransportOffloadRecord, request: IpOffloadRequest, ipHeaderLength: number): TransportOffloadRecord {
  into.segmentSize = request.gsoSize;
  into.headerLength = ipHeaderLength + request.transportHeaderLength;
  into.checksumStart = request.partialChecksumOffset === undefined ? 0 : ipHeaderLength;
  into.checksumOffset = request.partialChecksumOffset ?? 0;
  return into;
}
