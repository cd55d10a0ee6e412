import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DnsClass,
  DnsType,
  dnsMessageLength,
  encodeDnsMessage,
  parseDnsMessage,
  rdataKind,
  type DnsFlags,
  type DnsMessage,
  type DnsRecord,
  type Edns,
} from '../../../../src/services/dns/message.js';
import { canonicalName, labelsToName } from '../../../../src/services/dns/name.js';
import * as cap from './captures.js';

const te = (s: string) => new TextEncoder().encode(s);

// Names: random octets (escapes, dots inside labels) and mixed-case words that compress against each other.
const label = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 63 }),
  fc.constantFrom(...['www', 'WWW', 'example', 'Example', 'test', 'a.b', 'mail'].map(te)),
);
const name = fc
  .array(label, { maxLength: 5 })
  .filter((labels) => labels.reduce((n, l) => n + 1 + l.length, 1) <= 255)
  .map(labelsToName);

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

const common = { name, ttl: u32 };
const record: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ ...common, type: fc.constant(DnsType.A), class: fc.constant(DnsClass.IN), data: u32.map((address) => ({ kind: 'A' as const, address })) }),
  fc.record({
    ...common,
    type: fc.constant(DnsType.AAAA),
    class: fc.constant(DnsClass.IN),
    data: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((address) => ({ kind: 'AAAA' as const, address })),
  }),
  fc.constantFrom(['NS', DnsType.NS], ['CNAME', DnsType.CNAME], ['PTR', DnsType.PTR]).chain(([kind, type]) =>
    fc.record({ ...common, type: fc.constant(type as number), class: u16, data: name.map((target) => ({ kind: kind as 'NS', target })) }),
  ),
  fc.record({
    ...common,
    type: fc.constant(DnsType.MX),
    class: u16,
    data: fc.record({ kind: fc.constant('MX' as const), preference: u16, exchange: name }),
  }),
  fc.record({
    ...common,
    type: fc.constant(DnsType.TXT),
    class: u16,
    data: fc.record({ kind: fc.constant('TXT' as const), strings: fc.array(fc.uint8Array({ maxLength: 255 }), { minLength: 1, maxLength: 3 }) }),
  }),
  fc.record({
    ...common,
    type: fc.constant(DnsType.SOA),
    class: u16,
    data: fc.record({ kind: fc.constant('SOA' as const), mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 }),
  }),
  fc.record({
    ...common,
    type: fc.constant(DnsType.SRV),
    class: fc.constant(DnsClass.IN),
    data: fc.record({ kind: fc.constant('SRV' as const), priority: u16, weight: u16, port: u16, target: name }),
  }),
  fc
    .record({ ...common, type: u16, class: u16, data: fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ kind: 'raw' as const, bytes })) })
    .filter((r) => r.type !== DnsType.OPT && rdataKind(r.type, r.class) === 'raw'),
);

const flags: fc.Arbitrary<DnsFlags> = fc.record({
  qr: fc.boolean(),
  opcode: fc.integer({ min: 0, max: 15 }),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  ad: fc.boolean(),
  cd: fc.boolean(),
  rcode: fc.integer({ min: 0, max: 15 }),
});

const edns: fc.Arbitrary<Edns> = fc.record({
  udpPayloadSize: u16,
  extendedRcode: fc.integer({ min: 0, max: 255 }),
  version: fc.integer({ min: 0, max: 255 }),
  dnssecOk: fc.boolean(),
  options: fc.array(fc.record({ code: u16, data: fc.uint8Array({ maxLength: 20 }) }), { maxLength: 3 }),
});

const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: u16,
  flags,
  questions: fc.array(fc.record({ name, type: u16, class: u16 }), { maxLength: 2 }),
  answers: fc.array(record, { maxLength: 5 }),
  authorities: fc.array(record, { maxLength: 3 }),
  additionals: fc.array(record, { maxLength: 3 }),
  edns: fc.option(edns, { nil: undefined }),
});

/** Every name in canonical (lower-case) form. */
function lowerNames(m: DnsMessage): DnsMessage {
  const rdata = (d: DnsRecord['data']): DnsRecord['data'] => {
    switch (d.kind) {
      case 'NS':
      case 'CNAME':
      case 'PTR':
      case 'SRV':
        return { ...d, target: canonicalName(d.target) };
      case 'MX':
        return { ...d, exchange: canonicalName(d.exchange) };
      case 'SOA':
        return { ...d, mname: canonicalName(d.mname), rname: canonicalName(d.rname) };
      default:
        return d;
    }
  };
  const rr = (r: DnsRecord): DnsRecord => ({ ...r, name: canonicalName(r.name), data: rdata(r.data) });
  return {
    ...m,
    questions: m.questions.map((q) => ({ ...q, name: canonicalName(q.name) })),
    answers: m.answers.map(rr),
    authorities: m.authorities.map(rr),
    additionals: m.additionals.map(rr),
  };
}

