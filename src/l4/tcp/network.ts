/**
 * What TCP needs from the network layer below it, independent of the address
 * family: IPv4 now, IPv6 through the same interface later (the IPv6 layer
 * exposes a send function of the same shape).
 *
 * Read first: RFC 9293 §3.9.1 "User/TCP Interface" (what TCP asks of IP) and
 * §3.1 (the pseudo-header, which is why checksums need the addresses).
 */

import type { Slices } from '../../core/slices.js';

/** An IP address as the layer below spells it: a 32-bit number (IPv4) or 16 bytes (IPv6). */
export type IpAddress = number | Uint8Array;

export interface TcpNetwork {
  readonly family: 'ipv4' | 'ipv6';
  /** Bytes of IP header in front of every segment (20 for IPv4 without options, 40 for IPv6). */
  readonly headerOverhead: number;
  /** A Map key for the address (the number itself for IPv4). */
  key(address: IpAddress): number | string;
  equal(a: IpAddress, b: IpAddress): boolean;
  format(address: IpAddress): string;
  /** Parses a literal address of this family (the IPv6 network: `connect({ host: 'fd77::2' })`); IPv4 is parsed by the API. */
  parse?(text: string): IpAddress | undefined;
  /** The address's bytes in network order (for ISN and SYN-cookie hashing). */
  bytes(address: IpAddress): Uint8Array;
  /** One's-complement pseudo-header sum for a TCP segment of `length` bytes (RFC 9293 §3.1). */
  pseudoHeaderSum(source: IpAddress, destination: IpAddress, length: number): number;
  /** Our source address towards `destination`, or undefined when there is no route. */
  sourceFor(destination: IpAddress): IpAddress | undefined;
  /** True when `address` is one of ours. */
  isLocal(address: IpAddress): boolean;
  /** The link MTU towards `destination` (the MSS we announce is derived from it). */
  mtuTowards(destination: IpAddress): number | undefined;
  /**
   * Most data bytes in one segment the link towards `destination` cuts into
   * MSS-sized pieces for us (TSO), leaving room for the IP and the longest TCP
   * header in the link's limit (offload.ts `tsoDataMax`); 0 when it cannot.
   */
  tsoMaxTowards(destination: IpAddress): number;
  /** True when the link towards `destination` completes partial checksums (virtio-net NEEDS_CSUM). */
  checksumOffloadTowards(destination: IpAddress): boolean;
  /**
   * Sends one segment (header + data). The checksum is complete, or, with
   * `partialChecksum`, holds only the pseudo-header sum for the link to
   * finish. `gsoSize` > 0 asks the link to cut the segment into pieces of that
   * many data bytes (TSO). `ecn` is the IP ECN field to set (RFC 3168 §5; 0 = Not-ECT).
   */
  send(source: IpAddress, destination: IpAddress, segment: Uint8Array, gsoSize: number, partialChecksum: boolean, ecn?: number): boolean;
  /**
   * As `send` with a partial checksum, for a segment whose data is not in
   * `header`'s buffer: `header` is the TCP header, `payload` the data as
   * slices of the send buffer (core/slices.ts), which the layers below copy
   * only where they need the segment in one piece. Absent: the network
   * cannot take it that way, and TCP copies the data into the segment.
   */
  sendWithPayload?(source: IpAddress, destination: IpAddress, header: Uint8Array, payload: Slices, gsoSize: number, ecn: number): boolean;
}
