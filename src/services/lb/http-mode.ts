/**
 * `mode: http`: a reverse proxy, as nginx's `proxy_pass` or HAProxy's `mode
 * http`. Node's `http.Server` parses the client's requests on tapnet
 * sockets (as src/services/http/server.ts does); each request is routed by
 * its Host header and path prefix to a pool of backends, and sent to the
 * chosen backend with Node's `http.request` over a keep-alive pool
 * (`http.Agent`) of tapnet TCP connections: tapnet as the client.
 *
 * Read first: RFC 9110 §7.6 (what an intermediary forwards and what it must
 * not: hop-by-hop fields), RFC 7239 (`Forwarded`), RFC 9112 §9.3 (persistent
 * connections, which the pool keeps open between requests).
 *
 * What the proxy answers itself is in http-errors.ts: 400, 408, 431, 502,
 * 503, 504, each with a body naming the backend and the reason. A request
 * without a body whose backend refuses or resets the connection before any
 * answer is retried once on another backend (nginx `proxy_next_upstream
 * error`); one with a body is not (its bytes are already spent).
 *
 * Slow clients: the headers of each request must arrive within `headerMs`
 * (slowloris), timed on the injected clock; an idle keep-alive connection is
 * closed after HTTP_PROXY_KEEPALIVE_MS. A client that goes away mid-request
 * takes the backend connection with it: it is destroyed, not pooled.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer, type ServerResponse, type ClientRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Server as TcpServer, Socket } from '../../l4/tcp/socket.js';
import type { Backend, Pool } from './backend.js';
import type { LbRouteConfig } from './config.js';
import { describeError } from './health-check.js';
import { HOP_BY_HOP, describeParseError, forwardedElement, proxyErrorResponse, rawErrorResponse, type ProxyFailure } from './http-errors.js';
import type { LbService } from './service.js';

/** Node's default and nginx's `large_client_header_buffers 4 8k` order of magnitude: more is a 431. */
export const HTTP_PROXY_MAX_HEADER_BYTES = 16 * 1024;
/** Idle keep-alive connections from clients are closed after this (nginx keepalive_timeout 75 s; Node 5 s). */
export const HTTP_PROXY_KEEPALIVE_MS = 5_000;
/** Idle pooled connections per backend (nginx: `keepalive 32` per worker in an upstream block; one tapnet process is all the workers). */
export const HTTP_PROXY_POOL_IDLE_MAX = 64;
/** A pooled connection idle this long is closed (nginx `keepalive_timeout` in an upstream block: 60 s). */
export const HTTP_PROXY_POOL_IDLE_MS = 15_000;

export interface HttpProxy {
  readonly http: HttpServer;
  readonly tcp: TcpServer;
  close(): void;
}

export function startHttpProxy(service: LbService, routePools: readonly { route: LbRouteConfig; pool: Pool }[]): HttpProxy {
  const { headerMs } = service.config.timeouts;
  const http = createServer({ maxHeaderSize: HTTP_PROXY_MAX_HEADER_BYTES, requestTimeout: 0, keepAliveTimeout: HTTP_PROXY_KEEPALIVE_MS, noDelay: true }, (req, res) => {
    headerTimer(req.socket as unknown as Socket)?.cancel();
    proxyRequest(service, routePools, req, res);
  });
  http.on('clientError', (e: Error & { code?: string }, socket: Duplex) => clientError(service, e, socket));
  // Node's own headersTimeout runs on wall-clock intervals armed by listen(), which a server fed tapnet sockets
  // never calls: the header deadline is kept here instead, per connection, on the stack's clock.
  const tcp = service.host.tcp.createServer({ noDelay: true, allowHalfOpen: true }, (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    armHeaderTimer(service, socket, headerMs);
    http.emit('connection', socket);
  });
  tcp.listen({ port: service.config.port, host: service.vipText });
  return {
    http,
    tcp,
    close: () => {
      tcp.close();
      http.close();
    },
  };
}

const headerTimers = new WeakMap<Socket, { cancel(): void; rearm(): void }>();

function headerTimer(socket: Socket): { cancel(): void; rearm(): void } | undefined {
  return headerTimers.get(socket);
}

