/**
 * The DHCP server on an in-memory link, driven by hand-made client messages
 * (RFC 2131 §4.3, one group per message type) with an injected clock.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIpv4, parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { DhcpServer, OFFER_HOLD_MS } from '../../../../src/services/dhcp/server.js';
import { poolRange, replyDestination } from '../../../../src/services/dhcp/server-reply.js';
import { DhcpFlags, Field, encodeDhcpMessage } from '../../../../src/services/dhcp/message.js';
import { CLIENT_MAC, DhcpMessageType, SERVER, dhcpLab, request } from './lab.js';

const ip = (s: string): number => parseIpv4(s)!;
const DISCOVER = { messageType: DhcpMessageType.DISCOVER };

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tapnet-dhcp-'));
  dirs.push(d);
  return d;
}

/** `wallBase`: Unix ms at clock 0; the wall clock then moves with the manual clock. */
function serverLab(options: ConstructorParameters<typeof DhcpServer>[1] = {}, wallBase = 1_700_000_000_000) {
  const lab = dhcpLab();
  const events: string[] = [];
  const server = new DhcpServer(lab.s, {
    domainName: 'lab',
    wallClock: () => wallBase + lab.ctx.clock.now(),
    onLeaseBound: (h, a) => events.push(`bound ${h} ${formatIpv4(a)}`),
    onLeaseEnded: (h, a) => events.push(`ended ${h} ${formatIpv4(a)}`),
    ...options,
  });
  server.start();
  const stat = (name: CounterName): number => lab.ctx.stats.get(name);
  return { ...lab, server, events, stat };
}

/** DISCOVER + REQUEST for `mac`: returns the ACKed address. */
function dora(lab: ReturnType<typeof serverLab>, probe: ReturnType<ReturnType<typeof serverLab>['probe']>, mac = CLIENT_MAC, hostName?: string): number {
  probe.send({ chaddr: mac, options: { ...DISCOVER, ...(hostName ? { hostName } : {}) } });
  const offer = probe.last()!.message;
  expect(offer.options.messageType).toBe(DhcpMessageType.OFFER);
  probe.send({
    chaddr: mac,
    options: { messageType: DhcpMessageType.REQUEST, serverIdentifier: SERVER, requestedIpAddress: offer.yiaddr, ...(hostName ? { hostName } : {}) },
  });
  const ack = probe.last()!.message;
  expect(ack.options.messageType).toBe(DhcpMessageType.ACK);
  return ack.yiaddr;
}

describe('DHCP server: DISCOVER → OFFER (RFC 2131 §4.3.1)', () => {
  it('offers the first pool address with every option, by broadcast', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ xid: 0xabcd, options: { ...DISCOVER, parameterRequestList: [1, 3, 6, 15] } });
    expect(p.replies).toHaveLength(1);
    const { message: offer, rinfo } = p.replies[0]!;
    expect(rinfo.localAddress).toBe('255.255.255.255'); // broadcast bit set → 0xffffffff
    expect(rinfo.address).toBe('10.0.0.1');
    expect(rinfo.port).toBe(67);
    expect(offer).toMatchObject({ op: 2, xid: 0xabcd, yiaddr: ip('10.0.0.100'), ciaddr: 0, chaddr: CLIENT_MAC, flags: DhcpFlags.BROADCAST });
    expect(offer.options).toMatchObject({
      messageType: DhcpMessageType.OFFER,
      serverIdentifier: SERVER,
      leaseTime: 3600,
      renewalTime: 1800,
      rebindingTime: 3150,
      subnetMask: 0xffffff00,
      routers: [SERVER],
      domainNameServers: [SERVER],
      domainName: 'lab',
    });
    expect(lab.stat('dhcpInDiscovers')).toBe(1);
    expect(lab.stat('dhcpOutOffers')).toBe(1);
    expect(lab.server.leases()).toMatchObject([{ address: '10.0.0.100', state: 'offered', mac: '02:00:00:00:00:c1' }]);
  });

  it('gives the same client the same offer, and the next client the next address', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ options: DISCOVER });
    p.send({ options: DISCOVER });
    p.send({ chaddr: 0x02_00_00_00_00_c2, options: DISCOVER });
    expect(p.replies.map((r) => formatIpv4(r.message.yiaddr))).toEqual(['10.0.0.100', '10.0.0.100', '10.0.0.101']);
  });

  it('honours a requested address that is free, not one that is taken', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ options: { ...DISCOVER, requestedIpAddress: ip('10.0.0.150') } });
    expect(formatIpv4(p.last()!.message.yiaddr)).toBe('10.0.0.150');
    p.send({ chaddr: 0x02_00_00_00_00_c2, options: { ...DISCOVER, requestedIpAddress: ip('10.0.0.150') } });
    expect(formatIpv4(p.last()!.message.yiaddr)).toBe('10.0.0.100');
    p.send({ chaddr: 0x02_00_00_00_00_c3, options: { ...DISCOVER, requestedIpAddress: ip('10.0.0.1') } }); // the server's own
    expect(formatIpv4(p.last()!.message.yiaddr)).toBe('10.0.0.101');
  });

  it('grants a shorter lease on request, down to 120 s, never a longer one', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ options: { ...DISCOVER, leaseTime: 600 } });
    expect(p.last()!.message.options.leaseTime).toBe(600);
    p.send({ options: { ...DISCOVER, leaseTime: 5 } });
    expect(p.last()!.message.options.leaseTime).toBe(120);
    p.send({ options: { ...DISCOVER, leaseTime: 1_000_000 } });
    expect(p.last()!.message.options.leaseTime).toBe(3600);
  });
});

