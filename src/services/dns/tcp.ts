/**
 * DNS over TCP on tapnet's own TCP: the same DnsServer, framed with the
 * 2-byte length prefix, so an answer that was truncated (TC) over UDP comes
 * back whole (`dig +tcp`, or dig's automatic retry after TC).
 *
 * Read first: RFC 1035 §4.2.2 (TCP usage: the two-byte length field), RFC
 * 7766 §6.2.1 (pipelined queries may be answered out of order; servers
 * SHOULD support several per connection), §6.2.3 (idle timeouts: "tens of
 * seconds"), RFC 7828 (edns-tcp-keepalive, not used).
 */
import type { Server as TcpServer, Socket } from '../../l4/tcp/socket.js';
import type { Host } from '../../node/host.js';
import type { DnsServer } from './server.js';

/** RFC 1035 §4.2.2: messages over TCP are at most 65535 bytes (the length field). */
export const DNS_TCP_MAX_MESSAGE = 65_535;
/** RFC 7766 §6.2.3: close idle connections after some seconds (BIND's tcp-idle-timeout is 30 s). */
export const DNS_TCP_IDLE_TIMEOUT_MS = 30_000;
/** Queries answered at once per connection before reading pauses (RFC 7766 §6.2.1.1 pipelining; tapnet's cap). */
export const DNS_TCP_MAX_IN_FLIGHT = 16;

export function listenDnsTcp(host: Host, dns: DnsServer, port = 53): TcpServer {
  // allowHalfOpen: a client may half-close after its last query (RFC 9293 §3.6); the answers still go out.
  const server = host.tcp.createServer({ allowHalfOpen: true }, (socket: Socket) => serveConnection(socket, dns));
  server.listen(port);
  return server;
}

function serveConnection(socket: Socket, dns: DnsServer): void {
  let pending: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  let peerEnded = false;
  socket.setTimeout(DNS_TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const query = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      inFlight++;
      if (inFlight >= DNS_TCP_MAX_IN_FLIGHT) socket.pause();
      const replied = (reply: Uint8Array | undefined): void => {
        inFlight--;
        if (socket.isPaused() && inFlight < DNS_TCP_MAX_IN_FLIGHT) socket.resume();
        if (socket.destroyed || !socket.writable) return;
        if (reply) {
          const frame = Buffer.allocUnsafe(2 + reply.length);
          frame.writeUInt16BE(reply.length, 0);
          frame.set(reply, 2);
          socket.write(frame);
        }
        if (peerEnded && inFlight === 0) socket.end();
      };
      // A local answer is written in the turn its query arrived, so it carries the ACK of the query (delayed ACK,
      // RFC 9293 §3.8.6.3) instead of following a pure ACK; a forwarded one comes when the upstream answers.
      const reply = dns.handle(query, DNS_TCP_MAX_MESSAGE, 'tcp', socket.remoteAddress ?? '');
      if (reply instanceof Promise) void reply.then(replied);
      else replied(reply);
    }
  });
  // The client's FIN: close our side once every query it sent has been answered.
  socket.on('end', () => {
    peerEnded = true;
    if (inFlight === 0) socket.end();
  });
}