/**
 * The slowloris guard: from the connection (and from the end of each response) the next request's headers
 * have `ms` to arrive. A connection that sent part of a request by then gets 408; a silent one is just closed.
 */
function armHeaderTimer(service: LbService, socket: Socket, ms: number): void {
  let readAtArm = 0;
  const timer = service.ctx.timers.timer(() => {
    if (socket.destroyed) return;
    if (socket.bytesRead > readAtArm) {
      service.ctx.stats.inc('lbHttp408');
      socket.end(rawErrorResponse({ kind: 'headerTimeout', timeoutMs: ms }));
      service.ctx.timers.after(1000, () => socket.destroy());
    } else socket.destroy();
  });
  const rearm = (): void => {
    readAtArm = socket.bytesRead;
    timer.armIn(ms);
  };
  headerTimers.set(socket, { cancel: () => timer.cancel(), rearm });
  socket.once('close', () => timer.cancel());
  rearm();
}

function clientError(service: LbService, e: Error & { code?: string }, socket: Duplex): void {
  if (e.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  let failure: ProxyFailure;
  if (e.code === 'HPE_HEADER_OVERFLOW') {
    service.ctx.stats.inc('lbHttp431');
    failure = { kind: 'headersTooLarge', limit: HTTP_PROXY_MAX_HEADER_BYTES };
  } else {
    service.ctx.stats.inc('lbHttp400');
    failure = { kind: 'badRequest', detail: describeParseError(e.code) };
  }
  socket.end(rawErrorResponse(failure));
}

function routeFor(routePools: readonly { route: LbRouteConfig; pool: Pool }[], host: string | undefined, path: string): { route?: LbRouteConfig; pool?: Pool } {
  const name = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  for (const r of routePools) {
    if (r.route.host !== undefined && r.route.host !== name) continue;
    if (r.route.pathPrefix !== undefined && !path.startsWith(r.route.pathPrefix)) continue;
    return r;
  }
  return {};
}

/** Whether a failed request may go to another backend: no body, so nothing was consumed. */
function hasNoBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
}

/** The request's fields as the backend gets them: hop-by-hop ones dropped, X-Forwarded-* and Forwarded added. */
function forwardHeaders(req: IncomingMessage, client: string): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  const named = new Set((req.headers.connection ?? '').split(',').map((t) => t.trim().toLowerCase()));
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && !named.has(k)) headers[k] = v;
  const xff = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = xff ? `${xff}, ${client}` : client;
  headers['x-forwarded-proto'] = 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  const element = forwardedElement(client, req.headers.host, 'http');
  headers.forwarded = req.headers.forwarded ? `${req.headers.forwarded}, ${element}` : element;
  return headers;
}

/** One client request on its way through the proxy: what every attempt on a backend shares. */
interface Exchange {
  readonly service: LbService;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly client: string;
  readonly pool: Pool;
  readonly responseMs: number;
  readonly headers: IncomingHttpHeaders;
  /** No body: a failed attempt may go to another backend. */
  readonly retryable: boolean;
  readonly tried: Set<Backend>;
  upstream: ClientRequest | undefined;
  /** A response (the backend's or the proxy's own) has started. */
  answered: boolean;
  /** The client went away: the upstream request is destroyed by us, not failed by the backend. */
  clientGone: boolean;
}

function proxyRequest(service: LbService, routePools: readonly { route: LbRouteConfig; pool: Pool }[], req: IncomingMessage, res: ServerResponse): void {
  service.ctx.stats.inc('lbHttpRequests');
  const client = req.socket.remoteAddress ?? '';
  res.once('finish', () => headerTimer(req.socket as unknown as Socket)?.rearm());
  const matched = routeFor(routePools, req.headers.host, req.url ?? '/');
  const x: Exchange = {
    service,
    req,
    res,
    client,
    pool: matched.pool ?? service.defaultPool,
    responseMs: matched.route?.responseMs ?? service.config.timeouts.responseMs,
    headers: forwardHeaders(req, client),
    retryable: hasNoBody(req),
    tried: new Set(),
    upstream: undefined,
    answered: false,
    clientGone: false,
  };
  // The client left before its response was complete: the backend's connection goes too (never back to the pool).
  res.once('close', () => {
    if (res.writableFinished) return;
    service.ctx.stats.inc('lbClientAborts');
    x.clientGone = true;
    x.upstream?.destroy();
  });
  attempt(x);
}

