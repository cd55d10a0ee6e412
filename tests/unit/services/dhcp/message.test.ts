import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import {
  BOOTP_MIN_MESSAGE_LENGTH,
  BootpOp,
  DHCP_MAGIC_COOKIE,
  DhcpFlags,
  DhcpMessageView,
  Field,
  HTYPE_ETHERNET,
  describeDhcpMessage,
  dhcpMessageLength,
  encodeDhcpMessage,
  parseDhcpMessage,
  type DhcpMessage,
} from '../../../../src/services/dhcp/message.js';
import { DhcpMessageType, type DhcpOptions } from '../../../../src/services/dhcp/options.js';

/** Hex with `//` field notes to the end of each line. */
function bytes(text: string): Uint8Array {
  return fromHex(text.replace(/\/\/.*$/gm, ''));
}
const zeros = (n: number): string => '00'.repeat(n);
/** Zero padding up to the 300-byte BOOTP minimum, given the bytes written so far. */
const padTo300 = (used: number): string => zeros(300 - used);

const MAC = 0x02_00_00_00_00_02; // 02:00:00:00:00:02, the client's veth
const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

// All messages below are UDP payloads captured with `tcpdump -xx` on a veth pair
// between two network namespaces: dnsmasq 2.90 as the server; ISC dhclient 4.4.3
// and busybox 1.35 udhcpc as clients.

/** Fixed header of a client's message: everything zero except op, htype, hlen, xid, chaddr. */
const clientHeader = (xid: string): string => `
  01 01 06 00           // op BOOTREQUEST, htype 1 (Ethernet), hlen 6, hops 0
  ${xid}                // xid
  0000 0000             // secs 0, flags 0 (no BROADCAST bit: the client can take a unicast reply)
  00000000 00000000     // ciaddr 0.0.0.0 (no address yet), yiaddr 0.0.0.0
  00000000 00000000     // siaddr, giaddr 0.0.0.0 (no relay)
  020000000002 ${zeros(10)} // chaddr 02:00:00:00:00:02, zero-padded to 16 bytes
  ${zeros(64)}          // sname: empty
  ${zeros(128)}         // file: empty
  63825363              // magic cookie 99.130.83.99
`;

/** Fixed header of dnsmasq's replies to 02:00:00:00:00:02. */
const serverHeader = (xid: string): string => `
  02 01 06 00           // op BOOTREPLY, htype 1, hlen 6, hops 0
  ${xid}                // xid, copied from the request
  0000 0000             // secs 0, flags 0
  00000000              // ciaddr 0.0.0.0
  0a4d0040              // yiaddr 10.77.0.64: the offered address
  0a4d0001              // siaddr 10.77.0.1: dnsmasq fills in its own address
  00000000              // giaddr 0.0.0.0
  020000000002 ${zeros(10)} // chaddr
  ${zeros(64)} ${zeros(128)} // sname, file: empty
  63825363              // magic cookie
`;

const DHCLIENT_DISCOVER = bytes(`${clientHeader('6540643e')}
  35 01 01              // 53 message type: DISCOVER
  0c 09 746e68636c69656e74 // 12 host name "tnhclient"
  37 06 01 1c 03 0f 06 0c // 55 parameter request list: mask, broadcast, router, domain, DNS, host name
  ff                    // end
  ${padTo300(240 + 3 + 11 + 8 + 1)} // pad with zeros to 300 bytes
`);

const DNSMASQ_OFFER = bytes(`${serverHeader('6540643e')}
  35 01 02              // 53 message type: OFFER
  36 04 0a4d0001        // 54 server identifier 10.77.0.1
  33 04 0000a8c0        // 51 lease time 43200 s (12 h)
  3a 04 00005460        // 58 T1 21600 s (50%)
  3b 04 000093a8        // 59 T2 37800 s (87.5%)
  01 04 ffffff00        // 1 subnet mask 255.255.255.0
  1c 04 0a4d00ff        // 28 broadcast 10.77.0.255
  0f 08 6c61622e74657374 // 15 domain name "lab.test"
  06 08 0a4d0001 09090909 // 6 DNS servers 10.77.0.1, 9.9.9.9
  03 04 0a4d0001        // 3 router 10.77.0.1
  ff                    // end; dnsmasq does not pad (306 bytes > 300)
`);

