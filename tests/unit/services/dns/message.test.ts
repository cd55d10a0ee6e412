import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../src/core/bytes.js';
import type { ParseResult } from '../../../../src/core/parse-result.js';
import {
  DNS_HEADER_LENGTH,
  DnsClass,
  DnsOpcode,
  DnsRcode,
  DnsType,
  EdnsOptionCode,
  describeDnsMessage,
  describeEdns,
  describeQuestion,
  describeRecord,
  dnsClassName,
  dnsMessageLength,
  dnsTypeName,
  emitDnsMessage,
  encodeDnsMessage,
  flagsFromWord,
  flagsToWord,
  fullRcode,
  opcodeName,
  parseDnsHeader,
  parseDnsMessage,
  rcodeName,
  type DnsFlags,
  type DnsMessage,
  type DnsRecord,
} from '../../../../src/services/dns/message.js';
import * as cap from './captures.js';

function parsed(buf: Uint8Array): DnsMessage {
  const r = parseDnsMessage(buf);
  if (!r.ok) throw new Error(`parse failed: ${r.error.detail}`);
  return r.value;
}

/** dig separates fields with tabs (several, for alignment); describe uses one space. */
const digLine = (line: string) => line.replace(/\s+/g, ' ');

const RESPONSE_FLAGS: DnsFlags = { qr: true, opcode: 0, aa: true, tc: false, rd: false, ra: true, ad: false, cd: false, rcode: 0 };
const te = (s: string) => new TextEncoder().encode(s);

