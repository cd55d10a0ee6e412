import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../src/core/bytes.js';
import {
  CompressionDictionary,
  DnsWriter,
  MAX_POINTER_HOPS,
  absoluteName,
  canonicalName,
  isSubdomain,
  labelsToName,
  nameToLabels,
  nameWireLength,
  namesEqual,
  readName,
  writeName,
} from '../../../../src/services/dns/name.js';
import { CNAME_RESPONSE, wire } from './captures.js';

const HEADER = '0000 0000 0000 0000 0000 0000'; // 12 octets: names start at +12

// dnsmasq's answer to `dig alias.example.test A` (captures.ts): names at +12, +36 (pointer),
// +48 (inside the CNAME RDATA) and +67 (a pointer to +48).
describe('readName (RFC 1035 §4.1.4) on captured bytes', () => {
  it('reads an uncompressed name and tells where it ends', () => {
    expect(readName(CNAME_RESPONSE, 12)).toEqual({ ok: true, value: { name: 'alias.example.test.', end: 32 } });
  });

  it('follows a pointer; the name ends after the pointer', () => {
    expect(readName(CNAME_RESPONSE, 36)).toEqual({ ok: true, value: { name: 'alias.example.test.', end: 38 } });
  });

  it('follows a pointer into earlier RDATA', () => {
    // c030 at +67 points to +48, the "host" label inside the CNAME RDATA.
    expect(CNAME_RESPONSE[48]).toBe(4);
    expect(readName(CNAME_RESPONSE, 67)).toEqual({ ok: true, value: { name: 'host.example.test.', end: 69 } });
  });

  it('reads the root', () => {
    expect(readName(wire(`${HEADER} 00`), 12)).toEqual({ ok: true, value: { name: '.', end: 13 } });
  });
});

