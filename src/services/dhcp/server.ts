/**
 * DHCPv4 server: one scope (subnet + pool) per interface.
 *
 * Read first: RFC 2131 §4.3 (server behaviour, one section per message type,
 * quoted at each handler), §4.1 (where replies go), §3.1 (the DISCOVER /
 * OFFER / REQUEST / ACK exchange), RFC 2132 (the options in replies).
 *
 *   const dhcp = new DhcpServer(host, { leaseFile: '/var/lib/tapnet/tap0.leases', domainName: 'lab' });
 *   dhcp.start();   // serves every interface that has an address
 *
 * Each message goes: parse → pick the scope (the arrival interface, or the
 * one holding 'giaddr' for a relayed message) → a handler that decides → a
 * reply sent by broadcast or unicast (§4.1). Decisions about addresses live
 * in lease-store.ts, the shape of replies in server-reply.ts; this file
 * holds the protocol.
 *
 * Bindings are committed to the lease file before their DHCPACK leaves
 * (§3.1 step 4). ACKs decided while handling one batch of frames wait for one
 * atomic write together (a group commit), so a burst of clients costs one
 * write, not one per client.
 */
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import type { Instant, Timer } from '../../core/time.js';
import type { NetworkInterface } from '../../l2/interface.js';
import { formatMac } from '../../l2/mac-address.js';
import { formatIpv4, inCidr, networkOf, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import type { UdpSocket } from '../../l4/udp/udp.js';
import type { Host } from '../../node/host.js';
import { BootpOp, HTYPE_ETHERNET, describeDhcpMessage, encodeDhcpMessage, parseDhcpMessage, type DhcpMessage } from './message.js';
import { DHCP_MIN_MAX_MESSAGE_SIZE, DhcpMessageType } from './options.js';
import { DHCP_SERVER_PORT, buildReply, poolRange, replyDestination, type DhcpReplyDestination } from './server-reply.js';
import {
  LeasePool,
  clientIdentity,
  clientKeyOf,
  formatLeaseFile,
  readLeaseFile,
  sanitizeHostname,
  writeFileAtomic,
  type ClientIdentity,
  type Lease,
  type LeaseRecord,
  type StaticLease,
} from './lease-store.js';

/** dnsmasq's default lease time (1 hour). */
export const DEFAULT_LEASE_TIME_S = 3600;
/** dnsmasq's floor for a lease a client asks for in option 51: shorter requests get this. */
export const MIN_REQUESTED_LEASE_TIME_S = 120;
/**
 * How long an offered address stays reserved for the client (RFC 2131 §4.3.1:
 * the server "SHOULD" reserve it). 60 s outlasts a client's REQUEST
 * retransmissions on the §4.1 back-off (4 + 8 + 16 + 32 s); after that the
 * address returns to the pool, which is how a DISCOVER flood drains away.
 */
export const OFFER_HOLD_MS = 60_000;
/** How long a DECLINEd address stays out of the pool: Kea's decline-probation-period default (24 h). */
export const DECLINE_PROBATION_MS = 86_400_000;
/** IPv4 (20) + UDP (8) headers, subtracted from the client's Maximum DHCP Message Size (RFC 2132 §9.10). */
const IP_UDP_HEADERS = 28;
/** Replies are built here; every reply we make is far smaller (about 350 bytes). */
const REPLY_BUFFER_BYTES = 1500;
/** ACKs waiting for the lease file are sent after at most this many pile up (a cap on memory under a flood). */
export const DHCP_PENDING_ACKS_MAX = 1024;

/** Counter names. Linux has no DHCP MIB; these follow the `dhcpIn…/dhcpOut…` pattern. */
export const DhcpServerCounter = {
  inMessages: 'dhcpInMessages',
  /** Truncated, a bad option, not a BOOTREQUEST, not Ethernet. */
  inErrors: 'dhcpInErrors',
  /** No magic cookie or no message type: plain BOOTP, which we do not serve. */
  inBootp: 'dhcpInBootp',
  /** A message type a client never sends to a server (OFFER, ACK, ...). */
  inBadType: 'dhcpInBadType',
  inDiscovers: 'dhcpInDiscovers',
  inRequests: 'dhcpInRequests',
  inDeclines: 'dhcpInDeclines',
  inReleases: 'dhcpInReleases',
  inInforms: 'dhcpInInforms',
  /** Meant for another server (its server identifier): the client chose someone else. */
  inOtherServer: 'dhcpInOtherServer',
  /** About a binding we have no record of: RFC 2131 §4.3.2 says stay silent. */
  inUnknownClient: 'dhcpInUnknownClient',
  /** Arrived on an interface without a scope, or relayed from a 'giaddr' we serve no subnet for. */
  inNoScope: 'dhcpInNoScope',
  /** A DISCOVER we could not offer anything to: every address is offered, bound or declined. */
  poolExhausted: 'dhcpPoolExhausted',
  outOffers: 'dhcpOutOffers',
  outAcks: 'dhcpOutAcks',
  outNaks: 'dhcpOutNaks',
  /** A reply the UDP layer could not send (no route to 'giaddr'/'ciaddr'). */
  outErrors: 'dhcpOutErrors',
  /** The lease file could not be written: the ACKs waiting for it are not sent. */
  leaseFileErrors: 'dhcpLeaseFileErrors',
} as const;

export interface DhcpServerOptions {
  /** Where bindings persist (written atomically); none: in memory only. */
  readonly leaseFile?: string;
  /** Lease time in seconds (default DEFAULT_LEASE_TIME_S). Clients may ask for less, not more. */
  readonly leaseTimeSeconds?: number;
  /** Host numbers of the dynamic pool within each subnet (default 100-199, clipped to the subnet). */
  readonly poolHosts?: { readonly first: number; readonly last: number };
  /** Option 15 (RFC 2132 §3.17). */
  readonly domainName?: string;
  /** Option 6; default: the server's own address on the interface (tapnet answers DNS). */
  readonly dnsServers?: readonly Ipv4Address[];
  /** Option 3; default: the server's own address on the interface. */
  readonly routers?: readonly Ipv4Address[];
  readonly staticLeases?: readonly StaticLease[];
  /** Wall clock for the lease file (Unix ms), default Date.now. */
  readonly wallClock?: () => number;
  readonly offerHoldMs?: number;
  readonly declineProbationMs?: number;
  /** A binding with a hostname started (or changed name or address): register `hostname` → `address` in DNS. */
  readonly onLeaseBound?: (hostname: string, address: Ipv4Address) => void;
  /** A binding with a hostname ended (released, expired, declined, replaced). */
  readonly onLeaseEnded?: (hostname: string, address: Ipv4Address) => void;
}

/** One subnet served on one interface. */
export interface DhcpScope {
  readonly iface: NetworkInterface;
  /** Our address there: the Server Identifier (option 54). */
  readonly serverAddress: Ipv4Address;
  readonly subnet: Ipv4Cidr;
  readonly pool: LeasePool;
  readonly socket: UdpSocket;
}

/** One line of `tapnet show leases`. */
export interface DhcpLeaseInfo {
  readonly address: string;
  readonly state: Lease['state'];
  readonly mac: string;
  readonly hostname: string | undefined;
  readonly clientId: string | undefined;
  /** Seconds until the offer lapses / the binding ends; 0 when already past. */
  readonly expiresInSeconds: number;
  readonly interface: string;
}

export class DhcpServer {
  readonly scopes: DhcpScope[] = [];
  private readonly ctx: StackContext;
  private readonly leaseSeconds: number;
  private readonly offerHoldMs: number;
  private readonly declineProbationMs: number;
  private readonly wallClock: () => number;
  private readonly replyBuffer = new Uint8Array(REPLY_BUFFER_BYTES);
  /** ACKs (and their sockets) waiting for the lease file write. */
  private pending: Array<{ scope: DhcpScope; bytes: Uint8Array; to: DhcpReplyDestination }> = [];
  private dirty = false;
  private readonly commitTimer: Timer;
  private readonly expiryTimer: Timer;
  private started = false;

  constructor(
    private readonly host: Host,
    private readonly options: DhcpServerOptions = {},
  ) {
    this.ctx = host.ctx;
    this.leaseSeconds = options.leaseTimeSeconds ?? DEFAULT_LEASE_TIME_S;
    if (!Number.isInteger(this.leaseSeconds) || this.leaseSeconds < 1 || this.leaseSeconds >= 0xffffffff) {
      throw new RangeError(`DHCP lease time ${this.leaseSeconds} s is not in 1..${0xfffffffe}`);
    }
    this.offerHoldMs = options.offerHoldMs ?? OFFER_HOLD_MS;
    this.declineProbationMs = options.declineProbationMs ?? DECLINE_PROBATION_MS;
    this.wallClock = options.wallClock ?? Date.now;
    this.commitTimer = this.ctx.timers.timer(() => this.commit());
    this.expiryTimer = this.ctx.timers.timer(() => this.expireLeases());
    this.ctx.stats.declare(...Object.values(DhcpServerCounter));
  }

  /**
   * Serves every interface with an IPv4 address, then loads the lease file
   * and writes it back at once, so a file we cannot write fails here, at
   * start-up, not at the first ACK (with no file and no lease yet, checking
   * that its directory is writable does, and no empty file is left behind).
   * Throws on that I/O error.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const iface of this.host.interfaces) if (iface.ipv4Addresses.length > 0) this.serve(iface);
    const path = this.options.leaseFile;
    if (!path) return;
    const restored = this.loadLeaseFile(path);
    if (restored > 0 || existsSync(path)) this.writeLeaseFile();
    else accessSync(dirname(path), fsConstants.W_OK);
  }

  /** Adds a scope for `iface` (its first address and prefix). Undefined when the subnet is too small for a pool. */
  serve(iface: NetworkInterface): DhcpScope | undefined {
    const own = iface.ipv4Addresses[0];
    if (!own) throw new Error(`DHCP: interface ${iface.name} has no IPv4 address to serve from`);
    const range = poolRange(own, this.options.poolHosts ?? { first: 100, last: 199 });
    if (!range) {
      this.ctx.trace.log.warn(`DHCP: ${formatIpv4(own.address)}/${own.prefixLength} on ${iface.name} has no room for a pool; not serving it`);
      return undefined;
    }
    const subnet = { address: networkOf(own), prefixLength: own.prefixLength };
    const staticLeases = (this.options.staticLeases ?? []).filter((s) => inCidr(s.address, subnet));
    const pool = new LeasePool({ subnet, first: range.first, last: range.last, reserved: [own.address], staticLeases });
    const socket = this.host.udp.createSocket();
    socket.bindToLink(iface); // before bind: one socket on port 67 per interface
    socket.setBroadcast(true);
    socket.bind(DHCP_SERVER_PORT);
    const scope: DhcpScope = { iface, serverAddress: own.address, subnet, pool, socket };
    socket.on('message', (msg) => this.receive(msg, scope));
    this.scopes.push(scope);
    return scope;
  }

  /** Writes what is pending, sends the ACKs that waited for it, closes the sockets. */
  stop(): void {
    this.commit();
    this.commitTimer.cancel();
    this.expiryTimer.cancel();
    for (const scope of this.scopes) scope.socket.close();
  }

  /** A DHCP message arrived on `scope`'s interface (port 67). */
  receive(bytes: Uint8Array, arrival: DhcpScope): void {
    const { ctx } = this;
    ctx.stats.inc(DhcpServerCounter.inMessages);
    const parsed = parseDhcpMessage(bytes);
    if (!parsed.ok) {
      const bootp = parsed.error.reason === 'unsupported';
      ctx.trace.dropped(bootp ? DhcpServerCounter.inBootp : DhcpServerCounter.inErrors, describeParseError(parsed.error), () => `${bytes.length} bytes on ${arrival.iface.name}`);
      return;
    }
    const m = parsed.value;
    const describe = (): string => describeDhcpMessage(m);
    if (m.op !== BootpOp.BOOTREQUEST) return ctx.trace.dropped(DhcpServerCounter.inErrors, 'BOOTREPLY sent to the server port', describe);
    // RFC 2131 §2: we hand out addresses by chaddr, which must be an Ethernet MAC.
    if (m.htype !== HTYPE_ETHERNET || m.hlen !== 6) return ctx.trace.dropped(DhcpServerCounter.inErrors, `htype ${m.htype} hlen ${m.hlen}: not Ethernet`, describe);
    const type = m.options.messageType;
    if (type === undefined) return ctx.trace.dropped(DhcpServerCounter.inBootp, 'no DHCP message type (option 53): BOOTP', describe);

    // RFC 2131 §4.3.1: the subnet is "the subnet from which the message was received (if 'giaddr' is 0) or ... the address of the relay agent".
    const scope = m.giaddr === 0 ? arrival : this.scopes.find((s) => inCidr(m.giaddr, s.subnet));
    if (!scope) return ctx.trace.dropped(DhcpServerCounter.inNoScope, `no subnet for relay ${formatIpv4(m.giaddr)}`, describe);
    const now = ctx.clock.now();
    switch (type) {
      case DhcpMessageType.DISCOVER:
        ctx.stats.inc(DhcpServerCounter.inDiscovers);
        return this.receiveDiscover(m, scope, now);
      case DhcpMessageType.REQUEST:
        ctx.stats.inc(DhcpServerCounter.inRequests);
        return this.receiveRequest(m, scope, now);
      case DhcpMessageType.DECLINE:
        ctx.stats.inc(DhcpServerCounter.inDeclines);
        return this.receiveDecline(m, scope, now);
      case DhcpMessageType.RELEASE:
        ctx.stats.inc(DhcpServerCounter.inReleases);
        return this.receiveRelease(m, scope, now);
      case DhcpMessageType.INFORM:
        ctx.stats.inc(DhcpServerCounter.inInforms);
        return this.receiveInform(m, scope);
      default:
        return ctx.trace.dropped(DhcpServerCounter.inBadType, `message type ${type} is not one a client sends`, describe);
    }
  }

  /**
   * RFC 2131 §4.3.1: "When a server receives a DHCPDISCOVER message from a
   * client, the server chooses a network address for the requesting client.
   * If no address is available, the server may choose to report the problem
   * to the system administrator." (The counter and the trace do that.)
   */
  private receiveDiscover(m: DhcpMessage, scope: DhcpScope, now: Instant): void {
    const client = clientIdentity(m.chaddr, m.options.clientIdentifier);
    const address = scope.pool.choose(client.key, client.mac, m.options.requestedIpAddress, now);
    if (address === undefined) {
      return this.ctx.trace.dropped(DhcpServerCounter.poolExhausted, 'no free address in the pool', () => describeDhcpMessage(m));
    }
    const lease = scope.pool.offer(client, address, now, this.offerHoldMs);
    const hostname = this.hostnameFor(m, scope, lease, now);
    this.reply(m, scope, DhcpMessageType.OFFER, { yiaddr: address, leaseSeconds: this.negotiateLease(m), hostname }, false);
  }

  /**
   * RFC 2131 §4.3.2: the client's state decides what a REQUEST means.
   *   SELECTING: "'server identifier' MUST be set ... 'requested IP address' MUST be filled in with the yiaddr value from the chosen DHCPOFFER."
   *   INIT-REBOOT: "'server identifier' MUST NOT be filled in, 'requested IP address' option MUST be filled in with client's notion of its previously assigned address. 'ciaddr' MUST be zero."
   *   RENEWING / REBINDING: "'server identifier' MUST NOT be filled in, 'requested IP address' option MUST NOT be filled in, 'ciaddr' MUST be filled in with client's IP address."
   */
  private receiveRequest(m: DhcpMessage, scope: DhcpScope, now: Instant): void {
    const { pool } = scope;
    const client = clientIdentity(m.chaddr, m.options.clientIdentifier);
    const serverId = m.options.serverIdentifier;
    const requested = m.options.requestedIpAddress;
    const describe = (): string => describeDhcpMessage(m);

    if (serverId !== undefined) {
      // SELECTING. "If the server identifier does not match, the client has chosen another server": our offer is free again.
      if (serverId !== scope.serverAddress) {
        const offered = pool.findClient(client.key);
        if (offered?.state === 'offered') pool.release(offered, now);
        return this.ctx.trace.dropped(DhcpServerCounter.inOtherServer, `client chose server ${formatIpv4(serverId)}`, describe);
      }
      if (requested === undefined) return this.ctx.trace.dropped(DhcpServerCounter.inErrors, 'SELECTING REQUEST without a requested address', describe);
      const lease = pool.findClient(client.key);
      const wasOffered = (lease?.address === requested && (lease.state === 'offered' || lease.state === 'bound')) || pool.staticFor(m.chaddr)?.address === requested;
      if (!wasOffered || !pool.availableTo(requested, client.key, client.mac, now)) return this.nak(m, scope, 'requested address was not offered to you');
      return this.ack(m, scope, client, requested, now);
    }

    if (requested !== undefined) {
      // INIT-REBOOT. "If the client's notion of its IP address is not correct (e.g., the client has moved to a new subnet), server SHOULD send a DHCPNAK".
      if (!pool.onSubnet(requested)) return this.nak(m, scope, 'requested address is on another network');
      const lease = pool.findClient(client.key);
      const fixed = pool.staticFor(m.chaddr);
      // "If the DHCP server has no record of this client, then it MUST remain silent".
      if (!lease && !fixed) return this.ctx.trace.dropped(DhcpServerCounter.inUnknownClient, 'INIT-REBOOT from a client we have no record of', describe);
      const ours = (lease?.address === requested && lease.state !== 'declined') || fixed?.address === requested;
      if (!ours || !pool.availableTo(requested, client.key, client.mac, now)) return this.nak(m, scope, 'requested address is not yours');
      return this.ack(m, scope, client, requested, now);
    }

    if (m.ciaddr !== 0) {
      // RENEWING (unicast to us) or REBINDING (broadcast). "the server SHOULD check 'ciaddr' for correctness".
      if (!pool.onSubnet(m.ciaddr)) return this.nak(m, scope, 'address is on another network');
      const lease = pool.at(m.ciaddr);
      const fixed = pool.staticFor(m.chaddr)?.address === m.ciaddr;
      if (!fixed && (!lease || lease.clientKey !== client.key)) {
        if (lease && pool.isActive(lease, now)) return this.nak(m, scope, 'address belongs to another client');
        return this.ctx.trace.dropped(DhcpServerCounter.inUnknownClient, 'renewal of a binding we have no record of', describe);
      }
      if (!pool.availableTo(m.ciaddr, client.key, client.mac, now)) return this.nak(m, scope, 'address is no longer yours');
      return this.ack(m, scope, client, m.ciaddr, now);
    }
    this.ctx.trace.dropped(DhcpServerCounter.inErrors, 'REQUEST with no server identifier, requested address or ciaddr', describe);
  }

  /**
   * RFC 2131 §4.3.3: "If the server receives a DHCPDECLINE message, the
   * client has discovered through some other means that the suggested network
   * address is already in use. The server MUST mark the network address as
   * not available and SHOULD notify the local system administrator".
   */
  private receiveDecline(m: DhcpMessage, scope: DhcpScope, now: Instant): void {
    const describe = (): string => describeDhcpMessage(m);
    if (m.options.serverIdentifier !== scope.serverAddress) return this.ctx.trace.dropped(DhcpServerCounter.inOtherServer, 'DECLINE for another server', describe);
    const address = m.options.requestedIpAddress;
    const lease = address === undefined ? undefined : scope.pool.at(address);
    // Only the client an address was given to may decline it, or anyone could take addresses out of the pool.
    if (!lease || lease.clientKey !== clientKeyOf(m.chaddr, m.options.clientIdentifier)) {
      return this.ctx.trace.dropped(DhcpServerCounter.inUnknownClient, 'DECLINE of an address that is not the client\'s', describe);
    }
    this.leaseEnded(lease, now);
    scope.pool.decline(lease, now, this.declineProbationMs);
    this.markDirty();
    this.ctx.trace.log.warn(`DHCP: ${formatMac(m.chaddr)} declined ${formatIpv4(lease.address)} (in use by someone else?); out of the pool for ${this.declineProbationMs / 1000} s`);
  }

  /** RFC 2131 §4.3.4: "Upon receipt of a DHCPRELEASE message, the server marks the network address as not allocated." */
  private receiveRelease(m: DhcpMessage, scope: DhcpScope, now: Instant): void {
    const describe = (): string => describeDhcpMessage(m);
    const serverId = m.options.serverIdentifier;
    if (serverId !== undefined && serverId !== scope.serverAddress) return this.ctx.trace.dropped(DhcpServerCounter.inOtherServer, 'RELEASE for another server', describe);
    const lease = scope.pool.at(m.ciaddr);
    if (!lease || lease.state !== 'bound' || lease.clientKey !== clientKeyOf(m.chaddr, m.options.clientIdentifier)) {
      return this.ctx.trace.dropped(DhcpServerCounter.inUnknownClient, 'RELEASE of a binding we have no record of', describe);
    }
    this.leaseEnded(lease, now);
    scope.pool.release(lease, now);
    this.markDirty();
  }

  /**
   * RFC 2131 §4.3.5: "The server responds to a DHCPINFORM message by sending
   * a DHCPACK message directly to the address given in the 'ciaddr' field ...
   * The server MUST NOT send a lease expiration time to the client and SHOULD
   * NOT fill in 'yiaddr'."
   */
  private receiveInform(m: DhcpMessage, scope: DhcpScope): void {
    if (m.ciaddr === 0) return this.ctx.trace.dropped(DhcpServerCounter.inErrors, 'INFORM without ciaddr', () => describeDhcpMessage(m));
    this.reply(m, scope, DhcpMessageType.ACK, { yiaddr: 0 }, false);
  }

  private ack(m: DhcpMessage, scope: DhcpScope, client: ClientIdentity, address: Ipv4Address, now: Instant): void {
    const leaseSeconds = this.negotiateLease(m);
    const before = scope.pool.at(address);
    const previous = before && before.clientKey === client.key && before.state === 'bound' && before.expiresAt > now ? { hostname: before.hostname } : undefined;
    const hostname = this.hostnameFor(m, scope, before?.clientKey === client.key ? before : undefined, now);
    // A binding that ran out but whose expiry timer has not fired yet: its name leaves DNS now.
    if (before && before.clientKey !== client.key && before.state === 'bound' && before.hostname !== undefined) {
      this.options.onLeaseEnded?.(before.hostname, before.address);
    }
    const { lease, replaced } = scope.pool.bind(client, address, hostname, now, leaseSeconds * 1000);
    if (replaced) this.leaseEnded(replaced, now, true);
    if (previous?.hostname !== undefined && previous.hostname !== hostname) this.options.onLeaseEnded?.(previous.hostname, address);
    if (hostname !== undefined && previous?.hostname !== hostname) this.options.onLeaseBound?.(hostname, lease.address);
    this.armExpiry(lease.expiresAt);
    this.markDirty();
    this.reply(m, scope, DhcpMessageType.ACK, { yiaddr: address, leaseSeconds, hostname }, true);
  }

  /** RFC 2131 §4.3.2: a DHCPNAK for a REQUEST we cannot honour; option 56 says why. */
  private nak(m: DhcpMessage, scope: DhcpScope, why: string): void {
    this.ctx.trace.event('DHCP NAK', () => `${why}: ${describeDhcpMessage(m)}`);
    this.reply(m, scope, DhcpMessageType.NAK, { yiaddr: 0, message: why }, false);
  }

  /**
   * The hostname a binding gets: the static lease's, else the client's option
   * 12 made into a DNS label. A name a live binding of another client already
   * has is not given twice (DNS would have two owners), as dnsmasq does.
   */
  private hostnameFor(m: DhcpMessage, scope: DhcpScope, lease: Lease | undefined, now: Instant): string | undefined {
    const wanted = scope.pool.staticFor(m.chaddr)?.hostname ?? sanitizeHostname(m.options.hostName) ?? lease?.hostname;
    if (wanted === undefined) return undefined;
    const holder = scope.pool.boundWithHostname(wanted, now);
    if (holder && holder.clientKey !== clientKeyOf(m.chaddr, m.options.clientIdentifier)) {
      this.ctx.trace.event('DHCP hostname taken', () => `${wanted} is ${formatIpv4(holder.address)}'s; ${formatMac(m.chaddr)} gets none`);
      return undefined;
    }
    return wanted;
  }

  /** RFC 2131 §4.3.1: the server may grant the lease time the client asks for (option 51), up to its own. */
  private negotiateLease(m: DhcpMessage): number {
    const asked = m.options.leaseTime;
    if (asked === undefined) return this.leaseSeconds;
    return Math.min(this.leaseSeconds, Math.max(asked, Math.min(MIN_REQUESTED_LEASE_TIME_S, this.leaseSeconds)));
  }

  /** Builds (server-reply.ts), counts and sends a reply; an ACK that binds waits for the lease file. */
  private reply(
    m: DhcpMessage,
    scope: DhcpScope,
    type: DhcpMessageType,
    what: { yiaddr: Ipv4Address; leaseSeconds?: number; hostname?: string; message?: string },
    needsCommit: boolean,
  ): void {
    const reply = buildReply(m, type, {
      serverId: scope.serverAddress,
      subnet: scope.subnet,
      routers: this.options.routers ?? [scope.serverAddress],
      dnsServers: this.options.dnsServers ?? [scope.serverAddress],
      domainName: this.options.domainName,
      ...what,
    });
    const maxSize = Math.max(m.options.maximumMessageSize ?? DHCP_MIN_MAX_MESSAGE_SIZE, DHCP_MIN_MAX_MESSAGE_SIZE);
    const length = encodeDhcpMessage(reply, this.replyBuffer, 0, Math.min(maxSize, REPLY_BUFFER_BYTES) - IP_UDP_HEADERS);
    const to = replyDestination(m, type);
    this.ctx.stats.inc(type === DhcpMessageType.OFFER ? DhcpServerCounter.outOffers : type === DhcpMessageType.NAK ? DhcpServerCounter.outNaks : DhcpServerCounter.outAcks);
    this.ctx.trace.event('DHCP reply', () => `${describeDhcpMessage(reply)} → ${formatIpv4(to.address)}:${to.port}`);
    const bytes = this.replyBuffer.subarray(0, length);
    if (needsCommit && this.options.leaseFile) {
      // §3.1 step 4: the binding is on disk before the ACK leaves (see commit()).
      this.pending.push({ scope, bytes: bytes.slice(), to });
      if (this.pending.length >= DHCP_PENDING_ACKS_MAX) this.commit();
      return;
    }
    this.transmit(scope, bytes, to);
  }

  private transmit(scope: DhcpScope, bytes: Uint8Array, to: DhcpReplyDestination): void {
    scope.socket.send(bytes, to.port, formatIpv4(to.address), (error) => {
      if (error) this.ctx.trace.dropped(DhcpServerCounter.outErrors, error.message);
    });
  }

  private markDirty(): void {
    this.dirty = true;
    if (!this.commitTimer.armed) this.commitTimer.armIn(0);
  }

  /** Writes the lease file if anything changed, then sends the ACKs that waited for it. */
  private commit(): void {
    this.commitTimer.cancel();
    const pending = this.pending;
    this.pending = [];
    if (this.dirty && this.options.leaseFile) {
      try {
        this.writeLeaseFile();
      } catch (e) {
        // The binding is not durable, so (§3.1) no ACK: the client retries, and the log says why.
        this.ctx.trace.dropped(DhcpServerCounter.leaseFileErrors, (e as Error).message, () => `${pending.length} ACKs not sent`);
        this.ctx.trace.log.error(`DHCP: cannot write lease file ${this.options.leaseFile}: ${(e as Error).message}`);
        return;
      }
    }
    this.dirty = false;
    for (const p of pending) this.transmit(p.scope, p.bytes, p.to);
  }

  private writeLeaseFile(): void {
    const path = this.options.leaseFile!;
    const now = this.ctx.clock.now();
    const wallNow = this.wallClock();
    const records: LeaseRecord[] = [];
    for (const scope of this.scopes) {
      for (const lease of scope.pool.leases()) {
        if (lease.state !== 'bound' || lease.expiresAt <= now) continue;
        records.push({
          expiresUnixSeconds: Math.ceil((wallNow + (lease.expiresAt - now)) / 1000),
          mac: lease.mac,
          address: lease.address,
          hostname: lease.hostname,
          clientId: lease.clientId,
        });
      }
    }
    writeFileAtomic(path, formatLeaseFile(records));
  }

  /** Restores bindings that have time left, and says how many; one that fits no scope (the subnet changed) is dropped with a warning. */
  private loadLeaseFile(path: string): number {
    let restored = 0;
    const { records, errors } = readLeaseFile(path);
    for (const e of errors) this.ctx.trace.log.warn(`DHCP: ${path}:${e.line}: ${e.reason}; line skipped`);
    const now = this.ctx.clock.now();
    const wallNow = this.wallClock();
    for (const r of records) {
      const remaining = r.expiresUnixSeconds * 1000 - wallNow;
      if (remaining <= 0) continue;
      const scope = this.scopes.find(
        (s) => s.pool.staticFor(r.mac)?.address === r.address || (r.address >= s.pool.first && r.address <= s.pool.last),
      );
      if (!scope) {
        this.ctx.trace.log.warn(`DHCP: lease ${formatIpv4(r.address)} for ${formatMac(r.mac)} fits no pool; dropped`);
        continue;
      }
      const clientId = r.clientId === undefined ? undefined : Buffer.from(r.clientId, 'hex');
      const client = clientIdentity(r.mac, clientId);
      if (!scope.pool.availableTo(r.address, client.key, client.mac, now)) continue;
      const { lease } = scope.pool.bind(client, r.address, r.hostname, now, Math.min(remaining, 0xffffffff * 1000));
      if (lease.hostname !== undefined) this.options.onLeaseBound?.(lease.hostname, lease.address);
      this.armExpiry(lease.expiresAt);
      restored++;
    }
    return restored;
  }

  private armExpiry(at: Instant): void {
    if (!this.expiryTimer.armed || at < this.expiryTimer.deadline) this.expiryTimer.armAt(at);
  }

  /** The expiry timer: bindings whose time is up leave DNS and the lease file. */
  private expireLeases(): void {
    const now = this.ctx.clock.now();
    let next: Instant | undefined;
    for (const scope of this.scopes) {
      for (const lease of scope.pool.expire(now)) {
        this.ctx.trace.event('DHCP lease expired', () => `${formatIpv4(lease.address)} ${formatMac(lease.mac)}`);
        if (lease.hostname !== undefined) this.options.onLeaseEnded?.(lease.hostname, lease.address);
        this.markDirty();
      }
      const n = scope.pool.nextExpiry();
      if (n !== undefined && (next === undefined || n < next)) next = n;
    }
    if (next !== undefined) this.expiryTimer.armAt(next);
  }

  /** Tells DNS a live binding ended (before the pool changes its state). */
  private leaseEnded(lease: Lease, now: Instant, alreadyEnded = false): void {
    const live = alreadyEnded || (lease.state === 'bound' && lease.expiresAt > now);
    if (live && lease.hostname !== undefined) this.options.onLeaseEnded?.(lease.hostname, lease.address);
  }

  /** Every record of every scope, for `tapnet show leases`. */
  leases(): DhcpLeaseInfo[] {
    const now = this.ctx.clock.now();
    const out: DhcpLeaseInfo[] = [];
    for (const scope of this.scopes) {
      for (const l of scope.pool.leases()) {
        out.push({
          address: formatIpv4(l.address),
          state: l.state === 'bound' && l.expiresAt <= now ? 'expired' : l.state,
          mac: formatMac(l.mac),
          hostname: l.hostname,
          clientId: l.clientId,
          expiresInSeconds: Math.max(0, Math.round((l.expiresAt - now) / 1000)),
          interface: scope.iface.name,
        });
      }
    }
    return out;
  }

  /** `tapnet show leases`: one line per address the pools have handed out. */
  show(): string {
    let out = 'address          state     expires  mac                hostname         interface\n';
    for (const l of this.leases()) {
      const expires = l.state === 'bound' || l.state === 'offered' || l.state === 'declined' ? `${l.expiresInSeconds}s` : '-';
      out += `${l.address.padEnd(16)} ${l.state.padEnd(9)} ${expires.padStart(7)}  ${l.mac}  ${(l.hostname ?? '-').padEnd(16)} ${l.interface}\n`;
    }
    for (const s of this.scopes) {
      out += `# ${s.iface.name}: pool ${formatIpv4(s.pool.first)}-${formatIpv4(s.pool.last)}, ${s.pool.activeCount(this.ctx.clock.now())} in use\n`;
    }
    return out;
  }
}
