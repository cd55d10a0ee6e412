/** Master-file record lines (RFC 1035 §5.1) as lab configs and `--dns-record` give them. */
import { describe, expect, it } from 'vitest';
import { DnsType, describeRecord } from '../../../../src/services/dns/message.js';
import { parseRecordText, resolveName } from '../../../../src/services/dns/zone-text.js';

const ORIGIN = 'lab.';
const line = (text: string): string => {
  const r = parseRecordText(text, ORIGIN, 300);
  if (!r.ok) throw new Error(r.error);
  return describeRecord(r.value);
};
const error = (text: string): string => {
  const r = parseRecordText(text, ORIGIN, 300);
  if (r.ok) throw new Error(`parsed: ${describeRecord(r.value)}`);
  return r.error;
};

describe('parseRecordText', () => {
  it('every supported type, in dig presentation', () => {
    expect(line('gateway A 10.77.0.1')).toBe('gateway.lab. 300 IN A 10.77.0.1');
    expect(line('gateway 60 IN AAAA fd77::1')).toBe('gateway.lab. 60 IN AAAA fd77::1');
    expect(line('www CNAME gateway')).toBe('www.lab. 300 IN CNAME gateway.lab.');
    expect(line('@ MX 10 mail')).toBe('lab. 300 IN MX 10 mail.lab.');
    expect(line('txt TXT "v=spf1 -all" "second string" bare')).toBe('txt.lab. 300 IN TXT "v=spf1 -all" "second string" "bare"');
    expect(line('@ NS ns1.example.')).toBe('lab. 300 IN NS ns1.example.');
    expect(line('_sip._udp SRV 10 20 5060 sip')).toBe('_sip._udp.lab. 300 IN SRV 10 20 5060 sip.lab.');
    expect(line('1.0.77.10.in-addr.arpa. PTR gateway')).toBe('1.0.77.10.in-addr.arpa. 300 IN PTR gateway.lab.');
    expect(line('@ SOA gateway hostmaster 7 3600 600 86400 60')).toBe('lab. 300 IN SOA gateway.lab. hostmaster.lab. 7 3600 600 86400 60');
  });

  it('type and class are case-insensitive; owner case is kept; comments end the line', () => {
    expect(line('GateWay in a 10.77.0.1 ; tapnet')).toBe('GateWay.lab. 300 IN A 10.77.0.1');
  });

  it('TXT escapes: \\" \\\\ and \\DDD', () => {
    const r = parseRecordText('t TXT "say \\"hi\\"" a\\\\b \\065\\066', ORIGIN, 300);
    expect(r.ok && r.value.data.kind === 'TXT' && r.value.data.strings.map((s) => Buffer.from(s).toString())).toEqual(['say "hi"', 'a\\b', 'AB']);
  });

  it('refuses what it cannot serve, with one line naming the problem', () => {
    expect(error('gateway A 10.77.0.256')).toMatch(/IPv4 address/);
    expect(error('gateway AAAA 10.77.0.1')).toMatch(/IPv6 address/);
    expect(error('gateway A')).toMatch(/A needs 1 field/);
    expect(error('@ MX mail')).toMatch(/MX needs 2 fields/);
    expect(error('@ MX 70000 mail')).toMatch(/preference must be/);
    expect(error('_s SRV 1 2 99999 x')).toMatch(/SRV port/);
    expect(error('x HINFO a b')).toMatch(/unsupported record type/);
    expect(error('x 1 IN')).toMatch(/missing record type/);
    expect(error('x TXT "open')).toMatch(/unterminated/);
    expect(error(`x TXT "${'a'.repeat(256)}"`)).toMatch(/256 octets > 255/);
    expect(error(`${'a'.repeat(64)} A 10.0.0.1`)).toMatch(/labelTooLong/);
    expect(error('a..b A 10.0.0.1')).toMatch(/emptyLabel/);
    expect(error('x 2147483648 A 10.0.0.1')).toMatch(/RFC 2181/);
    expect(error('x')).toMatch(/expected/);
    expect(error('x toString 1')).toMatch(/unsupported record type/);
  });

  it('resolveName: @, relative, absolute', () => {
    expect(resolveName('@', 'lab.')).toEqual({ ok: true, value: 'lab.' });
    expect(resolveName('a.b', 'lab.')).toEqual({ ok: true, value: 'a.b.lab.' });
    expect(resolveName('a.b.', 'lab.')).toEqual({ ok: true, value: 'a.b.' });
    expect(resolveName('a', '.')).toEqual({ ok: true, value: 'a.' });
  });

  it('types map to their numbers', () => {
    const r = parseRecordText('x SRV 0 0 1 y', ORIGIN, 5);
    expect(r.ok && [r.value.type, r.value.ttl]).toEqual([DnsType.SRV, 5]);
  });
});
