/**
 * Daytime, RFC 867, port 13: "the current date and time is sent out the
 * connection as a ASCII character string ... the service closes the
 * connection after sending the quote" (TCP); over UDP, the answer to any
 * datagram. "There is no specific syntax for the daytime"; tapnet sends what
 * inetd does, ctime(3)'s form in UTC ("Thu Dec  3 08:30:12 2026\r\n").
 */
import type { SmallService } from './service.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) of `date` in UTC, with inetd's CR LF. */
export function daytimeText(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${time} ${date.getUTCFullYear()}\r\n`;
}

export const daytimeService: SmallService = {
  name: 'daytime',
  port: 13,
  serveTcp(socket) {
    socket.end(daytimeText(new Date()));
  },
  answerUdp() {
    return Buffer.from(daytimeText(new Date()), 'latin1');
  },
};
