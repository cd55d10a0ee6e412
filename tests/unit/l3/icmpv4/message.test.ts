import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import {
  ICMPV4_ERROR_DATAGRAM_MAX,
  ICMPV4_ERROR_QUOTE_MAX,
  Icmpv4MessageView,
  Icmpv4ParameterProblemCode,
  Icmpv4RedirectCode,
  Icmpv4TimeExceededCode,
  Icmpv4Type,
  Icmpv4UnreachableCode,
  describeIcmpv4,
  describeIcmpv4Record,
  emitIcmpv4,
  emitIcmpv4Echo,
  emitIcmpv4Error,
  icmpv4Error,
  icmpv4ErrorQuote,
  icmpv4Length,
  isIcmpv4Error,
  parseIcmpv4,
  turnEchoRequestIntoReply,
  type Icmpv4Record,
} from '../../../../src/l3/icmpv4/message.js';
import { ICMP_FRAG_NEEDED, ICMP_PORT_UNREACHABLE, PING_ECHO_REPLY, PING_ECHO_REQUEST, UDP_TO_CLOSED_PORT } from '../captures.js';

/** The ICMP message inside a captured IPv4 packet (no options in these captures). */
const icmpOf = (hex: string): Uint8Array => fromHex(hex).subarray(20);

function wrapOk(bytes: Uint8Array): Icmpv4MessageView {
  const view = new Icmpv4MessageView();
  expect(view.wrap(bytes)).toBeUndefined();
  return view;
}

describe('type and code numbers (RFC 792, RFC 1191, RFC 1812)', () => {
  it('match the RFC registry', () => {
    expect(Icmpv4Type).toMatchObject({ EchoReply: 0, DestinationUnreachable: 3, Redirect: 5, EchoRequest: 8, TimeExceeded: 11, ParameterProblem: 12 });
    expect(Icmpv4UnreachableCode).toMatchObject({ net: 0, host: 1, protocol: 2, port: 3, fragNeeded: 4, adminProhibited: 13 });
    expect(Icmpv4TimeExceededCode).toEqual({ ttl: 0, reassembly: 1 });
    expect(Icmpv4RedirectCode.host).toBe(1);
    expect(Icmpv4ParameterProblemCode.pointer).toBe(0);
    expect(ICMPV4_ERROR_QUOTE_MAX).toBe(548);
  });

  it('tells errors from queries', () => {
    expect([3, 4, 5, 11, 12].every(isIcmpv4Error)).toBe(true);
    expect([0, 8, 9, 10, 13, 14, 42].some(isIcmpv4Error)).toBe(false);
  });
});

