/**
 * Tracing: one line per drop or state transition, at pino's debug level.
 *
 * Every drop goes through `dropped()`: it bumps the named counter and, only
 * when debug logging is on, formats the detail (the `describe` callback keeps
 * string building off the hot path).
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { CounterName, Stats } from './stats.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `--log-format`: JSON lines, readable lines, or readable on a terminal and JSON otherwise. */
export type LogFormat = 'json' | 'pretty' | 'auto';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

/**
 * The process logger, on stderr. JSON lines (pino's format: what scripts and
 * `jq` read), or, on a terminal, readable lines — time, level, message and the
 * fields that matter — through pino-pretty, in this thread and synchronously
 * (no worker transport: the last lines before an exit are never lost).
 */
export function createLogger(level: LogLevel = 'info', name = 'tapnet', format: LogFormat = 'auto'): Logger {
  const readable = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  const destination = readable
    ? pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' })
    : pino.destination({ dest: 2, sync: true });
  return pino({ name, level, base: { name } }, destination);
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
