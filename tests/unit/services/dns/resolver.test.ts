/**
 * The recursive resolver (RFC 1034 §5.3.3) between two stacks on an
 * in-memory link: host A runs the resolving server; host B holds three
 * addresses, each with a real tapnet DnsServer: the root (10.0.0.2, zone "."),
 * the TLD (10.0.0.3, "test.") and the authority (10.0.0.4, "example.test."
 * and "noglue.test."). Manual clock: TTLs and timeouts without sleeping.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { Host } from '../../../../src/node/host.js';
import { DnsClass, DnsType, DnsRcode, encodeDnsMessage, parseDnsMessage, type DnsMessage, type DnsRecord } from '../../../../src/services/dns/message.js';
import { DnsResolver, RESOLVER_QUERY_TIMEOUT_MS } from '../../../../src/services/dns/resolver.js';
import { DNS_SERVER_UDP_PAYLOAD, DnsServer } from '../../../../src/services/dns/server.js';
import { Zone } from '../../../../src/services/dns/zone.js';
import { parseRecordText } from '../../../../src/services/dns/zone-text.js';
import { query } from './fixture.js';

const ip = (t: string) => parseIpv4(t)!;

function zone(origin: string, lines: string[], extraApexes: string[] = []): Zone {
  const z = new Zone({
    origin,
    soa: { mname: `ns.${origin === '.' ? '' : origin}`, rname: 'hostmaster.test.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 30 },
    nameServers: [origin === '.' ? 'a.root.' : `ns.${origin}`],
    reverseZones: extraApexes,
  });
  for (const line of lines) {
    const r = parseRecordText(line, origin, 300);
    if (!r.ok) throw new Error(r.error);
    const e = z.add(r.value);
    if (e) throw new Error(e);
  }
  return z;
}

function setup(options: { roots?: string[]; allow?: string[] } = {}) {
  const ctxA = createTestContext(3);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB) };
  const [da, db] = createLinkPair(ctxA, {});
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  a.addInterface(da, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: ip('10.0.0.1'), prefixLength: 24 }] });
  b.addInterface(db, {
    name: 'b0',
    mac: 0x020000000002,
    ipv4: ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map((t) => ({ address: ip(t), prefixLength: 24 })),
  });
  const root = zone('.', ['a.root. A 10.0.0.2', 'test. NS ns.test.', 'ns.test. A 10.0.0.3']);
  const tld = zone('test.', [
    'ns A 10.0.0.3',
    'example NS ns.example',
    'example NS ns2.example',
    'ns.example A 10.0.0.4',
    'noglue NS ns3.example.test.', // glue-less: the name server's name is in another zone, with no A here
    'loop NS ns.loop',
    'ns.loop A 10.0.0.3', // lame: points back at the TLD server, which only refers again
    'host A 10.0.0.50',
  ]);
  const auth = zone(
    'example.test.',
    [
      'ns A 10.0.0.4',
      'ns3 A 10.0.0.4',
      'www A 10.0.0.20',
      'www A 10.0.0.21',
      'web CNAME www',
      'ext CNAME host.test.',
      'www.noglue.test. A 10.0.0.30',
    ],
    ['noglue.test.'],
  );
  const servers = [
    [root, '10.0.0.2'],
    [tld, '10.0.0.3'],
    [auth, '10.0.0.4'],
  ] as const;
  for (const [z, address] of servers) new DnsServer(ctxB, { zone: z }).listen(b.udp, [ip(address)]);
  const resolver = new DnsResolver(ctxA, a.udp, {
    roots: (options.roots ?? ['10.0.0.2']).map(ip),
    allow: (options.allow ?? []).map((t) => ({ address: ip(t.split('/')[0]!), prefixLength: Number(t.split('/')[1]) })),
  });
  const local = zone('home.', ['nas A 10.0.0.99']);
  const server = new DnsServer(ctxA, { zone: local, forwarder: resolver });
  const run = async <T>(p: Promise<T>, ms = 20_000): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => {
      done = true;
      value = v;
    });
    for (let t = 0; t < ms && !done; t += 1) {
      ctxA.timers.advanceTo(ctxA.clock, ctxA.clock.now() + 1);
      await Promise.resolve();
    }
    await Promise.resolve();
    if (!done) throw new Error('promise did not settle');
    return value;
  };
  const parse = (bytes: Uint8Array | undefined): DnsMessage => {
    if (!bytes) throw new Error('no response');
    const m = parseDnsMessage(bytes);
    if (!m.ok) throw new Error(m.error.detail);
    return m.value;
  };
  const ask = async (name: string, type: number = DnsType.A, client = '10.0.0.1'): Promise<DnsMessage> =>
    parse(await run(Promise.resolve(server.handle(query(name, type), DNS_SERVER_UDP_PAYLOAD, 'udp', client))));
  const askSync = (name: string, type: number = DnsType.A): DnsMessage => {
    const r = server.handle(query(name, type), DNS_SERVER_UDP_PAYLOAD, 'udp', '10.0.0.1');
    if (r instanceof Promise) throw new Error('expected an answer from the cache');
    return parse(r);
  };
  const stat = (n: Parameters<typeof ctxA.stats.get>[0]) => ctxA.stats.get(n);
  const advance = (ms: number) => ctxA.timers.advanceTo(ctxA.clock, ctxA.clock.now() + ms);
  return { ask, askSync, stat, resolver, server, run, advance, auth, ctxA, b };
}

const addresses = (m: DnsMessage) => m.answers.filter((r) => r.type === DnsType.A).map((r) => (r.data.kind === 'A' ? r.data.address : 0));

describe('DnsResolver: iterative resolution from the root hints', () => {
  it('follows root → test. → example.test. referrals with glue; answers with RA, not AA; the cache answers next', async () => {
    const s = setup();
    const m = await s.ask('www.example.test.');
    expect(m.flags.rcode).toBe(DnsRcode.NOERROR);
    expect(m.flags.ra).toBe(true);
    expect(m.flags.aa).toBe(false);
    expect(addresses(m).sort()).toEqual([ip('10.0.0.20'), ip('10.0.0.21')].sort());
    expect(s.stat('dnsRecReferrals')).toBe(2);
    expect(s.stat('dnsRecSent')).toBe(3);
    // Step 1 next time: from the cache, synchronously, TTL counted down.
    s.advance(10_000);
    const again = s.askSync('www.example.test.');
    expect(again.answers[0]!.ttl).toBe(290);
    expect(s.stat('dnsRecSent')).toBe(3);
    // A sibling name starts from the cached delegation of example.test.: one query.
    await s.ask('ns.example.test.');
    expect(s.stat('dnsRecSent')).toBe(4);
    expect(s.resolver.describe()).toMatch(/delegation example\.test\. NS ns\.example\.test\. ns2\.example\.test\. at 10\.0\.0\.4/);
  });

  it('caches NXDOMAIN with the SOA (RFC 2308 §5) and drops it when its TTL runs out', async () => {
    const s = setup();
    const m = await s.ask('nothere.example.test.');
    expect(m.flags.rcode).toBe(DnsRcode.NXDOMAIN);
    expect(m.authorities[0]?.type).toBe(DnsType.SOA);
    expect(s.askSync('nothere.example.test.').flags.rcode).toBe(DnsRcode.NXDOMAIN);
    s.advance(31_000); // SOA MINIMUM 30
    expect(s.server.handle(query('nothere.example.test.', DnsType.A), DNS_SERVER_UDP_PAYLOAD, 'udp', '10.0.0.1')).toBeInstanceOf(Promise);
  });

  it('chases a CNAME within the zone and into another zone (step 4c)', async () => {
    const s = setup();
    const inZone = await s.ask('web.example.test.');
    expect(inZone.answers.map((r) => r.type)).toEqual([DnsType.CNAME, DnsType.A, DnsType.A]);
    const other = await s.ask('ext.example.test.');
    expect(other.answers.map((r) => r.type)).toEqual([DnsType.CNAME, DnsType.A]);
    expect(addresses(other)).toEqual([ip('10.0.0.50')]);
    expect(s.stat('dnsRecCnames')).toBe(1);
  });

  it('resolves the name of a glue-less name server before following its referral', async () => {
    const s = setup();
    const m = await s.ask('www.noglue.test.');
    expect(addresses(m)).toEqual([ip('10.0.0.30')]);
    expect(s.stat('dnsRecGlueless')).toBe(1);
  });

  it('a referral that does not get closer is lame: SERVFAIL, not a loop', async () => {
    const s = setup();
    const m = await s.ask('www.loop.test.');
    expect(m.flags.rcode).toBe(DnsRcode.SERVFAIL);
    expect(s.stat('dnsRecLame')).toBeGreaterThan(0);
    expect(s.stat('dnsRecSent')).toBeLessThanOrEqual(32);
  });

  it('tries the next root when one does not answer', async () => {
    const s = setup({ roots: ['10.0.0.9', '10.0.0.2'] });
    const m = await s.ask('www.example.test.');
    expect(addresses(m)).toHaveLength(2);
    // Whichever root came first, a silent one costs one timeout at most.
    expect(s.stat('dnsRecTimeouts')).toBeLessThanOrEqual(1);
    expect(RESOLVER_QUERY_TIMEOUT_MS).toBeGreaterThan(0);
  });

  it('refuses recursion to clients outside the allow-list, still answers its own zone', async () => {
    const s = setup({ allow: ['10.0.0.0/30'] });
    expect((await s.ask('www.example.test.', DnsType.A, '10.0.0.77')).flags.rcode).toBe(DnsRcode.REFUSED);
    expect(s.stat('dnsOutRecursionRefused')).toBe(1);
    expect((await s.ask('nas.home.', DnsType.A, '10.0.0.77')).flags.rcode).toBe(DnsRcode.NOERROR);
    expect((await s.ask('www.example.test.', DnsType.A, '10.0.0.1')).flags.rcode).toBe(DnsRcode.NOERROR);
  });
});

describe('Zone: referrals and round robin', () => {
  it('answers below a zone cut with a referral and glue, AA clear', () => {
    const s = setup();
    const root = zone('.', ['test. NS ns.test.', 'ns.test. A 10.0.0.3']);
    const r = root.lookup('www.example.test.', DnsType.A)!;
    expect(r.referral).toBe(true);
    expect(r.answers).toHaveLength(0);
    expect(r.authorities.map((x) => x.name)).toEqual(['test.']);
    expect(r.additionals.map((x) => x.name)).toEqual(['ns.test.']);
    expect(s).toBeDefined();
  });

  it('rotates a multi-record A RRset by one per answer (cyclic order)', () => {
    const s = setup();
    const first = s.auth.lookup('www.example.test.', DnsType.A)!.answers.map((r) => (r.data.kind === 'A' ? r.data.address : 0));
    const second = s.auth.lookup('www.example.test.', DnsType.A)!.answers.map((r) => (r.data.kind === 'A' ? r.data.address : 0));
    const third = s.auth.lookup('www.example.test.', DnsType.A)!.answers.map((r) => (r.data.kind === 'A' ? r.data.address : 0));
    expect(second).toEqual([first[1], first[0]]);
    expect(third).toEqual(first);
  });
});

describe('DnsResolver: forged and out-of-bailiwick replies (RFC 5452)', () => {
  it('drops a reply with the wrong ID, and caches nothing an authority says about names outside its zone', async () => {
    const s = setup({ roots: ['10.0.0.5'] });
    // A scripted "root" at 10.0.0.5: first a reply with a wrong ID, then a real-looking answer that also
    // carries records for a name it was not asked about (a poisoning attempt).
    const evil = s.b.udp.createSocket('udp4');
    evil.bind(53, '10.0.0.5');
    const a = (name: string, address: string): DnsRecord => ({ name, type: DnsType.A, class: DnsClass.IN, ttl: 300, data: { kind: 'A', address: ip(address) } });
    evil.on('message', (msg, rinfo) => {
      const q = parseDnsMessage(msg);
      if (!q.ok) return;
      const reply = (id: number, answers: DnsRecord[], additionals: DnsRecord[]): Uint8Array =>
        encodeDnsMessage({ ...q.value, id, flags: { ...q.value.flags, qr: true, aa: true }, answers, authorities: [], additionals, edns: undefined });
      evil.send(reply((q.value.id + 1) & 0xffff, [a('www.example.test.', '6.6.6.6')], []), rinfo.port, rinfo.address);
      evil.send(reply(q.value.id, [a('www.example.test.', '10.0.0.20'), a('www.bank.test.', '6.6.6.6')], [a('mail.bank.test.', '6.6.6.6')]), rinfo.port, rinfo.address);
    });
    const m = await s.ask('www.example.test.');
    expect(addresses(m)).toEqual([ip('10.0.0.20')]);
    expect(s.stat('dnsRecBadReplies')).toBe(1);
    expect(s.resolver.cached({ name: 'www.bank.test.', type: DnsType.A, class: DnsClass.IN })).toBeUndefined();
    expect(s.resolver.cached({ name: 'mail.bank.test.', type: DnsType.A, class: DnsClass.IN })).toBeUndefined();
  });

  it('a silent root ends in SERVFAIL within the work budget, and the next question still resolves', async () => {
    const s = setup({ roots: ['10.0.0.9'] });
    const m = await s.ask('www.example.test.');
    expect(m.flags.rcode).toBe(DnsRcode.SERVFAIL);
    expect(s.stat('dnsRecTimeouts')).toBe(4); // RESOLVER_MAX_TRIES_PER_STEP
    expect(s.stat('dnsRecServFail')).toBe(1);
  });
});