const DHCLIENT_REQUEST = bytes(`${clientHeader('6540643e')}
  35 01 03              // 53 message type: REQUEST
  36 04 0a4d0001        // 54 server identifier: the offer it takes (SELECTING state)
  32 04 0a4d0040        // 50 requested IP 10.77.0.64
  0c 09 746e68636c69656e74 // 12 host name "tnhclient"
  37 06 01 1c 03 0f 06 0c // 55 parameter request list
  ff
  ${padTo300(240 + 3 + 6 + 6 + 11 + 8 + 1)}
`);

const DNSMASQ_ACK = bytes(`${serverHeader('6540643e')}
  35 01 05              // 53 message type: ACK
  36 04 0a4d0001 33 04 0000a8c0 3a 04 00005460 3b 04 000093a8 // server id, lease, T1, T2
  01 04 ffffff00 1c 04 0a4d00ff // mask, broadcast
  0c 09 746e68636c69656e74 // 12 host name "tnhclient", echoed back
  0f 08 6c61622e74657374 06 08 0a4d0001 09090909 03 04 0a4d0001 // domain, DNS, router
  ff
`);

const UDHCPC_DISCOVER = bytes(`${clientHeader('afd26925')}
  35 01 01              // 53 message type: DISCOVER
  39 02 0240            // 57 maximum message size 576
  37 07 01 03 06 0c 0f 1c 2a // 55 parameter request list (42 = NTP servers)
  0c 07 746e6862757379  // 12 host name "tnhbusy" (-x hostname:tnhbusy)
  3c 09 746e6876656e646f72 // 60 vendor class "tnhvendor" (-V tnhvendor)
  3d 07 01 020000000002 // 61 client id: type 1 (Ethernet) + MAC
  ff
  ${padTo300(240 + 3 + 4 + 9 + 9 + 11 + 9 + 1)}
`);

const UDHCPC_REQUEST = bytes(`${clientHeader('afd26925')}
  35 01 03              // 53 message type: REQUEST
  32 04 0a4d0040        // 50 requested IP 10.77.0.64
  36 04 0a4d0001        // 54 server identifier 10.77.0.1
  39 02 0240 37 07 0103060c0f1c2a 0c 07 746e6862757379 // max size, PRL, host name
  3c 09 746e6876656e646f72 3d 07 01020000000002 // vendor class, client id
  ff
  ${padTo300(240 + 3 + 6 + 6 + 4 + 9 + 9 + 11 + 9 + 1)}
`);

const ALL = { DHCLIENT_DISCOVER, DNSMASQ_OFFER, DHCLIENT_REQUEST, DNSMASQ_ACK, UDHCPC_DISCOVER, UDHCPC_REQUEST };

function parse(buf: Uint8Array): DhcpMessage {
  const parsed = parseDhcpMessage(buf);
  if (!parsed.ok) throw new Error(`parse failed: ${JSON.stringify(parsed.error)}`);
  return parsed.value;
}

/** Encodes at offset 7 into a 0xa5-filled buffer, checks the margins and returns the message bytes. */
function encodeAt7(message: DhcpMessage, maxLength?: number): Uint8Array {
  const length = dhcpMessageLength(message, maxLength);
  const buf = new Uint8Array(7 + length + 9).fill(0xa5);
  expect(encodeDhcpMessage(message, buf, 7, maxLength)).toBe(length);
  expect(buf.subarray(0, 7).every((b) => b === 0xa5)).toBe(true);
  expect(buf.subarray(7 + length).every((b) => b === 0xa5)).toBe(true);
  return buf.slice(7, 7 + length);
}

