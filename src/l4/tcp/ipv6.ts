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
import { formatIpv6, ipv6Equal, ipv6Key, type Ipv6Address } from '../../l3/ipv6/address.js';
import { IPV6_HEADER_LENGTH, Ipv6Field } from '../../l3/ipv6/header.js';
import type { Ipv6Output } from '../../l3/ipv6/output.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { TcpError } from './connection.js';
import { TCP_QUOTED_MIN_LENGTH } from './header.js';
import type { IpAddress, TcpNetwork } from './network.js';
import type { TcpLayer } from './tcp.js';

const IPV6_HEADER = IPV6_HEADER_LENGTH;

export function ipv6TcpNetwork(output: Ipv6Output, isLocalAddress: (a: Ipv6Address) => boolean): TcpNetwork {
  const v6 = (a: IpAddress): Ipv6Address => a as Uint8Array;
  return {
    family: 'ipv6',
    headerOverhead: IPV6_HEADER,
    key: (a) => ipv6Key(v6(a)),
    equal: (a, b) => ipv6Equal(v6(a), v6(b)),
    format: (a) => formatIpv6(v6(a)),
    bytes: (a) => v6(a),
    pseudoHeaderSum: (source, destination, length) => pseudoHeaderSumV6(v6(source), v6(destination), IpProtocol.TCP, length),
    sourceFor: (destination) => output.sourceFor(v6(destination)),
    isLocal: (a) => isLocalAddress(v6(a)),
    mtuTowards: (destination) => {
      const hop = output.route(v6(destination));
      return hop ? output.mtuFor(v6(destination), hop.link) : undefined;
    },
    // The IPv6 path has no TSO or checksum offload yet: TCP segments and checksums itself.
    tsoMaxTowards: () => 0,
    checksumOffloadTowards: () => false,
    // TCP sizes segments to the path MTU (RFC 8201 §5.2), so IPv6 never fragments them.
    send: (source, destination, segment, _gsoSize, _partialChecksum, ecn = 0) =>
      output.send({ destination: v6(destination), source: v6(source), nextHeader: IpProtocol.TCP, dontFragment: true, trafficClass: ecn }, segment) === 'sent',
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