/** The proxy's own answer (http-errors.ts), unless a response has started. */
function fail(x: Exchange, failure: ProxyFailure): void {
  if (x.answered) return;
  x.answered = true;
  const r = proxyErrorResponse(failure);
  x.service.ctx.stats.inc(`lbHttp${r.status}` as 'lbHttp502');
  if (x.res.headersSent) {
    x.res.destroy();
    return;
  }
  x.res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(r.body)) });
  x.res.end(r.body);
  x.req.resume();
}

/** Sends the request to the next backend of the pool; on a failure before any answer, maybe to another. */
function attempt(x: Exchange): void {
  const { service, req, res } = x;
  const backend = service.pick(x.pool, x.client, x.tried);
  if (!backend) {
    service.noBackend(x.pool);
    return fail(x, { kind: 'noBackend', service: service.config.name, why: x.pool.describeUnavailable() });
  }
  if (x.tried.size > 0) service.ctx.stats.inc('lbRetries');
  x.tried.add(backend);
  service.scheduled(backend);
  let connected = false;
  let done = false;
  const release = (): void => {
    if (done) return;
    done = true;
    backend.active--;
  };
  const request = httpRequest({ agent: (backend.agent ??= backendAgent(service)), host: backend.addressText, port: backend.port, method: req.method, path: req.url, headers: x.headers, setHost: false });
  x.upstream = request;
  const timer = service.ctx.timers.after(x.responseMs, () => {
    request.destroy();
    release();
    backend.errors++;
    fail(x, { kind: 'backendTimeout', backend: backend.name, endpoint: backend.endpoint, timeoutMs: x.responseMs });
  });
  request.on('socket', (s) => {
    const tcp = s as unknown as Socket;
    if (!tcp.connecting) connected = true;
    else tcp.once('connect', () => (connected = true));
  });
  request.on('error', (e: Error & { code?: string }) => {
    timer.cancel();
    if (done) return;
    release();
    if (x.answered || x.clientGone) return; // our own destroy: not the backend's fault
    const detail = describeError(e);
    if (!connected) service.connectFailed(backend, detail);
    else service.backendFailed(backend, detail);
    if (res.headersSent) return void res.destroy();
    if (x.retryable && !res.destroyed) return attempt(x);
    fail(x, { kind: 'backendError', backend: backend.name, endpoint: backend.endpoint, detail });
  });
  request.on('response', (upstreamRes) => {
    timer.cancel();
    x.answered = true;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstreamRes.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, out);
    upstreamRes.on('data', (d: Buffer) => (backend.bytesOut += d.length));
    upstreamRes.pipe(res);
    upstreamRes.once('end', release);
    upstreamRes.once('close', release);
  });
  if (x.retryable) {
    request.end();
    req.resume();
  } else {
    req.on('data', (d: Buffer) => (backend.bytesIn += d.length));
    req.pipe(request);
  }
}

/** A keep-alive pool of tapnet connections to one backend. */
export function backendAgent(service: LbService): Agent {
  const agent = new Agent({ keepAlive: true, maxFreeSockets: HTTP_PROXY_POOL_IDLE_MAX, scheduling: 'lifo', timeout: HTTP_PROXY_POOL_IDLE_MS });
  // Agent.createConnection is how http.Agent makes its sockets; here they are tapnet's (src/l4/tcp/socket.ts).
  (agent as unknown as { createConnection: (o: { host: string; port: number }) => Socket }).createConnection = (o) => {
    const socket = service.host.tcp.connect({ host: o.host, port: o.port, noDelay: true });
    const timer = service.ctx.timers.after(service.config.timeouts.connectMs, () => {
      if (socket.connecting) socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    });
    socket.once('connect', () => timer.cancel());
    socket.once('close', () => timer.cancel());
    return socket;
  };
  return agent;
}