describe('DHCP message: real bytes', () => {
  it('the fixtures have the captured lengths', () => {
    expect(Object.values(ALL).map((b) => b.length)).toEqual([300, 306, 300, 317, 300, 300]);
  });

  it('parses a dhclient DISCOVER', () => {
    expect(parse(DHCLIENT_DISCOVER)).toEqual({
      op: BootpOp.BOOTREQUEST,
      htype: HTYPE_ETHERNET,
      hlen: 6,
      hops: 0,
      xid: 0x6540643e,
      secs: 0,
      flags: 0,
      ciaddr: 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: MAC,
      sname: '',
      file: '',
      options: { messageType: DhcpMessageType.DISCOVER, hostName: 'tnhclient', parameterRequestList: [1, 28, 3, 15, 6, 12] },
    });
  });

  it('parses a dnsmasq OFFER, keeping the options in wire order', () => {
    const offer = parse(DNSMASQ_OFFER);
    expect(offer).toMatchObject({ op: BootpOp.BOOTREPLY, xid: 0x6540643e, yiaddr: ip(10, 77, 0, 64), siaddr: ip(10, 77, 0, 1), chaddr: MAC });
    expect(offer.options).toEqual({
      messageType: DhcpMessageType.OFFER,
      serverIdentifier: ip(10, 77, 0, 1),
      leaseTime: 43200,
      renewalTime: 21600,
      rebindingTime: 37800,
      subnetMask: ip(255, 255, 255, 0),
      broadcastAddress: ip(10, 77, 0, 255),
      domainName: 'lab.test',
      domainNameServers: [ip(10, 77, 0, 1), ip(9, 9, 9, 9)],
      routers: [ip(10, 77, 0, 1)],
    });
    expect(Object.keys(offer.options)).toEqual([
      'messageType',
      'serverIdentifier',
      'leaseTime',
      'renewalTime',
      'rebindingTime',
      'subnetMask',
      'broadcastAddress',
      'domainName',
      'domainNameServers',
      'routers',
    ]);
  });

  it('parses the REQUEST and ACK of both clients', () => {
    expect(parse(DHCLIENT_REQUEST).options).toEqual({
      messageType: DhcpMessageType.REQUEST,
      serverIdentifier: ip(10, 77, 0, 1),
      requestedIpAddress: ip(10, 77, 0, 64),
      hostName: 'tnhclient',
      parameterRequestList: [1, 28, 3, 15, 6, 12],
    });
    expect(parse(DNSMASQ_ACK).options).toMatchObject({ messageType: DhcpMessageType.ACK, hostName: 'tnhclient', leaseTime: 43200 });
    const udhcpc = parse(UDHCPC_REQUEST);
    expect(udhcpc.xid).toBe(0xafd26925);
    expect(udhcpc.options).toEqual({
      messageType: DhcpMessageType.REQUEST,
      requestedIpAddress: ip(10, 77, 0, 64),
      serverIdentifier: ip(10, 77, 0, 1),
      maximumMessageSize: 576,
      parameterRequestList: [1, 3, 6, 12, 15, 28, 42],
      hostName: 'tnhbusy',
      vendorClassIdentifier: 'tnhvendor',
      clientIdentifier: fromHex('01 020000000002'),
    });
  });

  it('re-encodes every captured message byte for byte, at a non-zero offset', () => {
    for (const [name, wire] of Object.entries(ALL)) {
      expect(toHex(encodeAt7(parse(wire))), name).toBe(toHex(wire));
    }
  });

  it('describes messages in one line', () => {
    expect(describeDhcpMessage(parse(DHCLIENT_DISCOVER))).toBe('DHCP DISCOVER xid 0x6540643e from 02:00:00:00:00:02');
    expect(describeDhcpMessage(parse(DNSMASQ_OFFER))).toBe(
      'DHCP OFFER xid 0x6540643e to 02:00:00:00:00:02, yiaddr 10.77.0.64, server 10.77.0.1, lease 43200s',
    );
    expect(describeDhcpMessage(parse(UDHCPC_REQUEST))).toBe(
      'DHCP REQUEST xid 0xafd26925 from 02:00:00:00:00:02, requested 10.77.0.64, server 10.77.0.1',
    );
    const nak: DhcpMessage = {
      ...parse(DNSMASQ_ACK),
      yiaddr: 0,
      giaddr: ip(10, 0, 0, 1),
      flags: DhcpFlags.BROADCAST,
      options: { messageType: DhcpMessageType.NAK, message: 'wrong network' },
    };
    expect(describeDhcpMessage(nak)).toBe(
      'DHCP NAK xid 0x6540643e to 02:00:00:00:00:02, via 10.0.0.1, broadcast, message "wrong network"',
    );
    expect(describeDhcpMessage({ ...nak, options: {} })).toMatch(/^BOOTP REPLY xid 0x6540643e/);
    expect(describeDhcpMessage({ ...nak, options: { messageType: 42 } })).toMatch(/^DHCP type 42 xid/);
  });

  it('the view reads the fixed header without parsing options', () => {
    const buf = DNSMASQ_OFFER.slice();
    buf[Field.FLAGS] = 0x80; // set BROADCAST
    buf[Field.SECS + 1] = 3;
    buf[Field.HOPS] = 1;
    const wrapped = DhcpMessageView.wrap(buf);
    if (!wrapped.ok) throw new Error('wrap failed');
    const v = wrapped.value;
    expect([v.op, v.htype, v.hlen, v.hops, v.xid, v.secs]).toEqual([2, 1, 6, 1, 0x6540643e, 3]);
    expect(v.flags).toBe(DhcpFlags.BROADCAST);
    expect(v.broadcast).toBe(true);
    expect([v.ciaddr, v.yiaddr, v.siaddr, v.giaddr]).toEqual([0, ip(10, 77, 0, 64), ip(10, 77, 0, 1), 0]);
    expect(v.chaddr).toBe(MAC);
    expect(v.sname).toBe('');
    expect(v.describe()).toBe('DHCP OFFER xid 0x6540643e to 02:00:00:00:00:02, yiaddr 10.77.0.64, server 10.77.0.1, lease 43200s, broadcast');
  });
});

