/**
 * `tapnet up`: the default lab. One TAP; tapnet is .1 of the subnet, the
 * kernel end is .2 (in the host namespace, or in --netns NS).
 *
 * Order matters: everything we create is recorded in `cleanup` as soon as it
 * exists, so a failure half-way (or SIGINT) removes exactly what we made.
 */
import type { CongestionControlName } from '../l4/tcp/config.js';
import { createHash } from 'node:crypto';
import { createContext } from '../core/context.js';
import { RealTimeDriver } from '../core/time.js';
import { createLogger, type LogFormat, type LogLevel } from '../core/trace.js';
import { PcapWriter } from '../core/pcap.js';
import { capture } from '../device/pcap-device.js';
import { openTap, TunOffload } from '../device/tap.js';
import { VnetDevice } from '../device/vnet.js';
import type { Device } from '../device/device.js';
import { formatIpv4, formatIpv4Cidr, networkOf, parseIpv4, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { Host } from '../node/host.js';
import { formatIpv6, formatIpv6Cidr, parseIpv6, parseIpv6Cidr, withInterfaceId, type Ipv6Cidr } from '../l3/ipv6/address.js';
import { controlSocketAlive, controlSocketPath, startControlServer } from './control.js';
import { ip, netnsAdd, netnsDelete, netnsExists, sysctl } from '../os/run.js';
import { rmSync } from 'node:fs';
import { DnsServer } from '../services/dns/server.js';
import { DnsForwarder, type Upstream } from '../services/dns/forwarder.js';
import { DEFAULT_LAB_ZONE, buildLabZone } from '../services/dns/config.js';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DhcpServer } from '../services/dhcp/server.js';
import { startHttpService } from '../services/http/server.js';
import { listenDnsTcp } from '../services/dns/tcp.js';
import { Iperf3Server } from '../services/iperf3/server.js';
import { startSmallServices, type SmallServiceName } from '../services/small/index.js';
import { tcpFetch } from './tcp-fetch.js';
import { serveUntilSignalled, signalsDelivered } from './signals.js';
import { DhcpClient } from '../services/dhcp/client.js';
import { observe } from '../device/observe.js';
import { uiStarter, type UiOptions } from './ui/server.js';
import { Dhcp6Service, dhcp6RaFlags, type Dhcp6Mode } from '../services/dhcp6/service.js';
import type { StaticLease } from '../services/dhcp/lease-store.js';

export interface UpOptions {
  readonly tap: string;
  readonly subnet: Ipv4Cidr;
  /** IPv6 /64 (`--subnet6`, default fd77::/64): tapnet is ::1 and advertises the prefix; the kernel end takes an address by SLAAC. */
  readonly subnet6?: Ipv6Cidr;
  readonly netns?: string;
  /** The TAP's MTU (`--mtu`), kernel end and tapnet's device alike; default 1500. */
  readonly mtu?: number;
  /** Give the kernel end the .2 address (default true). */
  readonly hostAddress: boolean;
  /** TSO and checksum offload with the kernel over the virtio-net header (default true; `--no-offload`). */
  readonly offload?: boolean;
  /** The TAP read loop's busy-poll budget in µs (default BUSY_POLL_US_DEFAULT; 0 off; `--busy-poll`). */
  readonly busyPollUs?: number;
  /** tapnet's TCP congestion control (`--congestion`), CUBIC when absent. */
  readonly congestionControl?: CongestionControlName;
  readonly pcap?: string;
  readonly logLevel: LogLevel;
  /** Readable lines on a terminal, JSON otherwise (`auto`, the default), or forced. */
  readonly logFormat?: LogFormat;
  /** Where names outside the lab zone are forwarded (`--dns-upstream`); none: they are REFUSED. */
  readonly dnsUpstreams?: readonly Upstream[];
  /** Extra records for the lab zone, master-file lines (`--dns-record`). */
  readonly dnsRecords?: readonly string[];
  /** The iperf3-compatible server on port 5201 (default true; `--no-iperf3`). */
  readonly iperf3?: boolean;
  /** RFC small services to serve over TCP and UDP (`--small-services echo,chargen`); default none. */
  readonly smallServices?: readonly SmallServiceName[];
  /** DHCP: serve leases from the pool (the CLI's default), or take tapnet's own address from a server on the kernel side; absent: none. */
  readonly dhcp?: UpDhcpOptions;
  /** `--ui [ADDR:]PORT`: serve the browser view (src/runtime/ui) from the start. */
  readonly ui?: UiOptions;
  /** DHCPv6 (`--dhcp6`, RFC 8415): addresses from PREFIX::100-1ff and DNS (stateful, RA M flag), or DNS only (stateless, RA O flag); absent: none. */
  readonly dhcp6?: Dhcp6Mode;
}

