/**
 * Neighbor Discovery and MLD messages captured from Linux (../ipv6/captures.ts),
 * and tapnet's router advertisement as rdisc6 reads it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { IPV6_UNSPECIFIED, formatIpv6, parseIpv6, type Ipv6Address } from '../../../../src/l3/ipv6/address.js';
import { verifyIcmpv6Checksum } from '../../../../src/l3/icmpv6/message.js';
import { describeNdp, emitNdp, findNdpOption, ndpLength, parseNdp, type NdpMessage } from '../../../../src/l3/icmpv6/ndp-message.js';
import { describeMldReport, emitMldReport, parseMldQuery, parseMldReport, decodeMaxResponseCode } from '../../../../src/l3/icmpv6/mld-message.js';
import { DAD_NS, MLD_REPORT, MLD_REPORT_FROM_UNSPECIFIED, NEIGHBOR_ADVERTISEMENT, NEIGHBOR_SOLICITATION, ROUTER_SOLICITATION } from '../ipv6/captures.js';

const addr = (hex: string, offset: number): Ipv6Address => fromHex(hex).slice(offset, offset + 16);
const body = (hex: string, skip = 40): Uint8Array => fromHex(hex).subarray(skip);

/** Parses a captured message, re-emits it with the packet's addresses, and expects the same bytes. */
function roundTrip(hex: string): NdpMessage {
  const msg = body(hex);
  const source = addr(hex, 8);
  const destination = addr(hex, 24);
  expect(verifyIcmpv6Checksum(msg, source, destination)).toBe(true);
  const r = parseNdp(msg);
  if (!r.ok) throw new Error(r.error.reason);
  expect(ndpLength(r.value)).toBe(msg.length);
  const buf = new Uint8Array(msg.length + 4).fill(0xa5);
  emitNdp(r.value, buf, 2, source, destination);
  expect(toHex(buf.subarray(2, 2 + msg.length))).toBe(toHex(msg));
  expect(buf[1]).toBe(0xa5);
  return r.value;
}

