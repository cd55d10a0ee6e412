/**
 * IPv6 input, fragmentation and reassembly, on the kernel's own packets
 * (./captures.ts) and on hand-made hostile ones.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTestContext } from '../../../../src/core/context.js';
import { fromHex, setU16, toHex } from '../../../../src/core/bytes.js';
import { IPV6_ALL_NODES, ipv6Equal, parseIpv6, type Ipv6Address } from '../../../../src/l3/ipv6/address.js';
import { fragmentIpv6, ipv6FragmentCount } from '../../../../src/l3/ipv6/fragment.js';
import { Ipv6Input, type Ipv6InputError, type ReceivedIpv6 } from '../../../../src/l3/ipv6/input.js';
import type { Ipv6InterfaceAddress, Ipv6Link } from '../../../../src/l3/ipv6/link.js';
import { Ipv6Reassembler } from '../../../../src/l3/ipv6/reassembly.js';
import { ECHO_REQUEST, PING_FRAGMENT_0, PING_FRAGMENT_1, PING_FRAGMENT_2 } from './captures.js';

const TAPNET = parseIpv6('fd77::1')!;

function setup() {
  const ctx = createTestContext(3);
  const addresses: Ipv6InterfaceAddress[] = [{ address: TAPNET, prefixLength: 64, state: 'preferred', autoconfigured: false }];
  const link: Ipv6Link = {
    name: 'test0',
    mtu: 1500,
    ipv6Addresses: addresses,
    hasGroup: (g: Ipv6Address) => ipv6Equal(g, IPV6_ALL_NODES),
    sendIpv6: () => {},
  };
  const errors: Ipv6InputError[] = [];
  const timeouts: Uint8Array[] = [];
  const input = new Ipv6Input(ctx, () => [link], {
    error: (_packet, error) => errors.push(error),
    reassemblyTimeout: (first) => timeouts.push(first),
  });
  const delivered: { nextHeader: number; payload: Uint8Array; fragmented: boolean; source: string }[] = [];
  input.register(58, (d: ReceivedIpv6) => {
    delivered.push({ nextHeader: d.nextHeader, payload: d.payload.slice(), fragmented: d.fragmented, source: toHex(d.source) });
    return 'delivered';
  });
  const receive = (hex: string | Uint8Array, linkMulticast = false): void => input.receive(typeof hex === 'string' ? fromHex(hex) : hex, link, linkMulticast);
  return { ctx, input, link, errors, timeouts, delivered, receive };
}

/** A packet from fd77::2 to fd77::1: `headers` (extension headers, raw) then `payload`. */
function packet(nextHeader: number, headers: number[], payload: Uint8Array = new Uint8Array(8)): Uint8Array {
  const p = new Uint8Array(40 + headers.length + payload.length);
  p.set(fromHex(ECHO_REQUEST).subarray(0, 40));
  p[6] = nextHeader;
  setU16(p, 4, headers.length + payload.length);
  p.set(headers, 40);
  p.set(payload, 40 + headers.length);
  return p;
}

