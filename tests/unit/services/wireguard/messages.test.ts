/**
 * The four message codecs: emit into a buffer pre-filled with 0xa5 at a
 * non-zero offset, parse back, every error reason; the type byte; and the
 * anti-replay window (RFC 6479).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { COOKIE_REPLY_LENGTH, emitCookieReply, parseCookieReply } from '../../../../src/services/wireguard/cookie-reply.js';
import { INITIATION_LENGTH, InitiationField, emitInitiation, parseInitiation } from '../../../../src/services/wireguard/initiation.js';
import { MessageType, parseMessageType } from '../../../../src/services/wireguard/message-type.js';
import { RESPONSE_LENGTH, ResponseField, emitResponse, parseResponse } from '../../../../src/services/wireguard/response.js';
import { KEEPALIVE_LENGTH, emitTransportHeader, parseTransport } from '../../../../src/services/wireguard/transport.js';
import { REPLAY_WINDOW_SIZE, ReplayFilter } from '../../../../src/services/wireguard/replay.js';

const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('message codecs', () => {
  it('initiation: 148 bytes, sender little-endian at 4, fields in wire order', () => {
    const buf = new Uint8Array(160).fill(0xa5);
    const m = { sender: 0x04030201, ephemeral: filled(32, 1), encryptedStatic: filled(48, 2), encryptedTimestamp: filled(28, 3), mac1: filled(16, 4), mac2: filled(16, 5) };
    expect(emitInitiation(m, buf, 5)).toBe(INITIATION_LENGTH);
    expect(buf[4]).toBe(0xa5);
    expect([...buf.subarray(5, 13)]).toEqual([1, 0, 0, 0, 1, 2, 3, 4]); // type 1, reserved, sender LE
    expect(buf[5 + InitiationField.mac2 + 15]).toBe(5);
    expect(buf[5 + INITIATION_LENGTH]).toBe(0xa5);
    const parsed = parseInitiation(buf.subarray(5, 5 + INITIATION_LENGTH));
    expect(parsed.ok && parsed.value.sender).toBe(0x04030201);
    expect(parsed.ok && [...parsed.value.encryptedTimestamp]).toEqual([...m.encryptedTimestamp]);
  });

  it('response: 92 bytes, sender then receiver', () => {
    const buf = new Uint8Array(100).fill(0xa5);
    emitResponse({ sender: 7, receiver: 0xdeadbeef, ephemeral: filled(32, 1), encryptedNothing: filled(16, 2), mac1: filled(16, 3), mac2: filled(16, 4) }, buf, 3);
    const parsed = parseResponse(buf.subarray(3, 3 + RESPONSE_LENGTH));
    expect(parsed.ok && parsed.value.receiver).toBe(0xdeadbeef);
    expect(buf[3 + ResponseField.receiver]).toBe(0xef);
  });

  it('cookie reply: 64 bytes', () => {
    const buf = new Uint8Array(70).fill(0xa5);
    emitCookieReply({ receiver: 9, nonce: filled(24, 1), encryptedCookie: filled(32, 2) }, buf, 1);
    const parsed = parseCookieReply(buf.subarray(1, 1 + COOKIE_REPLY_LENGTH));
    expect(parsed.ok && parsed.value.nonce[23]).toBe(1);
  });

  it('transport: a 64-bit little-endian counter', () => {
    const buf = new Uint8Array(40).fill(0xa5);
    emitTransportHeader(5, 2 ** 40 + 3, buf, 2);
    expect([...buf.subarray(2 + 8, 2 + 16)]).toEqual([3, 0, 0, 0, 0, 1, 0, 0]);
    const parsed = parseTransport(buf.subarray(2, 2 + KEEPALIVE_LENGTH));
    expect(parsed.ok && parsed.value.counter).toBe(2 ** 40 + 3);
  });

  it('every error reason: truncated, badLength, badValue', () => {
    const init = new Uint8Array(INITIATION_LENGTH);
    init[0] = 1;
    expect(parseInitiation(init.subarray(0, 147))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
    expect(parseInitiation(new Uint8Array(149).fill(0).map((_, i) => (i === 0 ? 1 : 0)))).toMatchObject({ ok: false, error: { reason: 'badLength' } });
    expect(parseResponse(init.subarray(0, RESPONSE_LENGTH))).toMatchObject({ ok: false, error: { reason: 'badValue' } });
    expect(parseCookieReply(new Uint8Array(63))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
    expect(parseTransport(new Uint8Array(31))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
    expect(parseMessageType(Uint8Array.of(4, 0, 0))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
    expect(parseMessageType(Uint8Array.of(5, 0, 0, 0))).toMatchObject({ ok: false, error: { reason: 'badValue' } });
    expect(parseMessageType(Uint8Array.of(1, 0, 1, 0))).toMatchObject({ ok: false, error: { reason: 'badValue', offset: 1 } });
    expect(parseMessageType(Uint8Array.of(4, 0, 0, 0))).toEqual({ ok: true, value: MessageType.transport });
  });

  it('random bytes never make a parser throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parseMessageType(bytes);
        parseInitiation(bytes);
        parseResponse(bytes);
        parseCookieReply(bytes);
        parseTransport(bytes);
      }),
    );
  });
});

describe('anti-replay window (RFC 6479)', () => {
  it('accepts each counter once, in any order inside the window', () => {
    const f = new ReplayFilter();
    for (const c of [0, 2, 1, 5, 3]) expect(f.validate(c, 1e9)).toBe(true);
    expect(f.validate(2, 1e9)).toBe(false);
    expect(f.validate(5, 1e9)).toBe(false);
  });
  it('refuses counters behind the window, and at or over the limit', () => {
    const f = new ReplayFilter();
    expect(f.validate(REPLAY_WINDOW_SIZE + 100, 1e9)).toBe(true);
    expect(f.validate(100, 1e9)).toBe(true); // exactly WINDOW_SIZE behind: still in
    expect(f.validate(99, 1e9)).toBe(false); // one more: out
    expect(f.validate(50, 1e9)).toBe(false);
    expect(f.validate(1e9, 1e9)).toBe(false);
  });
  it('a jump far ahead clears the ring', () => {
    const f = new ReplayFilter();
    for (let c = 0; c < 100; c++) f.validate(c, 1e12);
    expect(f.validate(1_000_000, 1e12)).toBe(true);
    expect(f.validate(1_000_000 - 64, 1e12)).toBe(true);
    expect(f.validate(1_000_000 - 64, 1e12)).toBe(false);
  });
  it('agrees with a Set-based model on random sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 20_000 }), { maxLength: 300 }), (counters) => {
        const f = new ReplayFilter();
        const seen = new Set<number>();
        let last = 0;
        for (const c of counters) {
          const expected = !seen.has(c) && !(c <= last && last - c > REPLAY_WINDOW_SIZE);
          expect(f.validate(c, 1e9)).toBe(expected);
          if (expected) {
            seen.add(c);
            last = Math.max(last, c);
          }
        }
      }),
    );
  });
});
