import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, getU16, setU16 } from '../../../src/core/bytes.js';
import {
  finishChecksum,
  fold,
  internetChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  sumWords,
  updateChecksum16,
  updateChecksum32,
  verifyChecksum,
} from '../../../src/core/checksum.js';
import { UDP_TO_CLOSED_PORT } from '../l3/captures.js';

/** The textbook loop, one word at a time, folding as it goes: the reference for the unrolled one. */
function naiveChecksum(buf: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) {
    sum += (buf[i]! << 8) | (i + 1 < buf.length ? buf[i + 1]! : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

describe('RFC 1071 internet checksum', () => {
  // RFC 1071 §3 "Numerical Examples": bytes 00 01 f2 03 f4 f5 f6 f7.
  const example = fromHex('0001 f203 f4f5 f6f7');

  it('sums the RFC 1071 §3 example words to 2ddf0 and folds to ddf2', () => {
    expect(sumWords(example, 0, 8)).toBe(0x2ddf0); // 0001 + f203 + f4f5 + f6f7
    expect(fold(0x2ddf0)).toBe(0xddf2); // ddf0 + 2 (end-around carry)
    expect(internetChecksum(example, 0, 8)).toBe(0x220d); // ~ddf2
  });

  it('verifies once the checksum is appended', () => {
    const withChecksum = new Uint8Array(10);
    withChecksum.set(example);
    setU16(withChecksum, 8, internetChecksum(example, 0, 8));
    expect(verifyChecksum(withChecksum, 0, 10)).toBe(true);
    withChecksum[3]! ^= 0x01;
    expect(verifyChecksum(withChecksum, 0, 10)).toBe(false);
  });

  it('pads an odd trailing byte with zero on the right (RFC 1071 §4.1)', () => {
    expect(sumWords(fromHex('0102 03'), 0, 3)).toBe(0x0102 + 0x0300);
  });

  it('honours offset and length and an initial sum', () => {
    const buf = fromHex('ffff 0001 f203 f4f5 f6f7 ffff');
    expect(internetChecksum(buf, 2, 8)).toBe(0x220d);
    expect(sumWords(buf, 2, 4, 5)).toBe(5 + 0x0001 + 0xf203);
    expect(finishChecksum(0xffff)).toBe(0);
  });

  it('matches a word-at-a-time reference for any bytes, lengths and alignments', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, pad) => {
        const buf = new Uint8Array(pad + bytes.length);
        buf.set(bytes, pad);
        expect(internetChecksum(buf, pad, bytes.length)).toBe(naiveChecksum(bytes));
      }),
    );
  });

  it('does not overflow on a 64 KB datagram of 0xff', () => {
    const big = new Uint8Array(65_535).fill(0xff);
    expect(internetChecksum(big, 0, big.length)).toBe(naiveChecksum(big));
  });
});

describe('pseudo-header sums', () => {
  it('IPv4 (RFC 768): a UDP datagram captured from Linux verifies', () => {
    // 10.77.1.2:54925 → 10.77.1.1:33434, "hello tapnet", UDP checksum 0x01cb.
    const packet = fromHex(UDP_TO_CLOSED_PORT);
    const udp = packet.subarray(20);
    const pseudo = pseudoHeaderSumV4(0x0a4d0102, 0x0a4d0101, 17, udp.length);
    expect(getU16(udp, 6)).toBe(0x01cb);
    expect(verifyChecksum(udp, 0, udp.length, pseudo)).toBe(true);
    expect(verifyChecksum(udp, 0, udp.length, pseudoHeaderSumV4(0x0a4d0102, 0x0a4d0103, 17, udp.length))).toBe(false);
  });

  it('IPv6 (RFC 8200 §8.1): the same words as the explicit 40-byte pseudo-header', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xfffffff }),
        (src, dst, nextHeader, length) => {
          const explicit = new Uint8Array(40);
          explicit.set(src, 0);
          explicit.set(dst, 16);
          new DataView(explicit.buffer).setUint32(32, length);
          explicit[39] = nextHeader;
          expect(fold(pseudoHeaderSumV6(src, dst, nextHeader, length))).toBe(fold(sumWords(explicit, 0, 40)));
        },
      ),
    );
  });
});

describe('RFC 1624 incremental update', () => {
  it('reproduces the RFC 1624 §4 example: HC 0xDD2F, m 0x5555 → 0x3285 gives 0x0000 (not eqn 2\'s 0xFFFF)', () => {
    expect(updateChecksum16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });

  it('equals a full recomputation after changing any 16-bit word', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 128 }).filter((b) => b.length % 2 === 0),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        (bytes, at, newWord) => {
          const index = (at % (bytes.length / 2)) * 2;
          const before = internetChecksum(bytes, 0, bytes.length);
          const oldWord = getU16(bytes, index);
          setU16(bytes, index, newWord);
          const full = internetChecksum(bytes, 0, bytes.length);
          // One's complement has two zeros: ±0 (0x0000 and 0xffff) are the same sum.
          const incremental = updateChecksum16(before, oldWord, newWord);
          expect(incremental === full || (incremental ^ full) === 0xffff).toBe(true);
          expect(fold(sumWords(bytes, 0, bytes.length) + incremental) % 0xffff).toBe(0);
        },
      ),
    );
  });

  it('updates for a 32-bit field (a NAT address rewrite) equal to recomputation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, newAddress) => {
        setU16(bytes, 10, 0);
        setU16(bytes, 10, internetChecksum(bytes, 0, 20));
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        const oldAddress = view.getUint32(12);
        view.setUint32(12, newAddress);
        setU16(bytes, 10, updateChecksum32(getU16(bytes, 10), oldAddress, newAddress));
        expect(verifyChecksum(bytes, 0, 20)).toBe(true);
      }),
    );
  });
});
