/**
 * DHCPv6 message and option codecs against bytes ISC dhclient 4.4 sent
 * (captured with tcpdump on a veth: `dhclient -6 -S` and `dhclient -6`),
 * each field commented; emit into 0xa5-filled buffers at an offset; every
 * error reason; random bytes never throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Dhcp6MessageType,
  DHCP6_MAX_OPTIONS,
  describeDhcp6Message,
  emitDhcp6Message,
  encodeDhcp6Message,
  findDhcp6Option,
  parseDhcp6Message,
  parseDhcp6Options,
} from '../../../../src/services/dhcp6/message.js';
import {
  Dhcp6OptionCode,
  Dhcp6Status,
  dnsServersOption,
  domainListOption,
  formatDuid,
  iaNaOption,
  parseDnsServers,
  parseDomainList,
  parseDuid,
  parseElapsedTime,
  parseIaNa,
  parseOptionRequest,
  parseStatusCode,
  statusCodeOption,
} from '../../../../src/services/dhcp6/options.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** dhclient -6 -S: an Information-request (stateless, RFC 8415 §18.2.6). */
const INFORMATION_REQUEST = hex(
  '0b 7b23c6' + //                          msg-type 11 Information-request, transaction-id 0x7b23c6
    '0001 000a 0003 0001 6ee3a4cdca16' + // Client Identifier, 10 octets: DUID-LL (3), hardware type 1 (Ethernet), MAC
    '0006 0008 0017 0018 0027 001f' + //    Option Request, 8: DNS servers (23), domain list (24), client FQDN (39), SNTP (31)
    '0008 0002 0000', //                    Elapsed Time, 2: 0 (first transmission)
);

/** dhclient -6: a Solicit (stateful, §18.2.1) asking for one IA_NA. */
const SOLICIT = hex(
  '01 b475df' + //                                    msg-type 1 Solicit, transaction-id 0xb475df
    '0001 000e 0001 0001 32a41f19 6ee3a4cdca16' + //  Client Identifier, 14: DUID-LLT (1), Ethernet, time 849616665, MAC
    '0006 0008 0017 0018 0027 001f' + //              Option Request: 23, 24, 39, 31
    '0008 0002 0000' + //                             Elapsed Time 0
    '0003 000c a4cdca16 00000e10 00001518', //        IA_NA, 12: IAID 0xa4cdca16, T1 3600, T2 5400, no addresses
);

describe('DHCPv6 messages from dhclient', () => {
  it('parses the Information-request field by field', () => {
    const m = parseDhcp6Message(INFORMATION_REQUEST);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.value.msgType).toBe(Dhcp6MessageType.INFORMATION_REQUEST);
    expect(m.value.transactionId).toBe(0x7b23c6);
    expect(m.value.options.map((o) => o.code)).toEqual([Dhcp6OptionCode.CLIENTID, Dhcp6OptionCode.ORO, Dhcp6OptionCode.ELAPSED_TIME]);
    const duid = parseDuid(findDhcp6Option(m.value.options, Dhcp6OptionCode.CLIENTID)!.data);
    expect(duid.ok && formatDuid(duid.value)).toBe('00:03:00:01:6e:e3:a4:cd:ca:16');
    expect(parseOptionRequest(findDhcp6Option(m.value.options, Dhcp6OptionCode.ORO)!.data)).toEqual({ ok: true, value: [23, 24, 39, 31] });
    expect(parseElapsedTime(findDhcp6Option(m.value.options, Dhcp6OptionCode.ELAPSED_TIME)!.data)).toEqual({ ok: true, value: 0 });
    expect(describeDhcp6Message(m.value)).toBe('information-request xid=7b23c6 options 1,6,8');
  });

  it('parses the Solicit and its IA_NA', () => {
    const m = parseDhcp6Message(SOLICIT);
    if (!m.ok) throw new Error(m.error.detail);
    expect(m.value.msgType).toBe(Dhcp6MessageType.SOLICIT);
    const ia = parseIaNa(findDhcp6Option(m.value.options, Dhcp6OptionCode.IA_NA)!.data);
    expect(ia).toEqual({ ok: true, value: { iaid: 0xa4cdca16, t1: 3600, t2: 5400, addresses: [] } });
  });

  it('re-encodes both byte for byte, and emits at an offset into a 0xa5-filled buffer', () => {
    for (const bytes of [INFORMATION_REQUEST, SOLICIT]) {
      const m = parseDhcp6Message(bytes);
      if (!m.ok) throw new Error('parse');
      expect(toHex(encodeDhcp6Message(m.value))).toBe(toHex(bytes));
      const buf = new Uint8Array(bytes.length + 10).fill(0xa5);
      expect(emitDhcp6Message(m.value, buf, 7)).toBe(bytes.length);
      expect(toHex(buf.subarray(7, 7 + bytes.length))).toBe(toHex(bytes));
      expect(buf[6]).toBe(0xa5);
      expect(buf[7 + bytes.length]).toBe(0xa5);
    }
  });
});

