/**
 * The DHCPv6 server's protocol core (RFC 8415 §18.3) driven by dhclient's own
 * Solicit and Information-request bytes (codec.test.ts), then the messages a
 * client sends next, built with the codec. Manual clock for lifetimes.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { parseIpv6, parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import { Dhcp6MessageType, encodeDhcp6Message, findDhcp6Option, parseDhcp6Message, type Dhcp6Message, type Dhcp6RawOption } from '../../../../src/services/dhcp6/message.js';
import { Dhcp6OptionCode, Dhcp6Status, iaNaOption, parseDnsServers, parseDomainList, parseIaNa, parseStatusCode } from '../../../../src/services/dhcp6/options.js';
import { DHCP6_VALID_LIFETIME_S, Dhcp6Server } from '../../../../src/services/dhcp6/server.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const INFORMATION_REQUEST = hex('0b7b23c60001000a000300016ee3a4cdca1600060008001700180027001f000800020000');
const SOLICIT = hex('01b475df0001000e0001000132a41f196ee3a4cdca1600060008001700180027001f0008000200000003000ca4cdca1600000e1000001518');
const SERVER_DUID = hex('00030001020000000001');
const CLIENT_ID: Dhcp6RawOption = { code: Dhcp6OptionCode.CLIENTID, data: hex('0001000132a41f196ee3a4cdca16') };
const SERVER_ID: Dhcp6RawOption = { code: Dhcp6OptionCode.SERVERID, data: SERVER_DUID };
const ip6 = (t: string) => parseIpv6(t)!;

function setup(pool = { first: ip6('fd00:1::100'), last: ip6('fd00:1::1ff') }, stateful = true) {
  const ctx = createTestContext(1);
  const server = new Dhcp6Server(ctx, {
    duid: SERVER_DUID,
    prefix: parseIpv6Cidr('fd00:1::/64')!,
    ...(stateful ? { pool } : {}),
    dnsServers: [ip6('fd00:1::1')],
    domains: ['home'],
  });
  const send = (bytes: Uint8Array): Dhcp6Message | undefined => {
    const r = server.receive(bytes);
    if (!r) return undefined;
    const m = parseDhcp6Message(r);
    if (!m.ok) throw new Error('server sent a malformed message');
    return m.value;
  };
  const message = (msgType: number, options: Dhcp6RawOption[]): Uint8Array => encodeDhcp6Message({ msgType, transactionId: 0x123456, options });
  const ia = (m: Dhcp6Message) => {
    const r = parseIaNa(findDhcp6Option(m.options, Dhcp6OptionCode.IA_NA)!.data);
    if (!r.ok) throw new Error('bad IA_NA');
    return r.value;
  };
  return { ctx, server, send, message, ia };
}

describe('Dhcp6Server', () => {
  it('stateless: Information-request → Reply with the DNS servers and domain list it asked for', () => {
    const s = setup(undefined, false);
    const reply = s.send(INFORMATION_REQUEST)!;
    expect(reply.msgType).toBe(Dhcp6MessageType.REPLY);
    expect(reply.transactionId).toBe(0x7b23c6);
    expect(findDhcp6Option(reply.options, Dhcp6OptionCode.SERVERID)!.data).toEqual(SERVER_DUID);
    expect(parseDnsServers(findDhcp6Option(reply.options, Dhcp6OptionCode.DNS_SERVERS)!.data)).toEqual({ ok: true, value: [ip6('fd00:1::1')] });
    expect(parseDomainList(findDhcp6Option(reply.options, Dhcp6OptionCode.DOMAIN_LIST)!.data)).toEqual({ ok: true, value: ['home.'] });
    // A stateless server has no addresses: a Solicit is not answered.
    expect(s.send(SOLICIT)).toBeUndefined();
    expect(s.ctx.stats.get('dhcp6InDiscards')).toBe(1);
  });

  it('stateful: Solicit → Advertise (nothing held), Request → Reply (bound), Renew, Release', () => {
    const s = setup();
    const adv = s.send(SOLICIT)!;
    expect(adv.msgType).toBe(Dhcp6MessageType.ADVERTISE);
    expect(s.ia(adv)).toMatchObject({ iaid: 0xa4cdca16, t1: 1500, t2: 2400, addresses: [{ address: ip6('fd00:1::100'), preferredLifetime: 3000, validLifetime: 3600 }] });
    expect(s.server.leases()).toHaveLength(0);
    const request = s.message(Dhcp6MessageType.REQUEST, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 0xa4cdca16, t1: 0, t2: 0, addresses: [] })]);
    const reply = s.send(request)!;
    expect(reply.msgType).toBe(Dhcp6MessageType.REPLY);
    expect(s.ia(reply).addresses[0]!.address).toEqual(ip6('fd00:1::100'));
    expect(s.server.leases()).toEqual([{ duid: '00:01:00:01:32:a4:1f:19:6e:e3:a4:cd:ca:16', iaid: 0xa4cdca16, address: 'fd00:1::100', expiresIn: DHCP6_VALID_LIFETIME_S }]);
    // The same client asks again: the same address.
    expect(s.ia(s.send(SOLICIT)!).addresses[0]!.address).toEqual(ip6('fd00:1::100'));
    s.ctx.clock.advance(1_000_000);
    const renew = s.send(s.message(Dhcp6MessageType.RENEW, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 0xa4cdca16, t1: 0, t2: 0, addresses: [{ address: ip6('fd00:1::100'), preferredLifetime: 0, validLifetime: 0 }] })]))!;
    expect(s.ia(renew).addresses[0]!.validLifetime).toBe(3600);
    expect(s.server.leases()[0]!.expiresIn).toBe(DHCP6_VALID_LIFETIME_S);
    const release = s.send(s.message(Dhcp6MessageType.RELEASE, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 0xa4cdca16, t1: 0, t2: 0, addresses: [{ address: ip6('fd00:1::100'), preferredLifetime: 0, validLifetime: 0 }] })]))!;
    expect(parseStatusCode(findDhcp6Option(release.options, Dhcp6OptionCode.STATUS_CODE)!.data)).toEqual({ ok: true, value: { code: Dhcp6Status.Success, message: 'released' } });
    expect(s.server.leases()).toHaveLength(0);
  });

  it('a binding expires after its valid lifetime; Renew of an unknown address gets lifetimes 0', () => {
    const s = setup();
    s.send(s.message(Dhcp6MessageType.REQUEST, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 1, t1: 0, t2: 0, addresses: [] })]));
    s.ctx.clock.advance(DHCP6_VALID_LIFETIME_S * 1000 + 1);
    expect(s.server.leases()).toHaveLength(0); // not listed once past its lifetime, before any message deletes it
    const renew = s.send(s.message(Dhcp6MessageType.RENEW, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 1, t1: 0, t2: 0, addresses: [{ address: ip6('fd00:1::100'), preferredLifetime: 0, validLifetime: 0 }] })]))!;
    expect(s.ia(renew).addresses[0]!.validLifetime).toBe(0);
    expect(s.server.leases()).toHaveLength(0);
  });

  it('Decline keeps the address out of the pool; a full pool answers NoAddrsAvail; Confirm checks the link', () => {
    const s = setup({ first: ip6('fd00:1::100'), last: ip6('fd00:1::100') });
    s.send(s.message(Dhcp6MessageType.REQUEST, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 1, t1: 0, t2: 0, addresses: [] })]));
    s.send(s.message(Dhcp6MessageType.DECLINE, [CLIENT_ID, SERVER_ID, iaNaOption({ iaid: 1, t1: 0, t2: 0, addresses: [{ address: ip6('fd00:1::100'), preferredLifetime: 0, validLifetime: 0 }] })]));
    const adv = s.send(SOLICIT)!;
    expect(s.ia(adv).status?.code).toBe(Dhcp6Status.NoAddrsAvail);
    expect(s.ctx.stats.get('dhcp6NoAddrsAvail')).toBe(1);
    const confirm = (addr: string) =>
      parseStatusCode(findDhcp6Option(s.send(s.message(Dhcp6MessageType.CONFIRM, [CLIENT_ID, iaNaOption({ iaid: 1, t1: 0, t2: 0, addresses: [{ address: ip6(addr), preferredLifetime: 0, validLifetime: 0 }] })]))!.options, Dhcp6OptionCode.STATUS_CODE)!.data);
    expect(confirm('fd00:1::55')).toMatchObject({ ok: true, value: { code: Dhcp6Status.Success } });
    expect(confirm('fd00:2::55')).toMatchObject({ ok: true, value: { code: Dhcp6Status.NotOnLink } });
  });

  it('discards what RFC 8415 §16 says to discard, and malformed bytes, counting each', () => {
    const s = setup();
    expect(s.send(s.message(Dhcp6MessageType.REQUEST, [CLIENT_ID]))).toBeUndefined(); // no Server Identifier
    expect(s.send(s.message(Dhcp6MessageType.REQUEST, [CLIENT_ID, { code: 2, data: hex('0003000102000000ffff') }]))).toBeUndefined(); // another server's
    expect(s.send(s.message(Dhcp6MessageType.SOLICIT, [CLIENT_ID, SERVER_ID]))).toBeUndefined(); // Solicit with a Server Identifier
    expect(s.send(s.message(Dhcp6MessageType.ADVERTISE, [CLIENT_ID]))).toBeUndefined(); // a server's message
    const many = Array.from({ length: 5 }, (_, i) => iaNaOption({ iaid: i, t1: 0, t2: 0, addresses: [] }));
    expect(s.send(s.message(Dhcp6MessageType.SOLICIT, [CLIENT_ID, ...many]))).toBeUndefined(); // more IAs than a client may hold
    expect(s.ctx.stats.get('dhcp6InDiscards')).toBe(5);
    expect(s.send(hex('01b475'))).toBeUndefined();
    expect(s.ctx.stats.get('dhcp6InErrors')).toBe(1);
  });
});

describe('Dhcp6Server config', () => {
  it('refuses a pool whose ends differ above the last 16 bits, or run backwards', () => {
    const ctx = createTestContext(1);
    const make = (first: string, last: string) => () =>
      new Dhcp6Server(ctx, { duid: SERVER_DUID, prefix: parseIpv6Cidr('fd00:1::/64')!, pool: { first: ip6(first), last: ip6(last) }, dnsServers: [], domains: [] });
    expect(make('fd00:1::100', 'fd00:1::1:100')).toThrow(/last 16 bits/);
    expect(make('fd00:1::200', 'fd00:1::100')).toThrow(/first ≤ last/);
    expect(make('fd00:1::100', 'fd00:1::1ff')).not.toThrow();
  });
});
