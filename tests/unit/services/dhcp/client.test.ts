/**
 * The DHCP client's RFC 2131 §4.4 state machine against tapnet's server (and
 * a scripted fake server for NAKs), on an in-memory link with a manual clock.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIpv4, formatIpv4Cidr, parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { DhcpClient, DHCP_RENEW_RETRANSMIT_MIN_MS, prefixLengthOf, type DhcpClientState } from '../../../../src/services/dhcp/client.js';
import { DhcpServer } from '../../../../src/services/dhcp/server.js';
import { BootpOp, encodeDhcpMessage, parseDhcpMessage, type DhcpMessage } from '../../../../src/services/dhcp/message.js';
import { DhcpMessageType } from '../../../../src/services/dhcp/options.js';
import { CLIENT_MAC, SERVER, dhcpLab } from './lab.js';

const ip = (s: string): number => parseIpv4(s)!;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function clientLab(serverOptions: ConstructorParameters<typeof DhcpServer>[1] = {}, withServer = true) {
  const lab = dhcpLab();
  const server = new DhcpServer(lab.s, { domainName: 'lab', wallClock: () => 1_700_000_000_000 + lab.ctx.clock.now(), ...serverOptions });
  if (withServer) server.start();
  const states: DhcpClientState[] = [];
  const iface = lab.c.interfaces[0]!;
  const client = new DhcpClient(lab.c, iface, { hostname: 'tapnet-c', initDelayMaxMs: 0, onBound: () => states.push('BOUND'), onUnbound: (r) => states.push(`unbound: ${r}` as DhcpClientState) });
  const cstat = (name: CounterName): number => lab.ctxC.stats.get(name);
  const sstat = (name: CounterName): number => lab.ctx.stats.get(name);
  const addresses = (): string[] => iface.ipv4Addresses.map(formatIpv4Cidr);
  return { ...lab, server, client, iface, states, cstat, sstat, addresses };
}

describe('DHCP client: INIT → SELECTING → REQUESTING → BOUND', () => {
  it('gets a lease and configures the address, the connected route and the default route', async () => {
    const lab = clientLab();
    lab.client.start();
    lab.run(10);
    expect(lab.client.state).toBe('BOUND');
    expect(lab.addresses()).toEqual(['10.0.0.100/24']);
    expect(lab.c.show('routes')).toBe('10.0.0.0/24 dev c0\n0.0.0.0/0 via 10.0.0.1 dev c0\n');
    expect(lab.client.lease).toMatchObject({ serverId: SERVER, routers: [SERVER], dnsServers: [SERVER], domainName: 'lab', leaseSeconds: 3600 });
    expect(lab.client.describe()).toMatch(/BOUND 10\.0\.0\.100\/24 from 10\.0\.0\.1, lease 3600s \(renew in 1800s/);
    expect(lab.server.leases()).toMatchObject([{ address: '10.0.0.100', state: 'bound', hostname: 'tapnet-c', clientId: '0102000000' + '00c1' }]);
    expect([lab.cstat('dhcpClientOutDiscovers'), lab.cstat('dhcpClientInOffers'), lab.cstat('dhcpClientOutRequests'), lab.cstat('dhcpClientInAcks')]).toEqual([1, 1, 1, 1]);
    // The address works: the server host reaches the client.
    const pinged = lab.s.ping(ip('10.0.0.100'), { count: 1 });
    lab.run(50);
    expect((await pinged)[0]!.rttMs).toBeDefined();
  });

  it('retransmits DISCOVER after 4, 8, 16, 32, 64, 64 s (±1 s) while nobody answers (RFC 2131 §4.1)', () => {
    const lab = clientLab({}, false);
    lab.client.start();
    const times: number[] = [];
    let seen = 0;
    for (let t = 0; t <= 200_000; t += 100) {
      lab.run(100);
      const n = lab.cstat('dhcpClientOutDiscovers');
      if (n > seen) {
        times.push(lab.ctx.clock.now());
        seen = n;
      }
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps).toHaveLength(6);
    [4000, 8000, 16000, 32000, 64000, 64000].forEach((want, i) => {
      expect(Math.abs(gaps[i]! - want)).toBeLessThanOrEqual(1100);
    });
    expect(lab.client.state).toBe('SELECTING');
    expect(lab.addresses()).toEqual([]);
  });
});

describe('DHCP client: BOUND → RENEWING → REBINDING (RFC 2131 §4.4.5)', () => {
  it('renews at T1 by unicast to the server and stays bound with fresh timers', () => {
    const lab = clientLab({ leaseTimeSeconds: 600 });
    lab.client.start();
    lab.run(10);
    const firstExpiry = lab.client.lease!.expiresAt;
    lab.run(299_000);
    expect(lab.client.state).toBe('BOUND');
    lab.run(1_000); // T1 = 300 s
    lab.run(10);
    expect(lab.client.state).toBe('BOUND');
    expect(lab.client.lease!.expiresAt).toBeGreaterThan(firstExpiry + 299_000);
    expect(lab.cstat('dhcpClientInAcks')).toBe(2);
    expect(lab.sstat('dhcpOutAcks')).toBe(2);
    expect(lab.states).toEqual(['BOUND', 'BOUND']);
    expect(lab.addresses()).toEqual(['10.0.0.100/24']);
  });

  it('with the server gone, renews in vain from T1, then rebinds by broadcast after T2 with a server restarted from its lease file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapnet-dhcpc-'));
    dirs.push(dir);
    const leaseFile = join(dir, 'leases');
    const lab = clientLab({ leaseTimeSeconds: 1000, leaseFile });
    lab.client.start();
    lab.run(10);
    lab.server.stop(); // the server process goes away
    lab.run(500_000); // T1
    expect(lab.client.state).toBe('RENEWING');
    // Unanswered: the next unicast try after half the time left to T2 (187.5 s), not sooner than 60 s.
    lab.run(187_000);
    expect(lab.cstat('dhcpClientOutRequests')).toBe(2);
    lab.run(1_000);
    expect(lab.cstat('dhcpClientOutRequests')).toBe(3);
    // Then at 781.25 s (half of 187.5 s) and 841.25 s (the 60 s floor), and at T2 = 875 s the broadcast.
    lab.run(875_010 - lab.ctx.clock.now());
    expect(lab.client.state).toBe('REBINDING');
    expect(lab.cstat('dhcpClientOutRequests')).toBe(6);
    // A new server process starts from the lease file; the next broadcast (after max(62.5 s, 60 s)) reaches it.
    const restarted = new DhcpServer(lab.s, { leaseFile, wallClock: () => 1_700_000_000_000 + lab.ctx.clock.now() });
    restarted.start();
    expect(restarted.leases()).toMatchObject([{ address: '10.0.0.100', state: 'bound' }]);
    lab.run(62_600);
    expect(lab.client.state).toBe('BOUND');
    expect(lab.ctx.stats.get('dhcpInRequests')).toBe(2); // the first REQUEST and this rebinding one
    expect(lab.client.lease!.expiresAt).toBeGreaterThan(1_900_000);
    expect(lab.addresses()).toEqual(['10.0.0.100/24']);
  });

  it('when the lease runs out unanswered, drops the address and routes and starts over', () => {
    const lab = clientLab({ leaseTimeSeconds: 200 });
    lab.client.start();
    lab.run(10);
    lab.server.stop();
    lab.run(100_000);
    expect(lab.client.state).toBe('RENEWING');
    lab.run(75_000);
    expect(lab.client.state).toBe('REBINDING');
    lab.run(25_000);
    expect(lab.cstat('dhcpClientLeaseExpired')).toBe(1);
    expect(lab.addresses()).toEqual([]);
    expect(lab.c.show('routes')).toBe('');
    expect(lab.client.state).toBe('SELECTING');
    expect(lab.states).toEqual(['BOUND', 'unbound: lease expired']);
  });
});

describe('DHCP client: NAK, release, and what it ignores', () => {
  /** A scripted server on S port 67 that answers each client message with `answer(m)`. */
  function fakeServer(lab: ReturnType<typeof clientLab>, answer: (m: DhcpMessage) => DhcpMessage | undefined) {
    const socket = lab.s.udp.createSocket();
    socket.setBroadcast(true);
    socket.bind(67);
    socket.on('message', (msg) => {
      const parsed = parseDhcpMessage(msg);
      if (!parsed.ok) return;
      const reply = answer(parsed.value);
      if (!reply) return;
      const buf = new Uint8Array(600);
      socket.send(buf.subarray(0, encodeDhcpMessage(reply, buf, 0)), 68, '255.255.255.255');
    });
    return socket;
  }
  const replyTo = (m: DhcpMessage, type: number, yiaddr: number): DhcpMessage => ({
    ...m,
    op: BootpOp.BOOTREPLY,
    yiaddr,
    options: { messageType: type, serverIdentifier: SERVER, leaseTime: 600, subnetMask: 0xffffff00 },
  });

  it('a NAK in REQUESTING sends it back to INIT, and it tries again', () => {
    const lab = clientLab({}, false);
    let naks = 0;
    fakeServer(lab, (m) => {
      if (m.options.messageType === DhcpMessageType.DISCOVER) return replyTo(m, DhcpMessageType.OFFER, ip('10.0.0.50'));
      if (naks++ === 0) return replyTo(m, DhcpMessageType.NAK, 0);
      return replyTo(m, DhcpMessageType.ACK, ip('10.0.0.50'));
    });
    lab.client.start();
    lab.run(10);
    expect(lab.cstat('dhcpClientInNaks')).toBe(1);
    expect(['INIT', 'SELECTING', 'REQUESTING', 'BOUND']).toContain(lab.client.state);
    lab.run(15_000);
    expect(lab.client.state).toBe('BOUND');
    expect(lab.addresses()).toEqual(['10.0.0.50/24']);
    expect(lab.cstat('dhcpClientOutDiscovers')).toBe(2);
  });

  it('a NAK while RENEWING takes the address away', () => {
    const lab = clientLab({}, false);
    fakeServer(lab, (m) => {
      if (m.options.messageType === DhcpMessageType.DISCOVER) return replyTo(m, DhcpMessageType.OFFER, ip('10.0.0.50'));
      if (m.ciaddr !== 0) return replyTo(m, DhcpMessageType.NAK, 0);
      return replyTo(m, DhcpMessageType.ACK, ip('10.0.0.50'));
    });
    lab.client.start();
    lab.run(10);
    expect(lab.client.state).toBe('BOUND');
    lab.run(300_010); // T1 of a 600 s lease
    expect(lab.states).toContain('unbound: NAK');
    expect(lab.cstat('dhcpClientInNaks')).toBe(1);
  });

  it('release() sends DHCPRELEASE to the server, which frees the binding, and removes the address', () => {
    const lab = clientLab();
    lab.client.start();
    lab.run(10);
    lab.client.release();
    lab.run(10);
    expect(lab.sstat('dhcpInReleases')).toBe(1);
    expect(lab.server.leases()[0]!.state).toBe('released');
    expect(lab.addresses()).toEqual([]);
    expect(lab.client.state).toBe('STOPPED');
  });

  it('ignores replies for another transaction or another MAC, and counts garbage', () => {
    const lab = clientLab({}, false);
    let variant = 0;
    fakeServer(lab, (m) => {
      variant++;
      if (variant === 1) return { ...replyTo(m, DhcpMessageType.OFFER, ip('10.0.0.50')), xid: (m.xid ^ 1) >>> 0 };
      if (variant === 2) return { ...replyTo(m, DhcpMessageType.OFFER, ip('10.0.0.50')), chaddr: CLIENT_MAC + 1 };
      return undefined;
    });
    lab.client.start();
    lab.run(10);
    lab.run(5_000);
    expect(lab.cstat('dhcpClientInIgnored')).toBe(2);
    expect(lab.client.state).toBe('SELECTING');
    lab.client.receive(new Uint8Array(100));
    expect(lab.cstat('dhcpClientInErrors')).toBe(1);
  });
});

describe('prefixLengthOf', () => {
  it('reads a contiguous mask, else falls back to the address class', () => {
    expect(prefixLengthOf(0xffffff00, ip('10.0.0.1'))).toBe(24);
    expect(prefixLengthOf(0xffffffff, ip('10.0.0.1'))).toBe(32);
    expect(prefixLengthOf(0, ip('10.0.0.1'))).toBe(0);
    expect(prefixLengthOf(0xff00ff00, ip('10.0.0.1'))).toBe(8);
    expect(prefixLengthOf(undefined, ip('172.16.0.1'))).toBe(16);
    expect(prefixLengthOf(undefined, ip('192.168.0.1'))).toBe(24);
  });
});
