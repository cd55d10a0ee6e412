/**
 * tapnet's own IPv6 address code against well-known parsers: Node's
 * `net.isIPv6` decides what is valid text (RFC 4291 §2.2), ipaddr.js what
 * the 16 bytes are and what RFC 5952 prints. tapnet does not depend on
 * either at run time (the parser sits on hot control paths and teaches
 * RFC 5952); these tests are what keeps it honest.
 */
import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { formatIpv6, formatIpv6Cidr, inIpv6Cidr, parseIpv6, parseIpv6Cidr, prefixOf } from '../../../../src/l3/ipv6/address.js';

/** Eight 16-bit groups, zeros likely (so zero runs of every length and position appear). */
const wordsArb = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });

const bytesOf = (words: number[]): Uint8Array => Uint8Array.from(words.flatMap((w) => [w >> 8, w & 0xff]));

/**
 * The bytes ipaddr.js reads, with an embedded dotted quad first rewritten as
 * the two hex groups it stands for (RFC 4291 §2.2 form 3). ipaddr.js 2.x
 * reads "::a.b.c.d" as ::ffff:a.b.c.d (IPv4-mapped), where RFC 4291 means
 * 0:0:0:0:0:0:a.b.c.d; the rewrite keeps that quirk out of the oracle.
 */
function oracleBytes(text: string): Uint8Array {
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  return Uint8Array.from(ipaddr.IPv6.parse(hex).toByteArray());
}

/** One textual form of `words`: any run of zero groups compressed (or none), padding, case, an embedded IPv4 tail. */
const textArb = wordsArb.chain((words) =>
  fc
    .record({
      compress: fc.nat(8),
      pad: fc.array(fc.nat(3), { minLength: 8, maxLength: 8 }),
      upper: fc.boolean(),
      dotted: fc.boolean(),
    })
    .map(({ compress, pad, upper, dotted }) => {
      const groups = words.map((w, i) => w.toString(16).padStart(Math.min(4, w.toString(16).length + pad[i]!), '0'));
      if (dotted) groups.splice(6, 2, `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`);
      // Compress the zero run starting at `compress` (if there is one), up to where it ends.
      let text = groups.join(':');
      const last = dotted ? 6 : 8;
      if (compress < last && words[compress] === 0) {
        let end = compress;
        while (end < last && words[end] === 0) end++;
        text = `${groups.slice(0, compress).join(':')}::${groups.slice(end).join(':')}`;
      }
      return upper ? text.toUpperCase() : text;
    }),
);

/** Valid texts broken in small ways, and strings from the alphabet of addresses. */
const mangledArb = fc.oneof(
  fc.tuple(textArb, fc.nat(45), fc.constantFrom(':', '::', '.', '0', 'f', 'g', '00000', '1.2.3.4', ':::', ' ', ''), fc.nat(2)).map(([t, at, s, cut]) => t.slice(0, at) + s + t.slice(at + cut)),
  fc.tuple(fc.constantFrom('', '1:', '::', '1.2.3.4:'), textArb, fc.constantFrom('', '::', ':', ':1', '::1')).map(([before, t, after]) => before + t + after),
  // A few groups and a dotted quad, with "::" before, after or nowhere.
  fc
    .tuple(fc.array(fc.integer({ min: 0, max: 0xffff }).map((w) => w.toString(16)), { maxLength: 7 }), fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }), fc.constantFrom('', '::', ':'), fc.constantFrom('', '::'))
    .map(([groups, quad, before, after]) => before + [...groups, quad.join('.')].join(':') + after),
  fc.stringMatching(/^[0-9a-fA-F:.]{0,46}$/),
);

describe('IPv6 text against net.isIPv6 and ipaddr.js', () => {
  it('parses every valid form of an address to the same 16 bytes', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        expect(isIPv6(text)).toBe(true);
        expect(parseIpv6(text), text).toEqual(oracleBytes(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts exactly what Node accepts (zone indexes aside), with ipaddr.js\'s bytes', () => {
    fc.assert(
      fc.property(fc.oneof(textArb, mangledArb), (text) => {
        const ours = parseIpv6(text);
        expect(ours !== undefined, text).toBe(isIPv6(text));
        if (ours) expect(ours, text).toEqual(oracleBytes(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses an embedded IPv4 address anywhere but at the very end', () => {
    for (const text of ['1.2.3.4::', '1:2:1.2.3.4::', '1.2.3.4::1', '::1.2.3.4:1']) {
      expect([text, isIPv6(text), parseIpv6(text)]).toEqual([text, false, undefined]);
    }
  });

  it('refuses zone indexes, which Node accepts: an address here names no interface', () => {
    expect(isIPv6('fe80::1%eth0')).toBe(true);
    expect(parseIpv6('fe80::1%eth0')).toBeUndefined();
  });

  it('formats as RFC 5952 (ipaddr.js toRFC5952String; mixed notation for IPv4-mapped, §5) and round-trips', () => {
    fc.assert(
      fc.property(wordsArb, fc.boolean(), (words, mapped) => {
        if (mapped) words.splice(0, 6, 0, 0, 0, 0, 0, 0xffff);
        const bytes = bytesOf(words);
        const text = formatIpv6(bytes);
        const oracle = ipaddr.fromByteArray([...bytes]) as ipaddr.IPv6;
        const expected = oracle.isIPv4MappedAddress() ? `::ffff:${oracle.toIPv4Address().toString()}` : oracle.toRFC5952String();
        expect(text).toBe(expected);
        expect(parseIpv6(text)).toEqual(bytes);
      }),
      { numRuns: 5000 },
    );
  });

  it('CIDR: prefixes and membership as ipaddr.js computes them', () => {
    fc.assert(
      fc.property(wordsArb, wordsArb, fc.integer({ min: 0, max: 128 }), (a, b, prefixLength) => {
        const address = bytesOf(a);
        const other = bytesOf(b);
        const text = `${formatIpv6(address)}/${prefixLength}`;
        const cidr = parseIpv6Cidr(text)!;
        expect(formatIpv6Cidr(cidr)).toBe(text);
        expect([...prefixOf(address, prefixLength)]).toEqual(ipaddr.IPv6.networkAddressFromCIDR(text).toByteArray());
        const oracle = ipaddr.IPv6.parse(formatIpv6(other)).match(ipaddr.IPv6.parse(formatIpv6(address)), prefixLength);
        expect(inIpv6Cidr(other, cidr)).toBe(oracle);
        expect(inIpv6Cidr(address, cidr)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
