/**
 * The forwarder between two stacks on an in-memory link: host A runs the
 * server (zone example.test.) forwarding to a scripted upstream on host B.
 * Manual clock: TTLs, retries and timeouts without sleeping.
 */
import type { CounterName } from '../../../../src/core/stats.js';
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../../src/l3/ipv4/address.js';
import type { UdpRemoteInfo } from '../../../../src/l4/udp/udp.js';
import {
  DnsClass,
  DnsRcode,
  DnsType,
  describeRecord,
  encodeDnsMessage,
  parseDnsMessage,
  type DnsMessage,
  type DnsRecord,
} from '../../../../src/services/dns/message.js';
import { DnsForwarder, FORWARD_TIMEOUT_MS, parseUpstream, type ForwarderOptions } from '../../../../src/services/dns/forwarder.js';
import { DNS_SERVER_UDP_PAYLOAD, DnsServer } from '../../../../src/services/dns/server.js';
import { EdnsOptionCode } from '../../../../src/services/dns/constants.js';
import { parseExtendedErrorOption } from '../../../../src/services/dns/edns-options.js';
import { B, twoHosts } from '../../two-hosts.js';
import { exampleZone, query } from './fixture.js';

type Script = (q: DnsMessage, rinfo: UdpRemoteInfo) => DnsMessage | undefined;

