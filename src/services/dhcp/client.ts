/**
 * DHCPv4 client: takes an interface's address from a DHCP server.
 *
 * Read first: RFC 2131 §4.4 (client behaviour, Figure 5 below), §4.1
 * (retransmission back-off), §4.4.5 (T1/T2, renewing and rebinding), RFC
 * 2132 §9 (the options a client sends).
 *
 *              start ──▶ INIT ◀──────────── NAK / lease expired ──────────┐
 *                         │ DISCOVER (broadcast)                           │
 *                         ▼                                                │
 *                     SELECTING ── OFFER / REQUEST (broadcast) ──▶ REQUESTING
 *                                                                   │ ACK  │
 *                     REBINDING ◀── T2 ── RENEWING ◀── T1 ── BOUND ◀┘      │
 *                       │ REQUEST          │ REQUEST         ▲             │
 *                       │ (broadcast)      │ (unicast)       │ ACK         │
 *                       └──────────────────┴─────────────────┘             │
 *                                 NAK, or the lease runs out ──────────────┘
 *
 * On BOUND the client gives the interface its address, the connected route
 * and a default route through the first router (`ip addr add` + `ip route
 * add default`), and takes them away when the lease ends. Timers run on the
 * injected clock, so tests drive the whole life of a lease without sleeping.
 */
