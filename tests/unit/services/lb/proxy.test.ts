/**
 * The load balancer's proxy and http modes on tapnet TCP over an in-memory
 * link, on a manual clock: host B runs the balancer (VIP 10.0.0.2), host A
 * runs the client and the backends (10.0.0.1 on several ports). Timeouts
 * (504, slowloris, health checks) pass in simulated time.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import type { LbServiceConfig } from '../../../../src/services/lb/config.js';
import { LoadBalancer } from '../../../../src/services/lb/lb.js';
import { A, B, tcpPair, type Pair } from '../../l4/tcp/harness.js';

const A_ADDR = parseIpv4(A)!;
const B_ADDR = parseIpv4(B)!;

/** A web server on host A, port `port`, answering "NAME\n" (or headers as seen, for /headers). */
function backend(p: Pair, name: string, port: number, handler?: (req: IncomingMessage) => 'hang' | undefined): { requests: number } {
  const state = { requests: 0 };
  const http = createServer((req, res) => {
    state.requests++;
    if (handler?.(req) === 'hang') return;
    const body = req.url === '/headers' ? JSON.stringify(req.headers) : `${name}\n`;
    req.resume();
    req.on('end', () => res.end(body));
  });
  p.a.tcp.createServer({ allowHalfOpen: true }, (s: Socket) => http.emit('connection', s)).listen(port);
  return state;
}

function service(overrides: Partial<LbServiceConfig> & { backends: LbServiceConfig['backends'] }): LbServiceConfig {
  return {
    name: 'web',
    vip: B_ADDR,
    port: 80,
    protocol: 'tcp',
    mode: 'http',
    scheduler: 'roundrobin',
    timeouts: { connectMs: 1000, responseMs: 2000, headerMs: 3000, idleMs: 60_000 },
    routes: [],
    ...overrides,
  };
}

const be = (name: string, port: number, weight = 1) => ({ name, address: A_ADDR, port, weight });

/** One HTTP exchange from host A to the VIP: raw request text in, raw response text out (until the server closes or `done`). */
async function exchange(p: Pair, port: number, request: string, done: (text: string) => boolean = (t) => /\r\n\r\n[\s\S]*\n$/.test(t)) {
  const socket = p.a.tcp.connect({ host: B, port, allowHalfOpen: true });
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => (closed = true));
  socket.on('close', () => (closed = true));
  socket.on('end', () => (closed = true));
  socket.write(request);
  await p.runUntil(() => closed || done(text), 30_000);
  socket.destroy();
  return { text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), closed };
}

const get = (path = '/', extra = '') => `GET ${path} HTTP/1.1\r\nHost: www.lab\r\n${extra}\r\n`;

