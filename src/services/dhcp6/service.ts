/**
 * The DHCPv6 server on one of a node's interfaces: server.ts's protocol core
 * on tapnet's own UDP. Read first: RFC 8415 §7.1 (All_DHCP_Relay_Agents_and_Servers,
 * ff02::1:2), §7.2 (clients listen on UDP 546, servers on 547), §18.3 (the
 * server answers to the client's address, a link-local one, port 546).
 *
 *   client [fe80::x]:546 ──Solicit/Request/Information-request──▶ [ff02::1:2]:547 (joined by MLD here)
 *   client [fe80::x]:546 ◀──Advertise/Reply── [fe80::tapnet]:547 (source chosen by IPv6 output: link-local for a link-local destination)
 *
 * The router advertisements say a client should ask (RFC 4861 §4.2 M and O
 * flags); `raFlags()` gives them for the interface's RA configuration.
 */
import { formatIpv6, type Ipv6Address, type Ipv6Cidr } from '../../l3/ipv6/address.js';
import type { Ipv6Interface } from '../../l3/ipv6/interface.js';
import type { UdpSocket } from '../../l4/udp/udp.js';
import type { Host } from '../../node/host.js';
import { writeMac, type MacAddress } from '../../l2/mac-address.js';
import { DHCP6_CLIENT_PORT, DHCP6_SERVER_PORT } from './message.js';
import { DuidType } from './options.js';
import { Dhcp6Server } from './server.js';

/** RFC 8415 §7.1: All_DHCP_Relay_Agents_and_Servers. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Address = Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);

export type Dhcp6Mode = 'stateful' | 'stateless';

/** The pool a stateful server hands out by default: PREFIX::100 to PREFIX::1ff (256 addresses; IPv4's default pool is .100-.199). */
export const DHCP6_DEFAULT_POOL_HOSTS = { first: 0x0100, last: 0x01ff } as const;

export interface Dhcp6ServiceOptions {
  readonly mode: Dhcp6Mode;
  /** The link's /64. */
  readonly prefix: Ipv6Cidr;
  /** Stateful: the pool's ends (differing in the last 16 bits); default PREFIX::100 - PREFIX::1ff. */
  readonly pool?: { readonly first: Ipv6Address; readonly last: Ipv6Address };
  readonly dnsServers: readonly Ipv6Address[];
  readonly domains: readonly string[];
}

/** RFC 4861 §4.2: M ("addresses are available via DHCPv6") and O ("other configuration information is available via DHCPv6"). */
export function dhcp6RaFlags(mode: Dhcp6Mode | undefined): { managed: boolean; otherConfig: boolean } {
  // A stateful server answers Information-requests too (server.ts), so O is set in both modes; with M set it is redundant (§4.2).
  return { managed: mode === 'stateful', otherConfig: mode !== undefined };
}

/** RFC 8415 §11.4 DUID-LL: type 3, hardware type 1 (Ethernet), the MAC. */
export function duidLl(mac: MacAddress): Uint8Array {
  const duid = new Uint8Array(4 + 6);
  duid[1] = DuidType.LL;
  duid[3] = 1;
  writeMac(duid, 4, mac);
  return duid;
}

/** The pool PREFIX::first - PREFIX::last of a /64. */
export function defaultDhcp6Pool(prefix: Ipv6Cidr, hosts: { first: number; last: number } = DHCP6_DEFAULT_POOL_HOSTS): { first: Ipv6Address; last: Ipv6Address } {
  const at = (n: number): Ipv6Address => {
    const a = prefix.address.slice(0, 16);
    a.fill(0, 8);
    a[14] = n >> 8;
    a[15] = n & 0xff;
    return a;
  };
  return { first: at(hosts.first), last: at(hosts.last) };
}

export interface Dhcp6LeaseRow {
  readonly family: 'ipv6';
  readonly address: string;
  readonly state: 'bound';
  readonly duid: string;
  readonly iaid: number;
  readonly expiresInSeconds: number;
  readonly interface: string;
}

export class Dhcp6Service {
  readonly server: Dhcp6Server;
  private readonly socket: UdpSocket;

  constructor(
    host: Host,
    private readonly link: Ipv6Interface,
    readonly options: Dhcp6ServiceOptions,
  ) {
    this.server = new Dhcp6Server(host.ctx, {
      duid: duidLl(link.mac),
      prefix: options.prefix,
      pool: options.mode === 'stateful' ? (options.pool ?? defaultDhcp6Pool(options.prefix)) : undefined,
      dnsServers: options.dnsServers,
      domains: options.domains,
    });
    // §7.1: clients send to ff02::1:2; joining it reports the group by MLD, and IPv6 input accepts it.
    link.joinGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
    this.socket = host.udp.createSocket('udp6');
    this.socket.bind(DHCP6_SERVER_PORT);
    this.socket.on('message', (msg, rinfo) => {
      if (rinfo.interface !== link.name) return;
      const reply = this.server.receive(msg);
      if (!reply) return;
      // §18.3: the reply goes to the address the message came from, on the client port (§7.2).
      this.socket.send(reply, DHCP6_CLIENT_PORT, rinfo.address, (error) => {
        if (error) host.ctx.trace.dropped('dhcp6OutErrors', `reply not sent: ${error.message}`, () => `to [${rinfo.address}]:${DHCP6_CLIENT_PORT}`);
      });
    });
  }

  stop(): void {
    this.socket.close();
  }

  /** The bindings, for `tapnet show leases --json`. */
  leases(): Dhcp6LeaseRow[] {
    return this.server.leases().map((l) => ({ family: 'ipv6', address: l.address, state: 'bound', duid: l.duid, iaid: l.iaid, expiresInSeconds: l.expiresIn, interface: this.link.name }));
  }

  /** The bindings as a table, for `tapnet show leases`. */
  show(): string {
    const pool = this.server.config.pool;
    let out = 'DHCPv6 address                  expires  iaid        duid\n';
    for (const l of this.leases()) out += `${l.address.padEnd(30)} ${`${l.expiresInSeconds}s`.padStart(8)}  ${String(l.iaid).padEnd(10)}  ${l.duid}\n`;
    out += `# ${this.link.name}: DHCPv6 ${this.options.mode}${pool ? `, pool ${formatIpv6(pool.first)}-${formatIpv6(pool.last)}, ${this.leases().length} in use` : ''}\n`;
    return out;
  }
}
