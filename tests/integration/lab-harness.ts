/**
 * Labs under test: `tapnet lab up FILE` as a child process with its own run
 * directory, `tapnet` CLI calls against it, and cleanup that removes the lab's
 * namespaces even when a test (or tapnet) failed.
 *
 * A test never brings up a lab under the names written in its file: the
 * shipped labs (labs/*.yaml) are the ones a reader has running, and their
 * namespaces (lan-pc1, hn-laptop, ...) would collide. `startLab` copies the
 * file into the test's run directory with every node name and the lab name
 * rewritten under a fresh prefix (`lan-pc1` → `t3fa-lan-pc1`), and the test
 * asks `lab.ns('lan-pc1')` / `lab.node('sw1')` for the real names and passes
 * `lab.file` (the rewritten copy) to `--lab`.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parse, parseDocument, visit, type Node as YamlNode } from 'yaml';
import { ROOT, TAPNET, netnsExists, sh, uniqueName } from './harness.js';

export interface LabProcess {
  /** The file `tapnet lab up` runs: the rewritten copy (pass it to `--lab`). */
  readonly file: string;
  /** Its host namespaces, by their real (rewritten) names. */
  readonly hosts: readonly string[];
  /** The real namespace of host `name` as written in the lab file; throws for a name the file has no host by. */
  ns(name: string): string;
  /** The real name of any node (host, router, switch) as written in the lab file, for `--node`, JSON keys and output. */
  node(name: string): string;
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

/** The longest namespace name `ip netns` and the lab schema take here (an interface name's IFNAMSIZ - 1, like every test name). */
const NAME_MAX = 15;

/**
 * Lab file text with every node name and the lab name under `prefix`: the
 * keys of `nodes:`, the NODE of each `NODE:PORT` in `links:` (short form
 * `[a:x, b:y]` and `endpoints:`), and `name:`. Those are the only fields of
 * the format (src/runtime/topology.ts) that name a node; routes, NAT, DNS and
 * firewall rules name addresses and interfaces. Parsed and re-emitted with
 * the YAML library, so comments and layout survive and no text that merely
 * looks like a name is touched.
 */
export function rewriteLabNames(text: string, prefix: string, baseDir?: string): { text: string; names: Map<string, string> } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`lab file does not parse: ${doc.errors[0]!.message}`);
  if (baseDir !== undefined) {
    // The copy lives elsewhere: files the lab names relative to itself (a WireGuard interface's wg-quick
    // `config:`) are pointed at the original's directory.
    visit(doc, {
      Pair(_, pair) {
        if (isScalar(pair.key) && pair.key.value === 'config' && isScalar(pair.value) && typeof pair.value.value === 'string' && !isAbsolute(pair.value.value)) {
          pair.value.value = resolve(baseDir, pair.value.value);
        }
      },
    });
  }
  const names = new Map<string, string>();
  const taken = new Set<string>();
  const nodes = doc.get('nodes');
  if (!isMap(nodes)) throw new Error('lab file has no nodes: map');
  nodes.items.forEach((pair, i) => {
    if (!isScalar(pair.key)) throw new Error('a node name that is not plain text');
    const original = String(pair.key.value);
    // prefix + name, cut to fit; a cut that ends in '-' or repeats another node's gets the node's index instead.
    let renamed = `${prefix}${original}`.slice(0, NAME_MAX).replace(/-+$/, '');
    if (taken.has(renamed)) renamed = `${prefix}n${i}`;
    taken.add(renamed);
    names.set(original, renamed);
    pair.key.value = renamed;
  });
  const renameEnd = (end: unknown): void => {
    if (!isScalar(end) || typeof end.value !== 'string') return;
    const colon = end.value.indexOf(':');
    const renamed = colon > 0 ? names.get(end.value.slice(0, colon)) : undefined;
    if (renamed !== undefined) end.value = `${renamed}${end.value.slice(colon)}`;
  };
  const links = doc.get('links');
  if (isSeq(links)) {
    for (const link of links.items as YamlNode[]) {
      const ends = isSeq(link) ? link : isMap(link) ? link.get('endpoints') : undefined;
      if (isSeq(ends)) ends.items.forEach(renameEnd);
    }
  }
  const name = doc.get('name');
  if (typeof name === 'string') doc.set('name', `${prefix}${name}`);
  return { text: doc.toString(), names };
}

