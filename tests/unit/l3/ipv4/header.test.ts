import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { internetChecksum, verifyChecksum } from '../../../../src/core/checksum.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import {
  IPV4_HEADER_LENGTH,
  Ipv4HeaderView,
  Ipv4OptionType,
  describeIpv4,
  describeIpv4Record,
  emitIpv4Header,
  finishIpv4Header,
  forEachIpv4Option,
  ipv4HeaderLength,
  ipv4OptionCopied,
  ipv4Record,
  parseIpv4Header,
  type Ipv4Record,
} from '../../../../src/l3/ipv4/header.js';
import { ICMP_FRAG_NEEDED, PING_ECHO_REQUEST, PING_FRAGMENT_0, PING_FRAGMENT_1, UDP_TO_CLOSED_PORT } from '../captures.js';

const ip = (text: string): number => parseIpv4(text)!;

function wrapOk(bytes: Uint8Array, verify = true): Ipv4HeaderView {
  const view = new Ipv4HeaderView();
  expect(view.wrap(bytes, verify)).toBeUndefined();
  return view;
}

describe('Ipv4HeaderView on bytes captured from Linux', () => {
  it('reads every field of a ping echo request', () => {
    const packet = fromHex(PING_ECHO_REQUEST);
    const v = wrapOk(packet);
    expect(v.version).toBe(4); // 0x45: version 4 ...
    expect(v.headerLength).toBe(20); // ... IHL 5
    expect(v.dscp).toBe(0); // 0x00
    expect(v.ecn).toBe(0);
    expect(v.totalLength).toBe(84); // 0x0054: 20 + 8 ICMP + 56 data
    expect(v.identification).toBe(0xe520);
    expect(v.dontFragment).toBe(true); // 0x4000: Linux sets DF (path MTU discovery)
    expect(v.moreFragments).toBe(false);
    expect(v.fragmentOffset).toBe(0);
    expect(v.isFragment).toBe(false);
    expect(v.reservedFlag).toBe(false);
    expect(v.ttl).toBe(64); // 0x40
    expect(v.protocol).toBe(1); // ICMP
    expect(v.headerChecksum).toBe(0x3eec);
    expect(v.source).toBe(ip('10.77.1.2')); // 0a4d0102
    expect(v.destination).toBe(ip('10.77.1.1')); // 0a4d0101
    expect(v.options.length).toBe(0);
    expect(v.payload.length).toBe(64);
    expect(v.payload[0]).toBe(8); // ICMP echo request
    expect(v.describe()).toBe('10.77.1.2 > 10.77.1.1: ICMP, id 58656, ttl 64, length 84, DF');
  });

  it('reads DSCP CS6 from the tos 0xc0 Linux puts on ICMP errors', () => {
    const v = wrapOk(fromHex(ICMP_FRAG_NEEDED));
    expect(v.dscp).toBe(48); // 0xc0 >> 2: CS6 ("network control")
    expect(v.ecn).toBe(0);
    expect(v.dontFragment).toBe(false);
    expect(v.totalLength).toBe(576);
  });

  it('reads the fragment fields in bytes', () => {
    const first = wrapOk(fromHex(PING_FRAGMENT_0));
    expect(first.moreFragments).toBe(true); // 0x2000
    expect(first.fragmentOffset).toBe(0);
    expect(first.isFragment).toBe(true);
    expect(first.describe()).toBe('10.77.1.2 > 10.77.2.2: ICMP, id 56761, ttl 64, length 996, frag offset 0+');
    const last = wrapOk(fromHex(PING_FRAGMENT_1));
    expect(last.moreFragments).toBe(false);
    expect(last.fragmentOffset).toBe(976); // 0x007a = 122 units of 8 bytes
    expect(last.isFragment).toBe(true);
    expect(last.payload.length).toBe(232);
  });

  it('ignores Ethernet padding past Total Length', () => {
    // A 40-byte UDP datagram arrives in a 60-byte minimum Ethernet frame: 6 bytes of padding.
    const padded = new Uint8Array(46);
    padded.set(fromHex(UDP_TO_CLOSED_PORT));
    padded.fill(0xee, 40);
    const v = wrapOk(padded);
    expect(v.totalLength).toBe(40);
    expect(v.payload.length).toBe(20);
    expect(v.packet.length).toBe(40);
    expect(v.buffer.length).toBe(46);
  });
});

