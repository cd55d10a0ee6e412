import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import {
  Field,
  TcpFlags,
  TcpHeaderView,
  describeTcpFlags,
  emitTcpHeader,
  finishTcpChecksumV4,
  finishTcpChecksumV6,
  parseTcpHeader,
  tcpHeaderLength,
  verifyTcpChecksumV4,
  verifyTcpChecksumV6,
  type TcpHeader,
} from '../../../../src/l4/tcp/header.js';
import { TCP_MAX_WINDOW_SCALE } from '../../../../src/l4/tcp/options.js';
import { seq } from '../../../../src/l4/tcp/seq.js';

/** Hex with `//` field notes to the end of each line. */
function bytes(text: string): Uint8Array {
  return fromHex(text.replace(/\/\/.*$/gm, ''));
}

// Captured with tcpdump -xx on a veth pair between two namespaces, Linux 6.18,
// `curl http://10.77.0.1:8077/index.txt` against `python3 -m http.server`,
// checksum offload turned off so the checksums on the wire are real.
const CLIENT_V4 = 0x0a4d0002; // 10.77.0.2
const SERVER_V4 = 0x0a4d0001; // 10.77.0.1

const LINUX_SYN = bytes(`
  cf42                  // source port 53058
  1f8d                  // destination port 8077
  d62d74a5              // sequence number 3593303205 (the ISN)
  00000000              // acknowledgment number 0 (ACK not set)
  a0                    // data offset 10 words = 40 bytes, reserved 0
  02                    // flags: SYN
  faf0                  // window 64240 (unscaled in a SYN, RFC 7323 §2.2)
  e582                  // checksum
  0000                  // urgent pointer
  020405b4              // MSS 1460
  0402                  // SACK permitted
  080a 3350e5f9 00000000 // timestamps TSval 860939769 TSecr 0
  01                    // NOP
  03030a                // window scale 10
`);

const LINUX_SYN_ACK = bytes(`
  1f8d cf42             // 8077 -> 53058
  96320512              // sequence number 2519860498 (server ISN)
  d62d74a6              // acknowledgment number 3593303206 = client ISN + 1
  a0 12                 // 40-byte header; flags SYN + ACK
  fe88                  // window 65160
  c3c9 0000             // checksum, urgent pointer
  020405b4 0402 080a 2c7f564c 3350e5f9 01 03030a // mss 1460, sackOK, TS val 746542668 ecr 860939769, nop, wscale 10
`);

const HTTP_GET = 'GET /index.txt HTTP/1.1\r\nHost: 10.77.0.1:8077\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';
const LINUX_PSH_ACK = bytes(`
  cf42 1f8d             // 53058 -> 8077
  d62d74a6              // sequence number 3593303206
  96320513              // acknowledgment number 2519860499
  80 18                 // data offset 8 words = 32 bytes; flags PSH + ACK
  003f                  // window 63 (scaled by 2^10 on this connection)
  a138 0000             // checksum, urgent pointer
  0101 080a 3350e5f9 2c7f564c // nop, nop, TS val 860939769 ecr 746542668
  ${Buffer.from(HTTP_GET, 'latin1').toString('hex')}
`);

// The same exchange over IPv6 (fd77::2 -> fd77::1): MSS 1440 = 1500 - 40 - 20.
const CLIENT_V6 = fromHex('fd770000000000000000000000000002');
const SERVER_V6 = fromHex('fd770000000000000000000000000001');
const LINUX_SYN_V6 = bytes(`
  e3a2 1f8d             // 58274 -> 8077
  be60a8bc 00000000     // seq 3194005692, ack 0
  a0 02 fd20            // 40 bytes, SYN, window 64800
  eb71 0000             // checksum, urgent pointer
  020405a0 0402 080a f910012e 00000000 01 03030a // mss 1440, sackOK, TS val 4178575662 ecr 0, nop, wscale 10
`);
const LINUX_SYN_ACK_V6 = bytes(`
  1f8d e3a2 6d38c5ce be60a8bd a0 12 fb04 fb3c 0000
  020405a0 0402 080a baec044c f910012e 01 03030a
`);

