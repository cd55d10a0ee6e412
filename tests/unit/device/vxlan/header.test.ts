import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex } from '../../../../src/core/bytes.js';
import { describeVxlan, emitVxlan, parseVxlan, VNI_MAX, VXLAN_FLAG_VNI, VXLAN_HEADER_LENGTH, VxlanField } from '../../../../src/device/vxlan/header.js';

/**
 * A UDP payload captured with tcpdump -xx from Linux's vxlan (`ip link add vx0 type vxlan id 42 dstport 4789
 * local 192.0.2.1 remote 192.0.2.2 dev veth`): the datagram 192.0.2.1.32915 > 192.0.2.2.4789 carrying the
 * kernel's MLDv2 report, i.e. everything after the outer UDP header.
 */
const KERNEL_DATAGRAM = fromHex(`
  0800 0000
  0000 2a00
  3333 0000 0016 0200 0000 0001 86dd
  6000 0000 0024 0001 0000 0000 0000 0000
  0000 0000 0000 0000 ff02 0000 0000 0000
  0000 0000 0000 0016 3a00 0502 0000 0100
  8f00 6f89 0000 0001 0400 0000 ff02 0000
  0000 0000 0000 0001 ff00 0001`);

describe('VXLAN header (RFC 7348 §5)', () => {
  it('parses the kernel vxlan datagram', () => {
    const r = parseVxlan(KERNEL_DATAGRAM);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.flags).toBe(0x08); // I flag only
    expect(r.value.vni).toBe(42); // 0x00002a in the top 24 bits of the second word
    expect(r.value.frame.length).toBe(KERNEL_DATAGRAM.length - 8);
    expect([...r.value.frame.subarray(0, 6)]).toEqual([0x33, 0x33, 0, 0, 0, 0x16]); // inner destination: MLDv2 routers
    expect(describeVxlan(r.value)).toBe('VXLAN, flags [I] (0x08), vni 42');
  });

  it('emits the kernel bytes at an offset of a 0xa5-filled buffer, and round-trips', () => {
    const buf = new Uint8Array(20).fill(0xa5);
    expect(emitVxlan({ vni: 42 }, buf, 5)).toBe(VXLAN_HEADER_LENGTH);
    expect([...buf.subarray(5, 13)]).toEqual([...KERNEL_DATAGRAM.subarray(0, 8)]);
    expect(buf[4]).toBe(0xa5);
    expect(buf[13]).toBe(0xa5);
    const top = new Uint8Array(8 + 14);
    emitVxlan({ vni: VNI_MAX }, top, 0);
    const r = parseVxlan(top);
    expect(r.ok && r.value.vni).toBe(VNI_MAX);
    expect(top[VxlanField.VNI + 3]).toBe(0); // the reserved octet stays zero
  });

  it('reports a short header, a missing inner Ethernet header and a clear I flag', () => {
    const short = parseVxlan(KERNEL_DATAGRAM.subarray(0, 7));
    expect(short.ok || short.error).toMatchObject({ reason: 'truncated', offset: 0 });
    const noFrame = parseVxlan(KERNEL_DATAGRAM.subarray(0, 8 + 13));
    expect(noFrame.ok || noFrame.error).toMatchObject({ reason: 'truncated', offset: VxlanField.PAYLOAD });
    const flags = KERNEL_DATAGRAM.slice();
    flags[0] = 0x00;
    expect(parseVxlan(flags).ok || (parseVxlan(flags) as { error: unknown }).error).toMatchObject({ reason: 'badValue', offset: VxlanField.FLAGS });
  });

  it('ignores reserved bits on receipt (RFC 7348 §5; Linux drops them, the RFC decides)', () => {
    const reserved = KERNEL_DATAGRAM.slice();
    reserved[0] = VXLAN_FLAG_VNI | 0x80;
    reserved[3] = 0xff;
    reserved[7] = 0x01;
    const r = parseVxlan(reserved);
    expect(r.ok && r.value.vni).toBe(42);
  });

  it('never throws on random bytes; emit∘parse is the identity on VNIs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => void parseVxlan(bytes)));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: VNI_MAX }), (vni) => {
        const buf = new Uint8Array(8 + 14);
        emitVxlan({ vni }, buf, 0);
        const r = parseVxlan(buf);
        return r.ok && r.value.vni === vni && r.value.flags === VXLAN_FLAG_VNI;
      }),
    );
    expect(() => emitVxlan({ vni: VNI_MAX + 1 }, new Uint8Array(8), 0)).toThrow(RangeError);
  });
});
