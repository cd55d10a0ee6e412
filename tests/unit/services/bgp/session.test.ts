/**
 * The BGP FSM (RFC 4271 §8) between two sessions over a fake transport (the
 * transport is not the point here: speaker.test.ts runs real TCP), on a
 * manual clock: establishment, hold time negotiation, every OPEN error, the
 * hold timer, FSM errors, collisions and ConnectRetry.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { fromHex } from '../../../../src/core/bytes.js';
import { HEADER_LENGTH, MessageType, keepaliveMessage, nextMessage } from '../../../../src/services/bgp/header.js';
import { parseNotification, type Notification } from '../../../../src/services/bgp/notification.js';
import { openMessage, type Open } from '../../../../src/services/bgp/open.js';
import { BgpSession, type BgpConnection, type SessionConfig, type SessionOwner } from '../../../../src/services/bgp/session.js';
import { updateMessage } from '../../../../src/services/bgp/update.js';
import { parsePrefixText } from '../../../../src/services/bgp/prefix.js';
import '../../../../src/services/bgp/counters.js';

const CONFIG_A: SessionConfig = { localAs: 65001, peerAs: 65002, routerId: 0x0a000001, peerAddress: '10.0.0.2', holdTime: 90, connectRetry: 5, passive: false, families: ['ipv4', 'ipv6'] };
const CONFIG_B: SessionConfig = { localAs: 65002, peerAs: 65001, routerId: 0x0a000002, peerAddress: '10.0.0.1', holdTime: 90, connectRetry: 5, passive: true, families: ['ipv4'] };

function owner(log: string[]): SessionOwner & { connects: number } {
  return {
    connects: 0,
    connect() {
      this.connects++;
    },
    established: () => log.push('established'),
    down: (_s, reason) => log.push(`down: ${reason}`),
    update: () => log.push('update'),
    routeRefresh: (_s, f) => log.push(`refresh ${f}`),
  };
}

/** A raw peer: what the session sends is collected; `feed` hands it bytes. */
function rawPeer(config: Partial<SessionConfig> = {}) {
  const ctx = createTestContext();
  const log: string[] = [];
  const session = new BgpSession(ctx, { ...CONFIG_A, ...config }, owner(log));
  const sent: Uint8Array[] = [];
  let closed = false;
  const conn: BgpConnection = { outgoing: true, send: (b) => sent.push(b.slice()), close: () => (closed = true) };
  session.start();
  session.connectionUp(conn);
  const types = () => sent.map((m) => m[18]);
  const notification = (): Notification | undefined => {
    const m = sent.find((x) => x[18] === MessageType.notification);
    const n = m && parseNotification(m.subarray(HEADER_LENGTH));
    return n && n.ok ? n.value : undefined;
  };
  return { ctx, session, sent, log, conn, types, notification, feed: (b: Uint8Array) => session.receive(conn, b), isClosed: () => closed };
}

const peerOpen = (o: Partial<Open> = {}): Uint8Array =>
  openMessage({ version: 4, myAs: 65002, holdTime: 90, bgpIdentifier: 0x0a000002, capabilities: [{ kind: 'fourOctetAs', as: 65002 }, { kind: 'routeRefresh' }, { kind: 'multiprotocol', afi: 1, safi: 1 }], ...o });

