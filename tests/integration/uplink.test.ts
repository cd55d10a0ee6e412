/**
 * The uplink (slirp-style NAT through the host's own sockets) against real
 * servers on 127.0.0.1, reached from a tapnet host behind a tapnet router
 * through the host alias. Real time: the host's sockets do not run on a
 * manual clock. ICMP echo leaves through a raw socket (root): to 127.0.0.1
 * for the alias, and to a veth peer inside a namespace made for this test,
 * never to any other address.
 */
import { createServer as createTcpServer, type Server as HostTcpServer, type AddressInfo } from 'node:net';
import { createSocket as createUdpSocket, type Socket as HostUdpSocket } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, type StackContext } from '../../src/core/context.js';
import { Stats } from '../../src/core/stats.js';
import { RealTimeDriver } from '../../src/core/time.js';
import { Tracer, silentLogger } from '../../src/core/trace.js';
import { createLinkPair } from '../../src/device/link.js';
import { parseIpv4 } from '../../src/l3/ipv4/address.js';
import { Router } from '../../src/node/router.js';
import { Host } from '../../src/node/host.js';
import { Uplink } from '../../src/services/uplink/uplink.js';
import type { UdpRemoteInfo } from '../../src/l4/udp/udp.js';
import { linkExists, netnsExists, sh, uniqueName } from './harness.js';

const ip = (t: string): number => parseIpv4(t)!;
const ALIAS = '192.0.2.2';

describe('uplink: TCP and UDP through host sockets to loopback servers', () => {
  const base = createContext();
  const driver = new RealTimeDriver(base.timers);
  const own = (): StackContext => {
    const stats = new Stats();
    return { ...base, stats, trace: new Tracer(silentLogger, stats) };
  };
  const pc = new Host(own());
  const gw = new Router(own());
  const uplink = new Uplink(gw, { hostAlias: ip(ALIAS), icmpEchoTimeoutMs: 500 });
  // A namespace reached from this (the root) namespace over a veth: the only non-loopback address pinged.
  const ns = uniqueName('tnupl');
  const veth = uniqueName('tnuplv');
  const octet = 1 + (randomBytes(1)[0]! % 250);
  const NS_ADDRESS = `198.18.${octet}.2`;
  const NOBODY = `198.18.${octet}.5`; // on the veth's subnet, unanswered: the host's ARP fails
  let tcpEcho: HostTcpServer;
  let udpEcho: HostUdpSocket;
  const seenByTcpServer: string[] = [];
  const seenByUdpServer: string[] = [];
  let closedPort = 0;

  beforeAll(async () => {
    const [a, b] = createLinkPair(base, { nameA: 'pc0', nameB: 'gw-lan' });
    const pcIf = pc.addInterface(a, { name: 'eth0', mac: 0x020000000a01, ipv4: [{ address: ip('10.0.2.15'), prefixLength: 24 }] });
    gw.addInterface(b, { name: 'lan', mac: 0x020000000a02, ipv4: [{ address: ip('10.0.2.1'), prefixLength: 24 }] });
    pc.routes.add({ destination: { address: 0, prefixLength: 0 }, gateway: ip('10.0.2.1'), value: pcIf });
    gw.routes.add({ destination: { address: 0, prefixLength: 0 }, value: uplink.link });

    tcpEcho = createTcpServer((s) => {
      seenByTcpServer.push(`${s.remoteAddress}`);
      s.pipe(s);
    });
    await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', r));
    udpEcho = createUdpSocket('udp4');
    udpEcho.on('message', (msg, rinfo) => {
      seenByUdpServer.push(rinfo.address);
      udpEcho.send(msg, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', r));
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const run = (args: string[]): void => {
      const r = sh('ip', args);
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    };
    run(['netns', 'add', ns]);
    run(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run(['addr', 'add', `198.18.${octet}.1/29`, 'dev', veth]);
    run(['link', 'set', veth, 'up']);
    run(['-n', ns, 'addr', 'add', `${NS_ADDRESS}/29`, 'dev', 'eth0']);
    run(['-n', ns, 'link', 'set', 'eth0', 'up']);
  });

  afterAll(() => {
    if (linkExists(veth)) sh('ip', ['link', 'delete', veth]);
    if (netnsExists(ns)) sh('ip', ['netns', 'delete', ns]);
    uplink.close();
    tcpEcho?.close();
    udpEcho?.close();
    driver.stop();
  });

  it('proxies a TCP connection to the host alias to a server on 127.0.0.1, both ways, 1 MB with a checksum', async () => {
    const port = (tcpEcho.address() as AddressInfo).port;
    const data = randomBytes(1 << 20);
    const socket = pc.tcp.connect({ host: ALIAS, port });
    const received: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('connect', () => socket.end(data));
      socket.on('data', (d: Buffer) => received.push(d));
      socket.on('end', () => resolve());
    });
    const back = Buffer.concat(received);
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(seenByTcpServer).toEqual(['127.0.0.1']);
    expect(gw.ctx.stats.get('uplinkTcpConnects')).toBe(1);
  });

  it('answers a connection the host refuses with a RST (ECONNREFUSED inside)', async () => {
    const socket = pc.tcp.connect({ host: ALIAS, port: closedPort });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => socket.on('error', resolve));
    expect(error.code).toBe('ECONNREFUSED');
    expect(gw.ctx.stats.get('uplinkTcpConnectFailed')).toBe(1);
  });

  it('relays UDP both ways; the answer comes from the alias', async () => {
    const port = (udpEcho.address() as AddressInfo).port;
    const sock = pc.udp.createSocket();
    const reply = new Promise<{ text: string; rinfo: UdpRemoteInfo }>((resolve) => sock.on('message', (m: Buffer, rinfo: UdpRemoteInfo) => resolve({ text: m.toString(), rinfo })));
    sock.bind(40000);
    sock.send('ping over udp', port, ALIAS);
    const { text, rinfo } = await reply;
    expect(text).toBe('ping over udp');
    expect([rinfo.address, rinfo.port]).toEqual([ALIAS, port]);
    expect(seenByUdpServer).toEqual(['127.0.0.1']);
    expect(uplink.show()).toMatch(/udp 10\.0\.2\.15:40000 -> host port \d+/);
  });

  it('pings the alias through a raw socket to 127.0.0.1, and a namespace address through the host', async () => {
    const toAlias = await pc.ping(ip(ALIAS), { count: 2, timeoutMs: 2000 });
    expect(toAlias.map((r) => r.rttMs !== undefined)).toEqual([true, true]);
    const toNs = await pc.ping(ip(NS_ADDRESS), { count: 1, timeoutMs: 3000 });
    expect(toNs[0]!.rttMs).toBeDefined();
    expect(gw.ctx.stats.get('uplinkIcmpEchoOut')).toBe(3);
    expect(gw.ctx.stats.get('uplinkIcmpEchoIn')).toBe(3);
    expect(gw.ctx.stats.get('uplinkIcmpEchoAnswered')).toBe(0); // not answered by the uplink itself
    expect(uplink.show()).toMatch(/icmp echo: id \d+, raw socket open, 0 outstanding/);
  });

  it('forgets an echo nobody answers after its timeout', async () => {
    const r = await pc.ping(ip(NOBODY), { count: 1, timeoutMs: 300 });
    expect(r[0]!.rttMs).toBeUndefined();
    const deadline = Date.now() + 3000;
    while (gw.ctx.stats.get('uplinkIcmpEchoTimeouts') === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(gw.ctx.stats.get('uplinkIcmpEchoTimeouts')).toBe(1);
    expect(uplink.show()).toContain('0 outstanding');
  });
});
