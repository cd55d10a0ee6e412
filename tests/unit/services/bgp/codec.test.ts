/**
 * BGP codecs against bytes BIRD 2.0.12 sent to a kernel-TCP peer (captured
 * 2026-12-03 in a namespace pair; tests/unit/services/bgp/bird-capture.txt),
 * emit at an offset into 0xa5-filled buffers, round trips, every error path,
 * and fast-check: parse never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../../src/core/bytes.js';
import { formatAsPath, prependAs, asPathHops } from '../../../../src/services/bgp/as-path.js';
import { formatCommunity, parseCommunity } from '../../../../src/services/bgp/attributes.js';
import { ErrorCode, HeaderSubcode, OpenSubcode, UpdateSubcode, describeErrorCode } from '../../../../src/services/bgp/errors.js';
import { HEADER_LENGTH, MessageType, emitHeader, keepaliveMessage, nextMessage, parseHeader } from '../../../../src/services/bgp/header.js';
import { notificationMessage, parseNotification, describeNotification } from '../../../../src/services/bgp/notification.js';
import { describeOpen, emitOpen, openAs, openLength, openMessage, parseOpen, type Open } from '../../../../src/services/bgp/open.js';
import { formatPrefix, parsePrefixText } from '../../../../src/services/bgp/prefix.js';
import { parseRouteRefresh, routeRefreshMessage } from '../../../../src/services/bgp/route-refresh.js';
import { isEndOfRib, parseUpdate, updateMessage, type Update } from '../../../../src/services/bgp/update.js';

const MARKER = 'ffffffffffffffffffffffffffffffff';
/** BIRD's OPEN: AS 65001, hold 240, id 10.0.0.1, caps: mp ipv4/unicast, mp ipv6/unicast, route refresh, graceful restart (64), as4 65001, enhanced route refresh (70), LLGR (71). */
const BIRD_OPEN = fromHex(`${MARKER}003b01 04 fde9 00f0 0a000001 1e 021c 010400010001 010400020001 0200 40020078 41040000fde9 4600 4700`);
/** BIRD's UPDATE: ORIGIN IGP, AS_PATH [65001], NEXT_HOP 10.0.0.1, COMMUNITIES 65001:100, NLRI 192.168.128.0/17. */
const BIRD_UPDATE_V4 = fromHex(`${MARKER}003602 0000 001b 400101 00 400206 0201 0000fde9 400304 0a000001 c00804 fde90064 11c0a880`);
/** BIRD's IPv6 UPDATE: MP_REACH_NLRI ipv6/unicast, next hop 2001:db8::1, NLRI 2001:db8:100::/48; ORIGIN, AS_PATH. */
const BIRD_UPDATE_V6 = fromHex(
  `${MARKER}004402 0000 002d 900e001c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80100 400101 00 400206 0201 0000fde9`,
);
/** BIRD's IPv4 End-of-RIB (RFC 4724): an empty UPDATE. */
const BIRD_EOR_V4 = fromHex(`${MARKER}001702 0000 0000`);
/** BIRD's IPv6 End-of-RIB: an empty MP_UNREACH_NLRI. */
const BIRD_EOR_V6 = fromHex(`${MARKER}001d02 0000 0006 800f03 0002 01`);
/** BIRD's NOTIFICATION Cease / Administrative Shutdown when it stops. */
const BIRD_CEASE = fromHex(`${MARKER}0015 03 06 02`);

const body = (m: Uint8Array) => m.subarray(HEADER_LENGTH);

describe('BGP header', () => {
  it('parses BIRD messages and finds message boundaries in a stream', () => {
    const stream = new Uint8Array([...BIRD_OPEN, ...keepaliveMessage(), ...BIRD_UPDATE_V4.subarray(0, 30)]);
    const first = nextMessage(stream);
    expect(first?.ok && first.value.header).toEqual({ length: 59, type: MessageType.open });
    const second = nextMessage(stream.subarray(59));
    expect(second?.ok && second.value.header).toEqual({ length: 19, type: MessageType.keepalive });
    expect(nextMessage(stream.subarray(78))).toBeUndefined(); // half an UPDATE: wait for more
  });
  it('emits at an offset', () => {
    const buf = new Uint8Array(25).fill(0xa5);
    expect(emitHeader({ length: 19, type: 4 }, buf, 3)).toBe(19);
    expect(buf.subarray(3, 22)).toEqual(keepaliveMessage());
    expect(buf[2]).toBe(0xa5);
    expect(buf[22]).toBe(0xa5);
  });
  it.each([
    ['marker not all ones', `${'ff'.repeat(15)}fe 0013 04`, HeaderSubcode.connectionNotSynchronized],
    ['length < 19', `${MARKER} 0012 04`, HeaderSubcode.badMessageLength],
    ['length > 4096', `${MARKER} 1001 02`, HeaderSubcode.badMessageLength],
    ['KEEPALIVE longer than 19', `${MARKER} 0014 04`, HeaderSubcode.badMessageLength],
    ['OPEN shorter than 29', `${MARKER} 001c 01`, HeaderSubcode.badMessageLength],
    ['unknown type', `${MARKER} 0013 09`, HeaderSubcode.badMessageType],
  ])('%s → Message Header Error', (_name, hex, subcode) => {
    const r = parseHeader(fromHex(hex));
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.subcode, r.error.action]).toEqual([ErrorCode.messageHeader, subcode, 'sessionReset']);
  });
});

