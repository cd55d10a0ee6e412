/**
 * The virtio-net offload translation: a transport's request for one IP
 * packet (core/offload.ts, offsets from the IP header, no notion of a
 * device) becomes the `TxOffload` of the Ethernet frame that carries it
 * (device.ts: the virtio-net header fields, offsets from the frame's first
 * byte), as far as the device offers it. What the device does not offer is
 * done here in software, so the layers above never ask what the device is.
 *
 * Read first: the virtio 1.x spec §5.1.6.2 (NEEDS_CSUM, gso_type/gso_size/
 * hdr_len) and Linux include/linux/virtio_net.h (virtio_net_hdr_from_skb),
 * which fills the same fields from an skb.
 */
import { completePartialChecksum, type TransportOffload } from '../core/offload.js';
import type { Device, TxOffload } from './device.js';
import { VnetGsoType } from './tap.js';

export type IpFamily = 'ipv4' | 'ipv6';

/** A `TxOffload` that an interface fills in place for each frame (no allocation per frame). */
export type TxOffloadRecord = { -readonly [K in keyof TxOffload]: TxOffload[K] };

export function newTxOffload(): TxOffloadRecord {
  return { gsoType: VnetGsoType.none, gsoSize: 0, headerLength: 0, checksumStart: 0, checksumOffset: 0 };
}

/**
 * Largest IP packet `device` cuts into segments itself (TSO), 0 when it
 * cannot. Segmentation needs checksum offload too: every segment gets its own
 * checksum, and virtio-net (like the kernel, which refuses TUN_F_TSO* without
 * TUN_F_CSUM) only offers TSO with NEEDS_CSUM.
 */
export function segmentationMaxSize(device: Device): number {
  return device.checksumOffload ? (device.tsoMaxSize ?? 0) : 0;
}

/**
 * The frame offload for `packet` (an IP packet of `family`) sent with
 * `request` over `device`, written into `into`; undefined when the frame
 * needs none. A packet of one segment is not a GSO frame (the kernel
 * takes a GSO frame no longer than gso_size as a plain one); a partial checksum the device
 * cannot finish is finished here. A super-packet gets GSO metadata even when
 * the device cannot segment it (a router forwarding one to a port without
 * TSO): the caller hands it to `Segmenter.sendTo` (./segment.ts), which sends
 * it whole or cuts it.
 */
export function frameOffload(
  device: Device,
  packet: Uint8Array,
  request: TransportOffload,
  family: IpFamily,
  linkHeaderLength: number,
  into: TxOffloadRecord,
  /** The packet's length when its data follows in slices (core/slices.ts) and `packet` holds only the headers. */
  packetLength = packet.length,
): TxOffload | undefined {
  // A super-packet (more than one segment's data) is a GSO frame whether or not this device segments it:
  // Segmenter.sendTo cuts it if not. Counted by segments, not by the link MTU: a path MTU below it (RFC 8201)
  // makes a packet of two small segments that would fit the link too big for the path.
  const tso = request.segmentSize > 0 && packetLength > request.headerLength + request.segmentSize;
  let partial = request.checksumStart > 0;
  // Segmentation computes every segment's checksum anew; only a single packet needs its partial one finished.
  if (partial && !device.checksumOffload && !tso) {
    completePartialChecksum(packet, request);
    partial = false;
  }
  if (!tso && !partial) return undefined;
  into.gsoType = tso ? (family === 'ipv4' ? VnetGsoType.tcpv4 : VnetGsoType.tcpv6) : VnetGsoType.none;
  into.gsoSize = tso ? request.segmentSize : 0;
  into.headerLength = request.headerLength + linkHeaderLength;
  into.checksumStart = partial ? request.checksumStart + linkHeaderLength : 0;
  into.checksumOffset = request.checksumOffset;
  return into;
}
