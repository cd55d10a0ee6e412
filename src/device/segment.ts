/**
 * Software segmentation (TSO/GSO) and checksum completion: what a NIC does in
 * silicon for a frame that carries virtio-net offload metadata, done here for
 * a port that cannot take the frame as it is (a TAP without offload, an
 * impaired link, a pcap capture). The switch, the router and the lab's
 * splices all use this one routine, so a super-frame is cut the same way
 * wherever it has to become wire frames.
 *
 * Read first: the virtio 1.x spec §5.1.6.2 (what gso_type, gso_size, hdr_len,
 * csum_start and csum_offset promise) and Linux's GSO, which this follows:
 * net/ipv4/af_inet.c inet_gso_segment (every segment gets its own IPv4 total
 * length, an Identification one higher than the previous segment's, and a new
 * header checksum; IPv6 gets its payload length, net/ipv6/ip6_offload.c) and
 * net/ipv4/tcp_offload.c tcp_gso_segment (the sequence number advances by
 * gso_size; CWR only on the first segment, FIN and PSH only on the last;
 * every segment gets its own checksum, RFC 9293 §3.1).
 *
 * A frame's offload metadata is checked once (`check`) before anything acts
 * on it: a header a peer made up never makes this code throw or emit a wrong
 * segment. Each refusal has a counter (`OffloadDrop`) that the caller counts
 * and traces.
 */
import { finishChecksum, sumWords } from '../core/checksum.js';
import { completePartialChecksum, type TransportOffload } from '../core/offload.js';
import type { Tracer } from '../core/trace.js';
import type { Device, TxOffload } from './device.js';
import { VnetGsoType } from './tap.js';

/**
 * The header fields a TSO engine reads and rewrites. A NIC knows them in
 * hardware; here they are the same offsets as the codecs' Field tables
 * (l2/ethernet/frame.ts EthernetField, l3/ipv4/header.ts Field,
 * l3/ipv6/header.ts Ipv6Field, l4/tcp/header.ts Field), which the device floor
 * may not import (ARCHITECTURE.md: imports point down).
 * tests/unit/device/segment.test.ts checks that the two agree.
 */
export const TsoField = {
  /** Ethernet: EtherType, or the 802.1Q TPID of a tagged frame. */
  etherType: 12,
  /** Ethernet: EtherType of a tagged frame. */
  innerEtherType: 16,
  ipv4VersionIhl: 0,
  ipv4TotalLength: 2,
  ipv4Identification: 4,
  ipv4Protocol: 9,
  ipv4HeaderChecksum: 10,
  ipv4Source: 12,
  ipv6PayloadLength: 4,
  ipv6NextHeader: 6,
  ipv6Source: 8,
  tcpSequenceNumber: 4,
  tcpDataOffset: 12,
  tcpFlags: 13,
  tcpChecksum: 16,
} as const;

const ETHERNET_HEADER = 14;
const VLAN_TAG = 4;
const ETHER_TYPE_VLAN = 0x8100;
const ETHER_TYPE_IPV4 = 0x0800;
const ETHER_TYPE_IPV6 = 0x86dd;
const IPV6_HEADER = 40;
const IP_PROTOCOL_TCP = 6;
const TCP_HEADER_MIN = 20;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** IPv4 Total Length / IPv6 Payload Length are 16 bits (RFC 791 §3.1, RFC 8200 §3). */
const IP_LENGTH_MAX = 65_535;
/** The largest super-frame: 802.1Q-tagged Ethernet header + IPv6 header + a 65535-byte payload. */
export const SUPER_FRAME_MAX = ETHERNET_HEADER + VLAN_TAG + IPV6_HEADER + IP_LENGTH_MAX;

/** Why a frame's offload metadata was refused: tapnet's own counters, in the vnet family. */
export const OffloadDrop = {
  /** GSO frame with gso_size 0: no segment size to cut at. */
  gsoSizeZero: 'vnetInGsoSizeZero',
  /** gso_size larger than the frame's payload. */
  gsoSizeTooLarge: 'vnetInGsoSizeTooLarge',
  /** gso_type other than TCPv4/TCPv6 (UDP and USO are never offered, TUNSETOFFLOAD). */
  gsoTypeUnknown: 'vnetInGsoTypeUnknown',
  /** csum_start + csum_offset + 2 past the end of the frame. */
  checksumOutOfFrame: 'vnetInCsumOutOfFrame',
  /** Super-frame longer than SUPER_FRAME_MAX, or IP length field above 65535. */
  superFrameTooLarge: 'vnetInSuperFrameTooLarge',
  /** GSO frame on a port that did not offer TSO (receive) or cannot take it (send). */
  gsoWithoutOffload: 'vnetGsoWithoutOffload',
  /** The headers are not what gso_type says (not IPv4/IPv6 + TCP, lengths that do not add up). */
  gsoBadHeaders: 'vnetInGsoBadHeaders',
} as const;
export type OffloadDropCounter = (typeof OffloadDrop)[keyof typeof OffloadDrop];

