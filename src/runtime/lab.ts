/**
 * `tapnet lab up FILE`: one tapnet process builds a whole topology.
 *
 *  - every `host` node is a network namespace named after it; Linux is its
 *    stack (ping, traceroute, iperf3 run there);
 *  - every host interface is the kernel end of a TAP created inside that
 *    namespace; the TAP's file descriptor stays here, with the tapnet element
 *    at the other end of the link;
 *  - `router` and `switch` nodes live in this process (src/node/router.ts,
 *    src/l2/switch/learning-switch.ts), each with its own counters;
 *  - links between two tapnet elements are in-process: a zero-delay wire, or
 *    an in-memory Link through tapnet's impairment element when the link has
 *    an `impairment`; an impaired link to a host splices the TAP to such a Link.
 *
 * Everything created is recorded in `cleanup` as soon as it exists, so a
 * failure half-way (a namespace that already exists, a bad route) removes
 * exactly what was made, and SIGINT/SIGTERM or `tapnet lab down FILE` (through
 * the control socket named after the lab) remove it all.
 */
import type { CounterName } from '../core/stats.js';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createContext, type StackContext } from '../core/context.js';
import { PcapWriter } from '../core/pcap.js';
import { Stats } from '../core/stats.js';
import { RealTimeDriver } from '../core/time.js';
import { Tracer, createLogger, type LogFormat, type LogLevel } from '../core/trace.js';
import type { Device } from '../device/device.js';
import { createLinkPair, type LinkDevice } from '../device/link.js';
import type { ImpairmentOptions } from '../device/impairment.js';
import { capture } from '../device/pcap-device.js';
import { openTap, TunOffload, type TapDevice } from '../device/tap.js';
import { VnetDevice } from '../device/vnet.js';
import { Hub } from '../l2/switch/hub.js';
import { LearningSwitch } from '../l2/switch/learning-switch.js';
import { formatMac } from '../l2/mac-address.js';
import { formatIpv4, formatIpv4Cidr, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { formatIpv6, formatIpv6Cidr, inIpv6Cidr, type Ipv6Cidr } from '../l3/ipv6/address.js';
import { Router } from '../node/router.js';
import { DhcpServer } from '../services/dhcp/server.js';
import { buildLabZone } from '../services/dns/config.js';
import { DnsForwarder } from '../services/dns/forwarder.js';
import { DnsResolver } from '../services/dns/resolver.js';
import { DnsServer } from '../services/dns/server.js';
import { Iperf3Server } from '../services/iperf3/server.js';
import { BgpSpeaker } from '../services/bgp/speaker.js';
import { refreshIn, refreshOut, resetSessions } from '../services/bgp/operator.js';
import { startSmallServices } from '../services/small/index.js';
import { Netfilter } from '../netfilter/netfilter.js';
import { Uplink } from '../services/uplink/uplink.js';
import { formatWgSetconf, type WireGuardSpec } from '../services/wireguard/config.js';
import { formatKey } from '../services/wireguard/keys.js';
import { attachWireGuard, type WireGuardInterface } from '../services/wireguard/wireguard.js';
import { startWireGuardGo, wgSetconf } from '../os/wireguard-go.js';
import { LoadBalancer } from '../services/lb/lb.js';
import { controlRequest, controlSocketAlive, controlSocketPath, startControlServer } from './control.js';
import { ip, netnsAdd, netnsDelete, netnsExists, netnsKillAll, sysctl } from '../os/run.js';
import { createWirePair, splice } from '../device/wire.js';
import { Carrier, gate } from '../device/carrier.js';
import { findLink, formatLinkEnds, parseLinkEnd } from './link-control.js';
import { serveUntilSignalled, signalsDelivered } from './signals.js';
import { VxlanLinkError, openVxlanLinks, showVxlanFdb, vxlanLinkStatus, type RunningVxlanLink } from './vxlan.js';
import { observe } from '../device/observe.js';
import { uiStarter, type UiModel, type UiOptions, type UiTopology } from './ui/server.js';
import { formatProblem, type Endpoint, type HostNodeSpec, type LinkSpec, type NodeSpec, type RouteSpec, type RouterNodeSpec, type SourcePosition, type Topology } from './topology.js';

export interface LabOptions {
  readonly logLevel: LogLevel;
  /** Readable lines on a terminal, JSON otherwise (`auto`, the default), or forced. */
  readonly logFormat?: LogFormat;
  /** `--ui [ADDR:]PORT`: serve the browser view (src/runtime/ui) from the start. */
  readonly ui?: UiOptions;
}

/** What lab TAPs ask of the kernel: as `tapnet up` (checksum offload and TSO for IPv4 and IPv6). */
const LAB_OFFLOADS = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;

/** A stable, locally administered unicast MAC for a router interface, so ARP caches survive a restart of the lab. */
export function labMac(lab: string, node: string, iface: string): number {
  const h = createHash('sha256').update(`tapnet-lab:${lab}/${node}/${iface}`).digest();
  return 0x02_0000000000 + (h.readUIntBE(0, 5) % 0x10000000000);
}

/** The control socket of lab NAME: `lab-NAME.sock` in the run directory. */
export function labSocketPath(name: string): string {
  return controlSocketPath(`lab-${name}`);
}

/** What a link is, at run time, for `lab status`. */
interface RunningLink {
  readonly spec: LinkSpec;
  /** The in-memory ends when the link is impaired (their impairment counters). */
  readonly impaired?: readonly [LinkDevice, LinkDevice];
  /** `tapnet link down|up`: the cable in or out (device/carrier.ts). */
  readonly carrier: Carrier;
}

export interface RunningLab {
  readonly topology: Topology;
  readonly routers: ReadonlyMap<string, Router>;
  readonly switches: ReadonlyMap<string, LearningSwitch>;
  /** The load balancers of `lb` nodes and of routers with an `lb:` block, by node. */
  readonly loadBalancers: ReadonlyMap<string, LoadBalancer>;
  /** Text or JSON for `tapnet lab status`. */
  status(): LabStatus;
  /** `tapnet show WHAT --lab FILE [--node NODE]`. */
  show(what: string, node: string | undefined, json: boolean): unknown;
  stop(): Promise<void>;
}

export interface LabStatus {
  readonly name: string;
  readonly file: string;
  readonly pid: number;
  readonly nodes: { name: string; kind: string; detail: string; counters?: Record<string, number> }[];
  readonly links: { ends: string; mtu: number; impairment?: string; counters?: Record<string, unknown>; note?: string; down?: boolean }[];
}

class LabSetupError extends Error {}

function where(topology: Topology, at: SourcePosition, field: string, message: string): LabSetupError {
  return new LabSetupError(formatProblem(topology.file, { ...at, field, message }));
}

/**
 * Builds the lab; resolves once it serves (or rejects after removing what it made). An abort of `signal`
 * (SIGINT/SIGTERM during start-up, src/runtime/signals.ts) is noticed after each `await` and stops the
 * start-up the same way, killing the DHCP clients it is waiting for.
 */
export async function startLab(topology: Topology, options: LabOptions, signal?: AbortSignal): Promise<RunningLab> {
  const log = createLogger(options.logLevel, 'tapnet', options.logFormat);
  const socketPath = labSocketPath(topology.name);
  if (await controlSocketAlive(socketPath)) {
    throw new LabSetupError(`lab ${topology.name} is already up (control socket ${socketPath} answers); stop it with \`tapnet lab down ${topology.file}\``);
  }
  signal?.throwIfAborted();
  const hosts = topology.nodes.filter((n): n is HostNodeSpec => n.kind === 'host');
  for (const h of hosts) {
    if (netnsExists(h.name)) {
      throw where(topology, h.at, `nodes.${h.name}`, `namespace ${h.name} already exists (a lab that did not stop cleanly? \`tapnet lab down ${topology.file}\` removes it)`);
    }
  }

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

  // Set once the lab is being taken down (stop, or a failed start-up): TAPs closing then are expected.
  let stopped = false;
  try {
    const base = createContext({ log });
    const driver = new RealTimeDriver(base.timers);
    cleanup.push(() => driver.stop());
    const contexts = new Map<string, StackContext>();
    const contextFor = (name: string): StackContext => {
      let ctx = contexts.get(name);
      if (!ctx) {
        const stats = new Stats();
        ctx = { ...base, stats, trace: new Tracer(log.child({ node: name }) as Logger, stats, name) };
        contexts.set(name, ctx);
      }
      return ctx;
    };
    const linkCtx = contextFor('(links)');
    // The lab's own counters, of no node: the browser view's (ui*), in `tapnet show stats --lab FILE`.
    const labStats = new Stats();
    const nodes = new Map(topology.nodes.map((n) => [n.name, n]));

    for (const h of hosts) {
      netnsAdd(h.name);
      cleanup.push(() => {
        netnsKillAll(h.name);
        netnsDelete(h.name);
      });
    }

    // Links: a Device for every tapnet-side end; TAPs for host ends.
    const taps: TapDevice[] = [];
    const deviceAt = new Map<string, Device>();
    const running: RunningLink[] = [];
    const key = (e: Endpoint): string => `${e.node}:${e.port}`;
    const isHost = (e: Endpoint): boolean => nodes.get(e.node)!.kind === 'host';
    // Offload as `tapnet up` has it (TSO both ways, partial checksums), unless the link says `offload: false`;
    // where the kernel refuses some, the TAP runs with what it accepted (device/vnet.ts offers only that).
    // Its offload counters go to the tapnet node at the other end (`show stats --node`), else to the links'.
    const openHostTap = (e: Endpoint, mtu: number, offload: boolean, ctx: StackContext = linkCtx): Device => {
      const tap = openTap({ name: e.port, netns: e.node, mtu, vnetHdr: offload, offloadFlags: offload ? LAB_OFFLOADS : 0 });
      cleanup.push(() => tap.close());
      taps.push(tap);
      if (!tap.vnetHdr) return tap;
      if (tap.offloadFlags !== LAB_OFFLOADS) log.info(`${e.node}:${e.port}: the kernel refused some offloads; using flags 0x${tap.offloadFlags.toString(16)}`);
      return new VnetDevice(tap, ctx.stats, ctx.trace);
    };
    // VXLAN links (runtime/vxlan.ts): the tunnel is the device at the node's end; a host's TAP is spliced to it.
    let vxlanLinks: RunningVxlanLink[];
    try {
      vxlanLinks = await openVxlanLinks(topology.vxlanLinks, contextFor, cleanup);
    } catch (e) {
      if (!(e instanceof VxlanLinkError)) throw e;
      throw where(topology, e.spec.at, `links (${e.spec.end.node}:${e.spec.end.port})`, `VXLAN: ${e.message}`);
    }
    signal?.throwIfAborted();
    for (const v of vxlanLinks) {
      if (isHost(v.spec.end)) splice(linkCtx, openHostTap(v.spec.end, v.tunnel.mtu, false), v.device);
      else deviceAt.set(key(v.spec.end), v.device);
    }
    topology.links.forEach((link, i) => {
      let withCapture = (d: Device): Device => d;
      if (link.capture) {
        const writer = new PcapWriter(link.capture);
        cleanup.push(() => writer.close());
        // The file shows wire frames (MTU-sized segments, complete checksums), never super-frames: labs/README.md.
        withCapture = (d) => capture(d, writer, { wireFrames: true, trace: linkCtx.trace });
      }
      let pair: [LinkDevice, LinkDevice] | undefined;
      if (link.impairment) {
        pair = createLinkPair(linkCtx, {
          mtu: link.mtu,
          nameA: `links.${i}:${key(link.a)}`,
          nameB: `links.${i}:${key(link.b)}`,
          impairment: { aToB: link.impairment.aToB, bToA: link.impairment.bToA },
        });
        cleanup.push(() => pair![0].close());
      }
      const [aHost, bHost] = [isHost(link.a), isHost(link.b)];
      // Each tapnet-side end behind the link's carrier (outside the capture: a pulled cable carries nothing to record).
      const carrier = new Carrier();
      const gated = (d: Device, node: string): Device => gate(d, carrier, nodes.get(node)!.kind === 'host' ? linkCtx : contextFor(node));
      if (aHost && bHost) {
        const tapA = gated(withCapture(openHostTap(link.a, link.mtu, link.offload)), link.a.node);
        const tapB = openHostTap(link.b, link.mtu, link.offload);
        if (pair) {
          splice(linkCtx, tapA, pair[0]);
          splice(linkCtx, tapB, pair[1]);
        } else splice(linkCtx, tapA, tapB);
      } else if (aHost || bHost) {
        const [hostEnd, tapnetEnd] = aHost ? [link.a, link.b] : [link.b, link.a];
        const tap = openHostTap(hostEnd, link.mtu, link.offload, pair ? linkCtx : contextFor(tapnetEnd.node));
        if (pair) {
          const [hostSide, tapnetSide] = aHost ? pair : [pair[1], pair[0]];
          splice(linkCtx, tap, hostSide);
          deviceAt.set(key(tapnetEnd), gated(withCapture(tapnetSide), tapnetEnd.node));
        } else deviceAt.set(key(tapnetEnd), gated(withCapture(tap), tapnetEnd.node));
      } else {
        const [da, db] = pair ?? createWirePair(linkCtx, `links.${i}:${key(link.a)}`, `links.${i}:${key(link.b)}`, link.mtu, link.offload && !link.capture);
        deviceAt.set(key(link.a), gated(withCapture(da), link.a.node));
        deviceAt.set(key(link.b), gated(db, link.b.node));
      }
      running.push({ spec: link, impaired: pair, carrier });
    });
    // Every tapnet-side end is watchable by the browser view (one boolean test per frame while nobody watches).
    for (const [k, d] of deviceAt) deviceAt.set(k, observe(d, k));

    // Hosts: the kernel does the rest (addresses, routes).
    for (const h of hosts) {
      for (const iface of h.interfaces) {
        if (iface.wireguard) continue; // after the lab is wired (below): it runs over the others
        // IPv6 only where the file gives an interface IPv6 addresses: elsewhere the kernel's DAD/MLD/RS would be noise.
        sysctl(`net.ipv6.conf.${iface.name}.disable_ipv6`, iface.addresses6.length > 0 ? '0' : '1', h.name);
        for (const a of iface.addresses) ip(['addr', 'add', formatIpv4Cidr(a), 'dev', iface.name], h.name);
        // nodad: the file's addresses are unique by construction, and tests should not wait a DAD second.
        for (const a of iface.addresses6) ip(['-6', 'addr', 'add', formatIpv6Cidr(a), 'dev', iface.name, 'nodad'], h.name);
        ip(['link', 'set', iface.name, 'up'], h.name);
      }
      if (h.resolvers.length > 0) cleanup.push(writeNetnsResolvConf(h.name, h.resolvers));
      // A DHCP host's routes wait for its lease (below): their gateways are on the leased network.
      if (!h.interfaces.some((i) => i.dhcp || i.wireguard)) addHostRoutes(topology, h);
    }

    const routers = new Map<string, Router>();
    const services = new Map<string, RouterServices>();
    const switches = new Map<string, LearningSwitch>();
    const hubs = new Map<string, Hub>();
    const loadBalancers = new Map<string, LoadBalancer>();
    for (const node of topology.nodes) {
      if (node.kind === 'router') {
        const router = new Router(contextFor(node.name), { rpFilter: node.rpFilter });
        for (const iface of node.interfaces) {
          if (iface.wireguard) continue;
          router.addInterface(deviceAt.get(`${node.name}:${iface.name}`)!, {
            name: iface.name,
            mac: labMac(topology.name, node.name, iface.name),
            ipv4: iface.addresses,
            // As on the hosts: no DAD for the file's own addresses.
            ipv6: iface.addresses6.length > 0 ? { addresses: iface.addresses6, dadTransmits: 0 } : undefined,
          });
        }
        // WireGuard after the Ethernet interfaces (its UDP runs over them), before the routes (they may say dev wg0).
        const tunnels: WireGuardInterface[] = [];
        for (const iface of node.interfaces) {
          const spec = iface.wireguard;
          if (!spec) continue;
          try {
            const wg = attachWireGuard(
              router,
              { name: iface.name, privateKey: spec.privateKey!, listenPort: spec.listenPort, ipv4: spec.addresses4, ipv6: spec.addresses6, mtu: spec.mtu, peers: spec.peers },
              { addRoutes: spec.table, timings: wireGuardTimingsFromEnv() },
            );
            cleanup.push(() => wg.close());
            tunnels.push(wg);
          } catch (e) {
            throw where(topology, iface.at, `nodes.${node.name}.interfaces.${iface.name}`, (e as Error).message);
          }
        }
        for (const r of node.routes) {
          try {
            router.addRoute({ destination: r.destination, gateway: r.gateway, interface: r.device, metric: r.metric, type: r.type });
          } catch (e) {
            throw where(topology, r.at, `nodes.${node.name}.routes`, (e as Error).message);
          }
        }
        for (const r of node.routes6) {
          const nic = router.interfaces.find((i) =>
            r.device !== undefined ? i.name === r.device : node.interfaces.find((x) => x.name === i.name)!.addresses6.some((a) => inIpv6Cidr(r.gateway!, a)),
          );
          const link = (nic && router.ipv6.on(nic)) ?? router.pointToPoint.find((p) => p.name === r.device && p.ipv6Addresses.length > 0);
          if (!link) throw where(topology, r.at, `nodes.${node.name}.routes`, `'${r.text}': no IPv6 interface for it`);
          router.ipv6.routes.add({ destination: r.destination, gateway: r.gateway, metric: r.metric, value: link });
        }
        // A load balancer's nat-mode services are DNAT on this router's conntrack (src/services/lb/nat-mode.ts).
        const lb = node.lb ? new LoadBalancer(router, node.lb) : undefined;
        const virtualServers = lb?.natVirtualServers;
        if (virtualServers) Netfilter.attach(router, { ...node.netfilter, nat: { ...node.netfilter?.nat, virtualServers } });
        else if (node.netfilter) Netfilter.attach(router, node.netfilter);
        if (node.uplink) {
          const uplink = Uplink.attach(router, node.uplink, !node.routes.some((r) => r.destination.prefixLength === 0));
          cleanup.push(() => uplink.close());
        }
        const served = node.interfaces.filter((i) => i.dhcp);
        const dns = node.dns ? startRouterDns(topology, node, router, served) : undefined;
        if (dns) cleanup.push(() => dns.close());
        if (served.length > 0) {
          // RFC 2131 server on the interfaces marked dhcp: true; the router is the clients' gateway (option 3)
          // and their DNS server (option 6, the default); with dns: their leased names go into its zone.
          const dhcp = new DhcpServer(
            router,
            dns
              ? {
                  domainName: dns.zone.origin.replace(/\.$/, ''),
                  onLeaseBound: (hostname, address) => dns.zone.registerLease(hostname, address),
                  onLeaseEnded: (hostname, address) => dns.zone.unregisterLease(hostname, address),
                }
              : {},
          );
          for (const i of served) dhcp.serve(router.interfaces.find((x) => x.name === i.name)!);
          cleanup.push(() => dhcp.stop());
          services.set(node.name, { ...services.get(node.name), dhcp });
        }
        if (dns) services.set(node.name, { ...services.get(node.name), dns });
        if (node.iperf3) {
          const iperf3 = new Iperf3Server(router);
          cleanup.push(() => iperf3.close());
          services.set(node.name, { ...services.get(node.name), iperf3 });
        }
        if (node.smallServices.length > 0) {
          const small = startSmallServices(router, node.smallServices);
          cleanup.push(() => small.close());
        }
        router.start();
        if (node.bgp) {
          const bgp = new BgpSpeaker(router, node.bgp);
          cleanup.push(() => bgp.close());
          services.set(node.name, { ...services.get(node.name), bgp });
        }
        for (const wg of tunnels) wg.start();
        routers.set(node.name, router);
        if (lb) {
          lb.start();
          cleanup.push(() => lb.stop());
          loadBalancers.set(node.name, lb);
        }
      } else if (node.kind === 'switch') {
        const sw = new LearningSwitch(contextFor(node.name), { name: node.name, macTableMax: node.macTableMax, ageingTimeMs: node.ageingTimeMs });
        for (const port of node.ports) sw.addPort(deviceAt.get(`${node.name}:${port.name}`)!, { name: port.name, vlan: port.vlan });
        switches.set(node.name, sw);
      } else if (node.kind === 'hub') {
        const hub = new Hub(contextFor(node.name), { name: node.name });
        for (const port of node.ports) hub.addPort(deviceAt.get(`${node.name}:${port.name}`)!, port.name);
        hubs.set(node.name, hub);
      }
    }

    // WireGuard on hosts: wireguard-go and wg(8) in the namespace, like a laptop running wg-quick. The keys
    // go in last, once the routes to the endpoints exist: a persistent keepalive handshakes at once.
    for (const h of hosts) {
      const tunnels = h.interfaces.filter((i) => i.wireguard);
      if (tunnels.length === 0) continue;
      try {
        for (const iface of tunnels) {
          const wg = await startWireGuardGo(h.name, iface.name);
          cleanup.push(() => wg.stop());
          signal?.throwIfAborted();
          configureHostWireGuard(h, iface.name, iface.wireguard!);
        }
        if (!h.interfaces.some((i) => i.dhcp)) addHostRoutes(topology, h);
        for (const iface of tunnels) wgSetconf(h.name, iface.name, wgSetconfText(iface.wireguard!));
      } catch (e) {
        throw where(topology, h.at, `nodes.${h.name}`, (e as Error).message);
      }
    }

    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      undo();
      log.info(`lab ${topology.name} down`);
    };
    for (const tap of taps) {
      tap.onClose((reason) => {
        if (stopped) return;
        log.error(`TAP ${tap.name} went away (${reason}); stopping the lab`);
        void stop().then(() => process.exit(1));
      });
    }

    const lab: RunningLab = {
      topology,
      routers,
      switches,
      loadBalancers,
      status: () => {
        const s = labStatus(topology, routers, { switches, hubs }, running, contexts);
        return { ...s, links: [...s.links, ...vxlanLinkStatus(vxlanLinks, contexts)] };
      },
      show: (what, node, json) => {
        if (what === 'lb') return showLb(topology, loadBalancers, node, json);
        if (what === 'mac' && vxlanLinks.length > 0) return showMacAndVxlan(topology, { routers, switches, hubs, contexts, services, labStats }, vxlanLinks, node, json);
        return showNode(topology, { routers, switches, hubs, contexts, services, labStats }, what, node, json);
      },
      stop,
    };

    // DHCP hosts lease their addresses now that the lab's DHCP servers run (in this process: asynchronously).
    const dhcpHosts = hosts.filter((h) => h.interfaces.some((i) => i.dhcp));
    if (dhcpHosts.length > 0) {
      const scriptDir = mkdtempSync(join(tmpdir(), 'tapnet-lab-dhcp-'));
      cleanup.push(() => rmSync(scriptDir, { recursive: true, force: true }));
      const script = join(scriptDir, 'udhcpc.sh');
      writeFileSync(script, UDHCPC_SCRIPT, { mode: 0o755 });
      await Promise.all(
        dhcpHosts.flatMap((h) =>
          h.interfaces
            .filter((i) => i.dhcp)
            .map(async (i) => {
              const result = await leaseWithUdhcpc(h.name, i.name, script, signal);
              if (result !== undefined) throw where(topology, i.at, `nodes.${h.name}.interfaces.${i.name}.dhcp`, result);
            }),
        ),
      );
      signal?.throwIfAborted();
      for (const h of dhcpHosts) addHostRoutes(topology, h);
    }

    // Each host's `run:` commands (a web server, ...), now that its addresses and routes are in place.
    for (const h of hosts) {
      for (const command of h.run) {
        const child = startHostCommand(h.name, command, dirname(resolve(topology.file)), log);
        cleanup.push(() => stopHostCommand(child));
      }
    }

    const startUi = uiStarter(() => labUiModel(topology, lab, [...deviceAt.keys()], labStats), log, cleanup);
    if (options.ui) await startUi(options.ui);

    const server = await startControlServer(socketPath, async (request) => {
      const args = request.args ?? [];
      switch (request.command) {
        case 'status':
          return lab.status();
        case 'ui':
          // args: HOST, PORT, [TOKEN] (cli.ts checked them: loopback, or a token)
          return startUi({ host: args[0] ?? '127.0.0.1', port: Number(args[1] ?? 0), token: args[2] || undefined });
        case 'show':
          return lab.show(args[0] ?? 'stats', args[1] || undefined, args[2] === 'json');
        case 'link':
          // args: A, B (NODE or NODE:PORT), down | up
          return setLink(topology, running, args[0] ?? '', args[1] ?? '', args[2] ?? '', log);
        case 'bgp':
          // args: NODE (or ''), refresh | refresh-out | reset, [NEIGHBOR]
          return bgpControl(topology, services, args[0] || undefined, args[1] ?? '', args[2] || undefined, log);
        case 'lb': {
          // args: NODE (or ''), OP, SERVICE, BACKEND, [ARG]
          const [node, op, service, backend, arg] = args;
          return lbOf(topology, loadBalancers, node || undefined).control(op ?? '', service ?? '', backend ?? '', arg || undefined);
        }
        case 'shutdown':
          // Reply first, then take everything down and exit.
          setTimeout(() => void stop().then(() => process.exit(0)), 50);
          return `lab ${topology.name} stopping`;
        default:
          throw new Error(`unknown command '${request.command}'`);
      }
    });
    // Removed last, so that `lab down` seeing the socket gone means everything else is gone too.
    cleanup.unshift(() => {
      server.close();
      rmSync(socketPath, { force: true });
    });
    // A signal that came while the namespaces and TAPs were being made is delivered here.
    await signalsDelivered();
    signal?.throwIfAborted();

    log.info(
      { lab: topology.name, hosts: hosts.map((h) => h.name), routers: [...routers.keys()], switches: [...switches.keys()], control: socketPath },
      `tapnet lab ${topology.name} ready: ${hosts.length} hosts, ${routers.size} routers, ${switches.size} switches, ${topology.links.length + topology.vxlanLinks.length} links`,
    );
    return lab;
  } catch (e) {
    stopped = true;
    undo();
    throw e;
  }
}

