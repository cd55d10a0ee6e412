/**
 * What a DHCP server's reply looks like and where it goes: the pure part of
 * the server, kept apart so server.ts reads as the protocol's decisions.
 *
 * Read first: RFC 2131 Table 3 (the fields of a server's message), §4.1
 * (destinations), §4.4.5 (T1, T2), RFC 2132 (the options).
 */
import { IPV4_BROADCAST, broadcastOf, networkOf, prefixMask, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { BootpOp, type DhcpMessage } from './message.js';
import { DhcpMessageType, type DhcpOptions } from './options.js';

/** RFC 2131 §4.1: servers listen on 67, clients on 68 (the BOOTP ports, RFC 951). */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** Where a reply goes (RFC 2131 §4.1). */
export type DhcpReplyDestination = { readonly address: Ipv4Address; readonly port: number };

/** What the server decided; the rest of the reply follows from the request. */
export interface DhcpReplyContent {
  /** Option 54: our address on the client's subnet. */
  readonly serverId: Ipv4Address;
  readonly subnet: Ipv4Cidr;
  readonly routers: readonly Ipv4Address[];
  readonly dnsServers: readonly Ipv4Address[];
  readonly domainName?: string;
  /** The address given (0 for a NAK, and for the ACK to an INFORM). */
  readonly yiaddr: Ipv4Address;
  /** Absent: no lease options (INFORM, §4.3.5 "MUST NOT send a lease expiration time"). */
  readonly leaseSeconds?: number;
  readonly hostname?: string;
  /** Option 56 of a NAK: why. */
  readonly message?: string;
}

/**
 * A server message answering `m`, fields as RFC 2131 Table 3 says: xid,
 * flags, giaddr and chaddr copied from the request; 'ciaddr' 0 in an OFFER
 * and a NAK, the request's in an ACK. A NAK carries only the message type,
 * the server identifier and the reason. Options the client did not ask for
 * are sent anyway ("The server MAY also include parameters not requested",
 * §4.3.1), as dnsmasq does for these.
 */
export function buildReply(m: DhcpMessage, type: DhcpMessageType, c: DhcpReplyContent): DhcpMessage {
  const options: DhcpOptions = { messageType: type, serverIdentifier: c.serverId };
  if (type === DhcpMessageType.NAK) {
    options.message = c.message;
  } else {
    if (c.leaseSeconds !== undefined) {
      // §4.4.5: "T1 defaults to (0.5 * duration_of_lease). T2 defaults to (0.875 * duration_of_lease)."
      options.leaseTime = c.leaseSeconds;
      options.renewalTime = Math.floor(c.leaseSeconds * 0.5);
      options.rebindingTime = Math.floor(c.leaseSeconds * 0.875);
    }
    options.subnetMask = prefixMask(c.subnet.prefixLength);
    options.routers = c.routers;
    options.domainNameServers = c.dnsServers;
    if (c.domainName) options.domainName = c.domainName;
    if (c.hostname) options.hostName = c.hostname;
  }
  return {
    op: BootpOp.BOOTREPLY,
    htype: m.htype,
    hlen: m.hlen,
    hops: 0,
    xid: m.xid,
    secs: 0,
    flags: m.flags,
    ciaddr: type === DhcpMessageType.NAK || type === DhcpMessageType.OFFER ? 0 : m.ciaddr,
    yiaddr: c.yiaddr,
    siaddr: 0,
    giaddr: m.giaddr,
    chaddr: m.chaddr,
    sname: '',
    file: '',
    options,
  };
}

/**
 * RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a client is
 * non-zero, the server sends any return messages to the 'DHCP server' port
 * on the BOOTP relay agent whose address appears in 'giaddr'. If the 'giaddr'
 * field is zero and the 'ciaddr' field is nonzero, then the server unicasts
 * DHCPOFFER and DHCPACK messages to the address in 'ciaddr'. If 'giaddr' is
 * zero and 'ciaddr' is zero, and the broadcast bit is set, then the server
 * broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff. If the broadcast
 * bit is not set ..., then the server unicasts ... to the client's hardware
 * address and 'yiaddr' address. In all cases, when 'giaddr' is zero, the
 * server broadcasts any DHCPNAK messages to 0xffffffff."
 *
 * For that last unicast case we broadcast too: the client has no address
 * yet, so a unicast needs an ARP entry forged from chaddr (dnsmasq injects
 * one into the kernel); every client listens for the broadcast anyway.
 */
export function replyDestination(m: Pick<DhcpMessage, 'giaddr' | 'ciaddr'>, type: number): DhcpReplyDestination {
  if (m.giaddr !== 0) return { address: m.giaddr, port: DHCP_SERVER_PORT };
  if (type === DhcpMessageType.NAK) return { address: IPV4_BROADCAST, port: DHCP_CLIENT_PORT };
  if (m.ciaddr !== 0) return { address: m.ciaddr, port: DHCP_CLIENT_PORT };
  return { address: IPV4_BROADCAST, port: DHCP_CLIENT_PORT };
}

/**
 * The dynamic pool in a subnet: host numbers `hosts.first`..`hosts.last`
 * clipped to the usable hosts after .1 (tapnet) and .2 (the kernel end); a
 * subnet too small for those gets its remaining hosts. Undefined: no room.
 */
export function poolRange(own: Ipv4Cidr, hosts: { first: number; last: number }): { first: Ipv4Address; last: Ipv4Address } | undefined {
  const network = networkOf(own);
  const lowest = network + 3;
  const highest = own.prefixLength >= 31 ? network : broadcastOf(own) - 1;
  let first = Math.max(network + hosts.first, lowest);
  let last = Math.min(network + hosts.last, highest);
  if (first > last) {
    first = lowest;
    last = highest;
  }
  return first > last ? undefined : { first: first >>> 0, last: last >>> 0 };
}
