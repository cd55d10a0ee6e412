/**
 * Active health checks over tapnet's own TCP, every `intervalMs` per
 * backend: a TCP connect (HAProxy `check`), or an HTTP/1.0 `GET PATH`
 * whose status line must say 2xx (HAProxy `option httpchk GET /path`).
 * A check that has no answer within `timeoutMs` fails. The check's
 * connection is closed with a reset once it has its answer, as HAProxy does
 * (no TIME-WAIT left behind on either side for a probe).
 *
 * The verdicts go to the backend's HealthState (health.ts), which decides
 * when the backend goes down or comes back.
 */
import type { StackContext } from '../../core/context.js';
import type { Timer } from '../../core/time.js';
import type { Socket } from '../../l4/tcp/socket.js';
import type { Backend } from './backend.js';
import type { LbHealthConfig } from './config.js';
import type { HealthEvent } from './health.js';

/** What a check needs from the node: its clock and timers, and a TCP connect. */
export interface CheckHost {
  readonly ctx: StackContext;
  connect(address: string, port: number): Socket;
}

/** The most of an HTTP check's answer read before giving up on finding the status line. */
const STATUS_LINE_MAX = 1024;

/** Runs one check; resolves with its verdict (never rejects). */
export function runCheck(host: CheckHost, backend: Backend, config: LbHealthConfig): Promise<Omit<HealthEvent, 'at' | 'source'>> {
  const started = host.ctx.clock.now();
  return new Promise((resolve) => {
    const socket = host.connect(backend.addressText, backend.port);
    let done = false;
    let head = '';
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      timer.cancel();
      socket.resetAndDestroy();
      resolve({ ok, detail });
    };
    const timer = host.ctx.timers.after(config.timeoutMs, () => finish(false, `timeout after ${config.timeoutMs} ms`));
    const took = (): string => `${Math.round(host.ctx.clock.now() - started)} ms`;
    socket.on('error', (e: Error & { code?: string }) => finish(false, describeError(e)));
    socket.on('connect', () => {
      if (config.kind === 'tcp') return finish(true, `L4OK in ${took()}`);
      socket.write(`GET ${config.path} HTTP/1.0\r\nHost: ${backend.endpoint}\r\nUser-Agent: tapnet-lb-check\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const eol = head.indexOf('\r\n');
      if (eol < 0 && head.length < STATUS_LINE_MAX) return;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (!m) return finish(false, 'L7 bad answer (no HTTP status line)');
      const status = Number(m[1]);
      finish(status >= 200 && status < 300, `L7${status < 300 && status >= 200 ? 'OK' : 'STS'} ${status} in ${took()}`);
    });
    socket.on('end', () => finish(false, config.kind === 'http' ? 'L7 closed before a status line' : 'closed'));
  });
}

/** "connection refused", "connection reset", "host unreachable": the words `curl` would print. */
export function describeError(e: Error & { code?: string }): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'connect timed out';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    default:
      return e.code ? `${e.code} ${e.message}` : e.message;
  }
}

/** One timer per backend; `stop` cancels it (a removed backend, the lab going down). */
export class HealthChecker {
  private readonly timers = new Map<Backend, Timer>();

  constructor(
    private readonly host: CheckHost,
    private readonly config: LbHealthConfig,
    private readonly onResult: (backend: Backend, event: HealthEvent) => void,
  ) {}

  /**
   * Starts checking `backend`: the first check at a random point of the first interval (HAProxy spreads its
   * first checks the same way, so backends are not all probed at once, and a server started with the lab has a
   * moment to listen), then every interval. Until then the backend counts as up.
   */
  watch(backend: Backend): void {
    if (this.timers.has(backend)) return;
    const timer = this.host.ctx.timers.timer(() => void this.check(backend, timer));
    this.timers.set(backend, timer);
    timer.armIn(Math.floor(this.host.ctx.random.float() * this.config.intervalMs));
  }

  unwatch(backend: Backend): void {
    this.timers.get(backend)?.cancel();
    this.timers.delete(backend);
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private async check(backend: Backend, timer: Timer): Promise<void> {
    const started = this.host.ctx.clock.now();
    const verdict = await runCheck(this.host, backend, this.config);
    if (this.timers.get(backend) !== timer) return; // unwatched meanwhile
    this.onResult(backend, { ...verdict, at: this.host.ctx.clock.now(), source: 'check' });
    // Checks start every interval (HAProxy `inter`), however long each took.
    timer.armAt(Math.max(started + this.config.intervalMs, this.host.ctx.clock.now()));
  }
}
