/**
 * A WireGuard interface on a tapnet node (`wg0`): a point-to-point IP
 * interface (src/l3/point-to-point.ts) whose packets travel sealed inside
 * UDP datagrams of the node's own UDP (src/l4/udp), to and from its peers.
 *
 * Read first: the WireGuard whitepaper ("WireGuard: Next Generation Kernel
 * Network Tunnel", J. A. Donenfeld) §2 (cryptokey routing), §5 (the
 * handshake and messages), §6 (timers); wireguard-go's device/ package is
 * the reference this file interoperates with.
 *
 * Going out (IP routed a packet to wg0):
 *   transmit → cryptokey routing: the peer whose allowed IPs hold the
 *   destination (longest prefix) → its current session, else stage the
 *   packet and start a handshake → pad to 16, seal (./transport.ts) → UDP
 *   to the peer's endpoint.
 * Coming in (a UDP datagram on the listen port):
 *   type byte → handshake messages: mac1, under load mac2/cookie, Noise
 *   (./noise.ts) → transport data: receiver index → session, open, anti-
 *   replay window, the inner source must be in the sending peer's allowed
 *   IPs → (TCP segments of one batch coalesced into super-packets, ./gro.ts)
 *   → the node's inbound path, as if the packet had arrived on wg0.
 *
 * Every authenticated datagram updates the peer's endpoint (roaming, §2.1).
 * Both directions go through a small queue drained in a microtask, so a
 * packet never re-enters IP or UDP while they are still handling another.
 *
 * The data path allocates little per packet (bench/RESULTS.md, WireGuard):
 * UDP hands each datagram over as a view with a numeric source
 * (UdpSocket.onDatagram), a transport message is opened straight from that
 * view, the peer's endpoint is compared as numbers and only rebuilt (a new
 * string) when it changes, datagrams leave by number (UdpSocket.sendTo) with
 * their UDP checksum left to a link that can finish it.
 */
import type { StackContext } from '../../core/context.js';
import { ipv6Equal } from '../../l3/ipv6/address.js';
import type { PointToPointOptions } from '../../l3/point-to-point.js';
import { AllowedIps, ipPacketFacts } from './allowed-ips.js';
import { IndexTable } from './index-table.js';
import type { UdpLayer, UdpRemoteInfo, UdpSocket, UdpSource } from '../../l4/udp/udp.js';
import { formatIpv4, parseIpv4 } from '../../l3/ipv4/address.js';
import { formatIpv6, parseIpv6, type Ipv6Address } from '../../l3/ipv6/address.js';
import type { PointToPointInterface } from '../../node/host.js';
import { CookieChecker } from './cookie.js';
import { COOKIE_REPLY_LENGTH, emitCookieReply, parseCookieReply } from './cookie-reply.js';
import { TAG_LENGTH, aeadOpen, aeadSealInto, counterNonce, generateStaticKey, random, staticKey, type StaticKey } from './crypto.js';
import { INITIATION_LENGTH, InitiationField, emitInitiation, parseInitiation } from './initiation.js';
import { formatKey } from './keys.js';
import { MessageType, getU32le, parseMessageType } from './message-type.js';
import { NO_PRESHARED_KEY, consumeInitiation, consumeResponse, createInitiation, createResponse, deriveTransportKeys } from './noise.js';
import { DEFAULT_TIMINGS, Peer, STAGED_PACKETS_MAX, formatEndpoint, type Endpoint, type Keypair, type PeerConfig, type WireGuardTimings } from './peer.js';
import { LoadDetector, RateLimiter } from './rate-limit.js';
import { ReplayFilter } from './replay.js';
import { TcpCoalescer } from './gro.js';
import { RESPONSE_LENGTH, emitResponse, parseResponse } from './response.js';
import { showWireGuard } from './show.js';
import { tai64n, tai64nAfter } from './tai64n.js';
import { KEEPALIVE_LENGTH, TRANSPORT_HEADER_LENGTH, emitTransportHeader, parseTransport } from './transport.js';
import './counters.js';

/** wg-quick's default MTU: 1500 - 80 (outer IPv6 40 + UDP 8 + WireGuard header 16 + tag 16). */
export const WIREGUARD_DEFAULT_MTU = 1420;
/** wireguard-go PaddingMultiple: plaintexts are padded to hide exact lengths. */
export const PADDING_MULTIPLE = 16;
/** wireguard-go HandshakeInitationRate: one initiation per peer per 20 ms at most is consumed. */
export const HANDSHAKE_INITIATION_RATE_MS = 20;
/** wireguard-go QueueOutboundSize / QueueInboundSize. */
export const QUEUE_PACKETS_MAX = 1024;
/** Bytes of packets `transmit` holds without allocating, until they are sealed (about 180 full-size packets). */
export const OUT_ARENA_BYTES = 256 * 1024;
/** wireguard-go MaxPeers. */
export const PEERS_MAX = 1 << 16;

