/**
 * The control socket: how `tapnet show stats` and friends talk to a running
 * `tapnet up`. One Unix socket per TAP under the run directory; requests and
 * replies are single JSON lines.
 */
import { createServer, createConnection, type Server } from 'node:net';
import { mkdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_DIR = process.env.TAPNET_RUN_DIR ?? '/run/tapnet';

export function controlSocketPath(tapName: string): string {
  return join(RUN_DIR, `${tapName}.sock`);
}

export interface ControlRequest {
  readonly command: string;
  readonly args?: readonly string[];
}

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: string };

export type ControlHandler = (request: ControlRequest) => Promise<unknown> | unknown;

/** Sends one request; resolves with the reply, or rejects when nobody listens. */
export function controlRequest(path: string, request: ControlRequest, timeoutMs = 10_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        socket.end();
        try {
          resolve(JSON.parse(data.slice(0, nl)) as ControlReply);
        } catch (e) {
          reject(new Error(`bad reply from ${path}: ${(e as Error).message}`));
        }
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** True when a live tapnet answers on `path` (a stale socket file does not count). */
export async function controlSocketAlive(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  try {
    const reply = await controlRequest(path, { command: 'ping-control' }, 2000);
    return reply.ok;
  } catch {
    return false;
  }
}

export async function startControlServer(path: string, handler: ControlHandler): Promise<Server> {
  mkdirSync(RUN_DIR, { recursive: true });
  if (existsSync(path)) rmSync(path); // stale: the caller checked liveness first
  const server = createServer((socket) => {
    let data = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', async (chunk: string) => {
      data += chunk;
      if (data.length > 65536) return socket.destroy();
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      let reply: ControlReply;
      try {
        const request = JSON.parse(data.slice(0, nl)) as ControlRequest;
        reply = request.command === 'ping-control' ? { ok: true, result: 'pong' } : { ok: true, result: await handler(request) };
      } catch (e) {
        reply = { ok: false, error: (e as Error).message };
      }
      socket.end(JSON.stringify(reply) + '\n');
    });
  });
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return server;
}
