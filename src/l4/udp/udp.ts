/**
 * UDP: the demultiplexer and sockets in Node's `dgram` idiom.
 *
 * Read first: RFC 768, RFC 1122 §4.1.3 (what a host MUST do: verify the
 * checksum when present, answer ICMP port unreachable), RFC 6056 (random
 * ephemeral ports).
 *
 *   const sock = host.udp.createSocket();
 *   sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
 *   sock.bind(7);
 *
 * Delivery is synchronous from the packet path (like a socket whose reader is
 * always waiting), so a server answering inside 'message' adds no latency.
 * The payload handed to listeners is a copy and may be kept.
 *
 * Two tapnet extras for code on the packet path (WireGuard), which handles
 * every datagram at once and keeps none of the bytes:
 *  - `socket.onDatagram = (payload, source) => ...` replaces the 'message'
 *    event with a view of the payload and a reused `UdpSource` (numbers, no
 *    strings), both valid only during the call: no copy, no allocation.
 *  - `socket.checksumOffload = true` leaves the IPv4 checksum to the link when
 *    the route's link can finish it (virtio-net NEEDS_CSUM, as Linux does for
 *    every UDP socket on such a device): the field carries the pseudo-header
 *    sum and the device or the kernel sums the rest. `sendTo(payload, port,
 *    address)` takes the address as a number (IPv4) or bytes (IPv6).
 */
import { EventEmitter } from 'node:events';
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import { IPV4_BROADCAST, formatIpv4, parseIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import type { ReceivedIpv4 } from '../../l3/ipv4/input.js';
import type { Ipv4Output } from '../../l3/ipv4/output.js';
import type { Ipv4Link } from '../../l3/ipv4/link.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import type { Disposition } from '../../l3/dispositions.js';
import { UDP_HEADER_LENGTH, UdpField, UdpHeaderView, emitUdp, finishUdpChecksumV4, setUdpPartialChecksumV4 } from './header.js';
import { formatIpv6, ipv6Equal, isUnspecifiedIpv6, parseIpv6, type Ipv6Address } from '../../l3/ipv6/address.js';
import type { ReceivedIpv6 } from '../../l3/ipv6/input.js';
import type { Ipv6Output } from '../../l3/ipv6/output.js';
import { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST } from '../ports.js';

/** Largest UDP payload in one IPv4 datagram: 65535 - 20 (IP) - 8 (UDP). */
export const UDP_MAX_PAYLOAD_V4 = 65_507;

export type UdpSocketType = 'udp4' | 'udp6';

export interface UdpRemoteInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
  readonly size: number;
  /** tapnet extra: the interface the datagram arrived on. */
  readonly interface: string;
  /** tapnet extra: the destination address (ours, or a broadcast address). */
  readonly localAddress: string;
}

/** Where a datagram came from, for `onDatagram` (one object, rewritten for each datagram). */
export interface UdpSource {
  family: 4 | 6;
  /** IPv4 source (family 4). */
  address4: Ipv4Address;
  /** IPv6 source (family 6): a view into the packet. */
  address6: Ipv6Address | undefined;
  port: number;
  /** The link it arrived on. */
  link: { readonly name: string };
}

export interface UdpAddressInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