export interface WireGuardConfig {
  readonly name: string;
  readonly privateKey: Uint8Array;
  /** 0 or absent: a random port (like `wg` without ListenPort). */
  readonly listenPort?: number;
  readonly ipv4: readonly { address: number; prefixLength: number }[];
  readonly ipv6: readonly { address: Uint8Array; prefixLength: number }[];
  readonly mtu?: number;
  readonly peers: readonly PeerConfig[];
}

export interface WireGuardOptions {
  /** Shorter timers for tests (the lab's TAPNET_WG_REKEY_AFTER_TIME_MS sets rekeyAfterTimeMs). */
  readonly timings?: Partial<WireGuardTimings>;
  /** Wall clock in ms since 1970, for TAI64N and `latest handshake` (default Date.now). */
  readonly wallClock?: () => number;
  /** Handshake messages a second above which cookies are demanded (default UNDER_LOAD_HANDSHAKES_PER_SECOND, rate-limit.ts). */
  readonly underLoadHandshakesPerSecond?: number;
  /** Add a route through wg0 for every peer's allowed IPs, as wg-quick does (default true; /0 never). */
  readonly addRoutes?: boolean;
  /** Coalesce the TCP segments that come out of the tunnel into super-packets (./gro.ts; default true, as Linux's GRO). */
  readonly gro?: boolean;
}

/** What the interface needs from its node (src/node/host.ts, router.ts). */
export interface WireGuardNode {
  readonly ctx: StackContext;
  readonly udp: UdpLayer;
  addPointToPoint(options: PointToPointOptions): PointToPointInterface;
  readonly routes: { add(route: { destination: { address: number; prefixLength: number }; value: PointToPointInterface['link'] }): unknown };
  readonly ipv6: { readonly routes: { add(route: { destination: { address: Uint8Array; prefixLength: number }; value: PointToPointInterface['link'] }): unknown } };
}


export class WireGuardInterface {
  readonly name: string;
  readonly local: StaticKey;
  readonly peers: Peer[] = [];
  readonly tunnel: PointToPointInterface;
  private readonly peersByKey = new Map<string, Peer>();
  private readonly allowedIps = new AllowedIps<Peer>();
  private readonly indices: IndexTable<Peer, Keypair>;
  private readonly cookieChecker: CookieChecker;
  private readonly rateLimiter: RateLimiter;
  private readonly timings: WireGuardTimings;
  private readonly wallClock: () => number;
  private readonly socket4: UdpSocket;
  private readonly socket6: UdpSocket | undefined;
  private readonly inQueue: Uint8Array<ArrayBufferLike>[] = [];
  private readonly outQueue: Uint8Array[] = [];
  private inScheduled = false;
  private outScheduled = false;
  private readonly load: LoadDetector;
  private readonly nonce = new Uint8Array(12);
  private readonly coalescer = new TcpCoalescer();
  private readonly coalesce: boolean;
  /** Endpoint addresses parsed for UDP (see endpointIp). */
  private readonly endpointIps = new WeakMap<Endpoint, number | Ipv6Address>();
  private padded = new Uint8Array(2048);
  /** Where `transmit` copies packets until the next drain (OUT_ARENA_BYTES; a packet that does not fit gets its own copy). */
  private readonly arena = new Uint8Array(OUT_ARENA_BYTES);
  private arenaUsed = 0;
  private sealed = new Uint8Array(2048);
  private closed = false;

  constructor(
    private readonly node: WireGuardNode,
    config: WireGuardConfig,
    options: WireGuardOptions = {},
  ) {
    const ctx = node.ctx;
    this.name = config.name;
    this.local = staticKey(config.privateKey);
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.coalesce = options.gro ?? true;
    this.wallClock = options.wallClock ?? Date.now;
    this.load = new LoadDetector(ctx, options.underLoadHandshakesPerSecond);
    this.indices = new IndexTable(ctx);
    this.cookieChecker = new CookieChecker(this.local.publicKey, random);
    this.rateLimiter = new RateLimiter(ctx);
    ctx.stats.declare('wgInDatagrams', 'wgInPackets', 'wgOutPackets', 'wgHandshakesCompleted', 'wgInBadMac1', 'wgInDecryptErrors', 'wgInReplayed', 'wgInSourceNotAllowed', 'wgOutNoPeer');
    this.tunnel = node.addPointToPoint({
      name: config.name,
      mtu: config.mtu ?? WIREGUARD_DEFAULT_MTU,
      ipv4: config.ipv4,
      ipv6: config.ipv6,
      transmit: (packet) => this.transmit(packet),
    });
    if (config.peers.length > PEERS_MAX) throw new Error(`${config.name}: ${config.peers.length} peers, at most ${PEERS_MAX}`);
    for (const p of config.peers) this.addPeer(p, options.addRoutes ?? true);
    const receive = (payload: Uint8Array, source: UdpSource): void => this.receiveFrom(payload, source);
    this.socket4 = node.udp.createSocket('udp4');
    this.socket4.onDatagram = receive;
    this.socket4.checksumOffload = true;
    this.socket4.bind(config.listenPort ?? 0);
    try {
      this.socket6 = node.udp.createSocket('udp6');
      this.socket6.onDatagram = receive;
      this.socket6.checksumOffload = true;
      this.socket6.bind(this.socket4.localPort);
    } catch {
      this.socket6 = undefined; // no IPv6 on the node, or the port is taken there: IPv4 endpoints only
    }
  }