/** Parses, insisting on success. */
function parseOk(bytes: Uint8Array): DnsMessage {
  const r = parseDnsMessage(bytes);
  if (!r.ok) throw new Error(`unexpected parse failure: ${r.error.detail}`);
  return r.value;
}

/**
 * If the bytes parse, re-encoding must not throw and must parse to the same
 * message up to ASCII case: compression matches suffixes case-insensitively,
 * so a compressed suffix takes the case of its first occurrence.
 */
function reencodes(bytes: Uint8Array): void {
  const r = parseDnsMessage(bytes);
  if (!r.ok) {
    expect(typeof r.error.code).toBe('string');
    return;
  }
  expect(lowerNames(parseOk(encodeDnsMessage(r.value)))).toEqual(lowerNames(r.value));
}

const captures = [
  cap.A_QUERY,
  cap.A_RESPONSE,
  cap.AAAA_QUERY_EDNS,
  cap.AAAA_RESPONSE_EDNS,
  cap.TXT_RESPONSE,
  cap.SRV_RESPONSE,
  cap.MX_RESPONSE,
  cap.PTR_RESPONSE,
  cap.CNAME_RESPONSE,
  cap.DO_RESPONSE,
  cap.SOA_RESPONSE,
];

describe('DNS properties', () => {
  it('random bytes never make the parser throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), reencodes), { numRuns: 2000 });
  });

  it('random bytes behind a plausible header never make the parser throw', () => {
    const header = fc.tuple(u16, u16, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }));
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 200 }), ([id, word, qd, an, ns, ar], body) => {
        const bytes = new Uint8Array(12 + body.length);
        const view = new DataView(bytes.buffer);
        [id, word, qd, an, ns, ar].forEach((v, i) => view.setUint16(i * 2, v));
        bytes.set(body, 12);
        reencodes(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated captures (overwritten, truncated, extended) never make the parser throw', () => {
    const mutation = fc.record({
      capture: fc.constantFrom(...captures),
      writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 8 }),
    });
    fc.assert(
      fc.property(mutation, ({ capture, writes, cut, tail }) => {
        let bytes = capture.slice();
        for (const [at, value] of writes) bytes[at % bytes.length] = value;
        if (cut !== undefined) bytes = bytes.subarray(0, cut % (bytes.length + 1));
        const extended = new Uint8Array(bytes.length + tail.length);
        extended.set(bytes);
        extended.set(tail, bytes.length);
        reencodes(bytes);
        reencodes(extended);
      }),
      { numRuns: 3000 },
    );
  });

  it('parse(encode(message)) is the message, exactly when names are in one case', () => {
    fc.assert(
      fc.property(message.map(lowerNames), (m) => {
        const bytes = encodeDnsMessage(m);
        expect(bytes.length).toBe(dnsMessageLength(m));
        expect(parseDnsMessage(bytes)).toEqual({ ok: true, value: m });
      }),
      { numRuns: 500 },
    );
  });

  it('parse(encode(message)) is the message up to ASCII case with mixed-case names', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = parseOk(encodeDnsMessage(m));
        expect(lowerNames(back)).toEqual(lowerNames(m));
        // The first question is written before anything it could point to: its case is kept.
        if (m.questions.length > 0) expect(back.questions[0]!.name).toBe(m.questions[0]!.name);
      }),
      { numRuns: 500 },
    );
  });

  it('truncation keeps whole records, stays within maxSize, and sets TC exactly when answers or authorities were cut', () => {
    fc.assert(
      fc.property(message, fc.double({ min: 0, max: 1, noNaN: true }), (m, fraction) => {
        const minimum = dnsMessageLength({ ...m, answers: [], authorities: [], additionals: [] });
        const full = dnsMessageLength(m);
        const maxSize = Math.floor(minimum + fraction * (full - minimum));
        const bytes = encodeDnsMessage(m, maxSize);
        expect(bytes.length).toBeLessThanOrEqual(maxSize);
        const t = lowerNames(parseOk(bytes));
        m = lowerNames(m);
        const sections = [t.answers, t.authorities, t.additionals];
        const originals = [m.answers, m.authorities, m.additionals];
        sections.forEach((s, i) => expect(s).toEqual(originals[i]!.slice(0, s.length)));
        // Once a section is cut, nothing from later sections follows.
        const cutAt = sections.findIndex((s, i) => s.length < originals[i]!.length);
        if (cutAt >= 0) sections.slice(cutAt + 1).forEach((s) => expect(s).toEqual([]));
        const requiredCut = t.answers.length < m.answers.length || t.authorities.length < m.authorities.length;
        expect(t.flags.tc).toBe(m.flags.tc || requiredCut);
        expect(t.edns).toEqual(m.edns);
        expect(t.questions).toEqual(m.questions);
        if (maxSize >= full) expect(bytes.length).toBe(full);
      }),
      { numRuns: 300 },
    );
  });
});
