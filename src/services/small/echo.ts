/**
 * Echo, RFC 862, port 7: "Once a connection is established any data received
 * is sent back. This continues until the calling user terminates the
 * connection." Over UDP: "When a datagram is received, the data from it is
 * sent back in an answering datagram."
 *
 * pipe() carries TCP backpressure: a client that sends but never reads fills
 * our send buffer, then pipe() stops reading, then our receive window closes.
 */
import type { SmallService } from './service.js';

export const echoService: SmallService = {
  name: 'echo',
  port: 7,
  serveTcp(socket, ctx) {
    socket.on('data', (chunk: Buffer) => ctx.stats.inc('smallEchoBytes', chunk.length));
    socket.pipe(socket);
  },
  answerUdp(datagram, ctx) {
    ctx.stats.inc('smallEchoBytes', datagram.length);
    return datagram;
  },
};
