/** Zone lookup (RFC 1034 §4.3.2), negative answers (RFC 2308), reverse records and DHCP leases. */
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { buildLabZone } from '../../../../src/services/dns/config.js';
import { DnsClass, DnsRcode, DnsType, describeRecord } from '../../../../src/services/dns/message.js';
import { reverseNameV4, reverseNameV6, reverseZoneV4, reverseZoneV6 } from '../../../../src/services/dns/reverse.js';
import { LEASE_RECORD_TTL, Zone, type ZoneAnswer } from '../../../../src/services/dns/zone.js';
import { parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import { exampleZone } from './fixture.js';

const show = (a: ZoneAnswer | undefined) =>
  a && {
    rcode: a.rcode,
    answers: a.answers.map(describeRecord),
    authorities: a.authorities.map(describeRecord),
    additionals: a.additionals.map(describeRecord),
  };
const SOA = 'example.test. 600 IN SOA ns1.example.test. hostmaster.example.test.';

describe('lookup', () => {
  const zone = exampleZone();

  it('an A record; names match in any case, the stored case answers', () => {
    expect(show(zone.lookup('WWW.Example.TEST.', DnsType.A))).toEqual({
      rcode: 0,
      answers: ['www.example.test. 0 IN A 192.0.2.10'],
      authorities: [],
      additionals: [],
    });
  });

  it('NXDOMAIN carries the SOA, its TTL min(SOA TTL 3600, MINIMUM 600) (RFC 2308 §3)', () => {
    const a = show(zone.lookup('nothere.example.test.', DnsType.A))!;
    expect(a.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(a.answers).toEqual([]);
    expect(a.authorities).toHaveLength(1);
    expect(a.authorities[0]).toMatch(new RegExp(`^${SOA} \\d+ 1200 120 604800 600$`));
  });

  it('NODATA: the name exists, the type does not: NOERROR, SOA in authority', () => {
    const a = show(zone.lookup('www.example.test.', DnsType.TXT))!;
    expect(a.rcode).toBe(DnsRcode.NOERROR);
    expect(a.answers).toEqual([]);
    expect(a.authorities[0]).toMatch(/^example\.test\. 600 IN SOA/);
  });

  it('an empty non-terminal (_udp above _sip._udp) is NODATA, not NXDOMAIN (RFC 8020)', () => {
    expect(zone.lookup('_udp.example.test.', DnsType.A)!.rcode).toBe(DnsRcode.NOERROR);
    expect(zone.lookup('_tcp.example.test.', DnsType.A)!.rcode).toBe(DnsRcode.NXDOMAIN);
  });

  it('CNAME chased within the zone (RFC 1034 §4.3.2 step 3a)', () => {
    expect(show(zone.lookup('alias.example.test.', DnsType.A))!.answers).toEqual([
      'alias.example.test. 0 IN CNAME host.example.test.',
      'host.example.test. 0 IN A 192.0.2.20',
    ]);
    expect(show(zone.lookup('chain1.example.test.', DnsType.AAAA))!.answers).toHaveLength(4);
  });

  it('asking for the CNAME itself does not chase', () => {
    expect(show(zone.lookup('alias.example.test.', DnsType.CNAME))!.answers).toEqual(['alias.example.test. 0 IN CNAME host.example.test.']);
  });

  it('a CNAME leaving the local zones ends the chase with the CNAME alone', () => {
    const a = show(zone.lookup('outside.example.test.', DnsType.A))!;
    expect(a).toEqual({ rcode: 0, answers: ['outside.example.test. 0 IN CNAME www.example.com.'], authorities: [], additionals: [] });
  });

  it('a CNAME loop stops at the first repeat', () => {
    const a = show(zone.lookup('loop1.example.test.', DnsType.A))!;
    expect(a.answers).toEqual(['loop1.example.test. 0 IN CNAME loop2.example.test.', 'loop2.example.test. 0 IN CNAME loop1.example.test.']);
  });

  it('a CNAME to a missing name: the RCODE describes the last name, NXDOMAIN (RFC 6604)', () => {
    const a = show(zone.lookup('dangling.example.test.', DnsType.A))!;
    expect(a.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(a.answers).toEqual(['dangling.example.test. 0 IN CNAME nothere.example.test.']);
    expect(a.authorities[0]).toMatch(/SOA/);
  });

  it('MX and SRV bring the target addresses as additional records (RFC 1034 §4.3.2 step 6, RFC 2782)', () => {
    expect(show(zone.lookup('example.test.', DnsType.MX))!.additionals).toEqual(['mail.example.test. 0 IN A 192.0.2.25']);
    expect(show(zone.lookup('_sip._udp.example.test.', DnsType.SRV))!.additionals).toEqual(['sip.example.test. 0 IN A 192.0.2.30']);
    // NS at the apex: ns1 has no address here, so nothing is added.
    expect(show(zone.lookup('example.test.', DnsType.NS))).toEqual({
      rcode: 0,
      answers: ['example.test. 3600 IN NS ns1.example.test.'],
      authorities: [],
      additionals: [],
    });
  });

  it('TXT with several strings; AAAA', () => {
    expect(show(zone.lookup('txt.example.test.', DnsType.TXT))!.answers).toEqual(['txt.example.test. 0 IN TXT "v=spf1 -all" "second string"']);
    expect(show(zone.lookup('host.example.test.', DnsType.AAAA))!.answers).toEqual(['host.example.test. 0 IN AAAA 2001:db8::20']);
  });

  it('ANY returns one RRset, the lowest type present (RFC 8482 §4.1), not every RRset at the node', () => {
    expect(show(zone.lookup('host.example.test.', DnsType.ANY))!.answers).toEqual(['host.example.test. 0 IN A 192.0.2.20']);
  });

  it('PTR records made from A and AAAA records, in their reverse zones', () => {
    expect(show(zone.lookup('20.2.0.192.in-addr.arpa.', DnsType.PTR))!.answers).toEqual(['20.2.0.192.in-addr.arpa. 0 IN PTR host.example.test.']);
    const v6 = reverseNameV6(parseIpv6('2001:db8::20')!);
    expect(show(zone.lookup(v6, DnsType.PTR))!.answers).toEqual([`${v6} 0 IN PTR host.example.test.`]);
    const missing = zone.lookup('99.2.0.192.in-addr.arpa.', DnsType.PTR)!;
    expect(missing.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(describeRecord(missing.authorities[0]!)).toMatch(/^2\.0\.192\.in-addr\.arpa\. 600 IN SOA ns1\.example\.test\./);
  });

  it('names outside every local zone are not ours', () => {
    expect(zone.lookup('www.example.com.', DnsType.A)).toBeUndefined();
    expect(zone.lookup('test.', DnsType.A)).toBeUndefined();
    expect(zone.lookup('1.1.168.192.in-addr.arpa.', DnsType.PTR)).toBeUndefined();
    expect(zone.isLocal('a.b.example.test.')).toBe(true);
  });

  it('a label holding an escaped dot is one label, not two', () => {
    expect(zone.lookup('www\\.example.test.', DnsType.A)).toBeUndefined();
  });
});

describe('adding records', () => {
  it('refuses a CNAME next to other data, a second CNAME, names outside the zone, an SOA off the apex', () => {
    const zone = exampleZone();
    const rec = (name: string, type: number, data: never) => ({ name, type, class: DnsClass.IN, ttl: 60, data });
    expect(zone.add(rec('host.example.test.', DnsType.CNAME, { kind: 'CNAME', target: 'www.example.test.' } as never))).toMatch(/RFC 2181/);
    expect(zone.add(rec('alias.example.test.', DnsType.A, { kind: 'A', address: 1 } as never))).toMatch(/is a CNAME/);
    expect(zone.add(rec('alias.example.test.', DnsType.CNAME, { kind: 'CNAME', target: 'www.example.test.' } as never))).toMatch(/only one/);
    expect(zone.add(rec('www.example.com.', DnsType.A, { kind: 'A', address: 1 } as never))).toMatch(/outside/);
    const soa = { kind: 'SOA', mname: 'a.', rname: 'b.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 };
    expect(zone.add(rec('www.example.test.', DnsType.SOA, soa as never))).toMatch(/apex/);
    expect(zone.add({ ...rec('x.example.test.', DnsType.A, { kind: 'A', address: 1 } as never), class: DnsClass.CH })).toMatch(/class IN/);
  });

  it('a duplicate is ignored (RFC 2181 §5); remove takes a record and its PTR', () => {
    const zone = exampleZone();
    const a = { name: 'www.example.test.', type: DnsType.A, class: DnsClass.IN, ttl: 0, data: { kind: 'A', address: 0xc000020a } } as const;
    expect(zone.add(a)).toBeUndefined();
    expect(zone.lookup('www.example.test.', DnsType.A)!.answers).toHaveLength(1);
    expect(zone.lookup('10.2.0.192.in-addr.arpa.', DnsType.PTR)!.answers).toHaveLength(1);
    expect(zone.remove('WWW.example.test.', DnsType.A)).toBe(1);
    expect(zone.lookup('www.example.test.', DnsType.A)!.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(zone.lookup('10.2.0.192.in-addr.arpa.', DnsType.PTR)!.rcode).toBe(DnsRcode.NXDOMAIN);
  });

  it('a config SOA and NS replace the defaults at the apex', () => {
    const lab = buildLabZone(
      { tapnet: parseIpv4('10.77.0.1')!, kernel: parseIpv4('10.77.0.2')!, subnet: { address: parseIpv4('10.77.0.0')!, prefixLength: 24 } },
      { records: ['@ 100 SOA ns hm 42 1 2 3 4', '@ NS ns', 'ns A 10.77.0.53'] },
    );
    if (!lab.ok) throw new Error(lab.error);
    expect(show(lab.value.lookup('lab.', DnsType.NS))!.answers).toEqual(['lab. 300 IN NS ns.lab.']);
    expect(show(lab.value.lookup('lab.', DnsType.NS))!.additionals).toEqual(['ns.lab. 300 IN A 10.77.0.53']);
    expect(show(lab.value.lookup('lab.', DnsType.SOA))!.answers[0]).toMatch(/^lab\. 100 IN SOA ns\.lab\. hm\.lab\. 4[0-9] 1 2 3 4$/);
  });
});

describe('the default lab zone', () => {
  const hosts = { tapnet: parseIpv4('10.77.0.1')!, kernel: parseIpv4('10.77.0.2')!, subnet: { address: parseIpv4('10.77.0.0')!, prefixLength: 24 } };

  it('gateway and host, SOA and NS, and their PTRs', () => {
    const r = buildLabZone(hosts);
    if (!r.ok) throw new Error(r.error);
    const zone = r.value;
    expect(show(zone.lookup('gateway.lab.', DnsType.A))!.answers).toEqual(['gateway.lab. 300 IN A 10.77.0.1']);
    expect(show(zone.lookup('host.lab.', DnsType.A))!.answers).toEqual(['host.lab. 300 IN A 10.77.0.2']);
    expect(show(zone.lookup('lab.', DnsType.NS))!.additionals).toEqual(['gateway.lab. 300 IN A 10.77.0.1']);
    expect(show(zone.lookup('lab.', DnsType.SOA))!.answers[0]).toMatch(/^lab\. 300 IN SOA gateway\.lab\. hostmaster\.lab\. \d+ 3600 600 86400 60$/);
    expect(show(zone.lookup('2.0.77.10.in-addr.arpa.', DnsType.PTR))!.answers).toEqual(['2.0.77.10.in-addr.arpa. 300 IN PTR host.lab.']);
    expect(zone.lookup('0.77.10.in-addr.arpa.', DnsType.SOA)!.answers).toHaveLength(1);
  });

  it('with IPv6: gateway AAAA and its PTR in the /64\'s ip6.arpa zone', () => {
    const r = buildLabZone({ ...hosts, tapnet6: parseIpv6('fd77::1')!, subnet6: { address: parseIpv6('fd77::')!, prefixLength: 64 } });
    if (!r.ok) throw new Error(r.error);
    expect(show(r.value.lookup('gateway.lab.', DnsType.AAAA))!.answers).toEqual(['gateway.lab. 300 IN AAAA fd77::1']);
    const ptr = reverseNameV6(parseIpv6('fd77::1')!);
    expect(show(r.value.lookup(ptr, DnsType.PTR))!.answers).toEqual([`${ptr} 300 IN PTR gateway.lab.`]);
    expect(r.value.lookup(reverseNameV6(parseIpv6('fd77::99')!), DnsType.PTR)!.rcode).toBe(DnsRcode.NXDOMAIN);
  });

  it('bad config entries come back as one line', () => {
    expect(buildLabZone(hosts, { records: ['www CNAME'] })).toMatchObject({ ok: false, error: expect.stringMatching(/CNAME needs 1 field/) });
    expect(buildLabZone(hosts, { records: ['gateway CNAME host'] })).toMatchObject({ ok: false, error: expect.stringMatching(/already has data/) });
    expect(buildLabZone(hosts, { reverse: ['10.0.0.0'] })).toMatchObject({ ok: false, error: expect.stringMatching(/reverse network/) });
    expect(buildLabZone(hosts, { zone: 'a..b' })).toMatchObject({ ok: false, error: expect.stringMatching(/zone name/) });
  });
});

describe('DHCP leases (registerLease / unregisterLease)', () => {
  const fresh = (): Zone => {
    const r = buildLabZone({ tapnet: parseIpv4('10.77.0.1')!, kernel: parseIpv4('10.77.0.2')!, subnet: { address: parseIpv4('10.77.0.0')!, prefixLength: 24 } });
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const addr = parseIpv4('10.77.0.100')!;

  it('a lease adds A and PTR, the serial goes up, and both go when the lease ends', () => {
    const zone = fresh();
    const serial = zone.serial;
    expect(zone.registerLease('Laptop', addr)).toBe(true);
    expect(zone.serial).toBe(serial + 1);
    expect(show(zone.lookup('laptop.lab.', DnsType.A))!.answers).toEqual([`Laptop.lab. ${LEASE_RECORD_TTL} IN A 10.77.0.100`]);
    expect(show(zone.lookup(reverseNameV4(addr), DnsType.PTR))!.answers).toEqual([`100.0.77.10.in-addr.arpa. ${LEASE_RECORD_TTL} IN PTR Laptop.lab.`]);
    expect(zone.leases()).toEqual([{ name: 'Laptop.lab.', address: addr }]);
    expect(zone.describe()).toMatch(/Laptop\.lab\. 60 IN A 10\.77\.0\.100 {3}; lease/);

    expect(zone.unregisterLease('laptop', parseIpv4('10.77.0.101')!)).toBe(false); // not its address
    expect(zone.unregisterLease('laptop', addr)).toBe(true);
    expect(zone.serial).toBe(serial + 2);
    expect(zone.lookup('laptop.lab.', DnsType.A)!.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(zone.lookup(reverseNameV4(addr), DnsType.PTR)!.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(zone.leases()).toEqual([]);
  });

  it('a host that renews at a new address moves; re-registering the same lease changes nothing', () => {
    const zone = fresh();
    zone.registerLease('pc', addr);
    const serial = zone.serial;
    expect(zone.registerLease('pc', addr)).toBe(true);
    expect(zone.serial).toBe(serial);
    const other = parseIpv4('10.77.0.101')!;
    expect(zone.registerLease('pc', other)).toBe(true);
    expect(show(zone.lookup('pc.lab.', DnsType.A))!.answers).toEqual(['pc.lab. 60 IN A 10.77.0.101']);
    expect(zone.lookup(reverseNameV4(addr), DnsType.PTR)!.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(zone.unregisterLease('pc', addr)).toBe(false); // the old lease ending does not take the new address
    expect(zone.lookup('pc.lab.', DnsType.A)!.answers).toHaveLength(1);
  });

  it('a lease cannot take a name the config uses, and host names must be RFC 1123 labels', () => {
    const zone = fresh();
    expect(zone.registerLease('gateway', addr)).toBe(false);
    expect(zone.lookup('gateway.lab.', DnsType.A)!.answers).toHaveLength(1);
    for (const bad of ['', '-x', 'x-', 'a b', 'a.b', 'x'.repeat(64), 'ünï', 'a_b']) expect(zone.registerLease(bad, addr), bad).toBe(false);
    expect(zone.registerLease('pc.lab', addr)).toBe(true); // an FQDN in the zone is accepted
    expect(zone.lookup('pc.lab.', DnsType.A)!.answers).toHaveLength(1);
    expect(zone.registerLease('pc2.lab.', parseIpv4('10.77.0.102')!)).toBe(true);
  });

  it('a lease outside the reverse zones gets its A record only', () => {
    const zone = fresh();
    expect(zone.registerLease('far', parseIpv4('192.168.9.9')!)).toBe(true);
    expect(zone.lookup('far.lab.', DnsType.A)!.answers).toHaveLength(1);
    expect(zone.lookup('9.9.168.192.in-addr.arpa.', DnsType.PTR)).toBeUndefined();
  });
});

describe('reverse names (RFC 1035 §3.5, RFC 3596 §2.5)', () => {
  it('IPv4 addresses and zones', () => {
    expect(reverseNameV4(parseIpv4('10.77.0.2')!)).toBe('2.0.77.10.in-addr.arpa.');
    expect(reverseZoneV4({ address: parseIpv4('10.77.0.0')!, prefixLength: 24 })).toBe('0.77.10.in-addr.arpa.');
    expect(reverseZoneV4({ address: parseIpv4('10.77.16.0')!, prefixLength: 20 })).toBe('77.10.in-addr.arpa.');
    expect(reverseZoneV4({ address: parseIpv4('10.0.0.0')!, prefixLength: 8 })).toBe('10.in-addr.arpa.');
  });

  it('IPv6 addresses and zones: RFC 3596 §2.5 example', () => {
    expect(reverseNameV6(parseIpv6('4321:0:1:2:3:4:567:89ab')!)).toBe(
      'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.',
    );
    expect(reverseZoneV6({ address: parseIpv6('fd77::')!, prefixLength: 64 })).toBe('0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa.');
  });
});
