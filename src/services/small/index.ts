/**
 * The RFC "small services" on a node's own TCP and UDP: echo (RFC 862),
 * discard (863), chargen (864), daytime (867) and time (868). Off by
 * default; `tapnet up --small-services echo,chargen` or a router's
 * `smallServices: [echo, chargen]` in a lab file turns them on.
 *
 * Each service is one short file; this one listens for them. A connection
 * where nothing moves either way for SMALL_IDLE_TIMEOUT_MS is closed (a
 * chargen client that stopped reading, an echo client gone quiet).
 */
import type { Server as TcpServer } from '../../l4/tcp/socket.js';
import type { UdpSocket } from '../../l4/udp/udp.js';
import type { Host } from '../../node/host.js';
import { chargenService } from './chargen.js';
import { daytimeService } from './daytime.js';
import { discardService } from './discard.js';
import { echoService } from './echo.js';
import { SMALL_SERVICE_NAMES, type SmallService, type SmallServiceName } from './service.js';
import { timeService } from './time.js';

export { SMALL_SERVICE_NAMES, type SmallServiceName } from './service.js';

/** inetd has no idle limit; tapnet closes a silent or stuck connection after a minute. */
export const SMALL_IDLE_TIMEOUT_MS = 60_000;

export const SMALL_SERVICES: Record<SmallServiceName, SmallService> = {
  echo: echoService,
  discard: discardService,
  chargen: chargenService,
  daytime: daytimeService,
  time: timeService,
};

/** The ports of all small services: a datagram from one of them is never answered (echo ↔ chargen would loop forever). */
const SERVICE_PORTS = new Set(Object.values(SMALL_SERVICES).map((s) => s.port));

/** `echo,discard` or `all` → names; an unknown name is an error naming it. */
export function parseSmallServices(text: string): { ok: true; value: SmallServiceName[] } | { ok: false; error: string } {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'all') return { ok: true, value: [...SMALL_SERVICE_NAMES] };
  const unknown = names.find((n) => !(SMALL_SERVICE_NAMES as readonly string[]).includes(n));
  if (unknown !== undefined || names.length === 0) return { ok: false, error: `${unknown === undefined ? 'empty' : `'${unknown}'`}: expected all, or some of ${SMALL_SERVICE_NAMES.join(', ')}` };
  return { ok: true, value: [...new Set(names)] as SmallServiceName[] };
}

export interface SmallServices {
  readonly names: readonly SmallServiceName[];
  close(): void;
}

export function startSmallServices(host: Host, names: readonly SmallServiceName[]): SmallServices {
  const ctx = host.ctx;
  const servers: TcpServer[] = [];
  const sockets: UdpSocket[] = [];
  for (const name of names) {
    const service = SMALL_SERVICES[name];
    // allowHalfOpen for echo: after the client's FIN, what it sent is still echoed (pipe() ends our side after).
    const server = host.tcp.createServer({ allowHalfOpen: name === 'echo' }, (socket) => {
      ctx.stats.inc('smallTcpConnections');
      socket.on('error', () => socket.destroy());
      socket.setTimeout(SMALL_IDLE_TIMEOUT_MS, () => {
        ctx.stats.inc('smallIdleTimeouts');
        socket.destroy();
      });
      service.serveTcp(socket, ctx);
    });
    server.listen(service.port);
    servers.push(server);
    for (const type of ['udp4', 'udp6'] as const) {
      const socket = host.udp.createSocket(type);
      socket.on('message', (msg, rinfo) => {
        ctx.stats.inc('smallUdpInDatagrams');
        if (SERVICE_PORTS.has(rinfo.port)) return void ctx.stats.inc('smallUdpLoopDrops');
        const reply = service.answerUdp(msg, ctx);
        if (reply === undefined) return;
        socket.send(reply, rinfo.port, rinfo.address, () => {});
        ctx.stats.inc('smallUdpOutDatagrams');
      });
      socket.bind(service.port);
      sockets.push(socket);
    }
  }
  return {
    names,
    close() {
      for (const s of servers) s.close();
      for (const s of sockets) s.close();
    },
  };
}
