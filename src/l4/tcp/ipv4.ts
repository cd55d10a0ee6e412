/**
 * TCP over IPv4: the `TcpNetwork` (network.ts) for the IPv4 layer, and the
 * glue for ICMPv4 errors about our segments.
 *
 * Read first: RFC 9293 §3.1 (the IPv4 pseudo-header), RFC 1122 §4.2.3.9
 * (which ICMP errors are hard) and RFC 1191 (fragmentation needed →
 * path MTU). Segments go out with Don't Fragment set: TCP sizes its
 * segments to the path instead (RFC 1191 §3).
 */
import { pseudoHeaderSumV4 } from '../../core/checksum.js';
import { formatIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { Ipv4HeaderView } from '../../l3/ipv4/header.js';
import type { Ipv4Input } from '../../l3/ipv4/input.js';
import type { Ipv4Link } from '../../l3/ipv4/link.js';
import type { Ipv4Output, Ipv4SendOptions } from '../../l3/ipv4/output.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { TcpError } from './connection.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { TcpOffloadRequest, tsoDataMax, type OffloadLink } from './offload.js';
import type { TcpLayer } from './tcp.js';

const IPV4_HEADER = 20;

export function ipv4TcpNetwork(output: Ipv4Output, input: Ipv4Input): TcpNetwork {
  const v4 = (a: IpAddress): Ipv4Address => a as number;
  // One output request and one offload request, filled in place for every segment: sending allocates nothing.
  const request: { -readonly [K in keyof Ipv4SendOptions]: Ipv4SendOptions[K] } = { destination: 0, source: 0, protocol: IpProtocol.TCP, dontFragment: true, ecn: 0, offload: undefined };
  const offload = new TcpOffloadRequest();
  const fill = (source: IpAddress, destination: IpAddress, ecn: number): typeof request => {
    request.source = v4(source);
    request.destination = v4(destination);
    request.ecn = ecn;
    request.offload = undefined;
    return request;
  };
  const linkTowards = (destination: IpAddress): (Ipv4Link & OffloadLink) | undefined => output.route(v4(destination))?.link;
  return {
    family: 'ipv4',
    headerOverhead: IPV4_HEADER,
    key: (a) => v4(a),
    equal: (a, b) => a === b,
    format: (a) => formatIpv4(v4(a)),
    bytes: (a) => Uint8Array.of(v4(a) >>> 24, (v4(a) >>> 16) & 0xff, (v4(a) >>> 8) & 0xff, v4(a) & 0xff),
    pseudoHeaderSum: (source, destination, length) => pseudoHeaderSumV4(v4(source), v4(destination), IpProtocol.TCP, length),
    sourceFor: (destination) => {
      const route = output.route(v4(destination));
      return route ? output.sourceFor(route.link, route.nextHop) : undefined;
    },
    isLocal: (a) => input.isLocalAddress(v4(a)),
    mtuTowards: (destination) => linkTowards(destination)?.mtu,
    tsoMaxTowards: (destination) => tsoDataMax(linkTowards(destination), IPV4_HEADER),
    checksumOffloadTowards: (destination) => linkTowards(destination)?.checksumOffload ?? false,
    send: (source, destination, segment, gsoSize, partialChecksum, ecn = 0) => {
      const options = fill(source, destination, ecn);
      options.offload = offload.forSegment(segment, gsoSize, partialChecksum);
      return output.send(options, segment) === 'sent';
    },
    sendWithPayload: (source, destination, header, payload, gsoSize, ecn) => {
      const options = fill(source, destination, ecn);
      options.offload = offload.forHeader(header, gsoSize);
      return output.send(options, header, payload) === 'sent';
    },
  };
}

/** Reused for the datagram quoted in each ICMP error (RFC 792: its header + 64 bits). */
const quotedIpv4 = new Ipv4HeaderView();

/** ICMP destination-unreachable codes (RFC 792, RFC 1122 §3.2.2.1). */
const FRAGMENTATION_NEEDED = 4;
const PORT_UNREACHABLE = 3;

/**
 * Hands an ICMPv4 error about one of our TCP segments to the layer:
 * `original` is the quoted IPv4 header plus at least 8 bytes of TCP header.
 */
export function receiveIcmpv4ErrorForTcp(
  layer: TcpLayer,
  net: TcpNetwork,
  event: { type: number; code: number; nextHopMtu: number; original: Uint8Array },
): void {
  const quoted = quotedIpv4;
  if (quoted.wrapQuoted(event.original) || quoted.protocol !== IpProtocol.TCP) return;
  const source = quoted.source;
  const destination = quoted.destination;
  const tcp = quoted.payload; // at least 8 bytes are needed: TcpLayer.receiveIcmpError checks
  if (event.type === 3 && event.code === FRAGMENTATION_NEEDED) {
    // RFC 1191 §4: a router that predates RFC 1191 sends 0: fall back to the plateau below the datagram's size.
    const mtu = event.nextHopMtu > 0 ? event.nextHopMtu : plateauBelow(quoted.totalLength);
    layer.receiveIcmpError(net, source, destination, tcp, { mtu });
    return;
  }
  if (event.type === 3) {
    // RFC 1122 §4.2.3.9: protocol/port unreachable are hard errors; net/host unreachable are soft (reported while connecting).
    const code = event.code === PORT_UNREACHABLE || event.code === 2 ? 'ECONNREFUSED' : event.code === 0 ? 'ENETUNREACH' : 'EHOSTUNREACH';
    layer.receiveIcmpError(net, source, destination, tcp, { hard: new TcpError(code, `connect ${code} ${formatIpv4(destination)}`) });
  }
}

/** RFC 1191 §7 table of common MTU plateaus. */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

function plateauBelow(size: number): number {
  for (const p of PLATEAUS) if (p < size) return p;
  return 68;
}
