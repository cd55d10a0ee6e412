import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex } from '../../../../src/core/bytes.js';
import { parseEthernet } from '../../../../src/l2/ethernet/frame.js';
import {
  classifyIngress,
  describePortVlan,
  egressUntagged,
  isMember,
  stripTag,
  validatePortVlanConfig,
  writeTag,
  type PortVlanConfig,
} from '../../../../src/l2/switch/vlan.js';

// An ARP request from 00:11:22:33:44:55, untagged (14-byte header + 4 bytes of payload shown).
const UNTAGGED = fromHex('ffffffffffff 001122334455 0806 00010800');
// The same frame tagged: TPID 0x8100, TCI 0x600a = PCP 3, DEI 0, VID 10.
const TAGGED_10 = fromHex('ffffffffffff 001122334455 8100 600a 0806 00010800');
// Priority-tagged: VID 0, PCP 5.
const PRIORITY = fromHex('ffffffffffff 001122334455 8100 a000 0806 00010800');
// VLAN hopping: outer tag VID 1 (a trunk's native VLAN), inner tag VID 20.
const DOUBLE = fromHex('ffffffffffff 001122334455 8100 0001 8100 0014 0806 00010800');
// 802.1ad S-tag outside.
const QINQ = fromHex('ffffffffffff 001122334455 88a8 0014 0806 00010800');

const access10: PortVlanConfig = { mode: 'access', vid: 10 };
const trunk: PortVlanConfig = { mode: 'trunk', allowed: new Set([10, 20]), native: 1 };
const trunkNoNative: PortVlanConfig = { mode: 'trunk', allowed: 'all' };

describe('802.1Q ingress classification', () => {
  it('access port: untagged and priority-tagged frames go to the port VLAN', () => {
    expect(classifyIngress(access10, UNTAGGED)).toEqual({ ok: true, vid: 10, tagged: false, pcp: 0 });
    expect(classifyIngress(access10, PRIORITY)).toEqual({ ok: true, vid: 10, tagged: true, pcp: 5 });
  });

  it('access port: VLAN-tagged frames are refused', () => {
    expect(classifyIngress(access10, TAGGED_10)).toMatchObject({ ok: false, counter: 'swInTaggedOnAccess' });
  });

  it('trunk: tagged frames keep their VID; untagged go to the native VLAN', () => {
    expect(classifyIngress(trunk, TAGGED_10)).toEqual({ ok: true, vid: 10, tagged: true, pcp: 3 });
    expect(classifyIngress(trunk, UNTAGGED)).toEqual({ ok: true, vid: 1, tagged: false, pcp: 0 });
    expect(classifyIngress(trunkNoNative, UNTAGGED)).toMatchObject({ ok: false, counter: 'swInUntaggedNoNative' });
  });

  it('trunk: VIDs outside the allowed set and VID 4095 are filtered (§8.6.2)', () => {
    const tagged30 = TAGGED_10.slice();
    tagged30[15] = 30;
    expect(classifyIngress(trunk, tagged30)).toMatchObject({ ok: false, counter: 'swInVlanFiltered' });
    const reserved = TAGGED_10.slice();
    reserved[14] = 0x0f;
    reserved[15] = 0xff;
    expect(classifyIngress(trunkNoNative, reserved)).toMatchObject({ ok: false, counter: 'swInVlanFiltered' });
  });

  it('double tags (VLAN hopping) and S-tags are refused on every port kind', () => {
    for (const config of [access10, trunk, trunkNoNative]) {
      expect(classifyIngress(config, DOUBLE)).toMatchObject({ ok: false, counter: 'swInDoubleTagged' });
      expect(classifyIngress(config, QINQ)).toMatchObject({ ok: false, counter: 'swInDoubleTagged' });
    }
  });

  it('a cut-off tag is an error, never a throw', () => {
    expect(classifyIngress(trunk, TAGGED_10.subarray(0, 16))).toMatchObject({ ok: false, counter: 'swInErrors' });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 14, maxLength: 40 }), (bytes) => {
        classifyIngress(trunk, bytes);
        classifyIngress(access10, bytes);
      }),
    );
  });
});

describe('802.1Q egress and tag rewriting', () => {
  it('member and untagged sets (§8.8.2)', () => {
    expect(isMember(access10, 10)).toBe(true);
    expect(isMember(access10, 20)).toBe(false);
    expect(isMember(trunk, 1)).toBe(true);
    expect(isMember(trunk, 20)).toBe(true);
    expect(isMember(trunk, 30)).toBe(false);
    expect(egressUntagged(trunk, 1)).toBe(true);
    expect(egressUntagged(trunk, 10)).toBe(false);
    expect(egressUntagged(access10, 10)).toBe(true);
  });

  it('stripTag and writeTag produce the byte-exact frames', () => {
    const out = new Uint8Array(64).fill(0xa5);
    expect(stripTag(TAGGED_10, out)).toEqual(UNTAGGED);
    expect(writeTag(UNTAGGED, false, 10, 3, new Uint8Array(64))).toEqual(TAGGED_10);
    // Retagging a priority-tagged frame replaces the tag instead of stacking a second one.
    const retagged = writeTag(PRIORITY, true, 10, 3, new Uint8Array(64));
    expect(retagged).toEqual(TAGGED_10);
    const parsed = parseEthernet(retagged);
    expect(parsed.ok && parsed.value.vlan).toEqual({ pcp: 3, dei: false, vid: 10 });
  });

  it('tag then strip is the identity (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 14, maxLength: 200 }), fc.integer({ min: 1, max: 4094 }), fc.integer({ min: 0, max: 7 }), (bytes, vid, pcp) => {
        bytes[12] = 0x08; // an untagged IPv4 frame
        bytes[13] = 0x00;
        const tagged = writeTag(bytes, false, vid, pcp, new Uint8Array(bytes.length + 4)).slice();
        expect(classifyIngress({ mode: 'trunk', allowed: 'all' }, tagged)).toEqual({ ok: true, vid, tagged: true, pcp });
        expect(stripTag(tagged, new Uint8Array(bytes.length))).toEqual(bytes);
      }),
    );
  });

  it('validates and describes configurations', () => {
    expect(() => validatePortVlanConfig({ mode: 'access', vid: 0 })).toThrow(/access VLAN 0/);
    expect(() => validatePortVlanConfig({ mode: 'access', vid: 4095 })).toThrow(/4095/);
    expect(() => validatePortVlanConfig({ mode: 'trunk', allowed: new Set([5000]) })).toThrow(/trunk VLAN 5000/);
    expect(describePortVlan(trunk)).toBe('trunk 10,20 native 1');
    expect(describePortVlan(access10)).toBe('access 10');
  });
});
