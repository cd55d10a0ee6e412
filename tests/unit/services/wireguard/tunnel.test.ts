import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import { emitIpv4Header } from '../../../../src/l3/ipv4/header.js';
import { wgPair } from './pair.js';

describe('two tapnet WireGuard peers over an in-memory link', () => {
  it('handshakes on the first packet and carries ping both ways (IPv4)', async () => {
    const p = wgPair();
    const replies = await p.run(p.a.ping(parseIpv4('10.9.0.2')!, { count: 3, intervalMs: 100 }));
    expect(replies.filter((r) => r.rttMs !== undefined).length).toBeGreaterThanOrEqual(2);
    expect(p.ctxA.stats.get('wgHandshakesCompleted')).toBe(1);
    expect(p.ctxB.stats.get('wgHandshakesCompleted')).toBe(1);
    expect(p.ctxA.stats.get('wgOutInitiations')).toBe(1);
    expect(p.ctxB.stats.get('wgInPackets')).toBeGreaterThanOrEqual(3);
    expect(p.wgA.show()).toMatch(/peer: .*\n  endpoint: 10\.0\.0\.2:51820\n  allowed ips: 10\.9\.0\.2\/32, fd09::2\/128\n  latest handshake: /);
  });

  it('carries ping -6 through the tunnel', async () => {
    const p = wgPair();
    const replies = await p.run(p.a.ipv6.ping(parseIpv6('fd09::2')!, { count: 2, intervalMs: 100 }));
    expect(replies.filter((r) => r.rttMs !== undefined).length).toBeGreaterThanOrEqual(1);
  });

  it('runs its UDP over IPv6 endpoints too', async () => {
    const p = wgPair({ a: { endpoint: { address: 'fd00::2', port: 51820, family: 6 } }, b: { endpoint: { address: 'fd00::1', port: 51820, family: 6 } } });
    const replies = await p.run(p.a.ping(parseIpv4('10.9.0.2')!, { count: 2, intervalMs: 100 }));
    expect(replies.filter((r) => r.rttMs !== undefined).length).toBeGreaterThanOrEqual(1);
    expect(p.wgB.show()).toContain('endpoint: [fd00::1]:51820');
  });

  it('works with a preshared key', async () => {
    const p = wgPair({ presharedKey: new Uint8Array(32).fill(7) });
    const replies = await p.run(p.b.ping(parseIpv4('10.9.0.1')!, { count: 2, intervalMs: 100 }));
    expect(replies.filter((r) => r.rttMs !== undefined).length).toBeGreaterThanOrEqual(1);
  });
});

describe('TCP through the tunnel, with the receiver coalescing segments (gro.ts)', () => {
  async function transfer(gro: boolean) {
    const p = wgPair({ wg: { gro } });
    const sent = new Uint8Array(400_000).map((_, i) => (i * 7 + (i >> 10)) & 0xff);
    const chunks: Buffer[] = [];
    let ended = false;
    p.b.tcp
      .createServer((s) => {
        s.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
        s.on('end', () => (ended = true));
      })
      .listen(5001);
    p.a.tcp.connect({ host: '10.9.0.2', port: 5001 }).end(Buffer.from(sent));
    // Socket events come on the next tick: let the event loop turn between clock steps.
    for (let ms = 0; ms < 20_000 && !ended; ms++) {
      p.ctxA.timers.advanceTo(p.ctxA.clock, p.ctxA.clock.now() + 1);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { p, received: Buffer.concat(chunks), sent };
  }

  it('400 KB arrive byte-exact, most segments inside super-packets', async () => {
    const { p, received, sent } = await transfer(true);
    expect(received.equals(Buffer.from(sent))).toBe(true);
    const segments = p.ctxB.stats.get('wgInGroSegments');
    expect(p.ctxB.stats.get('wgInGroPackets')).toBeGreaterThan(0);
    expect(segments).toBeGreaterThan(400_000 / 1420 / 2);
    expect(p.ctxB.stats.get('TcpInCsumErrors') ?? 0).toBe(0);
  });

  it('with gro: false every segment goes up alone, and the bytes are the same', async () => {
    const { p, received, sent } = await transfer(false);
    expect(received.equals(Buffer.from(sent))).toBe(true);
    expect(p.ctxB.stats.get('wgInGroPackets')).toBe(0);
  });
});

describe('a burst larger than the staging queue on an established session', () => {
  it('is sent whole: only packets waiting for a handshake are ever dropped from the staging queue', async () => {
    const p = wgPair();
    expect((await p.run(p.a.ping(parseIpv4('10.9.0.2')!, { count: 1 })))[0]?.rttMs).toBeDefined();
    const before = p.ctxB.stats.get('wgInPackets');
    const packet = new Uint8Array(100);
    emitIpv4Header({ dscp: 0, ecn: 0, totalLength: 100, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 253, source: parseIpv4('10.9.0.1')!, destination: parseIpv4('10.9.0.2')! }, packet, 0);
    // One turn, as a TAP batch of TSO super-packets cut into segments: 600 packets > STAGED_PACKETS_MAX (128).
    for (let i = 0; i < 600; i++) p.wgA.tunnel.link.sendIpv4(packet, 0);
    await p.settle();
    expect(p.ctxA.stats.get('wgOutStagedDropped')).toBe(0);
    expect(p.ctxB.stats.get('wgInPackets') - before).toBe(600);
  });
});

describe('packets waiting for the handshake', () => {
  it('keep their own bytes while later packets reuse the transmit arena', async () => {
    const p = wgPair();
    const got: string[] = [];
    p.b.udp.createSocket().bind(7000).on('message', (m) => got.push(m.toString()));
    const s = p.a.udp.createSocket();
    for (const text of ['one', 'two', 'three']) s.send(text, 7000, '10.9.0.2');
    await Promise.resolve(); // drained: staged for the handshake, the arena free again
    for (const text of ['FOUR', 'FIVE', 'SIX!!']) s.send(text, 7000, '10.9.0.2');
    for (let ms = 0; ms < 5000 && got.length < 6; ms++) {
      p.ctxA.timers.advanceTo(p.ctxA.clock, p.ctxA.clock.now() + 1);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(got).toEqual(['one', 'two', 'three', 'FOUR', 'FIVE', 'SIX!!']);
  });
});
