/**
 * In-process cost of answering a DNS query (no kernel, no TAP, no UDP):
 * `DnsServer.handle()` on the lab zone with the same query mix as
 * bench/dns.sh, with the answer cache (answer-cache.ts) on and off.
 *
 *   npx tsx bench/dns-server.ts [SECONDS] [RUNS]
 */
import { createContext } from '../src/core/context.js';
import { parseIpv4 } from '../src/l3/ipv4/address.js';
import { buildLabZone } from '../src/services/dns/config.js';
import { DnsClass, DnsType, encodeDnsMessage } from '../src/services/dns/message.js';
import { DNS_SERVER_UDP_PAYLOAD, DnsServer } from '../src/services/dns/server.js';

const seconds = Number(process.argv[2] ?? 2);
const runs = Number(process.argv[3] ?? 3);

const MIX: Array<[string, number]> = [
  ['gateway.lab.', DnsType.A],
  ['host.lab.', DnsType.A],
  ['www.lab.', DnsType.A],
  ['lab.', DnsType.MX],
  ['txt.lab.', DnsType.TXT],
  ['2.0.77.10.in-addr.arpa.', DnsType.PTR],
  ['host.lab.', DnsType.AAAA],
  ['nothere.lab.', DnsType.A],
];
const queries = MIX.map(([name, type], i) =>
  encodeDnsMessage({
    id: i,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type, class: DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: false, options: [] },
  }),
);

function server(answerCacheEntries?: number): DnsServer {
  const zone = buildLabZone(
    { tapnet: parseIpv4('10.77.0.1')!, kernel: parseIpv4('10.77.0.2')!, subnet: { address: parseIpv4('10.77.0.0')!, prefixLength: 24 } },
    { records: ['www CNAME gateway', '@ MX 10 gateway', 'txt TXT "hello world" "two"'] },
  );
  if (!zone.ok) throw new Error(zone.error);
  return new DnsServer(createContext(), { zone: zone.value, answerCacheEntries });
}

function rate(s: DnsServer): number {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) s.handle(queries[(n + i) & 7]!, DNS_SERVER_UDP_PAYLOAD, 'udp');
    n += 1000;
  }
  return n / seconds;
}

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cached: number[] = [];
const uncached: number[] = [];
for (let r = 0; r < runs; r++) {
  cached.push(rate(server()));
  uncached.push(rate(server(0)));
}
const us = (perSecond: number): string => (1e6 / perSecond).toFixed(2);
console.log(`answer cache on:  ${(median(cached) / 1e6).toFixed(2)} M queries/s (${us(median(cached))} µs each)`);
console.log(`answer cache off: ${(median(uncached) / 1e6).toFixed(2)} M queries/s (${us(median(uncached))} µs each)`);
