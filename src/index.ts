/**
 * tapnet as a library: the pieces a program needs to build its own nodes and
 * topologies in-process (tests and benches use exactly these).
 *
 *   const ctx = createContext();
 *   const [a, b] = createLinkPair(ctx);
 *   const host = new Host(ctx);
 *   host.addInterface(a, { mac: 0x02_00_00_00_00_01, ipv4: [parseIpv4Cidr('10.0.0.1/24')!] });
 *
 * Everything else is reachable by path (src/<floor>/...); ARCHITECTURE.md
 * names the floors.
 */
export { createContext, createTestContext, cryptoRandom, type StackContext } from './core/context.js';
export { ManualClock, RealTimeDriver, Timers, seededRandom, systemClock, type Clock, type Random } from './core/time.js';
export { Stats } from './core/stats.js';
export { createLogger, type LogLevel } from './core/trace.js';
export { PcapWriter, readPcap } from './core/pcap.js';
export type { Device } from './device/device.js';
export { createLinkPair, type LinkDevice, type LinkOptions } from './device/link.js';
export { Impairment, type ImpairmentOptions } from './device/impairment.js';
export { openTap, TapDevice, type TapOptions } from './device/tap.js';
export { LearningSwitch, type LearningSwitchOptions } from './l2/switch/learning-switch.js';
export { formatMac, parseMac, type MacAddress } from './l2/mac-address.js';
export { formatIpv4, formatIpv4Cidr, parseIpv4, parseIpv4Cidr, type Ipv4Address, type Ipv4Cidr } from './l3/ipv4/address.js';
export { formatIpv6, parseIpv6, parseIpv6Cidr, type Ipv6Address, type Ipv6Cidr } from './l3/ipv6/address.js';
export { Host, type PingReply } from './node/host.js';
export { Router, type RouterOptions, type StaticRoute } from './node/router.js';
export { Netfilter, type NetfilterConfig } from './netfilter/netfilter.js';
export { DnsServer, type DnsServerOptions } from './services/dns/server.js';
export { DhcpServer, type DhcpServerOptions } from './services/dhcp/server.js';
export { DhcpClient, type DhcpClientOptions } from './services/dhcp/client.js';
export { startHttpService, type HttpService, type HttpServiceOptions } from './services/http/server.js';
export { startUp, type UpOptions } from './runtime/up.js';
export { startLab, type LabOptions } from './runtime/lab.js';
