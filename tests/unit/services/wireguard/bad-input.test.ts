/**
 * What WireGuard must survive (TESTING.md, bad-input classes): each bad
 * message is dropped and counted, the tunnel keeps working afterwards, and
 * the tables a stranger can touch stay bounded.
 */
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { CookieGenerator } from '../../../../src/services/wireguard/cookie.js';
import { aeadSealInto, counterNonce, random } from '../../../../src/services/wireguard/crypto.js';
import { INITIATION_LENGTH } from '../../../../src/services/wireguard/initiation.js';
import { RESPONSE_LENGTH } from '../../../../src/services/wireguard/response.js';
import { RATE_LIMITER_ENTRIES_MAX } from '../../../../src/services/wireguard/rate-limit.js';
import { emitTransportHeader } from '../../../../src/services/wireguard/transport.js';
import { wgPair } from './pair.js';

const FROM_B = { address: '10.0.0.2', port: 51820, family: 'IPv4' as const };
const B_TUNNEL = parseIpv4('10.9.0.2')!;

async function advance(p: ReturnType<typeof wgPair>, ms: number, step = 50): Promise<void> {
  const end = p.ctxA.clock.now() + ms;
  while (p.ctxA.clock.now() < end) {
    p.ctxA.timers.advanceTo(p.ctxA.clock, Math.min(end, p.ctxA.clock.now() + step));
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

async function pingWorks(p: ReturnType<typeof wgPair>): Promise<boolean> {
  const r = await p.run(p.a.ping(B_TUNNEL, { count: 1, timeoutMs: 2000 }), 3000);
  return r[0]?.rttMs !== undefined;
}

/** Records every datagram A's WireGuard receives (copies), passing them on. */
function tapA(p: ReturnType<typeof wgPair>): Uint8Array[] {
  const seen: Uint8Array[] = [];
  const receive = p.wgA.receiveFrom.bind(p.wgA);
  p.wgA.receiveFrom = (msg, source) => {
    seen.push(Uint8Array.from(msg));
    receive(msg, source);
  };
  return seen;
}

function message(type: number, length: number): Uint8Array {
  const m = random(length);
  m.set([type, 0, 0, 0]);
  return m;
}

/** A 28-byte IPv4/UDP packet from `source` to 10.9.0.1 (checksums left zero: it is dropped before they matter). */
function ipv4From(source: string): Uint8Array {
  const s = parseIpv4(source)!;
  const pkt = new Uint8Array(28);
  pkt.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, s >>> 24, (s >>> 16) & 0xff, (s >>> 8) & 0xff, s & 0xff, 10, 9, 0, 1]);
  return pkt;
}