describe('readName rejects hostile names', () => {
  it('a pointer to itself (the one-hop loop)', () => {
    const r = readName(wire(`${HEADER} c00c`), 12);
    expect(r).toMatchObject({ ok: false, error: { code: 'forwardPointer', reason: 'badValue', offset: 12 } });
  });

  it('a label followed by a pointer back to its own start (a loop through a label)', () => {
    const r = readName(wire(`${HEADER} 0161 c00c`), 12);
    expect(r).toMatchObject({ ok: false, error: { code: 'forwardPointer', offset: 14 } });
  });

  it('two pointers pointing at each other', () => {
    // +12: pointer to +14; +14: pointer to +12. Reading at +14 jumps back to +12 (fine), whose pointer goes forward.
    const msg = wire(`${HEADER} c00e c00c`);
    expect(readName(msg, 14)).toMatchObject({ ok: false, error: { code: 'forwardPointer', offset: 12 } });
    expect(readName(msg, 12)).toMatchObject({ ok: false, error: { code: 'forwardPointer', offset: 12 } });
  });

  it('a forward pointer, even to a valid name', () => {
    const msg = wire(`${HEADER} c00e 0161 00`);
    expect(readName(msg, 14)).toMatchObject({ ok: true, value: { name: 'a.' } });
    expect(readName(msg, 12)).toMatchObject({ ok: false, error: { code: 'forwardPointer' } });
  });

  it('a pointer into the middle of the labels already read after a jump', () => {
    // +12 "a" → +16; +16 "b" → +12; +20 "c" → +16. From +20 the walk goes +16 (ok), +12 (ok), then
    // +12's pointer goes back up to +16: not before the labels being read (+12), so a cycle is refused.
    const msg = wire(`${HEADER} 0161 c010 0162 c00c 0163 c010`);
    expect(readName(msg, 20)).toMatchObject({ ok: false, error: { code: 'forwardPointer', offset: 14 } });
  });

  it('a long chain of backward pointers: more than MAX_POINTER_HOPS', () => {
    const hops = MAX_POINTER_HOPS + 1;
    const msg = new Uint8Array(13 + 2 * hops);
    // +12 root; +13 pointer to +12; +15 pointer to +13; ...
    for (let i = 0; i < hops; i++) {
      const at = 13 + 2 * i;
      const target = i === 0 ? 12 : at - 2;
      msg[at] = 0xc0 | (target >> 8);
      msg[at + 1] = target & 0xff;
    }
    const last = 13 + 2 * (hops - 1);
    expect(readName(msg, last)).toMatchObject({ ok: false, error: { code: 'tooManyPointers', reason: 'badValue' } });
    // One fewer hop is still accepted.
    expect(readName(msg, last - 2)).toEqual({ ok: true, value: { name: '.', end: last } });
  });

  it('length octets 0x40-0xbf: extended (RFC 6891 §5) and reserved label types, i.e. "labels > 63"', () => {
    expect(readName(wire(`${HEADER} 40 ${'61'.repeat(64)} 00`), 12)).toMatchObject({
      ok: false,
      error: { code: 'badLabelType', reason: 'badValue', offset: 12 },
    });
    expect(readName(wire(`${HEADER} 0161 80 00`), 12)).toMatchObject({ ok: false, error: { code: 'badLabelType', offset: 14 } });
    // 63 is the largest normal label.
    expect(readName(wire(`${HEADER} 3f ${'61'.repeat(63)} 00`), 12)).toMatchObject({ ok: true, value: { end: 12 + 65 } });
  });

  it('names over 255 octets, written out and assembled through pointers', () => {
    const label63 = `3f ${'61'.repeat(63)}`;
    const label61 = `3d ${'61'.repeat(61)}`;
    // 3 × 64 + 62 + 1 = 255: the largest legal name.
    expect(readName(wire(`${HEADER} ${label63} ${label63} ${label63} ${label61} 00`), 12)).toMatchObject({ ok: true });
    // 3 × 64 + 63 + 1 = 256.
    expect(readName(wire(`${HEADER} ${label63} ${label63} ${label63} 3e ${'61'.repeat(62)} 00`), 12)).toMatchObject({
      ok: false,
      error: { code: 'nameTooLong', reason: 'badLength' },
    });
    // 4 × 64 + 1 = 257 built from one 63-octet label reused through pointers (each piece short on the wire).
    const msg = wire(`${HEADER} ${label63} 00  ${label63} c00c  ${label63} c04d  ${label63} c08f`);
    expect(readName(msg, 12 + 65 + 66 * 2)).toMatchObject({ ok: false, error: { code: 'nameTooLong' } });
    expect(readName(msg, 12 + 65 + 66)).toMatchObject({ ok: true });
  });

  it('truncated: a label past the end, a missing root, half a pointer, a label past `limit`', () => {
    expect(readName(wire(`${HEADER} 0561 6263`), 12)).toMatchObject({ ok: false, error: { code: 'truncated', reason: 'truncated' } });
    expect(readName(wire(`${HEADER} 0161`), 12)).toMatchObject({ ok: false, error: { code: 'truncated', offset: 14 } });
    expect(readName(wire(`${HEADER} 00 c0`), 13)).toMatchObject({ ok: false, error: { code: 'truncated' } });
    expect(readName(wire(`${HEADER} 0161 00`), 12, 14)).toMatchObject({ ok: false, error: { code: 'truncated' } });
    expect(readName(wire(`${HEADER}`), 12)).toMatchObject({ ok: false, error: { code: 'truncated' } });
  });

  it('the limit does not apply after a jump (a name in RDATA may point anywhere before it)', () => {
    expect(readName(CNAME_RESPONSE, 67, 69)).toMatchObject({ ok: true, value: { name: 'host.example.test.' } });
  });
});

