import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { EtherType, describeEtherType, etherTypeName } from '../../../../src/l2/ethernet/ether-type.js';
import {
  ETHERNET_HEADER_LENGTH,
  ETHERNET_VLAN_HEADER_LENGTH,
  EthernetFrameView,
  describeEthernet,
  describeEthernetBytes,
  emitEthernet,
  ethernetHeaderLength,
  parseEthernet,
  type EthernetFrame,
  type EthernetHeader,
} from '../../../../src/l2/ethernet/frame.js';
import { BROADCAST_MAC } from '../../../../src/l2/mac-address.js';
import { ARP_REQUEST_FRAME, VLAN_TCP_FRAME } from '../captures.js';

function parsed(hex: string): EthernetFrame {
  const result = parseEthernet(fromHex(hex));
  if (!result.ok) throw new Error(`parse failed: ${result.error.reason}`);
  return result.value;
}

/** Emits into a 0xa5-filled buffer at offset 3 and returns the hex of the whole buffer. */
function emitted(header: EthernetHeader, size = 24): { hex: string; length: number } {
  const buf = new Uint8Array(size).fill(0xa5);
  const length = emitEthernet(header, buf, 3);
  return { hex: toHex(buf), length };
}

describe('Ethernet II', () => {
  it('parses an untagged frame captured from Linux (ARP request)', () => {
    const frame = parsed(ARP_REQUEST_FRAME);
    expect(frame.destination).toBe(BROADCAST_MAC);
    expect(frame.source).toBe(0x0200_0000_0001);
    expect(frame.vlan).toBeUndefined();
    expect(frame.etherType).toBe(EtherType.ARP);
    expect(frame.payloadOffset).toBe(14);
    expect(frame.payload.length).toBe(28); // 42-byte frame: no padding from a veth/TAP
    expect(toHex(frame.payload.subarray(0, 2))).toBe('0001');
  });

  it('parses a real 802.1Q tagged frame', () => {
    const frame = parsed(VLAN_TCP_FRAME);
    expect(frame.destination).toBe(0x0060_089f_b1f3);
    expect(frame.source).toBe(0x0040_0540_ef24);
    expect(frame.vlan).toEqual({ pcp: 4, dei: true, vid: 32 });
    expect(frame.etherType).toBe(EtherType.IPv4);
    expect(frame.payloadOffset).toBe(18);
    // The payload starts exactly at the IPv4 header: version/IHL 0x45, and its checksum verifies.
    expect(frame.payload[0]).toBe(0x45);
    expect(verifyChecksum(frame.payload, 0, 20)).toBe(true);
    expect(frame.payload.length).toBe(52);
  });

  it('the view reads the same fields without a record', () => {
    const view = new EthernetFrameView();
    expect(view.wrap(fromHex(VLAN_TCP_FRAME))).toBeUndefined();
    expect([view.hasVlan, view.pcp, view.dei, view.vid, view.etherType, view.payloadOffset, view.length]).toEqual([
      true, 4, true, 32, 0x0800, 18, 70,
    ]);
    expect(view.wrap(fromHex(ARP_REQUEST_FRAME))).toBeUndefined(); // re-wrap: the tag state must reset
    expect([view.hasVlan, view.tci, view.vid, view.vlan, view.etherType, view.payloadOffset]).toEqual([false, 0, 0, undefined, 0x0806, 14]);
  });

  it('emits an untagged header at an offset, touching nothing else', () => {
    const header = { destination: BROADCAST_MAC, source: 0x0200_0000_0001, etherType: EtherType.ARP };
    const { hex, length } = emitted(header);
    expect(length).toBe(14);
    expect(ethernetHeaderLength(header)).toBe(14);
    expect(hex).toBe('a5a5a5' + 'ffffffffffff' + '020000000001' + '0806' + 'a5a5a5a5a5a5a5');
  });

  it('emits a tagged header: the captured frame, byte for byte', () => {
    const header = { destination: 0x0060_089f_b1f3, source: 0x0040_0540_ef24, vlan: { pcp: 4, dei: true, vid: 32 }, etherType: 0x0800 };
    const { hex, length } = emitted(header);
    expect(length).toBe(18);
    expect(ethernetHeaderLength(header)).toBe(18);
    expect(hex).toBe('a5a5a5' + VLAN_TCP_FRAME.slice(0, 36) + 'a5a5a5');
    // all-ones fields: PCP 7, DEI, VID 4095
    const max = emitted({ ...header, vlan: { pcp: 7, dei: true, vid: 4095 } });
    expect(max.hex.slice(6 + 24, 6 + 36)).toBe('8100ffff0800');
    const zero = emitted({ ...header, vlan: { pcp: 0, dei: false, vid: 0 } });
    expect(zero.hex.slice(6 + 24, 6 + 36)).toBe('810000000800');
  });

  it('round-trips a parsed frame through emit', () => {
    for (const hex of [ARP_REQUEST_FRAME, VLAN_TCP_FRAME]) {
      const bytes = fromHex(hex);
      const frame = parsed(hex);
      const out = new Uint8Array(bytes.length);
      const n = emitEthernet(frame, out, 0);
      out.set(frame.payload, n);
      expect(toHex(out)).toBe(hex);
    }
  });

  it('rejects frames shorter than 14 bytes as truncated', () => {
    const result = parseEthernet(fromHex(ARP_REQUEST_FRAME).subarray(0, 13));
    expect(result).toMatchObject({ ok: false, error: { reason: 'truncated', offset: 0 } });
    expect(parseEthernet(new Uint8Array(0))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
    // exactly a header and nothing else is a valid (empty) frame
    expect(parseEthernet(fromHex(ARP_REQUEST_FRAME).subarray(0, 14))).toMatchObject({ ok: true, value: { payloadOffset: 14 } });
  });

  it('rejects a tagged frame cut inside its tag as truncated', () => {
    const result = parseEthernet(fromHex(VLAN_TCP_FRAME).subarray(0, 17));
    expect(result).toMatchObject({ ok: false, error: { reason: 'truncated', offset: 14 } });
  });

  it('rejects 802.3 length frames as unsupported, tagged or not', () => {
    // An STP BPDU: 802.3 length 0x0026 and an LLC header.
    const stp = fromHex('0180c2000000' + '00000c0a0b0c' + '0026' + '424203' + '00'.repeat(35));
    expect(parseEthernet(stp)).toMatchObject({ ok: false, error: { reason: 'unsupported', offset: 12 } });
    const tagged = fromHex(VLAN_TCP_FRAME);
    tagged[16] = 0x05;
    tagged[17] = 0xff; // 0x05ff: the largest non-type value
    expect(parseEthernet(tagged)).toMatchObject({ ok: false, error: { reason: 'unsupported', offset: 16 } });
    tagged[17] = 0xdc; // 1500, a length
    expect(parseEthernet(tagged)).toMatchObject({ ok: false, error: { reason: 'unsupported' } });
    tagged[16] = 0x06;
    tagged[17] = 0x00; // 0x0600: the smallest type value is accepted
    expect(parseEthernet(tagged)).toMatchObject({ ok: true, value: { etherType: 0x0600 } });
  });

  it('leaves a second tag (QinQ) to the caller', () => {
    // dpkt's stacked-tag ARP frame: 0x8100 vid 100, then 0x8100 vid 200, then ARP.
    const stacked = fromHex('ffffffffffffca030db4001c810000648100' + '00c80806' + '0001080006040001ca030db4001cc0a802c8000000000000c0a802fe');
    const frame = parseEthernet(stacked);
    expect(frame).toMatchObject({ ok: true, value: { vlan: { vid: 100 }, etherType: EtherType.VLAN, payloadOffset: 18 } });
  });

  it('refuses to emit impossible fields (programmer errors throw)', () => {
    const base = { destination: 1, source: 2, etherType: 0x0800 };
    expect(() => emitEthernet({ ...base, etherType: 0x05dc }, new Uint8Array(14), 0)).toThrow(RangeError);
    expect(() => emitEthernet({ ...base, etherType: 0x10000 }, new Uint8Array(14), 0)).toThrow(RangeError);
    expect(() => emitEthernet({ ...base, vlan: { pcp: 8, dei: false, vid: 1 } }, new Uint8Array(18), 0)).toThrow(RangeError);
    expect(() => emitEthernet({ ...base, vlan: { pcp: 0, dei: false, vid: 4096 } }, new Uint8Array(18), 0)).toThrow(RangeError);
    expect(() => emitEthernet(base, new Uint8Array(14), 1)).toThrow(RangeError);
    expect(() => emitEthernet({ ...base, vlan: { pcp: 0, dei: false, vid: 1 } }, new Uint8Array(17), 0)).toThrow(RangeError);
  });

  it('describes frames like tcpdump -e', () => {
    expect(describeEthernetBytes(fromHex(ARP_REQUEST_FRAME))).toBe(
      '02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42',
    );
    expect(describeEthernetBytes(fromHex(VLAN_TCP_FRAME))).toBe(
      '00:40:05:40:ef:24 > 00:60:08:9f:b1:f3, vlan 32, p 4, DEI, ethertype IPv4 (0x0800), length 70',
    );
    expect(describeEthernet({ destination: 1, source: 2, etherType: 0x88cc })).toBe(
      '00:00:00:00:00:02 > 00:00:00:00:00:01, ethertype Unknown (0x88cc)',
    );
    expect(describeEthernetBytes(new Uint8Array(3))).toBe('Ethernet truncated at +0, length 3');
    expect(etherTypeName(EtherType.IPv6)).toBe('IPv6');
    expect(etherTypeName(0x1234)).toBeUndefined();
    expect(describeEtherType(EtherType.QinQ)).toBe('802.1Q-QinQ (0x88a8)');
  });

  it('never throws on random bytes; a success always has its header (property)', () => {
    const view = new EthernetFrameView();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const result = parseEthernet(bytes);
        const error = view.wrap(bytes);
        expect(error === undefined).toBe(result.ok);
        if (result.ok) {
          expect(result.value.payloadOffset).toBeLessThanOrEqual(bytes.length);
          expect(result.value.etherType).toBeGreaterThanOrEqual(0x0600);
          expect(view.etherType).toBe(result.value.etherType);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated and truncated real frames (property)', () => {
    const seeds = [fromHex(ARP_REQUEST_FRAME), fromHex(VLAN_TCP_FRAME)];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (seed, edits, cut) => {
          const bytes = seed.slice(0, cut % (seed.length + 1));
          for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
          const result = parseEthernet(bytes);
          expect(typeof result.ok).toBe('boolean');
          expect(typeof describeEthernetBytes(bytes)).toBe('string');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('parse ∘ emit is the identity for generated headers (property)', () => {
    const mac = fc.integer({ min: 0, max: BROADCAST_MAC });
    const header = fc.record({
      destination: mac,
      source: mac,
      // an untagged 0x8100 is a TPID, not a type: it cannot round-trip without a tag behind it
      etherType: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== EtherType.VLAN),
      vlan: fc.option(fc.record({ pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean(), vid: fc.integer({ min: 0, max: 4095 }) }), {
        nil: undefined,
      }),
    });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 8 }), (h, payload) => {
        const buf = new Uint8Array(ETHERNET_VLAN_HEADER_LENGTH + payload.length);
        const n = emitEthernet(h, buf, 0);
        buf.set(payload, n);
        const frame = buf.subarray(0, n + payload.length);
        const result = parseEthernet(frame);
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.value).toMatchObject({ destination: h.destination, source: h.source, etherType: h.etherType, vlan: h.vlan });
        expect(result.value.payloadOffset).toBe(h.vlan ? ETHERNET_VLAN_HEADER_LENGTH : ETHERNET_HEADER_LENGTH);
        expect(toHex(result.value.payload)).toBe(toHex(payload));
      }),
    );
  });
});
