/**
 * The `tapnet` command line.
 *
 *   tapnet up [--tap NAME] [--subnet CIDR] [--subnet6 CIDR] [--netns NS] [--mtu N] [--no-host-addr] [--no-offload] [--pcap FILE] [--log-level L]
 *             [--dns-upstream ADDR[:PORT]]... [--dns-record RR]...
 *             [--lease-file FILE] [--lease-time SECONDS] [--dhcp-host MAC,ADDRESS[,NAME]]... [--no-dhcp | --dhcp-client] [--dhcp6 stateful|stateless]
 *             [--no-iperf3] [--small-services all|echo,discard,chargen,daytime,time]
 *   tapnet show stats|arp|routes|interfaces [--tap NAME]
 *   tapnet ping ADDRESS [--tap NAME] [-c COUNT]
 *   tapnet lab up|down|status FILE [--ui [ADDR:]PORT [--ui-token TOKEN]]
 *   tapnet ui [--lab FILE | --tap NAME] [--listen [ADDR:]PORT] [--ui-token TOKEN]
 *   tapnet show mac|ports|routes|lb|... --lab FILE [--node NODE]
 *   tapnet lb add|remove|weight|drain SERVICE BACKEND [ADDRESS:PORT[,WEIGHT] | WEIGHT] --lab FILE [--node NODE]
 *   tapnet link down|up NODE[:PORT] NODE[:PORT] --lab FILE
 *   tapnet bgp refresh|reset [NEIGHBOR] --lab FILE [--node NODE] [--out]
 *
 * A bad argument prints one line naming it and exits with code 2. Each option's
 * parser below returns the parsed value (a CIDR, an address, a number), so
 * the text of an argument is read once, here, and nowhere else.
 */
import { CONGESTION_CONTROL_NAMES, type CongestionControlName } from './l4/tcp/config.js';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatIpv4, formatIpv4Cidr, inCidr, parseIpv4, parseIpv4Cidr, type Ipv4Address, type Ipv4Cidr } from './l3/ipv4/address.js';
import { formatIpv6, isIpv4MappedIpv6, isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6, parseIpv6, parseIpv6Cidr, type Ipv6Cidr } from './l3/ipv6/address.js';
import { Capability, startProblem, type Needs } from './os/privileges.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './core/trace.js';
import { controlRequest, controlSocketPath } from './runtime/control.js';
import { runUp, type UpOptions } from './runtime/up.js';
import { parseMac } from './l2/mac-address.js';
import { sanitizeHostname, type StaticLease } from './services/dhcp/lease-store.js';
import { SMALL_SERVICE_NAMES, parseSmallServices, type SmallServiceName } from './services/small/index.js';
import { parseUpstream, type Upstream } from './services/dns/forwarder.js';
import { checkRecordText } from './services/dns/config.js';
import { PartError, selectPart } from './runtime/vxlan.js';
import { formatLabStatus, labDown, labSocketPath, queryLabStatus, runLab } from './runtime/lab.js';
import { TopologyError, loadTopology, type Topology } from './runtime/topology.js';
import { findLink, parseLinkEnd, type LinkEnd } from './runtime/link-control.js';
import { BUSY_POLL_US_DEFAULT } from './device/tap.js';

export const EXIT_USAGE = 2;

/** Linux interface names: 1..15 bytes, no '/', no whitespace, not "." or "..". */
export function tapName(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(value) || value === '.' || value === '..') {
    throw new InvalidArgumentError('expected an interface name of 1-15 letters, digits, "_", "-" or "."');
  }
  return value;
}

export function netnsName(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value) || value === '.' || value === '..') {
    throw new InvalidArgumentError('expected a namespace name of letters, digits, "_", "-" or "."');
  }
  return value;
}

export function subnet(value: string): Ipv4Cidr {
  const cidr = parseIpv4Cidr(value);
  if (!cidr) throw new InvalidArgumentError('expected an IPv4 CIDR like 10.77.0.0/24');
  if (cidr.prefixLength < 8 || cidr.prefixLength > 30) {
    throw new InvalidArgumentError('prefix length must be between /8 and /30 (tapnet needs .1 and .2)');
  }
  return cidr;
}