export class UdpError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class UdpSocket extends EventEmitter<{
  message: [msg: Buffer, rinfo: UdpRemoteInfo];
  listening: [];
  close: [];
  error: [err: Error];
}> {
  localAddress: Ipv4Address = 0;
  /** For 'udp6' sockets: the bound IPv6 address, undefined for "any" (::). */
  localAddress6: Ipv6Address | undefined;
  localPort = 0;
  broadcast = false;
  /** Like SO_BINDTODEVICE: receive only from, and send only through, this link. */
  boundLink: Ipv4Link | undefined;
  closed = false;
  /** Instead of 'message': the payload as a view and the source, both valid only during the call (see the top of the file). */
  onDatagram: ((payload: Uint8Array, source: UdpSource) => void) | undefined;
  /** IPv4: leave the checksum to a link that can finish it (NEEDS_CSUM), see the top of the file. */
  checksumOffload = false;

  constructor(
    private readonly layer: UdpLayer,
    /** As in Node's dgram: 'udp4' sockets speak IPv4, 'udp6' sockets IPv6 (each family has its own ports). */
    readonly type: UdpSocketType = 'udp4',
  ) {
    super();
  }

  /** Binds to `port` (0 = a random ephemeral port) on `address` (default: every address). */
  bind(port = 0, address?: string, callback?: () => void): this {
    if (this.type === 'udp6') {
      const local6 = address === undefined ? undefined : parseIpv6(address);
      if (address !== undefined && local6 === undefined) throw new UdpError(`bind: invalid IPv6 address '${address}'`, 'EINVAL');
      this.layer.bind6(this, port, local6 && isUnspecifiedIpv6(local6) ? undefined : local6);
    } else {
      const local = address === undefined ? 0 : parseIpv4(address);
      if (local === undefined) throw new UdpError(`bind: invalid IPv4 address '${address}'`, 'EINVAL');
      this.layer.bind(this, port, local);
    }
    if (callback) this.once('listening', callback);
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  bindToLink(link: Ipv4Link): this {
    this.boundLink = link;
    return this;
  }

  setBroadcast(flag: boolean): void {
    this.broadcast = flag;
  }

  address(): UdpAddressInfo {
    if (this.type === 'udp6') {
      return { address: this.localAddress6 ? formatIpv6(this.localAddress6) : '::', family: 'IPv6', port: this.localPort };
    }
    return { address: formatIpv4(this.localAddress), family: 'IPv4', port: this.localPort };
  }

  /**
   * Sends one datagram. Unbound sockets are bound to an ephemeral port first
   * (as Node does). Errors go to `callback`, or are thrown when there is none.
   */
  send(msg: Uint8Array | string, port: number, address: string, callback?: (error: Error | null) => void): void {
    const payload = typeof msg === 'string' ? Buffer.from(msg) : msg;
    const error = this.type === 'udp6' ? this.layer.send6(this, payload, port, address) : this.layer.send(this, payload, port, address);
    if (callback) queueMicrotask(() => callback(error ?? null));
    else if (error) throw error;
  }

  /**
   * `send` for the packet path: the destination as a number (IPv4) or 16
   * bytes (IPv6), no string to parse. Throws the UdpError `send` would.
   */
  sendTo(payload: Uint8Array, port: number, address: Ipv4Address | Ipv6Address): void {
    const error = typeof address === 'number' ? this.layer.send(this, payload, port, address) : this.layer.send6(this, payload, port, address);
    if (error) throw error;
  }

  close(callback?: () => void): void {
    if (this.closed) return;
    this.closed = true;
    this.layer.unbind(this);
    if (callback) this.once('close', callback);
    queueMicrotask(() => this.emit('close'));
  }
}

export class UdpLayer {
  private readonly header = new UdpHeaderView();
  /** Sockets by local port; several may share a port when bound to different addresses. */
  private readonly ports = new Map<number, UdpSocket[]>();
  /** The same for 'udp6' sockets: IPv6 has its own port space here (like IPV6_V6ONLY). */
  private readonly ports6 = new Map<number, UdpSocket[]>();
  private ipv6: { output: Ipv6Output; isLocalAddress: (address: Ipv6Address) => boolean } | undefined;
  private readonly scratch = new Uint8Array(65_535);
  /** The `UdpSource` handed to every `onDatagram`. */
  private readonly source: UdpSource = { family: 4, address4: 0, address6: undefined, port: 0, link: { name: '' } };
  /** The offload request of a datagram whose checksum the link finishes (offsets from the UDP header). */
  private readonly checksumOffload = { gsoSize: 0, partialChecksumOffset: UdpField.checksum, transportHeaderLength: UDP_HEADER_LENGTH } as const;

  constructor(
    private readonly ctx: StackContext,
    private readonly output: Ipv4Output,
    private readonly isLocalAddress: (address: Ipv4Address) => boolean,
  ) {
    ctx.stats.declare('UdpInDatagrams', 'UdpNoPorts', 'UdpInErrors', 'UdpInCsumErrors', 'UdpOutDatagrams', 'UdpSndbufErrors');
  }

  createSocket(type: UdpSocketType = 'udp4'): UdpSocket {
    return new UdpSocket(this, type);
  }

  /** Connects the IPv6 layer (the Host does this when it builds both). */
  attachIpv6(output: Ipv6Output, isLocalAddress: (address: Ipv6Address) => boolean): void {
    this.ipv6 = { output, isLocalAddress };
  }

  bind6(socket: UdpSocket, port: number, address: Ipv6Address | undefined): void {
    if (socket.closed) throw new UdpError('bind: socket is closed', 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    if (socket.localPort !== 0) throw new UdpError('bind: socket is already bound', 'ERR_SOCKET_ALREADY_BOUND');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UdpError(`bind: invalid port ${port}`, 'ERR_SOCKET_BAD_PORT');
    if (address && !this.ipv6?.isLocalAddress(address)) {
      throw new UdpError(`bind ${formatIpv6(address)}: address not available`, 'EADDRNOTAVAIL');
    }
    const chosen = port === 0 ? this.ephemeralPort(this.ports6) : port;
    const list = this.ports6.get(chosen) ?? [];
    const clash = list.some((s) => !s.localAddress6 || !address || ipv6Equal(s.localAddress6, address));
    if (clash) throw new UdpError(`bind [${address ? formatIpv6(address) : '::'}]:${chosen}: address in use`, 'EADDRINUSE');
    socket.localAddress6 = address;
    socket.localPort = chosen;
    list.push(socket);
    this.ports6.set(chosen, list);
  }

  bind(socket: UdpSocket, port: number, address: Ipv4Address): void {
    if (socket.closed) throw new UdpError('bind: socket is closed', 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    if (socket.localPort !== 0) throw new UdpError('bind: socket is already bound', 'ERR_SOCKET_ALREADY_BOUND');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UdpError(`bind: invalid port ${port}`, 'ERR_SOCKET_BAD_PORT');
    if (address !== 0 && address !== IPV4_BROADCAST && !this.isLocalAddress(address)) {
      throw new UdpError(`bind ${formatIpv4(address)}: address not available`, 'EADDRNOTAVAIL');
    }
    const chosen = port === 0 ? this.ephemeralPort() : port;
    const list = this.ports.get(chosen) ?? [];
    // Like Linux with SO_BINDTODEVICE: sockets bound to different links may share a port (a DHCP server per interface).
    const sameLinkScope = (s: UdpSocket): boolean => !s.boundLink || !socket.boundLink || s.boundLink === socket.boundLink;
    if (list.some((s) => sameLinkScope(s) && (s.localAddress === 0 || address === 0 || s.localAddress === address))) {
      throw new UdpError(`bind ${formatIpv4(address)}:${chosen}: address in use`, 'EADDRINUSE');
    }
    socket.localAddress = address;
    socket.localPort = chosen;
    list.push(socket);
    this.ports.set(chosen, list);
  }

  unbind(socket: UdpSocket): void {
    const ports = socket.type === 'udp6' ? this.ports6 : this.ports;
    const list = ports.get(socket.localPort);
    if (!list) return;
    const rest = list.filter((s) => s !== socket);
    if (rest.length) ports.set(socket.localPort, rest);
    else ports.delete(socket.localPort);
  }

  /** RFC 6056 §3.3.1 (algorithm 1): a random port, probing upwards while taken. */
  private ephemeralPort(ports: Map<number, UdpSocket[]> = this.ports): number {
    const range = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1;
    const start = this.ctx.random.u32() % range;
    for (let i = 0; i < range; i++) {
      const port = EPHEMERAL_PORT_FIRST + ((start + i) % range);
      if (!ports.has(port)) return port;
    }
    throw new UdpError('no free ephemeral port', 'EADDRINUSE');
  }

  /** IP hands us a datagram (protocol 17). */
  receiveIpv4(d: ReceivedIpv4): Disposition {
    const { ctx, header } = this;
    const error = header.wrap(d.payload);
    if (error) {
      ctx.trace.dropped('UdpInErrors', describeParseError(error), () => `from ${formatIpv4(d.source)}`);
      return 'dropped';
    }
    // RFC 1122 §4.1.3.4: a host MUST verify a checksum that is present.
    if (!d.checksumValid && !header.verifyChecksumV4(d.source, d.destination)) {
      ctx.stats.inc('UdpInCsumErrors');
      ctx.trace.dropped('UdpInErrors', 'bad checksum', () => `${header.describe()} from ${formatIpv4(d.source)}`);
      return 'dropped';
    }
    const socket = this.lookup(header.destinationPort, d.destination, d.link);
    if (!socket) {
      ctx.trace.dropped('UdpNoPorts', 'no socket on port', () => `${formatIpv4(d.destination)}:${header.destinationPort}`);
      return 'portUnreachable';
    }
    ctx.stats.inc('UdpInDatagrams');
    if (ctx.trace.watching) ctx.trace.step(`RFC 768 / RFC 1122 §4.1.3.5: checksum good; demultiplexed to the socket on port ${header.destinationPort}: delivered`);
    const payload = header.payload;
    if (socket.onDatagram) {
      const source = this.source;
      source.family = 4;
      source.address4 = d.source;
      source.address6 = undefined;
      source.port = header.sourcePort;
      source.link = d.link;
      socket.onDatagram(payload, source);
      return 'delivered';
    }
    socket.emit('message', Buffer.from(payload), {
      address: formatIpv4(d.source),
      family: 'IPv4',
      port: header.sourcePort,
      size: payload.length,
      interface: d.link.name,
      localAddress: formatIpv4(d.destination),
    });
    return 'delivered';
  }

  /** The socket bound to exactly `address`, else the wildcard one; link-bound sockets only see their link. */
  private lookup(port: number, address: Ipv4Address, link: Ipv4Link): UdpSocket | undefined {
    const list = this.ports.get(port);
    if (!list) return undefined;
    let wildcard: UdpSocket | undefined;
    for (const s of list) {
      if (s.boundLink && s.boundLink !== link) continue;
      if (s.localAddress === address) return s;
      if (s.localAddress === 0) wildcard = s;
    }
    return wildcard;
  }

  send(socket: UdpSocket, payload: Uint8Array, port: number, address: string | Ipv4Address): UdpError | undefined {
    if (socket.closed) return new UdpError('send: socket is closed', 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    const destination = typeof address === 'number' ? address : parseIpv4(address);
    if (destination === undefined) return new UdpError(`send: invalid IPv4 address '${address}'`, 'EINVAL');
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return new UdpError(`send: invalid port ${port}`, 'ERR_SOCKET_BAD_PORT');
    if (payload.length > UDP_MAX_PAYLOAD_V4) return new UdpError(`send: ${payload.length} bytes is more than one datagram holds`, 'EMSGSIZE');
    if (destination === IPV4_BROADCAST && !socket.broadcast) return new UdpError('send: broadcast needs setBroadcast(true)', 'EACCES');
    if (socket.localPort === 0) this.bind(socket, 0, 0);

    const route = socket.boundLink ? { link: socket.boundLink, nextHop: destination } : this.output.route(destination);
    if (!route) {
      this.ctx.stats.inc('UdpSndbufErrors');
      return new UdpError(`send to ${typeof address === 'number' ? formatIpv4(address) : address}: network unreachable`, 'ENETUNREACH');
    }
    const source = socket.localAddress !== 0 && socket.localAddress !== IPV4_BROADCAST ? socket.localAddress : (this.output.sourceFor(route.link, route.nextHop) ?? 0);
    const length = UDP_HEADER_LENGTH + payload.length;
    const buf = this.scratch;
    emitUdp({ sourcePort: socket.localPort, destinationPort: port, payloadLength: payload.length }, buf, 0);
    buf.set(payload, UDP_HEADER_LENGTH);
    // RFC 768: the checksum covers the pseudo-header; a link with checksum offload sums the rest (the
    // partial field holds the folded pseudo-header sum, as TCP's does: l4/tcp/send.ts).
    const partial = socket.checksumOffload && (route.link.checksumOffload ?? false);
    if (partial) setUdpPartialChecksumV4(buf, 0, length, source, destination);
    else finishUdpChecksumV4(buf, 0, length, source, destination);
    const options = { source, destination, protocol: IpProtocol.UDP, via: socket.boundLink, offload: partial ? this.checksumOffload : undefined };
    const result = this.output.send(options, buf.subarray(0, length));
    if (result !== 'sent') {
      this.ctx.stats.inc('UdpSndbufErrors');
      return new UdpError(`send to ${typeof address === 'number' ? formatIpv4(address) : address}: ${result}`, result === 'noRoute' ? 'ENETUNREACH' : result === 'filtered' ? 'EPERM' : 'EMSGSIZE');
    }
    this.ctx.stats.inc('UdpOutDatagrams');
    return undefined;
  }

  /** IP hands us an IPv6 datagram (next header 17). */
  receiveIpv6(d: ReceivedIpv6): Disposition {
    const { ctx, header } = this;
    const error = header.wrap(d.payload);
    if (error) {
      ctx.trace.dropped('UdpInErrors', describeParseError(error), () => `from ${formatIpv6(d.source)}`);
      return 'dropped';
    }
    // RFC 8200 §8.1: the checksum is mandatory over IPv6; zero is invalid.
    if (!d.checksumValid && !header.verifyChecksumV6(d.source, d.destination)) {
      ctx.stats.inc('UdpInCsumErrors');
      ctx.trace.dropped('UdpInErrors', 'bad checksum', () => `${header.describe()} from ${formatIpv6(d.source)}`);
      return 'dropped';
    }
    const socket = this.lookup6(header.destinationPort, d.destination);
    if (!socket) {
      ctx.trace.dropped('UdpNoPorts', 'no socket on port', () => `[${formatIpv6(d.destination)}]:${header.destinationPort}`);
      return 'portUnreachable';
    }
    ctx.stats.inc('UdpInDatagrams');
    if (ctx.trace.watching) ctx.trace.step(`RFC 768 / RFC 8200 §8.1: checksum good; demultiplexed to the socket on port ${header.destinationPort}: delivered`);
    const payload = header.payload;
    if (socket.onDatagram) {
      const source = this.source;
      source.family = 6;
      source.address4 = 0;
      source.address6 = d.source;
      source.port = header.sourcePort;
      source.link = d.link;
      socket.onDatagram(payload, source);
      return 'delivered';
    }
    socket.emit('message', Buffer.from(payload), {
      address: formatIpv6(d.source),
      family: 'IPv6',
      port: header.sourcePort,
      size: payload.length,
      interface: d.link.name,
      localAddress: formatIpv6(d.destination),
    });
    return 'delivered';
  }

  private lookup6(port: number, address: Ipv6Address): UdpSocket | undefined {
    const list = this.ports6.get(port);
    if (!list) return undefined;
    let wildcard: UdpSocket | undefined;
    for (const s of list) {
      if (!s.localAddress6) wildcard = s;
      else if (ipv6Equal(s.localAddress6, address)) return s;
    }
    return wildcard;
  }

  send6(socket: UdpSocket, payload: Uint8Array, port: number, address: string | Ipv6Address): UdpError | undefined {
    if (socket.closed) return new UdpError('send: socket is closed', 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    if (!this.ipv6) return new UdpError('send: IPv6 is not enabled', 'EAFNOSUPPORT');
    const destination = typeof address === 'string' ? parseIpv6(address) : address;
    if (destination === undefined) return new UdpError(`send: invalid IPv6 address '${address}'`, 'EINVAL');
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return new UdpError(`send: invalid port ${port}`, 'ERR_SOCKET_BAD_PORT');
    if (payload.length > 0xffff - UDP_HEADER_LENGTH) return new UdpError(`send: ${payload.length} bytes is more than one datagram holds`, 'EMSGSIZE');
    if (socket.localPort === 0) this.bind6(socket, 0, undefined);
    const length = UDP_HEADER_LENGTH + payload.length;
    const buf = this.scratch;
    emitUdp({ sourcePort: socket.localPort, destinationPort: port, payloadLength: payload.length }, buf, 0);
    buf.set(payload, UDP_HEADER_LENGTH);
    // IPv6 output fills the checksum once it has chosen the source address (RFC 8200 §8.1).
    const result = this.ipv6.output.send(
      { source: socket.localAddress6, destination, nextHeader: IpProtocol.UDP, checksumOffset: UdpField.checksum },
      buf.subarray(0, length),
    );
    if (result !== 'sent') {
      this.ctx.stats.inc('UdpSndbufErrors');
      return new UdpError(`send to ${typeof address === 'string' ? address : formatIpv6(address)}: ${result}`, result === 'noRoute' || result === 'noSourceAddress' ? 'ENETUNREACH' : 'EMSGSIZE');
    }
    this.ctx.stats.inc('UdpOutDatagrams');
    return undefined;
  }
}
