/**
 * SYN cookies: answering a SYN without keeping state, when the SYN backlog is
 * full (a SYN flood).
 *
 * Read first: RFC 4987 §3.6 "SYN Cookies", then Linux net/ipv4/syncookies.c,
 * whose layout this follows:
 *
 *   cookie = H1(conn-id) + SEG.SEQ(client ISN) + (count << 24)
 *            + ((H2(conn-id, count) + data) & 0xffffff)
 *
 * `count` is a minute counter, so a cookie is good for MAX_SYNCOOKIE_AGE
 * minutes; `data` is the index of the peer's MSS in MSS_TABLE. The cookie is
 * our ISN; the ACK that completes the handshake carries it back as
 * SEG.ACK - 1, and the client ISN as SEG.SEQ - 1.
 *
 * Window scale and SACK-permitted from the SYN would be lost; like Linux
 * (cookie_init_timestamp) we keep them in the low 6 bits of our SYN-ACK's
 * TSval, which the client echoes in TSecr, when the client sent timestamps.
 */
import type { Clock } from '../../core/time.js';
import type { IsnGenerator } from './isn.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { seq, type SeqNum } from './seq.js';

const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Linux MAX_SYNCOOKIE_AGE: a cookie older than 2 minutes is refused. */
export const MAX_SYNCOOKIE_AGE_MINUTES = 2;
/** MSS values a cookie can say (Linux msstab plus jumbo sizes, one per 3-bit index). */
export const MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460, 4312, 8960, 16344, 65483];

/** Low 6 bits of TSval in a cookie SYN-ACK (Linux TSBITS / TS_OPT_*). */
const TS_BITS = 6;
const TS_OPT_WSCALE_MASK = 0x0f;
const TS_OPT_SACK = 0x10;

export interface CookieOptions {
  readonly mss: number;
  /** Peer's window scale, or undefined when it did not offer scaling. */
  readonly windowScale: number | undefined;
  readonly sackPermitted: boolean;
}

export class SynCookies {
  constructor(
    private readonly clock: Clock,
    private readonly isn: IsnGenerator,
  ) {}

  private minutes(): number {
    return Math.floor(this.clock.now() / 60_000);
  }

  /** Our ISN for a SYN we keep no state for. */
  make(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number, clientIsn: SeqNum, peerMss: number): SeqNum {
    let index = 0;
    for (let i = MSS_TABLE.length - 1; i >= 0; i--) {
      if (peerMss >= MSS_TABLE[i]!) {
        index = i;
        break;
      }
    }
    const count = this.minutes();
    const h1 = this.isn.hash(net, local, localPort, remote, remotePort, 0);
    const h2 = this.isn.hash(net, local, localPort, remote, remotePort, 0x8000_0000 | count);
    return seq(h1 + clientIsn + ((count << COOKIE_BITS) >>> 0) + ((h2 + index) & COOKIE_MASK));
  }

  /**
   * The peer MSS a returning cookie says, or undefined when the cookie is
   * forged or stale. `cookie` is SEG.ACK - 1, `clientIsn` SEG.SEQ - 1.
   */
  check(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number, cookie: SeqNum, clientIsn: SeqNum): number | undefined {
    const count = this.minutes();
    const h1 = this.isn.hash(net, local, localPort, remote, remotePort, 0);
    const rest = (cookie - h1 - clientIsn) >>> 0;
    const diff = (count - (rest >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
    if (diff >= MAX_SYNCOOKIE_AGE_MINUTES) return undefined;
    const h2 = this.isn.hash(net, local, localPort, remote, remotePort, 0x8000_0000 | (count - diff));
    const index = (rest - h2) & COOKIE_MASK;
    return MSS_TABLE[index];
  }

  /** TSval for a cookie SYN-ACK: the clock with the options in the low bits. */
  encodeTimestamp(tsNow: number, options: CookieOptions): number {
    let bits = options.windowScale === undefined ? TS_OPT_WSCALE_MASK : options.windowScale & TS_OPT_WSCALE_MASK;
    if (options.sackPermitted) bits |= TS_OPT_SACK;
    let ts = ((tsNow >>> TS_BITS) << TS_BITS) | bits;
    if (ts >>> 0 > tsNow >>> 0) ts -= 1 << TS_BITS;
    return ts >>> 0;
  }

  /** The options a cookie SYN-ACK's TSval (echoed back as TSecr) carried. */
  decodeTimestamp(tsEcr: number): { windowScale: number | undefined; sackPermitted: boolean } {
    const w = tsEcr & TS_OPT_WSCALE_MASK;
    return { windowScale: w === TS_OPT_WSCALE_MASK ? undefined : w, sackPermitted: (tsEcr & TS_OPT_SACK) !== 0 };
  }
}