/** A message with the given options, built from dhclient's DISCOVER header. */
function withOptions(optionHex: string, header = DHCLIENT_DISCOVER.subarray(0, Field.OPTIONS)): Uint8Array {
  return Uint8Array.from([...header, ...fromHex(optionHex)]);
}

describe('DHCP message: options in sname and file (option 52, RFC 2131 §4.1)', () => {
  /** Header with options in 'file' and 'sname'; an option split across fields is joined in options → file → sname order. */
  function overloaded(fileHex: string, snameHex: string, mainHex: string): Uint8Array {
    const buf = withOptions(mainHex);
    buf.set(fromHex(snameHex), Field.SNAME);
    buf.set(fromHex(fileHex), Field.FILE);
    return buf;
  }

  it('reads options from the options field, then file, then sname', () => {
    const buf = overloaded(
      '06 04 05060708  0c 03 616263  ff', // file: DNS part 2, host name "abc"
      '0f 04 74657374  06 04 090a0b0c  ff', // sname: domain "test", DNS part 3
      '35 01 05  34 01 03  06 04 01020304  ff', // ACK, overload both, DNS part 1
    );
    const message = parse(buf);
    expect(message.sname).toBe('');
    expect(message.file).toBe('');
    expect(message.options).toEqual({
      messageType: DhcpMessageType.ACK,
      overload: 3,
      domainNameServers: [ip(1, 2, 3, 4), ip(5, 6, 7, 8), ip(9, 10, 11, 12)],
      hostName: 'abc',
      domainName: 'test',
    });
  });

  it('keeps sname as a string when only file is overloaded', () => {
    const buf = overloaded('0c 03 616263 ff', '73727600', '35 01 05 34 01 01 ff');
    const message = parse(buf);
    expect(message.sname).toBe('srv');
    expect(message.file).toBe('');
    expect(message.options.hostName).toBe('abc');
  });

  it('badOption: an option running past the end of the file field', () => {
    const buf = withOptions('35 01 05 34 01 01 ff');
    buf[Field.FILE + 126] = 12; // host name, with its length byte outside the field
    buf[Field.FILE + 127] = 0x05;
    const parsed = parseDhcpMessage(buf);
    expect(parsed).toEqual({
      ok: false,
      error: { reason: 'badOption', offset: Field.FILE + 126, detail: 'option 12 length 5 runs past the field (0 left)' },
    });
  });

  it('badOption: an error in sname', () => {
    const buf = overloaded('ff', '01 03 ffffff ff', '35 01 05 34 01 02 ff');
    const parsed = parseDhcpMessage(buf);
    expect(parsed.ok === false && parsed.error).toMatchObject({ reason: 'badOption', offset: Field.SNAME });
  });

  it('spills into file and sname when the client set a small maximum size, and reads back', () => {
    const options: DhcpOptions = {
      messageType: DhcpMessageType.OFFER,
      hostName: 'h'.repeat(200),
      domainName: 'd'.repeat(100),
      message: 'm'.repeat(50),
    };
    const message: DhcpMessage = { ...parse(DNSMASQ_OFFER), options };
    const maxLength = 576 - 20 - 8; // client's 576 minus IP and UDP headers
    const wire = encodeAt7(message, maxLength);
    expect(wire.length).toBeLessThanOrEqual(maxLength);
    expect(toHex(wire.subarray(Field.OPTIONS, Field.OPTIONS + 3))).toBe('340103'); // overload: file and sname
    expect(wire[Field.FILE]).toBe(15); // the domain name went to file
    expect(wire[Field.SNAME]).toBe(56); // the message went to sname
    expect(parse(wire)).toEqual({ ...message, options: { overload: 3, ...options } });
    // Without a limit, everything stays in the options field.
    expect(encodeAt7(message)[Field.FILE]).toBe(0);
  });

  it('refuses to encode what cannot fit, even with overload (programmer error)', () => {
    const message: DhcpMessage = { ...parse(DNSMASQ_OFFER), file: 'pxelinux.0', options: { hostName: 'h'.repeat(200) } };
    expect(() => dhcpMessageLength(message, 400)).toThrow(RangeError);
    expect(() => dhcpMessageLength(message, 299)).toThrow(RangeError);
  });
});

