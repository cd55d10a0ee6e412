/**
 * Discard, RFC 863, port 9: "Once a connection is established any data
 * received is thrown away. No response is sent." Over UDP: "When a datagram
 * is received, it is thrown away. No response is sent."
 *
 * Over TCP the bytes are only counted, straight from the frames they arrived
 * in (Socket.consume): nothing is copied or buffered for a stream reader.
 */
import type { SmallService } from './service.js';

export const discardService: SmallService = {
  name: 'discard',
  port: 9,
  serveTcp(socket, ctx) {
    socket.consume((data) => ctx.stats.inc('smallDiscardBytes', data.length));
  },
  answerUdp(datagram, ctx) {
    ctx.stats.inc('smallDiscardBytes', datagram.length);
    return undefined;
  },
};
