/**
 * ICMPv6 echo and error messages captured from Linux (../ipv6/captures.ts):
 * parse with the pseudo-header checksum, emit the same bytes, describe like tcpdump.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import {
  ICMPV6_ERROR_QUOTE_MAX,
  Icmpv6MessageView,
  describeIcmpv6,
  emitIcmpv6,
  icmpv6Error,
  parseIcmpv6,
  verifyIcmpv6Checksum,
} from '../../../../src/l3/icmpv6/message.js';
import { ECHO_REPLY, ECHO_REQUEST, PACKET_TOO_BIG, PARAMETER_PROBLEM, PORT_UNREACHABLE, TIME_EXCEEDED } from '../ipv6/captures.js';

const A = parseIpv6('fd77::2')!;
const R = parseIpv6('fd77::1')!;
const icmp = (hex: string): Uint8Array => fromHex(hex).subarray(40);

describe('ICMPv6 echo (RFC 4443 §4)', () => {
  it('parses the kernel\'s echo request and verifies its checksum over the pseudo-header', () => {
    const r = parseIcmpv6(icmp(ECHO_REQUEST), { source: A, destination: R });
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.kind !== 'echo') return;
    expect(r.value.type).toBe(128);
    expect(r.value.identifier).toBe(0x1768);
    expect(r.value.sequence).toBe(1);
    expect(r.value.data.length).toBe(56);
    // The same bytes with the addresses swapped do not verify: the pseudo-header counts.
    expect(parseIcmpv6(icmp(ECHO_REQUEST), { source: R, destination: parseIpv6('fd77::3')! }).ok).toBe(false);
  });

  it('emits the kernel\'s reply byte for byte (checksum included) at an offset', () => {
    const request = parseIcmpv6(icmp(ECHO_REQUEST));
    if (!request.ok || request.value.kind !== 'echo') throw new Error('parse');
    const buf = new Uint8Array(80).fill(0xa5);
    const n = emitIcmpv6({ ...request.value, type: 129 }, buf, 3, R, A);
    expect(toHex(buf.subarray(3, 3 + n))).toBe(toHex(icmp(ECHO_REPLY)));
    expect(buf[2]).toBe(0xa5);
    expect(buf[3 + n]).toBe(0xa5);
    expect(describeIcmpv6(icmp(ECHO_REPLY))).toBe('ICMP6, echo reply, id 5992, seq 1, length 64');
  });

  it('errors: too short, bad checksum', () => {
    const v = new Icmpv6MessageView();
    expect(v.wrap(new Uint8Array(3))?.reason).toBe('truncated');
    expect(v.wrap(icmp(ECHO_REQUEST).subarray(0, 6))?.reason).toBe('truncated');
    const bad = icmp(ECHO_REQUEST).slice();
    bad[10] = bad[10]! ^ 1;
    const r = parseIcmpv6(bad, { source: A, destination: R });
    expect(!r.ok && r.error.reason).toBe('badChecksum');
  });
});

describe('ICMPv6 errors (RFC 4443 §3) from a Linux router', () => {
  const errors: Array<[string, string, number, number, string]> = [
    ['time exceeded', TIME_EXCEEDED, 3, 0, 'ICMP6, time exceeded in-transit for fd78::2, length 112'],
    ['packet too big', PACKET_TOO_BIG, 2, 0, 'ICMP6, packet too big, mtu 1280, length 1240'],
    ['port unreachable', PORT_UNREACHABLE, 1, 4, 'ICMP6, destination unreachable, unreachable port, fd77::1 udp port 33434, length 68'],
    ['parameter problem', PARAMETER_PROBLEM, 4, 1, 'ICMP6, parameter problem, next header - octet 6, length 56'],
  ];
  for (const [name, hex, type, code, text] of errors) {
    it(`${name}: parses, re-emits the same bytes, describes like tcpdump`, () => {
      const msg = icmp(hex);
      expect(verifyIcmpv6Checksum(msg, R, A)).toBe(true);
      const r = parseIcmpv6(msg, { source: R, destination: A });
      if (!r.ok || r.value.kind !== 'error') throw new Error('parse');
      expect([r.value.type, r.value.code]).toEqual([type, code]);
      const buf = new Uint8Array(msg.length);
      emitIcmpv6(r.value, buf, 0, R, A);
      expect(toHex(buf)).toBe(toHex(msg));
      expect(describeIcmpv6(msg)).toBe(text);
    });
  }

  it('packet too big carries the MTU and quotes 1232 bytes: the most that fits in 1280', () => {
    const r = parseIcmpv6(icmp(PACKET_TOO_BIG));
    expect(r.ok && r.value.kind === 'error' && [r.value.mtu, r.value.original.length]).toEqual([1280, ICMPV6_ERROR_QUOTE_MAX]);
    const big = new Uint8Array(3000);
    expect(icmpv6Error(2, 0, big, { mtu: 1280 }).original.length).toBe(1232);
  });

  it('parameter problem points at the Next Header octet of the quoted packet', () => {
    const r = parseIcmpv6(icmp(PARAMETER_PROBLEM));
    expect(r.ok && r.value.kind === 'error' && r.value.pointer).toBe(6);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parseIcmpv6(b, { source: A, destination: R });
        describeIcmpv6(b);
      }),
    );
  });
});
