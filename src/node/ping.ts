/**
 * The ping loop both families share (`host.ping`, `host.ipv6.ping`): `count`
 * echo requests `intervalMs` apart, each answered or timed out after
 * `timeoutMs`, resolved as one entry per request in sequence order. The
 * families differ only in how a request is sent and a reply recognised.
 */
import type { StackContext } from '../core/context.js';

export interface PingOptions {
  readonly count?: number;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  /** Echo data bytes (default 56, like ping(8)); filled with i & 0xff. */
  readonly size?: number;
}

export interface EchoReplyOf<A> {
  readonly source: A;
  readonly sequence: number;
}

export interface PingResult<A> {
  readonly sequence: number;
  /** Round-trip time in ms, or undefined when no reply came within the timeout. */
  readonly rttMs: number | undefined;
  readonly from?: A;
}

/** How one family sends an echo request and hears replies for one identifier. */
export interface EchoFamily<A> {
  send(sequence: number, data: Uint8Array): void;
  /** Start hearing replies to this ping; the returned function stops. */
  listen(onReply: (reply: EchoReplyOf<A>) => void): () => void;
  /** The reply came from the address pinged. */
  isTarget(source: A): boolean;
  /** A copy of the source that outlives the receive batch. */
  keep(source: A): A;
}

export function runPing<A>(ctx: StackContext, family: EchoFamily<A>, options: PingOptions): Promise<PingResult<A>[]> {
  const count = options.count ?? 1;
  const intervalMs = options.intervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const data = new Uint8Array(options.size ?? 56);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  const sentAt = new Map<number, number>();
  const replies: PingResult<A>[] = [];
  const { clock, timers } = ctx;
  return new Promise((resolve) => {
    let stop = (): void => {};
    const check = (): void => {
      if (replies.length < count) return;
      stop();
      resolve(replies.sort((a, b) => a.sequence - b.sequence));
    };
    stop = family.listen((reply) => {
      const t = sentAt.get(reply.sequence);
      if (t === undefined || !family.isTarget(reply.source)) return;
      sentAt.delete(reply.sequence);
      replies.push({ sequence: reply.sequence, rttMs: clock.now() - t, from: family.keep(reply.source) });
      check();
    });
    for (let seq = 1; seq <= count; seq++) {
      timers.after((seq - 1) * intervalMs, () => {
        sentAt.set(seq, clock.now());
        family.send(seq, data);
        timers.after(timeoutMs, () => {
          if (sentAt.delete(seq)) {
            replies.push({ sequence: seq, rttMs: undefined });
            check();
          }
        });
      });
    }
  });
}