  get listenPort(): number {
    return this.socket4.localPort;
  }

  get publicKey(): Uint8Array {
    return this.local.publicKey;
  }

  /** Starts peers with a persistent keepalive and an endpoint: their first keepalive makes the handshake (as `wg set` does). */
  start(): void {
    for (const p of this.peers) if (p.persistentKeepalive > 0 && p.endpoint) this.sendKeepalive(p);
  }

  close(): void {
    this.closed = true;
    for (const p of this.peers) p.stop();
    this.socket4.close();
    this.socket6?.close();
  }

  private addPeer(config: PeerConfig, addRoutes: boolean): void {
    const key = formatKey(config.publicKey);
    if (this.peersByKey.has(key)) throw new Error(`${this.name}: peer ${key} is configured twice`);
    const peer = new Peer(this.node.ctx, this.local, config, this.timings, {
      sendInitiation: (p, retry) => this.sendInitiation(p, retry),
      sendKeepalive: (p) => this.sendKeepalive(p),
      zeroKeys: (p) => this.zeroKeys(p),
      handshakeGaveUp: () => this.node.ctx.stats.inc('wgHandshakeTimeouts'),
    });
    this.peers.push(peer);
    this.peersByKey.set(key, peer);
    const link = this.tunnel.link;
    // An allowed IP belongs to one peer: a later peer with the same prefix takes it (wg set ... allowed-ips).
    for (const a of config.allowedIps4) {
      for (const other of this.peers) if (other !== peer) removeCidr4(other.allowedIps4, a);
      this.allowedIps.add4(a, peer);
      if (addRoutes && a.prefixLength > 0) this.node.routes.add({ destination: a, value: link });
    }
    for (const a of config.allowedIps6) {
      for (const other of this.peers) if (other !== peer) removeCidr6(other.allowedIps6, a);
      this.allowedIps.add6(a, peer);
      if (addRoutes && a.prefixLength > 0) this.node.ipv6.routes.add({ destination: a, value: link });
    }
  }

  // ---- Out: IP → cryptokey routing → seal → UDP ---------------------------------------------

  private transmit(packet: Uint8Array): void {
    if (this.outQueue.length >= QUEUE_PACKETS_MAX) {
      this.node.ctx.trace.dropped('wgOutQueueFull', 'outbound queue full', () => `${packet.length} bytes on ${this.name}`);
      return;
    }
    // The bytes are only valid during the call: copied into the arena (no allocation), or, when it is full, a copy of their own.
    const at = this.arenaUsed;
    if (at + packet.length <= this.arena.length) {
      this.arena.set(packet, at);
      this.arenaUsed = at + packet.length;
      this.outQueue.push(this.arena.subarray(at, this.arenaUsed));
    } else this.outQueue.push(packet.slice());
    if (!this.outScheduled) {
      this.outScheduled = true;
      queueMicrotask(this.drainOut);
    }
  }

  /** Seals what IP handed to wg0 since the last turn (packets for a peer without a session wait, copied out of the arena). */
  private readonly drainOut = (): void => {
    this.outScheduled = false;
    const touched = new Set<Peer>();
    for (const packet of this.outQueue.splice(0)) {
      const peer = this.peerFor(packet);
      if (!peer) continue;
      // With a session in place, what waits is sent now (one batch of TSO super-packets from a LAN easily
      // holds more than the staging queue): only packets waiting for a handshake are ever dropped here.
      if (peer.staged.length >= STAGED_PACKETS_MAX && peer.usableSendKeypair()) this.sendStaged(peer);
      if (peer.staged.length >= STAGED_PACKETS_MAX) {
        peer.staged.shift();
        this.node.ctx.trace.dropped('wgOutStagedDropped', 'staging queue full while waiting for a handshake', () => this.name);
      }
      peer.staged.push(packet);
      touched.add(peer);
    }
    for (const peer of touched) {
      this.sendStaged(peer);
      // Still waiting (for a handshake): the arena is reused from the next turn on.
      if (peer.staged.length > 0) peer.staged = peer.staged.map((p) => (p.buffer === this.arena.buffer ? p.slice() : p));
    }
    // Packets transmitted while this ran (a reply sent from inside) are still queued in the arena: keep them.
    if (this.outQueue.length === 0) this.arenaUsed = 0;
  };

