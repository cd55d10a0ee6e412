import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/core/bytes.js';
import {
  UDP_HEADER_LENGTH,
  UdpHeaderView,
  describeUdp,
  emitUdp,
  finishUdpChecksumV4,
  finishUdpChecksumV6,
  parseUdp,
  udpLength,
  verifyUdpChecksumV4,
  verifyUdpChecksumV6,
} from '../../../src/l4/udp/header.js';

/** Hex with `// comments` (fromHex ignores whitespace only). */
const wire = (text: string): Uint8Array => fromHex(text.replace(/\/\/.*$/gm, ''));

// Captured with `tcpdump -i tnudpvb -w` on a veth pair between two private
// network namespaces (checksum offload off, so the kernel filled in real
// checksums; tcpdump -vv said "udp sum ok"): `dig -p 53533 @192.0.2.53
// www.example.test A +noedns +norec` against dnsmasq 2.90.
const V4_SOURCE = 0xc0000201; // 192.0.2.1 (dig)
const V4_DESTINATION = 0xc0000235; // 192.0.2.53 (dnsmasq)
const V4_QUERY = wire(`
  e0c7        // source port 57543
  d11d        // destination port 53533
  002a        // length 42 (8 + 34)
  3f05        // checksum
  d7e2 0020 0001 0000 0000 0000 0377 7777 0765 7861 6d70 6c65 // payload: the DNS query
  0474 6573 7400 0001 0001
`);
const V4_QUERY_PAYLOAD = V4_QUERY.subarray(8);

// The same query over IPv6: `dig -p 53533 @2001:db8::53 host.example.test AAAA +noedns`.
const V6_SOURCE = fromHex('20010db8000000000000000000000001'); // 2001:db8::1
const V6_DESTINATION = fromHex('20010db8000000000000000000000053'); // 2001:db8::53
const V6_QUERY = wire(`
  c5b6        // source port 50614
  d11d        // destination port 53533
  002b        // length 43 (odd: the checksum pads the last byte with zero)
  b3c1        // checksum
  d007 0020 0001 0000 0000 0000 0468 6f73 7407 6578 616d 706c // payload: the DNS query
  6504 7465 7374 0000 1c00 01
`);
// dnsmasq's answer to it, 2001:db8::53 → 2001:db8::1.
const V6_ANSWER = fromHex(`
  d11d c5b6 0047 1c3a d007 8480 0001 0001 0000 0000 0468 6f73 7407 6578 616d 706c
  6504 7465 7374 0000 1c00 01c0 0c00 1c00 0100 0000 0000 1020 010d b800 0000 0000
  0000 0000 0000 20
`);

describe('UDP header (RFC 768) on captured bytes', () => {
  it('reads every field of a captured IPv4 datagram', () => {
    const udp = new UdpHeaderView();
    expect(V4_QUERY.length).toBe(42);
    expect(udp.wrap(V4_QUERY)).toBeUndefined();
    expect(udp.sourcePort).toBe(57543);
    expect(udp.destinationPort).toBe(53533);
    expect(udp.length).toBe(42);
    expect(udp.checksum).toBe(0x3f05);
    expect(toHex(udp.payload)).toBe(toHex(V4_QUERY_PAYLOAD));
    expect(udp.describe()).toBe('UDP 57543 > 53533, length 34');
  });

  it('verifies the kernel-computed checksums (IPv4 and IPv6, odd length)', () => {
    expect(verifyUdpChecksumV4(V4_QUERY, V4_SOURCE, V4_DESTINATION)).toBe(true);
    expect(verifyUdpChecksumV6(V6_QUERY, V6_SOURCE, V6_DESTINATION)).toBe(true);
    expect(verifyUdpChecksumV6(V6_ANSWER, V6_DESTINATION, V6_SOURCE)).toBe(true);
    const udp = new UdpHeaderView();
    expect(udp.wrap(V6_QUERY)).toBeUndefined();
    expect(udp.verifyChecksumV6(V6_SOURCE, V6_DESTINATION)).toBe(true);
  });

  it('rejects a flipped data bit and a wrong address', () => {
    const corrupted = V4_QUERY.slice();
    corrupted[20]! ^= 0x01;
    expect(verifyUdpChecksumV4(corrupted, V4_SOURCE, V4_DESTINATION)).toBe(false);
    expect(verifyUdpChecksumV4(V4_QUERY, V4_SOURCE + 1, V4_DESTINATION)).toBe(false);
    const v6 = V6_QUERY.slice();
    v6[v6.length - 1]! ^= 0x80;
    expect(verifyUdpChecksumV6(v6, V6_SOURCE, V6_DESTINATION)).toBe(false);
  });

  it('zero checksum: "no checksum" over IPv4 (RFC 768), invalid over IPv6 (RFC 8200 §8.1)', () => {
    const v4 = V4_QUERY.slice();
    v4[6] = 0;
    v4[7] = 0;
    v4[20]! ^= 0xff; // even with corrupted data: there is nothing to check
    expect(verifyUdpChecksumV4(v4, V4_SOURCE, V4_DESTINATION)).toBe(true);
    const v6 = V6_QUERY.slice();
    v6[6] = 0;
    v6[7] = 0;
    expect(verifyUdpChecksumV6(v6, V6_SOURCE, V6_DESTINATION)).toBe(false);
  });

  it('parseUdp gives the record', () => {
    const r = parseUdp(V4_QUERY);
    expect(r.ok && r.value).toMatchObject({ sourcePort: 57543, destinationPort: 53533, length: 42, checksum: 0x3f05 });
  });
});

