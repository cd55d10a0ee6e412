/**
 * `mode: proxy`: a full TCP proxy, as HAProxy's `mode tcp` or nginx's
 * `stream` module. tapnet's TCP accepts the client's connection on the VIP,
 * opens its own connection to the chosen backend (tapnet as a TCP client),
 * and splices the two: bytes read on one side are written on the other, with
 * backpressure both ways (a slow reader stops the reads on the other side:
 * `pipe` pauses the source while the destination's buffer is full, and a
 * paused tapnet socket shrinks its receive window).
 *
 * Compared with nat mode, the backend sees a connection from the load
 * balancer, not from the client, and the two TCP connections are separate:
 * their own handshakes, windows, retransmissions. A FIN from one side is
 * passed on as a FIN (half-close), a reset as a reset.
 *
 * A backend that refuses or does not answer within `connectMs` is counted
 * against its health (passive observation) and the connection is given to
 * another backend; with none left, the client gets a reset at once.
 */
import type { Server, Socket } from '../../l4/tcp/socket.js';
import type { Backend } from './backend.js';
import { describeError } from './health-check.js';
import type { LbService } from './service.js';

/** Backends tried per client connection before giving up (HAProxy `retries 3`, each on another server with `option redispatch`). */
export const PROXY_CONNECT_ATTEMPTS = 3;

export function startTcpProxy(service: LbService): Server {
  const server = service.host.tcp.createServer({ allowHalfOpen: true, noDelay: true }, (client) => acceptClient(service, client));
  server.listen({ port: service.config.port, host: service.vipText });
  return server;
}

function acceptClient(service: LbService, client: Socket): void {
  const tried = new Set<Backend>();
  const clientAddress = client.remoteAddress ?? '';
  let upstream: Socket | undefined;
  // Until the backend answers, the client's bytes wait in its socket (and its window closes).
  client.pause();
  client.on('error', () => {}); // a reset from the client: the close handler below tears down the other side
  client.once('close', () => {
    if (upstream && !upstream.destroyed) upstream.destroy();
  });

  const attempt = (): void => {
    if (client.destroyed) return;
    const backend = service.pick(service.defaultPool, clientAddress, tried);
    if (!backend) {
      service.noBackend(service.defaultPool);
      client.resetAndDestroy();
      return;
    }
    if (tried.size > 0) service.ctx.stats.inc('lbRetries');
    tried.add(backend);
    service.scheduled(backend);
    const socket = service.host.tcp.connect({ host: backend.addressText, port: backend.port, allowHalfOpen: true, noDelay: true });
    upstream = socket;
    const timer = service.ctx.timers.after(service.config.timeouts.connectMs, () => socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
    // Until connected, the attempt ends once: connected, failed (try the next backend), or closed because the
    // client went away first (nobody to blame).
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      timer.cancel();
      return true;
    };
    socket.once('error', (e: Error & { code?: string }) => {
      if (!settle()) return;
      backend.active--;
      if (client.destroyed) return;
      service.connectFailed(backend, describeError(e));
      attempt();
    });
    socket.once('close', () => {
      if (settle()) backend.active--;
    });
    socket.once('connect', () => {
      if (!settle()) return;
      splice(service, backend, client, socket);
    });
  };
  attempt();
}

/** Both directions, with backpressure, half-close and resets passed on; counts bytes and the end of the connection. */
function splice(service: LbService, backend: Backend, client: Socket, upstream: Socket): void {
  let closed = 0;
  const onClose = (): void => {
    if (++closed < 2) return;
    backend.active--;
    backend.bytesIn += client.bytesRead;
    backend.bytesOut += upstream.bytesRead;
  };
  client.once('close', onClose);
  upstream.once('close', onClose);
  // A reset on one side is a reset on the other (HAProxy does the same with `option nolinger` semantics).
  client.on('error', () => upstream.resetAndDestroy());
  upstream.on('error', (e: Error & { code?: string }) => {
    service.backendFailed(backend, describeError(e));
    client.resetAndDestroy();
  });
  const idle = service.config.timeouts.idleMs;
  const onIdle = (): void => {
    service.ctx.stats.inc('lbIdleTimeouts');
    client.destroy();
    upstream.destroy();
  };
  client.setTimeout(idle, onIdle);
  upstream.setTimeout(idle, onIdle);
  // pipe(): write what was read, pause the reader while the writer's buffer is full, end() the writer on FIN.
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}
