/**
 * NAT on a tapnet router, end to end over in-memory links: masquerade with
 * endpoint-independent mapping, ICMP identifiers, ICMP errors translated
 * inside, published ports, hairpinning, port exhaustion, filtering.
 */
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../../src/l3/ipv4/address.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { getU16 } from '../../../../src/core/bytes.js';
import { Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import type { Host } from '../../../../src/node/host.js';
import type { UdpRemoteInfo } from '../../../../src/l4/udp/udp.js';
import type { IcmpErrorEvent } from '../../../../src/l3/icmpv4/icmpv4.js';
import { verifyUdpChecksumV4 } from '../../../../src/l4/udp/header.js';
import { UDP_REPLIED_TIMEOUT_MS, UDP_UNREPLIED_TIMEOUT_MS } from '../../../../src/netfilter/conntrack/conntrack.js';
import { LAN, PC1, PC2, PEER, SRV, WAN, WEB, natRig } from './nat-rig.js';

const masquerade = { nat: { source: [{ outInterface: 'wan' }] } };
const withPublish = {
  nat: {
    source: [{ outInterface: 'wan' }],
    publish: [
      { protocol: IpProtocol.UDP, port: 8080, to: SRV, toPort: 80 },
      { protocol: IpProtocol.TCP, port: 8080, to: SRV, toPort: 80 },
    ],
  },
};

/** A UDP socket that records what it receives and echoes it back when `echo` is set. */
function udpSocket(host: Host, port: number, echo = false) {
  const got: { text: string; from: string; port: number }[] = [];
  const sock = host.udp.createSocket();
  sock.on('message', (msg: Buffer, rinfo: UdpRemoteInfo) => {
    got.push({ text: msg.toString(), from: rinfo.address, port: rinfo.port });
    if (echo) sock.send(msg, rinfo.port, rinfo.address);
  });
  sock.bind(port);
  return { sock, got };
}

describe('masquerade (SNAT to the outgoing interface)', () => {
  it('lets an inside host ping the outside; conntrack shows both tuples', async () => {
    const { pc1, run, nf } = natRig(masquerade);
    const replies = await run(pc1.ping(WEB, { count: 2, intervalMs: 100 }));
    expect(replies.filter((r) => r.rttMs !== undefined)).toHaveLength(2);
    const table = nf.show('conntrack');
    expect(table).toMatch(/^icmp +1 +\d+ src=10\.0\.0\.10 dst=203\.0\.113\.10 id=\d+ packets=2 .*src=203\.0\.113\.10 dst=203\.0\.113\.1 id=\d+ packets=2 .*\[ASSURED\] \[SNAT\]$/m);
    expect(table).toContain('1 flow entries');
  });

  it('gives two inside hosts that use the same echo identifier different external identifiers', async () => {
    const { pc1, pc2, advance, nf } = natRig(masquerade);
    const got: string[] = [];
    for (const [name, h] of [['pc1', pc1], ['pc2', pc2]] as const) {
      h.icmp.echoListeners.set(4242, (r) => got.push(`${name} ${formatIpv4(r.source)} id ${r.identifier} seq ${r.sequence}`));
    }
    pc1.icmp.sendEchoRequest(WEB, 4242, 1, new Uint8Array(8));
    advance(50);
    pc2.icmp.sendEchoRequest(WEB, 4242, 1, new Uint8Array(8));
    advance(50);
    expect(got.sort()).toEqual(['pc1 203.0.113.10 id 4242 seq 1', 'pc2 203.0.113.10 id 4242 seq 1']);
    const ids = nf.nat!.mappings.entries().map((m) => m.externalPort);
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('maps an inside UDP endpoint to one external port for every destination (RFC 4787 REQ-1)', () => {
    const { pc1, pc2, web, peer, advance } = natRig(masquerade);
    const atWeb = udpSocket(web, 7, true);
    const atPeer = udpSocket(peer, 7, true);
    const one = udpSocket(pc1, 5000);
    const two = udpSocket(pc2, 5000);
    one.sock.send('to web', 7, '203.0.113.10');
    one.sock.send('to peer', 7, '203.0.113.20');
    advance(50);
    two.sock.send('pc2 to web', 7, '203.0.113.10');
    advance(50);
    expect(atWeb.got.map((g) => `${g.text} from ${g.from}:${g.port}`)).toEqual(['to web from 203.0.113.1:5000', expect.stringMatching(/^pc2 to web from 203\.0\.113\.1:\d+$/)]);
    expect(atWeb.got[1]!.port).not.toBe(5000);
    expect(atPeer.got).toEqual([{ text: 'to peer', from: '203.0.113.1', port: 5000 }]);
    // The echoes came back to the right inside sockets, from the real peers.
    expect(one.got.map((g) => `${g.text} ${g.from}:${g.port}`).sort()).toEqual(['to peer 203.0.113.20:7', 'to web 203.0.113.10:7']);
    expect(two.got.map((g) => g.text)).toEqual(['pc2 to web']);
  });

  it('translates a TCP handshake both ways with valid checksums', () => {
    const { pc1, web, sendTcp, seen, nf } = natRig(masquerade);
    sendTcp(pc1, WEB, 40000, 80, TcpFlags.SYN, 100);
    const syn = seen(web)[0]!;
    expect(syn).toMatchObject({ source: WAN, sourcePort: 40000, destinationPort: 80, flags: TcpFlags.SYN, checksumOk: true });
    sendTcp(web, WAN, 80, syn.sourcePort, TcpFlags.SYN | TcpFlags.ACK, 9000, 101);
    expect(seen(pc1)[0]).toMatchObject({ source: WEB, destination: PC1, sourcePort: 80, destinationPort: 40000, checksumOk: true, ack: 101 });
    sendTcp(pc1, WEB, 40000, 80, TcpFlags.ACK, 101, 9001);
    expect(nf.show('conntrack')).toMatch(/^tcp +6 +7440 ESTABLISHED src=10\.0\.0\.10 dst=203\.0\.113\.10 sport=40000 dport=80 /m);
  });

  it('translates the packet inside an ICMP error back to the inside host (RFC 5508 REQ-3)', () => {
    const { pc1, advance } = natRig(masquerade);
    const errors: IcmpErrorEvent[] = [];
    pc1.icmp.onError = (e) => errors.push({ ...e, original: e.original.slice() });
    const sock = udpSocket(pc1, 5555).sock;
    sock.send('anyone?', 9, '203.0.113.10'); // web has nothing on port 9
    advance(50);
    expect(errors).toHaveLength(1);
    const e = errors[0]!;
    expect([e.from, e.type, e.code]).toEqual([WEB, 3, 3]);
    const quoted = new Ipv4HeaderView();
    expect(quoted.wrap(e.original)).toBeUndefined(); // header checksum verifies
    expect([quoted.source, quoted.destination]).toEqual([PC1, WEB]);
    expect(getU16(quoted.payload, 0)).toBe(5555);
    // The whole datagram fits in the quote: its UDP checksum, patched by the NAT, verifies for the inside addresses.
    expect(verifyUdpChecksumV4(quoted.payload, PC1, WEB)).toBe(true);
  });

  it('does not translate the host\'s own traffic, and tracks it', async () => {
    const { gw, run, nf } = natRig(masquerade);
    const replies = await run(gw.ping(WEB, { count: 1 }));
    expect(replies[0]!.rttMs).toBeDefined();
    expect(nf.show('conntrack')).toMatch(/src=203\.0\.113\.1 dst=203\.0\.113\.10 id=\d+ .* src=203\.0\.113\.10 dst=203\.0\.113\.1 /);
    expect(nf.nat!.mappings.size).toBe(0);
  });

  it('lets only the peers a mapping talked to in (address and port dependent filtering)', () => {
    const { pc1, web, advance } = natRig(masquerade);
    const inside = udpSocket(pc1, 5000);
    udpSocket(web, 7, true);
    inside.sock.send('hello', 7, '203.0.113.10');
    advance(50);
    const stranger = web.udp.createSocket();
    stranger.bind(9999);
    stranger.send('unsolicited', 5000, '203.0.113.1');
    advance(50);
    expect(inside.got.map((g) => g.text)).toEqual(['hello']);
  });

  it('lets any peer in with endpoint-independent filtering (full cone)', () => {
    const { pc1, web, peer, advance } = natRig({ nat: { source: [{ outInterface: 'wan' }], filtering: 'endpoint-independent' } });
    const inside = udpSocket(pc1, 5000);
    udpSocket(web, 7, true);
    inside.sock.send('hello', 7, '203.0.113.10');
    advance(50);
    const stranger = peer.udp.createSocket();
    stranger.bind(9999);
    stranger.send('via the mapping', 5000, '203.0.113.1');
    advance(50);
    expect(inside.got).toEqual([
      { text: 'hello', from: '203.0.113.10', port: 7 },
      { text: 'via the mapping', from: '203.0.113.20', port: 9999 },
    ]);
  });
});

describe('published ports (DNAT) and hairpinning', () => {
  it('forwards a published UDP port to the inside server and answers from the public address', () => {
    const { srv, web, advance } = natRig(withPublish);
    const server = udpSocket(srv, 80, true);
    const client = udpSocket(web, 6000);
    client.sock.send('GET /', 8080, '203.0.113.1');
    advance(50);
    expect(server.got).toEqual([{ text: 'GET /', from: '203.0.113.10', port: 6000 }]);
    expect(client.got).toEqual([{ text: 'GET /', from: '203.0.113.1', port: 8080 }]);
  });

  it('forwards a published TCP port; the server sees the real client', () => {
    const { srv, web, sendTcp, seen } = natRig(withPublish);
    sendTcp(web, WAN, 41000, 8080, TcpFlags.SYN);
    expect(seen(srv)[0]).toMatchObject({ source: WEB, destination: SRV, sourcePort: 41000, destinationPort: 80, checksumOk: true });
    sendTcp(srv, WEB, 80, 41000, TcpFlags.SYN | TcpFlags.ACK, 5000, 1001);
    expect(seen(web)[0]).toMatchObject({ source: WAN, sourcePort: 8080, destinationPort: 41000, checksumOk: true });
  });

  it('hairpins an inside client through the public address (RFC 4787 REQ-9)', () => {
    const { pc1, srv, advance, nf } = natRig(withPublish);
    const server = udpSocket(srv, 80, true);
    const client = udpSocket(pc1, 7000);
    client.sock.send('hairpin', 8080, '203.0.113.1');
    advance(50);
    // The server sees the client's external address (REQ-9b), so its reply comes back through the router.
    expect(server.got).toEqual([{ text: 'hairpin', from: '203.0.113.1', port: 7000 }]);
    expect(client.got).toEqual([{ text: 'hairpin', from: '203.0.113.1', port: 8080 }]);
    expect(nf.show('conntrack')).toContain('[DNAT HAIRPIN]');
  });

  it('also publishes on the inside address (like docker -p on 0.0.0.0)', () => {
    const { pc2, srv, advance } = natRig(withPublish);
    const server = udpSocket(srv, 80, true);
    const client = udpSocket(pc2, 7001);
    client.sock.send('via lan address', 8080, formatIpv4(LAN));
    advance(50);
    expect(server.got.map((g) => g.text)).toEqual(['via lan address']);
    expect(client.got).toEqual([{ text: 'via lan address', from: '10.0.0.1', port: 8080 }]);
  });

  it('translates the router\'s own time-exceeded error about a DNAT\'ed packet back to the public address', () => {
    const { web, advance } = natRig(withPublish);
    const errors: IcmpErrorEvent[] = [];
    web.icmp.onError = (e) => errors.push({ ...e, original: e.original.slice() });
    const payload = new Uint8Array(12);
    payload.set([0x17, 0x70, 0x1f, 0x90, 0, 12, 0, 0]); // UDP 6000 → 8080, no checksum
    web.ipv4Out.send({ destination: WAN, protocol: IpProtocol.UDP, ttl: 1 }, payload);
    advance(50);
    expect(errors).toHaveLength(1);
    const quoted = new Ipv4HeaderView();
    expect(quoted.wrap(errors[0]!.original)).toBeUndefined();
    expect(formatIpv4(quoted.destination)).toBe('203.0.113.1');
    expect(getU16(quoted.payload, 2)).toBe(8080);
    expect(errors[0]!.from).toBe(WAN);
  });
});

describe('port exhaustion', () => {
  it('drops new mappings when the range is used up, and reuses ports once sessions expire', () => {
    const { pc1, web, advance, gw, ctx } = natRig({ nat: { source: [{ outInterface: 'wan', ports: { min: 40000, max: 40001 } }] } });
    const atWeb = udpSocket(web, 7);
    const socks = [1000, 1001, 1002].map((p) => udpSocket(pc1, p).sock);
    socks.forEach((s, i) => s.send(`from ${i}`, 7, '203.0.113.10'));
    advance(50);
    expect(atWeb.got).toHaveLength(2);
    expect(new Set(atWeb.got.map((g) => g.port))).toEqual(new Set([40000, 40001]));
    expect(gw.ctx.stats.get('natPortExhausted')).toBe(1);
    // The router still answers, and still routes for existing mappings.
    socks[0]!.send('again', 7, '203.0.113.10');
    advance(50);
    expect(atWeb.got).toHaveLength(3);
    // Unanswered UDP sessions last 2 minutes (RFC 4787 REQ-5); then the ports come back.
    ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + UDP_UNREPLIED_TIMEOUT_MS + 1000);
    socks[2]!.send('finally', 7, '203.0.113.10');
    advance(50);
    expect(atWeb.got.at(-1)?.text).toBe('finally');
    expect(UDP_REPLIED_TIMEOUT_MS).toBeGreaterThan(UDP_UNREPLIED_TIMEOUT_MS);
  });

  it('survives a flood of new inside endpoints and keeps answering a ping', async () => {
    const { pc1, advance, gw, run, nf } = natRig({ nat: { source: [{ outInterface: 'wan', ports: { min: 50000, max: 50099 } }] }, conntrack: { max: 500 } });
    const sock = pc1.udp.createSocket();
    sock.bind(0);
    const payload = new Uint8Array(8);
    for (let port = 2000; port < 3000; port++) {
      payload.set([port >> 8, port & 0xff, 0, 7, 0, 8, 0, 0]);
      pc1.ipv4Out.send({ destination: WEB, protocol: IpProtocol.UDP }, payload);
      if (port % 100 === 0) advance(5);
    }
    advance(100);
    expect(nf.nat!.mappings.size).toBe(100);
    expect(gw.ctx.stats.get('natPortExhausted')).toBe(900);
    const replies = await run(pc1.ping(LAN, { count: 1 }));
    expect(replies[0]!.rttMs).toBeDefined();
    void PEER;
    void PC2;
  });
});
