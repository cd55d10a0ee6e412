import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import {
  TCP_MAX_WINDOW_SCALE,
  describeTcpOptionList,
  emitTcpOptions,
  parseTcpOptionList,
  parseTcpOptions,
  tcpOptionsLength,
  type TcpOptions,
} from '../../../../src/l4/tcp/options.js';
import { seq } from '../../../../src/l4/tcp/seq.js';

/** Hex with `//` field notes to the end of each line. */
function bytes(text: string): Uint8Array {
  return fromHex(text.replace(/\/\/.*$/gm, ''));
}

/** Options of a Linux 6.18 SYN (curl to a python http.server over a veth pair, tcpdump -xx). */
const LINUX_SYN_OPTIONS = bytes(`
  02 04 05b4            // MSS, length 4, 1460
  04 02                 // SACK permitted, length 2
  08 0a 3350e5f9        // Timestamps, length 10, TSval 860939769
        00000000        //                        TSecr 0 (nothing to echo yet)
  01                    // NOP
  03 03 0a              // Window scale, length 3, shift 10
`);

/** Options of a Linux ACK carrying 3 SACK blocks (bulk upload with 3% loss from an nft numgen rule). */
const LINUX_SACK_OPTIONS = bytes(`
  01 01                 // NOP NOP
  08 0a 20bc1f1f        // Timestamps, TSval 549199647
        037b37bc        //             TSecr 58406844
  01 01                 // NOP NOP
  05 1a                 // SACK, length 26 = 2 + 3 blocks of 8
  4be49d30 4be4a2d8     // block 1: 1273273648 .. 1273275096 (most recent first, RFC 2018 §4)
  4be47b40 4be49788     // block 2: 1273264960 .. 1273272200
  4be45ef8 4be47598     // block 3: 1273257720 .. 1273263512
`);

/** Emits into a 0xa5-filled buffer at offset 3 and returns the written bytes, checking nothing else changed. */
function emitAt3(options: TcpOptions): Uint8Array {
  const buf = new Uint8Array(3 + 40 + 3).fill(0xa5);
  const n = emitTcpOptions(options, buf, 3);
  expect(n).toBe(tcpOptionsLength(options));
  expect(n % 4).toBe(0);
  expect([...buf.subarray(0, 3), ...buf.subarray(3 + n)].every((b) => b === 0xa5)).toBe(true);
  return buf.slice(3, 3 + n);
}

describe('TCP options: real Linux bytes', () => {
  it('parses a Linux SYN in wire order', () => {
    const list = parseTcpOptionList(LINUX_SYN_OPTIONS);
    expect(list).toEqual({
      ok: true,
      value: [
        { kind: 'maximumSegmentSize', mss: 1460 },
        { kind: 'sackPermitted' },
        { kind: 'timestamps', value: 860939769, echoReply: 0 },
        { kind: 'noOperation' },
        { kind: 'windowScale', shift: 10 },
      ],
    });
    expect(list.ok && describeTcpOptionList(list.value)).toBe('mss 1460,sackOK,TS val 860939769 ecr 0,nop,wscale 10');
  });

  it('parses a Linux SYN into the record', () => {
    expect(parseTcpOptions(LINUX_SYN_OPTIONS)).toEqual({
      ok: true,
      value: { maximumSegmentSize: 1460, sackPermitted: true, timestamps: { value: 860939769, echoReply: 0 }, windowScale: 10 },
    });
  });

  it('parses real SACK blocks', () => {
    const parsed = parseTcpOptions(LINUX_SACK_OPTIONS);
    expect(parsed).toEqual({
      ok: true,
      value: {
        timestamps: { value: 549199647, echoReply: 58406844 },
        sackBlocks: [
          { left: 1273273648, right: 1273275096 },
          { left: 1273264960, right: 1273272200 },
          { left: 1273257720, right: 1273263512 },
        ],
      },
    });
    const list = parseTcpOptionList(LINUX_SACK_OPTIONS);
    // tcpdump -S printed exactly this for the segment.
    expect(list.ok && describeTcpOptionList(list.value)).toBe(
      'nop,nop,TS val 549199647 ecr 58406844,nop,nop,sack 3 {1273273648:1273275096}{1273264960:1273272200}{1273257720:1273263512}',
    );
  });

  it('re-emits both Linux option sets byte for byte (Linux layout, non-zero offset)', () => {
    for (const wire of [LINUX_SYN_OPTIONS, LINUX_SACK_OPTIONS]) {
      const parsed = parseTcpOptions(wire);
      if (!parsed.ok) throw new Error('parse failed');
      expect(toHex(emitAt3(parsed.value))).toBe(toHex(wire));
    }
  });
});