describe('Ipv4HeaderView errors (every reason once)', () => {
  const good = (): Uint8Array => fromHex(PING_ECHO_REQUEST);
  const resum = (b: Uint8Array): Uint8Array => {
    const hl = (b[0]! & 0x0f) * 4;
    if (hl >= 20 && hl <= b.length) {
      b[10] = 0;
      b[11] = 0;
      const c = internetChecksum(b, 0, hl);
      b[10] = c >> 8;
      b[11] = c & 0xff;
    }
    return b;
  };

  it('truncated: fewer than 20 bytes', () => {
    expect(new Ipv4HeaderView().wrap(good().subarray(0, 19))).toMatchObject({ reason: 'truncated', offset: 0 });
  });

  it('unsupportedVersion: an IPv6 packet', () => {
    const b = good();
    b[0] = 0x65;
    expect(new Ipv4HeaderView().wrap(b)).toMatchObject({ reason: 'unsupportedVersion', offset: 0 });
  });

  it('badLength: IHL below 5', () => {
    const b = good();
    b[0] = 0x44;
    expect(new Ipv4HeaderView().wrap(b)).toMatchObject({ reason: 'badLength', offset: 0 });
  });

  it('badLength: IHL beyond the buffer', () => {
    const b = good().subarray(0, 40);
    b[0] = 0x4f; // 60-byte header in 40 bytes
    expect(new Ipv4HeaderView().wrap(b)).toMatchObject({ reason: 'badLength', offset: 0 });
  });

  it('badChecksum: one bit flipped in the header', () => {
    const b = good();
    b[8]! ^= 0x01; // TTL 64 → 65 without fixing the checksum
    expect(new Ipv4HeaderView().wrap(b)).toMatchObject({ reason: 'badChecksum', offset: 10 });
    expect(new Ipv4HeaderView().wrap(b, false)).toBeUndefined();
  });

  it('badLength: Total Length smaller than the header', () => {
    const b = good();
    b[2] = 0;
    b[3] = 19;
    expect(new Ipv4HeaderView().wrap(resum(b))).toMatchObject({ reason: 'badLength', offset: 2 });
  });

  it('truncated: Total Length larger than what arrived', () => {
    const b = resum(good().slice(0, 60));
    expect(new Ipv4HeaderView().wrap(b)).toMatchObject({ reason: 'truncated', offset: 2 });
  });

  it('badOption: parseIpv4Header walks the options', () => {
    const b = new Uint8Array(24);
    emitIpv4Header(ipv4Record({ protocol: 17, source: 1, destination: 2, options: fromHex('8901 0000'), totalLength: 24 }), b, 0);
    const result = parseIpv4Header(b);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatchObject({ reason: 'badOption', offset: 21 });
  });

  it('a failed wrap keeps the view usable for the next packet', () => {
    const v = new Ipv4HeaderView();
    expect(v.wrap(new Uint8Array(3))).toBeDefined();
    expect(v.wrap(good())).toBeUndefined();
    expect(v.totalLength).toBe(84);
  });
});

