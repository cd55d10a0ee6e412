/**
 * Labs under test: `tapnet lab up FILE` as a child process with its own run
 * directory, `tapnet` CLI calls against it, and cleanup that removes the lab's
 * namespaces even when a test (or tapnet) failed.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ROOT, TAPNET, netnsExists, sh } from './harness.js';

export interface LabProcess {
  readonly file: string;
  readonly hosts: readonly string[];
  readonly runDir: string;
  readonly child: ChildProcess;
  output(): string;
  /** `tapnet ARGS` with this lab's run directory. */
  cli(args: readonly string[], timeoutMs?: number): SpawnSyncReturns<string>;
  /** A tapnet node's counters (`tapnet show stats --json --lab FILE --node NODE`). */
  stats(node: string): Record<string, number>;
  /** `tapnet lab down FILE`, then the lab process's exit code. */
  down(): Promise<number | null>;
}

/** Host node names of a lab file (its namespaces). */
export function labHosts(file: string): string[] {
  const doc = parse(sh('cat', [file]).stdout) as { nodes: Record<string, { kind: string }> };
  return Object.entries(doc.nodes)
    .filter(([, n]) => n.kind === 'host')
    .map(([name]) => name);
}

export function tapnetEnv(runDir: string): NodeJS.ProcessEnv {
  return { ...process.env, TAPNET_RUN_DIR: runDir };
}

/** Starts `tapnet lab up FILE` (FILE absolute, or relative to the repository) and waits for its `ready` line. */
export async function startLab(relativeFile: string): Promise<LabProcess> {
  const file = resolve(ROOT, relativeFile);
  const hosts = labHosts(file);
  const runDir = mkdtempSync(join(tmpdir(), 'tapnet-lab-'));
  const env = tapnetEnv(runDir);
  const child = spawn(process.execPath, [TAPNET, 'lab', 'up', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const cli = (args: readonly string[], timeoutMs = 60_000): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [TAPNET, ...args], { encoding: 'utf8', env, timeout: timeoutMs });
  const lab: LabProcess = {
    file,
    hosts,
    runDir,
    child,
    output: () => out,
    cli,
    stats: (node) => {
      const r = cli(['show', 'stats', '--json', '--lab', file, '--node', node]);
      if (r.status !== 0) throw new Error(`show stats --node ${node} failed: ${r.stderr}\nlab output:\n${out}`);
      return JSON.parse(r.stdout) as Record<string, number>;
    },
    down: async () => {
      cli(['lab', 'down', file]);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
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
    new Promise<boolean>((r) => setTimeout(() => r(false), 45_000)),
  ]);
  if (!ready) {
    cleanupLab(lab);
    throw new Error(`lab ${relativeFile} did not become ready:\n${out}`);
  }
  return lab;
}

/** Kills the lab process if it still runs and removes its namespaces and run directory. */
export function cleanupLab(lab: { hosts: readonly string[]; runDir: string; child?: ChildProcess }): void {
  if (lab.child && lab.child.exitCode === null && lab.child.signalCode === null) lab.child.kill('SIGKILL');
  for (const ns of lab.hosts) if (netnsExists(ns)) sh('ip', ['netns', 'delete', ns]);
  rmSync(lab.runDir, { recursive: true, force: true });
}

export { ROOT };