describe('TCP options: emit layout', () => {
  it('timestamps alone go behind two NOPs', () => {
    expect(toHex(emitAt3({ timestamps: { value: 1, echoReply: 2 } }))).toBe('0101080a0000000100000002');
  });

  it('SACK-permitted alone goes behind two NOPs; window scale behind one', () => {
    expect(toHex(emitAt3({ maximumSegmentSize: 536, sackPermitted: true, windowScale: 7 }))).toBe('02040218' + '01010402' + '01030307');
  });

  it('pads to a 32-bit boundary with End of Option List', () => {
    // Unknown kind 30 (MPTCP) with 2 data bytes = 4 bytes; kind 253 (experimental) with 1 = 3 bytes, then one 0.
    expect(toHex(emitAt3({ unknown: [{ type: 30, data: Uint8Array.of(1, 2) }, { type: 253, data: Uint8Array.of(9) }] }))).toBe(
      '1e040102' + 'fd030900',
    );
  });

  it('an empty record is zero bytes', () => {
    expect(tcpOptionsLength({})).toBe(0);
  });

  it('fits timestamps + 3 SACK blocks in 40 bytes, and refuses a fourth', () => {
    const block = { left: seq(1), right: seq(2) };
    expect(tcpOptionsLength({ timestamps: { value: 0, echoReply: 0 }, sackBlocks: [block, block, block] })).toBe(40);
    expect(() => emitAt3({ timestamps: { value: 0, echoReply: 0 }, sackBlocks: [block, block, block, block] })).toThrow(RangeError);
    expect(() => emitAt3({ sackBlocks: [block, block, block, block, block] })).toThrow(RangeError);
  });

  it('refuses out-of-range values (programmer errors)', () => {
    expect(() => tcpOptionsLength({ maximumSegmentSize: 70000 })).toThrow(RangeError);
    expect(() => tcpOptionsLength({ windowScale: -1 })).toThrow(RangeError);
    expect(() => tcpOptionsLength({ unknown: [{ type: 1, data: new Uint8Array() }] })).toThrow(RangeError);
  });
});

describe('TCP options: parsing rules', () => {
  it('caps the window scale at 14 (RFC 7323 §2.3) but keeps the received shift in the list', () => {
    const wire = fromHex('03030f00'); // shift 15, then EOL
    expect(parseTcpOptions(wire)).toEqual({ ok: true, value: { windowScale: TCP_MAX_WINDOW_SCALE } });
    expect(parseTcpOptionList(wire)).toEqual({ ok: true, value: [{ kind: 'windowScale', shift: 15 }, { kind: 'endOfOptionList' }] });
    expect(parseTcpOptions(fromHex('0303 0e 01'))).toEqual({ ok: true, value: { windowScale: 14 } });
  });

  it('stops at End of Option List: what follows is padding', () => {
    expect(parseTcpOptionList(fromHex('01 00 02 04'))).toEqual({
      ok: true,
      value: [{ kind: 'noOperation' }, { kind: 'endOfOptionList' }],
    });
  });

  it('keeps unknown options with their data', () => {
    const parsed = parseTcpOptions(fromHex('22 06 aabbccdd 01 01')); // kind 34 (TCP Fast Open cookie)
    expect(parsed).toEqual({ ok: true, value: { unknown: [{ type: 34, data: fromHex('aabbccdd') }] } });
    const list = parseTcpOptionList(fromHex('22 06 aabbccdd'));
    expect(list.ok && describeTcpOptionList(list.value)).toBe('opt-34:aabbccdd');
  });

  it('a repeated option keeps the last value, as Linux does', () => {
    expect(parseTcpOptions(fromHex('020405b4 02040218'))).toEqual({ ok: true, value: { maximumSegmentSize: 536 } });
  });

  const bad: [string, string, number, RegExp][] = [
    ['no length byte', '01 02', 1, /no length byte/],
    ['length 0', '08 00 0000', 0, /length 0 < 2/],
    ['length 1', '01 01 fd 01', 2, /length 1 < 2/],
    ['length past the end', '01 08 0a 00000001', 1, /runs past/],
    ['MSS not 4 bytes', '02 03 05 00', 0, /expected 4/],
    ['window scale not 3 bytes', '03 04 07 00', 0, /expected 3/],
    ['SACK-permitted not 2 bytes', '04 03 00 00', 0, /expected 2/],
    ['timestamps not 10 bytes', '08 08 00000001 0000', 0, /expected 10/],
    ['SACK with no block', '01 01 05 02', 2, /2 \+ 8n/],
    ['SACK with a partial block', '05 0b 00000001 00000002 00', 0, /2 \+ 8n/],
  ];
  for (const [name, hex, at, detail] of bad) {
    it(`badOption: ${name}`, () => {
      const parsed = parseTcpOptionList(fromHex(hex), 20);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.error.reason).toBe('badOption');
      expect(parsed.error.offset).toBe(20 + at); // relative to the TCP header
      expect(parsed.error.detail).toMatch(detail);
      expect(parseTcpOptions(fromHex(hex)).ok).toBe(false);
    });
  }
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const blockArb = fc.record({ left: u32.map(seq), right: u32.map(seq) });
const optionsArb: fc.Arbitrary<TcpOptions> = fc
  .record(
    {
      maximumSegmentSize: fc.integer({ min: 0, max: 0xffff }),
      windowScale: fc.integer({ min: 0, max: TCP_MAX_WINDOW_SCALE }),
      sackPermitted: fc.constant(true),
      sackBlocks: fc.array(blockArb, { minLength: 1, maxLength: 4 }),
      timestamps: fc.record({ value: u32, echoReply: u32 }),
      unknown: fc.array(
        fc.record({ type: fc.integer({ min: 9, max: 255 }), data: fc.uint8Array({ maxLength: 6 }) }),
        { minLength: 1, maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  )
  .filter((o) => {
    try {
      return tcpOptionsLength(o) <= 40;
    } catch {
      return false;
    }
  });

describe('TCP options: properties', () => {
  it('random bytes never make the parsers throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (wire) => {
        const list = parseTcpOptionList(wire);
        if (list.ok) describeTcpOptionList(list.value);
        parseTcpOptions(wire);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated Linux options never make the parsers throw', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(39), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (edits) => {
        const wire = LINUX_SACK_OPTIONS.slice();
        for (const [at, value] of edits) wire[at % wire.length] = value;
        parseTcpOptions(wire);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse after emit gives the record back', () => {
    fc.assert(
      fc.property(optionsArb, (options) => {
        const wire = emitAt3(options);
        expect(parseTcpOptions(wire)).toEqual({ ok: true, value: options });
      }),
    );
  });
});