describe('DHCP message: RFC 3396 long options', () => {
  it('splits an option longer than 255 bytes and joins it back', () => {
    const hostName = 'x'.repeat(300);
    const message: DhcpMessage = { ...parse(DHCLIENT_DISCOVER), options: { messageType: 1, hostName } };
    const wire = encodeAt7(message);
    expect(wire.length).toBe(240 + 3 + 2 + 255 + 2 + 45 + 1);
    expect([wire[243], wire[244], wire[244 + 256], wire[245 + 256]]).toEqual([12, 255, 12, 45]);
    expect(parse(wire).options.hostName).toBe(hostName);
  });

  it('concatenates repeated instances of an option', () => {
    const message = parse(withOptions('0c 03 616263  35 01 01  0c 02 6465  ff'));
    expect(message.options).toEqual({ hostName: 'abcde', messageType: 1 });
  });
});

describe('DHCP message: padding and end', () => {
  it('pads a short message to 300 bytes with zeros after End', () => {
    const wire = encodeAt7({ ...parse(DHCLIENT_DISCOVER), options: { messageType: DhcpMessageType.RELEASE } });
    expect(wire.length).toBe(BOOTP_MIN_MESSAGE_LENGTH);
    expect(toHex(wire.subarray(240, 244))).toBe('350107ff');
    expect(wire.subarray(244).every((b) => b === 0)).toBe(true);
  });

  it('accepts options that run to the end of the message without End', () => {
    expect(parse(withOptions('35 01 01 00 00')).options).toEqual({ messageType: 1 });
    expect(parse(withOptions('')).options).toEqual({});
  });

  it('ignores whatever follows End', () => {
    expect(parse(withOptions('35 01 01 ff 0c 40')).options).toEqual({ messageType: 1 });
  });

  it('keeps unknown options and writes them back', () => {
    const wire = withOptions('35 01 01  52 06 0104 00000001  ff'); // 82 relay agent information
    const message = parse(wire);
    expect(message.options.unknown).toEqual([{ code: 82, data: fromHex('0104 00000001') }]);
    expect(toHex(encodeAt7(message).subarray(240, 252))).toBe(toHex(wire.subarray(240)));
  });
});

