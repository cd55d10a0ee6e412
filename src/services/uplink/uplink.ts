/**
 * An uplink: a router's way out to the host's real network through the
 * host's own sockets, as slirp4netns and passt do for rootless containers.
 *
 * Read first: the slirp4netns and passt documentation (the model), RFC 3022
 * §2 (this is a NAPT whose "external side" is the host's socket layer),
 * RFC 4787 REQ-5 / RFC 5382 REQ-5 (how long idle flows are kept).
 *
 * The uplink is a link like any other (`uplink.link`): routes point at it,
 * and the router forwards packets to it after TTL, firewall and hooks. It
 * never puts a frame on a wire; it terminates what arrives:
 *
 *  - TCP: a SYN to D:p makes the host connect to D:p (`net.connect`). Only
 *    when that succeeds does the SYN go on to a TCP endpoint inside tapnet
 *    that answers *as* D:p (src/l4/tcp), and the two byte streams are piped
 *    together. A refused connection is answered with a RST, an unreachable
 *    one with ICMP host unreachable, so the inside client sees what it would
 *    have seen on a real network.
 *  - UDP: each inside endpoint gets one host datagram socket (one external
 *    port for every destination: endpoint-independent mapping, RFC 4787
 *    REQ-1); datagrams coming back to that socket go in as UDP from their
 *    real sender. Idle flows close after the RFC 4787 timeout.
 *  - ICMP echo: each Echo Request goes out of a raw ICMP socket on the host
 *    (the `raw-socket` addon) to the real destination, with an identifier
 *    and sequence the uplink chose, and the matching reply comes back inside
 *    with the client's own (host-echo.ts). Echo to the host alias goes to
 *    127.0.0.1. Without a raw socket (not root) the alias is answered by the
 *    uplink itself and echo to the outside is dropped (`uplinkIcmpUnsupported`).
 *
 * `hostAlias` (slirp's 10.0.2.2) is an address inside the lab that means
 * "the host": connections and datagrams to it go to 127.0.0.1, and answers
 * from 127.0.0.1 come back from it. It must be routed through the router
 * (not on a LAN's own subnet, where nobody would answer ARP for it).
 *
 * Host sockets are I/O: this is the only part of the router that touches
 * the host's network, and it is tested only against servers on loopback or
 * in test namespaces.
 */
import { createSocket as createUdpSocket, type Socket as HostUdpSocket } from 'node:dgram';
import { connect as hostConnect, type Socket as HostTcpSocket } from 'node:net';
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import { pseudoHeaderSumV4 } from '../../core/checksum.js';
import { completePartialChecksum, type TransportOffload } from '../../core/offload.js';
import { formatIpv4, parseIpv4, type Ipv4Address } from '../../l3/ipv4/address.js';
import { Ipv4HeaderView } from '../../l3/ipv4/header.js';
import type { Ipv4Link } from '../../l3/ipv4/link.js';
import type { Ipv4Output } from '../../l3/ipv4/output.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { Icmpv4Type, Icmpv4UnreachableCode, emitIcmpv4Echo } from '../../l3/icmpv4/message.js';
import type { IcmpErrorKind } from '../../l3/icmpv4/icmpv4.js';
import { UDP_HEADER_LENGTH, UdpHeaderView, emitUdp, finishUdpChecksumV4 } from '../../l4/udp/header.js';
import { getU16 } from '../../core/bytes.js';
import { Field as TcpField, TcpFlags, TCP_HEADER_MIN_LENGTH } from '../../l4/tcp/header.js';
import { Tcp } from '../../l4/tcp/api.js';
import type { Socket as TapnetSocket } from '../../l4/tcp/socket.js';
import type { TcpNetwork } from '../../l4/tcp/network.js';
import { tcpResetFor } from '../../netfilter/firewall/reject.js';
import { UDP_REPLIED_TIMEOUT_MS } from '../../netfilter/conntrack/conntrack.js';
import type { HookTable } from '../../l3/routing/hooks.js';
import { HostEcho, type RawIcmpSocket } from './host-echo.js';

