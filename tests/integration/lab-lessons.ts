/**
 * Helpers for the curriculum labs' tests (hub-switch, subnets, vm-modes, docker, vpc): a background program in
 * a namespace whose output is collected, and tcpdump around an action.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Background {
  readonly child: ChildProcess;
  output(): string;
  /** Waits until the output matches (or throws with what it printed). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends SIGINT (tcpdump prints its summary), then SIGKILL if it lingers; resolves with the output. */
  stop(): Promise<string>;
}

/** `ip netns exec NS COMMAND ARGS...` in the background, stdout and stderr collected. */
export function background(ns: string, command: string, args: readonly string[]): Background {
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    output: () => out,
    waitFor: async (pattern, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} in ${ns}: no ${pattern} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return out;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      return out;
    },
  };
}

/** tcpdump ARGS in NS, started and listening before `action` runs; its output once the action is done. */
export async function tcpdumpDuring(ns: string, args: readonly string[], action: () => unknown): Promise<string> {
  const dump = background(ns, 'tcpdump', args);
  try {
    await dump.waitFor(/listening on/);
    await action();
    await new Promise((r) => setTimeout(r, 300)); // the last frames reach tcpdump's socket
  } finally {
    await dump.stop();
  }
  return dump.output();
}
