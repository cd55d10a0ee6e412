/**
 * Whole IPv4 packets built with tapnet's own codecs, for conntrack, NAT and
 * firewall tests. Every builder returns a fresh buffer of exactly Total
 * Length bytes with correct checksums (unless asked otherwise).
 */
import { emitIpv4Header, ipv4Record, IPV4_HEADER_LENGTH, Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import { UDP_HEADER_LENGTH, emitUdp, finishUdpChecksumV4, verifyUdpChecksumV4 } from '../../../../src/l4/udp/header.js';
import { emitTcpHeader, finishTcpChecksumV4, verifyTcpChecksumV4, TCP_HEADER_MIN_LENGTH } from '../../../../src/l4/tcp/header.js';
import { seq } from '../../../../src/l4/tcp/seq.js';
import { emitIcmpv4Echo, emitIcmpv4Error, icmpv4ErrorQuote, Icmpv4Type } from '../../../../src/l3/icmpv4/message.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';

export const ip = (text: string): number => parseIpv4(text)!;

function withIpHeader(protocol: number, source: number, destination: number, l4: Uint8Array, extra: { ttl?: number; identification?: number } = {}): Uint8Array {
  const packet = new Uint8Array(IPV4_HEADER_LENGTH + l4.length);
  emitIpv4Header(ipv4Record({ protocol, source, destination, totalLength: packet.length, ttl: extra.ttl ?? 64, identification: extra.identification ?? 0x1234 }), packet, 0);
  packet.set(l4, IPV4_HEADER_LENGTH);
  return packet;
}

export function udpPacket(source: number, sourcePort: number, destination: number, destinationPort: number, payload: Uint8Array = new Uint8Array(12).fill(0x61), options: { checksum?: boolean } = {}): Uint8Array {
  const l4 = new Uint8Array(UDP_HEADER_LENGTH + payload.length);
  emitUdp({ sourcePort, destinationPort, payloadLength: payload.length }, l4, 0);
  l4.set(payload, UDP_HEADER_LENGTH);
  if (options.checksum ?? true) finishUdpChecksumV4(l4, 0, l4.length, source, destination);
  return withIpHeader(IpProtocol.UDP, source, destination, l4);
}

export function tcpPacket(
  source: number,
  sourcePort: number,
  destination: number,
  destinationPort: number,
  flags: number,
  options: { seq?: number; ack?: number; payload?: Uint8Array } = {},
): Uint8Array {
  const payload = options.payload ?? new Uint8Array(0);
  const l4 = new Uint8Array(TCP_HEADER_MIN_LENGTH + payload.length);
  emitTcpHeader(
    { sourcePort, destinationPort, sequenceNumber: seq(options.seq ?? 1000), acknowledgmentNumber: seq(options.ack ?? 0), flags, window: 65535, urgentPointer: 0, options: {} },
    l4,
    0,
  );
  l4.set(payload, TCP_HEADER_MIN_LENGTH);
  finishTcpChecksumV4(l4, source, destination);
  return withIpHeader(IpProtocol.TCP, source, destination, l4);
}

export function echoPacket(source: number, destination: number, identifier: number, options: { reply?: boolean; sequence?: number; data?: Uint8Array } = {}): Uint8Array {
  const data = options.data ?? new Uint8Array(16).fill(0x42);
  const l4 = new Uint8Array(8 + data.length);
  emitIcmpv4Echo({ type: options.reply ? Icmpv4Type.EchoReply : Icmpv4Type.EchoRequest, identifier, sequence: options.sequence ?? 1, data }, l4, 0);
  return withIpHeader(IpProtocol.ICMP, source, destination, l4);
}

/** An ICMP error from `source` to `destination` quoting `original` (cut as Linux cuts it). */
export function icmpErrorPacket(source: number, destination: number, type: 3 | 11, code: number, original: Uint8Array, quoteMax?: number): Uint8Array {
  const quote = icmpv4ErrorQuote(original, quoteMax);
  const l4 = new Uint8Array(8 + quote.length);
  emitIcmpv4Error({ type, code, original: quote }, l4, 0);
  return withIpHeader(IpProtocol.ICMP, source, destination, l4);
}

/** Every checksum in the packet recomputed from scratch: IP header, transport, and inside an ICMP error. */
export function checksumsHold(packet: Uint8Array): boolean {
  const v = new Ipv4HeaderView();
  if (v.wrap(packet, true)) return false;
  const l4 = v.payload;
  switch (v.protocol) {
    case IpProtocol.TCP:
      return verifyTcpChecksumV4(l4, v.source, v.destination);
    case IpProtocol.UDP:
      return verifyUdpChecksumV4(l4, v.source, v.destination);
    case IpProtocol.ICMP:
      return verifyChecksum(l4, 0, l4.length);
    default:
      return true;
  }
}

/** The quoted packet of an ICMP error, and whether its own header checksum holds. */
export function quotedOf(packet: Uint8Array): { view: Ipv4HeaderView; headerOk: boolean; bytes: Uint8Array } {
  const outer = new Ipv4HeaderView();
  outer.wrap(packet, false);
  const bytes = outer.payload.subarray(8);
  const view = new Ipv4HeaderView();
  view.wrapQuoted(bytes);
  return { view, headerOk: verifyChecksum(bytes, 0, view.headerLength), bytes };
}
