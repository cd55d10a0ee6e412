/**
 * Half-open connections the way Node's `net` has them (`allowHalfOpen`):
 * RFC 9293 §3.6, a FIN closes only the sender's direction. With
 * allowHalfOpen false (the default) a socket ends its side when the peer's
 * FIN arrives; with true it stays writable (CLOSE-WAIT) until it calls end().
 */
import { describe, expect, it } from 'vitest';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { TcpState } from '../../../../src/l4/tcp/state.js';
import { B, onlyConnection, tcpPair } from './harness.js';

function setup(allowHalfOpen: boolean | undefined) {
  const p = tcpPair();
  let accepted: Socket | undefined;
  p.b.tcp.createServer(allowHalfOpen === undefined ? {} : { allowHalfOpen }, (s) => (accepted = s)).listen(7);
  const client = p.a.tcp.connect({ host: B, port: 7, allowHalfOpen: true });
  const received: Buffer[] = [];
  let clientEnded = false;
  client.on('data', (d: Buffer) => received.push(d));
  client.on('end', () => (clientEnded = true));
  return { ...p, client, received, server: () => accepted, clientEnded: () => clientEnded };
}

describe('half-close (allowHalfOpen)', () => {
  it('allowHalfOpen true: after the peer FIN the socket keeps writing, and its FIN goes only on end()', async () => {
    const t = setup(true);
    await t.runUntil(() => t.server() !== undefined);
    const server = t.server()!;
    let serverEnded = false;
    const got: Buffer[] = [];
    server.on('data', (d: Buffer) => got.push(d));
    server.on('end', () => (serverEnded = true));
    t.client.end('request');
    await t.runUntil(() => serverEnded);
    expect(Buffer.concat(got).toString()).toBe('request');
    expect(onlyConnection(t.b).state).toBe(TcpState.CLOSE_WAIT);
    expect(server.writable).toBe(true);
    // Still half-open a while later: no FIN from us on our own.
    await t.runFor(1_000);
    expect(t.clientEnded()).toBe(false);
    expect(onlyConnection(t.b).state).toBe(TcpState.CLOSE_WAIT);
    server.write('response, ');
    server.end('then FIN');
    await t.runUntil(() => t.clientEnded());
    expect(Buffer.concat(t.received).toString()).toBe('response, then FIN');
  });

  it('allowHalfOpen false (the default): the peer FIN ends our side too, after what was written in that turn', async () => {
    const t = setup(undefined);
    await t.runUntil(() => t.server() !== undefined);
    const server = t.server()!;
    server.on('data', (d: Buffer) => server.write(`echo ${d.toString()}`));
    t.client.end('ping');
    await t.runUntil(() => t.clientEnded());
    expect(Buffer.concat(t.received).toString()).toBe('echo ping');
    expect(server.writable).toBe(false);
  });
});