describe('IPv4 options', () => {
  // Router Alert (copied, RFC 2113), NOP, Record Route with one empty slot (not copied), End of Option List.
  const options = fromHex('94040000 01 07070400000000 00');

  it('walks options with their copied flag', () => {
    const seen: [number, string, number, boolean][] = [];
    expect(forEachIpv4Option(options, (type, bytes, offset) => seen.push([type, toHex(bytes), offset, ipv4OptionCopied(type)]))).toBeUndefined();
    expect(seen).toEqual([
      [Ipv4OptionType.RouterAlert, '94040000', 0, true],
      [Ipv4OptionType.NoOperation, '01', 4, false],
      [Ipv4OptionType.RecordRoute, '07070400000000', 5, false],
    ]);
  });

  it('stops at End of Option List: what follows is padding, never parsed', () => {
    const seen: number[] = [];
    expect(forEachIpv4Option(fromHex('01 00 07ff 0000'), (type) => seen.push(type))).toBeUndefined();
    expect(seen).toEqual([Ipv4OptionType.NoOperation]);
  });

  it('refuses a missing length octet, a length below 2 and a length past the end', () => {
    expect(forEachIpv4Option(fromHex('0107'), () => {})).toMatchObject({ reason: 'badOption', offset: 21 });
    expect(forEachIpv4Option(fromHex('0701'), () => {})).toMatchObject({ reason: 'badOption', offset: 21 });
    expect(forEachIpv4Option(fromHex('070900000000'), () => {})).toMatchObject({ reason: 'badOption', offset: 21 });
  });

  it('exposes the options area and skips it to reach the payload', () => {
    const b = new Uint8Array(40);
    emitIpv4Header(ipv4Record({ protocol: 17, source: 1, destination: 2, options, totalLength: 40 }), b, 0);
    b.fill(0x77, 36);
    const v = wrapOk(b);
    expect(v.headerLength).toBe(36); // 20 + 15 option bytes padded to 16
    expect(toHex(v.options)).toBe('94040000010707040000000000000000');
    expect([...v.payload]).toEqual([0x77, 0x77, 0x77, 0x77]);
    expect(v.describe()).toContain('options 16 bytes');
  });
});

