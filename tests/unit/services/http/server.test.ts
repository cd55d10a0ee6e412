/**
 * The HTTP service on tapnet's TCP over the in-memory link: a tapnet client
 * speaks raw HTTP/1.1 to it (keep-alive, pipelining, uploads), on a manual
 * clock, and a silent client is dropped after the idle timeout.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HTTP_IDLE_TIMEOUT_MS, startHttpService } from '../../../../src/services/http/server.js';
import { B, pattern, tcpPair } from '../../l4/tcp/harness.js';

function setup() {
  const p = tcpPair();
  const service = startHttpService(p.b);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  const text = (): string => Buffer.concat(chunks).toString('latin1');
  return { ...p, service, client, chunks, text };
}

/** Splits a byte stream into HTTP responses with Content-Length bodies. */
function responses(raw: Buffer): { status: number; headers: Record<string, string>; body: Buffer }[] {
  const out: { status: number; headers: Record<string, string>; body: Buffer }[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = raw.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (end + 4 + length > raw.length) break;
    out.push({ status, headers, body: raw.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return out;
}

describe('HTTP service on tapnet TCP', () => {
  it('serves the status page, /bytes/N and POST /sha256 on one keep-alive connection', async () => {
    const t = setup();
    t.client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.runUntil(() => responses(Buffer.concat(t.chunks)).length === 1);
    const page = responses(Buffer.concat(t.chunks))[0]!;
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('== interfaces ==');
    expect(page.body.toString()).toContain('b0');
    expect(page.body.toString()).toContain('ESTABLISHED');

    const n = 1_000_003;
    t.client.write(`GET /bytes/${n} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await t.runUntil(() => responses(Buffer.concat(t.chunks)).length === 2);
    const bytes = responses(Buffer.concat(t.chunks))[1]!;
    expect(bytes.headers['content-length']).toBe(String(n));
    expect(bytes.body.equals(pattern(n))).toBe(true);

    const body = pattern(300_000, 3);
    t.client.write(`POST /sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    t.client.write(body);
    await t.runUntil(() => responses(Buffer.concat(t.chunks)).length === 3);
    expect(responses(Buffer.concat(t.chunks))[2]!.body.toString()).toBe(`${createHash('sha256').update(body).digest('hex')}\n`);
    expect(t.service.tcp.connectionCount).toBe(1);
  });

  it('answers pipelined requests in order', async () => {
    const t = setup();
    t.client.write('GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/20 HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.runUntil(() => responses(Buffer.concat(t.chunks)).length === 3);
    const r = responses(Buffer.concat(t.chunks));
    const notFound = 'not found: try /, /bytes/N or POST /sha256\n';
    expect(r.map((x) => [x.status, x.body.length])).toEqual([
      [200, 10],
      [200, 20],
      [404, Buffer.byteLength(notFound)],
    ]);
    expect(r[2]!.body.toString()).toBe(notFound);
  });

  it('drops a client that connects and says nothing, after the idle timeout', async () => {
    const t = setup();
    let closed = false;
    t.client.on('end', () => (closed = true));
    t.client.on('close', () => (closed = true));
    const start = t.now();
    await t.runUntil(() => closed, HTTP_IDLE_TIMEOUT_MS * 2);
    expect(t.now() - start).toBeGreaterThanOrEqual(HTTP_IDLE_TIMEOUT_MS);
  });

  it('a client that stops reading a large response is dropped; the orphan gives up its zero window', async () => {
    const t = setup();
    t.client.pause();
    t.client.on('error', () => {});
    t.client.write('GET /bytes/100000000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.runUntil(() => t.b.tcp.layer.connectionCount === 1);
    await t.runUntil(() => t.b.tcp.layer.connectionCount === 0, 30 * 60_000);
    // A window's worth arrives (a reader that never reads keeps the initial 128 KiB receive buffer, tcp_rmem[1]),
    // then nothing: 30 s idle, then at most 8 probes (backing off to 120 s).
    expect(t.client.readableLength).toBeGreaterThan(64 * 1024);
    expect(t.client.readableLength).toBeLessThanOrEqual(128 * 1024);
    expect(t.b.ctx.stats.get('TcpExtTCPWinProbe')).toBeGreaterThan(0);
  });
});