/** A /64 for SLAAC (RFC 4862 §5.5.3: 64 bits of interface identifier on Ethernet); tapnet takes ::1. */
export function subnet6(value: string): Ipv6Cidr {
  const cidr = parseIpv6Cidr(value);
  if (!cidr) throw new InvalidArgumentError('expected an IPv6 prefix like fd77::/64');
  if (cidr.prefixLength !== 64) throw new InvalidArgumentError('prefix length must be /64 (the kernel end takes its address by SLAAC)');
  if (isMulticastIpv6(cidr.address) || isLinkLocalIpv6(cidr.address) || isUnspecifiedIpv6(cidr.address) || isIpv4MappedIpv6(cidr.address)) {
    throw new InvalidArgumentError('expected a unicast prefix (not multicast, link-local, :: or IPv4-mapped)');
  }
  return cidr;
}

/** IPv4 or IPv6 (tapnet ping): the address, written in its canonical form (RFC 5952 for IPv6) for the control socket. */
export function ipAddress(value: string): string {
  const v4 = parseIpv4(value);
  if (v4 !== undefined) return formatIpv4(v4);
  const v6 = parseIpv6(value);
  if (v6 !== undefined) return formatIpv6(v6);
  throw new InvalidArgumentError('expected an IPv4 address like 10.77.0.2 or an IPv6 address like fd77::2');
}

export function ipv4Address(value: string): Ipv4Address {
  const address = parseIpv4(value);
  if (address === undefined) throw new InvalidArgumentError('expected an IPv4 address like 10.77.0.2');
  return address;
}

/** The tables `tapnet show` knows (a node shows those it has: a switch has mac and ports, a router leases if it serves DHCP). */
export const SHOW_TABLES = ['stats', 'arp', 'neigh', 'routes', 'interfaces', 'mac', 'ports', 'hooks', 'dns', 'leases', 'conntrack', 'nat', 'firewall', 'uplink', 'tcp', 'wg', 'iperf3', 'lb', 'bgp'] as const;