describe('echo, captured from Linux ping', () => {
  it('reads the request', () => {
    const v = wrapOk(icmpOf(PING_ECHO_REQUEST));
    expect(v.type).toBe(Icmpv4Type.EchoRequest); // 08
    expect(v.code).toBe(0); // 00
    expect(v.checksum).toBe(0xb73b);
    expect(v.identifier).toBe(0x1533); // chosen by ping, echoed back by the reply
    expect(v.sequence).toBe(1);
    expect(v.body.length).toBe(56); // 16-byte struct timeval (64-bit seconds, microseconds), then 0x10, 0x11, ...
    expect(v.body[16]).toBe(0x10);
    expect(v.isError).toBe(false);
    expect(v.describe()).toBe('ICMP echo request, id 5427, seq 1, length 64');
  });

  it('parses the reply into a record', () => {
    const parsed = parseIcmpv4(icmpOf(PING_ECHO_REPLY));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const r = parsed.value;
    expect(r.kind).toBe('echo');
    if (r.kind !== 'echo') return;
    expect(r.type).toBe(Icmpv4Type.EchoReply);
    expect([r.identifier, r.sequence, r.data.length]).toEqual([0x1533, 1, 56]);
    expect(toHex(r.data)).toBe(toHex(icmpOf(PING_ECHO_REQUEST).subarray(8)));
  });

  it('emits the captured reply byte for byte at a non-zero offset', () => {
    const expected = icmpOf(PING_ECHO_REPLY);
    const record: Icmpv4Record = { kind: 'echo', type: 0, identifier: 0x1533, sequence: 1, data: icmpOf(PING_ECHO_REQUEST).subarray(8) };
    expect(icmpv4Length(record)).toBe(64);
    const buf = new Uint8Array(80).fill(0xa5);
    expect(emitIcmpv4(record, buf, 5)).toBe(64);
    expect(toHex(buf.subarray(5, 69))).toBe(toHex(expected));
    expect(buf.subarray(0, 5).every((b) => b === 0xa5) && buf.subarray(69).every((b) => b === 0xa5)).toBe(true);
  });

  it('emitIcmpv4Echo writes the same bytes without a tagged record', () => {
    const buf = new Uint8Array(64);
    const data = wrapOk(icmpOf(PING_ECHO_REQUEST)).data;
    expect(emitIcmpv4Echo({ type: Icmpv4Type.EchoReply, identifier: 0x1533, sequence: 1, data }, buf, 0)).toBe(64);
    expect(toHex(buf)).toBe(toHex(icmpOf(PING_ECHO_REPLY)));
  });

  it('turns a request into the reply in place, as Linux answered', () => {
    const message = icmpOf(PING_ECHO_REQUEST).slice();
    turnEchoRequestIntoReply(message);
    expect(toHex(message)).toBe(toHex(icmpOf(PING_ECHO_REPLY))); // checksum 0xb73b → 0xbf3b
  });
});

describe('errors captured from Linux', () => {
  it('port unreachable quotes the whole UDP datagram', () => {
    const v = wrapOk(icmpOf(ICMP_PORT_UNREACHABLE));
    expect(v.type).toBe(Icmpv4Type.DestinationUnreachable); // 03
    expect(v.code).toBe(Icmpv4UnreachableCode.port); // 03
    expect(v.restOfHeader).toBe(0); // unused
    expect(toHex(v.body)).toBe(UDP_TO_CLOSED_PORT); // 40 bytes < 548: all of it
    expect(v.isError).toBe(true);
    expect(v.describe()).toBe('ICMP 10.77.1.1 udp port 33434 unreachable, length 48');
  });

  it('fragmentation needed carries the next-hop MTU and 548 quoted bytes (576 in all)', () => {
    const packet = fromHex(ICMP_FRAG_NEEDED);
    expect(packet.length).toBe(ICMPV4_ERROR_DATAGRAM_MAX);
    const parsed = parseIcmpv4(packet.subarray(20));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.value.kind !== 'error') throw new Error('not an error record');
    const r = parsed.value;
    expect(r.type).toBe(Icmpv4Type.DestinationUnreachable);
    expect(r.code).toBe(Icmpv4UnreachableCode.fragNeeded);
    expect(r.nextHopMtu).toBe(1000); // 0x03e8 (RFC 1191)
    expect(r.original.length).toBe(ICMPV4_ERROR_QUOTE_MAX);
    const inner = new Ipv4HeaderView();
    expect(inner.wrapQuoted(r.original)).toBeUndefined();
    expect(inner.totalLength).toBe(1228);
    expect(inner.dontFragment).toBe(true);
    expect(describeIcmpv4(packet.subarray(20))).toBe('ICMP 10.77.2.2 unreachable - need to frag (mtu 1000), length 556');
  });

  it('builds the same port unreachable from the datagram it answers', () => {
    const record = icmpv4Error(Icmpv4Type.DestinationUnreachable, Icmpv4UnreachableCode.port, fromHex(UDP_TO_CLOSED_PORT));
    const buf = new Uint8Array(60).fill(0xa5);
    expect(emitIcmpv4(record, buf, 3)).toBe(48);
    expect(toHex(buf.subarray(3, 51))).toBe(toHex(icmpOf(ICMP_PORT_UNREACHABLE)));
    expect(buf[2]).toBe(0xa5);
    expect(buf[51]).toBe(0xa5);
  });

  it('emitIcmpv4Error writes the same port unreachable, absent fields zero', () => {
    const buf = new Uint8Array(48);
    const original = icmpv4ErrorQuote(fromHex(UDP_TO_CLOSED_PORT));
    expect(emitIcmpv4Error({ type: Icmpv4Type.DestinationUnreachable, code: Icmpv4UnreachableCode.port, original }, buf, 0)).toBe(48);
    expect(toHex(buf)).toBe(toHex(icmpOf(ICMP_PORT_UNREACHABLE)));
  });

  it('builds the same frag-needed as Linux, cutting the quote at 548 bytes', () => {
    // Rebuild the 1228-byte original from the quoted part: the ping payload pattern continues.
    const quoted = fromHex(ICMP_FRAG_NEEDED).subarray(28);
    const original = new Uint8Array(1228);
    original.set(quoted);
    for (let i = quoted.length; i < original.length; i++) original[i] = (original[i - 256] ?? 0) & 0xff;
    const record = icmpv4Error(Icmpv4Type.DestinationUnreachable, Icmpv4UnreachableCode.fragNeeded, original, { nextHopMtu: 1000 });
    const buf = new Uint8Array(556);
    emitIcmpv4(record, buf, 0);
    expect(toHex(buf)).toBe(toHex(fromHex(ICMP_FRAG_NEEDED).subarray(20)));
  });
});

