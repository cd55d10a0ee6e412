/**
 * Rewriting a packet in place for NAT: addresses, ports, ICMP identifiers,
 * and the ICMP errors that quote a translated packet.
 *
 * Read first: RFC 1624 (incremental checksum update, equation 3), RFC 3022
 * §4.2 (what a NAPT changes and which checksums that touches), RFC 5508 §4.2
 * (REQ-3: an ICMP error's embedded packet is translated too), RFC 768 (a zero
 * UDP checksum means "none").
 *
 * Every changed 16-bit word patches each checksum that covers it, so the
 * cost does not grow with the payload, and a checksum that was wrong on
 * arrival stays wrong (a NAT must not launder corruption):
 *
 *   field                 covered by
 *   IPv4 address          IPv4 header checksum; TCP/UDP checksum (pseudo-header, RFC 9293 §3.1, RFC 768)
 *   TCP/UDP port          TCP/UDP checksum
 *   ICMP echo identifier  ICMP checksum (no pseudo-header)
 *
 * A packet whose transport checksum is partial (a TSO super-packet or a
 * NEEDS_CSUM frame from a virtio-net device: the field holds only the
 * pseudo-header sum, uncomplemented, and the device sums the rest later) is
 * patched as Linux's inet_proto_csum_replace4 does for CHECKSUM_PARTIAL: an
 * address (in the pseudo-header) updates the seed with the signs turned
 * round, a port (in the summed data) changes nothing.
 *
 * An ICMP error is the exception: the inner packet is patched word by word,
 * then the ICMP checksum over the whole message is recomputed, as Linux's
 * nf_nat_icmp_reply_translation does (the caller verified it first). The
 * message is at most 576 bytes (RFC 1812 §4.3.2.3).
 *
 * The caller passes the datagram exactly (Total Length bytes, no padding),
 * already validated; nothing here reads past what the header claims.
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { internetChecksum, updateChecksum16 } from '../../core/checksum.js';
import { Field as Ipv4Field } from '../../l3/ipv4/header.js';
import type { Ipv4Address } from '../../l3/ipv4/address.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { Icmpv4Type } from '../../l3/icmpv4/message.js';
import { Field as TcpField } from '../../l4/tcp/header.js';
import { UdpField } from '../../l4/udp/header.js';

/** Which end of a packet NAT changes: SNAT rewrites the source, DNAT the destination (Linux NF_NAT_MANIP_SRC/DST). */
export type Manip = 'source' | 'destination';

/** A checksum field, whether it follows UDP's zero rule, and whether it holds a partial checksum's seed. */
interface ChecksumField {
  readonly offset: number;
  readonly udp: boolean;
  readonly partial?: boolean;
}

const TCP_CHECKSUM = TcpField.CHECKSUM;
const UDP_CHECKSUM = UdpField.checksum;
const ICMP_CHECKSUM = 2;
const ICMP_IDENTIFIER = 4;
/** Bytes of TCP header up to and including the checksum: a shorter quote has no checksum to patch. */
const TCP_CHECKSUM_END = TCP_CHECKSUM + 2;

function patchChecksum(buf: Uint8Array, field: ChecksumField, oldWord: number, newWord: number): void {
  const current = getU16(buf, field.offset);
  if (field.partial) {
    // The seed is a sum, not its complement: complement, update (RFC 1624 eqn. 3), complement back.
    setU16(buf, field.offset, ~updateChecksum16(~current & 0xffff, oldWord, newWord) & 0xffff);
    return;
  }
  // RFC 768: zero means the sender computed no checksum; leave it so.
  if (field.udp && current === 0) return;
  let next = updateChecksum16(current, oldWord, newWord);
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones."
  if (field.udp && next === 0) next = 0xffff;
  setU16(buf, field.offset, next);
}

/** Writes one 16-bit word and patches every checksum that covers it (RFC 1624 eqn. 3). */
function replaceWord(buf: Uint8Array, offset: number, newWord: number, sums: readonly ChecksumField[]): void {
  const oldWord = getU16(buf, offset);
  if (oldWord === newWord) return;
  setU16(buf, offset, newWord);
  for (const s of sums) patchChecksum(buf, s, oldWord, newWord);
}

/** An address is two words; both go through `replaceWord`. */
function replaceAddress(buf: Uint8Array, offset: number, address: Ipv4Address, sums: readonly ChecksumField[]): void {
  replaceWord(buf, offset, address >>> 16, sums);
  replaceWord(buf, offset + 2, address & 0xffff, sums);
}

/**
 * Where the transport checksum of the IPv4 packet at `ip` sits, if the bytes
 * present hold it and the pseudo-header covers the addresses (TCP and UDP).
 * `end` is where the available bytes stop (a quoted packet may be cut short).
 */