/** Tables the browser view shows of a lab router: `tapnet show --json` for each it has. */
const UI_ROUTER_TABLES = ['arp', 'neigh', 'routes', 'conntrack', 'nat', 'leases', 'dns', 'tcp'] as const;

/** What the browser view shows of a running lab: its nodes and links, and each tapnet node's tables. */
export function labUiModel(topology: Topology, lab: Pick<RunningLab, 'show'>, watched: readonly string[], stats: Stats): UiModel {
  const key = (e: Endpoint): string => `${e.node}:${e.port}`;
  const view: UiTopology = {
    name: topology.name,
    nodes: topology.nodes.map((n) => ({
      name: n.name,
      kind: n.kind,
      interfaces:
        n.kind === 'switch' || n.kind === 'hub'
          ? n.ports.map((p) => ({ name: p.name, addresses: [] }))
          : n.interfaces.map((i) => ({ name: i.name, addresses: [...i.addresses.map(formatIpv4Cidr), ...i.addresses6.map(formatIpv6Cidr)] })),
    })),
    links: topology.links.map((l) => ({ a: key(l.a), b: key(l.b), watch: [key(l.a), key(l.b)].find((e) => watched.includes(e)) })),
  };
  return {
    topology: view,
    stats,
    tables(node) {
      const kind = topology.nodes.find((n) => n.name === node)?.kind;
      if (kind === undefined || kind === 'host') throw new Error(`'${node}' is not a tapnet node`);
      // A switch shows its MAC table and ports, a hub its ports (it has no MAC table), a router what it runs.
      const tables = kind === 'switch' ? (['mac', 'ports'] as const) : kind === 'hub' ? (['ports'] as const) : UI_ROUTER_TABLES;
      const out: Record<string, unknown> = {};
      for (const what of tables) {
        try {
          const rows = lab.show(what, node, true);
          // mac and ports answer for several switches at once: { NODE: rows }.
          out[what] = what === 'mac' || what === 'ports' ? (rows as Record<string, unknown>)[node] : rows;
        } catch {
          // a table this router does not have (no netfilter, no DHCP, ...)
        }
      }
      return out;
    },
  };
}

