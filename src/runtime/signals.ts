/**
 * SIGINT and SIGTERM for the long-running commands (`tapnet up`, `tapnet lab up`).
 *
 * The handlers are installed before anything is created. A JavaScript signal handler runs between
 * event-loop turns, never in the middle of synchronous code, so a signal that arrives while start-up
 * is still creating TAPs and namespaces is seen at start-up's next `await`: the handler aborts the
 * start-up's AbortSignal, start-up checks it after each `await`, removes what it made (its own
 * `cleanup` list) and rejects; then the process exits 0, as it does for a signal after "ready".
 * A signal that arrives before these handlers exist (while the modules load) finds nothing made.
 */

/** What a start-up resolves to: something that stops and removes what it made. */
export interface Stoppable {
  stop(): Promise<void>;
}

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Resolves after two turns of the event loop, once signals already sent to the process have run their
 * handlers. libuv's signal handler only writes to a pipe; the loop reads that pipe in its poll phase and
 * then calls the JavaScript handler. One turn (a setImmediate) is not always enough: when start-up is still
 * in the loop's first iteration the pipe is read one turn later (measured, Node 20). Start-up code is
 * synchronous between its awaits, and some awaits (a Unix socket's listen) never reach the poll phase:
 * this is where it can notice a stop.
 */
export async function signalsDelivered(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Starts `start`, stopping cleanly (exit 0) on SIGINT/SIGTERM at any time, during start-up included. */
export async function serveUntilSignalled(start: (signal: AbortSignal) => Promise<Stoppable>): Promise<void> {
  const starting = new AbortController();
  let running: Stoppable | undefined;
  const onSignal = (): void => {
    if (running) void running.stop().then(() => process.exit(0));
    else starting.abort(new Error('stopped by a signal during start-up'));
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    running = await start(starting.signal);
  } catch (e) {
    // Ctrl-C reaches the whole process group: an `ip` child may die of it and fail start-up before our own
    // handler has run. Let pending signals be delivered (poll phase), then decide whether this was a stop.
    await signalsDelivered();
    if (starting.signal.aborted) process.exit(0);
    throw e;
  }
}
