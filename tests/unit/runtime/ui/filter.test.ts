import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PacketSummary } from '../../../../src/runtime/ui/decode.js';
import { FILTER_TEXT_MAX, matchFilter, parseFilter } from '../../../../src/runtime/ui/filter.js';

const syn: PacketSummary = { protocols: ['ethernet', 'ipv4', 'tcp'], source: '10.1.0.10', destination: '10.2.0.10', sourcePort: 40000, destinationPort: 80, info: '' };
const ping: PacketSummary = { protocols: ['ethernet', 'ipv4', 'icmp'], source: '10.1.0.10', destination: '10.2.0.10', info: '' };
const arp: PacketSummary = { protocols: ['ethernet', 'arp'], source: '10.1.0.10', destination: '10.1.0.1', info: '' };
const dns6: PacketSummary = { protocols: ['ethernet', 'ipv6', 'udp', 'dns'], source: 'fd00:1::10', destination: 'fd00:1::1', sourcePort: 5353, destinationPort: 53, info: '' };

function matches(text: string, p: PacketSummary): boolean {
  const f = parseFilter(text);
  if (!f.ok) throw new Error(f.error);
  return matchFilter(f.filter, p);
}

describe('filter language (pcap-filter subset)', () => {
  it('matches protocols, hosts and ports as tcpdump does', () => {
    expect(matches('tcp and port 80', syn)).toBe(true);
    expect(matches('tcp port 80', syn)).toBe(true);
    expect(matches('tcp and port 443', syn)).toBe(false);
    expect(matches('host 10.1.0.10', syn)).toBe(true);
    expect(matches('src host 10.2.0.10', syn)).toBe(false);
    expect(matches('dst 10.2.0.10', syn)).toBe(true);
    expect(matches('dst port 80 and src port 40000', syn)).toBe(true);
    expect(matches('icmp', ping)).toBe(true);
    expect(matches('icmp', syn)).toBe(false);
    expect(matches('arp', arp)).toBe(true);
    expect(matches('ip', arp)).toBe(false);
    expect(matches('not arp', syn)).toBe(true);
    expect(matches('!arp && (icmp || tcp)', ping)).toBe(true);
    expect(matches('icmp or arp', syn)).toBe(false);
    expect(matches('ip6 and udp port 53 and dns', dns6)).toBe(true);
    expect(matches('host fd00:1:0:0::10', dns6)).toBe(true);
    expect(matches('10.1.0.1', arp)).toBe(true);
    expect(matches('', arp)).toBe(true);
  });

  it('takes a protocol before host, net and port, networks and port ranges, as pcap-filter does', () => {
    expect(matches('ip host 10.2.0.10', syn)).toBe(true);
    expect(matches('ip host 10.2.0.10', arp)).toBe(false);
    expect(matches('ip6 host fd00:1::1', dns6)).toBe(true);
    expect(matches('arp host 10.1.0.1', arp)).toBe(true);
    expect(matches('ip src 10.1.0.10 and tcp dst port 80', syn)).toBe(true);
    expect(matches('net 10.2.0.0/24', syn)).toBe(true);
    expect(matches('src net 10.2.0.0/24', syn)).toBe(false);
    expect(matches('dst net 10.2.0.0/16', syn)).toBe(true);
    expect(matches('ip and net 10.0.0.0/8 and not net 10.3.0.0/24', syn)).toBe(true);
    expect(matches('not net 10.1.0.0/24', syn)).toBe(false);
    expect(matches('net 10.1.0.0/24', dns6)).toBe(false);
    expect(matches('ip6 src net fd00:1::/64', dns6)).toBe(true);
    expect(matches('net fd00:2::/64', dns6)).toBe(false);
    expect(matches('net 0.0.0.0/0', ping)).toBe(true);
    expect(matches('portrange 79-81', syn)).toBe(true);
    expect(matches('tcp dst portrange 1-79', syn)).toBe(false);
    expect(matches('udp portrange 50-60', dns6)).toBe(true);
    expect(parseFilter('net 10.1.0.0')).toMatchObject({ ok: false, offset: 4 });
    expect(parseFilter('net 10.1.0.0/33')).toMatchObject({ ok: false, offset: 4 });
    expect(parseFilter('net fd00::1::/64')).toMatchObject({ ok: false, offset: 4 });
    expect(parseFilter('portrange 90-80')).toMatchObject({ ok: false, offset: 10 });
  });

  it('names the bad word and where it is', () => {
    expect(parseFilter('tcp and port')).toMatchObject({ ok: false, offset: 12 });
    expect(parseFilter('tcp and port 99999')).toMatchObject({ ok: false, error: "expected a port 0-65535, not '99999'", offset: 13 });
    expect(parseFilter('host banana')).toMatchObject({ ok: false, offset: 5 });
    expect(parseFilter('tcp or')).toMatchObject({ ok: false, error: 'expression ends too early' });
    expect(parseFilter('(tcp')).toMatchObject({ ok: false, error: "expected ')'" });
    expect(parseFilter('tcp udp')).toMatchObject({ ok: false, error: "unexpected 'udp'", offset: 4 });
    expect(parseFilter('gre')).toMatchObject({ ok: false, offset: 0 });
    expect(parseFilter('x'.repeat(FILTER_TEXT_MAX + 1))).toMatchObject({ ok: false });
  });

  it('never throws on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const r = parseFilter(text);
        if (r.ok) matchFilter(r.filter, syn);
      }),
    );
    expect(parseFilter('('.repeat(250) + 'tcp' + ')'.repeat(250)).ok).toBe(true);
  });
});