// A pure ACK with three SACK blocks, from a 3 MB upload with 3% of the data dropped by nft.
const LINUX_SACK_ACK = bytes(`
  1f8e 8b8e             // 8078 -> 35726
  76217d04 4be45950     // seq 1981906180, ack 1273256272
  f0 10 0088            // data offset 15 words = 60 bytes (the maximum); ACK; window 136
  3e1b 0000             // checksum, urgent pointer
  0101 080a 20bc1f1f 037b37bc // nop, nop, TS val 549199647 ecr 58406844
  0101 051a 4be49d30 4be4a2d8 4be47b40 4be49788 4be45ef8 4be47598 // nop, nop, 3 SACK blocks
`);

function wrap(buf: Uint8Array): TcpHeaderView {
  const view = new TcpHeaderView();
  const error = view.wrap(buf);
  if (error) throw new Error(`wrap failed: ${error.reason}`);
  return view;
}

function parse(buf: Uint8Array): TcpHeader {
  const parsed = parseTcpHeader(buf);
  if (!parsed.ok) throw new Error(`parse failed: ${parsed.error.reason}`);
  return parsed.value;
}

/** Emits header + payload at offset 5 of a 0xa5-filled buffer, finishes the checksum, checks the margins. */
function emitSegmentV4(header: TcpHeader, payload: Uint8Array, source: number, destination: number): Uint8Array {
  const length = tcpHeaderLength(header) + payload.length;
  const buf = new Uint8Array(5 + length + 7).fill(0xa5);
  const n = emitTcpHeader(header, buf, 5);
  expect(n).toBe(tcpHeaderLength(header));
  buf.set(payload, 5 + n);
  finishTcpChecksumV4(buf.subarray(5, 5 + length), source, destination);
  expect(buf.subarray(0, 5).every((b) => b === 0xa5)).toBe(true);
  expect(buf.subarray(5 + length).every((b) => b === 0xa5)).toBe(true);
  return buf.slice(5, 5 + length);
}