describe('parseDnsMessage on messages captured from dig and dnsmasq', () => {
  it('A query: header flags, one question, nothing else', () => {
    const m = parsed(cap.A_QUERY);
    expect(m.id).toBe(55266);
    expect(m.flags).toEqual({ ...RESPONSE_FLAGS, qr: false, aa: false, ra: false, ad: true });
    expect(m.questions).toEqual([{ name: 'www.example.test.', type: DnsType.A, class: DnsClass.IN }]);
    expect([m.answers, m.authorities, m.additionals]).toEqual([[], [], []]);
    expect(m.edns).toBeUndefined();
    expect(describeQuestion(m.questions[0]!)).toBe('www.example.test. IN A');
  });

  it('A response: compressed owner, TTL, address', () => {
    const m = parsed(cap.A_RESPONSE);
    expect(m.flags).toEqual(RESPONSE_FLAGS);
    expect(m.answers).toEqual([{ name: 'www.example.test.', type: 1, class: 1, ttl: 0, data: { kind: 'A', address: 0xc000020a } }]);
    expect(describeRecord(m.answers[0]!)).toBe(digLine('www.example.test.	0	IN	A	192.0.2.10'));
    expect(describeDnsMessage(m)).toBe('55266 QUERY NOERROR qr aa ra www.example.test. IN A -> www.example.test. 0 IN A 192.0.2.10 (1/0/0)');
  });

  it('AAAA query with EDNS: the OPT record becomes `edns`, the COOKIE option kept raw', () => {
    const m = parsed(cap.AAAA_QUERY_EDNS);
    expect(m.additionals).toEqual([]);
    expect(m.edns).toEqual({
      udpPayloadSize: 1232,
      extendedRcode: 0,
      version: 0,
      dnssecOk: false,
      options: [{ code: EdnsOptionCode.COOKIE, data: cap.wire('b16515d6066d7828') }],
    });
    expect(describeEdns(m.edns!)).toBe('EDNS: version: 0, flags:; udp: 1232; COOKIE: b16515d6066d7828');
  });

  it('AAAA response', () => {
    const m = parsed(cap.AAAA_RESPONSE_EDNS);
    expect(m.answers[0]!.data).toEqual({ kind: 'AAAA', address: cap.wire('20010db8000000000000000000000020') });
    expect(describeRecord(m.answers[0]!)).toBe(digLine('host.example.test.	0	IN	AAAA	2001:db8::20'));
    expect(m.edns).toMatchObject({ udpPayloadSize: 1232, options: [] });
  });

  it('TXT with two strings', () => {
    const m = parsed(cap.TXT_RESPONSE);
    expect(m.answers[0]!.data).toEqual({ kind: 'TXT', strings: [te('v=spf1 -all'), te('second string')] });
    expect(describeRecord(m.answers[0]!)).toBe(digLine('txt.example.test.	0	IN	TXT	"v=spf1 -all" "second string"'));
  });

  it('SRV (RFC 2782)', () => {
    const m = parsed(cap.SRV_RESPONSE);
    expect(m.answers[0]!.data).toEqual({ kind: 'SRV', priority: 10, weight: 20, port: 5060, target: 'sip.example.test.' });
    expect(describeRecord(m.answers[0]!)).toBe(digLine('_sip._udp.example.test.	0	IN	SRV	10 20 5060 sip.example.test.'));
  });

  it('MX', () => {
    const m = parsed(cap.MX_RESPONSE);
    expect(m.answers[0]!.data).toEqual({ kind: 'MX', preference: 10, exchange: 'mail.example.test.' });
    expect(describeRecord(m.answers[0]!)).toBe(digLine('example.test.		0	IN	MX	10 mail.example.test.'));
  });

  it('PTR', () => {
    const m = parsed(cap.PTR_RESPONSE);
    expect(m.questions[0]).toEqual({ name: '20.2.0.192.in-addr.arpa.', type: DnsType.PTR, class: DnsClass.IN });
    expect(describeRecord(m.answers[0]!)).toBe(digLine('20.2.0.192.in-addr.arpa. 0	IN	PTR	host.example.test.'));
  });

  it('CNAME chain whose second owner points into the first RDATA', () => {
    const m = parsed(cap.CNAME_RESPONSE);
    expect(m.answers.map(describeRecord)).toEqual([
      digLine('alias.example.test.	0	IN	CNAME	host.example.test.'),
      digLine('host.example.test.	0	IN	A	192.0.2.20'),
    ]);
  });

  it('SOA answer and NS authority', () => {
    const m = parsed(cap.SOA_RESPONSE);
    expect(m.answers[0]!.data).toEqual({
      kind: 'SOA',
      mname: 'ns1.example.test.',
      rname: 'hostmaster.example.test.',
      serial: 2026112301,
      refresh: 1200,
      retry: 120,
      expire: 604800,
      minimum: 600,
    });
    expect(describeRecord(m.answers[0]!)).toBe(
      digLine('example.test.		600	IN	SOA	ns1.example.test. hostmaster.example.test. 2026112301 1200 120 604800 600'),
    );
    expect(m.authorities.map(describeRecord)).toEqual([digLine('example.test.		600	IN	NS	ns2.example.test.')]);
  });

  it('DO bit in query and response', () => {
    expect(parsed(cap.DO_QUERY).edns).toEqual({ udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: true, options: [] });
    const response = parsed(cap.DO_RESPONSE);
    expect(describeEdns(response.edns!)).toBe('EDNS: version: 0, flags: do; udp: 1232');
  });

  it("dnsmasq's TC response and an NXDOMAIN", () => {
    const tc = parsed(cap.TC_RESPONSE);
    expect(tc.flags).toEqual({ ...RESPONSE_FLAGS, tc: true });
    expect(describeDnsMessage(tc)).toBe('29329 QUERY NOERROR qr aa tc ra big.example.test. IN TXT (0/0/0)');
    const nx = parsed(cap.NXDOMAIN_RESPONSE);
    expect(nx.flags.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(describeDnsMessage(nx)).toBe('57787 QUERY NXDOMAIN qr ra nothere.example.test. IN A (0/0/0)');
  });

  it('the 660-octet TXT answer', () => {
    const m = parsed(cap.BIG_TXT_RESPONSE);
    expect(m.answers[0]!.data).toEqual({ kind: 'TXT', strings: [0, 1, 2].map(() => te('a'.repeat(200))) });
    expect(cap.BIG_TXT_RESPONSE.length).toBe(660);
  });

  it('parseDnsHeader reads the counts without the sections', () => {
    expect(parseDnsHeader(cap.SOA_RESPONSE)).toEqual({
      ok: true,
      value: { id: 0x32c6, flags: RESPONSE_FLAGS, questionCount: 1, answerCount: 1, authorityCount: 1, additionalCount: 0 },
    });
  });

  it('results are copies: they outlive the receive buffer', () => {
    const buf = cap.AAAA_RESPONSE_EDNS.slice();
    const m = parsed(buf);
    buf.fill(0);
    expect(describeRecord(m.answers[0]!)).toBe('host.example.test. 0 IN AAAA 2001:db8::20');
  });

  it('...also from a Node Buffer, whose slice() would be a view (UDP sockets deliver Buffers)', () => {
    const buf = Buffer.from(cap.AAAA_RESPONSE_EDNS);
    const txt = Buffer.from(cap.TXT_RESPONSE);
    const m = parsed(buf);
    const t = parsed(txt);
    buf.fill(0);
    txt.fill(0);
    expect(describeRecord(m.answers[0]!)).toBe('host.example.test. 0 IN AAAA 2001:db8::20');
    expect(describeRecord(t.answers[0]!)).toBe('txt.example.test. 0 IN TXT "v=spf1 -all" "second string"');
  });
});

describe('encoding reproduces the captured bytes', () => {
  const identical = { A_QUERY: cap.A_QUERY, A_RESPONSE: cap.A_RESPONSE, AAAA_QUERY_EDNS: cap.AAAA_QUERY_EDNS,
    AAAA_RESPONSE_EDNS: cap.AAAA_RESPONSE_EDNS, TXT_RESPONSE: cap.TXT_RESPONSE, SRV_RESPONSE: cap.SRV_RESPONSE,
    DO_QUERY: cap.DO_QUERY, DO_RESPONSE: cap.DO_RESPONSE, TC_RESPONSE: cap.TC_RESPONSE, BIG_TXT_RESPONSE: cap.BIG_TXT_RESPONSE,
    NXDOMAIN_RESPONSE: cap.NXDOMAIN_RESPONSE, PTR_RESPONSE: cap.PTR_RESPONSE };

  for (const [name, bytes] of Object.entries(identical)) {
    it(`${name}: encode(parse(bytes)) is byte for byte the capture`, () => {
      const m = parsed(bytes);
      expect(toHex(encodeDnsMessage(m))).toBe(toHex(bytes));
      expect(dnsMessageLength(m)).toBe(bytes.length);
    });
  }

  it('MX, CNAME, SOA: we compress names dnsmasq wrote in full, and the result parses to the same message', () => {
    for (const [bytes, saved] of [
      [cap.MX_RESPONSE, 12], // mail.example.test. → mail + pointer
      [cap.CNAME_RESPONSE, 12], // host.example.test. → host + pointer
      [cap.SOA_RESPONSE, 4 * 12], // SOA owner, mname, rname, NS target: each becomes label(s) + pointer
    ] as const) {
      const m = parsed(bytes);
      const encoded = encodeDnsMessage(m);
      expect(encoded.length).toBe(bytes.length - saved);
      expect(parsed(encoded)).toEqual(m);
    }
  });

  it('emits at a non-zero offset into a 0xa5-filled buffer, pointers relative to the message', () => {
    const m = parsed(cap.CNAME_RESPONSE);
    const offset = 7;
    const buf = new Uint8Array(200).fill(0xa5);
    const n = emitDnsMessage(m, buf, offset);
    const expected = encodeDnsMessage(m);
    expect(n).toBe(expected.length);
    expect(toHex(buf.subarray(offset, offset + n))).toBe(toHex(expected));
    expect(buf.subarray(0, offset).every((b) => b === 0xa5)).toBe(true);
    expect(buf.subarray(offset + n).every((b) => b === 0xa5)).toBe(true);
    expect(parsed(buf.subarray(offset, offset + n))).toEqual(m);
  });

  it('emit refuses a buffer that is too small', () => {
    expect(() => emitDnsMessage(parsed(cap.A_RESPONSE), new Uint8Array(40), 0)).toThrow(RangeError);
  });
});

describe('lying counts and malformed sections (never throw, typed errors)', () => {
  const withCount = (bytes: Uint8Array, field: number, count: number) => {
    const b = bytes.slice();
    b[field] = count >> 8;
    b[field + 1] = count & 0xff;
    return b;
  };

  it('fewer than 12 octets', () => {
    expect(parseDnsMessage(cap.A_QUERY.subarray(0, 11))).toMatchObject({ ok: false, error: { reason: 'truncated', code: 'truncated', offset: 0 } });
  });

  it('ANCOUNT promises a second answer that is not there', () => {
    const r = parseDnsMessage(withCount(cap.A_RESPONSE, 6, 2));
    expect(r).toMatchObject({ ok: false, error: { reason: 'truncated', offset: cap.A_RESPONSE.length } });
  });

  it('QDCOUNT 65535', () => {
    expect(parseDnsMessage(withCount(cap.A_QUERY, 4, 0xffff))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
  });

  it('ARCOUNT claims an OPT record, NSCOUNT claims an authority', () => {
    expect(parseDnsMessage(withCount(cap.A_RESPONSE, 10, 1))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
    expect(parseDnsMessage(withCount(cap.A_RESPONSE, 8, 1))).toMatchObject({ ok: false, error: { reason: 'truncated' } });
  });

  it('a question cut inside its type/class, a record cut inside its fixed fields', () => {
    expect(parseDnsMessage(cap.A_QUERY.subarray(0, cap.A_QUERY.length - 1))).toMatchObject({ ok: false, error: { code: 'truncated', offset: 30 } });
    expect(parseDnsMessage(cap.A_RESPONSE.subarray(0, 40))).toMatchObject({ ok: false, error: { code: 'truncated', offset: 36 } });
  });

  it('RDLENGTH past the end of the message', () => {
    const b = cap.A_RESPONSE.slice();
    b[45] = 5; // RDLENGTH 4 → 5
    expect(parseDnsMessage(b)).toMatchObject({ ok: false, error: { code: 'truncated', offset: 44 } });
  });

  it('counts smaller than the data: the rest is ignored', () => {
    const m = parsed(withCount(cap.A_RESPONSE, 6, 0));
    expect(m.answers).toEqual([]);
  });

  it('compression loop inside a message', () => {
    const b = cap.A_RESPONSE.slice();
    b[34] = 0xc0;
    b[35] = 34; // answer owner points to itself
    expect(parseDnsMessage(b)).toMatchObject({ ok: false, error: { code: 'forwardPointer', reason: 'badValue', offset: 34 } });
  });
});

describe('RDATA that does not match RDLENGTH', () => {
  const record = (type: number, rdata: string, klass = 1) =>
    cap.wire(`0000 8400 0000 0001 0000 0000  00 ${type.toString(16).padStart(4, '0')} ${klass.toString(16).padStart(4, '0')} 00000000 ${(rdata.replace(/\s/g, '').length / 2).toString(16).padStart(4, '0')} ${rdata}`);

  it('A of 5 octets, AAAA of 4', () => {
    expect(parseDnsMessage(record(DnsType.A, 'c000020a00'))).toMatchObject({ ok: false, error: { code: 'rdataLength', reason: 'badLength', offset: 23 } });
    expect(parseDnsMessage(record(DnsType.AAAA, 'c000020a'))).toMatchObject({ ok: false, error: { code: 'rdataLength' } });
  });

  it('TXT string longer than the RDATA, and TXT with no strings (accepted)', () => {
    expect(parseDnsMessage(record(DnsType.TXT, '05 6162'))).toMatchObject({ ok: false, error: { code: 'rdataLength' } });
    expect(parsed(record(DnsType.TXT, '')).answers[0]!.data).toEqual({ kind: 'TXT', strings: [] });
  });

  it('a CNAME target running past RDLENGTH, and bytes left after it', () => {
    expect(parseDnsMessage(record(DnsType.CNAME, '03 616263'))).toMatchObject({ ok: false, error: { code: 'truncated' } });
    expect(parseDnsMessage(record(DnsType.CNAME, '01 61 00 ff'))).toMatchObject({ ok: false, error: { code: 'rdataLength' } });
  });

  it('MX and SRV too short, SOA counters cut', () => {
    expect(parseDnsMessage(record(DnsType.MX, '000a'))).toMatchObject({ ok: false, error: { code: 'rdataLength' } });
    expect(parseDnsMessage(record(DnsType.SRV, '0001 0002 0003'))).toMatchObject({ ok: false, error: { code: 'rdataLength' } });
    expect(parseDnsMessage(record(DnsType.SOA, '00 00 00000001'))).toMatchObject({ ok: false, error: { code: 'rdataLength' } });
  });

  it('unknown types and class-specific types outside IN stay raw', () => {
    const caa = parsed(record(DnsType.CAA, '0005 697373756540'));
    expect(caa.answers[0]!.data).toEqual({ kind: 'raw', bytes: cap.wire('0005697373756540') });
    expect(describeRecord(caa.answers[0]!)).toBe('. 0 IN CAA \\# 8 0005697373756540');
    const private65280 = parsed(record(65280, ''));
    expect(describeRecord(private65280.answers[0]!)).toBe('. 0 IN TYPE65280 \\# 0');
    const chaosA = parsed(record(DnsType.A, '0001', DnsClass.CH)); // CH A is not 4 octets (RFC 1035 §3.4.1 is IN only)
    expect(chaosA.answers[0]).toMatchObject({ class: DnsClass.CH, data: { kind: 'raw' } });
    for (const m of [caa, private65280, chaosA]) expect(parsed(encodeDnsMessage(m))).toEqual(m);
  });
});

describe('EDNS (RFC 6891)', () => {
  const query: DnsMessage = {
    id: 0x1234,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: true, rcode: 0 },
    questions: [{ name: 'example.test.', type: DnsType.SOA, class: DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: {
      udpPayloadSize: 4096,
      extendedRcode: 0,
      version: 0,
      dnssecOk: true,
      options: [
        { code: EdnsOptionCode.NSID, data: new Uint8Array(0) },
        { code: EdnsOptionCode.PADDING, data: new Uint8Array(5) },
        { code: 65001, data: te('local') },
      ],
    },
  };

  it('round trip: payload size, DO, version, options in order', () => {
    const bytes = encodeDnsMessage(query);
    const opt = [
      '00', // root
      '0029', // OPT
      '1000', // udp payload size 4096
      '00', // extended rcode
      '00', // version
      '8000', // DO, Z = 0
      '0016', // RDLENGTH 22
      '0003 0000', // NSID, empty (a request for the server's id, RFC 5001)
      '000c 0005 0000000000', // PADDING, 5 octets
      'fde9 0005 6c6f63616c', // option 65001 "local", unknown: kept raw
    ].join('').replace(/ /g, '');
    expect(toHex(bytes.subarray(bytes.length - opt.length / 2))).toBe(opt);
    expect(parsed(bytes)).toEqual(query);
  });

  it('extended RCODE: BADVERS = 16 lives in the OPT TTL (upper 8 bits) and the header (lower 4)', () => {
    const badvers: DnsMessage = { ...query, flags: { ...query.flags, qr: true, rcode: 0 }, edns: { ...query.edns!, extendedRcode: 1, version: 0, options: [] } };
    const m = parsed(encodeDnsMessage(badvers));
    expect(fullRcode(m)).toBe(DnsRcode.BADVERS);
    expect(describeDnsMessage(m)).toContain('BADVERS');
    expect(() => encodeDnsMessage({ ...badvers, flags: { ...badvers.flags, rcode: 16 } })).toThrow(RangeError);
  });

  it('EDNS version 1 is carried (the server answers BADVERS, RFC 6891 §6.1.3)', () => {
    const m = parsed(encodeDnsMessage({ ...query, edns: { ...query.edns!, version: 1 } }));
    expect(m.edns?.version).toBe(1);
  });

  it('OPT in the answer section, two OPTs, an OPT with a name, a cut option', () => {
    const optRecord = '00 0029 0200 00000000 0000';
    const head = (an: number, ar: number) => `0000 0000 0000 ${an.toString(16).padStart(4, '0')} 0000 ${ar.toString(16).padStart(4, '0')}`;
    expect(parseDnsMessage(cap.wire(`${head(1, 0)} ${optRecord}`))).toMatchObject({ ok: false, error: { code: 'badOpt', reason: 'badValue', offset: 12 } });
    expect(parseDnsMessage(cap.wire(`${head(0, 2)} ${optRecord} ${optRecord}`))).toMatchObject({ ok: false, error: { code: 'badOpt', offset: 23 } });
    expect(parseDnsMessage(cap.wire(`${head(0, 1)} 0161 00 0029 0200 00000000 0000`))).toMatchObject({ ok: false, error: { code: 'badOpt' } });
    expect(parseDnsMessage(cap.wire(`${head(0, 1)} 00 0029 0200 00000000 0003 000a 00`))).toMatchObject({ ok: false, error: { code: 'badOpt', reason: 'badOption' } });
    expect(parseDnsMessage(cap.wire(`${head(0, 1)} 00 0029 0200 00000000 0006 000a 0004 0102`))).toMatchObject({ ok: false, error: { code: 'badOpt', reason: 'badOption' } });
  });
});

describe('truncation to maxSize (RFC 1035 §4.2.1, RFC 2181 §9, RFC 6891 §7)', () => {
  const answer = (i: number): DnsRecord => ({
    name: 'many.example.test.',
    type: DnsType.A,
    class: DnsClass.IN,
    ttl: 300,
    data: { kind: 'A', address: 0xc0000200 + i },
  });
  const response: DnsMessage = {
    id: 7,
    flags: RESPONSE_FLAGS,
    questions: [{ name: 'many.example.test.', type: DnsType.A, class: DnsClass.IN }],
    answers: Array.from({ length: 40 }, (_, i) => answer(i)),
    authorities: [],
    additionals: [],
  };
  // header 12 + question 23 + 16 per compressed A record.
  const QUESTION_END = 12 + 19 + 4;

  it('stops at the last whole record that fits and sets TC', () => {
    expect(dnsMessageLength(response)).toBe(QUESTION_END + 40 * 16);
    const bytes = encodeDnsMessage(response, 512);
    const fit = Math.floor((512 - QUESTION_END) / 16); // 29
    expect(bytes.length).toBe(QUESTION_END + fit * 16);
    const m = parsed(bytes);
    expect(m.flags.tc).toBe(true);
    expect(m.answers).toEqual(response.answers.slice(0, fit));
  });

  it('a message that fits exactly is not truncated', () => {
    const exact = QUESTION_END + 40 * 16;
    const m = parsed(encodeDnsMessage(response, exact));
    expect(m.flags.tc).toBe(false);
    expect(m.answers.length).toBe(40);
    expect(parsed(encodeDnsMessage(response, exact - 1)).answers.length).toBe(39);
  });

  it('keeps the OPT record, its room reserved (RFC 6891 §7)', () => {
    const withEdns: DnsMessage = { ...response, edns: { udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: false, options: [] } };
    const bytes = encodeDnsMessage(withEdns, 512);
    expect(bytes.length).toBeLessThanOrEqual(512);
    const m = parsed(bytes);
    expect(m.flags.tc).toBe(true);
    expect(m.edns).toEqual(withEdns.edns);
    expect(m.answers.length).toBe(Math.floor((512 - 11 - QUESTION_END) / 16));
  });

  it("dnsmasq's 660-octet answer in 512: TC, no answer, OPT kept", () => {
    const m = parsed(cap.BIG_TXT_RESPONSE);
    const bytes = encodeDnsMessage(m, 512);
    expect(bytes.length).toBe(34 + 11);
    expect(parsed(bytes)).toEqual({ ...m, flags: { ...m.flags, tc: true }, answers: [] });
  });

  it('dropping only additional records does not set TC (RFC 2181 §9)', () => {
    const glue: DnsMessage = { ...response, answers: response.answers.slice(0, 2), additionals: response.answers.slice(2) };
    const m = parsed(encodeDnsMessage(glue, 200));
    expect(m.flags.tc).toBe(false);
    expect(m.answers.length).toBe(2);
    expect(m.additionals.length).toBe(Math.floor((200 - QUESTION_END - 32) / 16));
  });

  it('authority records that do not fit set TC', () => {
    const negative: DnsMessage = { ...response, answers: [], authorities: response.answers };
    expect(parsed(encodeDnsMessage(negative, 100)).flags.tc).toBe(true);
  });

  it('a truncated record leaves no compression entries behind (later names still parse)', () => {
    // The record that does not fit is measured with compression, then taken out;
    // if its dictionary entries stayed, the next write could point at nothing.
    const mixed: DnsMessage = {
      ...response,
      answers: [answer(0), { ...answer(1), name: 'x'.repeat(60) + '.other.test.' }],
      authorities: [],
      additionals: [],
    };
    const full = dnsMessageLength(mixed);
    for (let size = QUESTION_END; size <= full; size++) {
      const bytes = encodeDnsMessage(mixed, size);
      expect(bytes.length).toBeLessThanOrEqual(size);
      expect(parseDnsMessage(bytes).ok).toBe(true);
    }
  });

  it('without maxSize a message still stops at 65535 octets (RFC 1035 §4.2.2), with TC', () => {
    const huge: DnsMessage = {
      ...response,
      answers: Array.from({ length: 300 }, (_, i) => ({ ...answer(i), type: DnsType.TXT, data: { kind: 'TXT' as const, strings: [new Uint8Array(255)] } })),
    };
    expect(dnsMessageLength(huge)).toBeGreaterThan(65535);
    const m = parsed(encodeDnsMessage(huge));
    expect(m.flags.tc).toBe(true);
    expect(m.answers.length).toBe(Math.floor((65535 - QUESTION_END) / (2 + 10 + 256)));
  });

  it('a maxSize that cannot hold header + question + OPT is a programmer error', () => {
    expect(() => encodeDnsMessage(response, QUESTION_END - 1)).toThrow(RangeError);
  });
});

describe('flags, constants, encode errors', () => {
  it('every flag bit maps to its field (RFC 1035 §4.1.1), Z dropped', () => {
    const bits: [keyof DnsFlags, number, number | boolean][] = [
      ['qr', 0x8000, true],
      ['opcode', 0x2800, DnsOpcode.UPDATE],
      ['aa', 0x0400, true],
      ['tc', 0x0200, true],
      ['rd', 0x0100, true],
      ['ra', 0x0080, true],
      ['ad', 0x0020, true],
      ['cd', 0x0010, true],
      ['rcode', 0x0005, DnsRcode.REFUSED],
    ];
    const none = flagsFromWord(0);
    for (const [field, word, value] of bits) {
      expect(flagsFromWord(word)).toEqual({ ...none, [field]: value });
      expect(flagsToWord({ ...none, [field]: value })).toBe(word);
    }
    expect(flagsFromWord(0x0040)).toEqual(none); // Z
    for (let word = 0; word <= 0xffff; word += 7) expect(flagsToWord(flagsFromWord(word))).toBe(word & ~0x0040);
  });

  it('unknown values keep their number and print RFC 3597 / dig style', () => {
    expect(dnsTypeName(DnsType.SRV)).toBe('SRV');
    expect(dnsTypeName(65280)).toBe('TYPE65280');
    expect(dnsClassName(42)).toBe('CLASS42');
    expect(opcodeName(3)).toBe('RESERVED3');
    expect(rcodeName(11)).toBe('RESERVED11');
    expect(rcodeName(DnsRcode.SERVFAIL)).toBe('SERVFAIL');
  });

  it('encode refuses records it cannot write faithfully', () => {
    const base = parsed(cap.A_RESPONSE);
    const withAnswer = (data: DnsRecord['data'], type: number = DnsType.A): DnsMessage => ({ ...base, answers: [{ ...base.answers[0]!, type, data }] });
    expect(() => encodeDnsMessage(withAnswer({ kind: 'MX', preference: 1, exchange: 'a.' }))).toThrow(RangeError);
    expect(() => encodeDnsMessage(withAnswer({ kind: 'AAAA', address: new Uint8Array(4) }, DnsType.AAAA))).toThrow(RangeError);
    expect(() => encodeDnsMessage(withAnswer({ kind: 'TXT', strings: [new Uint8Array(256)] }, DnsType.TXT))).toThrow(RangeError);
    expect(() => encodeDnsMessage(withAnswer({ kind: 'raw', bytes: new Uint8Array(0) }, DnsType.OPT))).toThrow(RangeError);
    expect(() => encodeDnsMessage({ ...base, flags: { ...base.flags, opcode: 16 } })).toThrow(RangeError);
    // raw data is allowed for any type (a forwarder can pass RDATA through)
    expect(parsed(encodeDnsMessage(withAnswer({ kind: 'raw', bytes: Uint8Array.of(1, 2, 3, 4) }))).answers[0]!.data).toEqual({ kind: 'A', address: 0x01020304 });
  });

  it('DnsParseResult is a ParseResult', () => {
    const r: ParseResult<DnsMessage> = parseDnsMessage(cap.A_QUERY);
    expect(r.ok).toBe(true);
    expect(DNS_HEADER_LENGTH).toBe(12);
  });
});