describe('DHCPv6 option bodies a server writes', () => {
  it('an IA_NA with one address round-trips (RFC 8415 §21.4, §21.6)', () => {
    const address = hex('fd00000000000000000000000000 0100'.replace(' ', ''));
    const option = iaNaOption({ iaid: 0xa4cdca16, t1: 1800, t2: 2880, addresses: [{ address, preferredLifetime: 3600, validLifetime: 7200 }] });
    expect(toHex(option.data)).toBe('a4cdca16' + '00000708' + '00000b40' + '0005' + '0018' + toHex(address) + '00000e10' + '00001c20');
    expect(parseIaNa(option.data)).toEqual({ ok: true, value: { iaid: 0xa4cdca16, t1: 1800, t2: 2880, addresses: [{ address, preferredLifetime: 3600, validLifetime: 7200 }] } });
  });

  it('a status code inside an IA_NA (NoAddrsAvail) round-trips', () => {
    const option = iaNaOption({ iaid: 1, t1: 0, t2: 0, addresses: [], status: { code: Dhcp6Status.NoAddrsAvail, message: 'pool full' } });
    const ia = parseIaNa(option.data);
    expect(ia.ok && ia.value.status).toEqual({ code: 2, message: 'pool full' });
    expect(toHex(statusCodeOption(0, 'ok').data)).toBe('00006f6b');
  });

  it('DNS servers (RFC 3646 §3) and the domain search list (§4)', () => {
    const server = hex('fd000000000000000000000000000001');
    expect(parseDnsServers(dnsServersOption([server]).data)).toEqual({ ok: true, value: [server] });
    const list = domainListOption(['home', 'lab.example.']);
    expect(toHex(list.data)).toBe('04686f6d6500' + '036c6162076578616d706c6500');
    expect(parseDomainList(list.data)).toEqual({ ok: true, value: ['home.', 'lab.example.'] });
  });
});

describe('DHCPv6 parse errors', () => {
  const reason = (r: { ok: boolean; error?: { reason: string } }): string | undefined => (r.ok ? undefined : r.error!.reason);
  it('each reason at least once', () => {
    expect(reason(parseDhcp6Message(hex('0b7b23')))).toBe('truncated');
    expect(reason(parseDhcp6Message(hex('0b7b23c6 0001')))).toBe('truncated');
    expect(reason(parseDhcp6Message(hex('0b7b23c6 0001 00ff 00')))).toBe('badLength');
    expect(reason(parseDhcp6Message(hex('0c000000')))).toBe('unsupported');
    expect(reason(parseDhcp6Options(new Uint8Array(4 * (DHCP6_MAX_OPTIONS + 1)), 0))).toBe('badOption');
    expect(reason(parseDuid(hex('0001')))).toBe('truncated');
    expect(reason(parseDuid(new Uint8Array(131)))).toBe('badLength');
    expect(reason(parseOptionRequest(hex('001700')))).toBe('badLength');
    expect(reason(parseElapsedTime(hex('00')))).toBe('badLength');
    expect(reason(parseStatusCode(hex('00')))).toBe('truncated');
    expect(reason(parseIaNa(hex('0000')))).toBe('truncated');
    expect(reason(parseIaNa(hex('000000010000000000000000 0005 0004 00000000')))).toBe('truncated'); // IAADDR of 4 octets
    expect(reason(parseDnsServers(hex('00')))).toBe('badLength');
    expect(reason(parseDomainList(hex('c00c')))).toBe('badValue');
    expect(reason(parseDomainList(hex('0568')))).toBe('truncated');
    expect(reason(parseDomainList(hex('0168')))).toBe('truncated');
  });

  it('random and mutated bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const m = parseDhcp6Message(bytes);
        if (m.ok) for (const o of m.value.options) {
          parseIaNa(o.data);
          parseDomainList(o.data);
          parseOptionRequest(o.data);
          parseDuid(o.data);
        }
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SOLICIT.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const bytes = SOLICIT.slice();
        bytes[at] = value;
        const m = parseDhcp6Message(bytes);
        if (m.ok) for (const o of m.value.options) parseIaNa(o.data);
      }),
    );
  });
});
