/**
 * Issue 11 item 4: a client that sends its whole request and then half-closes
 * (`nc -N`, `shutdown(SHUT_WR)`) still gets the response, as from Node's own
 * http server on kernel sockets (RFC 9293 §3.6: a FIN only closes the
 * sender's direction; RFC 9112 §9.6 lets the server finish its response).
 */
import { describe, expect, it } from 'vitest';
import { startHttpService } from '../../../../src/services/http/server.js';
import { B, tcpPair } from '../../l4/tcp/harness.js';

describe('HTTP service and a half-closed client', () => {
  it('answers POST /sha256 whose body arrives together with the client FIN', async () => {
    const p = tcpPair();
    startHttpService(p.b);
    const client = p.a.tcp.connect({ host: B, port: 80, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let ended = false;
    client.on('data', (d: Buffer) => chunks.push(d));
    client.on('end', () => (ended = true));
    client.end('POST /sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    await p.runUntil(() => ended, 10_000);
    const text = Buffer.concat(chunks).toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // sha256("hello")
    expect(text).toContain('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n');
  });
});