describe('TCP header: real Linux segments', () => {
  it('reads every field of a SYN through the view', () => {
    const v = wrap(LINUX_SYN);
    expect(v.sourcePort).toBe(53058);
    expect(v.destinationPort).toBe(8077);
    expect(v.sequenceNumber).toBe(3593303205);
    expect(v.acknowledgmentNumber).toBe(0);
    expect(v.dataOffset).toBe(10);
    expect(v.headerLength).toBe(40);
    expect(v.reserved).toBe(0);
    expect(v.flags).toBe(TcpFlags.SYN);
    expect(v.has(TcpFlags.SYN)).toBe(true);
    expect(v.has(TcpFlags.ACK)).toBe(false);
    expect(v.window).toBe(64240);
    expect(v.checksum).toBe(0xe582);
    expect(v.urgentPointer).toBe(0);
    expect(v.optionBytes.length).toBe(20);
    expect(v.payload.length).toBe(0);
  });

  it('parses a SYN-ACK into the record', () => {
    expect(parse(LINUX_SYN_ACK)).toEqual({
      sourcePort: 8077,
      destinationPort: 53058,
      sequenceNumber: 2519860498,
      acknowledgmentNumber: 3593303206,
      flags: TcpFlags.SYN | TcpFlags.ACK,
      window: 65160,
      urgentPointer: 0,
      options: { maximumSegmentSize: 1460, sackPermitted: true, timestamps: { value: 746542668, echoReply: 860939769 }, windowScale: 10 },
    });
  });

  it('finds the payload after the options', () => {
    const v = wrap(LINUX_PSH_ACK);
    expect(v.headerLength).toBe(32);
    expect(Buffer.from(v.payload).toString('latin1')).toBe(HTTP_GET);
    expect(v.has(TcpFlags.PSH | TcpFlags.ACK)).toBe(true);
  });

  it('describes segments the way tcpdump -S does', () => {
    // Each string is tcpdump's own output for the captured packet.
    expect(wrap(LINUX_SYN).describe()).toBe(
      'Flags [S], seq 3593303205, win 64240, options [mss 1460,sackOK,TS val 860939769 ecr 0,nop,wscale 10], length 0',
    );
    expect(wrap(LINUX_SYN_ACK).describe()).toBe(
      'Flags [S.], seq 2519860498, ack 3593303206, win 65160, options [mss 1460,sackOK,TS val 746542668 ecr 860939769,nop,wscale 10], length 0',
    );
    expect(wrap(LINUX_PSH_ACK).describe()).toBe(
      'Flags [P.], seq 3593303206:3593303293, ack 2519860499, win 63, options [nop,nop,TS val 860939769 ecr 746542668], length 87',
    );
    expect(wrap(LINUX_SACK_ACK).describe()).toBe(
      'Flags [.], ack 1273256272, win 136, options [nop,nop,TS val 549199647 ecr 58406844,nop,nop,sack 3 {1273273648:1273275096}{1273264960:1273272200}{1273257720:1273263512}], length 0',
    );
  });

  it('describes urgent data, no options and malformed options', () => {
    const buf = fromHex('0001 0002 00000005 00000000 50 31 0400 0000 0003'); // URG+ACK+FIN, urgent pointer 3
    expect(wrap(buf).describe()).toBe('Flags [F.U], seq 5, ack 0, win 1024, urg 3, length 0');
    const oneByte = Uint8Array.from([...buf, 0x78]);
    expect(wrap(oneByte).describe()).toBe('Flags [F.U], seq 5:6, ack 0, win 1024, urg 3, length 1');
    const badOptions = fromHex('0001 0002 00000005 00000000 60 02 0400 0000 0000 02030000');
    expect(wrap(badOptions).describe()).toMatch(/^Flags \[S\], seq 5, win 1024, options \[bad: option 2 length 3, expected 4\], length 0$/);
  });

  it('verifies real IPv4 checksums, and notices one flipped bit', () => {
    expect(verifyTcpChecksumV4(LINUX_SYN, CLIENT_V4, SERVER_V4)).toBe(true);
    expect(verifyTcpChecksumV4(LINUX_SYN_ACK, SERVER_V4, CLIENT_V4)).toBe(true);
    expect(verifyTcpChecksumV4(LINUX_PSH_ACK, CLIENT_V4, SERVER_V4)).toBe(true);
    expect(verifyTcpChecksumV4(LINUX_SACK_ACK, SERVER_V4, CLIENT_V4)).toBe(true);
    const flipped = LINUX_PSH_ACK.slice();
    flipped[flipped.length - 5]! ^= 0x01;
    expect(verifyTcpChecksumV4(flipped, CLIENT_V4, SERVER_V4)).toBe(false);
    expect(verifyTcpChecksumV4(LINUX_SYN, CLIENT_V4, SERVER_V4 + 1)).toBe(false); // wrong pseudo-header
  });

  it('verifies and recomputes real IPv6 checksums', () => {
    expect(verifyTcpChecksumV6(LINUX_SYN_V6, CLIENT_V6, SERVER_V6)).toBe(true);
    expect(verifyTcpChecksumV6(LINUX_SYN_ACK_V6, SERVER_V6, CLIENT_V6)).toBe(true);
    expect(verifyTcpChecksumV6(LINUX_SYN_V6, SERVER_V6, CLIENT_V6.map((b, i) => (i === 15 ? 3 : b)))).toBe(false);
    const copy = LINUX_SYN_ACK_V6.slice();
    copy[Field.CHECKSUM] = 0;
    copy[Field.CHECKSUM + 1] = 0;
    expect(finishTcpChecksumV6(copy, SERVER_V6, CLIENT_V6)).toBe(0xfb3c);
    expect(toHex(copy)).toBe(toHex(LINUX_SYN_ACK_V6));
  });

  it('re-emits each captured segment byte for byte at a non-zero offset', () => {
    const cases: [Uint8Array, number, number][] = [
      [LINUX_SYN, CLIENT_V4, SERVER_V4],
      [LINUX_SYN_ACK, SERVER_V4, CLIENT_V4],
      [LINUX_PSH_ACK, CLIENT_V4, SERVER_V4],
      [LINUX_SACK_ACK, SERVER_V4, CLIENT_V4],
    ];
    for (const [wire, source, destination] of cases) {
      const segment = emitSegmentV4(parse(wire), wrap(wire).payload, source, destination);
      expect(toHex(segment)).toBe(toHex(wire));
    }
  });
});

