/**
 * Time, RFC 868, port 37: "the time in seconds since midnight on January
 * first 1900" as a 32-bit binary number (big-endian, network order); over
 * TCP the server sends it and closes, over UDP it answers any datagram with it.
 *
 * 1970 − 1900 is 2 208 988 800 seconds (RFC 868's own table: "the time
 * 2,208,988,800 corresponds to 00:00 1 Jan 1970 GMT"); the 32-bit count wraps
 * in 2036, and the value sent is taken modulo 2^32, as inetd does.
 */
import type { SmallService } from './service.js';

export const RFC868_EPOCH_OFFSET = 2_208_988_800;

export function timeBytes(date: Date): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, (Math.floor(date.getTime() / 1000) + RFC868_EPOCH_OFFSET) % 2 ** 32);
  return out;
}

export const timeService: SmallService = {
  name: 'time',
  port: 37,
  serveTcp(socket) {
    socket.end(timeBytes(new Date()));
  },
  answerUdp() {
    return timeBytes(new Date());
  },
};