/** Levenshtein distance, for "did you mean" (only ever on a few short words). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** The closest of `choices` to `value` when it is a plausible typo (at most 2 edits, or a prefix). */
export function didYouMean(value: string, choices: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of choices) {
    const d = c.startsWith(value) && value.length >= 2 ? 1 : editDistance(value, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** `tapnet show WHAT`: one of SHOW_TABLES, with a suggestion for a typo. */
export function showTable(value: string): string {
  if ((SHOW_TABLES as readonly string[]).includes(value)) return value;
  const guess = didYouMean(value, SHOW_TABLES);
  throw new InvalidArgumentError(`no table '${value}'${guess ? ` (did you mean '${guess}'?)` : ''}; tables: ${SHOW_TABLES.join(', ')}`);
}

export function positiveInt(value: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/** `connect --send BYTES`: 0 up to 1 GiB. */
export function byteCount(value: string): number {
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 2 ** 30) throw new InvalidArgumentError('expected a number of bytes, from 0 to 1073741824');
  return Number(value);
}

/** Repeatable `--dns-upstream ADDR[:PORT]`. */
export function dnsUpstream(value: string, previous: Upstream[] = []): Upstream[] {
  const upstream = parseUpstream(value);
  if (!upstream) throw new InvalidArgumentError('expected ADDRESS or ADDRESS:PORT, e.g. 10.77.0.2:5353');
  return [...previous, upstream];
}

/** Repeatable `--dns-record "NAME [TTL] TYPE DATA"`, names relative to the lab zone. */
export function dnsRecord(value: string, previous: string[] = []): string[] {
  const r = checkRecordText(value);
  if (!r.ok) throw new InvalidArgumentError(r.error);
  return [...previous, value];
}

/** `--lease-time SECONDS`: 10 s up to 11 days (shorter makes clients renew every few seconds). */
export function leaseSeconds(value: string): number {
  if (!/^[0-9]{1,6}$/.test(value) || Number(value) < 10) throw new InvalidArgumentError('expected seconds, from 10 to 999999');
  return Number(value);
}

/** Repeatable `--dhcp-host MAC,ADDRESS[,NAME]` (dnsmasq's dhcp-host syntax): a static lease. */
export function dhcpHost(value: string, previous: StaticLease[] = []): StaticLease[] {
  const [macText = '', addressText = '', name, ...rest] = value.split(',');
  const mac = parseMac(macText);
  const address = parseIpv4(addressText);
  if (mac === undefined || address === undefined || rest.length > 0 || (name !== undefined && sanitizeHostname(name) !== name)) {
    throw new InvalidArgumentError('expected MAC,ADDRESS[,NAME], e.g. 02:00:00:00:00:01,10.77.0.50,printer (NAME: lower-case letters, digits, "-")');
  }
  return [...previous, { mac, address, hostname: name }];
}

/** `--small-services echo,discard,chargen,daytime,time` (or `all`). */
export function smallServices(value: string): SmallServiceName[] {
  const r = parseSmallServices(value);
  if (!r.ok) throw new InvalidArgumentError(r.error);
  return r.value;
}

/** `--mtu N`: the TAP's MTU on both ends; 576 (RFC 791's minimum datagram every host takes) to 65521 (the largest Linux lets a TAP have with an Ethernet header in 64 KiB). */
export const TAP_MTU_MIN = 576;
export const TAP_MTU_MAX = 65521;
export function tapMtu(value: string): number {
  if (!/^[0-9]{1,6}$/.test(value) || Number(value) < TAP_MTU_MIN || Number(value) > TAP_MTU_MAX) {
    throw new InvalidArgumentError(`expected an MTU from ${TAP_MTU_MIN} to ${TAP_MTU_MAX}`);
  }
  return Number(value);
}

/** `--busy-poll US`: the TAP read loop's busy-poll budget (native/tap.cc), 0 to turn it off. */
export const BUSY_POLL_US_MAX = 1000;
export function busyPollUs(value: string): number {
  if (!/^[0-9]{1,4}$/.test(value) || Number(value) > BUSY_POLL_US_MAX) throw new InvalidArgumentError(`expected microseconds from 0 to ${BUSY_POLL_US_MAX}`);
  return Number(value);
}

/** `tapnet link down A B`: an end of a lab link, NODE or NODE:PORT. */
export function linkEnd(value: string): LinkEnd {
  const end = parseLinkEnd(value);
  if (!end) throw new InvalidArgumentError('expected NODE or NODE:PORT, e.g. bk-cust or bk-cust:to-a');
  return end;
}

/** The browser view's default port (`tapnet ui`). */
export const UI_PORT_DEFAULT = 8077;

export interface UiListen {
  readonly host: string;
  readonly port: number;
}

/** `--ui [ADDR:]PORT`: PORT alone is 127.0.0.1:PORT; an IPv6 ADDR is written in brackets, [::1]:8077. Port 0: any free port. */
export function uiListen(value: string): UiListen {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[0-9.]+|localhost):)?([0-9]{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError('expected [ADDR:]PORT, e.g. 8077, 127.0.0.1:8077 or [::1]:8077');
  let host = m[1] ?? '127.0.0.1';
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === 'localhost') host = '127.0.0.1';
  if (parseIpv4(host) === undefined && parseIpv6(host) === undefined) throw new InvalidArgumentError(`'${host}' is not an IPv4 or IPv6 address`);
  return { host, port: Number(m[2]) };
}

/** 127.0.0.0/8 and ::1: only this machine can reach the view. */
export function isLoopbackHost(host: string): boolean {
  const v4 = parseIpv4(host);
  if (v4 !== undefined) return v4 >>> 24 === 127;
  return host === '::1';
}

/** The UI options, or a usage error: an address other machines reach needs a token (the view shows every packet). */
export function uiOptions(listen: UiListen | undefined, token: string | undefined, flag = '--ui'): { host: string; port: number; token?: string } | undefined {
  if (listen === undefined) {
    if (token !== undefined) throw Object.assign(new Error(`--ui-token needs ${flag} [ADDR:]PORT`), { name: 'UsageError' });
    return undefined;
  }
  if (!isLoopbackHost(listen.host) && token === undefined) {
    const address = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    throw Object.assign(new Error(`${flag} ${address}: refusing a non-loopback address without --ui-token TOKEN (anyone who reaches it would see every packet of the lab)`), { name: 'UsageError' });
  }
  return { host: listen.host, port: listen.port, token };
}

export function uiToken(value: string): string {
  if (!/^[A-Za-z0-9_.~-]{16,128}$/.test(value)) throw new InvalidArgumentError('expected 16-128 characters of letters, digits, "_", ".", "~" or "-"');
  return value;
}

function uiOption(): Option {
  return new Option('--ui <[addr:]port>', 'serve the browser view (packets, their walk through the code, tables) on this address, 127.0.0.1 by default').argParser(uiListen);
}
function uiTokenOption(): Option {
  return new Option('--ui-token <token>', 'required to serve the browser view on a non-loopback address; the URL carries it').argParser(uiToken);
}

/** `--log-format`: readable lines on a terminal, JSON lines otherwise (pipes, files, tests), unless forced. */
function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines: readable on a terminal and JSON otherwise (auto), or always json / pretty')
    .choices(LOG_FORMATS as string[])
    .default('auto');
}