describe('TCP header: errors', () => {
  it('truncated: shorter than 20 bytes', () => {
    expect(new TcpHeaderView().wrap(LINUX_SYN.subarray(0, 19))).toEqual({ reason: 'truncated', offset: 19, detail: '19 bytes < 20' });
  });

  it('badLength: data offset below 5 words', () => {
    const buf = LINUX_SYN.slice();
    buf[Field.DATA_OFFSET] = 0x40;
    const error = new TcpHeaderView().wrap(buf);
    expect(error?.reason).toBe('badLength');
    expect(error?.offset).toBe(Field.DATA_OFFSET);
  });

  it('truncated: data offset past the end of the segment', () => {
    const error = new TcpHeaderView().wrap(LINUX_SYN.subarray(0, 39));
    expect(error?.reason).toBe('truncated');
    expect(error?.offset).toBe(Field.DATA_OFFSET);
    expect(parseTcpHeader(LINUX_SYN.subarray(0, 39)).ok).toBe(false);
  });

  it('badOption: a bad option length, offset relative to the header', () => {
    const buf = LINUX_SYN.slice();
    buf[21] = 5; // MSS length 5
    const parsed = parseTcpHeader(buf);
    expect(parsed.ok === false && parsed.error.reason).toBe('badOption');
    expect(parsed.ok === false && parsed.error.offset).toBe(20);
    expect(new TcpHeaderView().wrap(buf)).toBeUndefined(); // the view itself does not read options
  });

  it('emit refuses out-of-range fields (programmer errors)', () => {
    const header = parse(LINUX_SYN);
    const buf = new Uint8Array(60);
    expect(() => emitTcpHeader({ ...header, sourcePort: 65536 }, buf, 0)).toThrow(RangeError);
    expect(() => emitTcpHeader({ ...header, flags: 0x100 }, buf, 0)).toThrow(RangeError);
    expect(() => emitTcpHeader({ ...header, window: -1 }, buf, 0)).toThrow(RangeError);
  });
});

describe('TCP flags', () => {
  it('uses tcpdump letters in tcpdump order', () => {
    expect(describeTcpFlags(0)).toBe('none');
    expect(describeTcpFlags(TcpFlags.SYN | TcpFlags.ACK)).toBe('S.');
    expect(describeTcpFlags(TcpFlags.FIN | TcpFlags.ACK)).toBe('F.');
    expect(describeTcpFlags(TcpFlags.RST)).toBe('R');
    expect(describeTcpFlags(TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR)).toBe('SEW');
    expect(describeTcpFlags(0xff)).toBe('FSRP.UEW');
  });

  it('are the RFC 9293 / RFC 3168 bits', () => {
    expect(TcpFlags).toEqual({ FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 });
  });
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const headerArb: fc.Arbitrary<TcpHeader> = fc.record({
  sourcePort: u16,
  destinationPort: u16,
  sequenceNumber: u32.map(seq),
  acknowledgmentNumber: u32.map(seq),
  flags: fc.integer({ min: 0, max: 0xff }),
  window: u16,
  urgentPointer: u16,
  options: fc.record(
    {
      maximumSegmentSize: u16,
      windowScale: fc.integer({ min: 0, max: TCP_MAX_WINDOW_SCALE }),
      sackPermitted: fc.constant(true),
      timestamps: fc.record({ value: u32, echoReply: u32 }),
      sackBlocks: fc.array(fc.record({ left: u32.map(seq), right: u32.map(seq) }), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: [] },
  ),
});

describe('TCP header: properties', () => {
  it('random bytes never make wrap, parse or describe throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (buf) => {
        const view = new TcpHeaderView();
        if (!view.wrap(buf)) view.describe();
        parseTcpHeader(buf);
        verifyTcpChecksumV4(buf, 1, 2);
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated real segments never make wrap, parse or describe throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(LINUX_SYN, LINUX_PSH_ACK, LINUX_SACK_ACK),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        (original, edits, cut) => {
          const buf = original.slice(0, original.length - (cut % 8));
          for (const [at, value] of edits) buf[at % buf.length] = value;
          const view = new TcpHeaderView();
          if (!view.wrap(buf)) view.describe();
          parseTcpHeader(buf);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('parse after emit gives the record back, and the checksum verifies', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 64 }), u32, u32, (header, payload, source, destination) => {
        const segment = emitSegmentV4(header, payload, source, destination);
        expect(parseTcpHeader(segment)).toEqual({ ok: true, value: header });
        expect(wrap(segment).payload).toEqual(payload);
        expect(verifyTcpChecksumV4(segment, source, destination)).toBe(true);
      }),
    );
  });
});
