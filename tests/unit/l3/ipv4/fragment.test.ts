import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { createTestContext } from '../../../../src/core/context.js';
import { fragmentIpv4, ipv4FragmentCount } from '../../../../src/l3/ipv4/fragment.js';
import { Ipv4HeaderView, emitIpv4Header, finishIpv4Header, ipv4HeaderLength, ipv4Record } from '../../../../src/l3/ipv4/header.js';
import { Ipv4Reassembler } from '../../../../src/l3/ipv4/reassembly.js';
import { PING_ECHO_REQUEST, PING_FRAGMENT_0, PING_FRAGMENT_1 } from '../captures.js';

/** Collects copies of the fragments (the emitted view is only valid during the call). */
function fragments(packet: Uint8Array, mtu: number): { result: string; out: Uint8Array[] } {
  const out: Uint8Array[] = [];
  const result = fragmentIpv4(packet, mtu, (f) => out.push(f.slice()));
  return { result, out };
}

/** A datagram with `payloadLength` bytes of counting data and the given options. */
function datagram(payloadLength: number, options: Uint8Array = new Uint8Array(0), fields: Partial<Parameters<typeof ipv4Record>[0]> = {}): Uint8Array {
  const record = ipv4Record({ protocol: 17, source: 0x0a4d0102, destination: 0x0a4d0202, identification: 0x1234, options, ...fields });
  const headerLength = ipv4HeaderLength(record);
  const buf = new Uint8Array(headerLength + payloadLength);
  emitIpv4Header({ ...record, totalLength: buf.length }, buf, 0);
  for (let i = 0; i < payloadLength; i++) buf[headerLength + i] = (i * 7 + (i >> 8)) & 0xff;
  return buf;
}

/** What Linux sent before fragmenting: the first fragment's header (MF cleared) + both fragments' data. */
function linuxOriginal(): Uint8Array {
  const f0 = fromHex(PING_FRAGMENT_0);
  const f1 = fromHex(PING_FRAGMENT_1);
  const whole = new Uint8Array(20 + 976 + 232);
  whole.set(f0.subarray(0, 20));
  whole.set(f0.subarray(20), 20);
  whole.set(f1.subarray(20), 20 + 976);
  whole[6] = 0; // flags + offset: none
  whole[7] = 0;
  finishIpv4Header(whole, 0, whole.length);
  return whole;
}

