import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import {
  ARP_LENGTH,
  ArpOperation,
  ArpPacketView,
  arpLength,
  describeArp,
  describeArpBytes,
  emitArp,
  parseArp,
  type ArpPacket,
} from '../../../../src/l2/arp/packet.js';
import { BROADCAST_MAC } from '../../../../src/l2/mac-address.js';
import { ARPING_GRATUITOUS_FRAME, ARP_REPLY_FRAME, ARP_REQUEST_FRAME } from '../captures.js';

/** The ARP payload of a captured frame (after the 14-byte Ethernet header). */
function payload(frameHex: string): Uint8Array {
  return fromHex(frameHex).subarray(14);
}

function parsed(bytes: Uint8Array): ArpPacket {
  const result = parseArp(bytes);
  if (!result.ok) throw new Error(`parse failed: ${result.error.reason}`);
  return result.value;
}

const REQUEST: ArpPacket = {
  operation: ArpOperation.Request,
  senderHardwareAddress: 0x0200_0000_0001,
  senderProtocolAddress: 0x0a00_0001,
  targetHardwareAddress: 0,
  targetProtocolAddress: 0x0a00_0002,
};

describe('ARP packet (RFC 826, Ethernet/IPv4)', () => {
  it('parses the request Linux sends', () => {
    expect(parsed(payload(ARP_REQUEST_FRAME))).toEqual(REQUEST);
  });

  it('parses the reply Linux sends', () => {
    expect(parsed(payload(ARP_REPLY_FRAME))).toEqual({
      operation: ArpOperation.Reply,
      senderHardwareAddress: 0x0200_0000_0002,
      senderProtocolAddress: 0x0a00_0002,
      targetHardwareAddress: 0x0200_0000_0001,
      targetProtocolAddress: 0x0a00_0001,
    });
  });

  it('the view reads the same fields', () => {
    const view = new ArpPacketView();
    expect(view.wrap(payload(ARP_REPLY_FRAME))).toBeUndefined();
    expect(view.operation).toBe(2);
    expect(view.senderHardwareAddress).toBe(0x0200_0000_0002);
    expect(view.targetProtocolAddress).toBe(0x0a00_0001);
  });

  it('ignores trailing Ethernet padding', () => {
    const padded = new Uint8Array(46); // 60-byte minimum frame - 14
    padded.set(payload(ARP_REQUEST_FRAME));
    expect(parsed(padded)).toEqual(REQUEST);
  });

  it('emits the Linux request byte for byte, at an offset, touching nothing else', () => {
    const buf = new Uint8Array(34).fill(0xa5);
    expect(emitArp(REQUEST, buf, 3)).toBe(28);
    expect(arpLength(REQUEST)).toBe(ARP_LENGTH);
    expect(toHex(buf)).toBe('a5a5a5' + ARP_REQUEST_FRAME.slice(28) + 'a5a5a5');
  });

  it('round-trips every captured packet', () => {
    for (const frame of [ARP_REQUEST_FRAME, ARP_REPLY_FRAME, ARPING_GRATUITOUS_FRAME]) {
      const bytes = payload(frame);
      const out = new Uint8Array(ARP_LENGTH);
      emitArp(parsed(bytes), out, 0);
      expect(toHex(out)).toBe(toHex(bytes));
    }
  });

  it('describes like tcpdump', () => {
    expect(describeArp(REQUEST)).toBe('ARP who-has 10.0.0.2 tell 10.0.0.1');
    expect(describeArpBytes(payload(ARP_REPLY_FRAME))).toBe('ARP reply 10.0.0.2 is-at 02:00:00:00:00:02');
    expect(describeArpBytes(payload(ARPING_GRATUITOUS_FRAME))).toBe(
      'ARP who-has 10.0.0.1 (ff:ff:ff:ff:ff:ff) tell 10.0.0.1, gratuitous',
    );
    expect(describeArpBytes(new Uint8Array(5))).toBe('ARP truncated at +0, length 5');
  });

  describe('every error reason', () => {
    function mutated(offset: number, bytes: number[]): Uint8Array {
      const b = payload(ARP_REQUEST_FRAME).slice();
      b.set(bytes, offset);
      return b;
    }
    it('truncated: 27 bytes', () => {
      expect(parseArp(payload(ARP_REQUEST_FRAME).subarray(0, 27))).toMatchObject({ ok: false, error: { reason: 'truncated', offset: 0 } });
    });
    it('unsupported hardware type (6 = IEEE 802)', () => {
      expect(parseArp(mutated(0, [0x00, 0x06]))).toMatchObject({ ok: false, error: { reason: 'unsupported', offset: 0 } });
    });
    it('unsupported protocol type (IPv6 EtherType)', () => {
      expect(parseArp(mutated(2, [0x86, 0xdd]))).toMatchObject({ ok: false, error: { reason: 'unsupported', offset: 2 } });
    });
    it('badLength: hardware length 8', () => {
      expect(parseArp(mutated(4, [8]))).toMatchObject({ ok: false, error: { reason: 'badLength', offset: 4 } });
    });
    it('badLength: protocol length 16', () => {
      expect(parseArp(mutated(5, [16]))).toMatchObject({ ok: false, error: { reason: 'badLength', offset: 5 } });
    });
    it('unsupported operation (3 = RARP request, 0)', () => {
      expect(parseArp(mutated(6, [0, 3]))).toMatchObject({ ok: false, error: { reason: 'unsupported', offset: 6 } });
      expect(parseArp(mutated(6, [0, 0]))).toMatchObject({ ok: false, error: { reason: 'unsupported', offset: 6 } });
    });
  });

  it('never throws on random or mutated bytes (property)', () => {
    const view = new ArpPacketView();
    const seed = payload(ARP_REQUEST_FRAME);
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.tuple(fc.array(fc.tuple(fc.nat(27), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat(28)).map(([edits, cut]) => {
        const b = seed.slice(0, cut);
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        return b;
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const result = parseArp(b);
        expect(view.wrap(b) === undefined).toBe(result.ok);
        expect(typeof describeArpBytes(b)).toBe('string');
        if (result.ok) expect([1, 2]).toContain(result.value.operation);
      }),
      { numRuns: 3000 },
    );
  });

  it('parse ∘ emit is the identity for generated packets (property)', () => {
    const mac = fc.integer({ min: 0, max: BROADCAST_MAC });
    const ip = fc.integer({ min: 0, max: 0xffff_ffff });
    const packet = fc.record({
      operation: fc.constantFrom(ArpOperation.Request, ArpOperation.Reply),
      senderHardwareAddress: mac,
      senderProtocolAddress: ip,
      targetHardwareAddress: mac,
      targetProtocolAddress: ip,
    });
    fc.assert(
      fc.property(packet, (p) => {
        const buf = new Uint8Array(ARP_LENGTH);
        emitArp(p, buf, 0);
        expect(parseArp(buf)).toEqual({ ok: true, value: p });
      }),
    );
  });

  it('refuses to emit past the end of the buffer', () => {
    expect(() => emitArp(REQUEST, new Uint8Array(30), 3)).toThrow(RangeError);
  });
});