describe('emitIpv4Header', () => {
  const echoRequest: Ipv4Record = {
    dscp: 0,
    ecn: 0,
    identification: 0xe520,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 1,
    source: ip('10.77.1.2'),
    destination: ip('10.77.1.1'),
    totalLength: 84,
  };

  it('writes the captured header byte for byte at a non-zero offset, touching nothing else', () => {
    const buf = new Uint8Array(40).fill(0xa5);
    expect(emitIpv4Header(echoRequest, buf, 7)).toBe(20);
    expect(toHex(buf.subarray(7, 27))).toBe(PING_ECHO_REQUEST.slice(0, 40));
    expect(buf.subarray(0, 7).every((b) => b === 0xa5)).toBe(true);
    expect(buf.subarray(27).every((b) => b === 0xa5)).toBe(true);
  });

  it('writes a fragment header with DSCP, ECN and the offset in 8-byte units', () => {
    const buf = new Uint8Array(24).fill(0xa5);
    const record: Ipv4Record = { ...echoRequest, dscp: 46, ecn: 1, dontFragment: false, moreFragments: true, fragmentOffset: 976, totalLength: 996 };
    emitIpv4Header(record, buf, 2);
    expect(toHex(buf.subarray(2, 12))).toBe('45b903e4e520207a4001'); // tos 0xb9 = EF<<2 | ECT(1); flags+offset 0x207a
    expect(verifyChecksum(buf, 2, 20)).toBe(true);
  });

  it('parses back what it emitted, options included', () => {
    const optionsArb = fc
      .array(
        fc.oneof(
          fc.constant(Uint8Array.of(1)),
          fc.uint8Array({ minLength: 0, maxLength: 6 }).chain((data) =>
            fc.integer({ min: 2, max: 255 }).filter((t) => t !== 0 && t !== 1).map((type) => Uint8Array.of(type, data.length + 2, ...data)),
          ),
        ),
        { maxLength: 5 },
      )
      .map((parts) => {
        const joined = Uint8Array.from(parts.flatMap((p) => [...p]));
        const padded = new Uint8Array((joined.length + 3) & ~3);
        padded.set(joined);
        return padded;
      });
    const recordArb = fc.record({
      dscp: fc.integer({ min: 0, max: 63 }),
      ecn: fc.integer({ min: 0, max: 3 }),
      identification: fc.integer({ min: 0, max: 0xffff }),
      dontFragment: fc.boolean(),
      moreFragments: fc.boolean(),
      fragmentOffset: fc.integer({ min: 0, max: 8191 }).map((n) => n * 8),
      ttl: fc.integer({ min: 0, max: 255 }),
      protocol: fc.integer({ min: 0, max: 255 }),
      source: fc.integer({ min: 0, max: 0xffffffff }),
      destination: fc.integer({ min: 0, max: 0xffffffff }),
      options: optionsArb,
      payloadLength: fc.integer({ min: 0, max: 64 }),
    });
    fc.assert(
      fc.property(recordArb, ({ payloadLength, ...fields }) => {
        const record: Ipv4Record = { ...fields, totalLength: ipv4HeaderLength(fields) + payloadLength };
        const buf = new Uint8Array(record.totalLength + 16).fill(0xa5);
        const written = emitIpv4Header(record, buf, 0);
        expect(written).toBe(ipv4HeaderLength(record));
        const parsed = parseIpv4Header(buf);
        expect(parsed).toEqual({ ok: true, value: record });
      }),
    );
  });

  it('refuses impossible records (programmer errors throw)', () => {
    expect(() => emitIpv4Header({ ...echoRequest, fragmentOffset: 7 }, new Uint8Array(20), 0)).toThrow(RangeError);
    expect(() => emitIpv4Header({ ...echoRequest, totalLength: 70_000 }, new Uint8Array(20), 0)).toThrow(RangeError);
    expect(() => emitIpv4Header({ ...echoRequest, totalLength: 10 }, new Uint8Array(20), 0)).toThrow(RangeError);
    expect(() => emitIpv4Header({ ...echoRequest, options: new Uint8Array(41) }, new Uint8Array(80), 0)).toThrow(RangeError);
    expect(() => emitIpv4Header(echoRequest, new Uint8Array(30), 11)).toThrow(RangeError);
  });

  it('finishIpv4Header sets Total Length and the checksum after the payload is written', () => {
    const buf = new Uint8Array(84);
    emitIpv4Header({ ...echoRequest, totalLength: IPV4_HEADER_LENGTH }, buf, 0);
    buf.set(fromHex(PING_ECHO_REQUEST).subarray(20), 20);
    finishIpv4Header(buf, 0, 84);
    expect(toHex(buf)).toBe(PING_ECHO_REQUEST);
  });

  it('ipv4Record fills defaults for a fresh datagram', () => {
    expect(ipv4Record({ protocol: 6, source: 1, destination: 2 })).toMatchObject({ ttl: 64, totalLength: 20, dontFragment: false });
  });
});

describe('forwarding helpers', () => {
  it('decrementTtl patches the checksum incrementally to the same value as a recomputation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), (ttl, id, src) => {
        const buf = new Uint8Array(20);
        emitIpv4Header(ipv4Record({ protocol: 6, source: src, destination: 0x0a000001, identification: id, ttl }), buf, 0);
        const view = wrapOk(buf);
        expect(view.decrementTtl()).toBe(ttl - 1);
        expect(verifyChecksum(buf, 0, 20)).toBe(true);
        const recomputed = new Uint8Array(20);
        emitIpv4Header(ipv4Record({ protocol: 6, source: src, destination: 0x0a000001, identification: id, ttl: ttl - 1 }), recomputed, 0);
        expect(toHex(buf)).toBe(toHex(recomputed));
      }),
    );
  });
});

