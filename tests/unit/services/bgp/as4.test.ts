/**
 * 4-octet ASes through 2-octet (OLD) peers, RFC 6793 §4.2.2 (sending
 * AS_TRANS + AS4_PATH / AS4_AGGREGATOR) and §4.2.3 (merging on receipt), §6
 * (errors), as byte vectors: the UPDATE bodies written out field by field.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../../src/core/bytes.js';
import { mergeAs4 } from '../../../../src/services/bgp/as4.js';
import { formatAsPath } from '../../../../src/services/bgp/as-path.js';
import { HEADER_LENGTH } from '../../../../src/services/bgp/header.js';
import { parsePrefixText } from '../../../../src/services/bgp/prefix.js';
import { parseUpdate, updateMessage, type Update } from '../../../../src/services/bgp/update.js';

const seq = (...asns: number[]) => ({ type: 2, asns });
const set = (...asns: number[]) => ({ type: 1, asns });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const body = (attrs: string, nlri = '18c63364') => {
  const a = fromHex(attrs);
  return fromHex(`0000${a.length.toString(16).padStart(4, '0')}${attrs.replace(/\s/g, '')}${nlri}`);
};

/** Path 65001 4200000001, aggregated by AS 4200000001 at 10.0.0.9; NLRI 198.51.100.0/24. */
const U: Update = {
  withdrawn: [],
  attributes: { origin: 0, asPath: [seq(65001, 4200000001)], nextHop: 0x0a000001, aggregator: { as: 4200000001, address: 0x0a000009 }, other: [] },
  nlri: [parsePrefixText('198.51.100.0/24')!],
};
const TO_OLD_PEER = [
  '400101 00', //                        ORIGIN IGP
  '400206 0202 fde9 5ba0', //            AS_PATH: AS_SEQUENCE of 2: 65001, AS_TRANS (23456)
  '400304 0a000001', //                  NEXT_HOP 10.0.0.1
  'c00706 5ba0 0a000009', //             AGGREGATOR: AS_TRANS, 10.0.0.9
  'c0110a 0202 0000fde9 fa56ea01', //    AS4_PATH: AS_SEQUENCE of 2: 65001, 4200000001
  'c01208 fa56ea01 0a000009', //         AS4_AGGREGATOR: 4200000001, 10.0.0.9
].join(' ');

describe('RFC 6793: AS4_PATH and AS4_AGGREGATOR', () => {
  it('§4.2.2: to an OLD peer, AS_TRANS in AS_PATH and AGGREGATOR, the real ASes in AS4_PATH and AS4_AGGREGATOR', () => {
    expect(hex(updateMessage(U, 2).subarray(HEADER_LENGTH))).toBe(hex(body(TO_OLD_PEER)));
  });
  it('§4.2.2: a path of mappable ASes sends no AS4_PATH; a NEW peer (4-octet session) never gets AS4_*', () => {
    const mappable = updateMessage({ ...U, attributes: { ...U.attributes, asPath: [seq(65001, 65010)], aggregator: undefined } }, 2);
    expect(hex(mappable.subarray(HEADER_LENGTH))).toBe(hex(body('400101 00 400206 0202 fde9 fdf2 400304 0a000001')));
    const toNew = hex(updateMessage(U, 4).subarray(HEADER_LENGTH));
    expect(toNew).toBe(hex(body('400101 00 40020a 0202 0000fde9 fa56ea01 400304 0a000001 c00708 fa56ea01 0a000009')));
  });
  it('§4.2.3: from an OLD peer, AS_PATH and AS4_PATH merge back into the 4-octet path', () => {
    const r = parseUpdate(body(TO_OLD_PEER), 2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.attributes.asPath).toEqual([seq(65001, 4200000001)]);
    expect(r.value.attributes.aggregator).toEqual({ as: 4200000001, address: 0x0a000009 });
    expect(r.value.attributes.as4Path).toBeUndefined(); // merged, not kept
    expect(r.value.attributes.other).toEqual([]);
  });
  it('§4.2.3: an OLD speaker prepended its own AS to AS_PATH only: the leading ASes come from AS_PATH', () => {
    // AS_PATH 65010 65020 23456 23456 (4 ASes), AS4_PATH 65020 4200000001 4200000002 (3): one leading AS from AS_PATH.
    const r = parseUpdate(body('400101 00 40020a 0204 fdf2 fdfc 5ba0 5ba0 400304 0a000001 c0110e 0203 0000fdfc fa56ea01 fa56ea02'), 2);
    expect(r.ok && formatAsPath(r.value.attributes.asPath!)).toBe('65010 65020 4200000001 4200000002');
  });
  it('§4.2.3 counting: an AS_SET counts 1; a leading segment is taken whole', () => {
    const m = mergeAs4([set(65010, 65011), seq(23456, 65020)], [seq(4200000001, 65020)], undefined, undefined);
    expect(m.asPath).toEqual([set(65010, 65011), seq(4200000001, 65020)]);
  });
  it('§4.2.3: AS_PATH with fewer ASes than AS4_PATH → AS4_PATH ignored', () => {
    const r = parseUpdate(body('400101 00 400204 0201 fdf2 400304 0a000001 c0110a 0202 0000fdf2 fa56ea01'), 2);
    expect(r.ok && formatAsPath(r.value.attributes.asPath!)).toBe('65010');
    expect(r.ok && r.value.discarded![0]!.detail).toMatch(/fewer ASes/);
  });
  it('§4.2.3: AGGREGATOR with an AS other than AS_TRANS → AS4_PATH and AS4_AGGREGATOR ignored', () => {
    const m = mergeAs4([seq(65010, 23456)], [seq(4200000001)], { as: 65010, address: 1 }, { as: 4200000001, address: 1 });
    expect(m.asPath).toEqual([seq(65010, 23456)]);
    expect(m.aggregator).toEqual({ as: 65010, address: 1 });
  });
  it('§6: AS4_PATH confederation segments are dropped; a malformed AS4_PATH is discarded and AS_PATH used', () => {
    const m = mergeAs4([seq(65010, 23456)], [{ type: 3, asns: [64512] }, seq(4200000001)], undefined, undefined);
    expect(m.asPath).toEqual([seq(65010, 4200000001)]);
    expect(m.notes[0]).toMatch(/confederation/);
    // AS4_PATH of 5 bytes (not a multiple of 2, under 6): attribute discard, the route is used with AS_PATH.
    const r = parseUpdate(body('400101 00 400206 0202 fdf2 5ba0 400304 0a000001 c01105 0201 0000fd'), 2);
    expect(r.ok && r.value.treatAsWithdraw).toBeUndefined();
    expect(r.ok && formatAsPath(r.value.attributes.asPath!)).toBe('65010 23456');
    expect(r.ok && r.value.discarded!.map((d) => d.action)).toEqual(['attributeDiscard']);
  });
  it('§6: AS4_PATH / AS4_AGGREGATOR from a NEW peer (4-octet session) are discarded, the path left alone', () => {
    const r = parseUpdate(body('400101 00 40020a 0202 0000fdf2 00005ba0 400304 0a000001 c0110a 0202 0000fdf2 fa56ea01'), 4);
    expect(r.ok && formatAsPath(r.value.attributes.asPath!)).toBe('65010 23456');
    expect(r.ok && r.value.discarded!.length).toBe(1);
  });
});