function tapOption(): Option {
  return new Option('--tap <name>', 'TAP interface name').argParser(tapName).default('tapnet0');
}

export function buildProgram(): Command {
  const program = new Command('tapnet')
    .description('A userspace network stack on Linux TAP devices')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // One line per error, "tapnet: ..." (commander's own text names the option and the value, then "(Did you mean ...?)").
      outputError: (text, write) => write(`tapnet: ${text.replace(/^error: /, '').trim().split('\n').join(' ')}\n`),
    });

  program
    .command('up')
    .description('serve the default lab on a TAP: ping, arping (and more as tapnet grows) from the kernel end')
    .addOption(tapOption())
    .addOption(new Option('--subnet <cidr>', 'IPv4 subnet; tapnet takes .1, the kernel end .2').argParser(subnet).default(subnet('10.77.0.0/24'), '10.77.0.0/24'))
    .addOption(new Option('--subnet6 <cidr>', 'IPv6 /64; tapnet takes ::1 and advertises it, the kernel end takes an address by SLAAC').argParser(subnet6).default(subnet6('fd77::/64'), 'fd77::/64'))
    .addOption(new Option('--netns <ns>', 'move the kernel end into this network namespace (created if absent)').argParser(netnsName))
    .addOption(new Option('--mtu <bytes>', `the TAP's MTU on both ends, ${TAP_MTU_MIN}-${TAP_MTU_MAX}`).argParser(tapMtu).default(1500))
    .option('--no-host-addr', 'do not give the kernel end an address')
    .option('--no-offload', 'no TSO or checksum offload with the kernel (no virtio-net header)')
    .addOption(new Option('--busy-poll <us>', 'keep reading the TAP this long after a batch while traffic is dense (0: off)').argParser(busyPollUs).default(BUSY_POLL_US_DEFAULT))
    .addOption(new Option('--congestion <name>', "tapnet's TCP congestion control").choices(CONGESTION_CONTROL_NAMES).default('cubic'))
    .option('--pcap <file>', 'capture every frame of the TAP to a pcap file')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .addOption(logFormatOption())
    .addOption(new Option('--dns-upstream <addr[:port]>', 'forward names outside the lab zone to this DNS server (repeatable)').argParser(dnsUpstream))
    .addOption(new Option('--dns-record <rr>', 'add a record to the lab zone, e.g. "www CNAME gateway" (repeatable)').argParser(dnsRecord))
    .option('--lease-file <file>', 'DHCP lease file, rewritten atomically (default /var/lib/tapnet/<tap>.leases)')
    .addOption(new Option('--lease-time <seconds>', 'DHCP lease time').argParser(leaseSeconds).default(3600))
    .addOption(new Option('--dhcp-host <mac,address[,name]>', 'a static DHCP lease (repeatable)').argParser(dhcpHost))
    .option('--no-dhcp', 'do not serve DHCP (pool .100-.199 of the subnet by default)')
    .addOption(new Option('--dhcp6 <mode>', 'serve DHCPv6 (RFC 8415): stateful = addresses PREFIX::100-1ff and DNS (RA M flag), stateless = DNS only (RA O flag)').choices(['stateful', 'stateless']))
    .option('--no-iperf3', 'do not run the iperf3-compatible server (TCP and UDP port 5201)')
    .addOption(new Option('--small-services <list>', `serve RFC small services over TCP and UDP: all, or some of ${SMALL_SERVICE_NAMES.join(',')}`).argParser(smallServices))
    .addOption(
      new Option('--dhcp-client', 'take tapnet\'s address from a DHCP server on the kernel side instead of serving one').conflicts([
        'leaseFile',
        'leaseTime',
        'dhcpHost',
        'dhcp',
      ]),
    )
    .addOption(uiOption())
    .addOption(uiTokenOption())
    .action(async (opts: {
      tap: string;
      subnet: Ipv4Cidr;
      subnet6: Ipv6Cidr;
      netns?: string;
      mtu: number;
      hostAddr: boolean;
      offload: boolean;
      busyPoll: number;
      congestion: CongestionControlName;
      pcap?: string;
      logLevel: LogLevel;
      logFormat: LogFormat;
      dnsUpstream?: Upstream[];
      dnsRecord?: string[];
      leaseFile?: string;
      leaseTime: number;
      dhcpHost?: StaticLease[];
      dhcp: boolean;
      dhcpClient?: boolean;
      dhcp6?: 'stateful' | 'stateless';
      iperf3: boolean;
      smallServices?: SmallServiceName[];
      ui?: UiListen;
      uiToken?: string;
    }) => {
      const outside = opts.dhcpHost?.find((h) => !inCidr(h.address, opts.subnet));
      if (outside) throw Object.assign(new Error(`--dhcp-host: ${formatIpv4(outside.address)} is not in ${formatIpv4Cidr(opts.subnet)}`), { name: 'UsageError' });
      const options: UpOptions = {
        tap: opts.tap,
        subnet: opts.subnet,
        subnet6: opts.subnet6,
        netns: opts.netns,
        mtu: opts.mtu,
        hostAddress: opts.hostAddr,
        offload: opts.offload,
        busyPollUs: opts.busyPoll,
        congestionControl: opts.congestion,
        pcap: opts.pcap,
        logLevel: opts.logLevel,
        logFormat: opts.logFormat,
        dnsUpstreams: opts.dnsUpstream,
        dnsRecords: opts.dnsRecord,
        iperf3: opts.iperf3,
        smallServices: opts.smallServices,
        ui: uiOptions(opts.ui, opts.uiToken),
        dhcp: opts.dhcpClient
          ? { mode: 'client' }
          : opts.dhcp
            ? { mode: 'server', leaseFile: opts.leaseFile, leaseTimeSeconds: opts.leaseTime, staticLeases: opts.dhcpHost }
            : undefined,
        dhcp6: opts.dhcp6,
      };
      requirePrivileges(
        { capabilities: opts.netns ? [Capability.netAdmin, Capability.sysAdmin] : [Capability.netAdmin], tun: true, procSys: true },
        'tapnet up (a TAP device' + (opts.netns ? ' and a network namespace)' : ')'),
      );
      await runUp(options);
    });

  program
    .command('show')
    .description('print state of a running tapnet: stats, arp, routes, interfaces, leases, ...')
    .addArgument(new Argument('<what>', `what to show: ${SHOW_TABLES.join(', ')}`).argParser(showTable))
    .addOption(tapOption())
    .option('--json', 'print JSON instead of a table')
    .option('--lab <file>', 'ask the lab started from this topology file instead of `tapnet up`')
    .addOption(new Option('--node <name>', 'which switch or router of the lab').argParser(netnsName))
    .addOption(partOption())
    .action(async (what: string, opts: { tap: string; json?: boolean; lab?: string; node?: string; part?: string }) => {
      if (opts.lab !== undefined) {
        const topology = loadLabFile(opts.lab, opts.part);
        const result = await askLab(topology.name, { command: 'show', args: [what, opts.node ?? '', opts.json ? 'json' : ''] });
        if (opts.json || typeof result !== 'string') process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        else process.stdout.write(result);
        return;
      }
      const result = await ask(opts.tap, { command: 'show', args: opts.json ? [what, 'json'] : [what] });
      if (opts.json || typeof result !== 'string') process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(result);
    });

  program
    .command('connect')
    .description('open a TCP connection from tapnet, send N bytes (i % 251), half-close, read to EOF; prints JSON')
    .argument('<address>', 'IPv4 address', ipv4Address)
    .argument('<port>', 'TCP port', positiveInt)
    .addOption(tapOption())
    .addOption(new Option('--send <bytes>', 'bytes to send').argParser(byteCount).default(0))
    .action(async (address: Ipv4Address, port: number, opts: { tap: string; send: number }) => {
      const result = (await ask(opts.tap, { command: 'tcp-connect', args: [formatIpv4(address), String(port), String(opts.send)] })) as { error?: string };
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      // Like nc: a refused or reset connection is a failure the shell can see.
      if (result.error) process.exitCode = 1;
    });

  program
    .command('ping')
    .description('send ICMP echo requests from tapnet (resolving the target with ARP)')
    .argument('<address>', 'IPv4 or IPv6 address', ipAddress)
    .addOption(tapOption())
    .addOption(new Option('-c, --count <n>', 'number of echo requests').argParser(positiveInt).default(3))
    .action(async (address: string, opts: { tap: string; count: number }) => {
      const result = (await ask(opts.tap, { command: 'ping', args: [address, String(opts.count)] })) as string;
      process.stdout.write(result);
    });

  program
    .command('lb')
    .description('change a running lab\'s load balancer: add, remove, weight or drain a backend of a virtual service')
    .addArgument(new Argument('<op>', 'what to do').choices(['add', 'remove', 'weight', 'drain']))
    .argument('<service>', 'virtual service name (as under lb: in the lab file)')
    .argument('<backend>', 'backend name (add: a new name, or ADDRESS:PORT)')
    .argument('[arg]', 'add: ADDRESS:PORT[,WEIGHT]; weight: the new weight (0 drains)')
    .requiredOption('--lab <file>', 'the lab started from this topology file')
    .addOption(new Option('--node <name>', 'which lb node (needed when the lab has more than one)').argParser(netnsName))
    .addOption(partOption())
    .action(async (op: string, service: string, backend: string, arg: string | undefined, opts: { lab: string; node?: string; part?: string }) => {
      if (op === 'weight' && (arg === undefined || !/^\d+$/.test(arg))) throw Object.assign(new Error(`lb weight: expected a weight, e.g. tapnet lb weight ${service} ${backend} 3`), { name: 'UsageError' });
      const topology = loadLabFile(opts.lab, opts.part);
      const result = await askLab(topology.name, { command: 'lb', args: [opts.node ?? '', op, service, backend, arg ?? ''] });
      process.stdout.write(String(result));
    });

  program
    .command('link')
    .description('pull a running lab\'s cable out (down: no frame crosses it either way) or plug it back in (up)')
    .addArgument(new Argument('<state>', 'down or up').choices(['down', 'up']))
    .addArgument(new Argument('<a>', 'one end: NODE, or NODE:PORT where two nodes share several links').argParser(linkEnd))
    .addArgument(new Argument('<b>', 'the other end').argParser(linkEnd))
    .requiredOption('--lab <file>', 'the lab started from this topology file')
    .addOption(partOption())
    .action(async (state: string, a: LinkEnd, b: LinkEnd, opts: { lab: string; part?: string }) => {
      const topology = loadLabFile(opts.lab, opts.part);
      const found = findLink(topology, a, b);
      if (!found.ok) throw Object.assign(new Error(`link: ${found.field}: ${found.error}`), { name: 'UsageError' });
      const text = (e: LinkEnd): string => (e.port === undefined ? e.node : `${e.node}:${e.port}`);
      process.stdout.write(String(await askLab(topology.name, { command: 'link', args: [text(a), text(b), state] })));
    });

  program
    .command('bgp')
    .description('operate a lab router\'s BGP speaker: refresh (soft, RFC 2918 ROUTE-REFRESH) or reset (NOTIFICATION Cease / Administrative Reset, then reconnect)')
    .addArgument(new Argument('<op>', 'what to do').choices(['refresh', 'reset']))
    .addArgument(new Argument('[neighbor]', 'the neighbor\'s address (default: every neighbor)').argParser(ipAddress))
    .requiredOption('--lab <file>', 'the lab started from this topology file')
    .addOption(new Option('--node <name>', 'which router (needed when several speak BGP)').argParser(netnsName))
    .option('--out', 'refresh: send our routes to the neighbor again, instead of asking for its routes')
    .addOption(partOption())
    .action(async (op: string, neighbor: string | undefined, opts: { lab: string; node?: string; out?: boolean; part?: string }) => {
      if (opts.out && op !== 'refresh') throw Object.assign(new Error('--out: only with refresh'), { name: 'UsageError' });
      const topology = loadLabFile(opts.lab, opts.part);
      const speakers = topology.nodes.filter((n) => n.kind === 'router' && n.bgp);
      const node = opts.node ?? (speakers.length === 1 ? speakers[0]!.name : undefined);
      const spec = speakers.find((n) => n.name === node);
      if (!spec) {
        const which = speakers.map((n) => n.name).join(', ') || 'none';
        throw Object.assign(new Error(node === undefined ? `--node: which router? (routers with bgp: in ${opts.lab}: ${which})` : `--node: '${node}' is not a router with bgp: in ${opts.lab} (those: ${which})`), { name: 'UsageError' });
      }
      const neighbors = spec.kind === 'router' ? spec.bgp!.neighbors : [];
      // As the lab file writes it (the speaker knows its neighbours by that text).
      const peer = neighbor === undefined ? undefined : neighbors.find((n) => ipAddress(n.address) === neighbor);
      if (neighbor !== undefined && !peer) {
        throw Object.assign(new Error(`neighbor: ${neighbor} is not a neighbor of ${node} (its neighbors: ${neighbors.map((n) => n.address).join(', ')})`), { name: 'UsageError' });
      }
      const result = await askLab(topology.name, { command: 'bgp', args: [node!, opts.out ? 'refresh-out' : op, peer?.address ?? ''] });
      process.stdout.write(String(result));
    });

  program
    .command('ui')
    .description('serve the browser view of a running `tapnet up` or lab: its packets, their walk through tapnet\'s code, its tables (read-only)')
    .addOption(tapOption())
    .option('--lab <file>', 'the lab started from this topology file instead of `tapnet up`')
    .addOption(new Option('--listen <[addr:]port>', 'where to serve it').argParser(uiListen).default(uiListen(String(UI_PORT_DEFAULT)), `127.0.0.1:${UI_PORT_DEFAULT}`))
    .addOption(uiTokenOption())
    .action(async (opts: { tap: string; lab?: string; listen: UiListen; uiToken?: string }) => {
      const ui = uiOptions(opts.listen, opts.uiToken, '--listen')!;
      const request = { command: 'ui', args: [ui.host, String(ui.port), ui.token ?? ''] };
      const url = opts.lab !== undefined ? await askLab(loadLabFile(opts.lab).name, request) : await ask(opts.tap, request);
      process.stdout.write(`${String(url)}\n`);
    });

  const lab = program.command('lab').description('topology labs: host namespaces, tapnet switches and routers, impaired links, from a YAML file');
  lab
    .command('up')
    .description('build the lab and serve it until Ctrl-C or `tapnet lab down FILE` (logs a line containing "ready")')
    .argument('<file>', 'topology file (see labs/*.yaml)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .addOption(logFormatOption())
    .addOption(partOption())
    .addOption(uiOption())
    .addOption(uiTokenOption())
    .action(async (file: string, opts: { logLevel: LogLevel; logFormat: LogFormat; part?: string; ui?: UiListen; uiToken?: string }) => {
      const ui = uiOptions(opts.ui, opts.uiToken);
      const topology = loadLabFile(file, opts.part);
      requirePrivileges({ capabilities: [Capability.netAdmin, Capability.sysAdmin], tun: true, procSys: true }, 'tapnet lab up (TAP devices and network namespaces)');
      await runLab(topology, { logLevel: opts.logLevel, logFormat: opts.logFormat, ui });
    });
  lab
    .command('down')
    .description('stop a running lab and remove its namespaces (also cleans up after a lab that crashed)')
    .argument('<file>', 'topology file')
    .addOption(partOption())
    .action(async (file: string, opts: { part?: string }) => {
      process.stdout.write(`${await labDown(loadLabFile(file, opts.part))}\n`);
    });
  lab
    .command('status')
    .description('nodes, links, impairment and forwarding counters of a running lab')
    .argument('<file>', 'topology file')
    .option('--json', 'print JSON')
    .addOption(partOption())
    .action(async (file: string, opts: { json?: boolean; part?: string }) => {
      const topology = loadLabFile(file, opts.part);
      const status = await queryLabStatus(topology);
      if (!status) throw new CliError(`lab ${topology.name} is not running (start it with \`tapnet lab up ${file}${opts.part ? ` --part ${opts.part}` : ''}\`)`);
      process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatLabStatus(status));
    });

  return program;
}

