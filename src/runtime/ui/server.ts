/**
 * `tapnet ui`: the browser view's HTTP + WebSocket server, inside the process
 * that owns the packets (`tapnet up --ui`, `tapnet lab up --ui`, or started
 * later through the control socket by `tapnet ui`).
 *
 * Read-only by construction: the page and its WebSocket can choose what to
 * watch (a link, a node, a filter, pause, which packet to decode) and nothing
 * else; no message reaches a lab's control commands. A message that does not
 * parse, or names no known request, is ignored and counted (uiWsMalformed).
 * A slow browser never holds up packet processing: packets wait for a client
 * in a bounded queue (oldest dropped, counted, and shown as "N packets
 * skipped"), and nothing is written to a socket whose buffer is already full.
 *
 * Serves on 127.0.0.1 unless told otherwise; any other address needs a token
 * (cli.ts refuses it without), which every request must carry (?token=).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Stats } from '../../core/stats.js';
import { walkWatch } from '../../core/trace.js';
import { decodeFrame } from './decode.js';
import { matchFilter, parseFilter, type FilterNode } from './filter.js';
import { Monitor, type CapturedPacket } from './monitor.js';
import { UI_COUNTERS } from './counters.js';

/** What the view shows of a running lab or `tapnet up`. */
export interface UiTopology {
  readonly name: string;
  readonly nodes: readonly { name: string; kind: string; interfaces: readonly { name: string; addresses: readonly string[] }[] }[];
  /** Ends "node:port"; `watch` is the observed end whose frames stand for the link's. */
  readonly links: readonly { a: string; b: string; watch?: string }[];
}

export interface UiModel {
  readonly topology: UiTopology;
  /** The JSON tables of a tapnet node (the ones `tapnet show --json` prints), by table name. */
  tables(node: string): Record<string, unknown>;
  /** Where the view's own counters go. */
  readonly stats: Stats;
}

export interface UiOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
}

/**
 * The one way `tapnet up` and `tapnet lab up` start their browser view, at
 * start-up (`--ui`) or later (`tapnet ui` over the control socket): the first
 * call builds the model and listens, every later one (also one that comes
 * while the first is still starting) answers the same URL. The server's close
 * goes into `cleanup` with the rest of the lab.
 */
export function uiStarter(model: () => UiModel, log: Logger, cleanup: Array<() => void>): (options: UiOptions) => Promise<string> {
  let started: Promise<string> | undefined;
  return (options) => {
    started ??= (async () => {
      const server = new UiServer(model(), options);
      try {
        const url = await server.listen();
        cleanup.push(() => server.close());
        log.info({ ui: url }, `browser view on ${url}`);
        return url;
      } catch (e) {
        server.close();
        started = undefined;
        throw e;
      }
    })();
    return started;
  };
}

/** The view's own counters out of STATS (all of a `tapnet up` node's, or a lab's), for the page. */
export function uiCounters(stats: Stats): Record<string, number> {
  return Object.fromEntries(UI_COUNTERS.map((name) => [name, stats.get(name)]));
}

/** Packets waiting for one browser; beyond this the oldest go (uiPacketsSkipped). */
export const CLIENT_QUEUE_MAX = 2000;
/** Nothing more is written to a browser whose socket holds this much unsent. */
export const CLIENT_BUFFER_MAX = 1 << 20;
/** A browser message larger than this is refused by the WebSocket layer. */
export const MESSAGE_MAX_BYTES = 4096;
/** How often queued packets, rates and tables go out. */
const PACKET_TICK_MS = 200;
const TABLE_TICK_MS = 1000;

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page');
const SRC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAGE_FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

type Scope = { kind: 'all' } | { kind: 'points'; points: Set<string> };

export class Client {
  scope: Scope = { kind: 'all' };
  filter: FilterNode = { op: 'all' };
  paused = false;
  tablesOf: string | undefined;
  queue: CapturedPacket[] = [];
  skipped = 0;
  constructor(readonly ws: WebSocket) {}
}

/** A browser request: the only things the page may ask. */
export type UiRequest =
  | { type: 'view'; scope: string; filter: string }
  | { type: 'pause'; paused: boolean }
  | { type: 'select'; id: number }
  | { type: 'tables'; node: string };

