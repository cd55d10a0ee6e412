/**
 * Conntrack on its own: classification, directions, TCP states, the RFC
 * timeouts, lazy expiry, and the table cap (unanswered entries go first).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import {
  Conntrack,
  ICMP_TIMEOUT_MS,
  ORIGINAL,
  REPLY,
  UDP_REPLIED_TIMEOUT_MS,
  UDP_UNREPLIED_TIMEOUT_MS,
  type TrackResult,
} from '../../../../src/netfilter/conntrack/conntrack.js';
import { classifyPacket, invertTuple, tupleKey } from '../../../../src/netfilter/conntrack/tuple.js';
import { TCP_ESTABLISHED_TIMEOUT_MS, TCP_TRANSITORY_TIMEOUT_MS } from '../../../../src/netfilter/conntrack/tcp-state.js';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import { echoPacket, icmpErrorPacket, ip, tcpPacket, udpPacket } from '../nat/packets.js';

const A = ip('10.0.0.2');
const B = ip('192.0.2.9');
const R = ip('198.51.100.1');
const { SYN, ACK, FIN, RST } = TcpFlags;

function rig(options: { max?: number } = {}) {
  const ctx = createTestContext(3);
  const ct = new Conntrack(ctx, { max: options.max });
  const view = new Ipv4HeaderView();
  /** Tracks one packet and confirms a new connection, as a packet leaving the router would. */
  const pass = (packet: Uint8Array): TrackResult => {
    expect(view.wrap(packet)).toBeUndefined();
    const result = ct.track(view, classifyPacket(view));
    if (result.connection && !result.connection.confirmed) ct.confirm(result.connection);
    return result;
  };
  return { ctx, ct, pass };
}

describe('RFC minimum timeouts', () => {
  it('are at least what RFC 4787, 5382 and 5508 require', () => {
    expect(UDP_UNREPLIED_TIMEOUT_MS).toBeGreaterThanOrEqual(120_000); // RFC 4787 REQ-5
    expect(UDP_REPLIED_TIMEOUT_MS).toBeGreaterThanOrEqual(120_000);
    expect(TCP_ESTABLISHED_TIMEOUT_MS).toBeGreaterThanOrEqual((2 * 60 + 4) * 60_000); // RFC 5382 REQ-5
    expect(TCP_TRANSITORY_TIMEOUT_MS).toBeGreaterThanOrEqual(4 * 60_000);
    expect(ICMP_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000); // RFC 5508 REQ-1
  });
});