/** slirp4netns keeps no hard cap; this bounds the host sockets one lab can open (each is a file descriptor). */
export const UPLINK_UDP_FLOWS_MAX = 1024;
/** Same bound for proxied TCP connections (and connects in progress). */
export const UPLINK_TCP_CONNECTIONS_MAX = 1024;
/** RFC 4787 REQ-5: five minutes or more for an idle UDP mapping. */
export const UPLINK_UDP_TIMEOUT_MS = UDP_REPLIED_TIMEOUT_MS;
/** Give up a host connect after this long (Linux's own SYN retries take ~2 min; an inside client retries anyway). */
export const UPLINK_CONNECT_TIMEOUT_MS = 20_000;
/** The link MTU: packets reach the uplink whole, never fragmented for it. */
export const UPLINK_MTU = 65_535;

export interface UplinkOptions {
  /** An address that means "the host" (127.0.0.1), like slirp's 10.0.2.2. */
  readonly hostAlias?: Ipv4Address;
  readonly maxUdpFlows?: number;
  readonly maxTcpConnections?: number;
  readonly udpTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Outstanding ICMP echoes through the host (HOST_ECHO_OUTSTANDING_MAX) and how long each waits (HOST_ECHO_TIMEOUT_MS). */
  readonly maxIcmpEchoes?: number;
  readonly icmpEchoTimeoutMs?: number;
  /** The raw ICMP socket (default: the raw-socket addon); tests pass a fake. */
  readonly openRawIcmpSocket?: () => RawIcmpSocket;
}

/** What the uplink needs from its router. */
export interface UplinkRouter {
  readonly ctx: StackContext;
  readonly ipv4Out: Ipv4Output;
  readonly icmp: { sendError(original: Uint8Array, kind: IcmpErrorKind, toBroadcastOrMulticast: boolean): void };
}

/** A router an uplink can be attached to (src/node/router.ts). */
export interface UplinkCapableRouter extends UplinkRouter {
  readonly routes: { add(route: { destination: { address: number; prefixLength: number }; value: Ipv4Link }): unknown };
  readonly hooks: HookTable;
  readonly ipv4In: { isLocalAddress(address: Ipv4Address): boolean };
  uplink: { show(): string } | undefined;
}

/** RFC 2131 §4.1: DHCP servers listen on UDP 67; never stolen for the host. */
const DHCP_SERVER_PORT = 67;

/** Runs before conntrack (-200) and DNAT: the host alias is not the router's business. */
export const UPLINK_ALIAS_HOOK_PRIORITY = -300;

interface UdpFlow {
  readonly client: Ipv4Address;
  readonly clientPort: number;
  readonly socket: HostUdpSocket;
  readonly timer: Timer;
  /** Host port, once bound. */
  hostPort: number;
}

interface PendingConnect {
  readonly host: HostTcpSocket;
  /** The SYN datagram (a copy), fed to the TCP endpoint once the host connected. */
  readonly syn: Uint8Array;
  connected: boolean;
}

const COUNTERS = [
  'uplinkTcpConnects',
  'uplinkTcpConnectFailed',
  'uplinkTcpFull',
  'uplinkTcpSynWhilePending',
  'uplinkTcpActive',
  'uplinkUdpFlows',
  'uplinkUdpFlowsFull',
  'uplinkUdpOutDatagrams',
  'uplinkUdpInDatagrams',
  'uplinkUdpSendErrors',
  'uplinkIcmpEchoAnswered',
  'uplinkOtherProtocol',
  'uplinkInErrors',
] as const;

/** The link a router routes to: sendIpv4 hands the packet to the uplink instead of a wire. */
class UplinkLink implements Ipv4Link {
  readonly mtu = UPLINK_MTU;
  readonly ipv4Addresses = [];
  constructor(
    readonly name: string,
    private readonly uplink: Uplink,
  ) {}
  sendIpv4(packet: Uint8Array, _nextHop: number, offload?: TransportOffload): void {
    this.uplink.receive(packet, offload);
  }
}

export class Uplink {
  readonly link: Ipv4Link;
  private readonly ctx: StackContext;
  private readonly view = new Ipv4HeaderView();
  private readonly udpView = new UdpHeaderView();
  private readonly udpFlows = new Map<string, UdpFlow>();
  private readonly pending = new Map<string, PendingConnect>();
  /** Host sockets of established proxied connections, by the same key, to pair with the endpoint's accept. */
  private readonly connected = new Map<string, HostTcpSocket>();
  private readonly listening = new Set<number>();
  /** Inside-facing sockets of proxied connections (destroyed on close). */
  private readonly sockets = new Set<TapnetSocket>();
  private activeTcp = 0;
  private readonly tcp: Tcp;
  private readonly net: TcpNetwork;
  private readonly options: Required<Omit<UplinkOptions, 'hostAlias' | 'maxIcmpEchoes' | 'icmpEchoTimeoutMs' | 'openRawIcmpSocket'>> & { hostAlias: Ipv4Address | undefined };
  private readonly echo: HostEcho;
  private closed = false;