describe('OPEN', () => {
  it("parses BIRD's OPEN and ignores the capabilities it does not know", () => {
    const r = parseOpen(body(BIRD_OPEN));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ version: 4, myAs: 65001, holdTime: 240, bgpIdentifier: 0x0a000001 });
    expect(openAs(r.value)).toBe(65001);
    expect(describeOpen(r.value)).toBe('OPEN as 65001 hold 240 id 10.0.0.1 [mp ipv4/unicast, mp ipv6/unicast, route-refresh, capability 64, as4 65001, capability 70, capability 71]');
    expect(openMessage(r.value)).toEqual(BIRD_OPEN); // the same bytes back
  });
  it('round-trips a 4-octet AS (AS_TRANS in the 2-octet field) at an offset', () => {
    const o: Open = { version: 4, myAs: 23456, holdTime: 90, bgpIdentifier: 0x01020304, capabilities: [{ kind: 'fourOctetAs', as: 4200000001 }, { kind: 'routeRefresh' }] };
    const buf = new Uint8Array(openLength(o) + 4).fill(0xa5);
    emitOpen(o, buf, 2);
    expect(buf[1]).toBe(0xa5);
    expect(buf[buf.length - 1]).toBe(0xa5);
    const r = parseOpen(buf.subarray(2, 2 + openLength(o)));
    expect(r.ok && openAs(r.value)).toBe(4200000001);
  });
  it.each([
    ['version 3', `03 fde9 00f0 0a000001 00`, ErrorCode.openMessage, OpenSubcode.unsupportedVersionNumber],
    ['optional parameter type 1 (authentication)', `04 fde9 00f0 0a000001 04 0102 abcd`, ErrorCode.openMessage, OpenSubcode.unsupportedOptionalParameter],
    ['capability overruns its parameter', `04 fde9 00f0 0a000001 04 0202 4104`, ErrorCode.openMessage, OpenSubcode.unsupportedOptionalParameter],
    ['optional parameter length lies', `04 fde9 00f0 0a000001 09 0202 0200`, ErrorCode.messageHeader, HeaderSubcode.badMessageLength],
  ])('%s → NOTIFICATION %i/%i', (_name, hex, code, subcode) => {
    const r = parseOpen(fromHex(hex));
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.subcode]).toEqual([code, subcode]);
  });
  it('bad version carries the version we speak as data (RFC 4271 §6.2)', () => {
    const r = parseOpen(fromHex('05 fde9 00f0 0a000001 00'));
    expect(!r.ok && Array.from(r.error.data)).toEqual([0, 4]);
  });
});