describe('DHCP server: REQUEST (RFC 2131 §4.3.2)', () => {
  it('SELECTING: binds the offered address, reports the hostname, and ACKs by broadcast', () => {
    const lab = serverLab();
    const p = lab.probe();
    const address = dora(lab, p, CLIENT_MAC, 'My_Laptop.example.com');
    expect(formatIpv4(address)).toBe('10.0.0.100');
    const ack = p.last()!;
    expect(ack.rinfo.localAddress).toBe('255.255.255.255');
    expect(ack.message.options.hostName).toBe('mylaptop');
    expect(lab.events).toEqual(['bound mylaptop 10.0.0.100']);
    expect(lab.server.leases()).toMatchObject([{ address: '10.0.0.100', state: 'bound', hostname: 'mylaptop', expiresInSeconds: 3600 }]);
    expect(lab.server.show()).toMatch(/10\.0\.0\.100\s+bound\s+3600s\s+02:00:00:00:00:c1\s+mylaptop\s+s0/);
  });

  it('SELECTING another server: stays silent and frees the offer at once', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ options: DISCOVER });
    p.send({ options: { messageType: DhcpMessageType.REQUEST, serverIdentifier: ip('10.0.0.254'), requestedIpAddress: ip('10.0.0.100') } });
    expect(p.replies).toHaveLength(1);
    expect(lab.stat('dhcpInOtherServer')).toBe(1);
    // The offer went back to the pool: another client may have it now (after fresh addresses, by LRU).
    expect(lab.server.leases()[0]!.state).toBe('released');
  });

  it('SELECTING an address that was not offered: NAK by broadcast, with a reason', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ options: DISCOVER });
    p.send({ options: { messageType: DhcpMessageType.REQUEST, serverIdentifier: SERVER, requestedIpAddress: ip('10.0.0.120') } });
    const nak = p.last()!;
    expect(nak.message.options.messageType).toBe(DhcpMessageType.NAK);
    expect(nak.message.yiaddr).toBe(0);
    expect(nak.message.options.message).toMatch(/not offered/);
    expect(nak.rinfo.localAddress).toBe('255.255.255.255');
    expect(lab.stat('dhcpOutNaks')).toBe(1);
  });

  it('INIT-REBOOT: ACK for the client\'s own address, NAK for another or another network, silence for a stranger', () => {
    const lab = serverLab();
    const p = lab.probe();
    const address = dora(lab, p);
    const reboot = (requestedIpAddress: number, chaddr = CLIENT_MAC): void =>
      p.send({ chaddr, options: { messageType: DhcpMessageType.REQUEST, requestedIpAddress } });
    reboot(address);
    expect(p.last()!.message.options.messageType).toBe(DhcpMessageType.ACK);
    reboot(ip('10.0.0.130'));
    expect(p.last()!.message.options.messageType).toBe(DhcpMessageType.NAK);
    reboot(ip('192.168.5.5'));
    expect(p.last()!.message.options).toMatchObject({ messageType: DhcpMessageType.NAK, message: expect.stringMatching(/another network/) });
    const before = p.replies.length;
    reboot(ip('10.0.0.140'), 0x02_00_00_00_00_99);
    expect(p.replies).toHaveLength(before); // "MUST remain silent"
    expect(lab.stat('dhcpInUnknownClient')).toBe(1);
  });

  it('RENEWING: a unicast REQUEST with ciaddr extends the lease and the ACK is unicast to ciaddr', () => {
    const lab = serverLab({ leaseTimeSeconds: 600 });
    const p = lab.probe();
    const address = dora(lab, p);
    lab.c.addInterfaceAddress(lab.c.interfaces[0]!, { address, prefixLength: 24 });
    lab.run(300_000);
    expect(lab.server.leases()[0]!.expiresInSeconds).toBe(300);
    p.send({ flags: 0, ciaddr: address, options: { messageType: DhcpMessageType.REQUEST } }, '10.0.0.1');
    lab.run(10); // ARP for the client, then the ACK
    const ack = p.last()!;
    expect(ack.message.options.messageType).toBe(DhcpMessageType.ACK);
    expect(ack.message.ciaddr).toBe(address);
    expect(ack.rinfo.localAddress).toBe(formatIpv4(address));
    expect(lab.server.leases()[0]!.expiresInSeconds).toBe(600);
  });

  it('REBINDING: a broadcast REQUEST with ciaddr is ACKed; a renewal of someone else\'s address is NAKed', () => {
    const lab = serverLab();
    const p = lab.probe();
    const address = dora(lab, p);
    lab.c.addInterfaceAddress(lab.c.interfaces[0]!, { address, prefixLength: 24 });
    p.send({ flags: 0, ciaddr: address, options: { messageType: DhcpMessageType.REQUEST } });
    lab.run(10);
    expect(p.last()!.message.options.messageType).toBe(DhcpMessageType.ACK);
    p.send({ chaddr: 0x02_00_00_00_00_77, flags: 0, ciaddr: address, options: { messageType: DhcpMessageType.REQUEST } });
    lab.run(10);
    expect(p.last()!.message.options.messageType).toBe(DhcpMessageType.NAK);
  });

  it('a REQUEST that carries none of server id, requested address or ciaddr is counted as malformed', () => {
    const lab = serverLab();
    const p = lab.probe();
    p.send({ options: { messageType: DhcpMessageType.REQUEST } });
    expect(p.replies).toHaveLength(0);
    expect(lab.stat('dhcpInErrors')).toBe(1);
  });
});

