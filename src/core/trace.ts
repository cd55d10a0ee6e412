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
    /** The node this stack is (a lab router's or switch's name), named in each step of a packet's walk. */
    readonly node = '',
  ) {
    this.debugOn = log.isLevelEnabled('debug');
  }

  /** Counts a dropped frame/packet under `counter` and traces the reason. */
  dropped(counter: CounterName, reason: string, describe?: () => string): void {
    this.stats.inc(counter);
    if (this.debugOn) this.log.debug({ drop: counter, reason, packet: describe?.() }, `drop ${counter}: ${reason}`);
    if (walkWatch.on) walkWatch.record(this.node, 'drop', reason, counter);
  }

  /** A state transition or notable event (ARP entry REACHABLE, fragment timeout, ...). */
  event(what: string, describe?: () => string): void {
    if (this.debugOn) this.log.debug(describe ? `${what}: ${describe()}` : what);
    if (walkWatch.on) walkWatch.record(this.node, 'event', describe ? `${what}: ${describe()}` : what);
  }

  /** A browser watches: guard a step whose text must be built (`if (trace.watching) trace.step(`...`)`), so an unwatched stack builds nothing. */
  get watching(): boolean {
    return walkWatch.on;
  }

  /**
   * One step of the walk of the packet being handled: the decision the calling
   * function took ("RFC 9293 §3.10.7.4 step 1: sequence acceptable"). A
   * literal costs one boolean test unless a browser watches (src/runtime/ui);
   * text built from values goes under `if (trace.watching)`, so no string
   * or closure is made for an unwatched packet. When watched, the caller's
   * file, line and function come from the call stack, so the walk names the
   * code that really ran.
   */
  step(decision: string): void {
    if (walkWatch.on) walkWatch.record(this.node, 'step', decision);
  }
}

/** What a walk step is: a decision, an event (state change), or the drop that ended the walk. */
export type WalkStepKind = 'step' | 'event' | 'drop' | 'rx' | 'tx';

export interface WalkStep {
  readonly kind: WalkStepKind;
  readonly node: string;
  readonly text: string;
  /** The drop counter (kind 'drop'). */
  readonly counter?: string;
  /** Where the step was taken: path under src/, line, function (from the call stack). */
  readonly file?: string;
  readonly line?: number;
  readonly fn?: string;
  /** The packet a 'tx' step sent (its id in the watcher's packet list). */
  readonly packet?: number;
}

/** Where walks go: the browser view's monitor (src/runtime/ui/monitor.ts). */
export interface WalkSink {
  /** A frame seen at `point` ("r1:eth0"), received or sent: its id. */
  frame(point: string, direction: 'rx' | 'tx', bytes: Uint8Array, cause: number | undefined): number;
  /** The steps the received frame `id` took, once its handling returned. */
  walked(id: number, steps: WalkStep[]): void;
}

/** A stack frame line: "at Class.method (/path/src/l3/ipv4/input.ts:12:5)" or "at /path/src/x.ts:1:2". */
const STACK_LINE = /^\s*at (?:(.+?) \()?(?:file:\/\/)?(.*?\/src\/(.+?)):(\d+):\d+\)?$/;

/**
 * The process's walk recorder. `on` is the cheap boolean every trace point
 * tests: false unless a browser is connected to the UI, so an unwatched
 * stack allocates nothing and formats nothing (bench/ui-overhead.sh).
 * Frames are handled synchronously from device receive to the last send
 * (lab wires deliver on a later microtask), so the walk being recorded is
 * simply the innermost one begun and not yet ended.
 */
export class WalkWatch {
  on = false;
  private sink: WalkSink | undefined;
  private readonly open: { id: number; steps: WalkStep[] }[] = [];

  /** Starts (sink) or stops (undefined) recording. */
  attach(sink: WalkSink | undefined): void {
    this.sink = sink;
    this.on = sink !== undefined;
    this.open.length = 0;
  }

  /** A device received `bytes` at `point`: `handle` runs with the frame's walk open. */
  receive(point: string, bytes: Uint8Array, handle: () => void): void {
    const sink = this.sink;
    if (!sink) return handle();
    const id = sink.frame(point, 'rx', bytes, this.open.at(-1)?.id);
    const walk = { id, steps: [] as WalkStep[] };
    this.open.push(walk);
    try {
      this.record(point.split(':')[0] ?? '', 'rx', `received on ${point}`);
      handle();
    } finally {
      this.open.pop();
      sink.walked(id, walk.steps);
    }
  }

  /** A device is sending `bytes` at `point`: the frame joins the packet list, and the open walk gets a "sent" step. */
  transmit(point: string, bytes: Uint8Array): void {
    const sink = this.sink;
    if (!sink) return;
    const walk = this.open.at(-1);
    const id = sink.frame(point, 'tx', bytes, walk?.id);
    if (walk) walk.steps.push({ kind: 'tx', node: point.split(':')[0] ?? '', text: `sent on ${point}`, packet: id, ...callerOf(new Error().stack ?? '') });
  }

  record(node: string, kind: WalkStepKind, text: string, counter?: string): void {
    const walk = this.open.at(-1);
    if (!walk || walk.steps.length >= WALK_STEPS_MAX) return;
    const where = callerOf(new Error().stack ?? '');
    walk.steps.push({ kind, node, text, counter, ...where });
  }
}

/** A walk longer than this is cut (a frame that fans out to many ports). */
export const WALK_STEPS_MAX = 200;

/** The first stack frame outside this file: the trace point's caller. */
function callerOf(stack: string): { file?: string; line?: number; fn?: string } {
  for (const line of stack.split('\n').slice(1)) {
    const m = STACK_LINE.exec(line);
    if (!m || m[3] === 'core/trace.ts' || m[3]!.startsWith('device/observe.ts')) continue;
    return { file: m[3], line: Number(m[4]), fn: m[1]?.replace(/^async /, '') };
  }
  return {};
}

/** The one recorder of this process (one process is one stack, or one lab). */
export const walkWatch = new WalkWatch();