/** The load balancer of NODE, or the lab's only one. */
function lbOf(topology: Topology, lbs: ReadonlyMap<string, LoadBalancer>, node: string | undefined): LoadBalancer {
  if (node !== undefined) {
    const lb = lbs.get(node);
    if (!lb) throw new Error(`'${node}' has no load balancer in lab ${topology.name} (nodes with one: ${[...lbs.keys()].join(', ') || 'none'})`);
    return lb;
  }
  if (lbs.size !== 1) throw new Error(lbs.size === 0 ? `lab ${topology.name} has no load balancer (add an lb node)` : `which load balancer? add --node NAME (${[...lbs.keys()].join(', ')})`);
  return [...lbs.values()][0]!;
}

function showLb(topology: Topology, lbs: ReadonlyMap<string, LoadBalancer>, node: string | undefined, json: boolean): unknown {
  const lb = lbOf(topology, lbs, node);
  return json ? lb.rows() : lb.show();
}

/**
 * `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf (ip-netns(8)), so programs
 * run there resolve through the lab's DNS and the host's own file is left alone. Returns the undo.
 */
const RESOLV_CONF_MARK = '# written by tapnet lab up; removed at lab down';

function writeNetnsResolvConf(netns: string, servers: readonly number[]): () => void {
  const dir = join('/etc/netns', netns);
  const made = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, `${RESOLV_CONF_MARK}\n${servers.map((a) => `nameserver ${formatIpv4(a)}\n`).join('')}options timeout:1 attempts:2\n`);
  return () => {
    rmSync(file, { force: true });
    if (made) rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * Starts `sh -c COMMAND` inside namespace `netns`, in its own process group so that lab down stops the
 * command and whatever it started. Its output goes to the log at debug level, one line each.
 */
function startHostCommand(netns: string, command: string, cwd: string, log: Logger): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', netns, 'sh', '-c', command], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) if (line.trim()) log.debug({ node: netns }, line);
  };
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  child.on('error', (e) => log.error(`${netns}: run '${command}': ${e.message}`));
  child.on('exit', (code, signal) => {
    if (signal === null && code !== 0) log.warn(`${netns}: run '${command}' exited ${code}`);
  });
  log.info(`${netns}: run ${command} (pid ${child.pid})`);
  return child;
}

