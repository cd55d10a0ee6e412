/**
 * The server on wire bytes: dig's queries in, and responses compared with
 * what dnsmasq answered to the same queries (captures.ts); then every
 * malformed-query class, each answered or dropped, and counted.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import {
  DnsClass,
  DnsRcode,
  DnsType,
  EdnsOptionCode,
  describeRecord,
  encodeDnsMessage,
  type DnsQuestion,
  type EdnsOption,
  fullRcode,
  parseDnsMessage,
  type DnsMessage,
} from '../../../../src/services/dns/message.js';
import { DNS_SERVER_UDP_PAYLOAD, DNS_TCP_MAX_SIZE, DnsServer } from '../../../../src/services/dns/server.js';
import { cookieOption, parseCookieOption, parseExtendedErrorOption } from '../../../../src/services/dns/edns-options.js';
import * as cap from './captures.js';
import { exampleZone, query } from './fixture.js';

function setup() {
  const ctx = createTestContext();
  const server = new DnsServer(ctx, { zone: exampleZone() });
  const ask = (bytes: Uint8Array, transport: 'udp' | 'tcp' = 'udp'): Uint8Array | undefined => {
    const r = server.handle(bytes, transport === 'udp' ? DNS_SERVER_UDP_PAYLOAD : DNS_TCP_MAX_SIZE, transport);
    if (r instanceof Promise) throw new Error('a local answer must be synchronous');
    return r;
  };
  const parsed = (bytes: Uint8Array, transport: 'udp' | 'tcp' = 'udp'): DnsMessage => {
    const r = ask(bytes, transport);
    if (!r) throw new Error('no response');
    const m = parseDnsMessage(r);
    if (!m.ok) throw new Error(`response does not parse: ${m.error.detail}`);
    return m.value;
  };
  return { ctx, server, ask, parsed, stat: (name: CounterName) => ctx.stats.get(name) };
}

/** Our bytes equal dnsmasq's except the flags word: we are authoritative without a forwarder, so no RA. */
function sameAsDnsmasqButFlags(ours: Uint8Array, theirs: Uint8Array, flags: number): void {
  const expected = theirs.slice();
  expected[2] = flags >> 8;
  expected[3] = flags & 0xff;
  expect(toHex(ours)).toBe(toHex(expected));
}

describe('answers to dig, byte for byte against dnsmasq', () => {
  it('A, +noedns +norec: qr aa, the owner a pointer to the question', () => {
    const { ask } = setup();
    sameAsDnsmasqButFlags(ask(cap.A_QUERY)!, cap.A_RESPONSE, 0x8400);
  });

  it('AAAA with EDNS and a COOKIE: as dnsmasq, plus a COOKIE option (client cookie echoed + 16-octet server cookie) that dnsmasq does not send', () => {
    const { ask } = setup();
    const ours = ask(cap.AAAA_QUERY_EDNS)!;
    // dnsmasq's response ends with the OPT's RDLENGTH 0000; ours says 001c and carries the option.
    const theirs = cap.AAAA_RESPONSE_EDNS;
    sameAsDnsmasqButFlags(ours.subarray(0, theirs.length - 2), theirs.subarray(0, theirs.length - 2), 0x8400);
    const clientCookie = toHex(cap.AAAA_QUERY_EDNS.subarray(cap.AAAA_QUERY_EDNS.length - 8));
    const option = toHex(ours.subarray(theirs.length - 2));
    // RDLENGTH 28 | COOKIE (10), 24 octets | client cookie | version 1, reserved 0, timestamp 0 (the test clock) | hash
    expect(option).toMatch(new RegExp(`^001c000a0018${clientCookie}0100000000000000[0-9a-f]{16}$`));
  });

  it('DO is copied into the response OPT (RFC 3225 §3)', () => {
    const { ask } = setup();
    sameAsDnsmasqButFlags(ask(cap.DO_QUERY)!, cap.DO_RESPONSE, 0x8400);
  });
});

