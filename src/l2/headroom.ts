/**
 * Headroom of the arriving packet: the bytes in front of a received IP
 * packet that held its link header. Once the interface has read that header
 * and dispatched the packet, nothing reads those bytes again, so a router
 * that sends the packet on writes the outgoing Ethernet header there and
 * hands the device a frame that is a view of the receive buffer: no copy
 * into a transmit scratch buffer first (Linux does the same with an skb's
 * headroom: ip_forward → neigh_hh_output → skb_push of the cached header).
 * A TAP then queues that view by reference behind the virtio-net header and
 * writes it before its receive buffer is refilled (device/tap.ts): the
 * kernel's copy in writev is the only one.
 *
 *   receive buffer:  | vnet hdr | Ethernet hdr (14 or 18, tagged) | IP packet ... |
 *                                 ^ headroom: the received link header
 *   forwarded:       | vnet hdr | .... | new Ethernet hdr (14)    | IP packet ... |
 *                                        ^ the frame handed to the device
 *
 * Who may use it: only the IP packet the interface is dispatching right now
 * (same buffer, same first byte), only during that call (device.ts: a
 * received frame is valid during the receive call, and the layers above may
 * rewrite it in place: TTL, NAT). Anything else (a packet a hook replaced, a
 * decapsulated inner packet, an ICMP error, a fragment, a locally built
 * packet) has no headroom and is framed in the interface's scratch buffer.
 *
 * One record per process: JavaScript runs one receive at a time, and
 * receives nest only through a device that delivers synchronously (a VXLAN
 * tunnel's inner frame), which saves and restores it (l2/interface.ts).
 */

/** The IP packet being dispatched and the free bytes in front of it. */
export class ArrivingPacket {
  /** Buffer of the packet being dispatched; undefined outside a receive. */
  buffer: ArrayBufferLike | undefined = undefined;
  /** Its first byte in `buffer`. */
  offset = -1;
  /** Free bytes before `offset` (the received link header). */
  room = 0;

  /** Bytes free in front of `packet`: `room` when it is the arriving packet, else 0. */
  headroom(packet: Uint8Array): number {
    return packet.byteOffset === this.offset && packet.buffer === this.buffer ? this.room : 0;
  }
}

/** The process's arriving packet (set by NetworkInterface.receiveFrame around the IP receivers). */
export const arriving = new ArrivingPacket();