function pseudoHeaderChecksum(buf: Uint8Array, ip: number, end: number, partial = false): ChecksumField | undefined {
  const headerLength = (buf[ip]! & 0x0f) * 4;
  const l4 = ip + headerLength;
  // A non-first fragment has no transport header.
  if ((getU16(buf, ip + Ipv4Field.FLAGS_FRAGMENT_OFFSET) & 0x1fff) !== 0) return undefined;
  const protocol = buf[ip + Ipv4Field.PROTOCOL]!;
  if (protocol === IpProtocol.TCP && end - l4 >= TCP_CHECKSUM_END) return { offset: l4 + TCP_CHECKSUM, udp: false, partial };
  if (protocol === IpProtocol.UDP && end - l4 >= UDP_CHECKSUM + 2) return { offset: l4 + UDP_CHECKSUM, udp: true, partial };
  return undefined;
}

/**
 * Rewrites the address (and port, or echo identifier) of one end of the IPv4
 * packet at `buf[ip]`, whose bytes stop at `end`. `port` is ignored for
 * protocols without ports. `partial`: the transport checksum is a seed.
 */
function manipAt(buf: Uint8Array, ip: number, end: number, manip: Manip, address: Ipv4Address, port: number, partial = false): void {
  const headerLength = (buf[ip]! & 0x0f) * 4;
  const l4 = ip + headerLength;
  const transport = pseudoHeaderChecksum(buf, ip, end, partial);
  const ipChecksum: ChecksumField = { offset: ip + Ipv4Field.HEADER_CHECKSUM, udp: false };
  const addressSums = transport ? [ipChecksum, transport] : [ipChecksum];
  replaceAddress(buf, ip + (manip === 'source' ? Ipv4Field.SOURCE : Ipv4Field.DESTINATION), address, addressSums);

  if ((getU16(buf, ip + Ipv4Field.FLAGS_FRAGMENT_OFFSET) & 0x1fff) !== 0) return;
  const protocol = buf[ip + Ipv4Field.PROTOCOL]!;
  if (protocol === IpProtocol.TCP || protocol === IpProtocol.UDP) {
    if (end - l4 < 4) return;
    // TCP and UDP keep their ports in the same first two words (RFC 9293 §3.1, RFC 768).
    const portOffset = manip === 'source' ? TcpField.SOURCE_PORT : TcpField.DESTINATION_PORT;
    // A partial checksum's seed covers only the pseudo-header: the device sums the new port itself.
    replaceWord(buf, l4 + portOffset, port, transport && !partial ? [transport] : []);
  } else if (protocol === IpProtocol.ICMP) {
    if (end - l4 < ICMP_IDENTIFIER + 2) return;
    const type = buf[l4]!;
    // RFC 5508 §3.1: a query's Identifier plays the part of the port.
    if (type !== Icmpv4Type.EchoRequest && type !== Icmpv4Type.EchoReply) return;
    replaceWord(buf, l4 + ICMP_IDENTIFIER, port, [{ offset: l4 + ICMP_CHECKSUM, udp: false }]);
  }
}

/**
 * NAT on an ordinary packet: sets the source (SNAT) or destination (DNAT)
 * address and port. For ICMP echo `port` is the Identifier. `partialChecksum`:
 * the TCP/UDP checksum field holds a partial checksum's seed (see above).
 */
export function manipPacket(packet: Uint8Array, manip: Manip, address: Ipv4Address, port: number, partialChecksum = false): void {
  manipAt(packet, 0, packet.length, manip, address, port, partialChecksum);
}

/**
 * The outer header of an ICMP error: only the address changes. ICMP has no
 * pseudo-header, so only the IPv4 header checksum is patched.
 */
export function manipOuterAddress(packet: Uint8Array, manip: Manip, address: Ipv4Address): void {
  const field = manip === 'source' ? Ipv4Field.SOURCE : Ipv4Field.DESTINATION;
  replaceAddress(packet, field, address, [{ offset: Ipv4Field.HEADER_CHECKSUM, udp: false }]);
}

/**
 * The packet quoted inside an ICMP error (RFC 5508 REQ-3): its address and
 * port at one end, its own header and transport checksums patched where the
 * quote holds them, then the ICMP checksum recomputed over the message.
 * `innerOffset` is where the quoted IPv4 header starts in `packet`.
 */
export function manipIcmpErrorInner(packet: Uint8Array, innerOffset: number, manip: Manip, address: Ipv4Address, port: number): void {
  manipAt(packet, innerOffset, packet.length, manip, address, port);
  const icmp = (packet[0]! & 0x0f) * 4;
  setU16(packet, icmp + ICMP_CHECKSUM, 0);
  setU16(packet, icmp + ICMP_CHECKSUM, internetChecksum(packet, icmp, packet.length - icmp));
}
