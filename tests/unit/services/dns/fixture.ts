/**
 * The zone the captures in captures.ts were taken from (dnsmasq's config
 * there), as a tapnet Zone: TTL 0 like dnsmasq's local records, so our
 * responses can be compared with dnsmasq's byte for byte.
 */
import { DnsClass, DnsType, encodeDnsMessage, type DnsMessage } from '../../../../src/services/dns/message.js';
import { Zone } from '../../../../src/services/dns/zone.js';
import { parseRecordText } from '../../../../src/services/dns/zone-text.js';

export const EXAMPLE_RECORDS = [
  'www 0 A 192.0.2.10',
  'host 0 A 192.0.2.20',
  'host 0 AAAA 2001:db8::20',
  'txt 0 TXT "v=spf1 -all" "second string"',
  `big 0 TXT ${'a'.repeat(200)} ${'a'.repeat(200)} ${'a'.repeat(200)}`,
  '_sip._udp 0 SRV 10 20 5060 sip',
  'sip 0 A 192.0.2.30',
  '@ 0 MX 10 mail',
  'mail 0 A 192.0.2.25',
  'alias 0 CNAME host',
  'outside 0 CNAME www.example.com.',
  'loop1 0 CNAME loop2',
  'loop2 0 CNAME loop1',
  'dangling 0 CNAME nothere',
  'chain1 0 CNAME chain2',
  'chain2 0 CNAME chain3',
  'chain3 0 CNAME host',
];

export function exampleZone(): Zone {
  const zone = new Zone({
    origin: 'example.test.',
    soa: { mname: 'ns1.example.test.', rname: 'hostmaster.example.test.', serial: 2026112301, refresh: 1200, retry: 120, expire: 604800, minimum: 600 },
    nameServers: ['ns1.example.test.'],
    reverseZones: ['2.0.192.in-addr.arpa.', '8.b.d.0.1.0.0.2.ip6.arpa.'],
    ttl: 3600,
  });
  for (const line of EXAMPLE_RECORDS) {
    const r = parseRecordText(line, 'example.test.', 300);
    if (!r.ok) throw new Error(r.error);
    const error = zone.add(r.value);
    if (error) throw new Error(error);
  }
  return zone;
}

/** A query as dig sends it: RD set, EDNS with 1232 unless `edns` is false. */
export function query(
  name: string,
  type: number,
  options: { id?: number; rd?: boolean; edns?: boolean | number; version?: number; opcode?: number; klass?: number } = {},
): Uint8Array {
  const edns = options.edns ?? true;
  const message: DnsMessage = {
    id: options.id ?? 0x1234,
    flags: { qr: false, opcode: options.opcode ?? 0, aa: false, tc: false, rd: options.rd ?? true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type, class: options.klass ?? DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns:
      edns === false
        ? undefined
        : { udpPayloadSize: edns === true ? 1232 : edns, extendedRcode: 0, version: options.version ?? 0, dnssecOk: false, options: [] },
  };
  return encodeDnsMessage(message);
}

export { DnsType };