export type UpDhcpOptions =
  | {
      readonly mode: 'server';
      /** Lease file (`--lease-file`); default `defaultLeaseFile(tap)`. */
      readonly leaseFile?: string;
      readonly leaseTimeSeconds?: number;
      /** `--dhcp-host MAC,ADDRESS[,NAME]`. */
      readonly staticLeases?: readonly StaticLease[];
    }
  | { readonly mode: 'client' };

/** Where `tapnet up` keeps leases: /var/lib/tapnet/<tap>.leases (TAPNET_STATE_DIR overrides the directory, as tests do). */
export function defaultLeaseFile(tap: string): string {
  return join(process.env.TAPNET_STATE_DIR ?? '/var/lib/tapnet', `${tap}.leases`);
}

/**
 * RFC 2131 §4.4.1 asks for 1-10 s before the first DISCOVER to spread a
 * power-up storm; one lab host has no storm to spread, so at most 1 s.
 */
const DHCP_CLIENT_START_DELAY_MAX_MS = 1_000;

/** The default lab's IPv6 prefix (RFC 4193 unique local, like 10.77.0.0/24 is RFC 1918). */
export const DEFAULT_SUBNET6: Ipv6Cidr = parseIpv6Cidr('fd77::/64')!;

/** What `tapnet up` asks of the kernel: TCP segmentation both ways and partial checksums (fewer if refused). */
const OFFLOADS = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;

/** A stable, locally administered MAC derived from the TAP name, so ARP caches survive restarts. */
export function macForName(name: string): number {
  const h = createHash('sha256').update(`tapnet:${name}`).digest();
  return 0x02_0000000000 + h.readUIntBE(0, 5) % 0x10000000000;
}

export interface RunningLab {
  readonly host: Host;
  readonly device: Device;
  /** The lab's DNS server (port 53 on tapnet's addresses, v4 and v6); DHCP registers lease names in `dns.zone`. */
  readonly dns: DnsServer;
  stop(): Promise<void>;
}

/**
 * Starts the default lab; resolves once it serves. Used by the CLI and by tests. An abort of `signal`
 * (SIGINT/SIGTERM during start-up, src/runtime/signals.ts) is noticed after each `await`: what was made is
 * removed and the promise rejects with the signal's reason.
 */
