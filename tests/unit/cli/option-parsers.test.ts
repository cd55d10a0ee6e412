/**
 * The option parsers of src/cli.ts: each returns the parsed value (so the
 * text is read once) or throws commander's InvalidArgumentError, which the
 * CLI prints as one line naming the option and exits 2 with.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { busyPollUs, byteCount, didYouMean, showTable, dhcpHost, dnsRecord, dnsUpstream, ipAddress, ipv4Address, leaseSeconds, linkEnd, netnsName, positiveInt, subnet, subnet6, tapMtu, tapName } from '../../../src/cli.js';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';
import { parseIpv6 } from '../../../src/l3/ipv6/address.js';
import { parseMac } from '../../../src/l2/mac-address.js';

function refuses(parse: (value: string) => unknown, value: string, message: RegExp): void {
  let thrown: unknown;
  try {
    parse(value);
  } catch (e) {
    thrown = e;
  }
  expect(thrown, value).toBeInstanceOf(InvalidArgumentError);
  expect((thrown as Error).message).toMatch(message);
}

describe('cli option parsers return parsed values', () => {
  it('--subnet: an IPv4 CIDR from /8 to /30', () => {
    expect(subnet('10.77.0.0/24')).toEqual({ address: parseIpv4('10.77.0.0'), prefixLength: 24 });
    refuses(subnet, '10.77.0.0', /IPv4 CIDR/);
    refuses(subnet, '300.1.1.0/24', /IPv4 CIDR/);
    refuses(subnet, '10.77.0.0/31', /between \/8 and \/30/);
  });

  it('--subnet6: a unicast /64', () => {
    expect(subnet6('fd77::/64')).toEqual({ address: parseIpv6('fd77::'), prefixLength: 64 });
    refuses(subnet6, 'fd77::/48', /must be \/64/);
    refuses(subnet6, 'fe80::/64', /unicast prefix/);
    refuses(subnet6, 'nope', /IPv6 prefix/);
  });

  it('--mtu, --lease-time, counts and byte counts', () => {
    expect(tapMtu('9000')).toBe(9000);
    refuses(tapMtu, '575', /MTU from 576 to 65521/);
    refuses(tapMtu, '65522', /MTU from 576/);
    refuses(tapMtu, 'big', /MTU from 576/);
    expect(busyPollUs('0')).toBe(0);
    expect(busyPollUs('200')).toBe(200);
    refuses(busyPollUs, '1001', /microseconds from 0 to 1000/);
    refuses(busyPollUs, '-5', /microseconds/);
    expect(leaseSeconds('600')).toBe(600);
    refuses(leaseSeconds, '9', /from 10/);
    expect(positiveInt('3')).toBe(3);
    refuses(positiveInt, '0', /positive integer/);
    expect(byteCount('0')).toBe(0);
    expect(byteCount('1000000')).toBe(1_000_000);
    refuses(byteCount, 'lots', /number of bytes/);
  });

  it('addresses: IPv4 as a number, ping targets in canonical form', () => {
    expect(ipv4Address('10.77.0.2')).toBe(parseIpv4('10.77.0.2'));
    refuses(ipv4Address, '10.77.0.256', /IPv4 address/);
    expect(ipAddress('10.77.0.2')).toBe('10.77.0.2');
    expect(ipAddress('FD77:0:0::2')).toBe('fd77::2');
    refuses(ipAddress, 'gateway', /IPv4 address .* or an IPv6 address/);
  });

  it('repeatable --dns-upstream, --dns-record and --dhcp-host accumulate parsed values', () => {
    const upstreams = dnsUpstream('10.0.2.3:5353', dnsUpstream('10.0.2.3'));
    expect(upstreams).toHaveLength(2);
    expect(upstreams[1]).toMatchObject({ port: 5353 });
    refuses((v) => dnsUpstream(v), '10.0.2.300', /ADDRESS or ADDRESS:PORT/);
    expect(dnsRecord('www CNAME gateway', dnsRecord('nas A 10.77.0.9'))).toEqual(['nas A 10.77.0.9', 'www CNAME gateway']);
    refuses((v) => dnsRecord(v), 'nas A nowhere', /./);
    expect(dhcpHost('02:00:00:00:00:01,10.77.0.50,printer')).toEqual([{ mac: parseMac('02:00:00:00:00:01'), address: parseIpv4('10.77.0.50'), hostname: 'printer' }]);
    refuses((v) => dhcpHost(v), '02:00:00:00:00:01,10.77.0.50,Bad Name', /MAC,ADDRESS\[,NAME\]/);
  });

  it('names: TAP (15 bytes) and namespace', () => {
    expect(tapName('tapnet0')).toBe('tapnet0');
    refuses(tapName, 'a-name-that-is-too-long', /interface name/);
    refuses(netnsName, 'bad/name', /namespace name/);
  });

  it('tapnet link down A B: NODE or NODE:PORT', () => {
    expect(linkEnd('bk-cust')).toEqual({ node: 'bk-cust' });
    expect(linkEnd('bk-cust:to-a')).toEqual({ node: 'bk-cust', port: 'to-a' });
    refuses(linkEnd, 'Bad!', /expected NODE or NODE:PORT/);
    refuses(linkEnd, 'bk-cust:', /expected NODE or NODE:PORT/);
  });
});

describe('did you mean', () => {
  it('suggests the closest table for a typo, a prefix or a transposition, and nothing for a stranger', () => {
    expect(showTable('arp')).toBe('arp');
    refuses(showTable, 'stat', /no table 'stat' \(did you mean 'stats'\?\)/);
    refuses(showTable, 'roues', /did you mean 'routes'/);
    refuses(showTable, 'conn', /did you mean 'conntrack'/);
    refuses(showTable, 'leaes', /did you mean 'leases'/);
    expect(didYouMean('xyzzyq', ['stats', 'arp'])).toBeUndefined();
  });
});