describe('DHCP message: errors', () => {
  const cases: [string, Uint8Array, string, number, RegExp][] = [
    ['truncated: shorter than header + cookie', DHCLIENT_DISCOVER.subarray(0, 239), 'truncated', 239, /239 bytes < 240/],
    ['badValue: op 3', patch(DHCLIENT_DISCOVER, Field.OP, 3), 'badValue', Field.OP, /op 3/],
    ['badValue: hlen 17', patch(DHCLIENT_DISCOVER, Field.HLEN, 17), 'badValue', Field.HLEN, /hlen 17/],
    ['unsupported: no magic cookie (plain BOOTP)', patch(DHCLIENT_DISCOVER, Field.MAGIC_COOKIE, 0), 'unsupported', 236, /magic cookie 0x00825363/],
    ['badOption: no length byte', withOptions('35 01 01 0c'), 'badOption', 243, /no length byte/],
    ['badOption: length past the end', withOptions('35 01 01 0c 09 6162'), 'badOption', 243, /length 9 runs past/],
    ['badOption: subnet mask of 3 bytes', withOptions('01 03 ffffff ff'), 'badOption', 240, /subnetMask\) length 3, expected 4/],
    ['badOption: router list of 6 bytes', withOptions('03 06 0a000001 0a00 ff'), 'badOption', 240, /multiple of 4/],
    ['badOption: empty DNS list', withOptions('06 00 ff'), 'badOption', 240, /multiple of 4/],
    ['badOption: empty host name', withOptions('0c 00 ff'), 'badOption', 240, /hostName\) length 0, expected at least 1/],
    ['badOption: message type of 2 bytes', withOptions('35 02 0101 ff'), 'badOption', 240, /expected 1/],
    ['badOption: lease time of 2 bytes', withOptions('33 02 0101 ff'), 'badOption', 240, /expected 4/],
    ['badOption: maximum size of 1 byte', withOptions('39 01 02 ff'), 'badOption', 240, /expected 2/],
    ['badOption: client id of 1 byte', withOptions('3d 01 01 ff'), 'badOption', 240, /at least 2/],
    ['badOption: empty parameter request list', withOptions('37 00 ff'), 'badOption', 240, /at least 1/],
    ['badOption: overload value 4', withOptions('34 01 04 ff'), 'badOption', 240, /overload/],
    ['badOption: overload of 2 bytes', withOptions('34 02 0101 ff'), 'badOption', 240, /overload/],
    ['badOption: overload twice', withOptions('34 01 01 34 01 01 ff'), 'badOption', 240, /overload/],
  ];
  for (const [name, buf, reason, offset, detail] of cases) {
    it(name, () => {
      const parsed = parseDhcpMessage(buf);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.error.reason).toBe(reason);
      expect(parsed.error.offset).toBe(offset);
      expect(parsed.error.detail).toMatch(detail);
    });
  }

  it('the view describes a message with bad options instead of throwing', () => {
    const wrapped = DhcpMessageView.wrap(withOptions('01 03 ffffff ff'));
    expect(wrapped.ok && wrapped.value.describe()).toBe(
      'DHCP xid 0x6540643e (bad: option 1 (subnetMask) length 3, expected 4)',
    );
  });

  it('encode refuses out-of-range fields (programmer errors)', () => {
    const message = parse(DHCLIENT_DISCOVER);
    const buf = new Uint8Array(600);
    expect(() => encodeDhcpMessage({ ...message, xid: 2 ** 32 }, buf, 0)).toThrow(RangeError);
    expect(() => encodeDhcpMessage({ ...message, chaddr: 2 ** 48 }, buf, 0)).toThrow(RangeError);
    expect(() => encodeDhcpMessage({ ...message, sname: 's'.repeat(64) }, buf, 0)).toThrow(RangeError);
    expect(() => encodeDhcpMessage(message, new Uint8Array(299), 0)).toThrow(RangeError);
  });

  it('uses the RFC 2131 magic cookie', () => {
    expect(DHCP_MAGIC_COOKIE).toBe(ip(99, 130, 83, 99));
  });
});

function patch(buf: Uint8Array, at: number, value: number): Uint8Array {
  const copy = buf.slice();
  copy[at] = value;
  return copy;
}

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const latin1 = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: u8.map((c) => String.fromCharCode(c)), minLength, maxLength });
const KNOWN_CODES = new Set([1, 3, 6, 12, 15, 28, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61]);