export async function startUp(options: UpOptions, signal?: AbortSignal): Promise<RunningLab> {
  const log = createLogger(options.logLevel, 'tapnet', options.logFormat);
  const socketPath = controlSocketPath(options.tap);
  if (await controlSocketAlive(socketPath)) {
    throw new Error(`TAP ${options.tap} is in use by another tapnet (control socket ${socketPath} answers)`);
  }
  signal?.throwIfAborted();

  const cleanup: Array<() => void> = [];
  const undo = (): void => {
    while (cleanup.length) {
      try {
        cleanup.pop()!();
      } catch (e) {
        log.warn(`cleanup: ${(e as Error).message}`);
      }
    }
  };

  try {
    const network = networkOf(options.subnet);
    const tapnetAddress = (network + 1) >>> 0;
    const kernelAddress = (network + 2) >>> 0;
    const prefix = options.subnet.prefixLength;
    const subnet6 = options.subnet6 ?? DEFAULT_SUBNET6;
    const tapnet6 = withInterfaceId(subnet6.address, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1));

    // The lab zone (gateway/host + --dns-record), checked before anything is created.
    const zone = buildLabZone(
      { tapnet: tapnetAddress, kernel: options.hostAddress ? kernelAddress : undefined, subnet: options.subnet, tapnet6, subnet6 },
      { records: options.dnsRecords },
    );
    if (!zone.ok) throw Object.assign(new Error(`--dns-record: ${zone.error}`), { name: 'UsageError' });

    const offload = options.offload ?? true;
    const tap = openTap({ name: options.tap, mtu: options.mtu, vnetHdr: offload, offloadFlags: offload ? OFFLOADS : 0, busyPollUs: options.busyPollUs });
    cleanup.push(() => tap.close());

    const ns = options.netns;
    if (ns) {
      if (!netnsExists(ns)) {
        netnsAdd(ns);
        cleanup.push(() => netnsDelete(ns));
      }
      ip(['link', 'set', tap.name, 'netns', ns]);
    }
    // openTap set it with SIOCSIFMTU; say it again where the kernel end now lives, and check both ends agree.
    if (options.mtu !== undefined) {
      ip(['link', 'set', 'dev', tap.name, 'mtu', String(options.mtu)], ns);
      if (tap.mtu !== options.mtu) throw new Error(`TAP ${tap.name}: MTU is ${tap.mtu}, not ${options.mtu}`);
    }
    // Dual stack: the kernel end takes its IPv6 address by SLAAC from tapnet's router advertisements.
    // accept_ra=2 accepts them even if forwarding is on there; set before the link comes up, so its
    // first router solicitation already counts.
    sysctl(`net.ipv6.conf.${tap.name}.disable_ipv6`, '0', ns);
    sysctl(`net.ipv6.conf.${tap.name}.accept_ra`, '2', ns);
    sysctl(`net.ipv6.conf.${tap.name}.autoconf`, options.hostAddress ? '1' : '0', ns);
    sysctl(`net.ipv6.conf.${tap.name}.accept_dad`, '1', ns);
    if (options.hostAddress) ip(['addr', 'add', `${formatIpv4(kernelAddress)}/${prefix}`, 'dev', tap.name], ns);
    ip(['link', 'set', tap.name, 'up'], ns);

    const ctx = createContext({ log, node: 'tapnet' });
    // With offload the kernel hands over 64 KB TCP segments and takes ours whole (TSO); the layer strips
    // and adds the virtio-net header, so the stack (and the pcap file) see plain Ethernet frames.
    let device: Device = tap.vnetHdr ? new VnetDevice(tap, ctx.stats, ctx.trace) : tap;
    if (tap.vnetHdr && tap.offloadFlags !== OFFLOADS) {
      log.info(`${tap.name}: the kernel refused some offloads; using flags 0x${tap.offloadFlags.toString(16)}`);
    }
    if (options.pcap) {
      const writer = new PcapWriter(options.pcap);
      cleanup.push(() => writer.close());
      device = capture(device, writer);
    }
    // Watchable by the browser view: one boolean test per frame while nobody watches.
    const point = `tapnet:${tap.name}`;
    device = observe(device, point);

    const driver = new RealTimeDriver(ctx.timers);
    cleanup.push(() => driver.stop());
    const host = new Host(ctx);
    if (options.congestionControl) host.tcp.layer.configure({ congestionControl: options.congestionControl });
    // As a DHCP client tapnet starts without an address and takes one from the kernel side's server.
    const dhcpClientMode = options.dhcp?.mode === 'client';
    const iface = host.addInterface(device, {
      name: tap.name,
      mac: macForName(tap.name),
      ipv4: dhcpClientMode ? [] : [{ address: tapnetAddress, prefixLength: prefix }],
      ipv6: {
        addresses: [{ address: tapnet6, prefixLength: 64 }],
        // A default router only inside a lab namespace: in the host namespace it would compete with the real one.
        router: { dnsServers: [tapnet6], routerLifetimeSeconds: ns ? undefined : 0, ...dhcp6RaFlags(options.dhcp6) },
      },
    });
    host.start();

    // DNS: the lab zone on port 53, forwarding the rest to --dns-upstream.
    const upstreams = options.dnsUpstreams ?? [];
    const forwarder = upstreams.length > 0 ? new DnsForwarder(ctx, host.udp, upstreams) : undefined;
    const dns = new DnsServer(ctx, { zone: zone.value, forwarder });
    dns.listen(host.udp, dhcpClientMode ? ['::'] : [tapnetAddress, '::']);
    cleanup.push(() => dns.close());
    // DNS over TCP (RFC 7766) and HTTP on port 80, both on tapnet's own TCP (src/l4/tcp).
    const dnsTcp = listenDnsTcp(host, dns);
    cleanup.push(() => dnsTcp.close());
    const http = startHttpService(host);
    cleanup.push(() => http.close());
    // iperf3 (port 5201, TCP and UDP) and the RFC small services, on the same sockets.
    const iperf3 = options.iperf3 === false ? undefined : new Iperf3Server(host);
    if (iperf3) cleanup.push(() => iperf3.close());
    if (options.smallServices && options.smallServices.length > 0) {
      const small = startSmallServices(host, options.smallServices);
      cleanup.push(() => small.close());
    }

    // DHCP (RFC 2131): a pool on the interface, lease names registered in the lab zone; or a client for tapnet itself.
    let showLeases: ((json?: boolean) => unknown) | undefined;
    if (options.dhcp?.mode === 'server') {
      const leaseFile = options.dhcp.leaseFile ?? defaultLeaseFile(tap.name);
      mkdirSync(dirname(leaseFile), { recursive: true });
      const dhcp = new DhcpServer(host, {
        leaseFile,
        leaseTimeSeconds: options.dhcp.leaseTimeSeconds,
        staticLeases: options.dhcp.staticLeases,
        domainName: DEFAULT_LAB_ZONE.replace(/\.$/, ''),
        onLeaseBound: (hostname, address) => dns.zone.registerLease(hostname, address),
        onLeaseEnded: (hostname, address) => dns.zone.unregisterLease(hostname, address),
      });
      dhcp.start();
      cleanup.push(() => dhcp.stop());
      showLeases = (json = false) => (json ? dhcp.leases() : dhcp.show());
    } else if (options.dhcp?.mode === 'client') {
      const client = new DhcpClient(host, iface, { hostname: 'tapnet', initDelayMaxMs: DHCP_CLIENT_START_DELAY_MAX_MS });
      client.start();
      cleanup.push(() => client.stop());
      showLeases = () => client.describe();
    }
    // DHCPv6 (RFC 8415) on UDP 547, ff02::1:2; the RA above carries its M/O flags.
    if (options.dhcp6) {
      const link6 = host.ipv6.on(iface);
      if (!link6) throw new Error(`DHCPv6: IPv6 is off on ${tap.name}`);
      const dhcp6 = new Dhcp6Service(host, link6, { mode: options.dhcp6, prefix: subnet6, dnsServers: [tapnet6], domains: [DEFAULT_LAB_ZONE.replace(/\.$/, '')] });
      cleanup.push(() => dhcp6.stop());
      const v4 = showLeases;
      showLeases = (json = false) => {
        if (!json) return `${v4 ? String(v4(false)) : ''}${dhcp6.show()}`;
        // One list, IPv4 rows then IPv6 rows (each IPv6 row says family: 'ipv6'); tapnet as a DHCP client describes itself instead.
        const base = v4?.(true) ?? [];
        return Array.isArray(base) ? [...(base as unknown[]), ...dhcp6.leases()] : { ipv4: base, ipv6: dhcp6.leases() };
      };
    }

    const kernelEnd = `${ns ?? 'kernel'}:${tap.name}`;
    const startUi = uiStarter(
      () => ({
        topology: {
          name: tap.name,
          nodes: [
            { name: 'tapnet', kind: 'router', interfaces: [{ name: tap.name, addresses: [formatIpv4Cidr({ address: tapnetAddress, prefixLength: prefix }), formatIpv6Cidr({ address: tapnet6, prefixLength: 64 })] }] },
            { name: ns ?? 'kernel', kind: 'host', interfaces: [{ name: tap.name, addresses: options.hostAddress ? [`${formatIpv4(kernelAddress)}/${prefix}`] : [] }] },
          ],
          links: [{ a: point, b: kernelEnd, watch: point }],
        },
        stats: ctx.stats,
        tables: () => {
          const out: Record<string, unknown> = {};
          for (const what of ['arp', 'neigh', 'routes', 'tcp']) out[what] = host.showJson(what);
          out.dns = dns.showJson();
          if (showLeases) out.leases = showLeases(true);
          return out;
        },
      }),
      log,
      cleanup,
    );
    if (options.ui) await startUi(options.ui);

    const server = await startControlServer(socketPath, (request) =>
      request.command === 'ui'
        ? startUi({ host: request.args?.[0] ?? '127.0.0.1', port: Number(request.args?.[1] ?? 0), token: request.args?.[2] || undefined })
        : handleControl(host, request.command, request.args ?? [], dns, showLeases, iperf3),
    );
    cleanup.push(() => {
      server.close();
      rmSync(socketPath, { force: true });
    });
    // A signal that came while we were creating the TAP and the namespace is delivered here.
    await signalsDelivered();
    signal?.throwIfAborted();

    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      undo();
    };
    tap.onClose((reason) => {
      if (stopped) return;
      log.error(`TAP ${tap.name} went away (${reason}); stopping`);
      void stop().then(() => process.exit(1));
    });

    log.info(
      {
        tap: tap.name,
        netns: ns,
        tapnet: dhcpClientMode ? 'dhcp' : formatIpv4Cidr({ address: tapnetAddress, prefixLength: prefix }),
        kernel: options.hostAddress ? formatIpv4(kernelAddress) : undefined,
        tapnet6: formatIpv6Cidr({ address: tapnet6, prefixLength: 64 }),
        control: socketPath,
      },
      dhcpClientMode
        ? `tapnet ready on ${tap.name}: DHCP client, waiting for a lease${ns ? ` (from a server in netns ${ns})` : ''}`
        : `tapnet ready on ${tap.name}: ping ${formatIpv4(tapnetAddress)}${ns ? ` (from netns ${ns})` : ''}`,
    );
    return { host, device, dns, stop };
  } catch (e) {
    undo();
    throw e;
  }
}

