/**
 * In-process cost of conntrack + NAT on the forwarding path (no kernel, no
 * TAP): one UDP datagram of an established, masqueraded flow through every
 * netfilter hook a forwarded packet meets (prerouting conntrack + DNAT,
 * forward filter, postrouting SNAT + confirm), in both directions.
 *
 *   npx tsx bench/netfilter-path.ts [millions=1]
 */
import { createTestContext } from '../src/core/context.js';
import { Netfilter } from '../src/netfilter/netfilter.js';
import { HookTable, type HookPacket } from '../src/l3/routing/hooks.js';
import type { Ipv4Link } from '../src/l3/ipv4/link.js';
import { emitIpv4Header, ipv4Record } from '../src/l3/ipv4/header.js';
import { emitUdp, finishUdpChecksumV4 } from '../src/l4/udp/header.js';
import { parseIpv4 } from '../src/l3/ipv4/address.js';

const millions = Number(process.argv[2] ?? 1);
const ctx = createTestContext(1);
const lan: Ipv4Link = { name: 'lan', mtu: 1500, ipv4Addresses: [{ address: parseIpv4('10.0.0.1')!, prefixLength: 24 }], sendIpv4: () => {} };
const wan: Ipv4Link = { name: 'wan', mtu: 1500, ipv4Addresses: [{ address: parseIpv4('203.0.113.1')!, prefixLength: 24 }], sendIpv4: () => {} };
const local = new Set([parseIpv4('10.0.0.1')!, parseIpv4('203.0.113.1')!]);
const nf = new Netfilter(ctx, { nat: { source: [{ outInterface: 'wan' }] } }, { isLocalAddress: (a) => local.has(a), sendIpv4: () => {} });
const hooks = new HookTable();
nf.plugInto(hooks);

function udp(source: string, sport: number, destination: string, dport: number): Uint8Array {
  const p = new Uint8Array(20 + 8 + 18);
  emitIpv4Header(ipv4Record({ protocol: 17, source: parseIpv4(source)!, destination: parseIpv4(destination)!, totalLength: p.length }), p, 0);
  emitUdp({ sourcePort: sport, destinationPort: dport, payloadLength: 18 }, p, 20);
  finishUdpChecksumV4(p, 20, 26, parseIpv4(source)!, parseIpv4(destination)!);
  return p;
}
const out = udp('10.0.0.10', 5000, '198.51.100.7', 7);
const back = udp('198.51.100.7', 7, '203.0.113.1', 5000);

function forward(bytes: Uint8Array, inLink: Ipv4Link, outLink: Ipv4Link): void {
  const p: HookPacket = { bytes, inLink, outLink: undefined, nextHop: undefined, linkBroadcast: false, offload: undefined };
  if (hooks.run('prerouting', p).verdict !== 'accept') throw new Error('prerouting');
  const f: HookPacket = { bytes: p.bytes, inLink, outLink, nextHop: 0, linkBroadcast: false, offload: undefined };
  if (hooks.run('forward', f).verdict !== 'accept') throw new Error('forward');
  if (hooks.run('postrouting', f).verdict !== 'accept') throw new Error('postrouting');
}

// Establish the flow, then time packets both ways (each run rewrites a fresh copy).
forward(out.slice(), lan, wan);
forward(back.slice(), wan, lan);
const a = out.slice();
const b = back.slice();
const n = millions * 1e6;
const start = performance.now();
for (let i = 0; i < n; i += 2) {
  a.set(out);
  forward(a, lan, wan);
  b.set(back);
  forward(b, wan, lan);
}
const ms = performance.now() - start;
console.log(`${n} packets through conntrack + masquerade: ${((ms * 1e6) / n).toFixed(0)} ns each, ${(n / ms / 1000).toFixed(2)} M packets/s`);
