/**
 * Discard, RFC 863, port 9: "Once a connection is established any data
 * received is thrown away. No response is sent." Over UDP: "When a datagram
 * is received, it is thrown away. No response is sent."
 */
import type { SmallService } from './service.js';

export const discardService: SmallService = {
  name: 'discard',
  port: 9,
  serveTcp(socket, ctx) {
    socket.on('data', (chunk: Buffer) => ctx.stats.inc('smallDiscardBytes', chunk.length));
  },
  answerUdp(datagram, ctx) {
    ctx.stats.inc('smallDiscardBytes', datagram.length);
    return undefined;
  },
};