/** `tapnet up` from the CLI: stop cleanly on SIGINT/SIGTERM with exit code 0, during start-up too. */
export async function runUp(options: UpOptions): Promise<void> {
  await serveUntilSignalled((signal) => startUp(options, signal));
}

async function handleControl(
  host: Host,
  command: string,
  args: readonly string[],
  dns?: DnsServer,
  leases?: (json?: boolean) => unknown,
  iperf3?: Iperf3Server,
): Promise<unknown> {
  switch (command) {
    case 'show':
      if (args[0] === 'iperf3') {
        if (!iperf3) throw new Error('the iperf3 server is off on this tapnet (--no-iperf3)');
        return args[1] === 'json' ? iperf3.status() : iperf3.show();
      }
      if (args[0] === 'leases') {
        if (!leases) throw new Error('DHCP is off on this tapnet');
        return leases(args[1] === 'json');
      }
      if (args[0] === 'dns' && dns) return args[1] === 'json' ? dns.showJson() : dns.show();
      if (args[1] === 'json') return host.showJson(args[0] ?? 'stats');
      return host.show(args[0] ?? 'stats');
    case 'tcp-connect':
      // tapnet as a TCP client: connect, send N pattern bytes, half-close, read to EOF (src/runtime/tcp-fetch.ts).
      return tcpFetch(host, args[0] ?? '', Number(args[1]), Number(args[2] ?? 0));
    case 'ping': {
      const target6 = parseIpv6(args[0] ?? '');
      if (target6) return ping6(host, target6, args[1]);
      const target = parseIpv4(args[0] ?? '');
      if (target === undefined) throw new Error(`invalid address '${args[0]}'`);
      const count = Math.min(Math.max(Number(args[1] ?? 3) || 3, 1), 1000);
      const replies = await host.ping(target, { count, intervalMs: 200, timeoutMs: 2000 });
      let out = `PING ${formatIpv4(target)} from tapnet\n`;
      for (const r of replies) {
        out += r.rttMs === undefined ? `no reply for icmp_seq=${r.sequence}\n` : `reply from ${formatIpv4(target)}: icmp_seq=${r.sequence} time=${r.rttMs.toFixed(3)} ms\n`;
      }
      const received = replies.filter((r) => r.rttMs !== undefined).length;
      out += `${count} packets transmitted, ${received} received, ${Math.round(((count - received) / count) * 100)}% packet loss\n`;
      return out;
    }
    default:
      throw new Error(`unknown command '${command}'`);
  }
}

/** `tapnet ping fd77::2`: echo requests over IPv6, resolved with NDP. */
async function ping6(host: Host, target: Uint8Array, countArg: string | undefined): Promise<string> {
  const count = Math.min(Math.max(Number(countArg ?? 3) || 3, 1), 1000);
  const replies = await host.ipv6.ping(target, { count, intervalMs: 200, timeoutMs: 2000 });
  const name = formatIpv6(target);
  let out = `PING ${name} from tapnet\n`;
  for (const r of replies) {
    out += r.rttMs === undefined ? `no reply for icmp_seq=${r.sequence}\n` : `reply from ${name}: icmp_seq=${r.sequence} time=${r.rttMs.toFixed(3)} ms\n`;
  }
  const received = replies.filter((r) => r.rttMs !== undefined).length;
  out += `${count} packets transmitted, ${received} received, ${Math.round(((count - received) / count) * 100)}% packet loss\n`;
  return out;
}
