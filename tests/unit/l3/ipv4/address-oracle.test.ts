/**
 * tapnet's own IPv4 address code against well-known parsers: Node's
 * `net.isIPv4` decides what a strict dotted quad is, ipaddr.js what it
 * means and what a prefix covers.
 */
import { isIPv4 } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { broadcastOf, formatIpv4, inCidr, networkOf, parseIpv4, parseIpv4Cidr } from '../../../../src/l3/ipv4/address.js';

const addressArb = fc.oneof(fc.nat({ max: 0xffffffff }), fc.constantFrom(0, 0xffffffff, 0x7f000001, 0xe0000001));
const valueOf = (a: ipaddr.IPv4): number => a.toByteArray().reduce((v, o) => v * 256 + o, 0);

/** Dotted quads with leading zeros, too-large octets, missing or extra parts, stray characters. */
const textArb = fc.oneof(
  addressArb.map(formatIpv4),
  fc.array(fc.oneof(fc.nat(300).map(String), fc.constantFrom('00', '01', '010', '0x1', '', ' 1', '1a', '256', '999')), { minLength: 1, maxLength: 6 }).map((p) => p.join('.')),
  fc.stringMatching(/^[0-9.]{0,16}$/),
);

describe('IPv4 text against net.isIPv4 and ipaddr.js', () => {
  it('accepts exactly the strict dotted quads Node accepts, with ipaddr.js\'s value', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const ours = parseIpv4(text);
        expect(ours !== undefined, text).toBe(isIPv4(text));
        if (ours !== undefined) expect(ours).toBe(valueOf(ipaddr.IPv4.parse(text)));
      }),
      { numRuns: 20_000 },
    );
  });

  it('formats as ipaddr.js does and round-trips', () => {
    fc.assert(
      fc.property(addressArb, (a) => {
        const text = formatIpv4(a);
        expect(text).toBe(ipaddr.fromByteArray([a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]).toString());
        expect(parseIpv4(text)).toBe(a);
      }),
    );
  });

  it('CIDR: network, broadcast and membership as ipaddr.js computes them', () => {
    fc.assert(
      fc.property(addressArb, addressArb, fc.integer({ min: 0, max: 32 }), (a, b, prefixLength) => {
        const text = `${formatIpv4(a)}/${prefixLength}`;
        const cidr = parseIpv4Cidr(text)!;
        expect(networkOf(cidr)).toBe(valueOf(ipaddr.IPv4.networkAddressFromCIDR(text)));
        expect(broadcastOf(cidr)).toBe(valueOf(ipaddr.IPv4.broadcastAddressFromCIDR(text)));
        expect(inCidr(b, cidr)).toBe(ipaddr.IPv4.parse(formatIpv4(b)).match(ipaddr.IPv4.parse(formatIpv4(a)), prefixLength));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses prefix lengths outside 0..32 and written with leading zeros', () => {
    for (const text of ['10.0.0.1/33', '10.0.0.1/024', '10.0.0.1/', '10.0.0.1', '10.0.0.1/-1']) expect(parseIpv4Cidr(text), text).toBeUndefined();
  });
});