import type { StackContext } from '../../core/context.js';
import { describeParseError } from '../../core/parse-result.js';
import type { Instant, Timer } from '../../core/time.js';
import type { NetworkInterface } from '../../l2/interface.js';
import { writeMac } from '../../l2/mac-address.js';
import { IPV4_BROADCAST, formatIpv4, inCidr, prefixMask, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import type { UdpSocket } from '../../l4/udp/udp.js';
import type { Host } from '../../node/host.js';
import { BootpOp, DhcpFlags, HTYPE_ETHERNET, describeDhcpMessage, encodeDhcpMessage, parseDhcpMessage, type DhcpMessage } from './message.js';
import { DhcpMessageType, DhcpOptionCode, type DhcpOptions } from './options.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from './server-reply.js';

/** RFC 2131 §4.4.1: "wait a random time between one and ten seconds to desynchronize the use of DHCP at startup." */
export const DHCP_INIT_DELAY_MAX_MS = 10_000;
/** RFC 2131 §4.1: the first retransmission after 4 s, doubling up to 64 s, each randomized by ±1 s. */
export const DHCP_RETRANSMIT_FIRST_MS = 4_000;
export const DHCP_RETRANSMIT_MAX_MS = 64_000;
export const DHCP_RETRANSMIT_JITTER_MS = 1_000;
/** REQUESTs in REQUESTING before starting over: 4 + 8 + 16 + 32 s, about the minute RFC 2131 §3.1 step 5 allows. */
export const DHCP_REQUEST_ATTEMPTS_MAX = 5;
/** RFC 2131 §4.4.5: in RENEWING and REBINDING, retransmit after half the remaining time, "down to a minimum of 60 seconds". */
export const DHCP_RENEW_RETRANSMIT_MIN_MS = 60_000;
/** RFC 2132 §9.10: the largest message we accept; our MTU is 1500 and IP reassembles anything larger anyway. */
const MAX_MESSAGE_SIZE = 1500;
/** What we ask for (option 55): mask, router, DNS, domain name, lease time, T1, T2. */
const PARAMETER_REQUEST_LIST = [
  DhcpOptionCode.subnetMask,
  DhcpOptionCode.router,
  DhcpOptionCode.domainNameServer,
  DhcpOptionCode.domainName,
  DhcpOptionCode.ipAddressLeaseTime,
  DhcpOptionCode.renewalTimeValue,
  DhcpOptionCode.rebindingTimeValue,
];

export type DhcpClientState = 'STOPPED' | 'INIT' | 'SELECTING' | 'REQUESTING' | 'BOUND' | 'RENEWING' | 'REBINDING';

export const DhcpClientCounter = {
  outDiscovers: 'dhcpClientOutDiscovers',
  outRequests: 'dhcpClientOutRequests',
  outReleases: 'dhcpClientOutReleases',
  inOffers: 'dhcpClientInOffers',
  inAcks: 'dhcpClientInAcks',
  inNaks: 'dhcpClientInNaks',
  /** A reply that does not parse. */
  inErrors: 'dhcpClientInErrors',
  /** Well-formed but not for us now: another xid or chaddr, a type the state does not expect, an unusable offer. */
  inIgnored: 'dhcpClientInIgnored',
  /** The lease ran out without a renewal. */
  leaseExpired: 'dhcpClientLeaseExpired',
  /** A message the UDP layer could not send (no route to the server). */
  outErrors: 'dhcpClientOutErrors',
} as const;

export interface DhcpClientOptions {
  /** Option 12: the name we would like (the server may register it in DNS). */
  readonly hostname?: string;
  /** Option 61; default: type 1 (Ethernet) + our MAC (RFC 2132 §9.14), as udhcpc and systemd-networkd send. */
  readonly clientId?: Uint8Array;
  /** Upper bound of the random wait before the first DISCOVER (default DHCP_INIT_DELAY_MAX_MS). */
  readonly initDelayMaxMs?: number;
  /** Called on BOUND and on every renewal. */
  readonly onBound?: (lease: DhcpClientLease) => void;
  /** Called when the address is taken away (NAK, expiry, release). */
  readonly onUnbound?: (reason: string) => void;
}

export interface DhcpClientLease {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
  /** Option 54: where renewals go. */
  readonly serverId: Ipv4Address;
  readonly routers: readonly Ipv4Address[];
  readonly dnsServers: readonly Ipv4Address[];
  readonly domainName: string | undefined;
  readonly leaseSeconds: number;
  /** Clock times of T1, T2 and the end of the lease. */
  readonly renewAt: Instant;
  readonly rebindAt: Instant;
  readonly expiresAt: Instant;
}

export class DhcpClient {
  state: DhcpClientState = 'STOPPED';
  lease: DhcpClientLease | undefined;
  private readonly ctx: StackContext;
  private socket: UdpSocket | undefined;
  private readonly clientId: Uint8Array;
  private xid = 0;
  /** When this acquisition or renewal began (the 'secs' field counts from here). */
  private startedAt: Instant = 0;
  /** When the first REQUEST of this exchange went out: lease times count from here. */
  private requestedAt: Instant = 0;
  private attempts = 0;
  /** The offer being requested in REQUESTING. */
  private offered: { address: Ipv4Address; serverId: Ipv4Address } | undefined;
  /** The address configured on the interface now. */
  private configured: Ipv4Cidr | undefined;
  private readonly retransmitTimer: Timer;
  private readonly renewTimer: Timer;
  private readonly rebindTimer: Timer;
  private readonly expiryTimer: Timer;
  private readonly buffer = new Uint8Array(MAX_MESSAGE_SIZE);

  constructor(
    private readonly host: Host,
    readonly iface: NetworkInterface,
    private readonly options: DhcpClientOptions = {},
  ) {
    this.ctx = host.ctx;
    if (options.clientId) {
      this.clientId = options.clientId;
    } else {
      this.clientId = new Uint8Array(7);
      this.clientId[0] = HTYPE_ETHERNET;
      writeMac(this.clientId, 1, iface.mac);
    }
    const { timers } = this.ctx;
    this.retransmitTimer = timers.timer(() => this.retransmit());
    this.renewTimer = timers.timer(() => this.enterRenewing());
    this.rebindTimer = timers.timer(() => this.enterRebinding());
    this.expiryTimer = timers.timer(() => this.leaseExpired());
    this.ctx.stats.declare(...Object.values(DhcpClientCounter));
  }

  /** Opens port 68 on the interface and starts in INIT (RFC 2131 §4.4.1). */
  start(): void {
    if (this.state !== 'STOPPED') return;
    const socket = this.host.udp.createSocket();
    socket.bindToLink(this.iface);
    socket.setBroadcast(true);
    socket.bind(DHCP_CLIENT_PORT);
    socket.on('message', (msg) => this.receive(msg));
    this.socket = socket;
    this.enterInit(this.options.initDelayMaxMs ?? DHCP_INIT_DELAY_MAX_MS);
  }

  /**
   * RFC 2131 §4.4.6: "the client may choose to relinquish its lease by
   * sending a DHCPRELEASE message to the server", unicast, then stop using
   * the address. The client stops.
   */
  release(): void {
    const lease = this.lease;
    if (lease && (this.state === 'BOUND' || this.state === 'RENEWING' || this.state === 'REBINDING')) {
      this.xid = this.ctx.random.u32();
      this.send(DhcpMessageType.RELEASE, { ciaddr: lease.address, serverId: lease.serverId }, lease.serverId);
      this.ctx.stats.inc(DhcpClientCounter.outReleases);
    }
    this.unbind('released');
    this.stop();
  }

  /** Stops without releasing (like `dhclient -x`): the address stays until someone removes it. */
  stop(): void {
    for (const t of [this.retransmitTimer, this.renewTimer, this.rebindTimer, this.expiryTimer]) t.cancel();
    this.socket?.close();
    this.socket = undefined;
    this.state = 'STOPPED';
  }

  /** One line for `tapnet show leases` on a DHCP client. */
  describe(): string {
    const l = this.lease;
    if (!l) return `dhcp client on ${this.iface.name}: ${this.state}\n`;
    const now = this.ctx.clock.now();
    const secs = (t: Instant): string => `${Math.max(0, Math.round((t - now) / 1000))}s`;
    return (
      `dhcp client on ${this.iface.name}: ${this.state} ${formatIpv4(l.address)}/${l.prefixLength} from ${formatIpv4(l.serverId)}, ` +
      `lease ${l.leaseSeconds}s (renew in ${secs(l.renewAt)}, rebind in ${secs(l.rebindAt)}, expires in ${secs(l.expiresAt)})` +
      `${l.routers[0] !== undefined ? `, router ${formatIpv4(l.routers[0])}` : ''}` +
      `${l.dnsServers.length ? `, dns ${l.dnsServers.map(formatIpv4).join(' ')}` : ''}${l.domainName ? `, domain ${l.domainName}` : ''}\n`
    );
  }

  // --- states ---------------------------------------------------------------

  private enterInit(delayMaxMs: number): void {
    this.state = 'INIT';
    this.offered = undefined;
    for (const t of [this.renewTimer, this.rebindTimer, this.expiryTimer]) t.cancel();
    this.retransmitTimer.callback = () => this.sendDiscover();
    this.retransmitTimer.armIn(Math.floor(this.ctx.random.float() * delayMaxMs));
  }

  /** INIT → SELECTING: "The client broadcasts a DHCPDISCOVER message on its local physical subnet" (§3.1 step 1). */
  private sendDiscover(): void {
    this.retransmitTimer.callback = () => this.retransmit();
    this.state = 'SELECTING';
    this.xid = this.ctx.random.u32();
    this.startedAt = this.ctx.clock.now();
    this.attempts = 0;
    this.transmitForState();
  }

  /** BOUND → RENEWING at T1: REQUEST unicast to the server that gave the lease. */
  private enterRenewing(): void {
    if (this.state !== 'BOUND') return;
    this.state = 'RENEWING';
    this.xid = this.ctx.random.u32();
    this.startedAt = this.requestedAt = this.ctx.clock.now();
    this.attempts = 0;
    this.transmitForState();
  }

  /** RENEWING → REBINDING at T2: the server did not answer; ask any server by broadcast. */
  private enterRebinding(): void {
    if (this.state !== 'BOUND' && this.state !== 'RENEWING') return;
    this.state = 'REBINDING';
    this.requestedAt = this.ctx.clock.now();
    this.attempts = 0;
    this.transmitForState();
  }

  /** §4.4.5: "If the lease expires before the client receives a DHCPACK, the client moves to INIT state, MUST immediately stop any other network processing and requests network initialization parameters". */
  private leaseExpired(): void {
    this.ctx.stats.inc(DhcpClientCounter.leaseExpired);
    this.unbind('lease expired');
    this.enterInit(0);
  }

  private retransmit(): void {
    this.attempts++;
    if (this.state === 'REQUESTING' && this.attempts >= DHCP_REQUEST_ATTEMPTS_MAX) {
      // No ACK for the offer we chose: start over (§3.1 step 5 "the client restarts the configuration process").
      this.enterInit(0);
      return;
    }
    this.transmitForState();
  }

  /** Sends what the current state sends, and arms the retransmission. */
  private transmitForState(): void {
    const now = this.ctx.clock.now();
    switch (this.state) {
      case 'SELECTING':
        this.send(DhcpMessageType.DISCOVER, {}, IPV4_BROADCAST);
        this.ctx.stats.inc(DhcpClientCounter.outDiscovers);
        this.retransmitTimer.armIn(this.backoff());
        return;
      case 'REQUESTING':
        this.send(DhcpMessageType.REQUEST, { requested: this.offered!.address, serverId: this.offered!.serverId }, IPV4_BROADCAST);
        this.ctx.stats.inc(DhcpClientCounter.outRequests);
        this.retransmitTimer.armIn(this.backoff());
        return;
      case 'RENEWING': {
        const lease = this.lease!;
        this.send(DhcpMessageType.REQUEST, { ciaddr: lease.address }, lease.serverId);
        this.ctx.stats.inc(DhcpClientCounter.outRequests);
        this.retransmitTimer.armIn(Math.max((lease.rebindAt - now) / 2, DHCP_RENEW_RETRANSMIT_MIN_MS));
        return;
      }
      case 'REBINDING': {
        const lease = this.lease!;
        this.send(DhcpMessageType.REQUEST, { ciaddr: lease.address }, IPV4_BROADCAST);
        this.ctx.stats.inc(DhcpClientCounter.outRequests);
        this.retransmitTimer.armIn(Math.max((lease.expiresAt - now) / 2, DHCP_RENEW_RETRANSMIT_MIN_MS));
        return;
      }
      default:
        return;
    }
  }

  /** §4.1: 4 s, 8 s, 16 s, ... up to 64 s, each ±1 s at random. */
  private backoff(): number {
    const base = Math.min(DHCP_RETRANSMIT_FIRST_MS * 2 ** this.attempts, DHCP_RETRANSMIT_MAX_MS);
    return base + (this.ctx.random.float() * 2 - 1) * DHCP_RETRANSMIT_JITTER_MS;
  }

  // --- receiving ------------------------------------------------------------

  /** A message on port 68. */
  receive(bytes: Uint8Array): void {
    const { ctx } = this;
    const parsed = parseDhcpMessage(bytes);
    if (!parsed.ok) return ctx.trace.dropped(DhcpClientCounter.inErrors, describeParseError(parsed.error), () => `${bytes.length} bytes`);
    const m = parsed.value;
    const describe = (): string => describeDhcpMessage(m);
    // §4.4.1: the client matches replies by 'xid' (and we by our chaddr: another client's broadcast ACK is not ours).
    if (m.op !== BootpOp.BOOTREPLY || m.xid !== this.xid || m.chaddr !== this.iface.mac) {
      return ctx.trace.dropped(DhcpClientCounter.inIgnored, 'not a reply to our transaction', describe);
    }
    switch (m.options.messageType) {
      case DhcpMessageType.OFFER:
        ctx.stats.inc(DhcpClientCounter.inOffers);
        return this.receiveOffer(m);
      case DhcpMessageType.ACK:
        ctx.stats.inc(DhcpClientCounter.inAcks);
        return this.receiveAck(m);
      case DhcpMessageType.NAK:
        ctx.stats.inc(DhcpClientCounter.inNaks);
        return this.receiveNak(m);
      default:
        return ctx.trace.dropped(DhcpClientCounter.inIgnored, 'not a message type a server sends a client', describe);
    }
  }

  /**
   * SELECTING: "The client receives one or more DHCPOFFER messages from one
   * or more servers. The client may choose to wait for multiple responses."
   * (§3.1 step 3). We take the first usable one, as dhclient and udhcpc do.
   */
  private receiveOffer(m: DhcpMessage): void {
    const serverId = m.options.serverIdentifier;
    if (this.state !== 'SELECTING' || m.yiaddr === 0 || serverId === undefined) {
      return this.ctx.trace.dropped(DhcpClientCounter.inIgnored, 'offer unusable or not expected now', () => describeDhcpMessage(m));
    }
    this.offered = { address: m.yiaddr, serverId };
    this.state = 'REQUESTING';
    this.requestedAt = this.ctx.clock.now();
    this.attempts = 0;
    this.transmitForState();
  }

  /** REQUESTING / RENEWING / REBINDING: "The client receives the DHCPACK message with configuration parameters." (§3.1 step 5) */
  private receiveAck(m: DhcpMessage): void {
    const expecting = this.state === 'REQUESTING' || this.state === 'RENEWING' || this.state === 'REBINDING';
    if (!expecting || m.yiaddr === 0) {
      return this.ctx.trace.dropped(DhcpClientCounter.inIgnored, 'ACK not expected now', () => describeDhcpMessage(m));
    }
    const now = this.ctx.clock.now();
    const o = m.options;
    const leaseSeconds = o.leaseTime ?? this.lease?.leaseSeconds ?? 0;
    if (leaseSeconds === 0) return this.ctx.trace.dropped(DhcpClientCounter.inIgnored, 'ACK without a lease time', () => describeDhcpMessage(m));
    // §4.4.5: "T1 defaults to (0.5 * duration_of_lease). T2 defaults to (0.875 * duration_of_lease)."
    const t1 = o.renewalTime ?? leaseSeconds * 0.5;
    const t2 = o.rebindingTime ?? leaseSeconds * 0.875;
    // §4.4.1: "The client records the lease expiration time as the sum of the time at which the original
    // request was sent and the duration of the lease from the DHCPACK message."
    const lease: DhcpClientLease = {
      address: m.yiaddr,
      prefixLength: prefixLengthOf(o.subnetMask, m.yiaddr),
      serverId: o.serverIdentifier ?? this.offered?.serverId ?? this.lease?.serverId ?? 0,
      routers: o.routers ?? [],
      dnsServers: o.domainNameServers ?? [],
      domainName: o.domainName,
      leaseSeconds,
      renewAt: this.requestedAt + Math.min(t1, leaseSeconds) * 1000,
      rebindAt: this.requestedAt + Math.min(t2, leaseSeconds) * 1000,
      expiresAt: this.requestedAt + leaseSeconds * 1000,
    };
    this.retransmitTimer.cancel();
    this.bind(lease);
  }

  /** §4.4: "If the client receives a DHCPNAK message, the client restarts the configuration process." */
  private receiveNak(m: DhcpMessage): void {
    if (this.state !== 'REQUESTING' && this.state !== 'RENEWING' && this.state !== 'REBINDING') {
      return this.ctx.trace.dropped(DhcpClientCounter.inIgnored, 'NAK not expected now', () => describeDhcpMessage(m));
    }
    this.ctx.trace.log.warn(`DHCP: NAK from ${formatIpv4(m.options.serverIdentifier ?? 0)}${m.options.message ? ` (${m.options.message})` : ''}; starting over`);
    this.unbind('NAK');
    this.retransmitTimer.cancel();
    this.enterInit(this.options.initDelayMaxMs ?? DHCP_INIT_DELAY_MAX_MS);
  }

  // --- configuring the interface -------------------------------------------

  private bind(lease: DhcpClientLease): void {
    const cidr = { address: lease.address, prefixLength: lease.prefixLength };
    const changed = !this.configured || this.configured.address !== cidr.address || this.configured.prefixLength !== cidr.prefixLength;
    if (changed) {
      if (this.configured) this.host.removeInterfaceAddress(this.iface, this.configured);
      this.host.addInterfaceAddress(this.iface, cidr);
      this.configured = cidr;
      const router = lease.routers[0];
      if (router !== undefined && inCidr(router, cidr)) {
        this.host.routes.add({ destination: { address: 0, prefixLength: 0 }, gateway: router, value: this.iface });
      }
      this.ctx.trace.log.info(
        `DHCP: bound ${formatIpv4(lease.address)}/${lease.prefixLength} on ${this.iface.name} from ${formatIpv4(lease.serverId)} for ${lease.leaseSeconds}s`,
      );
    }
    this.lease = lease;
    this.state = 'BOUND';
    this.renewTimer.armAt(lease.renewAt);
    this.rebindTimer.armAt(lease.rebindAt);
    this.expiryTimer.armAt(lease.expiresAt);
    this.options.onBound?.(lease);
  }

  /** Takes the address (and with it the routes through it) off the interface. */
  private unbind(reason: string): void {
    if (this.configured) {
      this.host.removeInterfaceAddress(this.iface, this.configured);
      this.ctx.trace.log.info(`DHCP: ${formatIpv4(this.configured.address)} removed from ${this.iface.name} (${reason})`);
      this.configured = undefined;
      this.options.onUnbound?.(reason);
    }
    this.lease = undefined;
    for (const t of [this.renewTimer, this.rebindTimer, this.expiryTimer]) t.cancel();
  }

  // --- sending --------------------------------------------------------------

  /**
   * Builds a client message (RFC 2131 Table 5) and sends it from port 68.
   * Before we have an address we set the BROADCAST flag (§4.1: "A client
   * that cannot receive unicast IP datagrams until its protocol software has
   * been configured with an IP address SHOULD set the BROADCAST bit").
   */
  private send(type: DhcpMessageType, what: { ciaddr?: Ipv4Address; requested?: Ipv4Address; serverId?: Ipv4Address }, to: Ipv4Address): void {
    const options: DhcpOptions = { messageType: type, clientIdentifier: this.clientId };
    if (what.requested !== undefined) options.requestedIpAddress = what.requested;
    if (what.serverId !== undefined) options.serverIdentifier = what.serverId;
    if (type !== DhcpMessageType.RELEASE) {
      options.maximumMessageSize = MAX_MESSAGE_SIZE;
      if (this.options.hostname) options.hostName = this.options.hostname;
      options.parameterRequestList = PARAMETER_REQUEST_LIST;
    }
    const elapsed = Math.floor((this.ctx.clock.now() - this.startedAt) / 1000);
    const message: DhcpMessage = {
      op: BootpOp.BOOTREQUEST,
      htype: HTYPE_ETHERNET,
      hlen: 6,
      hops: 0,
      xid: this.xid,
      secs: type === DhcpMessageType.RELEASE ? 0 : Math.min(Math.max(elapsed, 0), 0xffff),
      flags: this.configured ? 0 : DhcpFlags.BROADCAST,
      ciaddr: what.ciaddr ?? 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: this.iface.mac,
      sname: '',
      file: '',
      options,
    };
    const length = encodeDhcpMessage(message, this.buffer, 0);
    this.socket?.send(this.buffer.subarray(0, length), DHCP_SERVER_PORT, formatIpv4(to), (error) => {
      if (error) this.ctx.trace.dropped(DhcpClientCounter.outErrors, error.message);
    });
  }
}

/** The prefix length of a contiguous subnet mask; without a usable one, the class of the address (RFC 791 §3.2, as clients did before option 1). */
export function prefixLengthOf(mask: number | undefined, address: Ipv4Address): number {
  if (mask !== undefined) {
    const ones = Math.clz32(~mask >>> 0); // leading one bits
    if (prefixMask(ones) === mask >>> 0) return ones;
  }
  const first = address >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}
