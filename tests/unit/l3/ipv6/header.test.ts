/**
 * The IPv6 fixed header and extension headers, on bytes captured from Linux
 * (./captures.ts) and built by hand from RFC 8200's layouts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { formatIpv6, parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import { ChainStep, FirstFragmentChain, firstFragmentChain, Ipv6ChainWalker, IPV6_EXTENSION_HEADERS_BYTES_MAX, walkIpv6Chain } from '../../../../src/l3/ipv6/extension-chain.js';
import { describeIpv6FragmentHeader, emitIpv6FragmentHeader, parseIpv6FragmentHeader } from '../../../../src/l3/ipv6/fragment-header.js';
import { Ipv6HeaderView, describeIpv6, emitIpv6Header, parseIpv6Header } from '../../../../src/l3/ipv6/header.js';
import {
  Ipv6OptionType,
  describeIpv6OptionsHeader,
  emitIpv6OptionsHeader,
  parseIpv6OptionsHeader,
  unknownOptionAction,
} from '../../../../src/l3/ipv6/options.js';
import { emitIpv6RoutingHeader, parseIpv6RoutingHeader } from '../../../../src/l3/ipv6/routing-header.js';
import { ECHO_REQUEST, MLD_REPORT_FROM_UNSPECIFIED, PING_FRAGMENT_0, PING_FRAGMENT_2 } from './captures.js';

describe('IPv6 fixed header (RFC 8200 §3)', () => {
  it('parses ping -6 from the kernel', () => {
    const r = parseIpv6Header(fromHex(ECHO_REQUEST));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const h = r.value;
    expect(h.trafficClass).toBe(0); //   6 | 00 | 4ef1d: version 6, class 0,
    expect(h.flowLabel).toBe(0x4ef1d); // the kernel's auto flow label (RFC 6437)
    expect(h.payloadLength).toBe(64); // 0040: ICMPv6 header 8 + 56 data bytes
    expect(h.nextHeader).toBe(58); //    3a: ICMPv6
    expect(h.hopLimit).toBe(64); //      40
    expect(formatIpv6(h.source)).toBe('fd77::2');
    expect(formatIpv6(h.destination)).toBe('fd77::1');
    expect(describeIpv6(fromHex(ECHO_REQUEST))).toBe('fd77::2 > fd77::1: ICMPv6, hlim 64, payload length 64, flowlabel 0x4ef1d');
  });

  it('emits the same 40 bytes at an offset, leaving the rest of the buffer alone', () => {
    const bytes = fromHex(ECHO_REQUEST);
    const r = parseIpv6Header(bytes);
    if (!r.ok) throw new Error('parse');
    const buf = new Uint8Array(50).fill(0xa5);
    expect(emitIpv6Header(r.value, buf, 5)).toBe(40);
    expect(toHex(buf.subarray(5, 45))).toBe(toHex(bytes.subarray(0, 40)));
    expect(buf[4]).toBe(0xa5);
    expect(buf[45]).toBe(0xa5);
  });

  it('hits every error reason', () => {
    const v = new Ipv6HeaderView();
    const bytes = fromHex(ECHO_REQUEST);
    expect(v.wrap(bytes.subarray(0, 39))?.reason).toBe('truncated');
    const v4 = bytes.slice();
    v4[0] = 0x45;
    expect(v.wrap(v4)?.reason).toBe('unsupportedVersion');
    expect(v.wrap(bytes.subarray(0, 100))?.reason).toBe('truncated'); // payload length 64 > 60 present
    const padded = new Uint8Array(bytes.length + 6);
    padded.set(bytes);
    expect(v.wrap(padded)).toBeUndefined();
    expect(v.packet.length).toBe(bytes.length); // link padding is not part of the packet
  });

  it('never throws on random bytes', () => {
    const v = new Ipv6HeaderView();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        if (v.wrap(b) === undefined) v.describe();
        describeIpv6(b);
        walkIpv6Chain(b.length >= 40 ? b : new Uint8Array(40));
        if (b.length > 0) firstFragmentChain(b.subarray(1), b[0]!);
      }),
    );
  });
});

describe('Hop-by-Hop / Destination Options (RFC 8200 §4.2-4.3, §4.6)', () => {
  // The kernel's MLD report starts with a Hop-by-Hop header: next 58, length 0, Router Alert (MLD), PadN 0.
  const HBH = fromHex(MLD_REPORT_FROM_UNSPECIFIED).subarray(40, 48);

  it('parses the Router Alert the kernel puts in MLD reports', () => {
    expect(toHex(HBH)).toBe('3a00050200000100');
    const r = parseIpv6OptionsHeader(HBH);
    expect(r.ok && r.value).toEqual({ nextHeader: 58, options: [{ type: Ipv6OptionType.RouterAlert, data: Uint8Array.of(0, 0) }] });
    expect(describeIpv6OptionsHeader('HBH', HBH)).toBe('HBH (rtalert: 0x0000)(padn)');
  });

  it('emits the same bytes (padding included) at an offset', () => {
    const buf = new Uint8Array(12).fill(0xa5);
    expect(emitIpv6OptionsHeader({ nextHeader: 58, options: [{ type: 5, data: Uint8Array.of(0, 0) }] }, buf, 2)).toBe(8);
    expect(toHex(buf)).toBe('a5a53a00050200000100a5a5');
    // 3 bytes of option → 3 bytes of padding: PadN with 1 data byte; 5 bytes → Pad1; 6 bytes → none.
    expect(toHex(emitted({ nextHeader: 59, options: [{ type: 0x1e, data: Uint8Array.of(9) }] }))).toBe('3b001e0109010100');
    expect(toHex(emitted({ nextHeader: 59, options: [{ type: 0x1e, data: Uint8Array.of(1, 2, 3) }] }))).toBe('3b001e0301020300');
    expect(toHex(emitted({ nextHeader: 59, options: [{ type: 0x1e, data: Uint8Array.of(1, 2, 3, 4) }] }))).toBe('3b001e0401020304');
  });

  it('errors: truncated header, option past the end', () => {
    expect(parseIpv6OptionsHeader(HBH.subarray(0, 6)).ok).toBe(false);
    const bad = Uint8Array.of(59, 0, 0x1e, 9, 0, 0, 0, 0);
    const r = parseIpv6OptionsHeader(bad);
    expect(!r.ok && r.error.reason).toBe('badOption');
    const long = Uint8Array.of(59, 1, 1, 0, 0, 0, 0, 0);
    expect(!parseIpv6OptionsHeader(long).ok && 'truncated').toBe('truncated');
  });

  it('unknown option actions come from the two high bits', () => {
    expect([0x1e, 0x5e, 0x9e, 0xde].map(unknownOptionAction)).toEqual([0, 1, 2, 3]);
  });
});

function emitted(record: Parameters<typeof emitIpv6OptionsHeader>[0]): Uint8Array {
  const buf = new Uint8Array(64);
  return buf.subarray(0, emitIpv6OptionsHeader(record, buf, 0));
}

describe('Routing header (RFC 8200 §4.4, RFC 5095)', () => {
  it('round-trips a Type 0 header with one address', () => {
    const data = new Uint8Array(20);
    data.set(parseIpv6('fd77::99')!, 4);
    const buf = new Uint8Array(30).fill(0xa5);
    expect(emitIpv6RoutingHeader({ nextHeader: 58, routingType: 0, segmentsLeft: 1, data }, buf, 3)).toBe(24);
    expect(toHex(buf.subarray(3, 7))).toBe('3a020001'); // next 58, length 2 (24 bytes), type 0, segments left 1
    const r = parseIpv6RoutingHeader(buf.subarray(3));
    expect(r.ok && [r.value.routingType, r.value.segmentsLeft, r.value.data.length]).toEqual([0, 1, 20]);
    expect(parseIpv6RoutingHeader(buf.subarray(3, 20)).ok).toBe(false);
  });
});

describe('Fragment header (RFC 8200 §4.5) on the kernel\'s fragments', () => {
  it('first and last fragment of ping -6 -s 3000', () => {
    const first = fromHex(PING_FRAGMENT_0);
    expect(first[6]).toBe(44);
    const r = parseIpv6FragmentHeader(first.subarray(40));
    expect(r.ok && r.value).toEqual({ nextHeader: 58, fragmentOffset: 0, moreFragments: true, identification: 0x4b0ab6bb });
    expect(describeIpv6FragmentHeader(first.subarray(40), 1448)).toBe('frag (0x4b0ab6bb:0|1448) MF');
    const last = parseIpv6FragmentHeader(fromHex(PING_FRAGMENT_2).subarray(40));
    expect(last.ok && last.value).toEqual({ nextHeader: 58, fragmentOffset: 2896, moreFragments: false, identification: 0x4b0ab6bb });
    const buf = new Uint8Array(10).fill(0xa5);
    emitIpv6FragmentHeader({ nextHeader: 58, fragmentOffset: 2896, moreFragments: false, identification: 0x4b0ab6bb }, buf, 1);
    expect(toHex(buf.subarray(1, 9))).toBe(toHex(fromHex(PING_FRAGMENT_2).subarray(40, 48)));
    expect(parseIpv6FragmentHeader(new Uint8Array(7)).ok).toBe(false);
  });
});

describe('Walking the chain', () => {
  it('finds the upper layer behind Hop-by-Hop, and stops at a later fragment', () => {
    const mld = walkIpv6Chain(fromHex(MLD_REPORT_FROM_UNSPECIFIED));
    expect(mld).toEqual({ kind: 'upperLayer', nextHeader: 58, offset: 48, nextHeaderField: 40, fragmentHeader: -1 });
    const first = walkIpv6Chain(fromHex(PING_FRAGMENT_0));
    expect(first).toMatchObject({ kind: 'upperLayer', nextHeader: 58, offset: 48, fragmentHeader: 40 });
    expect(walkIpv6Chain(fromHex(PING_FRAGMENT_2)).kind).toBe('laterFragment');
    expect(walkIpv6Chain(fromHex(MLD_REPORT_FROM_UNSPECIFIED).subarray(0, 44)).kind).toBe('truncated');
  });

  it('bounds the chain by bytes, not by count: 4096 headers of 8 bytes pass, one more does not', () => {
    const chain = (headers: number): Uint8Array => {
      const p = new Uint8Array(40 + headers * 8 + 8);
      p[0] = 0x60;
      p[6] = 60;
      for (let i = 0; i < headers; i++) p[40 + i * 8] = i === headers - 1 ? 58 : 60;
      return p;
    };
    expect(IPV6_EXTENSION_HEADERS_BYTES_MAX).toBe(4096 * 8);
    expect(walkIpv6Chain(chain(128))).toMatchObject({ kind: 'upperLayer', nextHeader: 58, offset: 40 + 128 * 8 });
    expect(walkIpv6Chain(chain(4096))).toMatchObject({ kind: 'upperLayer', nextHeader: 58, offset: 40 + 4096 * 8 });
    expect(walkIpv6Chain(chain(4097))).toEqual({ kind: 'tooLong', offset: 40 + 4096 * 8 });
    // One 2048-byte header counts 2048 bytes.
    const big = chain(16);
    for (let i = 0; i < 16; i++) big[40 + i * 8 + 1] = 0;
    big[41] = 255; // the first header claims 2048 bytes: 15 + 255 more units than present
    expect(walkIpv6Chain(big).kind).toBe('truncated');
  });

  it('RFC 7112: the first fragment must hold every header through the upper-layer one (as Linux judges it)', () => {
    expect(firstFragmentChain(fromHex(PING_FRAGMENT_0).subarray(48), 58)).toBe(FirstFragmentChain.Whole);
    expect(firstFragmentChain(Uint8Array.of(0x80, 0, 0, 0), 58)).toBe(FirstFragmentChain.UpperLayerCut); // 4 of ICMPv6's 8 bytes
    expect(firstFragmentChain(new Uint8Array(8), 6)).toBe(FirstFragmentChain.UpperLayerCut); // 8 of TCP's 20 bytes
    // Destination Options (16 bytes, 8 present) then ICMPv6: the chain says where ICMPv6 starts, and it is missing.
    expect(firstFragmentChain(Uint8Array.of(58, 1, 1, 4, 0, 0, 0, 0), 60)).toBe(FirstFragmentChain.UpperLayerCut);
    // Destination Options then another: the fragment ends where the second starts, so nothing says where the
    // upper layer is; Linux reassembles (thc-ipv6's 2000 headers in fragments).
    expect(firstFragmentChain(Uint8Array.of(60, 0, 1, 4, 0, 0, 0, 0), 60)).toBe(FirstFragmentChain.RunsOn);
    expect(firstFragmentChain(Uint8Array.of(60, 0, 1, 4, 0, 0, 0, 0, 60), 60)).toBe(FirstFragmentChain.RunsOn); // 1 octet of the next
    expect(firstFragmentChain(Uint8Array.of(59, 0, 1, 4, 0, 0, 0, 0), 60)).toBe(FirstFragmentChain.Whole); // No Next Header
    // 4097 empty headers in the first fragment alone: past the byte limit.
    const long = new Uint8Array(4097 * 8);
    for (let i = 0; i < 4097; i++) long[i * 8] = 60;
    expect(firstFragmentChain(long, 60)).toBe(FirstFragmentChain.TooLong);
  });
});

describe('The chain walker (one for input, ICMPv6 quotes and RFC 7112)', () => {
  it('steps header by header, with the Next Header field of each, and resumes in a reassembled packet', () => {
    // Hop-by-Hop (8) → atomic Fragment (8) → Destination Options (16) → ICMPv6.
    const p = new Uint8Array(40 + 8 + 8 + 16 + 8);
    p[0] = 0x60;
    p[6] = 0;
    p.set([44, 0, 1, 4, 0, 0, 0, 0], 40);
    p.set([60, 0, 0, 0, 0, 0, 0, 1], 48);
    p.set([58, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 56);
    const walker = new Ipv6ChainWalker().start(p, 0, 6, 40);
    const seen: [string, number, number, number][] = [];
    for (let step = walker.step(); ; step = walker.step()) {
      seen.push([step, walker.nextHeader, walker.offset, walker.nextHeaderField]);
      if (step !== ChainStep.Extension) break;
      walker.advance();
    }
    expect(seen).toEqual([
      ['extension', 0, 40, 6],
      ['extension', 44, 48, 40],
      ['extension', 60, 56, 48],
      ['upperLayer', 58, 72, 56],
    ]);
    expect(walker.count).toBe(3);
    expect(walkIpv6Chain(p)).toEqual({ kind: 'upperLayer', nextHeader: 58, offset: 72, nextHeaderField: 56, fragmentHeader: 48 });
    // Cut inside the Destination Options header: truncated there, not before.
    walker.start(p.subarray(0, 70), 0, 6, 40);
    walker.step();
    walker.advance();
    walker.step();
    walker.advance();
    expect([walker.step(), walker.offset]).toEqual(['truncated', 56]);
    // A reassembled packet: the walk goes on there, counting the Fragment header it left.
    const whole = new Uint8Array(48);
    walker.advanceInto(whole, 17, 6, 40);
    expect([walker.step(), walker.nextHeader, walker.offset, walker.count]).toEqual(['upperLayer', 17, 40, 3]);
  });
});
