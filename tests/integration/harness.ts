/**
 * Integration test harness: unique names, a `tapnet up` child process whose
 * kernel end lives in a fresh network namespace, and cleanup that runs even
 * when a test fails.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TAPNET = join(ROOT, 'bin/tapnet.js');
/**
 * A python3 that has scapy (Debian's python3-scapy installs it for /usr/bin/python3, not for a pyenv or venv
 * python3 earlier on PATH): $TAPNET_PYTHON when set, else /usr/bin/python3, else python3 from PATH. Without
 * one, every test that imports the harness fails at once with this message instead of deep inside a test.
 */
export const PYTHON = findPythonWithScapy();

function findPythonWithScapy(): string {
  const candidates = process.env.TAPNET_PYTHON ? [process.env.TAPNET_PYTHON] : ['/usr/bin/python3', 'python3'];
  // find_spec, not import: importing scapy takes a second.
  const found = candidates.find((python) => spawnSync(python, ['-c', 'import importlib.util, sys; sys.exit(importlib.util.find_spec("scapy") is None)']).status === 0);
  if (found) return found;
  throw new Error(`the integration tests need a python3 with scapy; none of ${candidates.join(', ')} has it: apt-get install python3-scapy (for /usr/bin/python3), or set TAPNET_PYTHON to a python3 that can import scapy`);
}

/** A name no other test (or leftover) uses: prefix + 6 hex digits, at most 15 characters. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 15);
}

export function sh(command: string, args: readonly string[], options: { timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000 });
}

/** Runs a command inside a namespace. */
export function inNetns(ns: string, command: string, args: readonly string[], options: { timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return sh('ip', ['netns', 'exec', ns, command, ...args], options);
}

export function netnsExists(ns: string): boolean {
  return sh('ip', ['netns', 'list']).stdout.split('\n').some((l) => l.split(' ')[0] === ns);
}

export function linkExists(name: string, ns?: string): boolean {
  const args = ns ? ['-n', ns, 'link', 'show', 'dev', name] : ['link', 'show', 'dev', name];
  return sh('ip', args).status === 0;
}

export interface TapnetProcess {
  readonly tap: string;
  readonly netns: string;
  readonly runDir: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  output(): string;
  /** `tapnet ARGS` against this instance (same TAP and run directory). */
  cli(args: readonly string[]): SpawnSyncReturns<string>;
  /** Counter snapshot through the control socket. */
  stats(): Record<string, number>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  readonly extraArgs?: readonly string[];
  readonly subnet?: string;
  readonly createNetns?: boolean;
  /** Reuse these names (a restart test); default: fresh unique ones. */
  readonly tap?: string;
  readonly netns?: string;
}

/**
 * Starts `tapnet up --tap T --netns N` and waits for its `ready` line.
 * When `createNetns` is false tapnet creates the namespace itself.
 */
export async function startTapnet(options: StartOptions = {}): Promise<TapnetProcess> {
  const tap = options.tap ?? uniqueName('tn');
  const netns = options.netns ?? uniqueName('tnns');
  const runDir = mkdtempSync(join(tmpdir(), 'tapnet-run-'));
  if (options.createNetns) sh('ip', ['netns', 'add', netns]);
  const args = [TAPNET, 'up', '--tap', tap, '--netns', netns, '--subnet', options.subnet ?? '10.77.0.0/24', ...(options.extraArgs ?? [])];
  // TAPNET_STATE_DIR: default lease files land in the run directory, removed with it.
  const env = { ...process.env, TAPNET_RUN_DIR: runDir, TAPNET_STATE_DIR: runDir };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const proc: TapnetProcess = {
    tap,
    netns,
    runDir,
    child,
    output: () => out,
    cli: (cliArgs) => spawnSync(process.execPath, [TAPNET, ...cliArgs, '--tap', tap], { encoding: 'utf8', env, timeout: 60_000 }),
    stats: () => {
      const r = spawnSync(process.execPath, [TAPNET, 'show', 'stats', '--json', '--tap', tap], { encoding: 'utf8', env, timeout: 30_000 });
      if (r.status !== 0) throw new Error(`show stats failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, number>;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return null;
      }
      return code;
    },
  };

  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (out.includes('ready')) resolve(true);
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
    }),
    exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
  ]);
  if (!ready) {
    await proc.stop();
    cleanupTapnet(proc);
    throw new Error(`tapnet did not become ready:\n${out}`);
  }
  return proc;
}

/** Removes whatever a test's tapnet left behind (namespace, TAP, run dir), even after a crash. */
export function cleanupTapnet(p: { tap: string; netns: string; runDir: string; child?: ChildProcess }): void {
  if (p.child && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  if (netnsExists(p.netns)) sh('ip', ['netns', 'delete', p.netns]);
  if (linkExists(p.tap)) sh('ip', ['link', 'delete', p.tap]);
  rmSync(p.runDir, { recursive: true, force: true });
}

/** Real clients run in real time: poll every 100 ms until `check` holds (or fail with what we saw). */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  detail: () => string = () => '',
  everyMs = 100,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}\n${detail()}`);
}
