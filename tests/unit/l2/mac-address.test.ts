import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../src/core/bytes.js';
import { seededRandom } from '../../../src/core/time.js';
import {
  BROADCAST_MAC,
  formatMac,
  isBroadcastMac,
  isLocalMac,
  isMac,
  isMulticastMac,
  isUnicastMac,
  parseMac,
  randomLocalMac,
  readMac,
  writeMac,
} from '../../../src/l2/mac-address.js';

describe('MAC addresses', () => {
  it('reads the first octet as the most significant', () => {
    const buf = fromHex('aa 02 00 00 00 00 01 bb');
    expect(readMac(buf, 1)).toBe(0x0200_0000_0001);
    expect(readMac(fromHex('ffffffffffff'), 0)).toBe(BROADCAST_MAC);
    // the top octet above 2^40 must survive (no 32-bit truncation)
    expect(readMac(fromHex('fedcba987654'), 0)).toBe(0xfedc_ba98_7654);
  });

  it('writes at an offset and touches nothing else', () => {
    const buf = new Uint8Array(10).fill(0xa5);
    writeMac(buf, 2, 0xfedc_ba98_7654);
    expect(toHex(buf)).toBe('a5a5fedcba987654a5a5');
  });

  it('formats and parses', () => {
    expect(formatMac(0x0200_0000_0001)).toBe('02:00:00:00:00:01');
    expect(formatMac(BROADCAST_MAC)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMac(0)).toBe('00:00:00:00:00:00');
    expect(parseMac('02:00:00:00:00:01')).toBe(0x0200_0000_0001);
    expect(parseMac('FE-DC-BA-98-76-54')).toBe(0xfedc_ba98_7654);
    for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:01:02', '02:00-00:00:00:01', '2:0:0:0:0:1', '0g:00:00:00:00:01', '020000000001']) {
      expect(parseMac(bad), bad).toBeUndefined();
    }
  });

  it('classifies by the I/G and U/L bits', () => {
    expect(isMulticastMac(0x0100_5e00_0001)).toBe(true); // IPv4 multicast 224.0.0.1
    expect(isMulticastMac(0x3333_0000_0001)).toBe(true); // IPv6 multicast
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(0x0200_0000_0001)).toBe(false);
    expect(isMulticastMac(0xfedc_ba98_7654)).toBe(false);
    expect(isBroadcastMac(BROADCAST_MAC)).toBe(true);
    expect(isBroadcastMac(0x0100_5e00_0001)).toBe(false);
    expect(isUnicastMac(0)).toBe(false);
    expect(isUnicastMac(0x0060_089f_b1f3)).toBe(true);
    expect(isLocalMac(0x0200_0000_0001)).toBe(true);
    expect(isLocalMac(0x0060_089f_b1f3)).toBe(false);
    expect(isMac(BROADCAST_MAC)).toBe(true);
    expect(isMac(BROADCAST_MAC + 1)).toBe(false);
    expect(isMac(-1)).toBe(false);
  });

  it('makes random locally administered unicast addresses, deterministic per seed', () => {
    const random = seededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const mac = randomLocalMac(random);
      expect(isMac(mac)).toBe(true);
      expect(isLocalMac(mac)).toBe(true);
      expect(isMulticastMac(mac)).toBe(false);
      seen.add(mac);
    }
    expect(seen.size).toBe(1000);
    expect(randomLocalMac(seededRandom(3))).toBe(randomLocalMac(seededRandom(3)));
  });

  it('round-trips through bytes and text (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: BROADCAST_MAC }), (mac) => {
        const buf = new Uint8Array(6);
        writeMac(buf, 0, mac);
        expect(readMac(buf, 0)).toBe(mac);
        expect(parseMac(formatMac(mac))).toBe(mac);
      }),
    );
  });

  it('parseMac never throws on arbitrary text (property)', () => {
    fc.assert(fc.property(fc.string(), (text) => {
      const mac = parseMac(text);
      if (mac !== undefined) expect(isMac(mac)).toBe(true);
    }));
  });
});
