/**
 * `tapnet connect HOST PORT [--send N]`: tapnet as a TCP client, for trying
 * the active-open side against a kernel server (`nc -l`, a web server).
 * Connects, sends N bytes of the i % 251 pattern, half-closes, reads until
 * the peer closes, and reports what happened.
 */
import { createHash } from 'node:crypto';
import type { Host } from '../node/host.js';

/** Give up on a connect/transfer that makes no progress for this long. */
export const TCP_FETCH_IDLE_TIMEOUT_MS = 30_000;
/** Largest amount `--send` may ask for (1 GiB). */
export const TCP_FETCH_MAX_SEND = 2 ** 30;

export interface TcpFetchResult {
  readonly local: string;
  readonly remote: string;
  readonly sent: number;
  readonly received: number;
  /** SHA-256 (hex) of everything received. */
  readonly sha256: string;
  /** The first 200 bytes received, as text (for `nc -l` greetings). */
  readonly head: string;
  readonly milliseconds: number;
  readonly error?: string;
}

export function tcpFetch(host: Host, address: string, port: number, sendBytes: number): Promise<TcpFetchResult> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new Error(`invalid port '${port}'`));
  if (!Number.isInteger(sendBytes) || sendBytes < 0 || sendBytes > TCP_FETCH_MAX_SEND) return Promise.reject(new Error(`invalid byte count '${sendBytes}'`));
  const clock = host.ctx.clock;
  const start = clock.now();
  return new Promise((resolve) => {
    // Half-open allowed: a peer that answers and closes its side first (nc -N) still gets every byte we send.
    const socket = host.tcp.connect({ host: address, port, allowHalfOpen: true });
    const hash = createHash('sha256');
    let received = 0;
    let head: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      socket.setTimeout(0);
      resolve({
        local: `${socket.localAddress}:${socket.localPort}`,
        remote: `${address}:${port}`,
        sent: socket.bytesWritten,
        received,
        sha256: hash.digest('hex'),
        head: head.toString('utf8'),
        milliseconds: Math.round(clock.now() - start),
        ...(error ? { error: `${(error as Error & { code?: string }).code ?? ''} ${error.message}`.trim() } : {}),
      });
      socket.destroy();
    };
    socket.setTimeout(TCP_FETCH_IDLE_TIMEOUT_MS, () => finish(new Error('timed out')));
    socket.on('error', finish);
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
      if (head.length < 200) head = Buffer.concat([head, d.subarray(0, 200 - head.length)]);
    });
    // Done when both directions are: the peer's FIN may come while we are still writing (nc -N after its reply),
    // and our bytes only fit in the send buffer a piece at a time.
    let peerEnded = false;
    let flushed = false;
    socket.on('end', () => {
      peerEnded = true;
      if (flushed) finish();
    });
    socket.on('connect', () => {
      const chunk = Buffer.alloc(251 * 256);
      for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
      let left = sendBytes;
      const pump = (): void => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!socket.write(piece)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end(() => {
          flushed = true;
          if (peerEnded) finish();
        });
      };
      pump();
    });
  });
}