describe('http mode', () => {
  it('round-robins requests and adds X-Forwarded-For and Forwarded', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001);
    backend(p, 'web2', 8002);
    const lb = new LoadBalancer(p.b, [service({ backends: [be('web1', 8001), be('web2', 8002)] })]);
    lb.start();
    const names = [];
    for (let i = 0; i < 4; i++) names.push((await exchange(p, 80, get())).text.split('\r\n\r\n')[1]);
    expect(names).toEqual(['web1\n', 'web2\n', 'web1\n', 'web2\n']);
    const headers = JSON.parse((await exchange(p, 80, get('/headers'), (t) => t.endsWith('}'))).text.split('\r\n\r\n')[1]!) as Record<string, string>;
    expect(headers['x-forwarded-for']).toBe(A);
    expect(headers.forwarded).toBe(`for=${A};host=www.lab;proto=http`);
    expect(lb.rows()[0]!.backends.map((b) => b.total)).toEqual([3, 2]);
  });

  it('routes by Host header and path prefix', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001);
    backend(p, 'api', 8002);
    const lb = new LoadBalancer(p.b, [service({ backends: [be('web1', 8001), be('api', 8002)], routes: [{ host: 'api.lab', backends: ['api'] }, { pathPrefix: '/v2/', backends: ['api'] }] })]);
    lb.start();
    expect((await exchange(p, 80, 'GET / HTTP/1.1\r\nHost: API.lab:80\r\n\r\n')).text).toMatch(/api\n$/);
    expect((await exchange(p, 80, get('/v2/x'))).text).toMatch(/api\n$/);
    expect((await exchange(p, 80, get('/'))).text).toMatch(/web1\n$/);
    expect((await exchange(p, 80, get('/'))).text).toMatch(/api\n$/); // the default pool is every backend
  });

  it('a refused backend: the request is retried on the next; with none left, 503 at once naming why', async () => {
    const p = tcpPair();
    backend(p, 'web2', 8002);
    const lb = new LoadBalancer(p.b, [service({ backends: [be('web1', 8001), be('web2', 8002)] })]);
    lb.start();
    const r = await exchange(p, 80, get());
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/web2\n$/);
    expect(p.ctxB.stats.get('lbRetries')).toBe(1);
    lb.control('remove', 'web', 'web2', undefined);
    const started = p.now();
    const none = await exchange(p, 80, get());
    expect(none.status).toBe(503);
    expect(none.text).toContain('no backend of service web can take the request');
    expect(p.now() - started).toBeLessThan(100);
  });

  it('a backend that accepts and never answers: 504 after the route timeout', async () => {
    const p = tcpPair();
    backend(p, 'slow', 8001, () => 'hang');
    const lb = new LoadBalancer(p.b, [service({ backends: [be('slow', 8001)] })]);
    lb.start();
    const started = p.now();
    const r = await exchange(p, 80, get());
    expect(r.status).toBe(504);
    expect(r.text).toContain('backend slow (10.0.0.1:8001) sent no response within 2000 ms');
    expect(p.now() - started).toBeGreaterThanOrEqual(2000);
    expect(p.ctxB.stats.get('lbHttp504')).toBe(1);
  });

  it('malformed request → 400, headers over 16 KB → 431', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001);
    new LoadBalancer(p.b, [service({ backends: [be('web1', 8001)] })]).start();
    const bad = await exchange(p, 80, 'HELLO THERE\r\n\r\n');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('400 Bad Request');
    const big = await exchange(p, 80, get('/', `X-Big: ${'a'.repeat(17_000)}\r\n`));
    expect(big.status).toBe(431);
    expect(p.ctxB.stats.get('lbHttp431')).toBe(1);
  });

  it('slowloris: headers that trickle in past headerMs get 408 and the connection closed', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001);
    new LoadBalancer(p.b, [service({ backends: [be('web1', 8001)] })]).start();
    const r = await exchange(p, 80, 'GET / HTTP/1.1\r\nHost: www.lab\r\nX-A: 1\r\n', () => false);
    expect(r.status).toBe(408);
    expect(r.closed).toBe(true);
    expect(p.now()).toBeGreaterThanOrEqual(3000);
  });

  it('a client that aborts mid-body takes the backend connection with it: nothing left open', async () => {
    const p = tcpPair();
    let bodyBytes = 0;
    backend(p, 'web1', 8001, (req) => {
      req.on('data', (d: Buffer) => (bodyBytes += d.length));
      return 'hang';
    });
    const lb = new LoadBalancer(p.b, [service({ backends: [be('web1', 8001)], timeouts: { connectMs: 1000, responseMs: 60_000, headerMs: 3000, idleMs: 60_000 } })]);
    lb.start();
    const client = p.a.tcp.connect({ host: B, port: 80 });
    client.write('POST /upload HTTP/1.1\r\nHost: www.lab\r\nContent-Length: 100000\r\n\r\n');
    client.write(Buffer.alloc(20_000));
    await p.runUntil(() => bodyBytes >= 20_000);
    expect(lb.rows()[0]!.backends[0]!.active).toBe(1);
    client.resetAndDestroy();
    await p.runFor(5_000);
    expect(lb.rows()[0]!.backends[0]!.active).toBe(0);
    expect(p.ctxB.stats.get('lbClientAborts')).toBe(1);
    expect(lb.rows()[0]!.backends[0]!.checks).toBe(''); // the client's abort is not held against the backend
    const open = (host: typeof p.a) => host.tcp.show().split('\n').filter((l) => /^(ESTABLISHED|CLOSE_WAIT|FIN_WAIT|SYN)/.test(l));
    expect(open(p.b)).toEqual([]);
    expect(open(p.a)).toEqual([]);
  });
});