/** One sentence per refusal, for the trace line. */
export const OFFLOAD_DROP_REASON: Readonly<Record<OffloadDropCounter, string>> = {
  vnetInGsoSizeZero: 'GSO frame with gso_size 0',
  vnetInGsoSizeTooLarge: 'gso_size larger than the frame payload',
  vnetInGsoTypeUnknown: 'unknown or unsupported gso_type',
  vnetInCsumOutOfFrame: 'csum_start/csum_offset past the end of the frame',
  vnetInSuperFrameTooLarge: 'super-frame larger than 65535 + headers',
  vnetGsoWithoutOffload: 'GSO frame on a port without offload',
  vnetInGsoBadHeaders: 'headers do not match gso_type',
};

/** The frame carries a GSO super-frame (TSO request). */
export function isGso(offload: TxOffload | undefined): boolean {
  return offload !== undefined && offload.gsoType !== VnetGsoType.none;
}

/** The frame needs something done before it is a wire frame: segmentation or a partial checksum. */
export function needsWork(offload: TxOffload | undefined): offload is TxOffload {
  return offload !== undefined && (offload.gsoType !== VnetGsoType.none || offload.checksumStart > 0);
}

/** Whether `device` takes `frame` with `offload` as it is (it segments and checksums itself). */
export function deviceTakes(device: Device, frame: Uint8Array, offload: TxOffload): boolean {
  if (offload.checksumStart > 0 && !device.checksumOffload) return false;
  if (offload.gsoType === VnetGsoType.none) return true;
  const max = device.checksumOffload ? (device.tsoMaxSize ?? 0) : 0;
  return max > 0 && frame.length <= max + ETHERNET_HEADER + VLAN_TAG;
}

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const setU16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
};

/** Where the headers of a checked super-frame are (filled in place, no allocation). */
interface Layout {
  l3: number;
  l4: number;
  /** First payload byte: Ethernet + IP + TCP headers. */
  payload: number;
  ipv6: boolean;
}

export type SegmentSink = (segment: Uint8Array) => void;

/**
 * Checks, segments and completes frames with offload metadata. One per
 * element that needs it; its scratch buffer is reused for every segment, so
 * a segment handed to the sink is valid only during that call (devices copy
 * on `send`).
 */
export class Segmenter {
  private readonly scratch = new Uint8Array(SUPER_FRAME_MAX);
  private readonly layout: Layout = { l3: 0, l4: 0, payload: 0, ipv6: false };
  /** The last segment view handed out: full-size segments all share it. */
  private view = this.scratch.subarray(0, 0);
  /** `sendTo`'s target, and its sink made once (no closure per frame). */
  private target: Device | undefined;
  private readonly sendToTarget: SegmentSink = (segment) => this.target!.send(segment);
  /** `ipToWire`'s framing buffer (made on first use) and offload record. */
  private ipFrame: Uint8Array | undefined;
  private readonly ipOffload: { -readonly [K in keyof TxOffload]: TxOffload[K] } = { gsoType: 0, gsoSize: 0, headerLength: 0, checksumStart: 0, checksumOffset: 0 };

  /**
   * Is `offload` believable for `frame`? Returns the counter to drop it
   * under, or undefined. `tsoOffered`: the port offered TSO (a GSO frame on a
   * port that did not is refused).
   */
  check(frame: Uint8Array, offload: TxOffload, tsoOffered = true): OffloadDropCounter | undefined {
    if (offload.checksumStart > 0 && offload.checksumStart + offload.checksumOffset + 2 > frame.length) return OffloadDrop.checksumOutOfFrame;
    if (offload.gsoType === VnetGsoType.none) return undefined;
    const type = offload.gsoType & ~VnetGsoType.ecn;
    if (type !== VnetGsoType.tcpv4 && type !== VnetGsoType.tcpv6) return OffloadDrop.gsoTypeUnknown;
    if (!tsoOffered) return OffloadDrop.gsoWithoutOffload;
    if (offload.gsoSize === 0) return OffloadDrop.gsoSizeZero;
    if (frame.length > SUPER_FRAME_MAX) return OffloadDrop.superFrameTooLarge;
    const bad = this.parseHeaders(frame, type === VnetGsoType.tcpv6);
    if (bad) return bad;
    if (offload.gsoSize > frame.length - this.layout.payload) return OffloadDrop.gsoSizeTooLarge;
    return undefined;
  }