describe('responses', () => {
  it('echoes the question as sent (0x20 mixed case) and answers in the client\'s spelling', () => {
    const { ask, parsed } = setup();
    const m = parsed(query('wWw.ExAmple.TEST.', DnsType.A, { id: 0xbeef }));
    expect(m.id).toBe(0xbeef);
    expect(m.questions[0]!.name).toBe('wWw.ExAmple.TEST.');
    expect(m.answers.map(describeRecord)).toEqual(['wWw.ExAmple.TEST. 0 IN A 192.0.2.10']);
    expect(m.flags).toMatchObject({ qr: true, aa: true, rd: true, ra: false, tc: false, rcode: 0 });
    // The owner is a two-octet pointer to offset 12, the question.
    const bytes = ask(query('wWw.ExAmple.TEST.', DnsType.A))!;
    const answerAt = 12 + 18 + 4;
    expect(toHex(bytes.subarray(answerAt, answerAt + 2))).toBe('c00c');
  });

  it('NXDOMAIN and NODATA carry the SOA in the authority section and are counted', () => {
    const { parsed, stat } = setup();
    const nx = parsed(query('nothere.example.test.', DnsType.A));
    expect(nx.flags.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(nx.flags.aa).toBe(true);
    expect(nx.authorities.map((r) => r.type)).toEqual([DnsType.SOA]);
    expect(nx.authorities[0]!.ttl).toBe(600);
    const nodata = parsed(query('www.example.test.', DnsType.MX));
    expect([nodata.flags.rcode, nodata.answers.length, nodata.authorities[0]?.type]).toEqual([0, 0, DnsType.SOA]);
    expect(stat('dnsOutNxDomain')).toBe(1);
    expect(stat('dnsOutNoError')).toBe(1);
    expect(stat('dnsAuthAnswers')).toBe(2);
  });

  it('MX with its additional A; SRV with its target uncompressed (RFC 2782)', () => {
    const { parsed } = setup();
    const mx = parsed(query('example.test.', DnsType.MX));
    expect(mx.answers.map(describeRecord)).toEqual(['example.test. 0 IN MX 10 mail.example.test.']);
    expect(mx.additionals.map(describeRecord)).toEqual(['mail.example.test. 0 IN A 192.0.2.25']);
    const srv = parsed(query('_sip._udp.example.test.', DnsType.SRV));
    expect(srv.answers.map(describeRecord)).toEqual(['_sip._udp.example.test. 0 IN SRV 10 20 5060 sip.example.test.']);
  });

  it('over the client\'s size: TC, no partial RRset, the OPT kept (RFC 2181 §9, RFC 6891 §7)', () => {
    const { parsed, stat } = setup();
    const noEdns = parsed(query('big.example.test.', DnsType.TXT, { edns: false }));
    expect([noEdns.flags.tc, noEdns.answers.length, noEdns.edns]).toEqual([true, 0, undefined]);
    const small = parsed(query('big.example.test.', DnsType.TXT, { edns: 200 })); // under 512 counts as 512 (RFC 6891 §6.2.5)
    expect([small.flags.tc, small.answers.length, small.edns?.udpPayloadSize]).toEqual([true, 0, DNS_SERVER_UDP_PAYLOAD]);
    const fits = parsed(query('big.example.test.', DnsType.TXT, { edns: 4096 }));
    expect([fits.flags.tc, fits.answers.length]).toEqual([false, 1]);
    expect(stat('dnsOutTruncated')).toBe(2);
  });

  it('over TCP (the same handler) the 512 limit does not apply', () => {
    const { parsed } = setup();
    const m = parsed(query('big.example.test.', DnsType.TXT, { edns: false }), 'tcp');
    expect([m.flags.tc, m.answers.length]).toEqual([false, 1]);
  });

  it('EDNS version 1: BADVERS (16) with an OPT of version 0 (RFC 6891 §6.1.3)', () => {
    const { parsed, stat } = setup();
    const m = parsed(query('www.example.test.', DnsType.A, { version: 1 }));
    expect(fullRcode(m)).toBe(DnsRcode.BADVERS);
    expect(m.flags.rcode).toBe(0);
    expect(m.edns).toMatchObject({ version: 0, extendedRcode: 1 });
    expect(m.answers).toEqual([]);
    expect(stat('dnsOutBadVers')).toBe(1);
  });

  it('REFUSED outside the zone without upstreams, and for class CH; NOTIMP for AXFR and other opcodes', () => {
    const { parsed, stat } = setup();
    expect(parsed(query('www.example.com.', DnsType.A)).flags.rcode).toBe(DnsRcode.REFUSED);
    expect(parsed(query('foo.bind.', DnsType.TXT, { klass: 3 })).flags.rcode).toBe(DnsRcode.REFUSED);
    expect(parsed(query('example.test.', DnsType.AXFR), 'tcp').flags.rcode).toBe(DnsRcode.NOTIMP);
    for (const opcode of [1, 2, 4, 5, 6, 3, 7, 15]) {
      const m = parsed(query('www.example.test.', DnsType.A, { opcode }));
      expect([m.flags.rcode, m.flags.opcode, m.answers.length], `opcode ${opcode}`).toEqual([DnsRcode.NOTIMP, opcode, 0]);
    }
    expect(stat('dnsOutRefused')).toBe(2);
    expect(stat('dnsOutNotImp')).toBe(9);
  });
});

describe('bad input: FORMERR or drop, counted, never a throw', () => {
  const header = (flags: string, qd: number, an = 0, ns = 0, ar = 0) =>
    `abcd ${flags} ${[qd, an, ns, ar].map((n) => n.toString(16).padStart(4, '0')).join(' ')}`;

  /** `echoed`: questions the FORMERR echoes (only a message that parsed can have its question echoed). */
  const formErr = (name: string, hex: string, echoed = 0) =>
    it(name, () => {
      const { parsed, stat } = setup();
      const m = parsed(cap.wire(hex));
      expect(m.id).toBe(0xabcd);
      expect(m.flags.rcode).toBe(DnsRcode.FORMERR);
      expect(m.questions).toHaveLength(echoed);
      expect(stat('dnsInFormErrors')).toBe(1);
      expect(stat('dnsOutFormErr')).toBe(1);
    });

  formErr('a compression pointer that loops to itself', `${header('0100', 1)} c00c 0001 0001`);
  formErr('a pointer that points forward', `${header('0100', 1)} 03 777777 c014 0001 0001 00`);
  formErr('two pointers pointing at each other', `${header('0100', 1)} 01 61 c00e c00c 0001 0001`);
  formErr('QDCOUNT 2 with one question (a count that lies)', `${header('0100', 2)} 03 777777 00 0001 0001`);
  formErr('ARCOUNT 1 with nothing there', `${header('0100', 1, 0, 0, 1)} 03 777777 00 0001 0001`);
  formErr('a name cut short (label runs past the end)', `${header('0100', 1)} 07 6578616d`);
  formErr('a label of 64 octets (length octet 0x40 is an extended label type)', `${header('0100', 1)} 40 ${'61'.repeat(64)} 00 0001 0001`);
  formErr('a name over 255 octets', `${header('0100', 1)} ${('3f' + '61'.repeat(63)).repeat(4)} 00 0001 0001`);
  formErr('two questions (RFC 9619)', `${header('0100', 2)} 01 61 00 0001 0001 01 62 00 0001 0001`);
  formErr('no question', `${header('0100', 0)}`);
  formErr('two OPT records', `${header('0100', 1, 0, 0, 2)} 01 61 00 0001 0001 00 0029 0200 00000000 0000 00 0029 0200 00000000 0000`);
  formErr('QTYPE OPT', `${header('0100', 1)} 01 61 00 0029 0001`, 1);

  it('shorter than the header: dropped and counted', () => {
    const { ask, stat } = setup();
    expect(ask(fromHex('abcd 0100 0001'))).toBeUndefined();
    expect(ask(new Uint8Array(0))).toBeUndefined();
    expect(stat('dnsInErrors')).toBe(2);
    expect(stat('dnsOutResponses')).toBe(0);
  });

  it('a response sent to the server (QR=1) is dropped, never answered', () => {
    const { ask, stat } = setup();
    expect(ask(cap.A_RESPONSE)).toBeUndefined();
    expect(stat('dnsInErrors')).toBe(1);
  });

  it('the server still answers after all of it', () => {
    const { parsed } = setup();
    parsed(cap.wire(`${header('0100', 1)} c00c 0001 0001`));
    expect(parsed(cap.A_QUERY).answers).toHaveLength(1);
  });

  it('random and mutated queries never throw; every response parses and echoes the ID', () => {
    const { ask } = setup();
    const seeds = [cap.A_QUERY, cap.AAAA_QUERY_EDNS, cap.DO_QUERY, query('alias.example.test.', DnsType.A)];
    const mutated = fc
      .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
      .map(([seed, edits, cut]) => {
        const b = seed.slice(0, Math.max(0, seed.length - (cut % 4 === 0 ? cut % seed.length : 0)));
        for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated), (bytes) => {
        const r = ask(bytes);
        if (r === undefined) return;
        const m = parseDnsMessage(r);
        expect(m.ok).toBe(true);
        if (m.ok) expect(m.value.id).toBe((bytes[0]! << 8) | bytes[1]!);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('answer() for other transports', () => {
  it('is a Promise of the same bytes', async () => {
    const { server, ask } = setup();
    const viaPromise = await server.answer(cap.A_QUERY, DNS_SERVER_UDP_PAYLOAD, 'udp');
    expect(toHex(viaPromise!)).toBe(toHex(ask(cap.A_QUERY)!));
  });
});

describe('the answer cache (answer-cache.ts)', () => {
  const names = ['www.example.test.', 'alias.example.test.', 'example.test.', 'nothere.example.test.', '20.2.0.192.in-addr.arpa.', 'big.example.test.'];
  const types = [DnsType.A, DnsType.MX, DnsType.TXT, DnsType.PTR, DnsType.ANY];

  it('a repeated question in other case and with another ID gets exactly the bytes a cold server would send', () => {
    const warm = setup();
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.constantFrom(...types),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom<boolean | number>(false, true, 512, 4096),
        (name, type, upper, id, edns) => {
          const mixed = [...name].map((c, i) => (upper[i % 30] ? c.toUpperCase() : c)).join('');
          const q = query(mixed, type, { id, edns });
          const cold = setup().ask(q)!;
          expect(toHex(warm.ask(q)!)).toBe(toHex(cold));
        },
      ),
      { numRuns: 400 },
    );
    expect(warm.stat('dnsInQueries')).toBe(400);
    expect(warm.stat('dnsOutResponses')).toBe(400);
  });

  it('a query in a Node Buffer (as UDP delivers it) is not changed, and its case is echoed', () => {
    const t = setup();
    for (let i = 0; i < 2; i++) {
      const q = Buffer.from(query('WwW.Example.TEST.', DnsType.A, { id: i }));
      const before = toHex(q);
      const m = parseDnsMessage(t.ask(q)!);
      expect(toHex(q)).toBe(before);
      expect(m.ok && m.value.answers.map(describeRecord)).toEqual(['WwW.Example.TEST. 0 IN A 192.0.2.10']);
    }
  });

  it('hits are counted like misses', () => {
    const t = setup();
    for (let i = 0; i < 3; i++) t.ask(query('nothere.example.test.', DnsType.A, { id: i }));
    for (let i = 0; i < 2; i++) t.ask(query('big.example.test.', DnsType.TXT, { id: i, edns: false }));
    expect([t.stat('dnsOutNxDomain'), t.stat('dnsOutTruncated'), t.stat('dnsAuthAnswers'), t.stat('dnsOutNoError')]).toEqual([3, 2, 5, 2]);
  });

  it('a zone change (a lease) is seen at once', () => {
    const t = setup();
    expect(t.parsed(query('pc.example.test.', DnsType.A)).flags.rcode).toBe(DnsRcode.NXDOMAIN);
    t.server.zone.registerLease('pc', 0xc0000263);
    expect(t.parsed(query('pc.example.test.', DnsType.A)).answers.map(describeRecord)).toEqual(['pc.example.test. 60 IN A 192.0.2.99']);
    t.server.zone.unregisterLease('pc', 0xc0000263);
    expect(t.parsed(query('pc.example.test.', DnsType.A)).flags.rcode).toBe(DnsRcode.NXDOMAIN);
  });

  it('UDP and TCP answers are kept apart (the size limits differ)', () => {
    const t = setup();
    const q = query('big.example.test.', DnsType.TXT, { edns: false });
    expect(t.parsed(q).flags.tc).toBe(true);
    expect(t.parsed(q, 'tcp').flags.tc).toBe(false);
    expect(t.parsed(q).flags.tc).toBe(true);
  });
});

/** A query with EDNS options (and any number of questions), as dig +cookie sends it. */
function queryWithOptions(questions: DnsQuestion[], options: EdnsOption[], id = 0x4242): Uint8Array {
  return encodeDnsMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions,
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: false, options },
  });
}
const CLIENT_COOKIE = fromHex('b16515d6066d7828');
const clientCookie = (client = CLIENT_COOKIE, server?: Uint8Array) => cookieOption({ client, server });
const cookieIn = (m: DnsMessage) => {
  const o = m.edns?.options.find((x) => x.code === EdnsOptionCode.COOKIE);
  if (!o) return undefined;
  const c = parseCookieOption(o.data);
  return c.ok ? c.value : undefined;
};
const edeIn = (m: DnsMessage) => {
  const o = m.edns?.options.find((x) => x.code === EdnsOptionCode.EXTENDED_ERROR);
  return o && parseExtendedErrorOption(o.data);
};
const WWW: DnsQuestion = { name: 'www.example.test.', type: DnsType.A, class: DnsClass.IN };

describe('DNS cookies (RFC 7873 §5.2, RFC 9018)', () => {
  const setupAt = (client = '192.0.2.99') => {
    const t = setup();
    const parsedFrom = (bytes: Uint8Array, from = client): DnsMessage => {
      const r = t.server.handle(bytes, DNS_SERVER_UDP_PAYLOAD, 'udp', from);
      if (!(r instanceof Uint8Array)) throw new Error('expected a synchronous response');
      const m = parseDnsMessage(r);
      if (!m.ok) throw new Error(m.error.reason);
      return m.value;
    };
    return { ...t, parsedFrom };
  };

  it('a client cookie alone gets the answer and a 16-octet server cookie (version 1), the client cookie echoed', () => {
    const t = setupAt();
    const m = t.parsedFrom(queryWithOptions([WWW], [clientCookie()]));
    expect(m.flags.rcode).toBe(DnsRcode.NOERROR);
    expect(m.answers).toHaveLength(1);
    const c = cookieIn(m)!;
    expect(toHex(c.client)).toBe(toHex(CLIENT_COOKIE));
    expect(c.server).toHaveLength(16);
    expect(c.server![0]).toBe(1);
    expect(t.stat('dnsInCookies')).toBe(1);
    expect(t.stat('dnsInCookiesValid')).toBe(0);
  });

  it('the server cookie sent back from the same address is valid; from another address, tampered with or older than an hour it is not', () => {
    const t = setupAt();
    const server = cookieIn(t.parsedFrom(queryWithOptions([WWW], [clientCookie()])))!.server!;
    t.parsedFrom(queryWithOptions([WWW], [clientCookie(CLIENT_COOKIE, server)]));
    expect(t.stat('dnsInCookiesValid')).toBe(1);
    // Another address (the cookie is bound to the client's IP, RFC 9018 §4.4).
    const m = t.parsedFrom(queryWithOptions([WWW], [clientCookie(CLIENT_COOKIE, server)]), '192.0.2.98');
    expect(t.stat('dnsInCookiesValid')).toBe(1);
    // An invalid server cookie on a query with a question: answered normally with a fresh cookie (§5.2.4).
    expect(m.flags.rcode).toBe(DnsRcode.NOERROR);
    expect(m.answers).toHaveLength(1);
    expect(cookieIn(m)!.server).toHaveLength(16);
    const tampered = server.slice();
    tampered[15]! ^= 1;
    t.parsedFrom(queryWithOptions([WWW], [clientCookie(CLIENT_COOKIE, tampered)]));
    const otherClientCookie = fromHex('0102030405060708');
    t.parsedFrom(queryWithOptions([WWW], [clientCookie(otherClientCookie, server)]));
    expect(t.stat('dnsInCookiesValid')).toBe(1);
    t.ctx.clock.advance(3_600_000);
    t.parsedFrom(queryWithOptions([WWW], [clientCookie(CLIENT_COOKIE, server)]));
    expect(t.stat('dnsInCookiesValid')).toBe(2); // exactly one hour: still valid
    t.ctx.clock.advance(1_000);
    t.parsedFrom(queryWithOptions([WWW], [clientCookie(CLIENT_COOKIE, server)]));
    expect(t.stat('dnsInCookiesValid')).toBe(2);
  });

  it('no question and only a cookie: NOERROR with the server cookie, not FORMERR (§5.4); a bad server cookie: BADCOOKIE', () => {
    const t = setupAt();
    const m = t.parsedFrom(queryWithOptions([], [clientCookie()]));
    expect(fullRcode(m)).toBe(DnsRcode.NOERROR);
    expect(m.questions).toHaveLength(0);
    const server = cookieIn(m)!.server!;
    expect(server).toHaveLength(16);
    expect(fullRcode(t.parsedFrom(queryWithOptions([], [clientCookie(CLIENT_COOKIE, server)])))).toBe(DnsRcode.NOERROR);
    const bad = t.parsedFrom(queryWithOptions([], [clientCookie(CLIENT_COOKIE, new Uint8Array(16))]));
    expect(fullRcode(bad)).toBe(DnsRcode.BADCOOKIE); // 23: header RCODE 7, OPT extended RCODE 1
    expect([bad.flags.rcode, bad.edns!.extendedRcode]).toEqual([7, 1]);
    expect(cookieIn(bad)!.server).toHaveLength(16);
    expect(t.stat('dnsOutBadCookie')).toBe(1);
    // Still FORMERR: no question and no cookie.
    expect(fullRcode(t.parsedFrom(queryWithOptions([], [])))).toBe(DnsRcode.FORMERR);
  });

  it('a COOKIE option of a length RFC 7873 §4 does not allow is FORMERR', () => {
    const t = setupAt();
    for (const length of [0, 7, 9, 15, 41]) {
      const m = t.parsedFrom(queryWithOptions([WWW], [{ code: EdnsOptionCode.COOKIE, data: new Uint8Array(length) }]));
      expect(fullRcode(m), `${length} octets`).toBe(DnsRcode.FORMERR);
    }
  });

  it('the answer cache never hands one client the cookie made for another', () => {
    const t = setupAt();
    const first = cookieIn(t.parsedFrom(queryWithOptions([WWW], [clientCookie()])))!;
    const second = cookieIn(t.parsedFrom(queryWithOptions([WWW], [clientCookie()]), '192.0.2.7'))!;
    expect(toHex(second.client)).toBe(toHex(first.client));
    expect(toHex(second.server!)).not.toBe(toHex(first.server!));
  });
});

describe('CHAOS identity names (RFC 4892 §2)', () => {
  it('version.bind, hostname.bind, id.server TXT CH are answered "tapnet", authoritative, TTL 0', () => {
    const { parsed } = setup();
    for (const name of ['version.bind.', 'hostname.bind.', 'id.server.', 'VERSION.BIND.']) {
      const m = parsed(query(name, DnsType.TXT, { klass: DnsClass.CH }));
      expect([m.flags.rcode, m.flags.aa], name).toEqual([DnsRcode.NOERROR, true]);
      expect(m.answers.map(describeRecord), name).toEqual([`${name} 0 CH TXT "tapnet"`]);
    }
  });

  it('another type at those names is NODATA; another CH name is REFUSED with EDE 21 (Not Supported)', () => {
    const { parsed } = setup();
    const nodata = parsed(query('version.bind.', DnsType.A, { klass: DnsClass.CH }));
    expect([nodata.flags.rcode, nodata.answers.length]).toEqual([DnsRcode.NOERROR, 0]);
    const refused = parsed(query('authors.bind.', DnsType.TXT, { klass: DnsClass.CH }));
    expect(refused.flags.rcode).toBe(DnsRcode.REFUSED);
    expect(edeIn(refused)).toEqual({ infoCode: 21, extraText: 'only class IN is served' });
  });
});

describe('Extended DNS Errors (RFC 8914)', () => {
  it('REFUSED outside the zone says Not Authoritative (20); without EDNS there is no OPT to carry it', () => {
    const { parsed } = setup();
    expect(edeIn(parsed(query('www.example.com.', DnsType.A)))).toEqual({ infoCode: 20, extraText: 'not in a local zone and no upstream configured' });
    expect(parsed(query('www.example.com.', DnsType.A, { edns: false })).edns).toBeUndefined();
  });

  it('NOTIMP for a zone transfer says Not Supported (21)', () => {
    const { parsed } = setup();
    expect(edeIn(parsed(query('example.test.', DnsType.AXFR), 'tcp'))?.infoCode).toBe(21);
  });

  it('answers carry no EDE', () => {
    const { parsed } = setup();
    expect(parsed(query('www.example.test.', DnsType.A)).edns!.options).toEqual([]);
  });
});

describe('ANY (RFC 8482)', () => {
  it('one RRset, not all of them', () => {
    const { parsed } = setup();
    const m = parsed(query('host.example.test.', DnsType.ANY));
    expect(m.answers.map(describeRecord)).toEqual(['host.example.test. 0 IN A 192.0.2.20']);
  });
});