/** Kills the command's whole process group (lab down is synchronous: no grace period to wait out). */
function stopHostCommand(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A router's `dns:` service: its zone (gateway.<zone> is the router itself,
 * the reverse zone of its first served network), answering on port 53 of the
 * interfaces it serves DHCP on (every interface when none: a router with no
 * LAN marked is a plain resolver) and forwarding other names to `upstreams`.
 */
function startRouterDns(topology: Topology, node: RouterNodeSpec, router: Router, served: readonly { name: string }[]): DnsServer {
  const spec = node.dns!;
  const on = router.interfaces.filter((i) => (served.length > 0 ? served.some((s) => s.name === i.name) : true) && i.ipv4Addresses.length > 0);
  const first = on[0]?.ipv4Addresses[0];
  if (!first) throw where(topology, spec.at, `nodes.${node.name}.dns`, 'a DNS server needs an interface with an IPv4 address');
  const zone = buildLabZone({ tapnet: first.address, subnet: first }, { zone: spec.zone, records: spec.records });
  if (!zone.ok) throw where(topology, spec.at, `nodes.${node.name}.dns`, zone.error);
  // recursion: resolves from the root hints (RFC 1034 §5.3.3); upstreams: forwards; neither: its zone only.
  const forwarder = spec.recursion
    ? new DnsResolver(router.ctx, router.udp, spec.recursion)
    : spec.upstreams.length > 0
      ? new DnsForwarder(router.ctx, router.udp, spec.upstreams)
      : undefined;
  const dns = new DnsServer(router.ctx, { zone: zone.value, forwarder });
  dns.listen(
    router.udp,
    on.flatMap((i) => i.ipv4Addresses.map((a) => a.address)),
  );
  return dns;
}