  /** Cryptokey routing, outbound: the peer whose allowed IPs hold the destination. */
  private peerFor(packet: Uint8Array): Peer | undefined {
    const peer = this.allowedIps.forDestination(packet);
    if (!peer) {
      const version = packet.length > 0 ? packet[0]! >> 4 : 0;
      if (version === 4 || version === 6) this.node.ctx.trace.dropped('wgOutNoPeer', 'no peer has the destination in its allowed IPs', () => this.name);
      else this.node.ctx.trace.dropped('wgOutBadPacket', 'not an IP packet', () => this.name);
    }
    return peer;
  }

  /** Sends what waits for `peer` on its current session, or starts a handshake (wireguard-go SendStagedPackets). */
  private sendStaged(peer: Peer): void {
    if (peer.staged.length === 0 || this.closed) return;
    const keypair = peer.usableSendKeypair();
    if (!keypair) {
      this.sendInitiation(peer, false);
      return;
    }
    const packets = peer.staged;
    peer.staged = [];
    let data = false;
    for (const packet of packets) {
      peer.timersAnyAuthenticatedPacketTraversal();
      if (!this.sendSealed(peer, keypair, packet)) continue;
      peer.timersAnyAuthenticatedPacketSent();
      if (packet.length > 0) {
        data = true;
        this.node.ctx.stats.inc('wgOutPackets');
      } else this.node.ctx.stats.inc('wgOutKeepalives');
    }
    if (data) peer.timersDataSent();
    if (peer.needsRekeyOnSend()) this.sendInitiation(peer, false);
  }

  /** Pads, seals and sends one packet (an empty one is a keepalive). */
  private sendSealed(peer: Peer, keypair: Keypair, packet: Uint8Array): boolean {
    const mtu = this.tunnel.link.mtu;
    let paddedLength = Math.ceil(packet.length / PADDING_MULTIPLE) * PADDING_MULTIPLE;
    if (paddedLength > mtu && packet.length <= mtu) paddedLength = mtu;
    if (paddedLength < packet.length) paddedLength = packet.length;
    if (this.padded.length < paddedLength) this.padded = new Uint8Array(paddedLength * 2);
    const plain = this.padded.subarray(0, paddedLength);
    plain.set(packet);
    plain.fill(0, packet.length);
    // UDP copies the datagram before it returns (l4/udp/udp.ts send), so one buffer serves every packet.
    const length = TRANSPORT_HEADER_LENGTH + paddedLength + TAG_LENGTH;
    if (this.sealed.length < length) this.sealed = new Uint8Array(length * 2);
    const out = this.sealed.subarray(0, length);
    const counter = keypair.sendNonce++;
    emitTransportHeader(keypair.remoteIndex, counter, out, 0);
    aeadSealInto(keypair.sendKey, counterNonce(counter, this.nonce), plain, undefined, out, TRANSPORT_HEADER_LENGTH);
    return this.sendTo(peer, out);
  }

  private sendTo(peer: Peer, datagram: Uint8Array): boolean {
    const { ctx } = this.node;
    const e = peer.endpoint;
    if (!e) {
      ctx.trace.dropped('wgOutNoEndpoint', 'peer has no endpoint yet', () => formatKey(peer.publicKey));
      return false;
    }
    const socket = e.family === 6 ? this.socket6 : this.socket4;
    try {
      if (!socket) throw new Error('no IPv6 on this node');
      socket.sendTo(datagram, e.port, this.endpointIp(e));
    } catch (err) {
      ctx.trace.dropped('wgOutSendErrors', `send to ${formatEndpoint(e)}: ${(err as Error).message}`);
      return false;
    }
    peer.txBytes += datagram.length;
    return true;
  }

  private sendKeepalive(peer: Peer): void {
    if (peer.staged.length === 0) peer.staged.push(new Uint8Array(0));
    this.sendStaged(peer);
  }

  // ---- Handshake out ---------------------------------------------------------------------------