/** `--part NAME`: the part of a split lab this machine runs (nodes with `part: NAME`, runtime/vxlan.ts). */
function partOption(): Option {
  return new Option('--part <name>', 'the part of a lab split across machines (nodes with part: NAME)');
}

/**
 * Loads a topology file (and picks `part` of it); a bad one prints every problem (FILE:LINE:COL: field: message),
 * a wrong or missing --part one line, and exits 2.
 */
function loadLabFile(file: string, part?: string): Topology {
  try {
    return selectPart(loadTopology(file), part);
  } catch (e) {
    if (!(e instanceof TopologyError) && !(e instanceof PartError)) throw e;
    for (const line of e.message.split('\n')) process.stderr.write(`tapnet: ${line}\n`);
    process.exit(EXIT_USAGE);
  }
}

async function askLab(name: string, request: { command: string; args: string[] }): Promise<unknown> {
  const path = labSocketPath(name);
  let reply;
  try {
    reply = await controlRequest(path, request, 60_000);
  } catch (e) {
    throw new CliError(`lab ${name} is not running (${path}: ${(e as Error).message})`);
  }
  if (!reply.ok) throw new CliError(reply.error);
  return reply.result;
}

async function ask(tap: string, request: { command: string; args: string[] }): Promise<unknown> {
  const path = controlSocketPath(tap);
  let reply;
  try {
    reply = await controlRequest(path, request, 60_000);
  } catch (e) {
    throw new CliError(`no tapnet is running on ${tap} (${path}: ${(e as Error).message})`);
  }
  if (!reply.ok) throw new CliError(reply.error);
  return reply.result;
}

export class CliError extends Error {}

/** Stops with one sentence when the process lacks what the command needs: capabilities, /dev/net/tun, a writable /proc/sys (os/privileges.ts). */
function requirePrivileges(needs: Needs, what: string): void {
  const missing = startProblem(needs, what);
  if (missing) throw new CliError(missing);
}

/**
 * `tapnet show tcp | head -5`: once the reader has what it wanted and closes the pipe, the next write fails
 * with EPIPE (Node ignores SIGPIPE, so no signal ends the process as it would a C tool). The rest of the
 * output has nobody to read it; that is not an error, so exit 0 without a stack trace. Other write errors
 * (a full disk behind a redirect) stay fatal.
 */
export function exitQuietlyWhenStdoutCloses(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export async function main(argv: readonly string[]): Promise<void> {
  exitQuietlyWhenStdoutCloses();
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every usage error exits 2 (the message was already printed).
      process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    if (e instanceof CliError || (e instanceof Error && e.name === 'UsageError')) {
      process.stderr.write(`tapnet: ${e.message}\n`);
      process.exit(e.name === 'UsageError' ? EXIT_USAGE : 1);
    }
    process.stderr.write(`tapnet: ${(e as Error).message ?? e}\n`);
    process.exit(1);
  }
}