  /**
   * Gives `router` an uplink: a default route through it (unless the router
   * has one) and, when the host alias is one of the router's own addresses
   * (VirtualBox's NAT makes its gateway 10.0.2.2 the host), a prerouting hook
   * that hands TCP, UDP and ICMP for the alias to the uplink.
   */
  static attach(router: UplinkCapableRouter, options: UplinkOptions, addDefaultRoute: boolean): Uplink {
    const uplink = new Uplink(router, options);
    router.uplink = uplink;
    if (addDefaultRoute) router.routes.add({ destination: { address: 0, prefixLength: 0 }, value: uplink.link });
    const alias = options.hostAlias;
    if (alias !== undefined && router.ipv4In.isLocalAddress(alias)) {
      const view = new Ipv4HeaderView();
      router.hooks.add(
        'prerouting',
        (p) => {
          if (view.wrap(p.bytes, false) || view.destination !== alias) return 'accept';
          const protocol = view.protocol;
          if (protocol !== IpProtocol.TCP && protocol !== IpProtocol.UDP && protocol !== IpProtocol.ICMP) return 'accept';
          // A DHCP server on the router keeps its renewals (unicast to the server port, RFC 2131 §4.1).
          if (protocol === IpProtocol.UDP && view.payload.length >= 4 && ((view.payload[2]! << 8) | view.payload[3]!) === DHCP_SERVER_PORT) return 'accept';
          uplink.receive(p.bytes, p.offload);
          return 'stolen';
        },
        { priority: UPLINK_ALIAS_HOOK_PRIORITY, name: 'uplink-alias' },
      );
    }
    return uplink;
  }

  constructor(
    private readonly router: UplinkRouter,
    options: UplinkOptions = {},
    name = 'uplink',
  ) {
    this.ctx = router.ctx;
    this.options = {
      hostAlias: options.hostAlias,
      maxUdpFlows: options.maxUdpFlows ?? UPLINK_UDP_FLOWS_MAX,
      maxTcpConnections: options.maxTcpConnections ?? UPLINK_TCP_CONNECTIONS_MAX,
      udpTimeoutMs: options.udpTimeoutMs ?? UPLINK_UDP_TIMEOUT_MS,
      connectTimeoutMs: options.connectTimeoutMs ?? UPLINK_CONNECT_TIMEOUT_MS,
    };
    this.link = new UplinkLink(name, this);
    this.ctx.stats.declare(...COUNTERS);
    this.echo = new HostEcho(
      this.ctx,
      (reply) => void this.router.ipv4Out.send({ source: reply.source, destination: reply.destination, protocol: IpProtocol.ICMP }, reply.icmp),
      { maxOutstanding: options.maxIcmpEchoes, timeoutMs: options.icmpEchoTimeoutMs, openSocket: options.openRawIcmpSocket },
    );
    this.net = this.endpointNetwork();
    // A TCP endpoint of its own that answers for every outside address (its segments go back in via ipv4Out).
    this.tcp = new Tcp(this.ctx);
    this.tcp.addNetwork(this.net);
  }

  /** The TcpNetwork of the impersonating endpoint: any address is "ours", segments go to the inside client. */
  private endpointNetwork(): TcpNetwork {
    const out = this.router.ipv4Out;
    const v4 = (a: number | Uint8Array): Ipv4Address => a as number;
    return {
      family: 'ipv4',
      headerOverhead: 20,
      key: (a) => v4(a),
      equal: (a, b) => a === b,
      format: (a) => formatIpv4(v4(a)),
      bytes: (a) => Uint8Array.of(v4(a) >>> 24, (v4(a) >>> 16) & 0xff, (v4(a) >>> 8) & 0xff, v4(a) & 0xff),
      pseudoHeaderSum: (s, d, length) => pseudoHeaderSumV4(v4(s), v4(d), IpProtocol.TCP, length),
      sourceFor: () => undefined,
      isLocal: () => true,
      mtuTowards: (d) => out.route(v4(d))?.link.mtu,
      tsoMaxTowards: () => 0,
      checksumOffloadTowards: () => false,
      send: (source, destination, segment) =>
        out.send({ source: v4(source), destination: v4(destination), protocol: IpProtocol.TCP, dontFragment: true }, segment) === 'sent',
    };
  }