describe('tuples and directions', () => {
  it('finds the reply direction of a UDP flow and calls it established', () => {
    const { ct, pass } = rig();
    const first = pass(udpPacket(A, 5000, B, 53));
    expect(first.state).toBe('new');
    expect(first.direction).toBe(ORIGINAL);
    const again = pass(udpPacket(A, 5000, B, 53));
    expect(again.state).toBe('new'); // no reply yet: still NEW, like `ct state new`
    const reply = pass(udpPacket(B, 53, A, 5000));
    expect(reply.state).toBe('established');
    expect(reply.direction).toBe(REPLY);
    expect(reply.connection).toBe(first.connection);
    expect(pass(udpPacket(A, 5000, B, 53)).state).toBe('established');
    const c = first.connection!;
    expect(c.packets).toEqual([3, 1]);
    expect(ct.size).toBe(1);
  });

  it('keys an echo by its identifier; the reply is the inverse tuple', () => {
    const { pass } = rig();
    const request = pass(echoPacket(A, B, 4242));
    const reply = pass(echoPacket(B, A, 4242, { reply: true }));
    expect(reply.connection).toBe(request.connection);
    expect(reply.direction).toBe(REPLY);
    expect(pass(echoPacket(B, A, 9, { reply: true })).state).toBe('invalid'); // unsolicited reply
  });

  it('relates an ICMP error to the connection of the datagram it quotes', () => {
    const { pass } = rig();
    const out = udpPacket(A, 5000, B, 33434);
    const c = pass(out).connection;
    const error = pass(icmpErrorPacket(R, A, 11, 0, out));
    expect(error.state).toBe('related');
    expect(error.connection).toBe(c);
    expect(error.direction).toBe(REPLY);
    expect(pass(icmpErrorPacket(R, A, 3, 3, udpPacket(A, 5001, B, 1))).state).toBe('invalid');
  });

  it('classifies any transport bytes without throwing, and a short header as invalid', () => {
    const view = new Ipv4HeaderView();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 120 }), fc.constantFrom(1, 6, 17, 47), (bytes, protocol) => {
        const packet = udpPacket(A, 1, B, 2, bytes.subarray(20));
        packet[9] = protocol;
        packet.set(bytes.subarray(0, Math.min(bytes.length - 20, packet.length - 20)), 20);
        if (view.wrap(packet, false)) return;
        const cls = classifyPacket(view);
        expect(cls.kind).toBeTypeOf('string');
      }),
    );
    const truncated = tcpPacket(A, 1, B, 2, SYN).subarray(0, 30);
    truncated[3] = 30; // total length
    view.wrap(truncated, false);
    expect(classifyPacket(view)).toMatchObject({ kind: 'invalid' });
  });

  it('inverts and keys tuples consistently', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.nat(0xffffffff), fc.nat(0xffff), fc.nat(0xffffffff), fc.nat(0xffff), (p, s, sp, d, dp) => {
        const t = { protocol: p, source: s, sourcePort: sp, destination: d, destinationPort: dp };
        expect(invertTuple(invertTuple(t))).toEqual(t);
        if (s !== d || sp !== dp) expect(tupleKey(invertTuple(t))).not.toBe(tupleKey(t));
      }),
    );
  });
});

describe('TCP states', () => {
  it('walks a handshake and a close like conntrack -L shows them', () => {
    const { pass, ct } = rig();
    const c = pass(tcpPacket(A, 40000, B, 80, SYN)).connection!;
    expect(c.tcp!.state).toBe('SYN_SENT');
    pass(tcpPacket(B, 80, A, 40000, SYN | ACK));
    expect(c.tcp!.state).toBe('SYN_RECV');
    pass(tcpPacket(A, 40000, B, 80, ACK));
    expect(c.tcp!.state).toBe('ESTABLISHED');
    expect(c.assured).toBe(true);
    expect(ct.timeoutFor(c)).toBe(TCP_ESTABLISHED_TIMEOUT_MS);
    pass(tcpPacket(A, 40000, B, 80, FIN | ACK));
    expect(c.tcp!.state).toBe('FIN_WAIT');
    pass(tcpPacket(B, 80, A, 40000, FIN | ACK));
    expect(c.tcp!.state).toBe('LAST_ACK');
    pass(tcpPacket(A, 40000, B, 80, ACK));
    expect(c.tcp!.state).toBe('TIME_WAIT');
    expect(ct.timeoutFor(c)).toBe(TCP_TRANSITORY_TIMEOUT_MS);
  });

  it('closes on RST and lets a new SYN reuse the tuple as a new connection', () => {
    const { pass } = rig();
    const first = pass(tcpPacket(A, 40000, B, 80, SYN)).connection!;
    pass(tcpPacket(B, 80, A, 40000, RST | ACK));
    expect(first.tcp!.state).toBe('CLOSE');
    const again = pass(tcpPacket(A, 40000, B, 80, SYN));
    expect(again.state).toBe('new');
    expect(again.connection).not.toBe(first);
  });

  it('does not pick up a connection in mid-stream (no SYN: invalid)', () => {
    const { pass, ctx } = rig();
    expect(pass(tcpPacket(A, 40000, B, 80, ACK)).state).toBe('invalid');
    expect(pass(tcpPacket(A, 40000, B, 80, SYN | ACK)).state).toBe('invalid');
    expect(ctx.stats.get('ctInvalid')).toBe(2);
  });
});