describe('UPDATE', () => {
  it("parses BIRD's IPv4 UPDATE", () => {
    const r = parseUpdate(body(BIRD_UPDATE_V4), 4);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const u = r.value;
    expect(u.nlri.map(formatPrefix)).toEqual(['192.168.128.0/17']);
    expect(u.attributes).toMatchObject({ origin: 0, nextHop: 0x0a000001, communities: [parseCommunity('65001:100')] });
    expect(formatAsPath(u.attributes.asPath!)).toBe('65001');
    expect(u.treatAsWithdraw).toBeUndefined();
    expect(updateMessage(u, 4)).toEqual(BIRD_UPDATE_V4); // same attribute order and flags as BIRD
  });
  it("parses BIRD's IPv6 UPDATE (MP_REACH_NLRI) and both End-of-RIB markers", () => {
    const r = parseUpdate(body(BIRD_UPDATE_V6), 4);
    expect(r.ok && r.value.attributes.mpReach!.nlri.map(formatPrefix)).toEqual(['2001:db8:100::/48']);
    expect(r.ok && r.value.attributes.mpReach!.nextHop.length).toBe(16);
    // BIRD sets Extended Length on MP_REACH_NLRI even when 1 byte would do (900e 001c); tapnet uses it only when needed.
    const again = r.ok && parseUpdate(body(updateMessage(r.value, 4)), 4);
    expect(again && again.ok && again.value.attributes).toEqual(r.ok && r.value.attributes);
    const eor4 = parseUpdate(body(BIRD_EOR_V4), 4);
    expect(eor4.ok && isEndOfRib(eor4.value)).toBe(true);
    const eor6 = parseUpdate(body(BIRD_EOR_V6), 4);
    expect(eor6.ok && eor6.value.attributes.mpUnreach).toMatchObject({ afi: 2, safi: 1, withdrawn: [] });
  });
  it('round-trips withdrawals, MED, LOCAL_PREF, AS_SET, RR attributes and 2-octet ASes', () => {
    const u: Update = {
      withdrawn: [parsePrefixText('10.9.0.0/16')!, parsePrefixText('0.0.0.0/0')!],
      attributes: {
        origin: 2,
        asPath: [{ type: 2, asns: [65010, 65020] }, { type: 1, asns: [65030, 65040] }],
        nextHop: 0xc0000201,
        med: 7,
        localPref: 200,
        originatorId: 0x0a000009,
        clusterList: [1, 2],
        other: [],
      },
      nlri: [parsePrefixText('198.51.100.0/24')!, parsePrefixText('203.0.113.128/25')!],
    };
    for (const width of [2, 4] as const) {
      const r = parseUpdate(body(updateMessage(u, width)), width);
      expect(r.ok && r.value.attributes).toEqual(u.attributes);
      expect(r.ok && r.value.withdrawn.map(formatPrefix)).toEqual(['10.9.0.0/16', '0.0.0.0/0']);
      expect(r.ok && r.value.nlri.map(formatPrefix)).toEqual(['198.51.100.0/24', '203.0.113.128/25']);
    }
    expect(asPathHops(u.attributes.asPath!)).toBe(3); // the AS_SET counts 1
    expect(formatAsPath(prependAs(u.attributes.asPath!, 65001))).toBe('65001 65010 65020 {65030,65040}');
  });

  const A = '400101 00 400206 0201 0000fde9 400304 0a000001'; // ORIGIN, AS_PATH [65001], NEXT_HOP 10.0.0.1
  const update = (attrs: string, nlri = '18 c63364', withdrawn = '') => {
    const a = fromHex(attrs);
    const w = fromHex(withdrawn);
    return fromHex(`${(w.length).toString(16).padStart(4, '0')}${withdrawn.replace(/\s/g, '')}${a.length.toString(16).padStart(4, '0')}${attrs.replace(/\s/g, '')}${nlri.replace(/\s/g, '')}`);
  };
  it.each([
    ['ORIGIN value 3', '400101 03 400206 0201 0000fde9 400304 0a000001', UpdateSubcode.invalidOriginAttribute],
    ['ORIGIN length 2', '400102 0000 400206 0201 0000fde9 400304 0a000001', UpdateSubcode.invalidOriginAttribute],
    ['AS_PATH segment overruns', '400101 00 400206 0202 0000fde9 400304 0a000001', UpdateSubcode.malformedAsPath],
    ['AS_PATH segment type 7', '400101 00 400206 0701 0000fde9 400304 0a000001', UpdateSubcode.malformedAsPath],
    ['NEXT_HOP length 5', '400101 00 400206 0201 0000fde9 400305 0a00000100', UpdateSubcode.invalidNextHopAttribute],
    ['NEXT_HOP 0.0.0.0', '400101 00 400206 0201 0000fde9 400304 00000000', UpdateSubcode.invalidNextHopAttribute],
    ['NEXT_HOP multicast', '400101 00 400206 0201 0000fde9 400304 e0000001', UpdateSubcode.invalidNextHopAttribute],
    ['ORIGIN marked optional', 'c00101 00 400206 0201 0000fde9 400304 0a000001', UpdateSubcode.attributeFlagsError],
    ['MED length 3', `${A} 800403 000001`, UpdateSubcode.attributeLengthError],
    ['COMMUNITIES length 6', `${A} c00806 000100020003`, UpdateSubcode.attributeLengthError],
    ['missing NEXT_HOP', '400101 00 400206 0201 0000fde9', UpdateSubcode.missingWellKnownAttribute],
    ['missing ORIGIN', '400206 0201 0000fde9 400304 0a000001', UpdateSubcode.missingWellKnownAttribute],
    ['missing AS_PATH', '400101 00 400304 0a000001', UpdateSubcode.missingWellKnownAttribute],
  ])('%s → treat-as-withdraw (RFC 7606), session stays up', (_name, attrs, subcode) => {
    const r = parseUpdate(update(attrs), 4);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.treatAsWithdraw).toMatchObject({ action: 'treatAsWithdraw', code: ErrorCode.updateMessage, subcode });
    expect(r.value.nlri.map(formatPrefix)).toEqual(['198.51.100.0/24']); // what to withdraw
  });
  it.each([
    ['ATOMIC_AGGREGATE length 1', `${A} 400601 00`],
    ['AGGREGATOR length 3', `${A} c00703 000001`],
    ['a repeated MED', `${A} 800404 00000001 800404 00000002`],
  ])('%s → attribute discard, the route is used', (_name, attrs) => {
    const r = parseUpdate(update(attrs), 4);
    expect(r.ok && r.value.treatAsWithdraw).toBeUndefined();
    expect(r.ok && r.value.discarded!.length).toBe(1);
  });
  it.each([
    ['withdrawn length overruns', fromHex('00ff 0000'), UpdateSubcode.malformedAttributeList],
    // RFC 7606 §4 overrun with no NLRI and no MP attribute before it: which routes to withdraw cannot be known (§3 j).
    ['attribute length overruns, no NLRI', update('400101 00 400220 0201', ''), UpdateSubcode.attributeLengthError],
    ['MP_REACH_NLRI length overruns', update(`${A} 800e20 0002 01 10 20010db8`, '18 c63364'), UpdateSubcode.attributeLengthError],
    ['unknown well-known attribute', update(`${A} 406300`), UpdateSubcode.unrecognizedWellKnownAttribute],
    ['NLRI prefix length 33', update(A, '21 c6336401 00'), UpdateSubcode.invalidNetworkField],
    ['NLRI prefix overruns', update(A, '18 c633'), UpdateSubcode.invalidNetworkField],
    ['MP_REACH_NLRI IPv6 next hop of 5 bytes', update(`${A} 900e000a 0002 01 05 0102030405 00`, ''), UpdateSubcode.optionalAttributeError],
    ['MP_REACH_NLRI twice', update(`${A} 800e0900010104 0a000001 00 800e0900010104 0a000001 00`, ''), UpdateSubcode.malformedAttributeList],
  ])('%s → session reset', (_name, bytes, subcode) => {
    const r = parseUpdate(bytes, 4);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.action, r.error.code, r.error.subcode]).toEqual(['sessionReset', ErrorCode.updateMessage, subcode]);
  });
  describe('RFC 7606 §4: attribute lengths that disagree with the Total Path Attribute Length', () => {
    it.each([
      // The last attribute (MED) claims 4 bytes, 2 are left in the field: the NLRI is still found from the total.
      ['the last attribute overruns the field', `${A} 800404 0000`, UpdateSubcode.attributeLengthError],
      ['an extended-length attribute overruns', `${A} 90080010 00010002`, UpdateSubcode.attributeLengthError],
      // Fewer than 3 bytes left where an attribute header should start.
      ['2 bytes left, less than an attribute header', `${A} 8004`, UpdateSubcode.malformedAttributeList],
      // Extended Length set: 4 header bytes needed, 3 left.
      ['3 bytes left with Extended Length set', `${A} 900400`, UpdateSubcode.malformedAttributeList],
    ])('%s → treat-as-withdraw, the NLRI located', (_name, attrs, subcode) => {
      const r = parseUpdate(update(attrs), 4);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.treatAsWithdraw).toMatchObject({ action: 'treatAsWithdraw', code: ErrorCode.updateMessage, subcode });
      expect(r.value.nlri.map(formatPrefix)).toEqual(['198.51.100.0/24']);
    });
    it('an overrun after a parsed MP_REACH_NLRI: treat-as-withdraw of its IPv6 prefixes', () => {
      const mp = '900e001c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80100';
      const r = parseUpdate(update(`${mp} 400101 00 400206 0201 0000fde9 800404 00`, ''), 4);
      expect(r.ok && r.value.treatAsWithdraw?.subcode).toBe(UpdateSubcode.attributeLengthError);
      expect(r.ok && r.value.attributes.mpReach!.nlri.map(formatPrefix)).toEqual(['2001:db8:100::/48']);
    });
    it.each([
      ['COMMUNITIES', `${A} c00800`],
      ['ORIGINATOR_ID', `${A} 800900`],
      ['CLUSTER_LIST', `${A} 800a00`],
      ['LOCAL_PREF', `${A} 400500`],
    ])('a zero-length %s is malformed (§4: only AS_PATH and ATOMIC_AGGREGATE may be empty) → treat-as-withdraw', (_name, attrs) => {
      const r = parseUpdate(update(attrs), 4);
      expect(r.ok && r.value.treatAsWithdraw?.action).toBe('treatAsWithdraw');
    });
    it('an empty AS_PATH and an empty ATOMIC_AGGREGATE are fine', () => {
      const r = parseUpdate(update('400101 00 400200 400304 0a000001 400600'), 4);
      expect(r.ok && r.value.treatAsWithdraw).toBeUndefined();
      expect(r.ok && r.value.attributes).toMatchObject({ asPath: [], atomicAggregate: true });
    });
  });
  it('keeps an unknown optional transitive attribute with Partial set, drops a non-transitive one', () => {
    const r = parseUpdate(update(`${A} c06302 abcd 806402 abcd`), 4);
    expect(r.ok && r.value.attributes.other).toEqual([{ flags: 0xe0, type: 0x63, value: fromHex('abcd') }]);
  });
});

