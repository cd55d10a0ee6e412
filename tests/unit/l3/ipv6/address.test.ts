import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  eui64InterfaceId,
  formatIpv6,
  formatIpv6Cidr,
  inIpv6Cidr,
  ipv6Equal,
  ipv6FromKey,
  ipv6Key,
  ipv6MulticastMac,
  isLinkLocalIpv6,
  isMulticastIpv6,
  isSolicitedNodeMulticast,
  linkLocalFromMac,
  parseIpv6,
  parseIpv6Cidr,
  prefixOf,
  solicitedNodeMulticast,
} from '../../../../src/l3/ipv6/address.js';
import { toHex } from '../../../../src/core/bytes.js';

describe('IPv6 address text (RFC 4291 §2.2, RFC 5952)', () => {
  const canonical: Array<[string, string]> = [
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fd77::1', 'fd770000000000000000000000000001'],
    ['fe80::ff:fe00:a', 'fe80000000000000000000fffe00000a'],
    ['ff02::1:ff00:1', 'ff0200000000000000000001ff000001'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001'], // one zero group is not compressed (§4.2.2)
    ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'], // the first of two equal runs (§4.2.3)
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001'], // IPv4-mapped (§5)
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ];
  for (const [text, hex] of canonical) {
    it(`${text} parses and prints back`, () => {
      const a = parseIpv6(text)!;
      expect(toHex(a)).toBe(hex);
      expect(formatIpv6(a)).toBe(text);
    });
  }

  it('accepts the non-canonical forms RFC 4291 allows and prints them canonically', () => {
    expect(formatIpv6(parseIpv6('2001:DB8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('2001:0db8::0001')!)).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('::10.0.0.1')!)).toBe('::a00:1');
    expect(formatIpv6(parseIpv6('1::')!)).toBe('1::');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', ':', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', 'fe80::1%eth0', '::1.2.3', '::256.0.0.1', '1:2:3:4:5:6:7::8:9', ':1::', '::01.2.3.4']) {
      expect(parseIpv6(bad), bad).toBeUndefined();
    }
  });

  it('CIDR', () => {
    expect(formatIpv6Cidr(parseIpv6Cidr('fd77::1/64')!)).toBe('fd77::1/64');
    for (const bad of ['fd77::', 'fd77::/129', 'fd77::/064', 'x/64']) expect(parseIpv6Cidr(bad)).toBeUndefined();
    const net = parseIpv6Cidr('fd77:1:2:3::/64')!;
    expect(inIpv6Cidr(parseIpv6('fd77:1:2:3:ffff::1')!, net)).toBe(true);
    expect(inIpv6Cidr(parseIpv6('fd77:1:2:4::1')!, net)).toBe(false);
    expect(inIpv6Cidr(parseIpv6('fd77:1:2:3::1')!, parseIpv6Cidr('fd77:1:2:2::/63')!)).toBe(true);
    expect(formatIpv6(prefixOf(parseIpv6('fd77:1:2:3:4:5:6:7')!, 52))).toBe('fd77:1:2::');
  });

  it('keys round-trip and compare', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
        expect(ipv6Equal(ipv6FromKey(ipv6Key(a)), a)).toBe(true);
        expect(ipv6Equal(parseIpv6(formatIpv6(a))!, a)).toBe(true);
      }),
    );
  });
});

describe('IPv6 addresses derived from others', () => {
  it('EUI-64 and link-local from a MAC (RFC 4291 appendix A), as Linux forms them', () => {
    expect(toHex(eui64InterfaceId(0x02000000000a))).toBe('000000fffe00000a');
    expect(formatIpv6(linkLocalFromMac(0x02000000000a))).toBe('fe80::ff:fe00:a');
    // Seen in the lab: ca:53:9d:9c:6c:8e → fe80::c853:9dff:fe9c:6c8e (U/L bit flipped back to 0xc8).
    expect(formatIpv6(linkLocalFromMac(0xca539d9c6c8e))).toBe('fe80::c853:9dff:fe9c:6c8e');
    expect(isLinkLocalIpv6(linkLocalFromMac(0x02000000000a))).toBe(true);
  });

  it('solicited-node groups and their MACs (RFC 4291 §2.7.1, RFC 2464 §7)', () => {
    const g = solicitedNodeMulticast(parseIpv6('fd77::c853:9dff:fe9c:6c8e')!);
    expect(formatIpv6(g)).toBe('ff02::1:ff9c:6c8e');
    expect(isSolicitedNodeMulticast(g)).toBe(true);
    expect(isMulticastIpv6(g)).toBe(true);
    expect(ipv6MulticastMac(g)).toBe(0x3333ff9c6c8e);
    expect(ipv6MulticastMac(parseIpv6('ff02::16')!)).toBe(0x333300000016);
    expect(isSolicitedNodeMulticast(parseIpv6('ff02::1')!)).toBe(false);
  });
});
