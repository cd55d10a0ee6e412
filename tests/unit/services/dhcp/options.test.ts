import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import {
  DhcpMessageType,
  DhcpOptionCode,
  decodeDhcpOptions,
  dhcpOptionsToTlvs,
  dhcpTlvWireLength,
  scanDhcpOptions,
  type DhcpOptionFragments,
  type DhcpOptions,
} from '../../../../src/services/dhcp/options.js';

/** Hex with `//` field notes to the end of each line. */
function bytes(text: string): Uint8Array {
  return fromHex(text.replace(/\/\/.*$/gm, ''));
}

// The options field of a busybox udhcpc 1.35 DISCOVER (after the magic cookie), captured with tcpdump -xx.
const UDHCPC_DISCOVER_OPTIONS = bytes(`
  35 01 01              // 53 DHCP message type, length 1: DISCOVER
  39 02 0240            // 57 maximum DHCP message size, length 2: 576
  37 07 01 03 06 0c 0f 1c 2a // 55 parameter request list: 1 3 6 12 15 28 42
  0c 07 746e6862757379  // 12 host name "tnhbusy"
  3c 09 746e6876656e646f72 // 60 vendor class identifier "tnhvendor"
  3d 07 01 020000000002 // 61 client identifier: htype 1 + MAC 02:00:00:00:00:02
  ff                    // end
  00 00 00 00           // pad (udhcpc pads the message to 300 bytes)
`);

function scan(optionBytes: Uint8Array): DhcpOptionFragments {
  const fragments: DhcpOptionFragments = new Map();
  expect(scanDhcpOptions(optionBytes, 0, optionBytes.length, fragments)).toBeUndefined();
  return fragments;
}

function tlvHex(options: DhcpOptions): string[] {
  return dhcpOptionsToTlvs(options).map((t) => `${t.code}:${toHex(t.data)}`);
}

describe('DHCP options: scanning', () => {
  it('collects each option with its offset, and stops at End', () => {
    const fragments = scan(UDHCPC_DISCOVER_OPTIONS);
    expect([...fragments.keys()]).toEqual([53, 57, 55, 12, 60, 61]);
    expect(fragments.get(57)).toEqual([{ offset: 3, data: fromHex('0240') }]);
    expect(fragments.get(61)![0]!.offset).toBe(36); // 3 + 4 + 9 + 9 + 11
  });

  it('skips Pad anywhere', () => {
    expect([...scan(fromHex('00 00 35 01 05 00 36 04 0a000001 ff')).keys()]).toEqual([53, 54]);
  });

  it('reports errors with the offset in the message', () => {
    const fragments: DhcpOptionFragments = new Map();
    const msg = fromHex('aaaa 35 01 05 0c 04 6162');
    expect(scanDhcpOptions(msg, 2, msg.length, fragments)).toEqual({
      reason: 'badOption',
      offset: 5,
      detail: 'option 12 length 4 runs past the field (2 left)',
    });
    expect(scanDhcpOptions(fromHex('35'), 0, 1, new Map())).toMatchObject({ reason: 'badOption', offset: 0 });
  });
});

describe('DHCP options: decoding', () => {
  it('decodes a real udhcpc DISCOVER', () => {
    expect(decodeDhcpOptions(scan(UDHCPC_DISCOVER_OPTIONS))).toEqual({
      ok: true,
      value: {
        messageType: DhcpMessageType.DISCOVER,
        maximumMessageSize: 576,
        parameterRequestList: [1, 3, 6, 12, 15, 28, 42],
        hostName: 'tnhbusy',
        vendorClassIdentifier: 'tnhvendor',
        clientIdentifier: fromHex('01020000000002'),
      },
    });
  });

  it('joins repeated options (RFC 3396), in order', () => {
    const decoded = decodeDhcpOptions(scan(fromHex('06 04 01010101 35 01 02 06 04 02020202 06 04 03030303')));
    expect(decoded).toEqual({ ok: true, value: { domainNameServers: [0x01010101, 0x02020202, 0x03030303], messageType: 2 } });
  });

  it('joined pieces are validated as a whole: two halves of a subnet mask make one', () => {
    expect(decodeDhcpOptions(scan(fromHex('01 02 ffff 01 02 ff00')))).toEqual({ ok: true, value: { subnetMask: 0xffffff00 } });
    const tooLong = decodeDhcpOptions(scan(fromHex('01 04 ffffff00 01 01 00')));
    expect(tooLong.ok === false && tooLong.error).toMatchObject({ reason: 'badOption', offset: 0 });
  });

  it('keeps unknown options as raw bytes, copied out of the packet', () => {
    const wire = fromHex('79 05 18 0a0000 0a 35 01 03'); // 121 classless static route, then message type
    const decoded = decodeDhcpOptions(scan(wire));
    expect(decoded).toEqual({ ok: true, value: { unknown: [{ code: 121, data: fromHex('180a00000a') }], messageType: 3 } });
    wire[2] = 0x99;
    expect(decoded.ok && decoded.value.unknown![0]!.data[0]).toBe(0x18);
  });

  it('decodes strings byte for byte (latin1), so no byte is lost', () => {
    const decoded = decodeDhcpOptions(scan(fromHex('0c 04 ff80e961')));
    expect(decoded.ok && decoded.value.hostName).toBe('\u00ff\u0080\u00e9a');
  });

  it('reads lease times as unsigned, including infinity', () => {
    expect(decodeDhcpOptions(scan(fromHex('33 04 ffffffff')))).toEqual({ ok: true, value: { leaseTime: 0xffffffff } });
  });
});