describe('text form (RFC 1035 §5.1)', () => {
  it('escapes special and non-printable octets like dig', () => {
    const msg = wire(`${HEADER} 05 612e5c2220 04 20ff4041 00`); // a . \ " space | space 0xff @ A
    expect(readName(msg, 12)).toMatchObject({ ok: true, value: { name: 'a\\.\\\\\\"\\032.\\032\\255\\@A.' } });
  });

  it('nameToLabels understands \\X, \\DDD, UTF-8 and the optional trailing dot', () => {
    const r = nameToLabels('a\\.b.\\065\\\\c.ü');
    expect(r.ok && r.value.map((l) => toHex(l))).toEqual(['612e62', '415c63', 'c3bc']);
    expect(nameToLabels('.')).toEqual({ ok: true, value: [] });
    expect(nameToLabels('')).toEqual({ ok: true, value: [] });
    expect(nameToLabels('a.b.')).toEqual(nameToLabels('a.b'));
  });

  it('typed errors for bad text', () => {
    expect(nameToLabels('a'.repeat(64))).toMatchObject({ ok: false, error: { code: 'labelTooLong', reason: 'badLength' } });
    expect(nameToLabels('a'.repeat(63))).toMatchObject({ ok: true });
    const long = Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.'); // 257 octets on the wire
    expect(nameToLabels(long)).toMatchObject({ ok: false, error: { code: 'nameTooLong' } });
    expect(nameToLabels(long.slice(2))).toMatchObject({ ok: true }); // 255
    expect(nameToLabels('a..b')).toMatchObject({ ok: false, error: { code: 'emptyLabel', offset: 2 } });
    expect(nameToLabels('.a')).toMatchObject({ ok: false, error: { code: 'emptyLabel', offset: 0 } });
    expect(nameToLabels('a\\')).toMatchObject({ ok: false, error: { code: 'badEscape' } });
    expect(nameToLabels('a\\25')).toMatchObject({ ok: false, error: { code: 'badEscape' } });
    expect(nameToLabels('a\\256')).toMatchObject({ ok: false, error: { code: 'badEscape' } });
  });

  it('labelsToName is the inverse', () => {
    expect(labelsToName([])).toBe('.');
    expect(labelsToName([Uint8Array.of(0x61, 0x2e), Uint8Array.of(0x5c)])).toBe('a\\..\\\\.');
  });
});

describe('comparison and normalisation (RFC 4343)', () => {
  it('namesEqual ignores ASCII case and the trailing dot, nothing else', () => {
    expect(namesEqual('WWW.Example.TEST', 'www.example.test.')).toBe(true);
    expect(namesEqual('\\065.b', 'a.B')).toBe(true);
    expect(namesEqual('www.example.test', 'www.example.tesu')).toBe(false);
    expect(namesEqual('\\196', '\\228')).toBe(false); // Ä / ä in Latin-1: not folded (RFC 4343 §3)
    expect(namesEqual('a\\.b', 'a.b')).toBe(false);
    expect(namesEqual('a.b', 'b')).toBe(false);
    expect(namesEqual('a..b', 'a..b')).toBe(true); // invalid text equals only itself
    expect(namesEqual('a..b', 'A..b')).toBe(false);
  });

  it('canonicalName lower-cases and makes escapes canonical; absoluteName adds the dot', () => {
    expect(canonicalName('WWW.Example.TEST')).toBe('www.example.test.');
    expect(canonicalName('\\065\\.')).toBe('a\\..');
    expect(canonicalName('.')).toBe('.');
    expect(() => canonicalName('a..b')).toThrow(RangeError);
    expect(absoluteName('example.test')).toBe('example.test.');
    expect(absoluteName('example.test.')).toBe('example.test.');
    expect(absoluteName('a\\.')).toBe('a\\..');
    expect(absoluteName('a\\\\.')).toBe('a\\\\.');
    expect(absoluteName('')).toBe('.');
  });

  it('isSubdomain compares whole labels', () => {
    expect(isSubdomain('www.Example.test.', 'example.TEST')).toBe(true);
    expect(isSubdomain('example.test', 'example.test.')).toBe(true);
    expect(isSubdomain('anything.', '.')).toBe(true);
    expect(isSubdomain('badexample.test', 'example.test')).toBe(false);
    expect(isSubdomain('a\\.example.test', 'example.test')).toBe(false); // an escaped dot is not a separator
    expect(isSubdomain('x.a\\.example.test', 'a\\.example.test')).toBe(true);
    expect(isSubdomain('x.a\\.example.test', 'a.example.test')).toBe(false);
    expect(isSubdomain('test', 'example.test')).toBe(false);
  });
});