describe('NDP messages (RFC 4861 §4)', () => {
  it('neighbor solicitation for address resolution', () => {
    const m = roundTrip(NEIGHBOR_SOLICITATION);
    expect(m.type).toBe(135);
    if (m.type !== 135) return;
    expect(formatIpv6(m.target)).toBe('fd77::1');
    expect(findNdpOption(m.options, 'sourceLinkLayerAddress')?.mac).toBe(0x02000000000a);
    expect(describeNdp(body(NEIGHBOR_SOLICITATION))).toBe('ICMP6, neighbor solicitation, who has fd77::1, length 32');
  });

  it('DAD probe: from ::, with the Nonce option and no link-layer address (RFC 4862 §5.4.2, RFC 7527)', () => {
    expect(toHex(addr(DAD_NS, 8))).toBe(toHex(IPV6_UNSPECIFIED));
    const m = roundTrip(DAD_NS);
    expect(m.options).toHaveLength(1);
    expect(findNdpOption(m.options, 'nonce')?.nonce.length).toBe(6);
    expect(findNdpOption(m.options, 'sourceLinkLayerAddress')).toBeUndefined();
  });

  it('neighbor advertisement with R, S and O from a router', () => {
    const m = roundTrip(NEIGHBOR_ADVERTISEMENT);
    if (m.type !== 136) throw new Error('type');
    expect([m.router, m.solicited, m.override]).toEqual([true, true, true]);
    expect(findNdpOption(m.options, 'targetLinkLayerAddress')?.mac).toBe(0x020000000001);
    expect(describeNdp(body(NEIGHBOR_ADVERTISEMENT))).toBe('ICMP6, neighbor advertisement, tgt is fd77::1 [RSO], length 32');
  });

  it('router solicitation', () => {
    const m = roundTrip(ROUTER_SOLICITATION);
    expect(m.type).toBe(133);
    expect(findNdpOption(m.options, 'sourceLinkLayerAddress')?.mac).toBe(0x02000000000a);
  });

  it('router advertisement: every option tapnet sends round-trips (RFC 4861 §4.2, §4.6, RFC 8106 §5.1)', () => {
    const ra: NdpMessage = {
      type: 134,
      curHopLimit: 64,
      managed: false,
      other: true,
      routerPreference: 1,
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: [
        { kind: 'sourceLinkLayerAddress', mac: 0x024e339df8d8 },
        { kind: 'mtu', mtu: 1500 },
        { kind: 'prefixInformation', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 2592000, preferredLifetime: 604800, prefix: parseIpv6('fd77::')! },
        { kind: 'recursiveDnsServer', lifetime: 1800, servers: [parseIpv6('fd77::1')!] },
      ],
    };
    const source = parseIpv6('fe80::4e:33ff:fe9d:f8d8')!;
    const all = parseIpv6('ff02::1')!;
    const buf = new Uint8Array(ndpLength(ra));
    emitNdp(ra, buf, 0, source, all);
    // Fixed part: type 134, code 0, checksum, hop limit 64, O + Prf high (0x48), lifetime 1800, 0, 0.
    expect(toHex(buf.subarray(4, 16))).toBe('404807080000000000000000');
    // Prefix information: type 3, length 4, /64, L+A, 30 days, 7 days, reserved, fd77::.
    expect(toHex(buf.subarray(32, 64))).toBe('030440c000278d0000093a8000000000fd770000000000000000000000000000');
    // RDNSS: type 25, length 3, reserved, 1800 s, fd77::1.
    expect(toHex(buf.subarray(64, 72))).toBe('1903000000000708');
    expect(verifyIcmpv6Checksum(buf, source, all)).toBe(true);
    const back = parseNdp(buf);
    expect(back.ok && back.value).toEqual(ra);
    expect(describeNdp(buf)).toBe('ICMP6, router advertisement, lifetime 1800s, prefix fd77::/64, length 88');
  });

  it('errors: not NDP, too short, code ≠ 0, zero-length or cut-off option', () => {
    expect(!parseNdp(Uint8Array.of(128, 0, 0, 0)).ok).toBe(true);
    const ns = body(NEIGHBOR_SOLICITATION);
    const reason = (b: Uint8Array): string | undefined => {
      const r = parseNdp(b);
      return r.ok ? undefined : r.error.reason;
    };
    expect(reason(ns.subarray(0, 20))).toBe('truncated');
    const code = ns.slice();
    code[1] = 1;
    expect(reason(code)).toBe('badValue');
    const zero = ns.slice();
    zero[25] = 0;
    expect(reason(zero)).toBe('badOption');
    expect(reason(ns.subarray(0, 30))).toBe('badOption');
  });

  it('never throws on random bytes behind an NDP type', () => {
    fc.assert(
      fc.property(fc.constantFrom(133, 134, 135, 136, 137), fc.uint8Array({ maxLength: 120 }), (type, rest) => {
        const b = Uint8Array.of(type, 0, 0, 0, ...rest);
        parseNdp(b);
        describeNdp(b);
      }),
    );
  });
});

describe('MLDv2 (RFC 3810)', () => {
  it('parses the kernel\'s reports and re-emits them', () => {
    for (const [hex, skip, groups] of [
      [MLD_REPORT_FROM_UNSPECIFIED, 48, ['ff02::1:ff00:a']],
      [MLD_REPORT, 48, null],
    ] as const) {
      const msg = body(hex, skip);
      const r = parseMldReport(msg);
      if (!r.ok) throw new Error(r.error.reason);
      if (groups) expect(r.value.records.map((x) => formatIpv6(x.group))).toEqual(groups);
      expect(r.value.records.every((x) => x.type === 4 && x.sources.length === 0)).toBe(true);
      const buf = new Uint8Array(msg.length);
      emitMldReport(r.value, buf, 0, addr(hex, 8), addr(hex, 24));
      expect(toHex(buf)).toBe(toHex(msg));
    }
    expect(describeMldReport(body(MLD_REPORT_FROM_UNSPECIFIED, 48))).toBe('ICMP6, multicast listener report v2, 1 group record(s) [to_ex ff02::1:ff00:a], length 28');
    expect(parseMldReport(body(MLD_REPORT, 48).subarray(0, 30)).ok).toBe(false);
  });

  it('queries: v1 and v2 lengths, the floating-point max response code', () => {
    const q = new Uint8Array(28);
    q[0] = 130;
    q[4] = 0x27;
    q[5] = 0x10; // 10000 ms
    expect(parseMldQuery(q).ok && parseMldQuery(q)).toMatchObject({ value: { maxResponseDelayMs: 10000, version: 2 } });
    expect(parseMldQuery(q.subarray(0, 24)).ok && parseMldQuery(q.subarray(0, 24))).toMatchObject({ value: { version: 1 } });
    expect(parseMldQuery(q.subarray(0, 26)).ok).toBe(false);
    expect(decodeMaxResponseCode(0x8000)).toBe(0x1000 << 3);
  });
});
