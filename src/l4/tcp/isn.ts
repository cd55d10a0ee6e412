/**
 * Initial sequence numbers.
 *
 * Read first: RFC 6528 "Defending against Sequence Number Attacks" §3:
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * "where M is the 4 microsecond timer" and F "a pseudorandom function (PRF)
 * of the connection-id". M keeps ISNs of successive incarnations of one
 * connection increasing (RFC 9293 §3.4.1); F makes them unguessable from
 * outside. F here is HMAC-SHA-256 truncated to 32 bits (Linux uses
 * SipHash); the key comes from the injected randomness, the clock from the
 * injected clock, so tests get reproducible ISNs.
 */
import { createHmac } from 'node:crypto';
import type { Clock, Random } from '../../core/time.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { seq, type SeqNum } from './seq.js';

/** RFC 6528 §3 / RFC 9293 §3.4.1: M ticks every 4 microseconds. */
export const ISN_TICKS_PER_MS = 250;

export class IsnGenerator {
  private readonly key: Buffer;

  constructor(
    private readonly clock: Clock,
    random: Random,
  ) {
    this.key = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) this.key.writeUInt32BE(random.u32(), i);
  }

  /** A keyed hash of the connection-id (the F of RFC 6528). */
  hash(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number, extra = 0): number {
    const h = createHmac('sha256', this.key);
    h.update(net.bytes(local));
    h.update(net.bytes(remote));
    const ports = Buffer.alloc(8);
    ports.writeUInt16BE(localPort, 0);
    ports.writeUInt16BE(remotePort, 2);
    ports.writeUInt32BE(extra >>> 0, 4);
    h.update(ports);
    return h.digest().readUInt32BE(0);
  }

  next(net: TcpNetwork, local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): SeqNum {
    const m = Math.floor(this.clock.now() * ISN_TICKS_PER_MS);
    return seq(m + this.hash(net, local, localPort, remote, remotePort));
  }
}