describe('WireGuard bad input: dropped, counted, the tunnel survives', () => {
  it('truncated messages of each type, and a wrong type byte', async () => {
    const p = wgPair();
    expect(await pingWorks(p)).toBe(true);
    const s = p.ctxA.stats;
    for (const [type, length] of [[1, 100], [2, 50], [3, 40], [4, 20]] as const) p.wgA.receiveDatagram(message(type, length), FROM_B);
    p.wgA.receiveDatagram(Uint8Array.of(1, 0, 0), FROM_B);
    expect(s.get('wgInTruncated')).toBe(5);
    p.wgA.receiveDatagram(message(1, INITIATION_LENGTH + 1), FROM_B);
    expect(s.get('wgInBadLength')).toBe(1);
    p.wgA.receiveDatagram(message(9, 148), FROM_B);
    p.wgA.receiveDatagram(Uint8Array.of(1, 0, 0, 1, ...random(144)), FROM_B);
    expect(s.get('wgInBadType')).toBe(2);
    expect(await pingWorks(p)).toBe(true);
  });

  it('a handshake message with a bad mac1 costs no Diffie-Hellman', () => {
    const p = wgPair();
    p.wgA.receiveDatagram(message(1, INITIATION_LENGTH), FROM_B);
    p.wgA.receiveDatagram(message(2, RESPONSE_LENGTH), FROM_B);
    expect(p.ctxA.stats.get('wgInBadMac1')).toBe(2);
    expect(p.ctxA.stats.get('wgInBadHandshake')).toBe(0);
  });

  it('an initiation with a valid mac1 but garbage inside is a bad handshake; a replayed one a stale TAI64N', async () => {
    const p = wgPair();
    const gen = new CookieGenerator(p.wgA.publicKey);
    const forged = message(1, INITIATION_LENGTH);
    gen.addMacs(forged, 0);
    p.wgA.receiveDatagram(forged, FROM_B);
    expect(p.ctxA.stats.get('wgInBadHandshake')).toBe(1);
    // B initiates; its initiation, replayed later, carries a timestamp A has seen.
    const seen = tapA(p);
    expect((await p.run(p.b.ping(parseIpv4('10.9.0.1')!, { count: 1 }), 3000))[0]?.rttMs).toBeDefined();
    const initiation = seen.find((m) => m[0] === 1)!;
    await advance(p, 1000);
    p.wgA.receiveDatagram(initiation, FROM_B);
    expect(p.ctxA.stats.get('wgInReplayedTimestamp')).toBe(1);
    expect(p.ctxA.stats.get('wgOutResponses')).toBe(1);
    expect(await pingWorks(p)).toBe(true);
  });

  it('replayed and out-of-window counters, data for an unknown receiver index', async () => {
    const p = wgPair();
    const seen = tapA(p);
    expect(await pingWorks(p)).toBe(true);
    const data = seen.find((m) => m[0] === 4 && m.length > 32)!;
    p.wgA.receiveDatagram(data, FROM_B);
    expect(p.ctxA.stats.get('wgInReplayed')).toBe(1);
    // Forge with B's own session key: counter 10 000 is accepted (a keepalive), then 1 000 is behind the window.
    const k = p.wgB.peers[0]!.current!;
    const forge = (counter: number, receiver = k.remoteIndex): Uint8Array => {
      const m = new Uint8Array(32);
      emitTransportHeader(receiver, counter, m, 0);
      aeadSealInto(k.sendKey, counterNonce(counter), new Uint8Array(0), undefined, m, 16);
      return m;
    };
    p.wgA.receiveDatagram(forge(10_000), FROM_B);
    expect(p.ctxA.stats.get('wgInKeepalives')).toBeGreaterThanOrEqual(1);
    p.wgA.receiveDatagram(forge(1_000), FROM_B);
    expect(p.ctxA.stats.get('wgInReplayed')).toBe(2);
    p.wgA.receiveDatagram(forge(10_001, 0x12345678), FROM_B);
    expect(p.ctxA.stats.get('wgInUnknownReceiver')).toBe(1);
    const corrupt = forge(10_002);
    corrupt[20]! ^= 1;
    p.wgA.receiveDatagram(corrupt, FROM_B);
    expect(p.ctxA.stats.get('wgInDecryptErrors')).toBe(1);
    k.sendNonce = 10_003; // B's real traffic resumes above the window the forgery moved
    expect(await pingWorks(p)).toBe(true);
  });

  it("a packet decrypting to a source outside the peer's allowed IPs is dropped (cryptokey routing)", async () => {
    const p = wgPair();
    expect(await pingWorks(p)).toBe(true);
    const before = p.ctxA.stats.get('wgInPackets');
    // B's node routes it into the tunnel (destination 10.9.0.1 is A's); its source is B's LAN address, not 10.9.0.2.
    p.wgB.tunnel.link.sendIpv4(ipv4From('10.0.0.2'), 0);
    await advance(p, 10, 1);
    expect(p.ctxA.stats.get('wgInSourceNotAllowed')).toBe(1);
    expect(p.ctxA.stats.get('wgInPackets')).toBe(before);
    // And with an allowed source it goes through to A's IP layer.
    p.wgB.tunnel.link.sendIpv4(ipv4From('10.9.0.2'), 0);
    await advance(p, 10, 1);
    expect(p.ctxA.stats.get('wgInPackets')).toBe(before + 1);
  });

  it('a packet for a destination no peer has is dropped on the way out', async () => {
    const p = wgPair();
    p.wgA.tunnel.link.sendIpv4(ipv4From('10.9.0.1').map((b, i) => (i === 19 ? 77 : b)), 0);
    await advance(p, 10, 1);
    expect(p.ctxA.stats.get('wgOutNoPeer')).toBe(1);
  });

  it('a handshake flood puts the responder under load: cookie replies, and the real peer gets through with mac2', async () => {
    const p = wgPair({ wg: { underLoadHandshakesPerSecond: 5 } });
    const gen = new CookieGenerator(p.wgA.publicKey);
    /** Garbage initiations with a valid mac1 (anyone knowing A's public key can make them) from many sources. */
    const flood = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const m = message(1, INITIATION_LENGTH);
        gen.addMacs(m, 0);
        p.wgA.receiveDatagram(m, { address: `10.0.0.${100 + (i % 100)}`, port: 1000 + i, family: 'IPv4' });
      }
    };
    flood(50);
    expect(p.ctxA.stats.get('wgUnderLoad')).toBe(1);
    expect(p.ctxA.stats.get('wgInCookieRequired')).toBeGreaterThanOrEqual(40);
    expect(p.ctxA.stats.get('wgOutCookieReplies')).toBe(p.ctxA.stats.get('wgInCookieRequired'));
    // B starts a handshake while the flood goes on: a cookie reply, then its retry carries mac2 and is accepted.
    const pinging = p.b.ping(parseIpv4('10.9.0.1')!, { count: 12, intervalMs: 1000, timeoutMs: 1000 });
    for (let t = 0; t < 12_000; t += 100) {
      flood(2);
      await advance(p, 100, 10);
    }
    const replies = await pinging;
    expect(p.ctxB.stats.get('wgInCookieReplies')).toBeGreaterThanOrEqual(1);
    expect(p.ctxA.stats.get('wgHandshakesCompleted')).toBe(1);
    expect(replies.filter((r) => r.rttMs !== undefined).length).toBeGreaterThanOrEqual(3);
    // Nothing the flood sent made A hold state: one session index, a bounded rate limiter.
    expect(p.ctxA.stats.get('wgIndexEntries')).toBeLessThanOrEqual(2);
    expect(p.ctxA.stats.get('wgRateLimiterEntries')).toBeLessThanOrEqual(RATE_LIMITER_ENTRIES_MAX);
  });
});
