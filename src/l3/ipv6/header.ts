/**
 * The IPv6 fixed header.
 *
 * Read first: RFC 8200 §3 (format), §8.1 (upper-layer checksums use a
 * pseudo-header), RFC 6437 (flow label), RFC 2474/3168 (the traffic class is
 * DSCP + ECN). Extension headers follow the fixed header as a chain
 * (./extension-chain.ts).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |Version| Traffic Class |           Flow Label                  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Payload Length        |  Next Header  |   Hop Limit   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                                                               |
 *    +                                                               +
 *    |                                                               |
 *    +                         Source Address                        +
 *    |                                                               |
 *    +                                                               +
 *    |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                                                               |
 *    +                                                               +
 *    |                                                               |
 *    +                      Destination Address                      +
 *    |                                                               |
 *    +                                                               +
 *    |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * There is no header checksum (the link and the upper layers have their
 * own) and no fragmentation fields: routers never fragment, and a source
 * that must adds a Fragment extension header.
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { ok, type ParseError, type ParseResult } from '../../core/parse-result.js';
import { ipProtocolName } from '../ip-protocol.js';
import { formatIpv6, type Ipv6Address } from './address.js';

/** Byte offsets, in wire order (STYLE.md rule 1). */
export const Ipv6Field = {
  /** Version (4 bits), Traffic Class (8), Flow Label (20): one 32-bit word. */
  VERSION_CLASS_FLOW: 0,
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SOURCE: 8,
  DESTINATION: 24,
  /** The first extension header or the upper-layer header. */
  PAYLOAD: 40,
} as const;

export const IPV6_VERSION = 6;
export const IPV6_HEADER_LENGTH = 40;
/** Payload Length is 16 bits; jumbograms (RFC 2675) are not supported, as on Ethernet they cannot occur. */
export const IPV6_MAX_PAYLOAD_LENGTH = 65_535;
/** RFC 8200 §5: every link carries 1280-byte packets without fragmentation. */
export const IPV6_MIN_MTU = 1280;
/** Linux net.ipv6.conf.*.hop_limit (64); RFC 8200 leaves it to the Cur Hop Limit of router advertisements. */
export const IPV6_DEFAULT_HOP_LIMIT = 64;

const EMPTY = new Uint8Array(0);

function parseError(reason: ParseError['reason'], offset: number, detail?: string): ParseError {
  return { reason, offset, detail };
}

/**
 * A reusable view over an IPv6 packet (hot path). `wrap` checks the fixed
 * header and Payload Length once; getters then read without bounds checks.
 * Address getters return views into the packet, not copies.
 */
export class Ipv6HeaderView {
  private buf: Uint8Array = EMPTY;

  /**
   * Checks, as Linux's ipv6_rcv does: 40 bytes present, version 6, and a
   * Payload Length that fits the buffer. Bytes past it (Ethernet padding)
   * are ignored.
   */
  wrap(buf: Uint8Array): ParseError | undefined {
    if (buf.length < IPV6_HEADER_LENGTH) return parseError('truncated', 0, `${buf.length} bytes < ${IPV6_HEADER_LENGTH}`);
    const version = buf[Ipv6Field.VERSION_CLASS_FLOW]! >> 4;
    if (version !== IPV6_VERSION) return parseError('unsupportedVersion', Ipv6Field.VERSION_CLASS_FLOW, `version ${version}`);
    const payloadLength = getU16(buf, Ipv6Field.PAYLOAD_LENGTH);
    if (IPV6_HEADER_LENGTH + payloadLength > buf.length) {
      return parseError('truncated', Ipv6Field.PAYLOAD_LENGTH, `payload length ${payloadLength} > ${buf.length - IPV6_HEADER_LENGTH} bytes received`);
    }
    this.buf = buf;
    return undefined;
  }

  /**
   * For the packet quoted inside an ICMPv6 error: the fixed header must be
   * whole, but the payload may be cut short (`payload` is clipped).
   */
  wrapQuoted(buf: Uint8Array): ParseError | undefined {
    if (buf.length < IPV6_HEADER_LENGTH) return parseError('truncated', 0, `${buf.length} bytes < ${IPV6_HEADER_LENGTH}`);
    const version = buf[Ipv6Field.VERSION_CLASS_FLOW]! >> 4;
    if (version !== IPV6_VERSION) return parseError('unsupportedVersion', Ipv6Field.VERSION_CLASS_FLOW, `version ${version}`);
    this.buf = buf;
    return undefined;
  }

  get buffer(): Uint8Array {
    return this.buf;
  }
  get version(): number {
    return this.buf[0]! >> 4;
  }
  get trafficClass(): number {
    return (getU32(this.buf, Ipv6Field.VERSION_CLASS_FLOW) >>> 20) & 0xff;
  }
  get dscp(): number {
    return this.trafficClass >> 2;
  }
  get ecn(): number {
    return this.trafficClass & 0x03;
  }
  get flowLabel(): number {
    return getU32(this.buf, Ipv6Field.VERSION_CLASS_FLOW) & 0xfffff;
  }
  get payloadLength(): number {
    return getU16(this.buf, Ipv6Field.PAYLOAD_LENGTH);
  }
  get nextHeader(): number {
    return this.buf[Ipv6Field.NEXT_HEADER]!;
  }
  get hopLimit(): number {
    return this.buf[Ipv6Field.HOP_LIMIT]!;
  }
  get source(): Ipv6Address {
    return this.buf.subarray(Ipv6Field.SOURCE, Ipv6Field.SOURCE + 16);
  }
  get destination(): Ipv6Address {
    return this.buf.subarray(Ipv6Field.DESTINATION, Ipv6Field.DESTINATION + 16);
  }
  /** Everything after the fixed header, up to Payload Length (clipped to the buffer for quoted packets). */
  get payload(): Uint8Array {
    return this.buf.subarray(IPV6_HEADER_LENGTH, Math.min(this.buf.length, IPV6_HEADER_LENGTH + this.payloadLength));
  }
  /** The packet, [0, 40 + Payload Length): link padding excluded. */
  get packet(): Uint8Array {
    return this.buf.subarray(0, Math.min(this.buf.length, IPV6_HEADER_LENGTH + this.payloadLength));
  }