/**
 * A host's WireGuard interface as wg-quick would set it up (`wg setconf`
 * comes after, wgSetconfText): its addresses, MTU, up, and a route through
 * it for each peer's allowed IPs
 * (not /0: wg-quick needs policy routing for that; the file's routes: can say
 * `default dev wg0`, added with the host's other routes).
 */
function configureHostWireGuard(h: HostNodeSpec, name: string, spec: WireGuardSpec): void {
  sysctl(`net.ipv6.conf.${name}.disable_ipv6`, spec.addresses6.length > 0 ? '0' : '1', h.name);
  for (const a of spec.addresses4) ip(['addr', 'add', formatIpv4Cidr(a), 'dev', name], h.name);
  for (const a of spec.addresses6) ip(['-6', 'addr', 'add', formatIpv6Cidr(a), 'dev', name, 'nodad'], h.name);
  ip(['link', 'set', name, 'mtu', String(spec.mtu ?? 1420), 'up'], h.name);
  if (!spec.table) return;
  for (const p of spec.peers) {
    for (const a of p.allowedIps4) if (a.prefixLength > 0) ip(['route', 'replace', formatIpv4Cidr(a), 'dev', name], h.name);
    for (const a of p.allowedIps6) if (a.prefixLength > 0) ip(['-6', 'route', 'replace', formatIpv6Cidr(a), 'dev', name], h.name);
  }
}

