/**
 * Tracing: one line per drop or state transition, at pino's debug level.
 *
 * Every drop goes through `dropped()`: it bumps the named counter and, only
 * when debug logging is on, formats the detail (the `describe` callback keeps
 * string building off the hot path).
 */
import pino, { type Logger } from 'pino';
import type { CounterName, Stats } from './stats.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The process logger: JSON lines on stderr (pino's default format, readable with `pino-pretty`). */
export function createLogger(level: LogLevel = 'info', name = 'tapnet'): Logger {
  return pino({ name, level, base: { name } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that prints nothing: the default for tests. */
export const silentLogger: Logger = pino({ level: 'silent' });

export class Tracer {
  private readonly debugOn: boolean;
  constructor(
    readonly log: Logger,
    readonly stats: Stats,
  ) {
    this.debugOn = log.isLevelEnabled('debug');
  }

  /** Counts a dropped frame/packet under `counter` and traces the reason. */
  dropped(counter: CounterName, reason: string, describe?: () => string): void {
    this.stats.inc(counter);
    if (this.debugOn) this.log.debug({ drop: counter, reason, packet: describe?.() }, `drop ${counter}: ${reason}`);
  }

  /** A state transition or notable event (ARP entry REACHABLE, fragment timeout, ...). */
  event(what: string, describe?: () => string): void {
    if (this.debugOn) this.log.debug(describe ? `${what}: ${describe()}` : what);
  }
}