  /** Forwarding step (RFC 8200 §3): no checksum to patch. Returns the new hop limit. */
  decrementHopLimit(): number {
    this.buf[Ipv6Field.HOP_LIMIT] = (this.buf[Ipv6Field.HOP_LIMIT]! - 1) & 0xff;
    return this.buf[Ipv6Field.HOP_LIMIT]!;
  }

  describe(): string {
    return describeIpv6Fields(this.source, this.destination, this.nextHeader, this.hopLimit, this.payloadLength, this.flowLabel, this.trafficClass);
  }
}

/** The plain record (STYLE.md rule 4). */
export interface Ipv6Record {
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the fixed header: extension headers + upper-layer data. */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** 16 bytes each. */
  source: Ipv6Address;
  destination: Ipv6Address;
}

/** Defaults for a fresh packet; spread and override. */
export function ipv6Record(fields: Partial<Ipv6Record> & Pick<Ipv6Record, 'nextHeader' | 'source' | 'destination'>): Ipv6Record {
  return { trafficClass: 0, flowLabel: 0, payloadLength: 0, hopLimit: IPV6_DEFAULT_HOP_LIMIT, ...fields };
}

/** Parses the fixed header. Addresses are copied; the payload stays in `buf`. */
export function parseIpv6Header(buf: Uint8Array): ParseResult<Ipv6Record> {
  const view = new Ipv6HeaderView();
  const error = view.wrap(buf);
  if (error) return { ok: false, error };
  return ok({
    trafficClass: view.trafficClass,
    flowLabel: view.flowLabel,
    payloadLength: view.payloadLength,
    nextHeader: view.nextHeader,
    hopLimit: view.hopLimit,
    source: view.source.slice(),
    destination: view.destination.slice(),
  });
}

/** Writes the 40-byte header at `buf[offset]`; returns 40. Out-of-range fields are programmer errors. */
export function emitIpv6Header(record: Ipv6Record, buf: Uint8Array, offset: number): number {
  if (offset + IPV6_HEADER_LENGTH > buf.length) throw new RangeError('buffer too small for the IPv6 header');
  if (record.payloadLength < 0 || record.payloadLength > IPV6_MAX_PAYLOAD_LENGTH) {
    throw new RangeError(`IPv6 payload length ${record.payloadLength} not in 0..65535`);
  }
  if (record.flowLabel < 0 || record.flowLabel > 0xfffff) throw new RangeError(`flow label ${record.flowLabel} not in 0..0xfffff`);
  if (record.source.length !== 16 || record.destination.length !== 16) throw new RangeError('IPv6 addresses are 16 bytes');
  setU32(buf, offset + Ipv6Field.VERSION_CLASS_FLOW, ((IPV6_VERSION << 28) | ((record.trafficClass & 0xff) << 20) | record.flowLabel) >>> 0);
  setU16(buf, offset + Ipv6Field.PAYLOAD_LENGTH, record.payloadLength);
  buf[offset + Ipv6Field.NEXT_HEADER] = record.nextHeader;
  buf[offset + Ipv6Field.HOP_LIMIT] = record.hopLimit;
  buf.set(record.source, offset + Ipv6Field.SOURCE);
  buf.set(record.destination, offset + Ipv6Field.DESTINATION);
  return IPV6_HEADER_LENGTH;
}

function describeIpv6Fields(
  source: Ipv6Address,
  destination: Ipv6Address,
  nextHeader: number,
  hopLimit: number,
  payloadLength: number,
  flowLabel: number,
  trafficClass: number,
): string {
  let s = `${formatIpv6(source)} > ${formatIpv6(destination)}: ${ipProtocolName(nextHeader)}, hlim ${hopLimit}, payload length ${payloadLength}`;
  if (flowLabel !== 0) s += `, flowlabel 0x${flowLabel.toString(16).padStart(5, '0')}`;
  if (trafficClass !== 0) s += `, class 0x${trafficClass.toString(16).padStart(2, '0')}`;
  return s;
}

/** "fd77::2 > fd77::1: ICMPv6, hlim 64, payload length 64" */
export function describeIpv6Record(record: Ipv6Record): string {
  return describeIpv6Fields(record.source, record.destination, record.nextHeader, record.hopLimit, record.payloadLength, record.flowLabel, record.trafficClass);
}

const describeView = new Ipv6HeaderView();

/** One line for a view or raw bytes (or why they do not parse). */
export function describeIpv6(packet: Uint8Array | Ipv6HeaderView): string {
  if (packet instanceof Ipv6HeaderView) return packet.describe();
  const error = describeView.wrapQuoted(packet);
  if (error) return `IPv6 (${error.reason}${error.detail ? `: ${error.detail}` : ''})`;
  return describeView.describe();
}
