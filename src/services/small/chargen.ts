/**
 * Character generator, RFC 864, port 19. Over TCP: "Once a connection is
 * established the server shall send a continual stream of data, until the
 * calling user terminates the connection"; the data is the "popular pattern":
 * lines of 72 of the 95 printing ASCII characters, each line starting one
 * character further along, ended by CR LF. Over UDP: "When a datagram is
 * received, an answering datagram is sent containing a random number
 * (between 0 and 512) of characters" (the datagram received is ignored).
 *
 * The TCP sender writes only while the socket takes more (`write()` true),
 * then waits for 'drain': a client that never reads holds at most the
 * connection's send buffer and one stream buffer, never a growing queue.
 */
import type { SmallService } from './service.js';

export const CHARGEN_LINE_CHARS = 72;
const PRINTABLE = 95; // ' ' (32) .. '~' (126)

/** Line `n` of the pattern: 72 characters from printable character n mod 95, then CR LF. */
export function chargenLine(n: number): Buffer {
  const line = Buffer.alloc(CHARGEN_LINE_CHARS + 2);
  for (let j = 0; j < CHARGEN_LINE_CHARS; j++) line[j] = 32 + ((n + j) % PRINTABLE);
  line[CHARGEN_LINE_CHARS] = 0x0d;
  line[CHARGEN_LINE_CHARS + 1] = 0x0a;
  return line;
}

/** One full period (95 lines): written as one chunk, it starts where the last one ended. */
const PERIOD = Buffer.concat(Array.from({ length: PRINTABLE }, (_, n) => chargenLine(n)));

export const chargenService: SmallService = {
  name: 'chargen',
  port: 19,
  serveTcp(socket, ctx) {
    const pump = (): void => {
      while (!socket.destroyed && socket.writable) {
        ctx.stats.inc('smallChargenBytes', PERIOD.length);
        if (!socket.write(PERIOD)) return void socket.once('drain', pump);
      }
    };
    socket.on('data', () => {}); // what the client sends is ignored (and read, so its window stays open)
    pump();
  },
  answerUdp(_datagram, ctx) {
    const length = Math.floor(ctx.random.float() * 513); // 0..512
    return PERIOD.subarray(0, length);
  },
};
