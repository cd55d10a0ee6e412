/**
 * The lab's HTTP/1.1 server, on tapnet's own TCP: Node's `http.Server` (the
 * parser, keep-alive, pipelining, chunking) fed with tapnet sockets through
 * its 'connection' event, exactly as `net.Server` feeds it kernel sockets.
 *
 *   GET  /          a status page: interfaces, ARP, routes, TCP (counts per state, newest connections), counters
 *   GET  /bytes/N   N bytes where byte i is i % 251, with Content-Length
 *   POST /sha256    the lowercase hex SHA-256 of the request body
 *
 * Read first: RFC 9112 (HTTP/1.1 message syntax: persistent connections
 * §9.3, pipelining §9.3.2) and Node's `http.Server` documentation for the
 * timeouts used here.
 *
 * A slow or silent client cannot hold resources forever: headers must arrive
 * within HTTP_HEADERS_TIMEOUT_MS, a whole request within
 * HTTP_REQUEST_TIMEOUT_MS, an idle keep-alive connection is closed after
 * HTTP_KEEPALIVE_TIMEOUT_MS, and any connection with no progress in either
 * direction (a client that stops reading, a zero window held forever) after
 * HTTP_IDLE_TIMEOUT_MS. /bytes responses stream with backpressure, so a slow
 * reader costs at most the TCP send buffer.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as TcpServer, Socket } from '../../l4/tcp/socket.js';
import type { Host } from '../../node/host.js';

/** Node's defaults are 60 s / 300 s / 5 s; a lab server can be stricter. */
export const HTTP_HEADERS_TIMEOUT_MS = 20_000;
export const HTTP_REQUEST_TIMEOUT_MS = 120_000;
export const HTTP_KEEPALIVE_TIMEOUT_MS = 5_000;
/** No bytes moved either way for this long: the connection is dropped (net.Socket setTimeout). */
export const HTTP_IDLE_TIMEOUT_MS = 30_000;
/** Largest /bytes/N: 1 TiB (curl tests use up to a few GiB). */
export const HTTP_MAX_BYTES = 2 ** 40;
/** At most this many requests on one keep-alive connection (Node's maxRequestsPerSocket; 0 = unlimited). */
export const HTTP_MAX_REQUESTS_PER_SOCKET = 0;
/**
 * The status page lists the TCP connections per state and only this many of the newest ones: after an `ab` run
 * thousands sit in TIME-WAIT, and listing them all made the page 144 KB and blocked the event loop (issue 11).
 */
export const STATUS_PAGE_RECENT_CONNECTIONS = 20;

/** One period of the /bytes pattern: 256 × 251 bytes, so every chunk starts at a multiple of 251 and is identical. */
const PATTERN = Buffer.alloc(251 * 256);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i % 251;

export interface HttpServiceOptions {
  readonly port?: number;
  /** The status page body (the lab passes one built from `host.show`). */
  readonly statusPage?: () => string;
}

export interface HttpService {
  readonly http: HttpServer;
  readonly tcp: TcpServer;
  close(): void;
}

export function startHttpService(host: Host, options: HttpServiceOptions = {}): HttpService {
  const statusPage = options.statusPage ?? (() => defaultStatusPage(host));
  const http = createServer(
    {
      headersTimeout: HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: HTTP_KEEPALIVE_TIMEOUT_MS,
      noDelay: true,
    },
    (req, res) => handle(req, res, statusPage),
  );
  http.timeout = HTTP_IDLE_TIMEOUT_MS;
  http.maxRequestsPerSocket = HTTP_MAX_REQUESTS_PER_SOCKET;
  // A client may send its request and then half-close (`nc -N`, shutdown(SHUT_WR)): RFC 9293 §3.6, a FIN closes
  // only the peer's direction. Keep ours open until the response is written (Node's http.Server sets its own
  // net.Server to allowHalfOpen for this); on the peer's FIN, Node marks the response in progress as the last one
  // and ends the socket after it, or ends at once when no request is pending.
  (http as HttpServer & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true; // public but not in @types/node
  const tcp = host.tcp.createServer({ noDelay: true, allowHalfOpen: true }, (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    http.emit('connection', socket);
  });
  tcp.listen(options.port ?? 80);
  return {
    http,
    tcp,
    close: () => {
      tcp.close();
      http.close();
    },
  };
}

function handle(req: IncomingMessage, res: ServerResponse, statusPage: () => string): void {
  const url = req.url ?? '/';
  if ((req.method === 'GET' || req.method === 'HEAD') && url === '/') {
    send(res, 200, statusPage());
    req.resume();
    return;
  }
  const bytes = /^\/bytes\/(\d{1,15})$/.exec(url);
  if (bytes && (req.method === 'GET' || req.method === 'HEAD')) {
    const n = Number(bytes[1]);
    if (n > HTTP_MAX_BYTES) {
      send(res, 413, `at most ${HTTP_MAX_BYTES} bytes\n`);
      return;
    }
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(n) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    streamPattern(res, n);
    return;
  }
  if (req.method === 'POST' && url === '/sha256') {
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => send(res, 200, `${hash.digest('hex')}\n`));
    return;
  }
  req.resume();
  send(res, 404, 'not found: try /, /bytes/N or POST /sha256\n');
}

/** Writes n bytes of the i % 251 pattern, waiting for 'drain' when the socket pushes back. */
function streamPattern(res: ServerResponse, n: number): void {
  let left = n;
  const pump = (): void => {
    while (left > 0) {
      const chunk = left >= PATTERN.length ? PATTERN : PATTERN.subarray(0, left);
      left -= chunk.length;
      if (left === 0) {
        res.end(chunk);
        return;
      }
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function defaultStatusPage(host: Host): string {
  const section = (title: string, body: string): string => `== ${title} ==\n${body}\n`;
  const counters = Object.entries(host.ctx.stats.snapshot())
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k.padEnd(32)} ${v}\n`)
    .join('');
  return (
    'tapnet: a userspace network stack in TypeScript\n\n' +
    section('interfaces', host.show('interfaces')) +
    section('arp', host.show('arp')) +
    section('routes', host.show('routes')) +
    section('tcp', host.tcp.show({ recent: STATUS_PAGE_RECENT_CONNECTIONS })) +
    section('counters (non-zero)', counters)
  );
}