describe('NOTIFICATION, ROUTE-REFRESH, KEEPALIVE', () => {
  it("parses BIRD's Cease and round-trips", () => {
    const r = parseNotification(body(BIRD_CEASE));
    expect(r.ok && describeNotification(r.value)).toBe('Cease / Administrative Shutdown');
    expect(r.ok && notificationMessage(r.value)).toEqual(BIRD_CEASE);
    expect(describeErrorCode(2, 6)).toBe('OPEN Message Error / Unacceptable Hold Time');
  });
  it('ROUTE-REFRESH for IPv6 unicast round-trips; a wrong length is a ROUTE-REFRESH error (RFC 7313)', () => {
    const m = routeRefreshMessage({ afi: 2, safi: 1, subtype: 0 });
    expect(m).toEqual(fromHex(`${MARKER}0017 05 0002 00 01`));
    expect(parseRouteRefresh(body(m))).toEqual({ ok: true, value: { afi: 2, safi: 1, subtype: 0 } });
    const bad = parseRouteRefresh(fromHex('000200'));
    expect(!bad.ok && [bad.error.code, bad.error.subcode]).toEqual([7, 1]);
  });
  it('communities', () => {
    expect(formatCommunity(parseCommunity('65001:100')!)).toBe('65001:100');
    expect(formatCommunity(parseCommunity('no-export')!)).toBe('no-export');
    expect(parseCommunity('70000:1')).toBeUndefined();
  });
});