describe('DHCP server: RELEASE, DECLINE, INFORM, expiry (RFC 2131 §4.3.3-§4.3.5)', () => {
  it('RELEASE frees the binding, ends its DNS name, and the client gets the same address back later', () => {
    const lab = serverLab();
    const p = lab.probe();
    const address = dora(lab, p, CLIENT_MAC, 'box');
    p.send({ flags: 0, ciaddr: address, options: { messageType: DhcpMessageType.RELEASE, serverIdentifier: SERVER } });
    expect(lab.events).toEqual(['bound box 10.0.0.100', 'ended box 10.0.0.100']);
    expect(lab.server.leases()[0]!.state).toBe('released');
    dora(lab, p, 0x02_00_00_00_00_c2); // someone else in between takes a fresh address
    expect(dora(lab, p)).toBe(address);
  });

  it('RELEASE of a binding that is not the sender\'s is ignored and counted', () => {
    const lab = serverLab();
    const p = lab.probe();
    const address = dora(lab, p);
    p.send({ chaddr: 0x02_00_00_00_00_66, ciaddr: address, options: { messageType: DhcpMessageType.RELEASE, serverIdentifier: SERVER } });
    expect(lab.server.leases()[0]!.state).toBe('bound');
    expect(lab.stat('dhcpInUnknownClient')).toBe(1);
  });

  it('DECLINE takes the address out of the pool for the probation time', () => {
    const lab = serverLab({ declineProbationMs: 600_000 });
    const p = lab.probe();
    const address = dora(lab, p);
    p.send({ options: { messageType: DhcpMessageType.DECLINE, serverIdentifier: SERVER, requestedIpAddress: address } });
    expect(lab.server.leases()[0]).toMatchObject({ address: '10.0.0.100', state: 'declined' });
    expect(formatIpv4(dora(lab, p))).toBe('10.0.0.101');
    // A DECLINE from someone who does not hold the address changes nothing.
    p.send({ chaddr: 0x02_00_00_00_00_55, options: { messageType: DhcpMessageType.DECLINE, serverIdentifier: SERVER, requestedIpAddress: ip('10.0.0.101') } });
    expect(lab.server.leases()[1]!.state).toBe('bound');
    expect(lab.stat('dhcpInUnknownClient')).toBe(1);
    lab.run(600_001);
    expect(lab.server.leases()[0]!.state).toBe('declined');
    expect(lab.server.show()).toMatch(/# s0: pool 10\.0\.0\.100-10\.0\.0\.199, 1 in use/);
  });

  it('INFORM: an ACK to ciaddr with configuration but no lease and no yiaddr', () => {
    const lab = serverLab();
    const p = lab.probe();
    lab.c.addInterfaceAddress(lab.c.interfaces[0]!, { address: ip('10.0.0.7'), prefixLength: 24 });
    p.send({ flags: 0, ciaddr: ip('10.0.0.7'), options: { messageType: DhcpMessageType.INFORM } });
    lab.run(10);
    const ack = p.last()!;
    expect(ack.rinfo.localAddress).toBe('10.0.0.7');
    expect(ack.message.yiaddr).toBe(0);
    expect(ack.message.options.leaseTime).toBeUndefined();
    expect(ack.message.options).toMatchObject({ messageType: DhcpMessageType.ACK, domainName: 'lab', routers: [SERVER] });
  });

  it('a binding that runs out leaves DNS at that moment, and its address can go to another client', () => {
    const lab = serverLab({ leaseTimeSeconds: 200, poolHosts: { first: 100, last: 100 } });
    const p = lab.probe();
    dora(lab, p, CLIENT_MAC, 'brief');
    p.send({ chaddr: 0x02_00_00_00_00_c2, options: DISCOVER });
    expect(lab.stat('dhcpPoolExhausted')).toBe(1);
    lab.run(199_000);
    expect(lab.events).toEqual(['bound brief 10.0.0.100']);
    lab.run(1_000);
    expect(lab.events).toEqual(['bound brief 10.0.0.100', 'ended brief 10.0.0.100']);
    expect(formatIpv4(dora(lab, p, 0x02_00_00_00_00_c2))).toBe('10.0.0.100');
  });
});

describe('DHCP server: static leases, hostnames, relays', () => {
  it('a static lease gives its MAC a fixed address and name that nobody else gets', () => {
    const lab = serverLab({ staticLeases: [{ mac: 0x02_00_00_00_00_5a, address: ip('10.0.0.50'), hostname: 'printer' }] });
    const p = lab.probe();
    expect(formatIpv4(dora(lab, p, 0x02_00_00_00_00_5a, 'whatever'))).toBe('10.0.0.50');
    expect(p.last()!.message.options.hostName).toBe('printer');
    p.send({ options: { ...DISCOVER, requestedIpAddress: ip('10.0.0.50') } });
    expect(formatIpv4(p.last()!.message.yiaddr)).toBe('10.0.0.100');
    expect(lab.events).toEqual(['bound printer 10.0.0.50']);
  });

  it('a hostname held by another live binding is not given twice', () => {
    const lab = serverLab();
    const p = lab.probe();
    dora(lab, p, CLIENT_MAC, 'twin');
    dora(lab, p, 0x02_00_00_00_00_c2, 'twin');
    expect(p.last()!.message.options.hostName).toBeUndefined();
    expect(lab.events).toEqual(['bound twin 10.0.0.100']);
  });

  it('a relayed DISCOVER (giaddr set) is answered to the relay on port 67, from the relay\'s subnet', () => {
    const lab = serverLab();
    lab.c.addInterfaceAddress(lab.c.interfaces[0]!, { address: ip('10.0.0.2'), prefixLength: 24 });
    const relay = lab.c.udp.createSocket().bind(67);
    const got: string[] = [];
    relay.on('message', (_m, r) => got.push(`${r.address}:${r.port} → ${r.localAddress}`));
    const p = lab.probe();
    p.send({ giaddr: ip('10.0.0.2'), flags: 0, chaddr: 0x02_00_00_00_00_d1, options: DISCOVER }, '10.0.0.1');
    lab.run(10);
    expect(got).toEqual(['10.0.0.1:67 → 10.0.0.2']);
    expect(p.replies).toHaveLength(0);
    // A relay for a subnet we do not serve: counted, not answered.
    p.send({ giaddr: ip('172.16.0.1'), flags: 0, options: DISCOVER }, '10.0.0.1');
    expect(lab.stat('dhcpInNoScope')).toBe(1);
  });

  it('picks reply destinations as RFC 2131 §4.1 says', () => {
    expect(replyDestination({ giaddr: ip('10.1.1.1'), ciaddr: ip('10.0.0.5') }, DhcpMessageType.NAK)).toEqual({ address: ip('10.1.1.1'), port: 67 });
    expect(replyDestination({ giaddr: 0, ciaddr: ip('10.0.0.5') }, DhcpMessageType.NAK)).toEqual({ address: 0xffffffff, port: 68 });
    expect(replyDestination({ giaddr: 0, ciaddr: ip('10.0.0.5') }, DhcpMessageType.ACK)).toEqual({ address: ip('10.0.0.5'), port: 68 });
    expect(replyDestination({ giaddr: 0, ciaddr: 0 }, DhcpMessageType.OFFER)).toEqual({ address: 0xffffffff, port: 68 });
  });

  it('clips the default pool to small subnets and refuses one with no room', () => {
    const r = (cidr: string) => {
      const [a, l] = cidr.split('/');
      const range = poolRange({ address: ip(a!), prefixLength: Number(l) }, { first: 100, last: 199 });
      return range && `${formatIpv4(range.first)}-${formatIpv4(range.last)}`;
    };
    expect(r('10.0.0.1/24')).toBe('10.0.0.100-10.0.0.199');
    expect(r('10.0.0.1/25')).toBe('10.0.0.100-10.0.0.126');
    expect(r('10.0.0.1/28')).toBe('10.0.0.3-10.0.0.14');
    expect(r('10.0.0.1/30')).toBeUndefined();
  });
});

describe('DHCP server: bad input', () => {
  it('counts malformed messages by class and keeps serving', () => {
    const lab = serverLab();
    const p = lab.probe();
    const good = (): Uint8Array => {
      const buf = new Uint8Array(600);
      return buf.slice(0, encodeDhcpMessage(request({ options: DISCOVER }), buf, 0));
    };
    // No magic cookie: plain BOOTP.
    const noCookie = good();
    noCookie.fill(0, Field.MAGIC_COOKIE, Field.MAGIC_COOKIE + 4);
    p.sendBytes(noCookie);
    // An option whose length runs past the end of the message.
    const overlong = good();
    overlong[Field.OPTIONS + 1] = 250; // option 53's length byte
    p.sendBytes(overlong.subarray(0, 300));
    // Truncated inside the fixed header.
    p.sendBytes(good().subarray(0, 100));
    // Option 53 with a wrong length (RFC 2132 §9.6: exactly 1).
    const badLength = good();
    badLength.set([53, 2, 1, 1, 255], Field.OPTIONS);
    p.sendBytes(badLength);
    // A BOOTREPLY sent to the server port.
    const reply = good();
    reply[Field.OP] = 2;
    p.sendBytes(reply);
    // A message type no client sends (OFFER).
    const offer = good();
    offer[Field.OPTIONS + 2] = DhcpMessageType.OFFER;
    p.sendBytes(offer);
    // Not Ethernet.
    const tokenRing = good();
    tokenRing[Field.HTYPE] = 6;
    p.sendBytes(tokenRing);
    // Without option 53 at all: BOOTP with a cookie.
    const bootp = good();
    bootp.set([255], Field.OPTIONS);
    p.sendBytes(bootp);

    expect(p.replies).toHaveLength(0);
    expect(lab.stat('dhcpInBootp')).toBe(2);
    expect(lab.stat('dhcpInErrors')).toBe(5);
    expect(lab.stat('dhcpInBadType')).toBe(1);
    expect(lab.stat('dhcpInMessages')).toBe(8);
    p.sendBytes(good());
    expect(p.last()!.message.options.messageType).toBe(DhcpMessageType.OFFER);
  });

  it('starvation: thousands of MACs exhaust the pool gracefully, memory stays bounded, and lapsed offers return', () => {
    const lab = serverLab();
    const p = lab.probe();
    for (let i = 0; i < 5000; i++) p.send({ chaddr: 0x06_00_00_00_00_00 + i, xid: i, options: DISCOVER });
    expect(lab.stat('dhcpOutOffers')).toBe(100);
    expect(lab.stat('dhcpPoolExhausted')).toBe(4900);
    expect(lab.server.leases()).toHaveLength(100); // one record per address, not per MAC
    // A real client now gets nothing...
    p.send({ options: DISCOVER });
    expect(lab.stat('dhcpPoolExhausted')).toBe(4901);
    // ...until the unclaimed offers lapse, and then it is served.
    lab.run(OFFER_HOLD_MS);
    expect(formatIpv4(dora(lab, p))).toBe('10.0.0.100');
    expect(lab.server.show()).toMatch(/1 in use/);
  });
});

describe('DHCP server: the lease file', () => {
  it('commits the binding to the file before the ACK leaves (RFC 2131 §3.1 step 4)', () => {
    const file = join(tempDir(), 'leases');
    const lab = serverLab({ leaseFile: file });
    const p = lab.probe();
    // Look at the file at the moment the ACK frame leaves the server's NIC.
    let fileAtAck = '';
    const device = lab.s.interfaces[0]!.device;
    const send = device.send.bind(device);
    const DHCP_AT = 14 + 20 + 8; // Ethernet + IPv4 + UDP headers
    device.send = (frame: Uint8Array) => {
      const option53 = frame.subarray(DHCP_AT + Field.OPTIONS, DHCP_AT + Field.OPTIONS + 3);
      if (option53[0] === 53 && option53[2] === DhcpMessageType.ACK) fileAtAck = readFileSync(file, 'utf8');
      send(frame);
    };
    dora(lab, p, CLIENT_MAC, 'durable');
    // Bound at 2 ms for 3600 s: the expiry is rounded up to the next second (the server never forgets a lease early).
    expect(fileAtAck).toContain('1700003601 02:00:00:00:00:c1 10.0.0.100 durable *');
    expect(fileAtAck.split('\n').filter((l) => l && !l.startsWith('#'))).toHaveLength(1);
  });

  it('survives a restart: bindings with time left come back, expired ones do not', () => {
    const file = join(tempDir(), 'leases');
    const first = serverLab({ leaseFile: file, leaseTimeSeconds: 3600 });
    const p1 = first.probe();
    dora(first, p1, CLIENT_MAC, 'keeper');
    first.run(1000);
    p1.send({ chaddr: 0x02_00_00_00_00_c2, options: { ...DISCOVER, leaseTime: 120 } });
    p1.send({ chaddr: 0x02_00_00_00_00_c2, options: { messageType: DhcpMessageType.REQUEST, serverIdentifier: SERVER, requestedIpAddress: ip('10.0.0.101'), leaseTime: 120 } });
    first.server.stop();

    // Down for 10 minutes: the 120 s lease ran out, the hour-long one did not.
    const second = serverLab({ leaseFile: file }, 1_700_000_000_000 + 1_000 + 600_000);
    expect(second.server.leases()).toMatchObject([{ address: '10.0.0.100', state: 'bound', hostname: 'keeper', expiresInSeconds: 3000 }]);
    expect(second.events).toEqual(['bound keeper 10.0.0.100']);
    // The client's INIT-REBOOT is ACKed by the new process.
    const p2 = second.probe();
    p2.send({ options: { messageType: DhcpMessageType.REQUEST, requestedIpAddress: ip('10.0.0.100') } });
    expect(p2.last()!.message.options.messageType).toBe(DhcpMessageType.ACK);
  });

  it('a lease file it cannot write: no ACK (the binding would not be durable), counted', () => {
    const dir = tempDir();
    const file = join(dir, 'leases');
    const lab = serverLab({ leaseFile: file });
    rmSync(dir, { recursive: true });
    const p = lab.probe();
    p.send({ options: DISCOVER });
    p.send({ options: { messageType: DhcpMessageType.REQUEST, serverIdentifier: SERVER, requestedIpAddress: ip('10.0.0.100') } });
    expect(p.replies.map((r) => r.message.options.messageType)).toEqual([DhcpMessageType.OFFER]);
    expect(lab.stat('dhcpLeaseFileErrors')).toBe(1);
  });

  it('leaves no file behind when nothing was ever leased', () => {
    const file = join(tempDir(), 'leases');
    const lab = serverLab({ leaseFile: file });
    lab.probe().send({ options: DISCOVER }); // an offer is not a binding
    lab.run(10);
    lab.server.stop();
    expect(existsSync(file)).toBe(false);
  });

  it('refuses to start when the lease file cannot be written', () => {
    const lab = dhcpLab();
    const server = new DhcpServer(lab.s, { leaseFile: '/nonexistent-dir/tapnet/leases' });
    expect(() => server.start()).toThrow(/ENOENT/);
  });
});
