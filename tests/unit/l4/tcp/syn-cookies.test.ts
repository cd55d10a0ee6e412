/**
 * SYN cookies (RFC 4987 §3.6, Linux syncookies.c layout): a cookie made for
 * one connection-id comes back with the MSS-table entry at or below the
 * peer's MSS, only within MAX_SYNCOOKIE_AGE minutes, and not for any other
 * connection-id, client ISN or altered cookie.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../../../src/core/time.js';
import { IsnGenerator } from '../../../../src/l4/tcp/isn.js';
import type { IpAddress, TcpNetwork } from '../../../../src/l4/tcp/network.js';
import { seq, seqAdd } from '../../../../src/l4/tcp/seq.js';
import { MAX_SYNCOOKIE_AGE_MINUTES, MSS_TABLE, SynCookies } from '../../../../src/l4/tcp/syn-cookies.js';

/** The hash only reads the addresses' bytes. */
const net = { bytes: (a: IpAddress) => Uint8Array.of((a as number) >>> 24, ((a as number) >>> 16) & 0xff, ((a as number) >>> 8) & 0xff, (a as number) & 0xff) } as unknown as TcpNetwork;
const LOCAL = 0x0a000002;
const REMOTE = 0x0a000001;
const MINUTE = 60_000;

function setup(start = 10 * MINUTE + 5_000) {
  const clock = new ManualClock(start);
  const cookies = new SynCookies(clock, new IsnGenerator(clock, seededRandom(7)));
  return { clock, cookies };
}

describe('SynCookies', () => {
  it('round-trips the largest MSS-table entry not above the peer MSS', () => {
    const { cookies } = setup();
    const isn = seq(0x1234_5678);
    const cases: [number, number][] = [
      [1460, 1460],
      [1459, 1440],
      [1400, 1300],
      [9000, 8960],
      [65535, 65483],
      [536, 536],
      [100, 536], // below the table: its smallest entry (Linux too)
    ];
    for (const [peerMss, expected] of cases) {
      const cookie = cookies.make(net, LOCAL, 80, REMOTE, 40000, isn, peerMss);
      expect(cookies.check(net, LOCAL, 80, REMOTE, 40000, cookie, isn)).toBe(expected);
    }
    expect(MSS_TABLE).toEqual([536, 1300, 1440, 1460, 4312, 8960, 16344, 65483]);
  });

  it('stays valid for less than MAX_SYNCOOKIE_AGE minutes, then is refused', () => {
    expect(MAX_SYNCOOKIE_AGE_MINUTES).toBe(2);
    const { clock, cookies } = setup(10 * MINUTE + 59_000);
    const isn = seq(99);
    const cookie = cookies.make(net, LOCAL, 80, REMOTE, 40000, isn, 1460);
    clock.advance(2_000); // the next minute
    expect(cookies.check(net, LOCAL, 80, REMOTE, 40000, cookie, isn)).toBe(1460);
    clock.set(12 * MINUTE); // two minutes after the one it was made in
    expect(cookies.check(net, LOCAL, 80, REMOTE, 40000, cookie, isn)).toBeUndefined();
  });

  it('changes every minute and with the client ISN', () => {
    const { clock, cookies } = setup();
    const a = cookies.make(net, LOCAL, 80, REMOTE, 40000, seq(1), 1460);
    const b = cookies.make(net, LOCAL, 80, REMOTE, 40000, seq(2), 1460);
    clock.advance(MINUTE);
    const c = cookies.make(net, LOCAL, 80, REMOTE, 40000, seq(1), 1460);
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('refuses a cookie that was altered, or returned for another connection or client ISN', () => {
    const { cookies } = setup();
    const isn = seq(0xdead_beef);
    const cookie = cookies.make(net, LOCAL, 80, REMOTE, 40000, isn, 1460);
    expect(cookies.check(net, LOCAL, 80, REMOTE, 40000, cookie, isn)).toBe(1460);
    // The MSS index lives in the low bits: +8 moves it past the 8-entry table; higher bits move the minute counter.
    for (const delta of [8, 0x100, 0x1_0000, 0x100_0000, 0x8000_0000]) {
      expect(cookies.check(net, LOCAL, 80, REMOTE, 40000, seqAdd(cookie, delta), isn)).toBeUndefined();
    }
    expect(cookies.check(net, LOCAL, 80, REMOTE, 40001, cookie, isn)).toBeUndefined();
    expect(cookies.check(net, LOCAL, 81, REMOTE, 40000, cookie, isn)).toBeUndefined();
    expect(cookies.check(net, LOCAL, 80, REMOTE + 1, 40000, cookie, isn)).toBeUndefined();
    expect(cookies.check(net, LOCAL, 80, REMOTE, 40000, cookie, seqAdd(isn, 0x1000))).toBeUndefined();
  });

  it('keeps window scale and SACK-permitted in the low 6 bits of TSval, never above the clock', () => {
    const { cookies } = setup();
    const now = 1_000_000;
    for (const options of [
      { mss: 1460, windowScale: 7, sackPermitted: true },
      { mss: 1460, windowScale: 0, sackPermitted: false },
      { mss: 1460, windowScale: undefined, sackPermitted: true },
    ]) {
      const ts = cookies.encodeTimestamp(now, options);
      expect(ts).toBeLessThanOrEqual(now);
      expect(now - ts).toBeLessThan(64);
      expect(cookies.decodeTimestamp(ts)).toEqual({ windowScale: options.windowScale, sackPermitted: options.sackPermitted });
    }
  });
});
