/**
 * TCP over IPv6: the `TcpNetwork` (network.ts) for the IPv6 layer, and the
 * glue for ICMPv6 errors about our segments. The same TCP code runs over
 * both families; only addresses, the pseudo-header and the errors differ.
 *
 * Read first: RFC 8200 §8.1 (the IPv6 pseudo-header) and §8.3 (maximum
 * upper-layer payload), RFC 8201 (path MTU discovery: Packet Too Big),
 * RFC 4443 §3.1 (which Destination Unreachable codes mean "refused").
 */
import { pseudoHeaderSumV6 } from '../../core/checksum.js';
import { formatIpv6, ipv6Equal, ipv6Key, parseIpv6, type Ipv6Address } from '../../l3/ipv6/address.js';
import { IPV6_HEADER_LENGTH, Ipv6Field } from '../../l3/ipv6/header.js';
import type { Ipv6Output, Ipv6SendOptions } from '../../l3/ipv6/output.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { TcpError } from './connection.js';
import { TCP_QUOTED_MIN_LENGTH } from './header.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { TcpOffloadRequest, tsoDataMax } from './offload.js';
import type { TcpLayer } from './tcp.js';

const IPV6_HEADER = IPV6_HEADER_LENGTH;
const NO_ADDRESS = new Uint8Array(16);

export function ipv6TcpNetwork(output: Ipv6Output, isLocalAddress: (a: Ipv6Address) => boolean): TcpNetwork {
  const v6 = (a: IpAddress): Ipv6Address => a as Uint8Array;
  // One output request and one offload request, filled in place for every segment: sending allocates nothing.
  // TCP sizes segments to the path MTU (RFC 8201 §5.2), so IPv6 never fragments them (dontFragment).
  const request: { -readonly [K in keyof Ipv6SendOptions]: Ipv6SendOptions[K] } = {
    destination: NO_ADDRESS,
    source: NO_ADDRESS,
    nextHeader: IpProtocol.TCP,
    dontFragment: true,
    trafficClass: 0,
    offload: undefined,
  };
  const offload = new TcpOffloadRequest();
  const fill = (source: IpAddress, destination: IpAddress, ecn: number): typeof request => {
    request.source = v6(source);
    request.destination = v6(destination);
    request.trafficClass = ecn; // the ECN field is the low two bits of the Traffic Class (RFC 3168 §5, RFC 8200 §7)
    request.offload = undefined;
    return request;
  };
  const linkTowards = (destination: IpAddress) => output.route(v6(destination))?.link;
  return {
    family: 'ipv6',
    headerOverhead: IPV6_HEADER,
    key: (a) => ipv6Key(v6(a)),
    equal: (a, b) => ipv6Equal(v6(a), v6(b)),
    format: (a) => formatIpv6(v6(a)),
    parse: (text) => parseIpv6(text),
    bytes: (a) => v6(a),
    pseudoHeaderSum: (source, destination, length) => pseudoHeaderSumV6(v6(source), v6(destination), IpProtocol.TCP, length),
    sourceFor: (destination) => output.sourceFor(v6(destination)),
    isLocal: (a) => isLocalAddress(v6(a)),
    mtuTowards: (destination) => {
      const hop = output.route(v6(destination));
      return hop ? output.mtuFor(v6(destination), hop.link) : undefined;
    },
    tsoMaxTowards: (destination) => tsoDataMax(linkTowards(destination), IPV6_HEADER),
    checksumOffloadTowards: (destination) => linkTowards(destination)?.checksumOffload ?? false,
    // With a partial checksum the field holds the RFC 8200 §8.1 pseudo-header sum (send.ts `finish`), which the link completes.
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

/** ICMPv6 types and codes (RFC 4443 §3). */
const DESTINATION_UNREACHABLE = 1;
const PACKET_TOO_BIG = 2;
const ADMIN_PROHIBITED = 1;
const PORT_UNREACHABLE = 4;
const NO_ROUTE = 0;

/**
 * Hands an ICMPv6 error about one of our TCP segments to the layer.
 * `original` is the quoted IPv6 packet; only segments directly after the
 * fixed header are matched (tapnet sends TCP without extension headers).
 */
export function receiveIcmpv6ErrorForTcp(
  layer: TcpLayer,
  net: TcpNetwork,
  event: { type: number; code: number; value: number; original: Uint8Array },
): void {
  const o = event.original;
  if (o.length < IPV6_HEADER + TCP_QUOTED_MIN_LENGTH || o[Ipv6Field.NEXT_HEADER] !== IpProtocol.TCP) return;
  const source = o.slice(Ipv6Field.SOURCE, Ipv6Field.SOURCE + 16);
  const destination = o.slice(Ipv6Field.DESTINATION, Ipv6Field.DESTINATION + 16);
  const tcp = o.subarray(Ipv6Field.PAYLOAD);
  if (event.type === PACKET_TOO_BIG) {
    layer.receiveIcmpError(net, source, destination, tcp, { mtu: Math.max(event.value, 1280) });
    return;
  }
  if (event.type === DESTINATION_UNREACHABLE) {
    const code =
      event.code === PORT_UNREACHABLE || event.code === ADMIN_PROHIBITED ? 'ECONNREFUSED' : event.code === NO_ROUTE ? 'ENETUNREACH' : 'EHOSTUNREACH';
    layer.receiveIcmpError(net, source, destination, tcp, { hard: new TcpError(code, `connect ${code} ${formatIpv6(destination)}`) });
  }
}
