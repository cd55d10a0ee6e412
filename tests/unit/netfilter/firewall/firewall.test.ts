/**
 * The stateful firewall: the rule text form, then chains on a router with
 * conntrack states, rejects (ICMP and RST, translated back through NAT) and
 * hit counters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeFirewallRule, parseFirewallRule, type FirewallRule } from '../../../../src/netfilter/firewall/rules.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import type { IcmpErrorEvent } from '../../../../src/l3/icmpv4/icmpv4.js';
import type { UdpRemoteInfo } from '../../../../src/l4/udp/udp.js';
import type { Host } from '../../../../src/node/host.js';
import { LAN, PC1, SRV, WAN, WEB, natRig } from '../nat/nat-rig.js';
import { Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import { getU16 } from '../../../../src/core/bytes.js';
import { tcpResetFor } from '../../../../src/netfilter/firewall/reject.js';
import { ip, tcpPacket } from '../nat/packets.js';
import { verifyTcpChecksumV4 } from '../../../../src/l4/tcp/header.js';

const rules = (...lines: string[]): FirewallRule[] =>
  lines.map((l) => {
    const r = parseFirewallRule(l);
    if (!r.ok) throw new Error(r.error);
    return r.rule;
  });

describe('rule text', () => {
  it('parses every field', () => {
    const r = parseFirewallRule('forward in lan out wan from 10.0.0.0/24 to 203.0.113.10 tcp sport 1024-65535 dport 80 state new,established reject with tcp-reset');
    expect(r).toEqual({
      ok: true,
      rule: {
        chain: 'forward',
        inInterface: 'lan',
        outInterface: 'wan',
        source: { address: ip('10.0.0.0'), prefixLength: 24 },
        destination: { address: ip('203.0.113.10'), prefixLength: 32 },
        protocol: IpProtocol.TCP,
        sourcePorts: { min: 1024, max: 65535 },
        destinationPorts: { min: 80, max: 80 },
        states: ['new', 'established'],
        action: 'reject',
        rejectWith: 'tcp-reset',
      },
    });
  });

  it.each([
    ['', 'starts with a chain'],
    ['prerouting accept', 'starts with a chain'],
    ['input tcp dport 22', 'without an action'],
    ['input dport 22 drop', 'needs tcp or udp first'],
    ['input tcp dport 70000 drop', 'needs a port'],
    ['input from 10.0.0.300 drop', 'needs an address'],
    ['input state bogus drop', "'state' needs"],
    ['input udp reject with tcp-reset', 'needs tcp'],
    ['input drop now', 'after the action'],
    ['input icmp type nonsense drop', "'type' needs"],
    ['input frob accept', "unknown word 'frob'"],
  ])('refuses %j (%s)', (text, message) => {
    const r = parseFirewallRule(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(message);
  });

  it('round-trips: parse(describe(rule)) is the rule', () => {
    const word = fc.constantFrom('lan', 'wan', 'eth0');
    const cidr = fc.record({ address: fc.nat(0xffffffff), prefixLength: fc.integer({ min: 0, max: 32 }) });
    const range = fc.tuple(fc.nat(65535), fc.nat(65535)).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }));
    const rule = fc
      .record(
        {
          chain: fc.constantFrom('input' as const, 'forward' as const, 'output' as const),
          inInterface: word,
          outInterface: word,
          source: cidr,
          destination: cidr,
          protocol: fc.constantFrom(IpProtocol.TCP, IpProtocol.UDP),
          destinationPorts: range,
          states: fc.subarray(['new', 'established', 'related', 'invalid', 'untracked'] as const, { minLength: 1 }),
          action: fc.constantFrom('accept' as const, 'drop' as const, 'reject' as const),
        },
        { requiredKeys: ['chain', 'action'] },
      )
      .map((r) => (r.destinationPorts && r.protocol === undefined ? { ...r, protocol: IpProtocol.TCP } : r));
    fc.assert(
      fc.property(rule, (r) => {
        const parsed = parseFirewallRule(describeFirewallRule(r));
        expect(parsed).toEqual({ ok: true, rule: { ...r, source: r.source && { ...r.source }, destination: r.destination && { ...r.destination } } });
      }),
    );
  });

  it('never throws on random words', () => {
    const words = fc.array(fc.constantFrom('input', 'forward', 'in', 'tcp', 'dport', '22', 'drop', 'state', 'new', 'with', 'reject', 'x', '10.0.0.1/8', 'type'), { maxLength: 8 });
    fc.assert(fc.property(words, (w) => void parseFirewallRule(w.join(' '))));
  });
});

describe('the RST a reject sends (RFC 9293 §3.10.7.1)', () => {
  it('answers a SYN with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>', () => {
    const v = new Ipv4HeaderView();
    v.wrap(tcpPacket(ip('10.0.0.2'), 40000, ip('10.0.0.1'), 22, TcpFlags.SYN, { seq: 5000 }));
    const rst = tcpResetFor(v)!;
    expect(rst.source).toBe(ip('10.0.0.1'));
    expect(getU16(rst.segment, 0)).toBe(22);
    expect(rst.segment[13]).toBe(TcpFlags.RST | TcpFlags.ACK);
    expect(new DataView(rst.segment.buffer).getUint32(4)).toBe(0);
    expect(new DataView(rst.segment.buffer).getUint32(8)).toBe(5001);
    expect(verifyTcpChecksumV4(rst.segment, ip('10.0.0.1'), ip('10.0.0.2'))).toBe(true);
  });

  it('answers an ACK with <SEQ=SEG.ACK><CTL=RST>, and never a RST', () => {
    const v = new Ipv4HeaderView();
    v.wrap(tcpPacket(ip('10.0.0.2'), 40000, ip('10.0.0.1'), 22, TcpFlags.ACK, { seq: 5000, ack: 777, payload: new Uint8Array(10) }));
    const rst = tcpResetFor(v)!;
    expect(rst.segment[13]).toBe(TcpFlags.RST);
    expect(new DataView(rst.segment.buffer).getUint32(4)).toBe(777);
    v.wrap(tcpPacket(ip('10.0.0.2'), 40000, ip('10.0.0.1'), 22, TcpFlags.RST));
    expect(tcpResetFor(v)).toBeUndefined();
  });
});

function udpSocket(host: Host, port: number, echo = false) {
  const got: string[] = [];
  const sock = host.udp.createSocket();
  sock.on('message', (msg: Buffer, rinfo: UdpRemoteInfo) => {
    got.push(`${msg.toString()} from ${rinfo.address}:${rinfo.port}`);
    if (echo) sock.send(msg, rinfo.port, rinfo.address);
  });
  sock.bind(port);
  return { sock, got };
}

describe('a stateful firewall on a NAT router', () => {
  const homeRouter = () =>
    natRig({
      nat: { source: [{ outInterface: 'wan' }], publish: [{ protocol: IpProtocol.TCP, port: 2222, to: SRV, toPort: 22 }, { protocol: IpProtocol.UDP, port: 5353, to: SRV, toPort: 53 }] },
      firewall: {
        policy: { forward: 'drop', input: 'drop' },
        rules: rules(
          'forward state established,related accept',
          'forward state invalid drop',
          'forward in lan out wan accept',
          'forward to 10.0.0.20 tcp dport 22 reject',
          'forward to 10.0.0.20 udp dport 53 reject with admin-prohibited',
          'input state established,related accept',
          'input in lan accept',
          'input in wan icmp type echo-request drop',
        ),
      },
    });

  it('lets the inside out and the answers back in, and counts hits per rule', () => {
    const { pc1, web, advance, nf } = homeRouter();
    const inside = udpSocket(pc1, 5000);
    udpSocket(web, 7, true);
    inside.sock.send('out and back', 7, '203.0.113.10');
    advance(50);
    expect(inside.got).toEqual(['out and back from 203.0.113.10:7']);
    const hits = nf.firewall!.hits();
    expect(hits[0]).toMatchObject({ rule: 'forward state established,related accept', packets: 1 });
    expect(hits[2]).toMatchObject({ rule: 'forward in lan out wan accept', packets: 1 });
    expect(nf.show('firewall')).toMatch(/chain forward \(policy drop: 0 packets, 0 bytes\)\n.*\n +1 +1 +\d+ +state established,related accept\n/);
  });

  it('drops what the outside starts, by policy', () => {
    const { web, advance, gw } = homeRouter();
    const errors: IcmpErrorEvent[] = [];
    web.icmp.onError = (e) => errors.push(e);
    const sock = web.udp.createSocket();
    sock.send('knock', 6000, '203.0.113.1'); // nothing published on 6000: input chain, policy drop
    advance(50);
    expect(gw.ctx.stats.get('fwInputDropped')).toBe(1);
    expect(errors).toEqual([]); // dropped silently, not "port unreachable"
  });

  it('rejects a published TCP port with a RST that comes from the public address', () => {
    const { web, sendTcp, seen, gw } = homeRouter();
    sendTcp(web, WAN, 40000, 2222, TcpFlags.SYN, 3000);
    const rst = seen(web);
    expect(rst).toHaveLength(1);
    expect(rst[0]).toMatchObject({ source: WAN, sourcePort: 2222, destinationPort: 40000, flags: TcpFlags.RST | TcpFlags.ACK, ack: 3001, checksumOk: true });
    expect(gw.ctx.stats.get('fwForwardDropped')).toBe(1);
    expect(gw.ctx.stats.get('fwRejected')).toBe(1);
  });

  it('rejects with ICMP admin-prohibited, the quote translated back to the public address', () => {
    const { web, advance } = homeRouter();
    const errors: IcmpErrorEvent[] = [];
    web.icmp.onError = (e) => errors.push({ ...e, original: e.original.slice() });
    const sock = web.udp.createSocket();
    sock.bind(6001);
    sock.send('query', 5353, '203.0.113.1');
    advance(50);
    expect(errors.map((e) => [e.from, e.type, e.code])).toEqual([[WAN, 3, 13]]);
    const quoted = new Ipv4HeaderView();
    expect(quoted.wrap(errors[0]!.original)).toBeUndefined();
    expect([quoted.source, quoted.destination, getU16(quoted.payload, 2)]).toEqual([WEB, WAN, 5353]);
  });

  it('filters the router\'s own input per interface', async () => {
    const { pc1, web, run, nf } = homeRouter();
    const fromLan = await run(pc1.ping(LAN, { count: 1 }));
    expect(fromLan[0]!.rttMs).toBeDefined();
    const fromWan = await run(web.ping(WAN, { count: 1, timeoutMs: 500 }));
    expect(fromWan[0]!.rttMs).toBeUndefined();
    expect(nf.firewall!.hits().at(-1)).toMatchObject({ rule: 'input in wan icmp type echo-request drop', packets: 1 });
  });

  it('keeps the router\'s own outgoing flows working under input policy drop (established)', async () => {
    const { gw, run } = homeRouter();
    const replies = await run(gw.ping(WEB, { count: 1 }));
    expect(replies[0]!.rttMs).toBeDefined();
    void PC1;
  });
});
