/**
 * Connection tuples: what conntrack and NAT key a flow by.
 *
 * Read first: RFC 4787 §4 (a UDP "session" is the 5-tuple), RFC 5382 §2
 * (TCP), RFC 5508 §3.1 (an ICMP query "session" is keyed by the Query
 * Identifier instead of ports), and Linux's `struct nf_conntrack_tuple`.
 *
 * A tuple is (protocol, source, source port, destination, destination port).
 * For ICMP echo both "ports" hold the Identifier: an echo reply carries the
 * request's identifier unchanged (RFC 792), so the reply's tuple is exactly
 * the inverse of the request's and one lookup finds either direction.
 * Protocols without ports (GRE, ESP, ...) have both ports 0.
 *
 * This file holds no state: it classifies a packet and names its tuple.
 */
import { getU16, getU32 } from '../../core/bytes.js';
import { describeParseError } from '../../core/parse-result.js';
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { Field as Ipv4Field, Ipv4HeaderView } from '../../l3/ipv4/header.js';
import { IpProtocol, ipProtocolName } from '../../l3/ip-protocol.js';
import { Icmpv4Type, isIcmpv4Error } from '../../l3/icmpv4/message.js';
import { TcpHeaderView } from '../../l4/tcp/header.js';

export interface Tuple {
  readonly protocol: number;
  readonly source: Ipv4Address;
  /** TCP/UDP port, ICMP query Identifier, or 0. */
  readonly sourcePort: number;
  readonly destination: Ipv4Address;
  /** TCP/UDP port, ICMP query Identifier (the same as sourcePort), or 0. */
  readonly destinationPort: number;
}

/** The tuple of the other direction: what a reply looks like. */
export function invertTuple(t: Tuple): Tuple {
  return {
    protocol: t.protocol,
    source: t.destination,
    sourcePort: t.destinationPort,
    destination: t.source,
    destinationPort: t.sourcePort,
  };
}

/** A Map key; addresses stay numbers so no dotted-quad formatting on the hot path. */
export function tupleKey(t: Tuple): string {
  return `${t.protocol}/${t.source}:${t.sourcePort}>${t.destination}:${t.destinationPort}`;
}

export function tuplesEqual(a: Tuple, b: Tuple): boolean {
  return (
    a.protocol === b.protocol &&
    a.source === b.source &&
    a.sourcePort === b.sourcePort &&
    a.destination === b.destination &&
    a.destinationPort === b.destinationPort
  );
}

/** True for protocols whose tuple carries ports (or an ICMP identifier) that NAT may rewrite. */
export function tupleHasPorts(protocol: number): boolean {
  return protocol === IpProtocol.TCP || protocol === IpProtocol.UDP || protocol === IpProtocol.ICMP;
}

/** Lower-case protocol name as `conntrack -L` prints it: "tcp", "udp", "icmp", "gre", "unknown(N)". */
export function conntrackProtocolName(protocol: number): string {
  const name = ipProtocolName(protocol);
  return name.startsWith('ip-proto-') ? `unknown(${protocol})` : name.toLowerCase();
}

/** conntrack -L style: "src=10.0.0.2 dst=192.0.2.1 sport=40000 dport=80" ("type=8 code=0 id=5" for ICMP). */
export function describeTuple(t: Tuple): string {
  const addresses = `src=${formatIpv4(t.source)} dst=${formatIpv4(t.destination)}`;
  if (t.protocol === IpProtocol.ICMP) return `${addresses} id=${t.sourcePort}`;
  if (t.protocol === IpProtocol.TCP || t.protocol === IpProtocol.UDP) return `${addresses} sport=${t.sourcePort} dport=${t.destinationPort}`;
  return addresses;
}

/** TCP header bytes conntrack needs: ports, sequence numbers, flags (offset 13) and the checksum (16..17). */
export const TCP_TRACKED_LENGTH = 20;
export const UDP_TRACKED_LENGTH = 8;
/** Type, code, checksum, identifier, sequence (RFC 792). */
export const ICMP_TRACKED_LENGTH = 8;
/** RFC 792: an error quotes the IP header "+ 64 bits of Original Data Datagram": enough for ports or an identifier. */
export const QUOTED_TRANSPORT_MIN = 8;

/** How conntrack sees one IPv4 packet. */
export type PacketClass =
  | { readonly kind: 'tcp'; readonly tuple: Tuple; readonly flags: number; readonly payloadLength: number }
  | { readonly kind: 'udp'; readonly tuple: Tuple }
  | { readonly kind: 'icmpQuery'; readonly tuple: Tuple; readonly request: boolean }
  /**
   * An ICMP error (RFC 792 types 3, 4, 5, 11, 12). `inner` is the tuple of
   * the quoted datagram, `innerOffset` where its IP header starts in the packet.
   */
  | { readonly kind: 'icmpError'; readonly inner: Tuple; readonly innerOffset: number; readonly type: number }
  /** Other ICMP types (timestamps, router discovery, ...): not tracked, like Linux's "untracked". */
  | { readonly kind: 'icmpOther'; readonly type: number }
  /** A protocol without ports: tracked by addresses alone (Linux's "generic" tracker). */
  | { readonly kind: 'generic'; readonly tuple: Tuple }
  | { readonly kind: 'invalid'; readonly reason: string };

