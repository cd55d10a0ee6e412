/**
 * NAT rewrites patch checksums incrementally (RFC 1624); these tests check
 * every rewrite against a full recomputation, and against the packet built
 * from scratch with the new values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getU16, setU16 } from '../../../../src/core/bytes.js';
import { manipIcmpErrorInner, manipOuterAddress, manipPacket } from '../../../../src/netfilter/nat/rewrite.js';
import { TcpFlags, verifyTcpChecksumV4 } from '../../../../src/l4/tcp/header.js';
import { verifyUdpChecksumV4 } from '../../../../src/l4/udp/header.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { checksumsHold, echoPacket, icmpErrorPacket, ip, quotedOf, tcpPacket, udpPacket } from './packets.js';

const address = fc.integer({ min: 1, max: 0xdfffffff });
const port = fc.integer({ min: 0, max: 0xffff });
const payload = fc.uint8Array({ maxLength: 200 });

describe('manipPacket: addresses and ports with incremental checksums', () => {
  it('SNAT of a UDP datagram equals the datagram built with the new source', () => {
    fc.assert(
      fc.property(address, port, address, port, payload, address, port, (s, sp, d, dp, data, ns, nsp) => {
        const packet = udpPacket(s, sp, d, dp, data);
        manipPacket(packet, 'source', ns, nsp);
        expect(checksumsHold(packet)).toBe(true);
        const expected = udpPacket(ns, nsp, d, dp, data);
        // A zero sum is sent as 0xffff either way (RFC 768); both forms verify, and the builders agree.
        expect(packet).toEqual(expected);
      }),
    );
  });

  it('DNAT of a TCP segment equals the segment built with the new destination', () => {
    fc.assert(
      fc.property(address, port, address, port, payload, address, port, fc.integer({ min: 0, max: 0xff }), (s, sp, d, dp, data, nd, ndp, flags) => {
        const packet = tcpPacket(s, sp, d, dp, flags, { seq: 77, ack: 99, payload: data });
        manipPacket(packet, 'destination', nd, ndp);
        expect(checksumsHold(packet)).toBe(true);
        const v = tcpPacket(s, sp, nd, ndp, flags, { seq: 77, ack: 99, payload: data });
        // The TCP checksum may differ only as +0 / -0 (0x0000 vs 0xffff); everything else is identical.
        const a = packet.slice();
        const b = v.slice();
        setU16(a, 36, 0);
        setU16(b, 36, 0);
        expect(a).toEqual(b);
      }),
    );
  });

  it('rewrites the ICMP echo identifier and keeps the ICMP checksum right', () => {
    fc.assert(
      fc.property(address, address, port, port, payload, address, (s, d, id, newId, data, ns) => {
        const packet = echoPacket(s, d, id, { data });
        manipPacket(packet, 'source', ns, newId);
        expect(checksumsHold(packet)).toBe(true);
        expect(packet).toEqual(echoPacket(ns, d, newId, { data }));
      }),
    );
  });

  it('leaves a zero UDP checksum ("none", RFC 768) at zero', () => {
    fc.assert(
      fc.property(address, port, address, port, address, port, (s, sp, d, dp, ns, nsp) => {
        const packet = udpPacket(s, sp, d, dp, undefined, { checksum: false });
        manipPacket(packet, 'source', ns, nsp);
        expect(getU16(packet, 26)).toBe(0);
        expect(checksumsHold(packet)).toBe(true);
      }),
    );
  });

  it('keeps a corrupted packet corrupted: NAT does not launder a bad transport checksum', () => {
    fc.assert(
      fc.property(address, port, address, port, address, port, fc.integer({ min: 1, max: 0xffff }), (s, sp, d, dp, ns, nsp, flip) => {
        const packet = tcpPacket(s, sp, d, dp, TcpFlags.ACK, { payload: new Uint8Array([1, 2, 3, 4]) });
        setU16(packet, 40, getU16(packet, 40) ^ flip); // damage the payload
        manipPacket(packet, 'source', ns, nsp);
        expect(verifyTcpChecksumV4(packet.subarray(20), ns, d)).toBe(false);
      }),
    );
  });

  it('a rewrite to the same values changes nothing', () => {
    const packet = udpPacket(ip('10.0.0.2'), 4000, ip('192.0.2.1'), 53);
    const before = packet.slice();
    manipPacket(packet, 'source', ip('10.0.0.2'), 4000);
    manipPacket(packet, 'destination', ip('192.0.2.1'), 53);
    expect(packet).toEqual(before);
  });
});

describe('ICMP errors: the quoted packet is translated too (RFC 5508 REQ-3)', () => {
  it('rewrites the quote of a UDP datagram; outer, inner and ICMP checksums all verify', () => {
    fc.assert(
      fc.property(address, port, address, port, address, address, port, payload, (s, sp, d, dp, router, ns, nsp, data) => {
        const original = udpPacket(s, sp, d, dp, data);
        const error = icmpErrorPacket(router, s, 3, 3, original);
        manipOuterAddress(error, 'destination', ns);
        manipIcmpErrorInner(error, 28, 'source', ns, nsp);
        expect(checksumsHold(error)).toBe(true);
        const inner = quotedOf(error);
        expect(inner.headerOk).toBe(true);
        expect(inner.view.source).toBe(ns);
        expect(getU16(inner.view.payload, 0)).toBe(nsp);
        // The whole datagram is quoted (it fits in 548 bytes), so its UDP checksum must verify too.
        expect(verifyUdpChecksumV4(inner.view.payload, ns, d)).toBe(true);
        // And it is the datagram built with the new source.
        expect(error.subarray(28)).toEqual(udpPacket(ns, nsp, d, dp, data));
      }),
    );
  });

  it('rewrites a quote cut after 8 transport bytes (RFC 792 minimum): no TCP checksum there to patch', () => {
    const original = tcpPacket(ip('192.168.1.5'), 40000, ip('198.51.100.7'), 80, TcpFlags.SYN);
    const error = icmpErrorPacket(ip('198.51.100.1'), ip('203.0.113.1'), 11, 0, original, 28);
    expect(error.length).toBe(20 + 8 + 28);
    manipIcmpErrorInner(error, 28, 'source', ip('10.0.0.2'), 1234);
    expect(checksumsHold(error)).toBe(true);
    const inner = quotedOf(error);
    expect(inner.headerOk).toBe(true);
    expect(inner.view.source).toBe(ip('10.0.0.2'));
    expect(getU16(inner.view.payload, 0)).toBe(1234);
  });

  it('patches the quoted TCP checksum when the quote holds it', () => {
    const original = tcpPacket(ip('192.168.1.5'), 40000, ip('198.51.100.7'), 80, TcpFlags.SYN);
    const error = icmpErrorPacket(ip('198.51.100.1'), ip('203.0.113.1'), 3, 3, original);
    manipIcmpErrorInner(error, 28, 'destination', ip('10.9.9.9'), 8080);
    const inner = quotedOf(error);
    expect(verifyTcpChecksumV4(inner.view.payload, ip('192.168.1.5'), ip('10.9.9.9'))).toBe(true);
    expect(verifyChecksum(error, 20, error.length - 20)).toBe(true);
  });

  it('rewrites the identifier of a quoted echo request', () => {
    const original = echoPacket(ip('203.0.113.1'), ip('198.51.100.7'), 777);
    const error = icmpErrorPacket(ip('198.51.100.1'), ip('203.0.113.1'), 11, 0, original);
    manipIcmpErrorInner(error, 28, 'source', ip('10.0.0.2'), 5);
    const inner = quotedOf(error);
    expect(getU16(inner.view.payload, 4)).toBe(5);
    expect(verifyChecksum(inner.view.payload, 0, inner.view.payload.length)).toBe(true);
    expect(checksumsHold(error)).toBe(true);
  });
});