/** Parses one WebSocket message; undefined for anything that is not exactly a known request. */
export function parseUiRequest(data: unknown): UiRequest | undefined {
  let m: unknown;
  try {
    m = JSON.parse(String(data));
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return undefined;
  const r = m as Record<string, unknown>;
  switch (r.type) {
    case 'view':
      return typeof r.scope === 'string' && typeof r.filter === 'string' && r.scope.length <= 256 ? { type: 'view', scope: r.scope, filter: r.filter } : undefined;
    case 'pause':
      return typeof r.paused === 'boolean' ? { type: 'pause', paused: r.paused } : undefined;
    case 'select':
      return Number.isSafeInteger(r.id) && (r.id as number) > 0 ? { type: 'select', id: r.id as number } : undefined;
    case 'tables':
      return typeof r.node === 'string' && r.node.length <= 64 ? { type: 'tables', node: r.node } : undefined;
    default:
      return undefined;
  }
}

export class UiServer {
  readonly monitor = new Monitor();
  private readonly clients = new Set<Client>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastPoints = new Map<string, { packets: number; bytes: number }>();
  private lastRateAt = Date.now();
  url = '';

  constructor(
    private readonly model: UiModel,
    private readonly options: UiOptions,
  ) {
    model.stats.declare(...UI_COUNTERS);
    this.monitor.onPacket = (p) => this.queue(p);
    this.http = createServer((req, res) => this.serveHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MESSAGE_MAX_BYTES });
    this.http.on('upgrade', (req, socket, head) => {
      if (!this.authorized(req) || new URL(req.url ?? '/', 'http://x').pathname !== '/ws') {
        this.model.stats.inc('uiHttpRefused');
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolvePromise, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port, this.options.host, () => resolvePromise());
    });
    const address = this.http.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    this.url = `http://${host}:${port}/${this.options.token ? `?token=${encodeURIComponent(this.options.token)}` : ''}`;
    this.timers.push(setInterval(() => this.flushPackets(), PACKET_TICK_MS), setInterval(() => this.sendPeriodic(), TABLE_TICK_MS));
    for (const t of this.timers) t.unref();
    return this.url;
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    walkWatch.attach(undefined);
    this.wss.close();
    this.http.close();
  }

  private authorized(req: IncomingMessage): boolean {
    const token = this.options.token;
    if (token === undefined) return true;
    const given = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private serveHttp(req: IncomingMessage, res: ServerResponse): void {
    const send = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'read-only\n');
    if (!this.authorized(req)) {
      this.model.stats.inc('uiHttpRefused');
      return send(403, 'text/plain', 'token required\n');
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const page = PAGE_FILES[path];
    if (page) return send(200, page[1], readFileSync(join(PAGE_DIR, page[0])));
    if (path.startsWith('/src/')) {
      const file = sourceFile(decodeURIComponent(path.slice('/src/'.length)));
      if (file) return send(200, 'text/plain; charset=utf-8', readFileSync(file));
    }
    send(404, 'text/plain', 'not found\n');
  }

  /** A browser connected: recording starts (walkWatch.on) with the first, and stops with the last. */
  connected(ws: WebSocket): Client {
    const client = new Client(ws);
    this.clients.add(client);
    this.model.stats.inc('uiConnections');
    walkWatch.attach(this.monitor);
    ws.on('message', (data) => this.received(client, data));
    ws.on('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) walkWatch.attach(undefined);
    });
    ws.on('error', () => ws.terminate());
    this.send(client, { type: 'topology', topology: this.model.topology });
    return client;
  }

  /** Handles one browser message; malformed ones are counted and otherwise ignored. */
  received(client: Client, data: unknown): void {
    const request = parseUiRequest(data);
    if (!request) {
      this.model.stats.inc('uiWsMalformed');
      this.send(client, { type: 'malformed', count: this.model.stats.get('uiWsMalformed') });
      return;
    }
    switch (request.type) {
      case 'view': {
        const f = parseFilter(request.filter);
        if (!f.ok) {
          this.send(client, { type: 'filterError', error: f.error, offset: f.offset });
          return;
        }
        client.filter = f.filter;
        client.scope = this.scopeOf(request.scope);
        client.queue = [];
        this.send(client, { type: 'filterOk' });
        return;
      }
      case 'pause':
        client.paused = request.paused;
        return;
      case 'select': {
        const p = this.monitor.get(request.id);
        if (!p) return this.send(client, { type: 'packet', id: request.id, gone: true });
        const decoded = decodeFrame(p.bytes);
        this.send(client, { type: 'packet', ...listEntry(p), layers: decoded.layers, hex: Buffer.from(p.bytes).toString('hex'), walk: p.walk ?? [], sent: this.sentBy(p.id) });
        return;
      }
      case 'tables':
        client.tablesOf = request.node;
        this.sendTables(client);
        return;
    }
  }

  /** `all`, `link:N` (the link's watched end), or `node:NAME` (its observed interfaces). */
  private scopeOf(scope: string): Scope {
    const topology = this.model.topology;
    if (scope.startsWith('link:')) {
      const link = topology.links[Number(scope.slice(5))];
      return { kind: 'points', points: new Set(link?.watch ? [link.watch] : []) };
    }
    if (scope.startsWith('node:')) {
      const name = scope.slice(5);
      const points = new Set<string>();
      for (const l of topology.links) for (const end of [l.a, l.b]) if (end.startsWith(`${name}:`)) points.add(end);
      return { kind: 'points', points };
    }
    return { kind: 'all' };
  }

  private sentBy(id: number): number[] {
    const out: number[] = [];
    const p = this.monitor.get(id);
    for (const s of p?.walk ?? []) if (s.packet !== undefined) out.push(s.packet);
    return out;
  }

  private queue(p: CapturedPacket): void {
    for (const c of this.clients) {
      if (c.paused) continue;
      if (c.scope.kind === 'points' && !c.scope.points.has(p.point)) continue;
      if (c.scope.kind === 'all' && !this.isWatchedPoint(p.point)) continue;
      if (!matchFilter(c.filter, p.summary)) continue;
      if (c.queue.length >= CLIENT_QUEUE_MAX) {
        c.queue.shift();
        c.skipped++;
        this.model.stats.inc('uiPacketsSkipped');
      }
      c.queue.push(p);
    }
  }

  /** In the "all links" view each link shows once: frames at its watched end. */
  private isWatchedPoint(point: string): boolean {
    return this.model.topology.links.some((l) => l.watch === point);
  }

  private flushPackets(): void {
    for (const c of this.clients) {
      if (c.queue.length === 0 || c.ws.bufferedAmount > CLIENT_BUFFER_MAX) continue;
      const list = c.queue.map(listEntry);
      c.queue = [];
      this.send(c, { type: 'packets', list, skipped: c.skipped });
    }
  }

  private sendPeriodic(): void {
    if (this.clients.size === 0) return;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.lastRateAt) / 1000);
    const rates: Record<string, { pps: number; bps: number; packets: number; bytes: number }> = {};
    for (const [point, c] of this.monitor.points) {
      const last = this.lastPoints.get(point) ?? { packets: 0, bytes: 0 };
      rates[point] = { pps: (c.packets - last.packets) / seconds, bps: ((c.bytes - last.bytes) * 8) / seconds, packets: c.packets, bytes: c.bytes };
      this.lastPoints.set(point, { ...c });
    }
    this.lastRateAt = now;
    for (const c of this.clients) {
      this.send(c, { type: 'rates', rates, malformed: this.model.stats.get('uiWsMalformed'), counters: uiCounters(this.model.stats) });
      this.sendTables(c);
    }
  }

  private sendTables(c: Client): void {
    if (c.tablesOf === undefined) return;
    let tables: Record<string, unknown>;
    try {
      tables = this.model.tables(c.tablesOf);
    } catch (e) {
      tables = { error: (e as Error).message };
    }
    this.send(c, { type: 'tables', node: c.tablesOf, tables, time: Date.now() });
  }

  private send(c: { ws: WebSocket }, message: unknown): void {
    if (c.ws.readyState !== c.ws.OPEN || c.ws.bufferedAmount > CLIENT_BUFFER_MAX) return;
    c.ws.send(JSON.stringify(message));
  }
}

function listEntry(p: CapturedPacket): Record<string, unknown> {
  return { id: p.id, time: p.time, point: p.point, direction: p.direction, length: p.length, cause: p.cause, ...p.summary, walked: p.walk !== undefined };
}

/** A file under src/ (after resolving links), or undefined: the source pane reads nothing else. */
export function sourceFile(path: string): string | undefined {
  if (!/^[A-Za-z0-9_./-]+\.(ts|js|html|css)$/.test(path) || path.includes('..')) return undefined;
  try {
    const file = realpathSync(resolve(SRC_DIR, path));
    const inside = relative(realpathSync(SRC_DIR), file);
    if (inside.startsWith('..') || inside.startsWith(sep) || !statSync(file).isFile()) return undefined;
    return file;
  } catch {
    return undefined;
  }
}
