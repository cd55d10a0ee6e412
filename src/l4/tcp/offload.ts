/**
 * The offload side of TCP's network glue, one for both families (ipv4.ts,
 * ipv6.ts): what TCP may ask of the link towards a peer, and the request it
 * hands IP with each segment (l3/offload-request.ts).
 *
 * Read first: RFC 9293 §3.1 (the checksum covers a pseudo-header: with a
 * partial checksum the field holds only that sum, RFC 1071 §4, and the link
 * finishes it; IPv6's pseudo-header is RFC 8200 §8.1) and the virtio 1.x
 * spec §5.1.6.2 (NEEDS_CSUM, TSO).
 */
import { newIpOffloadRequest, type IpOffloadRequest } from '../../l3/offload-request.js';
import { Field as TcpField, TCP_HEADER_MAX_LENGTH, TcpHeaderView } from './header.js';

/** What a link may say about offloads (device/tap.ts with IFF_VNET_HDR; absent on plain links). */
export interface OffloadLink {
  /** Largest IP packet the link takes and cuts to MSS itself (TSO), 0 or absent when it cannot. */
  readonly tsoMaxSize?: number;
  /** The link completes partial checksums (virtio-net NEEDS_CSUM). */
  readonly checksumOffload?: boolean;
}

/**
 * Most data bytes in one TSO segment towards `link`: the IP header and the
 * longest TCP header (options included) must fit in its TSO limit with them
 * (65535 - 20 - 60 over IPv4, 65535 - 40 - 60 over IPv6); 0 without TSO.
 */
export function tsoDataMax(link: OffloadLink | undefined, ipHeaderLength: number): number {
  const max = link?.tsoMaxSize ?? 0;
  return max > 0 ? Math.max(0, max - ipHeaderLength - TCP_HEADER_MAX_LENGTH) : 0;
}

/** The request IP gets with each segment, one record filled in place per segment (sending allocates nothing). */
export class TcpOffloadRequest {
  private readonly record = newIpOffloadRequest();
  private readonly header = new TcpHeaderView();

  /** For a whole segment (header + data) with `gsoSize` (0: no TSO) and/or a partial checksum; undefined when neither. */
  forSegment(segment: Uint8Array, gsoSize: number, partialChecksum: boolean): IpOffloadRequest | undefined {
    if (gsoSize === 0 && !partialChecksum) return undefined;
    this.header.wrap(segment); // our own segment: always a whole header
    return this.fill(this.header.headerLength, gsoSize, partialChecksum);
  }

  /** For a TCP header whose data follows as slices: the checksum is always partial (the link sums the data). */
  forHeader(header: Uint8Array, gsoSize: number): IpOffloadRequest {
    return this.fill(header.length, gsoSize, true);
  }

  private fill(headerLength: number, gsoSize: number, partialChecksum: boolean): IpOffloadRequest {
    const r = this.record;
    r.gsoSize = gsoSize;
    r.partialChecksumOffset = partialChecksum ? TcpField.CHECKSUM : undefined;
    r.transportHeaderLength = headerLength;
    return r;
  }
}