  /** wireguard-go SendHandshakeInitiation: at most one per REKEY_TIMEOUT. */
  private sendInitiation(peer: Peer, isRetry: boolean): void {
    const { ctx } = this.node;
    if (!isRetry) peer.handshakeAttempts = 0;
    const now = ctx.clock.now();
    if (now - peer.lastSentHandshakeAt < this.timings.rekeyTimeoutMs || this.closed) return;
    peer.lastSentHandshakeAt = now;
    if (!peer.staticStatic) return;
    const created = createInitiation(this.local, peer.publicKey, peer.staticStatic, tai64n(this.wallClock()), generateStaticKey());
    if (!created) return;
    this.indices.deleteHandshake(peer);
    const sender = this.indices.add({ peer });
    peer.handshake = { kind: 'initiationCreated', localIndex: sender, initiator: created.state };
    const message = new Uint8Array(INITIATION_LENGTH);
    emitInitiation({ ...created.message, sender, mac1: new Uint8Array(16), mac2: new Uint8Array(16) }, message, 0);
    peer.cookies.addMacs(message, now);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    if (this.sendTo(peer, message)) ctx.stats.inc('wgOutInitiations');
    peer.timersHandshakeInitiated();
  }

  private sendResponse(peer: Peer): void {
    const { ctx } = this.node;
    const hs = peer.handshake;
    if (hs.kind !== 'initiationConsumed') return;
    peer.lastSentHandshakeAt = ctx.clock.now();
    const created = createResponse(hs.consumed, peer.presharedKey ?? NO_PRESHARED_KEY, generateStaticKey());
    if (!created) return;
    this.indices.deleteHandshake(peer);
    const sender = this.indices.add({ peer });
    const message = new Uint8Array(RESPONSE_LENGTH);
    emitResponse({ ...created.message, sender, receiver: hs.remoteIndex, mac1: new Uint8Array(16), mac2: new Uint8Array(16) }, message, 0);
    peer.cookies.addMacs(message, ctx.clock.now());
    this.beginSession(peer, created.chainKey, false, sender, hs.remoteIndex);
    peer.timersSessionDerived();
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    if (this.sendTo(peer, message)) ctx.stats.inc('wgOutResponses');
  }

  /** §5.4.5: the session keys; the handshake index becomes the session's (wireguard-go BeginSymmetricSession). */
  private beginSession(peer: Peer, chainKey: Uint8Array, initiator: boolean, localIndex: number, remoteIndex: number): void {
    const keys = deriveTransportKeys(chainKey, initiator);
    const keypair: Keypair = {
      sendKey: keys.send,
      receiveKey: keys.receive,
      sendNonce: 0,
      replay: new ReplayFilter(),
      createdAt: this.node.ctx.clock.now(),
      initiator,
      localIndex,
      remoteIndex,
    };
    this.indices.set(localIndex, { peer, keypair });
    peer.handshake = { kind: 'zeroed' };
    peer.installKeypair(keypair, (k) => this.deleteKeypair(k));
  }

  private deleteKeypair(k: Keypair): void {
    this.indices.deleteSession(k.localIndex, k);
  }

  private zeroKeys(peer: Peer): void {
    for (const k of [peer.previous, peer.current, peer.next]) if (k) this.deleteKeypair(k);
    peer.previous = peer.current = peer.next = undefined;
    this.indices.deleteHandshake(peer);
    peer.handshake = { kind: 'zeroed' };
    peer.staged = [];
    this.node.ctx.stats.inc('wgKeysZeroed');
  }

  // ---- In: UDP → handshake | transport ---------------------------------------------------------

  /** A datagram on the listen port, as `dgram` would give it (for tests that feed bytes straight in). */
  receiveDatagram(msg: Uint8Array, rinfo: Pick<UdpRemoteInfo, 'address' | 'port' | 'family'>): void {
    const v6 = rinfo.family === 'IPv6';
    const address6 = v6 ? parseIpv6(rinfo.address) : undefined;
    const address4 = v6 ? 0 : parseIpv4(rinfo.address);
    if (address4 === undefined || (v6 && address6 === undefined)) throw new Error(`receiveDatagram: bad address ${rinfo.address}`);
    this.receiveFrom(msg, { family: v6 ? 6 : 4, address4, address6, port: rinfo.port, link: this.tunnel.link });
  }

  /** A datagram on the listen port: `msg` and `source` are only valid during the call (UdpSocket.onDatagram). */
  receiveFrom(msg: Uint8Array, source: UdpSource): void {
    const { ctx } = this.node;
    ctx.stats.inc('wgInDatagrams');
    const type = parseMessageType(msg);
    if (!type.ok) {
      ctx.trace.dropped(type.error.reason === 'truncated' ? 'wgInTruncated' : 'wgInBadType', type.error.detail ?? type.error.reason, () => `${msg.length} bytes from ${formatSource(source)}`);
      return;
    }
    switch (type.value) {
      case MessageType.transport:
        return this.receiveTransport(msg, source);
      // Handshake state may keep views into the message: those (rare) datagrams are copied.
      case MessageType.cookieReply:
        return this.receiveCookieReply(msg.slice(), endpointOf(source));
      default:
        return this.receiveHandshake(msg.slice(), type.value, endpointOf(source));
    }
  }