const quotedView = new Ipv4HeaderView();
const tcpView = new TcpHeaderView();

/**
 * Classifies a whole, validated IPv4 packet (the caller has wrapped it).
 * Never throws: short transport headers come back as `invalid` with the reason.
 * A non-first fragment has no transport header; conntrack reassembles before
 * calling this (as Linux's nf_defrag_ipv4 does), so it is `invalid` here.
 */
export function classifyPacket(ip: Ipv4HeaderView): PacketClass {
  if (ip.fragmentOffset !== 0 || ip.moreFragments) return { kind: 'invalid', reason: 'fragment' };
  const protocol = ip.protocol;
  const l4 = ip.payload;
  const source = ip.source;
  const destination = ip.destination;
  switch (protocol) {
    case IpProtocol.TCP: {
      if (l4.length < TCP_TRACKED_LENGTH) return { kind: 'invalid', reason: `TCP header truncated (${l4.length} bytes)` };
      const tcp = tcpView;
      const error = tcp.wrap(l4);
      if (error) return { kind: 'invalid', reason: `TCP ${describeParseError(error)}` };
      return {
        kind: 'tcp',
        tuple: { protocol, source, sourcePort: tcp.sourcePort, destination, destinationPort: tcp.destinationPort },
        flags: tcp.flags,
        payloadLength: tcp.payload.length,
      };
    }
    case IpProtocol.UDP:
      if (l4.length < UDP_TRACKED_LENGTH) return { kind: 'invalid', reason: `UDP header truncated (${l4.length} bytes)` };
      return { kind: 'udp', tuple: { protocol, source, sourcePort: getU16(l4, 0), destination, destinationPort: getU16(l4, 2) } };
    case IpProtocol.ICMP:
      return classifyIcmp(l4, source, destination, ip.headerLength);
    default:
      return { kind: 'generic', tuple: { protocol, source, sourcePort: 0, destination, destinationPort: 0 } };
  }
}

function classifyIcmp(l4: Uint8Array, source: Ipv4Address, destination: Ipv4Address, headerLength: number): PacketClass {
  if (l4.length < ICMP_TRACKED_LENGTH) return { kind: 'invalid', reason: `ICMP header truncated (${l4.length} bytes)` };
  const type = l4[0]!;
  if (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply) {
    const id = getU16(l4, 4);
    return {
      kind: 'icmpQuery',
      tuple: { protocol: IpProtocol.ICMP, source, sourcePort: id, destination, destinationPort: id },
      request: type === Icmpv4Type.EchoRequest,
    };
  }
  if (!isIcmpv4Error(type)) return { kind: 'icmpOther', type };
  const quoted = l4.subarray(ICMP_TRACKED_LENGTH);
  const error = quotedView.wrapQuoted(quoted);
  if (error) return { kind: 'invalid', reason: `ICMP error quotes a bad header (${error.reason})` };
  // RFC 5508 §4.2: an error about an error is not translated; Linux marks it invalid too.
  const innerProtocol = quotedView.protocol;
  const innerL4 = quotedView.payload;
  const innerSource = getU32(quoted, Ipv4Field.SOURCE);
  const innerDestination = getU32(quoted, Ipv4Field.DESTINATION);
  const innerOffset = headerLength + ICMP_TRACKED_LENGTH;
  if (quotedView.fragmentOffset !== 0) return { kind: 'invalid', reason: 'ICMP error quotes a non-first fragment' };
  if (innerProtocol === IpProtocol.TCP || innerProtocol === IpProtocol.UDP) {
    if (innerL4.length < QUOTED_TRANSPORT_MIN) return { kind: 'invalid', reason: 'ICMP error quotes fewer than 8 transport bytes' };
    const inner = {
      protocol: innerProtocol,
      source: innerSource,
      sourcePort: getU16(innerL4, 0),
      destination: innerDestination,
      destinationPort: getU16(innerL4, 2),
    };
    return { kind: 'icmpError', inner, innerOffset, type };
  }
  if (innerProtocol === IpProtocol.ICMP) {
    if (innerL4.length < QUOTED_TRANSPORT_MIN) return { kind: 'invalid', reason: 'ICMP error quotes fewer than 8 ICMP bytes' };
    const innerType = innerL4[0]!;
    if (innerType !== Icmpv4Type.EchoRequest && innerType !== Icmpv4Type.EchoReply) {
      return { kind: 'invalid', reason: 'ICMP error about an ICMP message that is not a query' };
    }
    const id = getU16(innerL4, 4);
    const inner = { protocol: innerProtocol, source: innerSource, sourcePort: id, destination: innerDestination, destinationPort: id };
    return { kind: 'icmpError', inner, innerOffset, type };
  }
  const inner = { protocol: innerProtocol, source: innerSource, sourcePort: 0, destination: innerDestination, destinationPort: 0 };
  return { kind: 'icmpError', inner, innerOffset, type };
}