describe('proxy mode', () => {
  it('splices bytes both ways; least connections sends new clients past a busy backend', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001, (req) => (req.url === '/slow' ? 'hang' : undefined));
    backend(p, 'web2', 8002);
    const lb = new LoadBalancer(p.b, [service({ mode: 'proxy', scheduler: 'leastconn', backends: [be('web1', 8001), be('web2', 8002)] })]);
    lb.start();
    const slow = p.a.tcp.connect({ host: B, port: 80 });
    slow.write(get('/slow'));
    await p.runUntil(() => lb.rows()[0]!.backends[0]!.active === 1);
    for (let i = 0; i < 3; i++) {
      expect((await exchange(p, 80, get())).text).toMatch(/web2\n$/);
      await p.runFor(100); // its connection closes: web2 is idle again
    }
    slow.destroy();
    await p.runFor(2000);
    expect(lb.rows()[0]!.backends.map((b) => b.active)).toEqual([0, 0]);
    expect(lb.rows()[0]!.backends[1]!.bytesIn).toBeGreaterThan(0);
  });

  it('a client that leaves while the backend connect is pending: nothing counted against it, nothing left active', async () => {
    const p = tcpPair();
    const ghost = { name: 'ghost', address: parseIpv4('10.0.0.99')!, port: 80, weight: 1 }; // never answers ARP
    const lb = new LoadBalancer(p.b, [service({ mode: 'proxy', backends: [ghost] })]);
    lb.start();
    const s = p.a.tcp.connect({ host: B, port: 80 });
    s.on('error', () => {});
    await p.runUntil(() => lb.rows()[0]!.backends[0]!.active === 1);
    s.resetAndDestroy(); // gone (a FIN alone would be a half-close: the proxy keeps waiting for the backend)
    await p.runFor(5000);
    expect(lb.rows()[0]!.backends[0]).toMatchObject({ active: 0, errors: 0, state: 'UP' });
  });

  it('a backend that never answers the connect: timed out, marked down after fall, the client reset', async () => {
    const p = tcpPair();
    const ghost = { name: 'ghost', address: parseIpv4('10.0.0.99')!, port: 80, weight: 1 };
    const lb = new LoadBalancer(p.b, [service({ mode: 'proxy', backends: [ghost] })]);
    lb.start();
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = p.a.tcp.connect({ host: B, port: 80 });
      s.on('error', (e: Error & { code?: string }) => codes.push(e.code ?? ''));
      await p.runUntil(() => codes.length === i + 1, 10_000);
    }
    expect(codes).toEqual(['ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
    expect(lb.rows()[0]!.backends[0]).toMatchObject({ active: 0, state: 'DOWN' });
    expect(lb.rows()[0]!.backends[0]!.lastCheck).toBe('connect timed out');
  });

  it('no backend at all: the client gets a reset at once', async () => {
    const p = tcpPair();
    new LoadBalancer(p.b, [service({ mode: 'proxy', backends: [be('web1', 8001, 0)] })]).start(); // draining
    const s = p.a.tcp.connect({ host: B, port: 80 });
    let error = '';
    s.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
    await p.runUntil(() => error !== '', 1000);
    expect(error).toBe('ECONNRESET');
    expect(p.ctxB.stats.get('lbNoBackend')).toBe(1);
  });
});

describe('health checks', () => {
  it('a backend that stops answering goes DOWN after `fall` checks and comes back after `rise`', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001, (req) => (req.url === '/health' && healthy ? undefined : req.url === '/health' ? 'hang' : undefined));
    let healthy = true;
    const lb = new LoadBalancer(p.b, [service({ backends: [be('web1', 8001)], health: { kind: 'http', path: '/health', intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3 } })]);
    lb.start();
    await p.runFor(2500);
    expect(lb.rows()[0]!.backends[0]!.state).toBe('UP');
    expect(lb.rows()[0]!.backends[0]!.lastCheck).toMatch(/^L7OK 200/);
    healthy = false;
    await p.runFor(2000);
    expect(lb.rows()[0]!.backends[0]!.state).toMatch(/^UP \d\/3$/);
    await p.runFor(1600);
    expect(lb.rows()[0]!.backends[0]!.state).toBe('DOWN');
    expect((await exchange(p, 80, get())).status).toBe(503);
    healthy = true;
    await p.runFor(2600);
    expect(lb.rows()[0]!.backends[0]!.state).toBe('UP');
    expect(p.ctxB.stats.get('lbBackendDown')).toBe(1);
    expect(p.ctxB.stats.get('lbBackendUp')).toBe(1);
    lb.stop();
  });

  it('drain: weight 0 takes no new connections', async () => {
    const p = tcpPair();
    backend(p, 'web1', 8001);
    backend(p, 'web2', 8002);
    const lb = new LoadBalancer(p.b, [service({ backends: [be('web1', 8001), be('web2', 8002)] })]);
    lb.start();
    expect(lb.control('drain', 'web', 'web1', undefined)).toContain('draining');
    for (let i = 0; i < 3; i++) expect((await exchange(p, 80, get())).text).toMatch(/web2\n$/);
    expect(lb.show()).toMatch(/web1 .*DRAIN/);
    lb.control('add', 'web', 'web3', '10.0.0.1:8001,2');
    expect(lb.rows()[0]!.backends.map((b) => `${b.name} ${b.weight}`)).toEqual(['web1 0', 'web2 1', 'web3 2']);
  });
});