/** The keys and peers, as `wg setconf` reads them. */
function wgSetconfText(spec: WireGuardSpec): string {
  return formatWgSetconf(spec, formatKey, (c) => (typeof c.address === 'number' ? formatIpv4Cidr(c as Ipv4Cidr) : formatIpv6Cidr(c as Ipv6Cidr)));
}

/**
 * The test knob for rekeying: TAPNET_WG_REKEY_AFTER_TIME_MS shortens
 * REKEY_AFTER_TIME (120 s) for every tapnet WireGuard interface of the lab,
 * so a test sees a rekey in seconds (labs/README.md).
 */
function wireGuardTimingsFromEnv(): { rekeyAfterTimeMs?: number } {
  const ms = Number(process.env.TAPNET_WG_REKEY_AFTER_TIME_MS);
  return Number.isFinite(ms) && ms > 0 ? { rekeyAfterTimeMs: ms } : {};
}

function addHostRoutes(topology: Topology, h: HostNodeSpec): void {
  const add = (args: string[], r: { text: string; at: SourcePosition }): void => {
    try {
      ip(args, h.name);
    } catch (e) {
      throw where(topology, r.at, `nodes.${h.name}.routes`, `'${r.text}': ${(e as Error).message}`);
    }
  };
  for (const r of h.routes) add(['route', 'add', ...routeArgs(r)], r);
  for (const r of h.routes6) {
    const args = ['-6', 'route', 'add', formatIpv6Cidr(r.destination)];
    if (r.gateway) args.push('via', formatIpv6(r.gateway));
    if (r.device) args.push('dev', r.device);
    if (r.metric !== undefined) args.push('metric', String(r.metric));
    add(args, r);
  }
}

/**
 * busybox udhcpc(8) calls its script with $1 = deconfig | bound | renew | nak
 * and the lease in the environment ($ip, $mask = prefix length, $router).
 * Only the interface is configured: resolv.conf inside a namespace would be
 * the host's own file.
 */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$router" ]; then ip route replace default via "\${router%% *}" dev "$interface"; fi ;;