describe('wrapQuoted (the header inside an ICMP error)', () => {
  it('accepts a header whose payload was cut short and clips the payload', () => {
    const inner = fromHex(ICMP_FRAG_NEEDED).subarray(28); // after outer IP (20) + ICMP (8)
    const v = new Ipv4HeaderView();
    expect(v.wrap(inner)).toMatchObject({ reason: 'truncated' }); // 1228 claimed, 548 quoted
    expect(v.wrapQuoted(inner)).toBeUndefined();
    expect(v.totalLength).toBe(1228);
    expect(v.destination).toBe(ip('10.77.2.2'));
    expect(v.payload.length).toBe(528);
  });

  it('ends the payload at Total Length when more than the datagram was quoted', () => {
    const quote = new Uint8Array(48).fill(0xee);
    quote.set(fromHex(UDP_TO_CLOSED_PORT)); // 40 bytes, then 8 bytes that are not part of it (e.g. RFC 4884 extensions)
    const v = new Ipv4HeaderView();
    expect(v.wrapQuoted(quote)).toBeUndefined();
    expect(v.payload.length).toBe(20);
  });

  it('still needs a whole header', () => {
    const v = new Ipv4HeaderView();
    const inner = fromHex(ICMP_FRAG_NEEDED).subarray(28);
    expect(v.wrapQuoted(inner.subarray(0, 12))).toMatchObject({ reason: 'truncated' });
    const six = inner.slice(0, 20);
    six[0] = 0x60;
    expect(v.wrapQuoted(six)).toMatchObject({ reason: 'unsupportedVersion' });
    const long = inner.slice(0, 20);
    long[0] = 0x46;
    expect(v.wrapQuoted(long)).toMatchObject({ reason: 'badLength' });
    const short = inner.slice(0, 20);
    short[2] = 0;
    short[3] = 8;
    expect(v.wrapQuoted(short)).toMatchObject({ reason: 'badLength' });
  });
});

describe('describe', () => {
  it('summarises records, views and unparseable bytes', () => {
    expect(
      describeIpv4Record(ipv4Record({ protocol: 17, source: ip('10.0.0.2'), destination: ip('10.0.0.1'), identification: 1, totalLength: 33 })),
    ).toBe('10.0.0.2 > 10.0.0.1: UDP, id 1, ttl 64, length 33');
    expect(describeIpv4(fromHex(PING_FRAGMENT_1))).toBe('10.77.1.2 > 10.77.2.2: ICMP, id 56761, ttl 64, length 252, frag offset 976');
    expect(describeIpv4(wrapOk(fromHex(PING_ECHO_REQUEST)))).toContain('10.77.1.2 > 10.77.1.1: ICMP');
    expect(describeIpv4(new Uint8Array(4))).toBe('IPv4 (truncated: 4 bytes < 20)');
  });
});

describe('robustness', () => {
  const touchAll = (v: Ipv4HeaderView): unknown[] => [
    v.version, v.headerLength, v.dscp, v.ecn, v.totalLength, v.identification, v.reservedFlag, v.dontFragment,
    v.moreFragments, v.fragmentOffset, v.isFragment, v.ttl, v.protocol, v.headerChecksum, v.source, v.destination,
    v.options.length, v.payload.length, v.describe(),
  ];

  it('random bytes never throw, and a successful wrap never reads out of bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, verify) => {
        const v = new Ipv4HeaderView();
        if (v.wrap(bytes, verify) === undefined) {
          expect(touchAll(v).every((x) => x !== undefined)).toBe(true);
          expect(v.payload.length).toBe(v.totalLength - v.headerLength);
        }
        if (v.wrapQuoted(bytes) === undefined) touchAll(v);
        parseIpv4Header(bytes, verify);
        describeIpv4(bytes);
        forEachIpv4Option(bytes, () => {});
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated captures never throw', () => {
    const base = fromHex(PING_ECHO_REQUEST);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(83), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(84), (edits, cut) => {
        const b = base.slice(0, cut);
        for (const [at, value] of edits) if (at < b.length) b[at] = value;
        const v = new Ipv4HeaderView();
        if (v.wrap(b, false) === undefined) touchAll(v);
        parseIpv4Header(b, false);
      }),
      { numRuns: 2000 },
    );
  });
});