describe('timeouts and expiry', () => {
  it('expires an unanswered UDP flow after 2 minutes, an answered one after 5', () => {
    const { ctx, pass, ct } = rig();
    pass(udpPacket(A, 1000, B, 53));
    pass(udpPacket(A, 1001, B, 53));
    pass(udpPacket(B, 53, A, 1001));
    ctx.timers.advanceTo(ctx.clock, UDP_UNREPLIED_TIMEOUT_MS - 1);
    expect(ct.entries().length).toBe(2);
    ctx.timers.advanceTo(ctx.clock, UDP_UNREPLIED_TIMEOUT_MS + 10_000);
    expect(ct.entries().length).toBe(1);
    expect(ct.size).toBe(1); // the sweep removed it, not just hid it
    ctx.timers.advanceTo(ctx.clock, UDP_REPLIED_TIMEOUT_MS + 10_000);
    expect(ct.size).toBe(0);
    expect(ctx.stats.get('ctExpired')).toBe(2);
  });

  it('refreshes on every packet in either direction (RFC 4787 REQ-6)', () => {
    const { ctx, pass, ct } = rig();
    pass(echoPacket(A, B, 1));
    for (let i = 0; i < 5; i++) {
      ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + ICMP_TIMEOUT_MS - 1000);
      pass(echoPacket(B, A, 1, { reply: true }));
    }
    expect(ct.size).toBe(1);
  });

  it('treats an expired entry as gone even before the sweep', () => {
    const { ctx, pass } = rig();
    const c = pass(udpPacket(A, 1000, B, 53)).connection;
    ctx.clock.advance(UDP_UNREPLIED_TIMEOUT_MS); // no timers run
    const next = pass(udpPacket(A, 1000, B, 53));
    expect(next.state).toBe('new');
    expect(next.connection).not.toBe(c);
  });
});

describe('the table cap', () => {
  it('evicts the oldest unanswered connection first, never an answered one', () => {
    const { ctx, pass, ct } = rig({ max: 3 });
    const answered = pass(udpPacket(A, 1, B, 53)).connection!;
    pass(udpPacket(B, 53, A, 1));
    const old = pass(udpPacket(A, 2, B, 53)).connection!;
    const young = pass(udpPacket(A, 3, B, 53)).connection!;
    const newest = pass(udpPacket(A, 4, B, 53)).connection!;
    expect(ct.size).toBe(3);
    expect(ctx.stats.get('ctEarlyDrop')).toBe(1);
    const live = ct.entries();
    expect(live).toContain(answered);
    expect(live).not.toContain(old);
    expect(live).toContain(young);
    expect(live).toContain(newest);
  });

  it('refuses a new connection when every entry has been answered', () => {
    const { ctx, pass, ct } = rig({ max: 2 });
    for (const port of [1, 2]) {
      pass(udpPacket(A, port, B, 53));
      pass(udpPacket(B, 53, A, port));
    }
    const view = new Ipv4HeaderView();
    view.wrap(udpPacket(A, 3, B, 53));
    const result = ct.track(view, classifyPacket(view));
    expect(ct.hasRoom()).toBe(false);
    expect(ct.confirm(result.connection!)).toBe('full');
    expect(ctx.stats.get('ctDrop')).toBe(1);
    expect(ct.size).toBe(2);
  });

  it('refuses a second connection with a tuple already in use (insert failed)', () => {
    const { ctx, ct } = rig();
    const view = new Ipv4HeaderView();
    view.wrap(udpPacket(A, 7, B, 53));
    const one = ct.track(view, classifyPacket(view)).connection!;
    const two = ct.track(view, classifyPacket(view)).connection!;
    expect(ct.confirm(one)).toBe('ok');
    expect(ct.confirm(two)).toBe('clash');
    expect(ctx.stats.get('ctInsertFailed')).toBe(1);
  });

  it('stays at its cap under a flood of 20 000 new tuples', () => {
    const { pass, ct } = rig({ max: 1000 });
    for (let i = 0; i < 20_000; i++) pass(udpPacket(A, 1024 + (i % 60_000), ip(`192.0.2.${1 + (i % 200)}`), 53));
    expect(ct.size).toBe(1000);
  });
});