describe('IPv6 input', () => {
  it('delivers the kernel\'s echo request to ICMPv6', () => {
    const { delivered, receive, ctx } = setup();
    receive(ECHO_REQUEST);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.payload.length).toBe(64);
    expect(delivered[0]!.fragmented).toBe(false);
    expect(ctx.stats.get('Ip6InDelivers')).toBe(1);
  });

  it('reassembles the kernel\'s three fragments, in any order', () => {
    const { delivered, receive, ctx } = setup();
    receive(PING_FRAGMENT_2);
    receive(PING_FRAGMENT_0);
    expect(delivered).toHaveLength(0);
    receive(PING_FRAGMENT_1);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.payload.length).toBe(3008);
    expect(delivered[0]!.payload[0]).toBe(128); // echo request
    expect(delivered[0]!.fragmented).toBe(true);
    expect(ctx.stats.get('Ip6ReasmOKs')).toBe(1);
    expect(ctx.stats.get('Ip6ReasmReqds')).toBe(3);
  });

  it('fragments exactly as the kernel did (same identification, same pieces)', () => {
    const { delivered, receive } = setup();
    receive(PING_FRAGMENT_0);
    receive(PING_FRAGMENT_1);
    receive(PING_FRAGMENT_2);
    const whole = packet(58, [], delivered[0]!.payload);
    whole.set(fromHex(PING_FRAGMENT_0).subarray(0, 6)); // same flow label
    const pieces: string[] = [];
    expect(fragmentIpv6(whole, 40, 6, 1500, 0x4b0ab6bb, (f) => pieces.push(toHex(f)))).toBe(3);
    expect(pieces).toEqual([PING_FRAGMENT_0, PING_FRAGMENT_1, PING_FRAGMENT_2]);
    expect(ipv6FragmentCount(whole.length, 1500)).toBe(3);
  });

  it('drops the whole datagram when fragments overlap (RFC 5722), an exact duplicate alone', () => {
    const a = setup();
    a.receive(PING_FRAGMENT_0);
    a.receive(PING_FRAGMENT_0);
    expect(a.ctx.stats.get('ip6ReasmDuplicates')).toBe(1);
    a.receive(PING_FRAGMENT_1);
    a.receive(PING_FRAGMENT_2);
    expect(a.delivered).toHaveLength(1);

    const b = setup();
    b.receive(PING_FRAGMENT_0);
    const overlapping = fromHex(PING_FRAGMENT_1);
    setU16(overlapping, 42, 1440 | 1); // offset 1440 (8 bytes into the first fragment), M
    b.receive(overlapping);
    b.receive(PING_FRAGMENT_1);
    b.receive(PING_FRAGMENT_2);
    expect(b.ctx.stats.get('ip6ReasmOverlaps')).toBe(1);
    expect(b.delivered).toHaveLength(0);

    // A subset of data already held is still an overlap for IPv6 (RFC 5722), unlike IPv4.
    const c = setup();
    c.receive(PING_FRAGMENT_0);
    const subset = fromHex(PING_FRAGMENT_0).subarray(0, 48 + 512);
    setU16(subset, 4, 8 + 512);
    setU16(subset, 42, 512 | 1); // offset 512, M: inside [0, 1448)
    c.receive(subset);
    c.receive(PING_FRAGMENT_1);
    c.receive(PING_FRAGMENT_2);
    expect([c.ctx.stats.get('ip6ReasmOverlaps'), c.delivered.length]).toEqual([1, 0]);
  });

  it('times out after 60 s; Time Exceeded only when the first fragment came (RFC 8200 §4.5)', () => {
    const { ctx, receive, timeouts, input } = setup();
    receive(PING_FRAGMENT_0);
    ctx.timers.advanceTo(ctx.clock, 59_999);
    expect(timeouts).toHaveLength(0);
    ctx.timers.advanceTo(ctx.clock, 60_000);
    expect(timeouts.map((t) => toHex(t))).toEqual([PING_FRAGMENT_0]);
    receive(PING_FRAGMENT_1);
    ctx.timers.advanceTo(ctx.clock, 130_000);
    expect(timeouts).toHaveLength(1);
    expect(ctx.stats.get('Ip6ReasmTimeout')).toBe(2);
    expect(input.reassembler.bytesHeld).toBe(0);
  });

  it('bounds reassembly memory and datagrams in progress', () => {
    const ctx = createTestContext(1);
    const r = new Ipv6Reassembler(ctx, { memoryMax: 4000, datagramsMax: 2 });
    const frag = (id: number, offset: number) => ({
      source: TAPNET,
      destination: TAPNET,
      identification: id,
      offset,
      moreFragments: true,
      data: new Uint8Array(1400),
      packet: new Uint8Array(1448),
      fragmentHeaderOffset: 40,
      nextHeaderField: 6,
      nextHeader: 17,
    });
    r.receive(frag(1, 1400));
    r.receive(frag(1, 2800));
    expect(r.receive(frag(1, 4200))).toBeUndefined(); // would pass 4000 bytes: the datagram goes
    expect(ctx.stats.get('ip6ReasmMemoryFull')).toBe(1);
    expect(r.bytesHeld).toBe(0);
    r.receive(frag(2, 1400));
    r.receive(frag(3, 1400));
    r.receive(frag(4, 1400)); // a third datagram: the oldest (2) is evicted
    expect(ctx.stats.get('ip6ReasmEvicted')).toBe(1);
    expect(r.datagramsInProgress).toBe(2);
  });

  it('reassembles a legitimate datagram during a flood of 20 000 bogus first fragments', () => {
    const { ctx, delivered, receive } = setup();
    const bogus = packet(44, [58, 0, 0, 1, 0, 0, 0, 0], new Uint8Array(8));
    for (let i = 0; i < 20_000; i++) {
      bogus[47] = i & 0xff; // Identification
      bogus[46] = (i >> 8) & 0xff;
      receive(bogus);
      if (i % 1000 === 999) ctx.timers.advanceTo(ctx.clock, (i + 1) * 0.1); // 20 000 in 2 s
      if (i === 10_000) receive(PING_FRAGMENT_0);
      if (i === 10_300) receive(PING_FRAGMENT_1);
      if (i === 10_600) receive(PING_FRAGMENT_2);
    }
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.payload.length).toBe(3008);
    expect(ctx.stats.get('ip6ReasmEvicted')).toBeGreaterThan(18_000);
  });

  const cases: Array<[string, () => Uint8Array, Ipv6InputError | undefined, CounterName]> = [
    // RFC 5095: RH0 with segments left 1 → Parameter Problem code 0 at the Routing Type octet (40 + 2).
    ['RH0', () => packet(43, [58, 2, 0, 1, 0, 0, 0, 0, ...new Array<number>(16).fill(0)]), { type: 4, code: 0, pointer: 42 }, 'Ip6InHdrErrors'],
    ['unknown next header', () => packet(253, []), { type: 4, code: 1, pointer: 6 }, 'Ip6InUnknownProtos'],
    ['Hop-by-Hop after Destination Options', () => packet(60, [0, 0, 1, 4, 0, 0, 0, 0, 58, 0, 1, 4, 0, 0, 0, 0]), { type: 4, code: 1, pointer: 40 }, 'Ip6InUnknownProtos'],
    ['option 10xxxxxx', () => packet(60, [58, 0, 0x9e, 1, 0, 1, 1, 0]), { type: 4, code: 2, pointer: 42, evenToMulticast: true }, 'Ip6InHdrErrors'],
    ['option 01xxxxxx', () => packet(60, [58, 0, 0x5e, 1, 0, 1, 1, 0]), undefined, 'Ip6InHdrErrors'],
    ['9 bytes of padding', () => packet(60, [58, 1, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]), undefined, 'Ip6InHdrErrors'],
    ['options header cut off', () => packet(60, [58, 3, 0, 0, 0, 0, 0, 0]).subarray(0, 48), undefined, 'Ip6InHdrErrors'],
    ['RFC 7112 incomplete first fragment', () => packet(44, [60, 0, 0, 1, 0, 0, 0, 9], Uint8Array.of(58, 1, 1, 4, 0, 0, 0, 0)), { type: 4, code: 3, pointer: 0 }, 'Ip6InHdrErrors'],
    ['non-final fragment not a multiple of 8', () => packet(44, [58, 0, 0, 1, 0, 0, 0, 9], new Uint8Array(12)), { type: 4, code: 0, pointer: 4 }, 'Ip6InHdrErrors'],
    ['fragment past 65535', () => packet(44, [58, 0, 0xff, 0xf0, 0, 0, 0, 9], new Uint8Array(24)), { type: 4, code: 0, pointer: 42 }, 'Ip6InHdrErrors'],
  ];
  for (const [name, make, error, counter] of cases) {
    it(`${name}: ${error ? `Parameter Problem code ${error.code}` : 'dropped silently'}, ${counter}`, () => {
      const { errors, receive, ctx, delivered } = setup();
      receive(make());
      expect(errors).toEqual(error ? [error] : []);
      expect(ctx.stats.get(counter)).toBe(1);
      expect(delivered).toHaveLength(0);
    });
  }

  it('an atomic fragment is processed alone (RFC 6946)', () => {
    const { delivered, receive, ctx } = setup();
    receive(packet(44, [58, 0, 0, 0, 0, 0, 0, 1], new Uint8Array(8)));
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.fragmented).toBe(true);
    expect(ctx.stats.get('Ip6ReasmReqds')).toBe(0);
  });

  it('takes a chain of 20 headers (the limit is on bytes, as Linux has none on the count); refuses addresses that are not ours, groups not joined, bad sources', () => {
    const { receive, ctx, delivered } = setup();
    const chain: number[] = [];
    for (let i = 0; i < 20; i++) chain.push(i === 19 ? 58 : 60, 0, 1, 4, 0, 0, 0, 0);
    receive(packet(60, chain));
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.payload.length).toBe(8);
    expect(ctx.stats.get('Ip6InHdrErrors')).toBe(0);
    const other = packet(58, []);
    other[39] = 9; // fd77::9
    receive(other);
    expect(ctx.stats.get('Ip6InAddrErrors')).toBe(1);
    const group = packet(58, []);
    group.set(parseIpv6('ff02::1:ff00:9')!, 24);
    receive(group, true);
    expect(ctx.stats.get('ip6InMcastNotJoined')).toBe(1);
    const multicastSource = packet(58, []);
    multicastSource.set(IPV6_ALL_NODES, 8);
    receive(multicastSource);
    expect(ctx.stats.get('Ip6InHdrErrors')).toBe(1);
  });

  it('never throws on mutated packets', () => {
    const { input, link } = setup();
    const seeds = [ECHO_REQUEST, PING_FRAGMENT_0, PING_FRAGMENT_2].map(fromHex);
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(300), (seed, edits, cut) => {
        const p = seed.slice(0, Math.max(0, seed.length - cut));
        for (const [at, value] of edits) if (at < p.length) p[at] = value;
        input.receive(p, link, false);
      }),
      { numRuns: 2000 },
    );
  });
});