describe('writeName and the compression dictionary', () => {
  it('compresses the longest known suffix, case-insensitively, keeping the case it writes', () => {
    const start = 3;
    const buf = new Uint8Array(64).fill(0xa5);
    const dictionary = new CompressionDictionary();
    let pos = start + 12;
    pos = writeName('www.example.test', buf, pos, start, dictionary);
    pos = writeName('MAIL.EXAMPLE.test.', buf, pos, start, dictionary);
    pos = writeName('Www.example.TEST', buf, pos, start, dictionary);
    expect(toHex(buf.subarray(start + 12, pos))).toBe(
      '03777777076578616d706c65047465737400' + // +12 www.example.test.
        '044d41494c' + 'c010' + // +30 MAIL + pointer to example.test. at +16
        'c00c', // +37 the whole name: pointer to +12
    );
    expect(buf.subarray(0, start + 12).every((b) => b === 0xa5)).toBe(true);
    expect(buf[pos]).toBe(0xa5);
    expect(readName(buf.subarray(start), 30)).toMatchObject({ ok: true, value: { name: 'MAIL.example.test.' } });
  });

  it('without a dictionary writes the name in full and remembers nothing', () => {
    const buf = new Uint8Array(40);
    const end = writeName('a.b', buf, 12, 0);
    expect(toHex(buf.subarray(12, end))).toBe('0161016200');
    expect(nameWireLength('a.b')).toBe(5);
    expect(nameWireLength('.')).toBe(1);
  });

  it('measuring (buf undefined) gives the same length and dictionary', () => {
    const measure = new DnsWriter(undefined, 12, 0);
    const write = new DnsWriter(new Uint8Array(100), 12, 0);
    for (const w of [measure, write]) {
      w.name('x.example.test', true);
      w.name('y.example.test', true);
      w.name('srv.example.test', false);
    }
    expect(measure.pos).toBe(write.pos);
    expect(measure.dictionary.size).toBe(write.dictionary.size);
    expect(write.pos).toBe(12 + 16 + 4 + 18);
  });

  it('no pointer to offsets beyond 14 bits', () => {
    const dictionary = new CompressionDictionary();
    const buf = new Uint8Array(0x4100);
    writeName('far.test', buf, 0x4000, 0, dictionary);
    expect(dictionary.size).toBe(0);
    const end = writeName('far.test', buf, 0x4020, 0, dictionary);
    expect(end - 0x4020).toBe(10); // written in full
  });

  it('rollback forgets entries added after a mark', () => {
    const dictionary = new CompressionDictionary();
    dictionary.add('a.', 12);
    const mark = dictionary.size;
    dictionary.add('b.', 20);
    dictionary.add('a.', 30); // already known: not re-added, so rollback must not drop it
    dictionary.rollback(mark);
    expect(dictionary.find('a.')).toBe(12);
    expect(dictionary.find('b.')).toBeUndefined();
  });

  it('throws on invalid text (a programmer error)', () => {
    expect(() => writeName('a'.repeat(64), new Uint8Array(80), 0, 0)).toThrow(RangeError);
  });
});

const arbitraryLabel = fc.uint8Array({ minLength: 1, maxLength: 63 });
const arbitraryLabels = fc
  .array(fc.oneof(arbitraryLabel, fc.constantFrom(...['www', 'Example', 'TEST', 'a.b'].map((s) => new TextEncoder().encode(s)))), {
    maxLength: 6,
  })
  .filter((labels) => labels.reduce((n, l) => n + 1 + l.length, 1) <= 255);

describe('name properties', () => {
  it('readName never throws on random bytes, at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(320), (bytes, offset) => {
        const r = readName(bytes, offset);
        if (r.ok) expect(nameToLabels(r.value.name).ok).toBe(true);
      }),
    );
  });

  it('labels → text → labels is identity', () => {
    fc.assert(
      fc.property(arbitraryLabels, (labels) => {
        const r = nameToLabels(labelsToName(labels));
        expect(r.ok && r.value).toEqual(labels);
      }),
    );
  });

  it('write (with compression) → read is identity for a sequence of names', () => {
    fc.assert(
      fc.property(fc.array(arbitraryLabels, { minLength: 1, maxLength: 8 }), (names) => {
        const texts = names.map(labelsToName);
        const buf = new Uint8Array(12 + 256 * texts.length);
        const dictionary = new CompressionDictionary();
        const starts: number[] = [];
        let pos = 12;
        for (const t of texts) {
          starts.push(pos);
          pos = writeName(t, buf, pos, 0, dictionary);
        }
        texts.forEach((t, i) => {
          const r = readName(buf.subarray(0, pos), starts[i]!);
          expect(r.ok && namesEqual(r.value.name, t)).toBe(true);
          // The first name has nothing to point to: written in full, case kept.
          if (i === 0) expect(r.ok && r.value.name).toBe(t);
        });
      }),
    );
  });

  it('namesEqual holds between a name and its upper-cased text', () => {
    fc.assert(
      fc.property(arbitraryLabels, (labels) => {
        const text = labelsToName(labels);
        expect(namesEqual(text, text.toUpperCase())).toBe(true);
        expect(canonicalName(text.toUpperCase())).toBe(canonicalName(text));
      }),
    );
  });
});