esac
exit 0
`;

/** Discover attempts (one second apart) before a DHCP host gives up. */
export const LAB_DHCP_ATTEMPTS = 5;

/** Runs `busybox udhcpc` once in `netns` (it quits after the lease): undefined on success, else why not. */
function leaseWithUdhcpc(netns: string, iface: string, script: string, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    const args = ['netns', 'exec', netns, 'busybox', 'udhcpc', '-i', iface, '-f', '-q', '-n', '-t', String(LAB_DHCP_ATTEMPTS), '-T', '1', '-s', script, '-x', `hostname:${netns}`];
    // `signal`: a stop during start-up kills udhcpc rather than waiting out its attempts.
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (e) => resolve(`cannot run busybox udhcpc: ${e.message}`));
    child.on('exit', (code) => resolve(code === 0 ? undefined : `no DHCP lease (busybox udhcpc exited ${code}): ${out.trim().split('\n').slice(-1)[0] ?? ''}`));
  });
}

/** `ip route add` arguments for a host route. */
function routeArgs(r: RouteSpec): string[] {
  const args: string[] = [];
  if (r.type !== 'unicast') args.push(r.type);
  args.push(r.destination.prefixLength === 0 ? 'default' : formatIpv4Cidr(r.destination));
  if (r.gateway !== undefined) args.push('via', formatIpv4(r.gateway));
  if (r.device !== undefined) args.push('dev', r.device);
  if (r.metric !== undefined) args.push('metric', String(r.metric));
  return args;
}

function describeImpairment(spec: LinkSpec): string | undefined {
  if (!spec.impairment) return undefined;
  const one = (o: ImpairmentOptions): string =>
    Object.entries(o)
      .filter(([k]) => k !== 'seed')
      .map(([k, v]) => (k === 'rateBitsPerSecond' ? `rate ${Number(v) / 1e6} Mbit/s` : PROBABILITIES.has(k) ? `${k} ${Number(v) * 100}%` : `${k} ${String(v)}`))
      .join(', ');
  const a = one(spec.impairment.aToB);
  const b = one(spec.impairment.bToA);
  return a === b ? a : `a→b ${a || 'none'}; b→a ${b || 'none'}`;
}

const PROBABILITIES = new Set(['loss', 'duplicate', 'reorder', 'corrupt']);

function labStatus(
  topology: Topology,
  routers: ReadonlyMap<string, Router>,
  { switches, hubs }: { readonly switches: ReadonlyMap<string, LearningSwitch>; readonly hubs: ReadonlyMap<string, Hub> },
  running: readonly RunningLink[],
  contexts: ReadonlyMap<string, StackContext>,
): LabStatus {
  const nodes = topology.nodes.map((n: NodeSpec) => {
    if (n.kind === 'host') {
      return { name: n.name, kind: 'host', detail: `netns ${n.name}: ${n.interfaces.map((i) => `${i.name} ${i.dhcp ? 'dhcp' : [...i.addresses.map(formatIpv4Cidr), ...i.addresses6.map(formatIpv6Cidr)].join(' ') || '(no address)'}`).join(', ')}` };
    }
    const stats = contexts.get(n.name)!.stats;
    if (n.kind === 'router') {
      const r = routers.get(n.name)!;
      const pick: CounterName[] = n.lb
        ? ['lbScheduled', 'lbNoBackend', 'lbConnectFailed', 'lbBackendDown', 'lbBackendUp', 'IpForwDatagrams']
        : ['IpForwDatagrams', 'ipForwTtlExceeded', 'IpExtInNoRoutes', 'ipReversePathFilter', 'IpFragCreates', 'IcmpOutMsgs'];
      return {
        name: n.name,
        kind: n.lbNode ? 'lb' : 'router',
        detail: [
          ...r.interfaces.map((i) => `${i.name} ${i.ipv4Addresses.map(formatIpv4Cidr).join(' ')} (${formatMac(i.mac)})`),
          ...r.pointToPoint.map((p) => `${p.name} ${p.ipv4Addresses.map(formatIpv4Cidr).join(' ')} (point-to-point)`),
        ].join(', '),
        counters: Object.fromEntries(pick.map((k) => [k, stats.get(k)])),
      };
    }
    if (n.kind === 'hub') {
      const hub = hubs.get(n.name)!;
      return { name: n.name, kind: 'hub', detail: `${hub.ports.length} ports, no MAC table`, counters: Object.fromEntries((['hubInFrames', 'hubOutFrames'] as const).map((k) => [k, stats.get(k)])) };
    }
    const sw = switches.get(n.name)!;
    return {
      name: n.name,
      kind: 'switch',
      detail: `${sw.ports.length} ports, ${sw.macRows().length} MAC entries`,
      counters: Object.fromEntries((['swInFrames', 'swForwarded', 'swFloodsGroup', 'swFloodsUnknownUnicast', 'swMacTableFull'] as const).map((k) => [k, stats.get(k)])),
    };
  });
  const links = running.map(({ spec, impaired, carrier }) => ({
    ends: `${spec.a.node}:${spec.a.port} — ${spec.b.node}:${spec.b.port}`,
    mtu: spec.mtu,
    impairment: describeImpairment(spec),
    counters: impaired ? { aToB: { ...impaired[0].impairment.counters }, bToA: { ...impaired[1].impairment.counters } } : undefined,
    note: carrier.up ? undefined : `down: ${carrier.counters.txDropped + carrier.counters.rxDropped} frames dropped`,
    down: carrier.up ? undefined : true,
  }));
  return { name: topology.name, file: topology.file, pid: process.pid, nodes, links };
}

/** `tapnet link down|up A B --lab FILE`: the cable out or back in (device/carrier.ts). One line back. */
function setLink(topology: Topology, running: readonly RunningLink[], aText: string, bText: string, state: string, log: Logger): string {
  const a = parseLinkEnd(aText);
  const b = parseLinkEnd(bText);
  if (!a || !b) throw new Error(`link: expected NODE or NODE:PORT at each end, got '${aText}' '${bText}'`);
  if (state !== 'down' && state !== 'up') throw new Error(`link: expected down or up, got '${state}'`);
  const found = findLink(topology, a, b);
  if (!found.ok) throw new Error(`link: ${found.error}`);
  const link = running[found.index]!;
  const ends = formatLinkEnds(link.spec);
  const was = link.carrier.up ? 'up' : 'down';
  link.carrier.up = state === 'up';
  log.info({ link: ends, state }, `link ${ends} ${state}${was === state ? ' (it already was)' : ''}`);
  return state === 'down'
    ? `link ${ends} is down: no frame crosses it either way (the ports keep their carrier: BGP notices by its hold timer)\n`
    : `link ${ends} is up\n`;
}

/** `tapnet bgp refresh|reset [NEIGHBOR] --lab FILE [--node NODE] [--out]` (services/bgp/operator.ts). */
function bgpControl(topology: Topology, services: ReadonlyMap<string, RouterServices>, node: string | undefined, op: string, neighbor: string | undefined, log: Logger): string {
  const speakers = [...services].filter(([, s]) => s.bgp).map(([name]) => name);
  const name = node ?? (speakers.length === 1 ? speakers[0] : undefined);
  if (name === undefined) throw new Error(`bgp: which router? add --node NAME (routers with bgp: in lab ${topology.name}: ${speakers.join(', ') || 'none'})`);
  const speaker = services.get(name)?.bgp;
  if (!speaker) throw new Error(`bgp: --node: '${name}' has no bgp: block in lab ${topology.name} (routers with one: ${speakers.join(', ') || 'none'})`);
  const action = op === 'refresh' ? refreshIn : op === 'refresh-out' ? refreshOut : op === 'reset' ? resetSessions : undefined;
  if (!action) throw new Error(`bgp: expected refresh, refresh-out or reset, got '${op}'`);
  const lines = action(speaker, neighbor);
  log.info({ node: name, op, neighbor }, `bgp ${op} on ${name}: ${lines.join('; ')}`);
  return lines.map((l) => `${name} ${l}\n`).join('');
}

/** Text rendering of `LabStatus` for `tapnet lab status`. */
export function formatLabStatus(s: LabStatus): string {
  let out = `lab ${s.name} (${s.file}) is up, pid ${s.pid}\n\nnodes:\n`;
  for (const n of s.nodes) {
    out += `  ${n.name.padEnd(12)} ${n.kind.padEnd(7)} ${n.detail}\n`;
    if (n.counters) out += `  ${''.padEnd(12)} ${''.padEnd(7)} ${Object.entries(n.counters).map(([k, v]) => `${k} ${v}`).join(', ')}\n`;
  }
  out += '\nlinks:\n';
  for (const l of s.links) {
    out += `  ${l.ends}  mtu ${l.mtu}${l.impairment ? `  impairment: ${l.impairment}` : ''}${l.note ? `  (${l.note})` : ''}\n`;
    if (l.counters) {
      for (const [dir, c] of Object.entries(l.counters)) {
        const counters = c as Record<string, number>;
        out += `      ${dir}: ${Object.entries(counters).map(([k, v]) => `${k} ${v}`).join(', ')}\n`;
      }
    }
  }
  return out;
}

/** The services a lab router runs (its `dns:`, the DHCP server on `dhcp: true` interfaces, `iperf3: true`), for `show`. */
interface RouterServices {
  readonly dns?: DnsServer;
  readonly dhcp?: DhcpServer;
  readonly iperf3?: Iperf3Server;
  readonly bgp?: BgpSpeaker;
}

/** Everything `tapnet show --lab` can look at. */
interface LabNodes {
  readonly routers: ReadonlyMap<string, Router>;
  readonly switches: ReadonlyMap<string, LearningSwitch>;
  readonly hubs: ReadonlyMap<string, Hub>;
  readonly contexts: ReadonlyMap<string, StackContext>;
  readonly services: ReadonlyMap<string, RouterServices>;
  /** Counters of the lab itself (the browser view's), shown by `show stats` without --node. */
  readonly labStats: Stats;
}

/** What `show` offers on a router, given what it runs: the list an unknown table's error names. */
function routerTables(router: Router, services: RouterServices | undefined): string[] {
  const tables = ['stats', 'routes', 'arp', 'neigh', 'interfaces', 'tcp', 'hooks'];
  if (router.netfilter) tables.push('conntrack', 'nat', 'firewall');
  if (router.uplink) tables.push('uplink');
  if (services?.dhcp) tables.push('leases');
  if (services?.dns) tables.push('dns');
  if (services?.iperf3) tables.push('iperf3');
  if (services?.bgp) tables.push('bgp');
  tables.push(...router.shows.keys()); // a service's own table (`wg`)
  return tables;
}

function showNode(topology: Topology, nodes: LabNodes, what: string, node: string | undefined, json: boolean): unknown {
  const { routers, switches, hubs, contexts, services, labStats } = nodes;
  const hub = node === undefined ? undefined : hubs.get(node);
  if (hub && what === 'ports') return json ? { [hub.name]: hub.ports.map((p) => ({ name: p.name, ...p.counters })) } : hub.show();
  if (hub && what === 'mac') throw new Error(`${hub.name} is a hub: it has no MAC table (it learns nothing and repeats every frame to every port)`);
  if (what === 'mac' || what === 'ports') {
    const targets = node === undefined ? [...switches.values()] : [switches.get(node)];
    if (targets.length === 0 || targets[0] === undefined) {
      throw new Error(node === undefined ? `lab ${topology.name} has no switch` : `'${node}' is not a switch of lab ${topology.name} (switches: ${[...switches.keys()].join(', ') || 'none'})`);
    }
    if (json) return Object.fromEntries(targets.map((sw) => [sw!.name, what === 'mac' ? sw!.macRows() : sw!.ports.map((p) => ({ name: p.name, ...p.counters }))]));
    return targets.map((sw) => sw!.show(what)).join('\n');
  }
  const names = [...routers.keys(), ...switches.keys(), ...hubs.keys()];
  const name = node ?? (routers.size === 1 ? [...routers.keys()][0] : undefined);
  // `show stats --lab FILE`: the lab's own counters (the browser view's) too, after the only router's or alone.
  if (what === 'stats' && node === undefined && (name !== undefined || Object.keys(labStats.snapshot()).length > 0)) {
    const own = labStats.snapshot();
    const of = name === undefined ? {} : contexts.get(name)!.stats.snapshot();
    if (json) return { ...of, ...own };
    const lines = (c: Record<string, number>): string => Object.entries(c).map(([k, v]) => `${k.padEnd(32)} ${v}\n`).join('');
    if (name !== undefined) return lines(of) + lines(own);
    return `${lines(own)}# each node's counters: --node NAME (${names.join(', ')})\n`;
  }
  if (name === undefined) throw new Error(`which node? add --node NAME (tapnet nodes of lab ${topology.name}: ${names.join(', ')})`);
  const ctx = contexts.get(name);
  if (!ctx) throw new Error(`'${name}' is not a tapnet node of lab ${topology.name} (hosts are Linux: use ip netns exec ${name} ...); tapnet nodes: ${names.join(', ')}`);
  if (what === 'stats' && json) return ctx.stats.snapshot();
  const router = routers.get(name);
  if (router) {
    const own = services.get(name);
    const tables = routerTables(router, own);
    if (!tables.includes(what)) {
      const hint =
        what === 'leases' ? ' (no interface of it has dhcp: true)' : what === 'dns' ? ' (it has no dns:)' : what === 'iperf3' ? ` (add iperf3: true to it in ${topology.file})` : what === 'bgp' ? ` (add bgp: to it in ${topology.file})` : '';
      throw new Error(`router ${name} has no table '${what}'${hint}; it shows: ${tables.join(', ')}`);
    }
    if (what === 'leases') return json ? own!.dhcp!.leases() : own!.dhcp!.show();
    if (what === 'dns') return json ? own!.dns!.showJson() : own!.dns!.show();
    if (what === 'iperf3') return json ? own!.iperf3!.status() : own!.iperf3!.show();
    if (what === 'bgp') return json ? own!.bgp!.showJson() : own!.bgp!.show();
    return json ? router.showJson(what) : router.show(what);
  }
  if (what === 'stats') return Object.entries(ctx.stats.snapshot()).map(([k, v]) => `${k.padEnd(32)} ${v}\n`).join('');
  throw new Error(`a ${hub ? 'hub shows ports' : 'switch shows mac, ports'} or stats, not '${what}'`);
}