export interface StartLabOptions {
  /**
   * Run the file under the names written in it: only for a file the test wrote
   * itself with names from `uniqueName`. Refused for the shipped labs.
   */
  readonly keepNames?: boolean;
  /** More arguments for `tapnet lab up FILE` (e.g. `--ui 127.0.0.1:0`). */
  readonly args?: readonly string[];
}

/**
 * Starts `tapnet lab up` on a renamed copy of FILE (absolute, or relative to
 * the repository) in a fresh run directory and waits for its `ready` line.
 */
export async function startLab(relativeFile: string, options: StartLabOptions = {}): Promise<LabProcess> {
  const source = resolve(ROOT, relativeFile);
  if (options.keepNames && !relative(join(ROOT, 'labs'), source).startsWith('..')) throw new Error(`${relativeFile} is a shipped lab: a test runs it under its own names (leave out keepNames)`);
  const runDir = mkdtempSync(join(tmpdir(), 'tapnet-lab-'));
  let file = source;
  let names = new Map<string, string>();
  if (!options.keepNames) {
    // A prefix no namespace on this machine starts with ('t' + 3 hex digits + '-' leaves 10 characters of the name).
    let prefix = '';
    const existing = sh('ip', ['netns', 'list']).stdout.split('\n').map((l) => l.split(' ')[0]!);
    do prefix = `${uniqueName('t').slice(0, 4)}-`;
    while (existing.some((ns) => ns.startsWith(prefix)));
    let rewritten: ReturnType<typeof rewriteLabNames>;
    try {
      rewritten = rewriteLabNames(readFileSync(source, 'utf8'), prefix, dirname(source));
    } catch (e) {
      rmSync(runDir, { recursive: true, force: true });
      throw e;
    }
    names = rewritten.names;
    file = join(runDir, basename(source));
    writeFileSync(file, rewritten.text);
    // `run:` commands start in the lab file's directory: link the helper scripts beside the original next to the copy.
    for (const f of readdirSync(dirname(source))) if (f.endsWith('.py')) symlinkSync(join(dirname(source), f), join(runDir, f));
  }
  const hosts = labHosts(file);
  const realName = (name: string): string => {
    if (options.keepNames) return name;
    const renamed = names.get(name);
    if (renamed === undefined) throw new Error(`${relativeFile} has no node '${name}' (it has: ${[...names.keys()].join(', ')})`);
    return renamed;
  };
  const env = tapnetEnv(runDir);
  const child = spawn(process.execPath, [TAPNET, 'lab', 'up', file, ...(options.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const cli = (args: readonly string[], timeoutMs = 60_000): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [TAPNET, ...args], { encoding: 'utf8', env, timeout: timeoutMs });
  const lab: LabProcess = {
    file,
    hosts,
    ns: (name) => {
      const renamed = realName(name);
      if (!hosts.includes(renamed)) throw new Error(`'${name}' is not a host of ${relativeFile}: it has no namespace`);
      return renamed;
    },
    node: realName,
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
  for (const ns of lab.hosts) {
    if (!netnsExists(ns)) continue;
    // The lab's `run:` servers and whatever a test started there: a deleted namespace does not end its processes.
    for (const pid of sh('ip', ['netns', 'pids', ns]).stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 1)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    sh('ip', ['netns', 'delete', ns]);
  }
  rmSync(lab.runDir, { recursive: true, force: true });
}

export { ROOT };