  /** Where a lab address goes on the host: the alias is the host's loopback. */
  private hostAddressOf(address: Ipv4Address): string {
    return address === this.options.hostAlias ? '127.0.0.1' : formatIpv4(address);
  }

  /**
   * A packet the router forwarded to the uplink. `offload`: it came from a
   * virtio-net port with a partial checksum (perhaps as a TSO super-packet,
   * which the endpoint's TCP takes as one segment): the checksum is finished
   * here, since the endpoint checks what it receives.
   */
  receive(packet: Uint8Array, offload?: TransportOffload): void {
    if (this.closed) return;
    if (offload !== undefined && offload.checksumStart > 0) completePartialChecksum(packet, offload);
    const v = this.view;
    if (v.wrap(packet, false) || v.isFragment) {
      // The router reassembles only for conntrack; a fragment here has no ports to proxy by.
      this.ctx.trace.dropped('uplinkInErrors', v.isFragment ? 'fragment' : 'unparsable packet', () => `${packet.length} bytes`);
      return;
    }
    switch (v.protocol) {
      case IpProtocol.TCP:
        return this.receiveTcp(packet, v);
      case IpProtocol.UDP:
        return this.receiveUdp(v);
      case IpProtocol.ICMP:
        return this.receiveIcmp(v);
      default:
        this.ctx.trace.dropped('uplinkOtherProtocol', 'only TCP, UDP and ICMP echo leave through the uplink', () => v.describe());
    }
  }

  // --- TCP ------------------------------------------------------------------