/** `show mac` in a lab with VXLAN links: the switches' MAC tables (when any matches `node`), then the tunnels' FDBs. */
function showMacAndVxlan(topology: Topology, nodes: LabNodes, vxlan: readonly RunningVxlanLink[], node: string | undefined, json: boolean): unknown {
  const switches = node === undefined ? nodes.switches.size > 0 : nodes.switches.has(node);
  const tunnels = vxlan.some((v) => node === undefined || v.spec.end.node === node);
  if (!tunnels) return showNode(topology, nodes, 'mac', node, json);
  const fdb = showVxlanFdb(vxlan, node, json);
  const tables = switches ? showNode(topology, nodes, 'mac', node, json) : json ? {} : '';
  return json ? { ...(tables as object), vxlan: fdb } : `${tables as string}${fdb as string}`;
}

/** `tapnet lab up FILE` from the CLI: stop cleanly on SIGINT/SIGTERM with exit code 0, during start-up too. */
export async function runLab(topology: Topology, options: LabOptions): Promise<void> {
  await serveUntilSignalled((signal) => startLab(topology, options, signal));
}

/** How long `lab down` waits for the lab process to remove what it made. */
export const LAB_DOWN_TIMEOUT_MS = 15_000;

/**
 * `tapnet lab down FILE`: asks the running lab to stop and waits until it
 * has; then removes leftovers of a lab that died without cleaning up (its
 * host namespaces). Returns what it did, one line.
 */
export async function labDown(topology: Topology): Promise<string> {
  const path = labSocketPath(topology.name);
  const hosts = topology.nodes.filter((n) => n.kind === 'host').map((n) => n.name);
  let message = `lab ${topology.name} was not running`;
  if (await controlSocketAlive(path)) {
    await controlRequest(path, { command: 'shutdown' });
    const deadline = Date.now() + LAB_DOWN_TIMEOUT_MS;
    // The lab is another process: polling its socket is the only way to see it finish.
    while (Date.now() < deadline && (await controlSocketAlive(path))) await new Promise((r) => setTimeout(r, 100));
    message = `lab ${topology.name} stopped`;
  }
  const leftovers = hosts.filter((h) => netnsExists(h));
  for (const h of leftovers) {
    netnsKillAll(h);
    netnsDelete(h);
  }
  // A lab that died leaves its resolvers: files behind (writeNetnsResolvConf marks them as its own).
  for (const h of hosts) {
    const file = join('/etc/netns', h, 'resolv.conf');
    if (!existsSync(file) || !readFileSync(file, 'utf8').startsWith(RESOLV_CONF_MARK)) continue;
    rmSync(file, { force: true });
    if (readdirSync(join('/etc/netns', h)).length === 0) rmSync(join('/etc/netns', h), { recursive: true, force: true });
  }
  rmSync(path, { force: true });
  return leftovers.length > 0 ? `${message}; removed leftover namespaces ${leftovers.join(', ')}` : message;
}

/** `tapnet lab status FILE`: the running lab's status, or undefined when it is not up. */
export async function queryLabStatus(topology: Topology): Promise<LabStatus | undefined> {
  const path = labSocketPath(topology.name);
  if (!(await controlSocketAlive(path))) return undefined;
  const reply = await controlRequest(path, { command: 'status' });
  if (!reply.ok) throw new Error(reply.error);
  return reply.result as LabStatus;
}

export { LabSetupError };