describe('the quote of an error (RFC 792, RFC 1812 §4.3.2.3)', () => {
  it('stops at the IPv4 Total Length (no Ethernet padding) and at 548 bytes', () => {
    const padded = new Uint8Array(46);
    padded.set(fromHex(UDP_TO_CLOSED_PORT));
    expect(icmpv4ErrorQuote(padded).length).toBe(40);
    expect(icmpv4ErrorQuote(new Uint8Array(1500).fill(0x45)).length).toBe(548);
    expect(icmpv4ErrorQuote(new Uint8Array(3)).length).toBe(3);
    expect(icmpv4ErrorQuote(fromHex(UDP_TO_CLOSED_PORT), 28).length).toBe(28); // RFC 792's minimum: header + 64 bits
  });
});

describe('other error types', () => {
  const original = fromHex(UDP_TO_CLOSED_PORT);

  it.each([
    [icmpv4Error(Icmpv4Type.TimeExceeded, Icmpv4TimeExceededCode.ttl, original), '0b00', '00000000', 'ICMP time exceeded in-transit (10.77.1.1), length 48'],
    [icmpv4Error(Icmpv4Type.TimeExceeded, Icmpv4TimeExceededCode.reassembly, original), '0b01', '00000000', 'ICMP time exceeded in-reassembly (10.77.1.1), length 48'],
    [icmpv4Error(Icmpv4Type.ParameterProblem, 0, original, { pointer: 9 }), '0c00', '09000000', 'ICMP parameter problem - octet 9, length 48'],
    [icmpv4Error(Icmpv4Type.Redirect, Icmpv4RedirectCode.host, original, { gateway: parseIpv4('10.77.1.254')! }), '0501', '0a4d01fe', 'ICMP redirect 10.77.1.1 to 10.77.1.254, length 48'],
    [icmpv4Error(Icmpv4Type.DestinationUnreachable, Icmpv4UnreachableCode.adminProhibited, original), '030d', '00000000', 'ICMP 10.77.1.1 unreachable - admin prohibited filter, length 48'],
    [icmpv4Error(Icmpv4Type.DestinationUnreachable, Icmpv4UnreachableCode.protocol, original), '0302', '00000000', 'ICMP 10.77.1.1 protocol 17 unreachable, length 48'],
  ])('%#: emits, parses back and describes', (record, typeCode, rest, text) => {
    const buf = new Uint8Array(icmpv4Length(record));
    emitIcmpv4(record, buf, 0);
    expect(toHex(buf.subarray(0, 2))).toBe(typeCode);
    expect(toHex(buf.subarray(4, 8))).toBe(rest);
    expect(verifyChecksum(buf, 0, buf.length)).toBe(true);
    expect(parseIcmpv4(buf)).toEqual({ ok: true, value: record });
    expect(describeIcmpv4Record(record)).toBe(text);
  });

  it('keeps other types as raw fields', () => {
    const record: Icmpv4Record = { kind: 'other', type: Icmpv4Type.Timestamp, code: 0, restOfHeader: 0x12340001, body: new Uint8Array(12) };
    const buf = new Uint8Array(20);
    emitIcmpv4(record, buf, 0);
    expect(parseIcmpv4(buf)).toEqual({ ok: true, value: record });
    expect(describeIcmpv4(buf)).toBe('ICMP time stamp request, code 0, length 20');
  });
});