describe('fragmentIpv4', () => {
  it('cuts a 1228-byte ping at MTU 1000 into exactly the two fragments Linux sent', () => {
    const { result, out } = fragments(linuxOriginal(), 1000);
    expect(result).toBe('ok');
    expect(out.map((f) => toHex(f))).toEqual([PING_FRAGMENT_0, PING_FRAGMENT_1]);
  });

  it('passes a packet that fits through unchanged, without link padding', () => {
    const padded = new Uint8Array(100);
    padded.set(fromHex(PING_ECHO_REQUEST));
    const { result, out } = fragments(padded, 1500);
    expect(result).toBe('ok');
    expect(out.map((f) => toHex(f))).toEqual([PING_ECHO_REQUEST]);
  });

  it('refuses when DF is set, emitting nothing', () => {
    const { result, out } = fragments(fromHex(PING_ECHO_REQUEST), 68);
    expect(result).toBe('needsFragmentationButDF');
    expect(out).toEqual([]);
  });

  it('refuses a forwarded fragment whose data runs past 65535 (its offsets would not fit)', () => {
    const piece = datagram(1480, undefined, { fragmentOffset: 65_528, moreFragments: false });
    expect(fragments(piece, 576)).toEqual({ result: 'oversize', out: [] });
  });

  it('keeps every fragment within the MTU, data on 8-byte boundaries, checksums right', () => {
    const { out } = fragments(datagram(3000), 1500);
    expect(out.map((f) => f.length)).toEqual([1500, 1500, 60]); // 1480 + 1480 + 40 data bytes
    expect(out.length).toBe(ipv4FragmentCount(3020, 1500));
    const v = new Ipv4HeaderView();
    const seen = out.map((f) => {
      expect(v.wrap(f)).toBeUndefined();
      expect(verifyChecksum(f, 0, 20)).toBe(true);
      return [v.fragmentOffset, v.moreFragments, v.identification];
    });
    expect(seen).toEqual([
      [0, true, 0x1234],
      [1480, true, 0x1234],
      [2960, false, 0x1234],
    ]);
  });

  it('adds its offset and keeps MF when the original is itself a fragment (RFC 791 §3.2)', () => {
    const piece = datagram(1000, undefined, { fragmentOffset: 800, moreFragments: true });
    const { out } = fragments(piece, 420);
    const v = new Ipv4HeaderView();
    const seen = out.map((f) => (v.wrap(f), [v.fragmentOffset, v.moreFragments, v.payload.length]));
    expect(seen).toEqual([
      [800, true, 400],
      [1200, true, 400],
      [1600, true, 200], // the last piece of a non-final fragment still says "more"
    ]);
  });

  it('copies all options into the first fragment, only the copied ones into the rest', () => {
    // Router Alert (type 0x94: copied) then Record Route (type 7: not copied), 12 bytes.
    const options = fromHex('94040000 0707 0400000000 00');
    const { out } = fragments(datagram(200, options), 100);
    const v = new Ipv4HeaderView();
    expect(v.wrap(out[0]!)).toBeUndefined();
    expect(v.headerLength).toBe(32);
    expect(toHex(v.options)).toBe('940400000707040000000000');
    expect(v.payload.length).toBe(64); // (100 - 32) rounded down to 8
    for (const f of out.slice(1)) {
      expect(v.wrap(f)).toBeUndefined();
      expect(v.headerLength).toBe(24);
      expect(toHex(v.options)).toBe('94040000');
    }
  });

  it('needs an MTU of at least 68 (RFC 791 §3.1) and is not re-entrant', () => {
    expect(() => fragmentIpv4(datagram(100), 67, () => {})).toThrow(RangeError);
    expect(() => fragmentIpv4(new Uint8Array(10), 1500, () => {})).toThrow(RangeError);
    expect(() => fragmentIpv4(datagram(200), 100, () => fragmentIpv4(datagram(200), 100, () => {}))).toThrow(/re-entrant/);
    // and it recovers afterwards
    expect(fragments(datagram(200), 100).result).toBe('ok');
  });

  it('fragment → reassemble in any order, at any MTU, is the identity', () => {
    const optionsArb = fc.constantFrom(new Uint8Array(0), fromHex('94040000'), fromHex('94040000 0707 0400000000 00'), fromHex('01010101 01010101'));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9000 }),
        fc.integer({ min: 68, max: 1600 }),
        optionsArb,
        fc.integer({ min: 0, max: 0xffff }),
        fc.infiniteStream(fc.nat()),
        (payloadLength, mtu, options, identification, randoms) => {
          const original = datagram(payloadLength, options, { identification, dscp: 10 });
          if (mtu < original.length - payloadLength + 8) return; // header alone does not fit: not a legal link
          const { result, out } = fragments(original, mtu);
          expect(result).toBe('ok');
          for (const f of out) expect(f.length).toBeLessThanOrEqual(mtu);
          // Fisher-Yates with the generated randoms.
          const it = randoms[Symbol.iterator]();
          for (let i = out.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [out[i], out[j]] = [out[j]!, out[i]!];
          }
          const reassembler = new Ipv4Reassembler(createTestContext());
          const results = out.map((f) => reassembler.receive(f));
          const whole = results.filter((r) => r !== undefined);
          expect(whole.length).toBe(1);
          expect(toHex(whole[0]!)).toBe(toHex(original));
          expect(results.at(-1)).toBeDefined(); // completes exactly on the last piece
          expect(reassembler.bytesHeld).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