describe('DHCP options: encoding', () => {
  it('writes the options in the key order of the record', () => {
    expect(
      tlvHex({ messageType: DhcpMessageType.OFFER, serverIdentifier: 0x0a4d0001, leaseTime: 43200, routers: [0x0a4d0001] }),
    ).toEqual(['53:02', '54:0a4d0001', '51:0000a8c0', '3:0a4d0001']);
    expect(tlvHex({ routers: [0x0a4d0001], messageType: DhcpMessageType.OFFER })).toEqual(['3:0a4d0001', '53:02']);
  });

  it('leaves out overload and undefined values; writes unknown options where the key sits', () => {
    expect(
      tlvHex({
        messageType: 1,
        overload: 3,
        hostName: undefined,
        unknown: [{ code: 82, data: fromHex('0102') }],
        clientIdentifier: fromHex('01aabbccddeeff'),
      }),
    ).toEqual(['53:01', '82:0102', '61:01aabbccddeeff']);
  });

  it('encodes every kind of value', () => {
    expect(
      tlvHex({
        subnetMask: 0xffffff00,
        domainNameServers: [0x01020304, 0x05060708],
        hostName: 'h\u00e9',
        maximumMessageSize: 1500,
        parameterRequestList: [1, 3, 6],
      }),
    ).toEqual(['1:ffffff00', '6:0102030405060708', '12:68e9', '57:05dc', '55:010306']);
  });

  const bad: [string, DhcpOptions][] = [
    ['an address out of range', { subnetMask: 2 ** 32 }],
    ['a fractional lease time', { leaseTime: 1.5 }],
    ['an empty router list', { routers: [] }],
    ['an empty host name', { hostName: '' }],
    ['a character above 0xff', { hostName: 'h\u0100' }],
    ['a one-byte client id', { clientIdentifier: Uint8Array.of(1) }],
    ['a message type above 255', { messageType: 256 }],
    ['unknown option code 0 (pad)', { unknown: [{ code: 0, data: new Uint8Array() }] }],
    ['unknown option code 255 (end)', { unknown: [{ code: 255, data: new Uint8Array() }] }],
  ];
  for (const [name, options] of bad) {
    it(`refuses ${name} (a programmer error)`, () => {
      expect(() => dhcpOptionsToTlvs(options)).toThrow(RangeError);
    });
  }

  it('counts the extra code and length bytes of a split option (RFC 3396)', () => {
    const length = (n: number): number => dhcpTlvWireLength({ code: 12, data: new Uint8Array(n) });
    expect([length(0), length(1), length(255), length(256), length(510), length(511)]).toEqual([2, 3, 257, 260, 514, 517]);
  });
});

describe('DHCP options: constants', () => {
  it('use the RFC 2132 codes', () => {
    expect(DhcpOptionCode).toMatchObject({ pad: 0, subnetMask: 1, router: 3, hostName: 12, overload: 52, dhcpMessageType: 53, end: 255 });
    expect(DhcpMessageType).toEqual({ DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 });
  });
});

describe('DHCP options: properties', () => {
  it('random bytes never make scanning or decoding throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (wire) => {
        const fragments: DhcpOptionFragments = new Map();
        if (scanDhcpOptions(wire, 0, wire.length, fragments) === undefined) decodeDhcpOptions(fragments);
      }),
      { numRuns: 3000 },
    );
  });

  it('random well-framed options (any code, any length) never make decoding throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 12 })), { maxLength: 20 }),
        (options) => {
          const wire = Uint8Array.from(options.flatMap(([code, data]) => [code, data.length, ...data]));
          decodeDhcpOptions(scan(wire));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