describe('errors while parsing (every reason once)', () => {
  it('truncated: fewer than 8 bytes', () => {
    expect(parseIcmpv4(new Uint8Array(7))).toEqual({ ok: false, error: expect.objectContaining({ reason: 'truncated', offset: 0 }) });
    expect(describeIcmpv4(new Uint8Array(7))).toBe('ICMP (truncated)');
  });

  it('badChecksum: any byte changed', () => {
    const message = icmpOf(PING_ECHO_REQUEST).slice();
    message[40]! ^= 0x80;
    expect(new Icmpv4MessageView().wrap(message)).toMatchObject({ reason: 'badChecksum', offset: 2 });
    expect(new Icmpv4MessageView().wrap(message, false)).toBeUndefined();
  });
});

describe('properties', () => {
  const echoArb = fc.record({
    kind: fc.constant('echo' as const),
    type: fc.constantFrom(0 as const, 8 as const),
    identifier: fc.integer({ min: 0, max: 0xffff }),
    sequence: fc.integer({ min: 0, max: 0xffff }),
    data: fc.uint8Array({ maxLength: 100 }),
  });
  const errorArb = fc
    .record({
      type: fc.constantFrom(3 as const, 4 as const, 5 as const, 11 as const, 12 as const),
      code: fc.integer({ min: 0, max: 255 }),
      value: fc.integer({ min: 0, max: 0xffff }),
      gateway: fc.integer({ min: 0, max: 0xffffffff }),
      original: fc.uint8Array({ maxLength: 100 }),
    })
    .map(({ type, code, value, gateway, original }) => ({
      kind: 'error' as const,
      type,
      code,
      nextHopMtu: type === 3 && code === 4 ? value : 0,
      pointer: type === 12 ? value & 0xff : 0,
      gateway: type === 5 ? gateway : 0,
      original,
    }));

  it('parse ∘ emit is the identity', () => {
    fc.assert(
      fc.property(fc.oneof(echoArb, errorArb), fc.nat(8), (record, offset) => {
        const buf = new Uint8Array(offset + icmpv4Length(record)).fill(0xa5);
        emitIcmpv4(record, buf, offset);
        expect(parseIcmpv4(buf.subarray(offset))).toEqual({ ok: true, value: record });
      }),
    );
  });

  it('random and mutated bytes never throw', () => {
    const base = fromHex(ICMP_FRAG_NEEDED).subarray(20);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.array(fc.tuple(fc.nat(555), fc.integer({ min: 0, max: 255 }))), (bytes, edits) => {
        parseIcmpv4(bytes, false);
        describeIcmpv4(bytes);
        const mutated = base.slice(0, 8 + (bytes.length % 60));
        for (const [at, value] of edits) if (at < mutated.length) mutated[at] = value;
        parseIcmpv4(mutated, false);
        describeIcmpv4(mutated);
        const v = new Icmpv4MessageView();
        if (v.wrap(mutated, false) === undefined) {
          void [v.type, v.code, v.checksum, v.identifier, v.sequence, v.nextHopMtu, v.pointer, v.gateway, v.body, v.describe()];
        }
      }),
      { numRuns: 2000 },
    );
  });
});