  /** The endpoint's address as UDP takes it (a number, or 16 bytes), parsed once per endpoint. */
  private endpointIp(e: Endpoint): number | Ipv6Address {
    let ip = this.endpointIps.get(e);
    if (ip === undefined) {
      ip = e.family === 6 ? parseIpv6(e.address) : parseIpv4(e.address);
      if (ip === undefined) throw new Error(`endpoint ${formatEndpoint(e)} is not an IP literal`);
      this.endpointIps.set(e, ip);
    }
    return ip;
  }

  /** Roaming (§2.1): the peer's endpoint becomes the datagram's source; a new Endpoint only when it moved. */
  private updateEndpoint(peer: Peer, source: UdpSource): void {
    const e = peer.endpoint;
    if (e && e.port === source.port && e.family === source.family) {
      const ip = this.endpointIp(e);
      if (source.family === 4 ? ip === source.address4 : ipv6Equal(ip as Ipv6Address, source.address6!)) return;
    }
    peer.endpoint = endpointOf(source);
  }

  private lengthProblem(msg: Uint8Array, expected: number, endpoint: Endpoint): boolean {
    if (msg.length === expected) return false;
    this.node.ctx.trace.dropped(msg.length < expected ? 'wgInTruncated' : 'wgInBadLength', `${msg.length} bytes, expected ${expected}`, () => `from ${formatEndpoint(endpoint)}`);
    return true;
  }