  private receiveTcp(packet: Uint8Array, v: Ipv4HeaderView): void {
    const segment = v.payload;
    if (segment.length < TCP_HEADER_MIN_LENGTH) {
      this.ctx.trace.dropped('uplinkInErrors', 'TCP header truncated', () => v.describe());
      return;
    }
    const source = v.source;
    const destination = v.destination;
    const sourcePort = getU16(segment, TcpField.SOURCE_PORT);
    const destinationPort = getU16(segment, TcpField.DESTINATION_PORT);
    const flags = segment[TcpField.FLAGS]!;
    const key = `${source}:${sourcePort}>${destination}:${destinationPort}`;
    const known = this.tcp.layer.lookup(this.net, destination, destinationPort, source, sourcePort) !== undefined;
    const opening = (flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) === TcpFlags.SYN;
    if (known || !opening) {
      // Established connections, and strays the endpoint answers with a RST as a closed port would.
      this.tcp.layer.receive(this.net, source, destination, segment);
      return;
    }
    if (this.pending.has(key)) {
      // The client retransmitted its SYN while the host connect is still under way.
      this.ctx.trace.dropped('uplinkTcpSynWhilePending', 'host connect in progress', () => key);
      return;
    }
    if (this.activeTcp + this.pending.size >= this.options.maxTcpConnections) {
      this.ctx.trace.dropped('uplinkTcpFull', `${this.options.maxTcpConnections} proxied connections`, () => key);
      this.router.icmp.sendError(packet, { type: 'destinationUnreachable', code: Icmpv4UnreachableCode.adminProhibited }, false);
      return;
    }
    const host = hostConnect({ host: this.hostAddressOf(destination), port: destinationPort, allowHalfOpen: true });
    const entry: PendingConnect = { host, syn: packet.slice(), connected: false };
    this.pending.set(key, entry);
    host.setTimeout(this.options.connectTimeoutMs, () => host.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
    host.once('connect', () => {
      host.setTimeout(0);
      entry.connected = true;
      this.pending.delete(key);
      if (this.closed) return void host.destroy();
      this.ctx.stats.inc('uplinkTcpConnects');
      this.connected.set(key, host);
      this.ensureListening(destinationPort);
      // Now the endpoint may answer the SYN (with SYN+ACK, as D:p).
      const v2 = new Ipv4HeaderView();
      v2.wrap(entry.syn, false);
      this.tcp.layer.receive(this.net, v2.source, v2.destination, v2.payload);
    });
    host.once('error', (e: NodeJS.ErrnoException) => {
      if (entry.connected) return;
      this.pending.delete(key);
      this.ctx.trace.dropped('uplinkTcpConnectFailed', `host connect to ${this.hostAddressOf(destination)}:${destinationPort}: ${e.code ?? e.message}`, () => key);
      this.refuse(entry.syn, e.code);
    });
  }

  /** A failed host connect, told to the client as the network would: RST when refused, ICMP otherwise. */
  private refuse(syn: Uint8Array, code: string | undefined): void {
    const v = new Ipv4HeaderView();
    if (v.wrap(syn, false)) return;
    if (code === 'ECONNREFUSED') {
      const rst = tcpResetFor(v);
      if (rst) this.router.ipv4Out.send({ source: rst.source, destination: rst.destination, protocol: IpProtocol.TCP }, rst.segment);
      return;
    }
    const unreachable = code === 'ENETUNREACH' ? Icmpv4UnreachableCode.net : Icmpv4UnreachableCode.host;
    this.router.icmp.sendError(syn, { type: 'destinationUnreachable', code: unreachable }, false);
  }

  /** One wildcard listener per destination port: it accepts for every outside address. */
  private ensureListening(port: number): void {
    if (this.listening.has(port)) return;
    this.listening.add(port);
    this.tcp.createServer({ allowHalfOpen: true }, (socket) => this.accepted(socket)).listen(port);
  }

  /** The endpoint accepted the client's connection: pipe it to the host socket made for it. */
  private accepted(socket: TapnetSocket): void {
    const client = parseIpv4(socket.remoteAddress ?? '');
    const target = parseIpv4(socket.localAddress ?? '');
    const key = `${client}:${socket.remotePort}>${target}:${socket.localPort}`;
    const host = this.connected.get(key);
    this.connected.delete(key);
    if (!host) {
      socket.resetAndDestroy();
      return;
    }
    this.activeTcp++;
    this.sockets.add(socket);
    this.ctx.stats.set('uplinkTcpActive', this.activeTcp);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.sockets.delete(socket);
      this.activeTcp--;
      this.ctx.stats.set('uplinkTcpActive', this.activeTcp);
    };
    socket.pipe(host);
    host.pipe(socket);
    // A reset on either side resets the other; a clean close is carried by pipe's end().
    host.on('error', () => socket.resetAndDestroy());
    socket.on('error', () => host.resetAndDestroy());
    host.on('close', () => {
      if (!socket.destroyed && socket.writableFinished) socket.destroy();
      finish();
    });
    socket.on('close', () => {
      if (!host.destroyed) host.end();
      finish();
    });
  }

  // --- UDP ------------------------------------------------------------------

  private receiveUdp(v: Ipv4HeaderView): void {
    const udp = this.udpView;
    const error = udp.wrap(v.payload);
    if (error) {
      this.ctx.trace.dropped('uplinkInErrors', `UDP ${error.reason}`, () => v.describe());
      return;
    }
    const client = v.source;
    const clientPort = udp.sourcePort;
    const key = `${client}:${clientPort}`;
    let flow = this.udpFlows.get(key);
    if (!flow) {
      if (this.udpFlows.size >= this.options.maxUdpFlows) {
        this.ctx.trace.dropped('uplinkUdpFlowsFull', `${this.options.maxUdpFlows} UDP flows`, () => key);
        return;
      }
      flow = this.openUdpFlow(client, clientPort, key);
    }
    flow.timer.armIn(this.options.udpTimeoutMs);
    // Copied: the packet buffer is reused as soon as we return.
    const payload = Buffer.from(udp.payload);
    flow.socket.send(payload, udp.destinationPort, this.hostAddressOf(v.destination), (e) => {
      if (e) this.ctx.trace.dropped('uplinkUdpSendErrors', e.message, () => key);
      else this.ctx.stats.inc('uplinkUdpOutDatagrams');
    });
  }