  /**
   * Turns `frame` into wire frames for a port without offload: a super-frame
   * into segments, a partial checksum completed (on a copy: the caller's
   * frame may go on, unchanged, to a port that takes it). A frame without
   * offload work is passed through. Returns the drop counter when the
   * metadata does not hold, after emitting nothing.
   */
  toWire(frame: Uint8Array, offload: TxOffload | undefined, sink: SegmentSink): OffloadDropCounter | undefined {
    if (!needsWork(offload)) {
      sink(frame);
      return undefined;
    }
    const bad = this.check(frame, offload);
    if (bad) return bad;
    if (offload.gsoType === VnetGsoType.none) {
      const copy = this.viewOf(frame.length);
      copy.set(frame);
      completePartialChecksum(copy, offload);
      sink(copy);
      return undefined;
    }
    this.segment(frame, offload.gsoSize, sink);
    return undefined;
  }

  /**
   * Sends `frame` with its offload metadata on `device`: whole when the
   * device takes it, else as wire frames cut and completed here. Returns the
   * drop counter when the metadata does not hold (nothing was sent).
   */
  sendTo(device: Device, frame: Uint8Array, offload: TxOffload | undefined): OffloadDropCounter | undefined {
    if (!needsWork(offload)) {
      device.send(frame);
      return undefined;
    }
    if (deviceTakes(device, frame, offload)) {
      device.send(frame, offload);
      return undefined;
    }
    this.target = device;
    try {
      return this.toWire(frame, offload, this.sendToTarget);
    } finally {
      this.target = undefined;
    }
  }

  /**
   * As `toWire` for a bare IP packet with its offload in IP's terms (a link
   * without Ethernet, a tunnel): the packet is framed behind a placeholder
   * Ethernet header so the one routine cuts it, and the sink gets each
   * segment without that header. Only super-packets need this; the copy is
   * the price of not keeping a second segmenter.
   */
  ipToWire(packet: Uint8Array, ipv6: boolean, offload: TransportOffload, sink: SegmentSink): OffloadDropCounter | undefined {
    if (packet.length + ETHERNET_HEADER > SUPER_FRAME_MAX) return OffloadDrop.superFrameTooLarge;
    const frame = (this.ipFrame ??= new Uint8Array(SUPER_FRAME_MAX)).subarray(0, ETHERNET_HEADER + packet.length);
    setU16(frame, TsoField.etherType, ipv6 ? ETHER_TYPE_IPV6 : ETHER_TYPE_IPV4);
    frame.set(packet, ETHERNET_HEADER);
    const tx = this.ipOffload;
    tx.gsoType = offload.segmentSize > 0 ? (ipv6 ? VnetGsoType.tcpv6 : VnetGsoType.tcpv4) : VnetGsoType.none;
    tx.gsoSize = offload.segmentSize;
    tx.headerLength = ETHERNET_HEADER + offload.headerLength;
    tx.checksumStart = offload.checksumStart > 0 ? ETHERNET_HEADER + offload.checksumStart : 0;
    tx.checksumOffset = offload.checksumOffset;
    return this.toWire(frame, tx, (segment) => sink(segment.subarray(ETHERNET_HEADER)));
  }

  /** Ethernet (optionally 802.1Q-tagged) + IPv4/IPv6 + TCP, lengths consistent with the frame; fills `layout`. */
  private parseHeaders(frame: Uint8Array, ipv6: boolean): OffloadDropCounter | undefined {
    const layout = this.layout;
    if (frame.length < ETHERNET_HEADER + VLAN_TAG) return OffloadDrop.gsoBadHeaders;
    let l3 = ETHERNET_HEADER;
    let etherType = u16(frame, TsoField.etherType);
    if (etherType === ETHER_TYPE_VLAN) {
      etherType = u16(frame, TsoField.innerEtherType);
      l3 += VLAN_TAG;
    }
    let l4: number;
    if (!ipv6) {
      if (etherType !== ETHER_TYPE_IPV4 || frame.length < l3 + 20) return OffloadDrop.gsoBadHeaders;
      const versionIhl = frame[l3 + TsoField.ipv4VersionIhl]!;
      const ihl = (versionIhl & 0x0f) * 4;
      if (versionIhl >>> 4 !== 4 || ihl < 20 || frame[l3 + TsoField.ipv4Protocol] !== IP_PROTOCOL_TCP) return OffloadDrop.gsoBadHeaders;
      if (u16(frame, l3 + TsoField.ipv4TotalLength) !== frame.length - l3) return OffloadDrop.gsoBadHeaders;
      l4 = l3 + ihl;
    } else {
      if (etherType !== ETHER_TYPE_IPV6 || frame.length < l3 + IPV6_HEADER) return OffloadDrop.gsoBadHeaders;
      // Extension headers between IPv6 and TCP are not segmented here (Linux can; the kernel's TCP never sends them).
      if (frame[l3]! >>> 4 !== 6 || frame[l3 + TsoField.ipv6NextHeader] !== IP_PROTOCOL_TCP) return OffloadDrop.gsoBadHeaders;
      if (frame.length - l3 - IPV6_HEADER > IP_LENGTH_MAX) return OffloadDrop.superFrameTooLarge;
      if (u16(frame, l3 + TsoField.ipv6PayloadLength) !== frame.length - l3 - IPV6_HEADER) return OffloadDrop.gsoBadHeaders;
      l4 = l3 + IPV6_HEADER;
    }
    if (frame.length < l4 + TCP_HEADER_MIN) return OffloadDrop.gsoBadHeaders;
    const tcpHeader = (frame[l4 + TsoField.tcpDataOffset]! >>> 4) * 4;
    if (tcpHeader < TCP_HEADER_MIN || l4 + tcpHeader > frame.length) return OffloadDrop.gsoBadHeaders;
    layout.l3 = l3;
    layout.l4 = l4;
    layout.payload = l4 + tcpHeader;
    layout.ipv6 = ipv6;
    return undefined;
  }

