/**
 * A home network on a manual clock:
 *
 *   pc1 10.0.0.10 ─┐                                       ┌─ web 203.0.113.10
 *   pc2 10.0.0.11 ─┼─ lan switch ─ lan 10.0.0.1 [gw] wan 203.0.113.1 ─ wan switch ─┤
 *   srv 10.0.0.20 ─┘                                       └─ peer 203.0.113.20
 *
 * gw is a tapnet Router with netfilter attached (the config is the test's).
 * The outside hosts have no route to 10.0.0.0/24: a packet that leaks out
 * untranslated gets no answer. Every node records the TCP segments and raw
 * IPv4 packets of protocol 253 it receives.
 */
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { LearningSwitch } from '../../../../src/l2/switch/learning-switch.js';
import { Netfilter, type NetfilterConfig } from '../../../../src/netfilter/netfilter.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import { Router } from '../../../../src/node/router.js';
import { Host } from '../../../../src/node/host.js';
import { emitTcpHeader, finishTcpChecksumV4, TcpHeaderView, TCP_HEADER_MIN_LENGTH, verifyTcpChecksumV4 } from '../../../../src/l4/tcp/header.js';
import { seq } from '../../../../src/l4/tcp/seq.js';
import { ip } from './packets.js';

export const PC1 = ip('10.0.0.10');
export const PC2 = ip('10.0.0.11');
export const SRV = ip('10.0.0.20');
export const LAN = ip('10.0.0.1');
export const WAN = ip('203.0.113.1');
export const WEB = ip('203.0.113.10');
export const PEER = ip('203.0.113.20');

export interface SeenSegment {
  readonly source: number;
  readonly destination: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly checksumOk: boolean;
}

export function natRig(config: NetfilterConfig, options: { seed?: number } = {}) {
  const ctx = createTestContext(options.seed ?? 5);
  const own = (): StackContext => {
    const stats = new Stats();
    return { ...ctx, stats, trace: new Tracer(silentLogger, stats) };
  };
  const lanSwitch = new LearningSwitch(own(), { name: 'lan' });
  const wanSwitch = new LearningSwitch(own(), { name: 'wan' });
  let mac = 0x02_00_00_00_00_10;
  const attach = (sw: LearningSwitch, node: Host, name: string, address: number, gateway?: number) => {
    const port = `p${sw.ports.length + 1}`;
    const [nodeEnd, switchEnd] = createLinkPair(ctx, { nameA: name, nameB: `${sw.name}-${port}` });
    sw.addPort(switchEnd, { name: port });
    const iface = node.addInterface(nodeEnd, { name, mac: mac++, ipv4: [{ address, prefixLength: 24 }] });
    if (gateway !== undefined) node.routes.add({ destination: { address: 0, prefixLength: 0 }, gateway, value: iface });
    return iface;
  };
  const gw = new Router(own());
  attach(lanSwitch, gw, 'lan', LAN);
  attach(wanSwitch, gw, 'wan', WAN);
  const nf = Netfilter.attach(gw, config);

  const hosts = {
    pc1: new Host(own()),
    pc2: new Host(own()),
    srv: new Host(own()),
    web: new Host(own()),
    peer: new Host(own()),
  };
  attach(lanSwitch, hosts.pc1, 'eth0', PC1, LAN);
  attach(lanSwitch, hosts.pc2, 'eth0', PC2, LAN);
  attach(lanSwitch, hosts.srv, 'eth0', SRV, LAN);
  attach(wanSwitch, hosts.web, 'eth0', WEB);
  attach(wanSwitch, hosts.peer, 'eth0', PEER);

  const segments = new Map<Host, SeenSegment[]>();
  for (const h of Object.values(hosts)) {
    const list: SeenSegment[] = [];
    segments.set(h, list);
    h.registerProtocol(IpProtocol.TCP, (d) => {
      const t = new TcpHeaderView();
      if (t.wrap(d.payload)) return 'dropped';
      list.push({
        source: d.source,
        destination: d.destination,
        sourcePort: t.sourcePort,
        destinationPort: t.destinationPort,
        flags: t.flags,
        seq: t.sequenceNumber,
        ack: t.acknowledgmentNumber,
        checksumOk: verifyTcpChecksumV4(d.payload, d.source, d.destination),
      });
      return 'delivered';
    });
  }

  /** Runs timers and deliveries for `ms` milliseconds of simulated time. */
  const advance = (ms = 20): void => {
    for (let i = 0; i < ms; i++) ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
  };
  const run = async <T>(p: Promise<T>, ms = 10_000): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => ((done = true), (value = v)));
    for (let t = 0; t < ms && !done; t++) {
      ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
      await Promise.resolve();
    }
    if (!done) throw new Error('promise did not settle');
    return value;
  };
  /** Sends a TCP segment from `from` (checksummed for its own address). */
  const sendTcp = (from: Host, destination: number, sourcePort: number, destinationPort: number, flags: number, s = 1000, a = 0): void => {
    const segment = new Uint8Array(TCP_HEADER_MIN_LENGTH);
    emitTcpHeader({ sourcePort, destinationPort, sequenceNumber: seq(s), acknowledgmentNumber: seq(a), flags, window: 1000, urgentPointer: 0, options: {} }, segment, 0);
    const source = from.interfaces[0]!.ipv4Addresses[0]!.address;
    finishTcpChecksumV4(segment, source, destination);
    from.ipv4Out.send({ destination, protocol: IpProtocol.TCP }, segment);
    advance();
  };
  const seen = (h: Host): SeenSegment[] => segments.get(h)!;
  return { ctx, gw, nf, ...hosts, advance, run, sendTcp, seen };
}