describe('BGP FSM', () => {
  it('OpenSent → OpenConfirm → Established; negotiates hold time, 4-octet AS, families, route refresh', () => {
    const p = rawPeer();
    expect(p.session.state).toBe('OpenSent');
    expect(p.types()).toEqual([MessageType.open]);
    p.feed(peerOpen({ holdTime: 30 }));
    expect(p.session.state).toBe('OpenConfirm');
    expect(p.types()).toEqual([MessageType.open, MessageType.keepalive]);
    p.feed(keepaliveMessage());
    expect(p.session.state).toBe('Established');
    expect(p.log).toEqual(['established']);
    expect(p.session.negotiatedHoldTime).toBe(30); // min(90, 30)
    expect(p.session.asWidth).toBe(4);
    expect(p.session.families).toEqual(['ipv4']); // ipv6 not offered by the peer
    expect(p.session.peerRouteRefresh).toBe(true);
    // keepalives every hold/3 = 10 s
    p.ctx.timers.advanceTo(p.ctx.clock, 10_000);
    expect(p.types().filter((t) => t === MessageType.keepalive)).toHaveLength(2);
  });

  it('a peer that sends no MP capability gets IPv4 unicast only (RFC 4760 §8); messages split across reads are reassembled', () => {
    const p = rawPeer();
    const both = new Uint8Array([...peerOpen({ capabilities: [] }), ...keepaliveMessage()]);
    for (const b of both) p.feed(Uint8Array.of(b));
    expect(p.session.state).toBe('Established');
    expect(p.session.families).toEqual(['ipv4']);
    expect(p.session.asWidth).toBe(2);
  });

  it.each([
    ['hold time 1', peerOpen({ holdTime: 1 }), 2, 6],
    ['hold time 2', peerOpen({ holdTime: 2 }), 2, 6],
    ['bad peer AS', peerOpen({ myAs: 65099, capabilities: [{ kind: 'fourOctetAs', as: 65099 }] }), 2, 2],
    ['BGP identifier 0', peerOpen({ bgpIdentifier: 0 }), 2, 3],
    ['version 3', (() => { const m = peerOpen(); m[19] = 3; return m; })(), 2, 1],
    ['optional parameter type 1', fromHex(`${'ff'.repeat(16)}0021 01 04 fdea 005a 0a000002 04 0102 abcd`), 2, 4],
    ['bad marker', (() => { const m = peerOpen(); m[0] = 0; return m; })(), 1, 1],
    ['KEEPALIVE in OpenSent', keepaliveMessage(), 5, 1],
  ])('%s → the right NOTIFICATION, connection closed, counted', (_name, bytes, code, subcode) => {
    const p = rawPeer();
    p.feed(bytes);
    expect(p.notification()).toMatchObject({ code, subcode });
    expect(p.isClosed()).toBe(true);
    expect(p.session.state).toBe('Idle');
    const errors = p.ctx.stats.get('bgpInOpenErrors') + p.ctx.stats.get('bgpInHeaderErrors') + p.ctx.stats.get('bgpInFsmErrors');
    expect(errors).toBe(1);
  });

  it('hold time 0 is accepted: no keepalives, no hold timer (RFC 4271 §4.2)', () => {
    const p = rawPeer();
    p.feed(peerOpen({ holdTime: 0 }));
    p.feed(keepaliveMessage());
    p.ctx.timers.advanceTo(p.ctx.clock, 600_000);
    expect(p.session.state).toBe('Established');
    expect(p.types().filter((t) => t === MessageType.keepalive)).toHaveLength(1);
  });

  it('a peer that never sends KEEPALIVE: Hold Timer Expired after the negotiated hold time', () => {
    const p = rawPeer();
    p.feed(peerOpen({ holdTime: 9 }));
    p.feed(keepaliveMessage());
    p.ctx.timers.advanceTo(p.ctx.clock, 8_999);
    expect(p.session.state).toBe('Established');
    p.ctx.timers.advanceTo(p.ctx.clock, 9_001);
    expect(p.notification()).toMatchObject({ code: 4, subcode: 0 });
    expect(p.ctx.stats.get('bgpHoldTimerExpired')).toBe(1);
    expect(p.log).toEqual(['established', 'down: hold timer expired']);
  });

  it('a peer that never answers our OPEN: Hold Timer Expired after 4 minutes (the "large value" of §8.2.2)', () => {
    const p = rawPeer();
    p.ctx.timers.advanceTo(p.ctx.clock, 240_001);
    expect(p.notification()).toMatchObject({ code: 4 });
  });

  it('UPDATE in OpenConfirm → FSM Error 5/2; malformed UPDATE when Established → 3/x and down', () => {
    const p = rawPeer();
    p.feed(peerOpen());
    p.feed(updateMessage({ withdrawn: [], attributes: { other: [] }, nlri: [] }, 4));
    expect(p.notification()).toMatchObject({ code: 5, subcode: 2 });
    const q = rawPeer();
    q.feed(peerOpen());
    q.feed(keepaliveMessage());
    q.feed(fromHex(`${'ff'.repeat(16)}0017 02 00ff 0000`)); // withdrawn routes length overruns
    expect(q.notification()).toMatchObject({ code: 3, subcode: 1 });
    expect(q.log).toEqual(['established', expect.stringMatching(/^down: sent NOTIFICATION UPDATE Message Error \/ Malformed Attribute List/)]);
  });

  it('treat-as-withdraw keeps the session up and hands the UPDATE on', () => {
    const p = rawPeer();
    p.feed(peerOpen());
    p.feed(keepaliveMessage());
    p.feed(updateMessage({ withdrawn: [], attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], other: [] }, nlri: [parsePrefixText('10.9.0.0/16')!] }, 4)); // no NEXT_HOP
    expect(p.session.state).toBe('Established');
    expect(p.log).toEqual(['established', 'update']);
    expect(p.ctx.stats.get('bgpInTreatAsWithdraw')).toBe(1);
  });

  it('NOTIFICATION from the peer: down, then ConnectRetry reconnects', () => {
    const ctx = createTestContext();
    const log: string[] = [];
    const own = owner(log);
    const s = new BgpSession(ctx, CONFIG_A, own);
    s.start();
    expect(own.connects).toBe(1);
    expect(s.state).toBe('Connect');
    s.connectFailed('ECONNREFUSED');
    ctx.timers.advanceTo(ctx.clock, 5_000);
    expect(own.connects).toBe(2);
    const conn: BgpConnection = { outgoing: true, send: () => {}, close: () => {} };
    s.connectionUp(conn);
    s.receive(conn, peerOpen());
    s.receive(conn, keepaliveMessage());
    s.receive(conn, fromHex(`${'ff'.repeat(16)}0015 03 06 04`));
    expect(log).toEqual(['established', 'down: received NOTIFICATION Cease / Administrative Reset']);
    ctx.timers.advanceTo(ctx.clock, 10_001);
    expect(own.connects).toBe(3);
  });

  it('connection collision (RFC 4271 §6.8): the connection opened by the higher BGP identifier survives', () => {
    // We are 10.0.0.1 (lower): our outgoing connection loses, the peer's incoming one stays.
    const ctx = createTestContext();
    const log: string[] = [];
    const s = new BgpSession(ctx, CONFIG_A, owner(log));
    s.start();
    const closed: string[] = [];
    const sent: Record<string, Uint8Array[]> = { out: [], in: [] };
    const out: BgpConnection = { outgoing: true, send: (b) => sent.out!.push(b), close: () => closed.push('out') };
    const inc: BgpConnection = { outgoing: false, send: (b) => sent.in!.push(b), close: () => closed.push('in') };
    s.connectionUp(out);
    s.connectionUp(inc);
    s.receive(out, peerOpen());
    s.receive(inc, peerOpen());
    expect(closed).toEqual(['out']);
    const last = sent.out!.at(-1)!;
    const n = nextMessage(last);
    expect(n?.ok && parseNotification(n.value.body)).toMatchObject({ ok: true, value: { code: 6, subcode: 7 } });
    s.receive(inc, keepaliveMessage());
    expect(s.state).toBe('Established');
    expect(ctx.stats.get('bgpCollisions')).toBe(1);
  });
});
