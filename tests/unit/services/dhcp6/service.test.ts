/**
 * The DHCPv6 server on tapnet's UDP (service.ts): dhclient's Solicit bytes
 * sent by a second host from its link-local address to ff02::1:2 port 547
 * reach the server (group joined), and the Advertise comes back to the
 * client's link-local address, port 546. RA M/O flags per mode
 * (RFC 4861 §4.2).
 */
import { describe, expect, it } from 'vitest';
import { formatIpv6, isLinkLocalIpv6, parseIpv6, parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import { RouterAdvertiser } from '../../../../src/l3/icmpv6/router-advertiser.js';
import type { UdpRemoteInfo } from '../../../../src/l4/udp/udp.js';
import { Dhcp6MessageType, findDhcp6Option, parseDhcp6Message } from '../../../../src/services/dhcp6/message.js';
import { Dhcp6OptionCode, parseIaNa } from '../../../../src/services/dhcp6/options.js';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, Dhcp6Service, defaultDhcp6Pool, dhcp6RaFlags, duidLl } from '../../../../src/services/dhcp6/service.js';
import { twoHosts } from '../../two-hosts.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
/** dhclient -6's Solicit (codec.test.ts). */
const SOLICIT = hex('01b475df0001000e0001000132a41f196ee3a4cdca1600060008001700180027001f0008000200000003000ca4cdca1600000e1000001518');

describe('DHCPv6 service on tapnet UDP', () => {
  it('receives on ff02::1:2:547 and answers the client link-local address on port 546', async () => {
    const { a, b, run } = twoHosts({ ipv6: true, seed: 5 });
    const link6 = a.ipv6.interfaces[0]!;
    const service = new Dhcp6Service(a, link6, { mode: 'stateful', prefix: parseIpv6Cidr('fd00::/64')!, dnsServers: [parseIpv6('fd00::1')!], domains: ['lab'] });
    expect(link6.hasGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS)).toBe(true);
    const client = b.udp.createSocket('udp6').bind(546);
    const reply = new Promise<[Buffer, UdpRemoteInfo]>((resolve) => client.on('message', (m, r) => resolve([m, r])));
    client.send(SOLICIT, 547, 'ff02::1:2');
    const [msg, rinfo] = await run(reply);
    expect(rinfo.port).toBe(547);
    expect(isLinkLocalIpv6(parseIpv6(rinfo.address)!)).toBe(true);
    const m = parseDhcp6Message(msg);
    expect(m.ok && m.value.msgType).toBe(Dhcp6MessageType.ADVERTISE);
    const ia = m.ok ? parseIaNa(findDhcp6Option(m.value.options, Dhcp6OptionCode.IA_NA)!.data) : undefined;
    expect(ia?.ok && formatIpv6(ia.value.addresses[0]!.address)).toBe('fd00::100');
    expect(m.ok && [...findDhcp6Option(m.value.options, Dhcp6OptionCode.SERVERID)!.data]).toEqual([...duidLl(0x020000000001)]);
    expect(a.ctx.stats.get('dhcp6OutAdvertises')).toBe(1);
    service.stop();
  });

  it('default pool is PREFIX::100-PREFIX::1ff', () => {
    const p = defaultDhcp6Pool(parseIpv6Cidr('fd77::/64')!);
    expect([formatIpv6(p.first), formatIpv6(p.last)]).toEqual(['fd77::100', 'fd77::1ff']);
  });

  it('RA flags: M and O for stateful, O only for stateless, none without DHCPv6', () => {
    const { a } = twoHosts({ ipv6: true, seed: 6 });
    const link6 = a.ipv6.interfaces[0]!;
    const flags = (mode: 'stateful' | 'stateless' | undefined) => {
      const m = new RouterAdvertiser(link6, dhcp6RaFlags(mode)).message();
      return [m.managed, m.other];
    };
    expect(flags('stateful')).toEqual([true, true]);
    expect(flags('stateless')).toEqual([false, true]);
    expect(flags(undefined)).toEqual([false, false]);
  });
});