describe('property: parsers never throw', () => {
  const messages = [BIRD_OPEN, BIRD_UPDATE_V4, BIRD_UPDATE_V6, BIRD_EOR_V6, BIRD_CEASE];
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parseOpen(bytes);
        parseUpdate(bytes, 4);
        parseUpdate(bytes, 2);
        parseNotification(bytes);
        parseRouteRefresh(bytes);
        nextMessage(bytes);
      }),
      { numRuns: 3000 },
    );
  });
  it('mutated BIRD messages', () => {
    fc.assert(
      fc.property(fc.constantFrom(...messages), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (m, flips, cut) => {
        const bytes = m.slice(HEADER_LENGTH);
        for (const [i, v] of flips) bytes[i % bytes.length] = v;
        const b = bytes.subarray(0, bytes.length - (cut % 4));
        parseOpen(b);
        parseUpdate(b, 4);
      }),
      { numRuns: 3000 },
    );
  });
  it('parse ∘ emit is identity for generated IPv4 updates', () => {
    const prefix = fc.tuple(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 0xffffffff })).map(([len, a]) => {
      const text = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`;
      return parsePrefixText(text)!;
    });
    fc.assert(
      fc.property(fc.array(prefix, { maxLength: 20 }), fc.array(prefix, { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 10 }), (w, n, path) => {
        const u: Update = { withdrawn: w, attributes: { origin: 0, asPath: [{ type: 2, asns: path }], nextHop: 0x0a000001, other: [] }, nlri: n };
        const r = parseUpdate(body(updateMessage(u, 4)), 4);
        expect(r.ok && r.value.withdrawn.map(formatPrefix)).toEqual(w.map(formatPrefix));
        expect(r.ok && r.value.attributes.asPath).toEqual(u.attributes.asPath);
      }),
      { numRuns: 300 },
    );
  });
});