const optionsArb: fc.Arbitrary<DhcpOptions> = fc.record(
  {
    messageType: u8,
    subnetMask: u32,
    routers: fc.array(u32, { minLength: 1, maxLength: 4 }),
    domainNameServers: fc.array(u32, { minLength: 1, maxLength: 70 }), // 280 bytes: split in two
    hostName: latin1(1, 300),
    domainName: latin1(1, 40),
    broadcastAddress: u32,
    requestedIpAddress: u32,
    leaseTime: u32,
    serverIdentifier: u32,
    parameterRequestList: fc.array(u8, { minLength: 1, maxLength: 20 }),
    message: latin1(1, 40),
    maximumMessageSize: u16,
    renewalTime: u32,
    rebindingTime: u32,
    vendorClassIdentifier: latin1(1, 40),
    clientIdentifier: fc.uint8Array({ minLength: 2, maxLength: 20 }),
    unknown: fc.uniqueArray(
      fc.record({
        code: fc.integer({ min: 1, max: 254 }).filter((c) => !KNOWN_CODES.has(c)),
        data: fc.uint8Array({ maxLength: 300 }),
      }),
      { minLength: 1, maxLength: 3, selector: (o) => o.code },
    ),
  },
  { requiredKeys: [] },
);

const messageArb: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: u8,
  hlen: fc.integer({ min: 0, max: 16 }),
  hops: u8,
  xid: u32,
  secs: u16,
  flags: u16,
  ciaddr: u32,
  yiaddr: u32,
  siaddr: u32,
  giaddr: u32,
  chaddr: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  sname: fc.oneof(fc.constant(''), latin1(0, 63).map((s) => s.replace(/\0/g, ''))),
  file: fc.oneof(fc.constant(''), latin1(0, 127).map((s) => s.replace(/\0/g, ''))),
  options: optionsArb,
});

describe('DHCP message: properties', () => {
  it('random bytes never make parse or describe throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (buf) => {
        parseDhcpMessage(buf);
        const wrapped = DhcpMessageView.wrap(buf);
        if (wrapped.ok) wrapped.value.describe();
      }),
      { numRuns: 1000 },
    );
  });

  it('random option bytes behind a valid header never make parse throw', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 120 }),
        fc.constantFrom(0, 1, 2, 3),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ minLength: 128, maxLength: 128 }),
        (optionBytes, overload, sname, file) => {
          const buf = withOptions((overload ? `3401 0${overload}` : '') + toHex(optionBytes));
          buf.set(sname, Field.SNAME);
          buf.set(file, Field.FILE);
          const parsed = parseDhcpMessage(buf);
          if (parsed.ok) describeDhcpMessage(parsed.value);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated real messages never make parse throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(ALL)),
        fc.array(fc.tuple(fc.integer({ min: 236, max: 320 }), u8), { maxLength: 6 }),
        fc.nat(80),
        (original, edits, cut) => {
          const buf = original.slice(0, original.length - cut);
          for (const [at, value] of edits) if (at < buf.length) buf[at] = value;
          const parsed = parseDhcpMessage(buf);
          if (parsed.ok) describeDhcpMessage(parsed.value);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('parse after encode gives the record back (with or without a size limit)', () => {
    fc.assert(
      fc.property(messageArb, fc.option(fc.integer({ min: 300, max: 1500 }), { nil: undefined }), (message, maxLength) => {
        let wire: Uint8Array;
        try {
          wire = encodeAt7(message, maxLength);
        } catch (e) {
          // Only a size limit may make a record unencodable.
          expect(maxLength).toBeDefined();
          expect(e).toBeInstanceOf(RangeError);
          return;
        }
        if (maxLength !== undefined) expect(wire.length).toBeLessThanOrEqual(maxLength);
        expect(wire.length).toBeGreaterThanOrEqual(BOOTP_MIN_MESSAGE_LENGTH);
        const parsed = parseDhcpMessage(wire);
        if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
        const { overload, ...options } = parsed.value.options;
        expect({ ...parsed.value, options }).toEqual(message);
        if (overload !== undefined) expect([1, 2, 3]).toContain(overload);
      }),
      { numRuns: 300 },
    );
  });
});
