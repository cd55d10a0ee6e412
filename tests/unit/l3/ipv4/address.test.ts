import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IPV4_BROADCAST,
  broadcastOf,
  formatIpv4,
  formatIpv4Cidr,
  inCidr,
  isLinkLocalIpv4,
  isLoopbackIpv4,
  isMulticastIpv4,
  isPrivateIpv4,
  networkOf,
  parseIpv4,
  parseIpv4Cidr,
  prefixMask,
  readIpv4,
  writeIpv4,
} from '../../../../src/l3/ipv4/address.js';

describe('IPv4 addresses', () => {
  it('parses strict dotted quads into u32 numbers', () => {
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIpv4('255.255.255.255')).toBe(IPV4_BROADCAST);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('192.168.1.254')).toBe(0xc0a801fe);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', ' 1.2.3.4', '1..3.4', '0x1.2.3.4', '1e2.0.0.1'])(
    'refuses %j',
    (text) => {
      expect(parseIpv4(text)).toBeUndefined();
    },
  );

  it('formats and round-trips every address', () => {
    expect(formatIpv4(0xc0a80001)).toBe('192.168.0.1');
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => {
        expect(parseIpv4(formatIpv4(a))).toBe(a);
      }));
  });

  it('reads and writes big-endian', () => {
    const buf = new Uint8Array(6);
    writeIpv4(buf, 1, 0xc0a80001);
    expect([...buf]).toEqual([0, 192, 168, 0, 1, 0]);
    expect(readIpv4(buf, 1)).toBe(0xc0a80001);
  });
});

describe('IPv4 prefixes', () => {
  it('builds masks for 0..32 and refuses anything else', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(8)).toBe(0xff000000);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(31)).toBe(0xfffffffe);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(() => prefixMask(33)).toThrow(RangeError);
    expect(() => prefixMask(-1)).toThrow(RangeError);
  });

  it('parses CIDR text, keeping host bits (interface addresses)', () => {
    expect(parseIpv4Cidr('10.77.0.0/24')).toEqual({ address: 0x0a4d0000, prefixLength: 24 });
    expect(parseIpv4Cidr('10.77.0.1/24')).toEqual({ address: 0x0a4d0001, prefixLength: 24 });
    expect(parseIpv4Cidr('0.0.0.0/0')).toEqual({ address: 0, prefixLength: 0 });
    for (const bad of ['10.77.0.0', '10.77.0.0/33', '10.77.0.0/', '10.77.0.0/024', '10.77.0/24', '10.77.0.0/2a']) {
      expect(parseIpv4Cidr(bad)).toBeUndefined();
    }
    expect(formatIpv4Cidr({ address: 0x0a4d0001, prefixLength: 24 })).toBe('10.77.0.1/24');
  });

  it('computes network, broadcast and membership', () => {
    const cidr = parseIpv4Cidr('10.77.0.9/24')!;
    expect(formatIpv4(networkOf(cidr))).toBe('10.77.0.0');
    expect(formatIpv4(broadcastOf(cidr))).toBe('10.77.0.255');
    expect(inCidr(parseIpv4('10.77.0.200')!, cidr)).toBe(true);
    expect(inCidr(parseIpv4('10.77.1.1')!, cidr)).toBe(false);
    expect(inCidr(parseIpv4('203.0.113.5')!, parseIpv4Cidr('0.0.0.0/0')!)).toBe(true);
    expect(broadcastOf(parseIpv4Cidr('192.168.1.1/32')!)).toBe(parseIpv4('192.168.1.1'));
    expect(networkOf(parseIpv4Cidr('255.255.255.255/1')!)).toBe(0x80000000);
  });

  it('classifies special ranges', () => {
    expect(isMulticastIpv4(parseIpv4('224.0.0.1')!)).toBe(true);
    expect(isMulticastIpv4(parseIpv4('239.255.255.255')!)).toBe(true);
    expect(isMulticastIpv4(parseIpv4('240.0.0.1')!)).toBe(false);
    expect(isLoopbackIpv4(parseIpv4('127.1.2.3')!)).toBe(true);
    expect(isLoopbackIpv4(parseIpv4('128.0.0.1')!)).toBe(false);
    expect(isLinkLocalIpv4(parseIpv4('169.254.7.7')!)).toBe(true);
    expect(isPrivateIpv4(parseIpv4('172.31.0.1')!)).toBe(true);
    expect(isPrivateIpv4(parseIpv4('172.32.0.1')!)).toBe(false);
    expect(isPrivateIpv4(parseIpv4('192.168.0.1')!)).toBe(true);
    expect(isPrivateIpv4(parseIpv4('8.8.8.8')!)).toBe(false);
  });
});