describe('UDP length checks', () => {
  const udp = new UdpHeaderView();

  it('truncated: fewer than 8 bytes', () => {
    expect(udp.wrap(V4_QUERY.subarray(0, 7))).toMatchObject({ reason: 'truncated', offset: 0 });
    expect(parseUdp(new Uint8Array(0))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
  });

  it('badLength: length field below the header size', () => {
    const b = V4_QUERY.slice();
    b[4] = 0;
    b[5] = 7;
    expect(udp.wrap(b)).toMatchObject({ reason: 'badLength', offset: 4 });
    b[5] = 0; // 0: an RFC 2675 jumbogram, not supported
    expect(udp.wrap(b)).toMatchObject({ reason: 'badLength' });
    expect(verifyUdpChecksumV4(b, V4_SOURCE, V4_DESTINATION)).toBe(false);
  });

  it('truncated: length field larger than the bytes received', () => {
    expect(udp.wrap(V4_QUERY.subarray(0, 41))).toMatchObject({ reason: 'truncated', offset: 4 });
    expect(verifyUdpChecksumV4(V4_QUERY.subarray(0, 41), V4_SOURCE, V4_DESTINATION)).toBe(false);
  });

  it('bytes after the length field are not payload (and not summed)', () => {
    const padded = new Uint8Array(V4_QUERY.length + 6).fill(0xee);
    padded.set(V4_QUERY);
    expect(udp.wrap(padded)).toBeUndefined();
    expect(udp.payload.length).toBe(34);
    expect(udp.bytes.length).toBe(42);
    expect(verifyUdpChecksumV4(padded, V4_SOURCE, V4_DESTINATION)).toBe(true);
  });

  it('a failed wrap leaves the view on its previous datagram', () => {
    const view = new UdpHeaderView();
    expect(view.wrap(V4_QUERY)).toBeUndefined();
    expect(view.wrap(new Uint8Array(3))).toBeDefined();
    expect(view.sourcePort).toBe(57543);
  });
});

describe('emitUdp + finishUdpChecksum', () => {
  it('rebuilds the captured datagram at a non-zero offset of a 0xa5-filled buffer', () => {
    const offset = 5;
    const buf = new Uint8Array(64).fill(0xa5);
    const record = { sourcePort: 57543, destinationPort: 53533, payloadLength: V4_QUERY_PAYLOAD.length };
    expect(emitUdp(record, buf, offset)).toBe(UDP_HEADER_LENGTH);
    buf.set(V4_QUERY_PAYLOAD, offset + UDP_HEADER_LENGTH);
    const length = udpLength(record);
    expect(finishUdpChecksumV4(buf, offset, length, V4_SOURCE, V4_DESTINATION)).toBe(0x3f05);
    expect(toHex(buf.subarray(offset, offset + length))).toBe(toHex(V4_QUERY));
    expect(buf.subarray(0, offset).every((b) => b === 0xa5)).toBe(true);
    expect(buf.subarray(offset + length).every((b) => b === 0xa5)).toBe(true);
  });

  it('rebuilds the captured IPv6 datagram (odd length)', () => {
    const buf = new Uint8Array(80).fill(0xa5);
    emitUdp({ sourcePort: 50614, destinationPort: 53533, payloadLength: V6_QUERY.length - 8 }, buf, 3);
    buf.set(V6_QUERY.subarray(8), 11);
    expect(finishUdpChecksumV6(buf, 3, V6_QUERY.length, V6_SOURCE, V6_DESTINATION)).toBe(0xb3c1);
    expect(toHex(buf.subarray(3, 3 + V6_QUERY.length))).toBe(toHex(V6_QUERY));
    expect(buf[3 + V6_QUERY.length]).toBe(0xa5);
  });

  it('a computed checksum of 0 is sent as 0xffff (RFC 768) and still verifies', () => {
    // Payload 0x6feb makes the one's-complement sum 0xffff for these addresses and ports (worked out by hand).
    const buf = new Uint8Array(10);
    emitUdp({ sourcePort: 1000, destinationPort: 2000, payloadLength: 2 }, buf, 0);
    buf.set([0x6f, 0xeb], 8);
    expect(finishUdpChecksumV4(buf, 0, 10, V4_SOURCE, V4_DESTINATION)).toBe(0xffff);
    expect(toHex(buf.subarray(6, 8))).toBe('ffff');
    expect(verifyUdpChecksumV4(buf, V4_SOURCE, V4_DESTINATION)).toBe(true);
  });

  it('IPv6: a datagram whose checksum is 0xffff (computed 0) verifies, the same one with 0 does not', () => {
    // Payload 0x985c makes the sum 0xffff over the IPv6 pseudo-header (worked out by hand). In one's
    // complement 0 and 0xffff are both zero, so only the explicit RFC 8200 §8.1 rule rejects the 0.
    const buf = new Uint8Array(10);
    emitUdp({ sourcePort: 1000, destinationPort: 2000, payloadLength: 2 }, buf, 0);
    buf.set([0x98, 0x5c], 8);
    expect(finishUdpChecksumV6(buf, 0, 10, V6_SOURCE, V6_DESTINATION)).toBe(0xffff);
    expect(verifyUdpChecksumV6(buf, V6_SOURCE, V6_DESTINATION)).toBe(true);
    buf[6] = 0;
    buf[7] = 0;
    expect(verifyUdpChecksumV6(buf, V6_SOURCE, V6_DESTINATION)).toBe(false);
    expect(verifyUdpChecksumV4(buf, 1, 2)).toBe(true); // over IPv4 the same 0 means "no checksum"
  });

  it('refuses a payload the 16-bit length cannot describe', () => {
    expect(() => emitUdp({ sourcePort: 1, destinationPort: 2, payloadLength: 65528 }, new Uint8Array(8), 0)).toThrow(RangeError);
  });

  it('describeUdp counts data octets like tcpdump', () => {
    expect(describeUdp({ sourcePort: 1, destinationPort: 2, length: 8 })).toBe('UDP 1 > 2, length 0');
  });
});

describe('UDP properties', () => {
  it('wrap and parse never throw on random bytes, and agree', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const error = new UdpHeaderView().wrap(bytes);
        const parsed = parseUdp(bytes);
        expect(parsed.ok).toBe(error === undefined);
        verifyUdpChecksumV4(bytes, 1, 2);
        verifyUdpChecksumV6(bytes, V6_SOURCE, V6_DESTINATION);
      }),
    );
  });

  it('emit → finish → parse is identity, and the checksum verifies (v4 and v6)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 7 }),
        (sourcePort, destinationPort, payload, src, dst, src6, offset) => {
          const record = { sourcePort, destinationPort, payloadLength: payload.length };
          const length = udpLength(record);
          const buf = new Uint8Array(offset + length).fill(0xa5);
          emitUdp(record, buf, offset);
          buf.set(payload, offset + 8);
          finishUdpChecksumV4(buf, offset, length, src, dst);
          const datagram = buf.subarray(offset);
          expect(verifyUdpChecksumV4(datagram, src, dst)).toBe(true);
          const parsed = parseUdp(datagram);
          expect(parsed.ok && { ...parsed.value, checksum: 0 }).toEqual({ sourcePort, destinationPort, length, checksum: 0, payload });
          finishUdpChecksumV6(buf, offset, length, src6, V6_DESTINATION);
          expect(verifyUdpChecksumV6(datagram, src6, V6_DESTINATION)).toBe(true);
        },
      ),
    );
  });
});