const a = (name: string, address: number, ttl = 300): DnsRecord => ({ name, type: DnsType.A, class: DnsClass.IN, ttl, data: { kind: 'A', address } });
const soa = (ttl: number, minimum: number): DnsRecord => ({
  name: 'example.com.',
  type: DnsType.SOA,
  class: DnsClass.IN,
  ttl,
  data: { kind: 'SOA', mname: 'ns.example.com.', rname: 'hm.example.com.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum },
});

/** An upstream's answer to `q`. */
function reply(q: DnsMessage, rcode: number, answers: DnsRecord[] = [], authorities: DnsRecord[] = []): DnsMessage {
  return { ...q, flags: { ...q.flags, qr: true, ra: true, rcode }, answers, authorities, additionals: [], edns: undefined };
}

function setup(options: { ports?: number[]; forwarder?: ForwarderOptions } = {}) {
  const { a: tapnet, b: upstreamHost, ctxA, run } = twoHosts();
  const ports = options.ports ?? [53];
  const seen: Array<{ id: number; port: number; upstreamPort: number; name: string; message: DnsMessage }> = [];
  const scripts = new Map<number, Script>();
  const sockets = ports.map((port) => {
    const s = upstreamHost.udp.createSocket();
    s.bind(port);
    s.on('message', (msg, rinfo) => {
      const m = parseDnsMessage(msg);
      if (!m.ok) throw new Error('forwarder sent a malformed query');
      seen.push({ id: m.value.id, port: rinfo.port, upstreamPort: port, name: m.value.questions[0]!.name, message: m.value });
      const answer = scripts.get(port)?.(m.value, rinfo);
      if (answer) s.send(encodeDnsMessage(answer), rinfo.port, rinfo.address);
    });
    return s;
  });
  const upstreams = ports.map((port) => parseUpstream(`${formatIpv4(B)}:${port}`)!);
  const forwarder = new DnsForwarder(ctxA, tapnet.udp, upstreams, options.forwarder);
  const server = new DnsServer(ctxA, { zone: exampleZone(), forwarder });
  const handle = (bytes: Uint8Array) => server.handle(bytes, DNS_SERVER_UDP_PAYLOAD, 'udp');
  const parse = (bytes: Uint8Array | undefined): DnsMessage => {
    if (!bytes) throw new Error('no response');
    const m = parseDnsMessage(bytes);
    if (!m.ok) throw new Error(m.error.detail);
    return m.value;
  };
  /** Asks and waits for the answer, moving the clock as needed. */
  const ask = async (bytes: Uint8Array): Promise<DnsMessage> => parse(await run(Promise.resolve(handle(bytes))));
  /** Asks expecting a synchronous (cached) answer. */
  const askCached = (bytes: Uint8Array): DnsMessage => {
    const r = handle(bytes);
    if (r instanceof Promise) throw new Error('expected an answer from the cache');
    return parse(r);
  };
  const advance = (ms: number) => ctxA.timers.advanceTo(ctxA.clock, ctxA.clock.now() + ms);
  const stat = (name: CounterName) => ctxA.stats.get(name);
  return { tapnet, upstreamHost, ctxA, run, seen, scripts, sockets, forwarder, server, handle, ask, askCached, advance, stat };
}

describe('forwarding', () => {
  it('asks the upstream with its own ID, RD and EDNS; the client gets its ID back, RA set, AA not', async () => {
    const t = setup();
    t.scripts.set(53, (q) => reply(q, 0, [a('www.example.com.', 0x5db8d822)]));
    const m = await t.ask(query('www.example.com.', DnsType.A, { id: 4242 }));
    expect(m.id).toBe(4242);
    expect(m.flags).toMatchObject({ qr: true, aa: false, ra: true, rd: true, rcode: 0 });
    expect(m.answers.map(describeRecord)).toEqual(['www.example.com. 300 IN A 93.184.216.34']);
    expect(t.seen).toHaveLength(1);
    const sent = t.seen[0]!.message;
    expect(sent.id).not.toBe(4242);
    expect(sent.flags.rd).toBe(true);
    expect(sent.edns?.udpPayloadSize).toBe(1232);
    expect(t.stat('dnsForwarded')).toBe(1);
    expect(t.stat('dnsFwdAnswers')).toBe(1);
  });

  it('local names never go upstream', async () => {
    const t = setup();
    expect((await t.ask(query('www.example.test.', DnsType.A))).flags.aa).toBe(true);
    expect(t.seen).toHaveLength(0);
  });

  it('random IDs and source ports for every question (RFC 5452 §9)', async () => {
    const t = setup();
    t.scripts.set(53, (q) => reply(q, 0, [a(q.questions[0]!.name, 1)]));
    for (let i = 0; i < 20; i++) await t.ask(query(`n${i}.example.com.`, DnsType.A));
    expect(new Set(t.seen.map((s) => s.id)).size).toBeGreaterThanOrEqual(19);
    expect(new Set(t.seen.map((s) => s.port)).size).toBeGreaterThanOrEqual(19);
    for (const s of t.seen) expect(s.port).toBeGreaterThanOrEqual(32768);
  });

  it('identical questions in flight are merged: one upstream query, every client answered with its own ID', async () => {
    const t = setup();
    let release: (() => void) | undefined;
    t.scripts.set(53, (q, rinfo) => {
      release = () => t.sockets[0]!.send(encodeDnsMessage(reply(q, 0, [a('merge.example.com.', 7)])), rinfo.port, rinfo.address);
      return undefined;
    });
    const first = t.handle(query('merge.example.com.', DnsType.A, { id: 1 }));
    const second = t.handle(query('MERGE.example.com.', DnsType.A, { id: 2 }));
    await t.run(Promise.resolve());
    expect(t.seen).toHaveLength(1);
    expect(t.stat('dnsFwdMerged')).toBe(1);
    release!();
    const [r1, r2] = await t.run(Promise.all([first, second]));
    const [m1, m2] = [parseDnsMessage(r1!), parseDnsMessage(r2!)];
    expect(m1.ok && [m1.value.id, m1.value.questions[0]!.name, m1.value.answers.length]).toEqual([1, 'merge.example.com.', 1]);
    expect(m2.ok && [m2.value.id, m2.value.questions[0]!.name, m2.value.answers.length]).toEqual([2, 'MERGE.example.com.', 1]);
  });
});

describe('accepting replies only when address, port, ID and question match (RFC 5452 §3)', () => {
  it('forged replies are dropped and counted; the real one is accepted', async () => {
    const t = setup();
    const forger = t.upstreamHost.udp.createSocket();
    forger.bind(5353);
    t.scripts.set(53, (q, rinfo) => {
      const send = (m: DnsMessage, from = t.sockets[0]!) => from.send(encodeDnsMessage(m), rinfo.port, rinfo.address);
      send({ ...reply(q, 0, [a('forged.example.com.', 6)]), id: (q.id + 1) & 0xffff }); // wrong ID
      send(reply({ ...q, questions: [{ name: 'other.example.com.', type: DnsType.A, class: DnsClass.IN }] }, 0, [a('other.example.com.', 6)])); // wrong question
      send(reply({ ...q, questions: [{ ...q.questions[0]!, type: DnsType.AAAA }] }, 0)); // wrong type
      send(reply(q, 0, [a('forged.example.com.', 6)]), forger); // right ID, wrong source port
      send({ ...q }); // not a response (QR=0)
      t.sockets[0]!.send(new Uint8Array([q.id >> 8, q.id & 0xff, 0x81]), rinfo.port, rinfo.address); // garbage
      return reply(q, 0, [a('forged.example.com.', 0x0a000042)]); // the real answer
    });
    const m = await t.ask(query('forged.example.com.', DnsType.A));
    expect(m.answers.map(describeRecord)).toEqual(['forged.example.com. 300 IN A 10.0.0.66']);
    expect(t.stat('dnsFwdBadReplies')).toBe(6);
    // The accepted answer (only it) is cached: the forged addresses never served.
    expect(t.askCached(query('forged.example.com.', DnsType.A)).answers.map(describeRecord)).toEqual(['forged.example.com. 300 IN A 10.0.0.66']);
    expect(t.forwarder.cached({ name: 'other.example.com.', type: DnsType.A, class: DnsClass.IN })).toBeUndefined();
  });
});

describe('the cache', () => {
  it('answers from the cache with TTLs counted down, until they run out (RFC 1035 §4.1.3)', async () => {
    const t = setup();
    t.scripts.set(53, (q) => reply(q, 0, [a('c.example.com.', 1, 60)]));
    await t.ask(query('c.example.com.', DnsType.A));
    t.advance(10_000);
    const cached = t.askCached(query('C.example.com.', DnsType.A, { id: 99 }));
    expect(cached.id).toBe(99);
    expect(cached.answers[0]!.ttl).toBe(50);
    expect(t.seen).toHaveLength(1);
    expect(t.stat('dnsCacheHits')).toBe(1);
    t.advance(50_000);
    const again = await t.ask(query('c.example.com.', DnsType.A));
    expect(again.answers[0]!.ttl).toBe(60);
    expect(t.seen).toHaveLength(2);
  });

  it('show dns --json lists the cache: question, records, and the TTL left', async () => {
    const t = setup();
    t.scripts.set(53, (q) => (q.questions[0]!.name.startsWith('nx') ? reply(q, DnsRcode.NXDOMAIN, [], [soa(300, 30)]) : reply(q, 0, [a('c.example.com.', 0x0a080063, 60)])));
    await t.ask(query('c.example.com.', DnsType.A));
    await t.ask(query('nx.example.com.', DnsType.A));
    t.advance(10_000);
    expect((t.server.showJson() as { cache: unknown }).cache).toEqual([
      { name: 'c.example.com.', class: 'IN', type: 'A', result: '1 records', rcode: 'NOERROR', answers: ['A 10.8.0.99'], ttlLeft: 50 },
      { name: 'nx.example.com.', class: 'IN', type: 'A', result: 'NXDOMAIN', rcode: 'NXDOMAIN', answers: [], ttlLeft: 20 },
    ]);
    t.advance(50_000);
    expect((t.server.showJson() as { cache: unknown }).cache).toEqual([]);
  });

  it('NXDOMAIN is cached for min(SOA TTL, MINIMUM) with its SOA (RFC 2308 §5)', async () => {
    const t = setup();
    t.scripts.set(53, (q) => reply(q, DnsRcode.NXDOMAIN, [], [soa(300, 30)]));
    const first = await t.ask(query('nx.example.com.', DnsType.A));
    expect(first.flags.rcode).toBe(DnsRcode.NXDOMAIN);
    t.advance(29_000);
    const cached = t.askCached(query('nx.example.com.', DnsType.A));
    expect(cached.flags.rcode).toBe(DnsRcode.NXDOMAIN);
    // The SOA goes out with the negative TTL left: min(300, 30) - 29 (RFC 2308 §5).
    expect(cached.authorities.map((r) => [r.type, r.ttl])).toEqual([[DnsType.SOA, 1]]);
    t.advance(2_000);
    expect(t.handle(query('nx.example.com.', DnsType.A))).toBeInstanceOf(Promise);
  });

  it('NODATA is cached too; a negative answer without SOA is not', async () => {
    const t = setup();
    t.scripts.set(53, (q) =>
      q.questions[0]!.name.startsWith('nodata') ? reply(q, 0, [], [soa(60, 600)]) : reply(q, DnsRcode.NXDOMAIN),
    );
    await t.ask(query('nodata.example.com.', DnsType.AAAA));
    expect(t.askCached(query('nodata.example.com.', DnsType.AAAA)).authorities[0]!.ttl).toBe(60);
    await t.ask(query('nosoa.example.com.', DnsType.A));
    expect(t.handle(query('nosoa.example.com.', DnsType.A))).toBeInstanceOf(Promise);
  });

  it('without RD: answered from the cache, otherwise REFUSED (no recursion asked for)', async () => {
    const t = setup();
    t.scripts.set(53, (q) => reply(q, 0, [a('rd.example.com.', 1)]));
    expect(t.askCached(query('rd.example.com.', DnsType.A, { rd: false })).flags.rcode).toBe(DnsRcode.REFUSED);
    await t.ask(query('rd.example.com.', DnsType.A));
    expect(t.askCached(query('rd.example.com.', DnsType.A, { rd: false })).answers).toHaveLength(1);
  });

  it('evicts the least recently used entry at the cap', async () => {
    const t = setup({ forwarder: { cacheEntries: 2 } });
    t.scripts.set(53, (q) => reply(q, 0, [a(q.questions[0]!.name, 1)]));
    await t.ask(query('one.example.com.', DnsType.A));
    await t.ask(query('two.example.com.', DnsType.A));
    t.askCached(query('one.example.com.', DnsType.A)); // one is now the most recent
    await t.ask(query('three.example.com.', DnsType.A));
    expect(t.stat('dnsCacheEvictions')).toBe(1);
    expect(t.askCached(query('one.example.com.', DnsType.A)).answers).toHaveLength(1);
    expect(t.handle(query('two.example.com.', DnsType.A))).toBeInstanceOf(Promise);
  });
});

describe('failures', () => {
  it('a silent upstream: the next one is tried after the timeout', async () => {
    const t = setup({ ports: [5300, 53] });
    t.scripts.set(53, (q) => reply(q, 0, [a('slow.example.com.', 1)]));
    const start = t.ctxA.clock.now();
    const m = await t.ask(query('slow.example.com.', DnsType.A));
    expect(m.answers).toHaveLength(1);
    expect(t.ctxA.clock.now() - start).toBeGreaterThanOrEqual(FORWARD_TIMEOUT_MS);
    expect(t.seen.map((s) => s.upstreamPort)).toEqual([5300, 53]);
    expect(t.stat('dnsFwdRetries')).toBe(1);
  });

  it('nobody answers: SERVFAIL after every try, not cached', async () => {
    const t = setup();
    const m = await t.ask(query('dead.example.com.', DnsType.A));
    expect(m.flags.rcode).toBe(DnsRcode.SERVFAIL);
    // RFC 8914 §4.23: the SERVFAIL says why, as Extended DNS Error 22 (No Reachable Authority).
    const ede = m.edns!.options.find((o) => o.code === EdnsOptionCode.EXTENDED_ERROR);
    expect(ede && parseExtendedErrorOption(ede.data)).toEqual({ infoCode: 22, extraText: 'no upstream answered (3 tries)' });
    expect(t.seen).toHaveLength(3);
    expect(t.stat('dnsFwdTimeouts')).toBe(1);
    expect(t.stat('dnsOutServFail')).toBe(1);
    expect(t.forwarder.outstanding).toBe(0);
    expect(t.handle(query('dead.example.com.', DnsType.A))).toBeInstanceOf(Promise);
  });

  it('an upstream SERVFAIL/REFUSED moves on to the next upstream', async () => {
    const t = setup({ ports: [5300, 53] });
    t.scripts.set(5300, (q) => reply(q, DnsRcode.REFUSED));
    t.scripts.set(53, (q) => reply(q, 0, [a('x.example.com.', 1)]));
    const m = await t.ask(query('x.example.com.', DnsType.A));
    expect(m.answers).toHaveLength(1);
    expect(t.stat('dnsFwdUpstreamErrors')).toBe(1);
  });

  it('an upstream BADVERS (extended RCODE 16, header RCODE 0) is an error, not an empty NOERROR', async () => {
    const t = setup();
    t.scripts.set(53, (q) => ({ ...reply(q, 0), edns: { udpPayloadSize: 1232, extendedRcode: 1, version: 0, dnssecOk: false, options: [] } }));
    const m = await t.ask(query('badvers.example.com.', DnsType.A));
    expect(m.flags.rcode).toBe(DnsRcode.SERVFAIL);
    const ede = m.edns!.options.find((o) => o.code === EdnsOptionCode.EXTENDED_ERROR);
    expect(ede && parseExtendedErrorOption(ede.data)).toEqual({ infoCode: 22, extraText: `upstream ${formatIpv4(B)}:53 answered BADVERS` });
    expect(t.stat('dnsFwdUpstreamErrors')).toBe(1);
  });

  it('too many questions in flight: the rest are dropped and counted', async () => {
    const t = setup({ forwarder: { maxOutstanding: 2 } });
    const pending = [1, 2, 3].map((i) => t.handle(query(`q${i}.example.com.`, DnsType.A)));
    expect(await t.run(Promise.resolve(pending[2]))).toBeUndefined();
    expect(t.stat('dnsFwdDropped')).toBe(1);
    expect(t.forwarder.outstanding).toBe(2);
    t.server.close();
    expect(t.forwarder.outstanding).toBe(0);
  });

  it('a TC answer from upstream is passed on with TC and not cached', async () => {
    const t = setup();
    t.scripts.set(53, (q) => ({ ...reply(q, 0), flags: { ...q.flags, qr: true, tc: true, rcode: 0 } }));
    const m = await t.ask(query('big.example.com.', DnsType.TXT));
    expect(m.flags.tc).toBe(true);
    expect(t.handle(query('big.example.com.', DnsType.TXT))).toBeInstanceOf(Promise);
  });
});

describe('parseUpstream', () => {
  it('ADDRESS[:PORT]', () => {
    expect(parseUpstream('10.77.0.2')).toEqual({ address: 0x0a4d0002, port: 53 });
    expect(parseUpstream('10.77.0.2:5353')).toEqual({ address: 0x0a4d0002, port: 5353 });
    for (const bad of ['', '10.77.0', '10.77.0.2:0', '10.77.0.2:65536', 'host:53', '10.77.0.2:', '::1']) expect(parseUpstream(bad), bad).toBeUndefined();
  });
});
