/**
 * WireGuard's timers (whitepaper §6, wireguard-go device/timers.go) on the
 * manual clock: rekey after REKEY_AFTER_TIME, sessions refused after
 * REJECT_AFTER_TIME, passive and persistent keepalives, handshake
 * retransmission and giving up, key material zeroed.
 */
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { wgPair } from './pair.js';

const B_TUNNEL = parseIpv4('10.9.0.2')!;

/** Moves the shared clock `ms` forward in `step` increments, letting microtasks (the tunnel's queues) run. */
async function advance(p: ReturnType<typeof wgPair>, ms: number, step = 50): Promise<void> {
  const end = p.ctxA.clock.now() + ms;
  while (p.ctxA.clock.now() < end) {
    p.ctxA.timers.advanceTo(p.ctxA.clock, Math.min(end, p.ctxA.clock.now() + step));
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

async function ping(p: ReturnType<typeof wgPair>): Promise<boolean> {
  const r = await p.run(p.a.ping(B_TUNNEL, { count: 1, timeoutMs: 2000 }), 3000);
  return r[0]?.rttMs !== undefined;
}

describe('WireGuard timers on the injected clock', () => {
  it('the initiator rekeys when it sends after REKEY_AFTER_TIME; the tunnel keeps working', async () => {
    const p = wgPair();
    expect(await ping(p)).toBe(true);
    await advance(p, 121_000, 500);
    expect(await ping(p)).toBe(true);
    await advance(p, 200);
    expect(p.ctxA.stats.get('wgOutInitiations')).toBe(2);
    expect(p.ctxA.stats.get('wgHandshakesCompleted')).toBe(2);
    expect(await ping(p)).toBe(true);
  });

  it('a session older than REJECT_AFTER_TIME is refused; a new handshake replaces it', async () => {
    const p = wgPair({ wg: { timings: { rekeyAfterTimeMs: 1e9 } } });
    const captured: Uint8Array[] = [];
    const receive = p.wgB.receiveFrom.bind(p.wgB);
    p.wgB.receiveFrom = (msg, source) => {
      if (msg[0] === 4 && msg.length > 32) captured.push(Uint8Array.from(msg));
      receive(msg, source);
    };
    expect(await ping(p)).toBe(true);
    await advance(p, 181_000, 1000);
    p.wgB.receiveDatagram(captured[0]!, { address: '10.0.0.1', port: 51820, family: 'IPv4' });
    expect(p.ctxB.stats.get('wgInExpiredKeypair')).toBe(1);
    expect(await ping(p)).toBe(true);
    expect(p.ctxA.stats.get('wgOutInitiations')).toBe(2);
  });

  it('passive keepalive: data received and nothing sent for KEEPALIVE_TIMEOUT sends an empty packet', async () => {
    const p = wgPair();
    expect(await ping(p)).toBe(true);
    const before = p.ctxB.stats.get('wgInKeepalives');
    await advance(p, 10_500);
    // A got B's echo reply (data) and sent nothing after it: one keepalive, 10 s later.
    expect(p.ctxB.stats.get('wgInKeepalives') - before).toBe(1);
    await advance(p, 30_000, 500);
    expect(p.ctxB.stats.get('wgInKeepalives') - before).toBe(1);
  });

  it('persistent keepalive: the handshake starts at once and keepalives follow every N seconds', async () => {
    const p = wgPair({ a: { persistentKeepalive: 25 } });
    p.wgA.start();
    await advance(p, 100);
    expect(p.ctxB.stats.get('wgHandshakesCompleted')).toBe(1);
    const before = p.ctxB.stats.get('wgInKeepalives');
    await advance(p, 100_000, 500);
    expect(p.ctxB.stats.get('wgInKeepalives') - before).toBeGreaterThanOrEqual(3);
    expect(p.wgA.show()).toContain('persistent keepalive: every 25 seconds');
  });

  it('retransmits an unanswered initiation every REKEY_TIMEOUT and gives up after REKEY_ATTEMPT_TIME', async () => {
    const p = wgPair({ a: { endpoint: { address: '10.0.0.2', port: 40000, family: 4 } } }); // nobody listens there
    void p.a.ping(B_TUNNEL, { count: 1, timeoutMs: 1000 });
    await advance(p, 120_000, 250);
    const sent = p.ctxA.stats.get('wgOutInitiations');
    expect(sent).toBeGreaterThanOrEqual(18);
    expect(sent).toBeLessThanOrEqual(20);
    expect(p.ctxA.stats.get('wgHandshakeTimeouts')).toBe(1);
    await advance(p, 60_000, 1000);
    expect(p.ctxA.stats.get('wgOutInitiations')).toBe(sent); // gave up: quiet until new traffic
    expect(p.wgA.peers[0]!.staged).toHaveLength(0);
  });

  it('zeroes every key after 3 × REJECT_AFTER_TIME without a new session', async () => {
    const p = wgPair();
    expect(await ping(p)).toBe(true);
    expect(p.ctxA.stats.get('wgIndexEntries')).toBe(1);
    await advance(p, 541_000, 2000);
    expect(p.ctxA.stats.get('wgKeysZeroed')).toBe(1);
    expect(p.ctxA.stats.get('wgIndexEntries')).toBe(0);
    expect(p.wgA.peers[0]!.current).toBeUndefined();
    expect(await ping(p)).toBe(true); // a new handshake
  });
});