  private openUdpFlow(client: Ipv4Address, clientPort: number, key: string): UdpFlow {
    const socket = createUdpSocket('udp4');
    const timer = this.ctx.timers.timer(() => this.closeUdpFlow(key));
    const flow: UdpFlow = { client, clientPort, socket, timer, hostPort: 0 };
    socket.on('message', (msg, rinfo) => this.udpFromHost(flow, msg, rinfo.address, rinfo.port));
    socket.on('error', (e) => {
      this.ctx.trace.dropped('uplinkUdpSendErrors', e.message, () => key);
      this.closeUdpFlow(key);
    });
    socket.bind(0, () => (flow.hostPort = socket.address().port));
    this.udpFlows.set(key, flow);
    this.ctx.stats.set('uplinkUdpFlows', this.udpFlows.size);
    return flow;
  }

  /** A datagram for an inside client: it goes in as UDP from its real sender (the alias for loopback). */
  private udpFromHost(flow: UdpFlow, msg: Buffer, address: string, port: number): void {
    if (this.closed) return;
    const from = address === '127.0.0.1' && this.options.hostAlias !== undefined ? this.options.hostAlias : parseIpv4(address);
    if (from === undefined) return;
    const length = UDP_HEADER_LENGTH + msg.length;
    if (length > 65_535 - 20) return;
    const datagram = new Uint8Array(length);
    emitUdp({ sourcePort: port, destinationPort: flow.clientPort, payloadLength: msg.length }, datagram, 0);
    datagram.set(msg, UDP_HEADER_LENGTH);
    finishUdpChecksumV4(datagram, 0, length, from, flow.client);
    flow.timer.armIn(this.options.udpTimeoutMs);
    if (this.router.ipv4Out.send({ source: from, destination: flow.client, protocol: IpProtocol.UDP }, datagram) === 'sent') {
      this.ctx.stats.inc('uplinkUdpInDatagrams');
    }
  }

  private closeUdpFlow(key: string): void {
    const flow = this.udpFlows.get(key);
    if (!flow) return;
    this.udpFlows.delete(key);
    flow.timer.cancel();
    flow.socket.close();
    this.ctx.stats.set('uplinkUdpFlows', this.udpFlows.size);
  }

  // --- ICMP -----------------------------------------------------------------

  private receiveIcmp(v: Ipv4HeaderView): void {
    const icmp = v.payload;
    if (icmp.length < 8 || icmp[0] !== Icmpv4Type.EchoRequest) {
      // Errors and other queries have no host socket to go to (a NAT would translate errors about its own flows).
      this.ctx.trace.dropped('uplinkOtherProtocol', 'only ICMP echo requests leave through the uplink', () => v.describe());
      return;
    }
    const identifier = (icmp[4]! << 8) | icmp[5]!;
    const sequence = (icmp[6]! << 8) | icmp[7]!;
    const toAlias = v.destination === this.options.hostAlias;
    if (toAlias && !this.echo.available) {
      // No raw socket (not root): the host is right here, answer for it (RFC 792: same identifier, sequence and data).
      const reply = new Uint8Array(icmp.length);
      emitIcmpv4Echo({ type: Icmpv4Type.EchoReply, identifier, sequence, data: icmp.subarray(8) }, reply, 0);
      this.router.ipv4Out.send({ source: v.destination, destination: v.source, protocol: IpProtocol.ICMP }, reply);
      this.ctx.stats.inc('uplinkIcmpEchoAnswered');
      return;
    }
    this.echo.send(v.source, v.destination, this.hostAddressOf(v.destination), identifier, sequence, icmp.subarray(8));
  }

  // --- State ----------------------------------------------------------------

  /** For `tapnet show uplink`. */
  show(): string {
    let out = `uplink ${this.link.name}${this.options.hostAlias !== undefined ? `, host alias ${formatIpv4(this.options.hostAlias)} = 127.0.0.1` : ''}\n`;
    out += `tcp: ${this.activeTcp} proxied, ${this.pending.size} connecting\n`;
    out += `udp: ${this.udpFlows.size} flows\n`;
    out += this.echo.show();
    for (const f of this.udpFlows.values()) out += `  udp ${formatIpv4(f.client)}:${f.clientPort} -> host port ${f.hostPort}\n`;
    return out;
  }

  /** Closes every host socket (lab shutdown). */
  close(): void {
    this.closed = true;
    this.echo.close();
    for (const key of [...this.udpFlows.keys()]) this.closeUdpFlow(key);
    for (const p of this.pending.values()) p.host.destroy();
    this.pending.clear();
    for (const h of this.connected.values()) h.destroy();
    this.connected.clear();
    for (const s of this.sockets) s.destroy();
  }
}