  /** Cuts a checked super-frame (layout filled by `check`) into segments of `gsoSize` payload bytes. */
  private segment(frame: Uint8Array, gsoSize: number, sink: SegmentSink): void {
    const { l3, l4, payload: headers, ipv6 } = this.layout;
    const payloadLength = frame.length - headers;
    const count = Math.ceil(payloadLength / gsoSize);
    const seqAt = l4 + TsoField.tcpSequenceNumber;
    const firstSequence = ((frame[seqAt]! << 24) | (frame[seqAt + 1]! << 16) | (frame[seqAt + 2]! << 8) | frame[seqAt + 3]!) >>> 0;
    const flags = frame[l4 + TsoField.tcpFlags]!;
    const firstId = ipv6 ? 0 : u16(frame, l3 + TsoField.ipv4Identification);
    // Pseudo-header (RFC 9293 §3.1): addresses and protocol are the same for every segment, only the length differs.
    const addressSum = ipv6 ? sumWords(frame, l3 + TsoField.ipv6Source, 32) : sumWords(frame, l3 + TsoField.ipv4Source, 8);
    for (let i = 0; i < count; i++) {
      const offset = i * gsoSize;
      const size = Math.min(gsoSize, payloadLength - offset);
      const segment = this.viewOf(headers + size);
      segment.set(frame.subarray(0, headers), 0);
      segment.set(frame.subarray(headers + offset, headers + offset + size), headers);
      const last = i === count - 1;
      if (ipv6) {
        setU16(segment, l3 + TsoField.ipv6PayloadLength, headers - l3 - IPV6_HEADER + size);
      } else {
        setU16(segment, l3 + TsoField.ipv4TotalLength, headers - l3 + size);
        setU16(segment, l3 + TsoField.ipv4Identification, (firstId + i) & 0xffff);
        setU16(segment, l3 + TsoField.ipv4HeaderChecksum, 0);
        setU16(segment, l3 + TsoField.ipv4HeaderChecksum, finishChecksum(sumWords(segment, l3, l4 - l3)));
      }
      // Sequence numbers wrap modulo 2^32 (RFC 9293 §3.4).
      const sequence = (firstSequence + offset) >>> 0;
      segment[seqAt] = sequence >>> 24;
      segment[seqAt + 1] = (sequence >>> 16) & 0xff;
      segment[seqAt + 2] = (sequence >>> 8) & 0xff;
      segment[seqAt + 3] = sequence & 0xff;
      let segmentFlags = flags;
      if (!last) segmentFlags &= ~(TCP_FIN | TCP_PSH);
      if (i > 0) segmentFlags &= ~TCP_CWR;
      segment[l4 + TsoField.tcpFlags] = segmentFlags;
      const tcpLength = headers - l4 + size;
      setU16(segment, l4 + TsoField.tcpChecksum, 0);
      const sum = sumWords(segment, l4, tcpLength, addressSum + IP_PROTOCOL_TCP + tcpLength);
      setU16(segment, l4 + TsoField.tcpChecksum, finishChecksum(sum));
      sink(segment);
    }
  }

  /** A view of the first `length` scratch bytes; reused while the length repeats (full-size segments). */
  private viewOf(length: number): Uint8Array {
    if (this.view.length !== length) this.view = this.scratch.subarray(0, length);
    return this.view;
  }
}