  /** Initiation or response: mac1, then (under load) mac2 or a cookie reply, then Noise. */
  private receiveHandshake(msg: Uint8Array, type: MessageType, endpoint: Endpoint): void {
    const { ctx } = this.node;
    if (this.lengthProblem(msg, type === MessageType.initiation ? INITIATION_LENGTH : RESPONSE_LENGTH, endpoint)) return;
    if (!this.cookieChecker.checkMac1(msg)) {
      ctx.trace.dropped('wgInBadMac1', 'mac1 does not verify (not for our public key)', () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    const now = ctx.clock.now();
    if (this.load.arrived(now)) {
      const source = new TextEncoder().encode(formatEndpoint(endpoint));
      if (!this.cookieChecker.checkMac2(msg, source, now)) {
        ctx.trace.dropped('wgInCookieRequired', 'under load: mac2 missing or stale, answered with a cookie', () => `from ${formatEndpoint(endpoint)}`);
        // Initiation and response both carry the sender's index at the same offset: the reply goes to it.
        const reply = this.cookieChecker.createReply(msg, getU32le(msg, InitiationField.sender), source, now);
        const bytes = new Uint8Array(COOKIE_REPLY_LENGTH);
        emitCookieReply(reply, bytes, 0);
        const socket = endpoint.family === 6 ? this.socket6 : this.socket4;
        try {
          socket?.send(bytes, endpoint.port, endpoint.address);
          ctx.stats.inc('wgOutCookieReplies');
        } catch {
          ctx.stats.inc('wgOutSendErrors');
        }
        return;
      }
      if (!this.rateLimiter.allow(endpoint.address, now)) {
        ctx.trace.dropped('wgInRateLimited', 'under load: over the handshake rate for this source', () => `from ${formatEndpoint(endpoint)}`);
        return;
      }
    }
    if (type === MessageType.initiation) this.receiveInitiation(msg, endpoint, now);
    else this.receiveResponse(msg, endpoint);
  }

  private receiveInitiation(msg: Uint8Array, endpoint: Endpoint, now: number): void {
    const { ctx } = this.node;
    const parsed = parseInitiation(msg);
    if (!parsed.ok) return void ctx.trace.dropped('wgInBadLength', parsed.error.reason);
    const m = parsed.value;
    const consumed = consumeInitiation(this.local, m, (key) => this.peersByKey.get(formatKey(key))?.staticStatic);
    if (!consumed.ok) {
      const counter = consumed.error === 'unknownPeer' ? 'wgInUnknownPeer' : 'wgInBadHandshake';
      ctx.trace.dropped(counter, `initiation: ${consumed.error}`, () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    const peer = this.peersByKey.get(formatKey(consumed.value.remoteStatic))!;
    if (!tai64nAfter(consumed.value.timestamp, peer.lastTimestamp)) {
      ctx.trace.dropped('wgInReplayedTimestamp', 'initiation: TAI64N not newer than the last accepted (replay)', () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    if (now - peer.lastInitiationConsumedAt <= HANDSHAKE_INITIATION_RATE_MS) {
      ctx.trace.dropped('wgInHandshakeFlood', 'initiation: less than 20 ms after the last one', () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    ctx.stats.inc('wgInInitiations');
    peer.lastTimestamp = consumed.value.timestamp;
    peer.lastInitiationConsumedAt = now;
    peer.handshake = { kind: 'initiationConsumed', remoteIndex: m.sender, consumed: consumed.value };
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    peer.endpoint = endpoint;
    peer.rxBytes += msg.length;
    this.sendResponse(peer);
  }

  private receiveResponse(msg: Uint8Array, endpoint: Endpoint): void {
    const { ctx } = this.node;
    const parsed = parseResponse(msg);
    if (!parsed.ok) return void ctx.trace.dropped('wgInBadLength', parsed.error.reason);
    const m = parsed.value;
    const entry = this.indices.get(m.receiver);
    const hs = entry?.peer.handshake;
    if (!entry || entry.keypair || hs?.kind !== 'initiationCreated' || hs.localIndex !== m.receiver) {
      ctx.trace.dropped('wgInUnknownReceiver', `response for index ${m.receiver}: no initiation of ours waits for it`, () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    const peer = entry.peer;
    const chainKey = consumeResponse(hs.initiator, this.local, m, peer.presharedKey ?? NO_PRESHARED_KEY);
    if (!chainKey) {
      ctx.trace.dropped('wgInBadHandshake', 'response does not authenticate', () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    ctx.stats.inc('wgInResponses');
    peer.endpoint = endpoint;
    peer.rxBytes += msg.length;
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    this.beginSession(peer, chainKey, true, hs.localIndex, m.sender);
    peer.timersSessionDerived();
    peer.timersHandshakeComplete(this.wallClock());
    ctx.stats.inc('wgHandshakesCompleted');
    this.sendKeepalive(peer);
  }

  private receiveCookieReply(msg: Uint8Array, endpoint: Endpoint): void {
    const { ctx } = this.node;
    if (this.lengthProblem(msg, COOKIE_REPLY_LENGTH, endpoint)) return;
    const parsed = parseCookieReply(msg);
    if (!parsed.ok) return void ctx.trace.dropped('wgInBadLength', parsed.error.reason);
    const entry = this.indices.get(parsed.value.receiver);
    if (!entry) {
      ctx.trace.dropped('wgInUnknownReceiver', `cookie reply for index ${parsed.value.receiver}`, () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    if (!entry.peer.cookies.consumeReply(parsed.value, ctx.clock.now())) {
      ctx.trace.dropped('wgInBadCookie', 'cookie reply does not decrypt', () => `from ${formatEndpoint(endpoint)}`);
      return;
    }
    ctx.stats.inc('wgInCookieReplies');
  }

  /** Transport data: session by receiver index, open, replay window, then cryptokey routing on the inner source. */
  private receiveTransport(msg: Uint8Array, source: UdpSource): void {
    const { ctx } = this.node;
    // Detail closures are made only where a packet is dropped (none per packet on the way through).
    const parsed = parseTransport(msg);
    if (!parsed.ok) {
      ctx.trace.dropped('wgInTruncated', parsed.error.detail ?? parsed.error.reason, () => `from ${formatSource(source)}`);
      return;
    }
    const m = parsed.value;
    const entry = this.indices.get(m.receiver);
    const keypair = entry?.keypair;
    if (!entry || !keypair) {
      ctx.trace.dropped('wgInUnknownReceiver', `data for index ${m.receiver}: no such session`, () => `from ${formatSource(source)}`);
      return;
    }
    const now = ctx.clock.now();
    if (now - keypair.createdAt >= this.timings.rejectAfterTimeMs) {
      ctx.trace.dropped('wgInExpiredKeypair', 'session older than REJECT_AFTER_TIME', () => `from ${formatSource(source)}`);
      return;
    }
    const plain = aeadOpen(keypair.receiveKey, counterNonce(m.counter, this.nonce), m.encryptedPacket);
    if (!plain) {
      ctx.trace.dropped('wgInDecryptErrors', 'tag does not verify', () => `counter ${m.counter} from ${formatSource(source)}`);
      return;
    }
    if (!keypair.replay.validate(m.counter, this.timings.rejectAfterMessages)) {
      ctx.trace.dropped('wgInReplayed', 'counter replayed or behind the window', () => `counter ${m.counter} from ${formatSource(source)}`);
      return;
    }
    const peer = entry.peer;
    // Roaming: the last authenticated datagram's source is where the peer is now (before sending what waited).
    this.updateEndpoint(peer, source);
    if (peer.receivedWith(keypair, (k) => this.deleteKeypair(k))) {
      peer.timersHandshakeComplete(this.wallClock());
      ctx.stats.inc('wgHandshakesCompleted');
      this.sendStaged(peer);
    }
    peer.rxBytes += msg.length;
    if (peer.needsRekeyOnReceive()) this.sendInitiation(peer, false);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    if (msg.length === KEEPALIVE_LENGTH) {
      ctx.stats.inc('wgInKeepalives');
      return;
    }
    peer.timersDataReceived();
    const packet = this.innerPacket(plain, peer, source);
    if (packet) this.deliver(packet);
  }

  /** The IP packet inside (padding cut off) if it is whole and its source is one of the peer's allowed IPs. */
  private innerPacket(plain: Uint8Array, peer: Peer, source: UdpSource): Uint8Array | undefined {
    const { ctx } = this.node;
    const facts = ipPacketFacts(plain);
    if (!facts) {
      ctx.trace.dropped('wgInBadInnerPacket', 'decrypted data is not a whole IPv4 or IPv6 packet', () => `${plain.length} bytes from ${formatSource(source)}`);
      return undefined;
    }
    if (this.allowedIps.forSource(plain) !== peer) {
      ctx.trace.dropped('wgInSourceNotAllowed', "inner source is not in the sending peer's allowed IPs", () => `peer ${formatKey(peer.publicKey)}`);
      return undefined;
    }
    return plain.subarray(0, facts.length);
  }

  private deliver(packet: Uint8Array): void {
    const { ctx } = this.node;
    if (this.inQueue.length >= QUEUE_PACKETS_MAX) {
      ctx.trace.dropped('wgInQueueFull', 'inbound queue full', () => this.name);
      return;
    }
    this.inQueue.push(packet);
    if (!this.inScheduled) {
      this.inScheduled = true;
      queueMicrotask(this.drainIn);
    }
  }

  /** What one batch of datagrams brought: TCP segments of a flow coalesced (./gro.ts), then up the node's inbound path. */
  private readonly drainIn = (): void => {
    const { ctx } = this.node;
    this.inScheduled = false;
    const batch = this.inQueue.splice(0);
    if (!this.coalesce) {
      for (const p of batch) {
        ctx.stats.inc('wgInPackets');
        this.tunnel.receive(p);
      }
      return;
    }
    this.coalescer.coalesce(batch, (packet, offload, segments) => {
      ctx.stats.inc('wgInPackets', segments);
      if (offload) {
        ctx.stats.inc('wgInGroPackets');
        ctx.stats.inc('wgInGroSegments', segments);
      }
      this.tunnel.receive(packet, offload);
    });
  };

  /** `wg show` for this interface (./show.ts). */
  show(): string {
    return showWireGuard(this, this.wallClock());
  }
}

/** An Endpoint (strings, kept by the peer) for a datagram's source. */
function endpointOf(source: UdpSource): Endpoint {
  return source.family === 6
    ? { address: formatIpv6(source.address6!), port: source.port, family: 6 }
    : { address: formatIpv4(source.address4), port: source.port, family: 4 };
}

function formatSource(source: UdpSource): string {
  return source.family === 6 ? `[${formatIpv6(source.address6!)}]:${source.port}` : `${formatIpv4(source.address4)}:${source.port}`;
}

function removeCidr6(list: { address: Uint8Array; prefixLength: number }[], a: { address: Uint8Array; prefixLength: number }): void {
  const i = list.findIndex((x) => ipv6Equal(x.address, a.address) && x.prefixLength === a.prefixLength);
  if (i >= 0) list.splice(i, 1);
}

function removeCidr4(list: { address: number; prefixLength: number }[], a: { address: number; prefixLength: number }): void {
  const i = list.findIndex((x) => x.address === a.address && x.prefixLength === a.prefixLength);
  if (i >= 0) list.splice(i, 1);
}

/** A node that answers `tapnet show wg` (src/node/host.ts `shows`). */
export interface WireGuardShowNode extends WireGuardNode {
  readonly shows: Map<string, () => string>;
}

/**
 * Adds WireGuard interface `config.name` to `node` and makes `tapnet show wg`
 * list it (after any the node has already). Call `start()` once the node's
 * routes are in place.
 */
export function attachWireGuard(node: WireGuardShowNode, config: WireGuardConfig, options: WireGuardOptions = {}): WireGuardInterface {
  const wg = new WireGuardInterface(node, config, options);
  const before = node.shows.get('wg');
  node.shows.set('wg', () => (before ? `${before()}\n` : '') + wg.show());
  return wg;
}
