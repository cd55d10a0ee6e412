/**
 * README.md's commands, run the way a reader pastes them, so a README that
 * goes wrong fails `npm test`.
 *
 * What is run (the README says so too):
 *
 * - Every fenced block tagged `sh`, in file order, one command per line (a
 *   line ending in `\` goes on with the next; blank and `#` lines are
 *   skipped). Blocks with another tag, or none, are shown, not run. Each
 *   command must exit 0 (bash with pipefail); a few also have their output
 *   checked (EXPECTED below).
 * - A command whose comment says `runs until Ctrl-C` is started in the
 *   background, as in a terminal of its own, and must log `ready`. It gets
 *   Ctrl-C (SIGINT to its process group) when the next such command starts,
 *   as the README tells the reader, or at the end, and must then exit 0
 *   (`tapnet lab down` may stop one first).
 * - A command ending in `&` runs in the background; `kill %N` stops the Nth
 *   of those still running, as in the reader's shell. Whatever is left is
 *   killed at the end.
 * - `npm install` and `npm test` are not run: the test runs in an installed
 *   checkout, and is itself part of `npm test`.
 *
 * What is substituted, so the test is safe beside a reader's own tapnet and
 * labs and beside other tests:
 *
 * - Every command runs inside a fresh network namespace of the test's, so the
 *   README's TAP `tapnet0`, its 10.77.0.0/24 and its fd77::/64 are the test's
 *   own, not the machine's; TAPNET_RUN_DIR and TAPNET_STATE_DIR point into a
 *   temporary directory (control sockets, lease files). It is entered with
 *   `nsenter --net`, not `ip netns exec`: the latter gives the command a mount
 *   namespace of its own, and a namespace that tapnet then creates with `ip
 *   netns add` would be mounted in there only, invisible to the next command.
 * - A namespace named after `--netns`, `ip netns exec` or `ip -n` (`lab`, a
 *   lab's hosts) gets a unique name; an unknown one fails the test.
 * - `labs/NAME.yaml` becomes a copy with unique node names
 *   (lab-harness.ts rewriteLabNames), whose hosts are those namespaces.
 * - `/tmp/tapnet-udhcpc.sh` lives in the temporary directory.
 *
 * Everything the test made (namespaces, processes, files) is removed in
 * afterAll, also after a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, netnsExists, sh, uniqueName } from './harness.js';
import { rewriteLabNames } from './lab-harness.js';
import { readmeCommands, withoutComment, type ReadmeCommand } from '../readme-commands.js';

const COMMAND_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Commands the test leaves out, and why. */
const SKIPPED = new Map([
  ['npm install', 'the test runs in an installed checkout'],
  ['npm test', 'the test is part of npm test'],
]);

/** Output a command must show beyond exit status 0: [command pattern, output pattern]. */
const EXPECTED: readonly (readonly [RegExp, RegExp])[] = [
  [/^curl -g .*\| sha256sum$/, /^[0-9a-f]{64} +-$/m],
  [/^dig @10\.77\.0\.1 www\.lab/, /^gateway\.lab\.\s+\d+\s+IN\s+A\s+10\.77\.0\.1$/m],
  [/^dig @10\.77\.0\.1 nothere\.lab/, /status: NXDOMAIN/],
  [/^dig @10\.77\.0\.1 example\.test/, /^example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1$/m],
  [/busybox udhcpc/, /lease of 10\.77\.0\.1\d\d obtained/],
  [/dig @10\.77\.0\.1 box\.lab/, /^box\.lab\.\s+\d+\s+IN\s+A\s+10\.77\.0\.1\d\d$/m],
  [/traceroute -n 10\.2\.0\.10/, /^ 1 +10\.1\.0\.1 .*\n 2 +10\.2\.0\.10 /m],
];

interface Background {
  readonly command: ReadmeCommand;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

describe('README.md, pasted in order', () => {
  const outer = uniqueName('trm');
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-readme-'));
  const env = { ...process.env, TAPNET_RUN_DIR: join(dir, 'run'), TAPNET_STATE_DIR: join(dir, 'state') };
  /** README namespace name → the test's. */
  const namespaces = new Map<string, string>([['lab', uniqueName('trmlab')]]);
  /** `labs/NAME.yaml` → the renamed copy. */
  const labFiles = new Map<string, string>();
  const untilCtrlC: Background[] = [];
  const jobs: Background[] = [];
  const all: Background[] = [];

  beforeAll(() => {
    sh('ip', ['netns', 'add', outer]);
    sh('ip', ['-n', outer, 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    for (const b of all) if (b.child.exitCode === null && b.child.signalCode === null) kill(b, 'SIGINT');
    await Promise.all(all.map((b) => Promise.race([b.exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS))])));
    for (const b of all) if (b.child.exitCode === null && b.child.signalCode === null) kill(b, 'SIGKILL');
    for (const ns of [...namespaces.values(), outer]) if (netnsExists(ns)) sh('ip', ['netns', 'delete', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The README's names → the test's (see the header). */
  function substitute(text: string): string {
    let out = text.replace(/\blabs\/([a-z0-9-]+)\.yaml\b/g, (path) => {
      let copy = labFiles.get(path);
      if (copy === undefined) {
        const rewritten = rewriteLabNames(readFileSync(join(ROOT, path), 'utf8'), `${uniqueName('t').slice(0, 4)}-`);
        copy = join(dir, basename(path));
        writeFileSync(copy, rewritten.text);
        labFiles.set(path, copy);
        for (const [from, to] of rewritten.names) namespaces.set(from, to);
      }
      return copy;
    });
    out = out.replace(/(--netns |ip netns exec |ip -n )([a-z0-9-]+)/g, (_, words: string, name: string) => {
      const ns = namespaces.get(name);
      if (ns === undefined) throw new Error(`the README uses namespace '${name}', which the test does not map (add it to readme.test.ts)`);
      return `${words}${ns}`;
    });
    return out.replaceAll('/tmp/tapnet-udhcpc.sh', join(dir, 'udhcpc.sh'));
  }

  function kill(b: Background, signal: NodeJS.Signals): void {
    try {
      process.kill(-b.child.pid!, signal); // the process group, as a terminal's Ctrl-C
    } catch {
      // gone already
    }
  }

  function start(command: ReadmeCommand, text: string): Background {
    const child = spawn('nsenter', [`--net=/run/netns/${outer}`, 'bash', '-o', 'pipefail', '-c', text], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const b = { command, child, exited, output: () => out };
    all.push(b);
    return b;
  }

  /** Ctrl-C; tapnet must exit 0. (npm, in front of `npm start`, dies of the SIGINT itself once its script has ended.) */
  async function ctrlC(b: Background): Promise<void> {
    if (b.child.exitCode === null && b.child.signalCode === null) kill(b, 'SIGINT');
    const code = await Promise.race([b.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS))]);
    const how = code === null ? b.child.signalCode : code;
    expect(how, `README.md:${b.command.line}: ${b.command.text}\nafter Ctrl-C:\n${b.output()}`).toBe(b.command.text.startsWith('npm ') ? 'SIGINT' : 0);
  }

  it('runs every sh block', async () => {
    const commands = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(commands.length).toBeGreaterThan(20);
    for (const command of commands) {
      const where = `README.md:${command.line}: ${command.text}`;
      const bare = withoutComment(command.text);
      if (SKIPPED.has(bare)) continue;
      const text = substitute(command.text);
      if (command.mode === 'untilCtrlC') {
        for (const b of untilCtrlC.splice(0)) await ctrlC(b);
        const b = start(command, text);
        untilCtrlC.push(b);
        const deadline = Date.now() + READY_TIMEOUT_MS;
        while (!b.output().includes('ready') && b.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(b.output(), `${where}\nnever logged "ready"`).toContain('ready');
        continue;
      }
      if (command.mode === 'background') {
        jobs.push(start(command, text.replace(/(?<!&)&\s*(#.*)?$/, ''))); // the test is its shell: the & is ours to do
        await new Promise((r) => setTimeout(r, 500)); // a server's start-up: what a reader's next keystrokes take
        continue;
      }
      const job = /^kill %(\d+)$/.exec(bare);
      if (job) {
        const alive = jobs.filter((b) => b.child.exitCode === null && b.child.signalCode === null);
        const b = alive[Number(job[1]) - 1];
        expect(b, `${where}: no such job`).toBeDefined();
        kill(b!, 'SIGTERM');
        await b!.exited;
        continue;
      }
      const r = spawnSync('nsenter', [`--net=/run/netns/${outer}`, 'bash', '-o', 'pipefail', '-c', text], { cwd: ROOT, env, encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
      const output = `${r.stdout}${r.stderr}`;
      expect(r.status, `${where}\n${output}${r.error ? String(r.error) : ''}`).toBe(0);
      for (const [pattern, expected] of EXPECTED) if (pattern.test(bare)) expect(output, where).toMatch(expected);
    }
    for (const b of untilCtrlC.splice(0)) await ctrlC(b);
  }, 150_000);

  it('left no lab namespace behind', () => {
    for (const ns of namespaces.values()) expect(netnsExists(ns), ns).toBe(false);
  });
});

describe('readmeCommands', () => {
  it('takes sh blocks only, joins continued lines, and tells the three kinds apart', () => {
    const md = ['```', 'not run', '```', '```sh', '# a comment', 'a \\', '  b   # x', 'srv &', 'up   # runs until Ctrl-C', 'x && y', '```', '```text', 'no', '```'].join('\n');
    expect(readmeCommands(md).map((c) => [c.text, c.line, c.mode])).toEqual([
      ['a b   # x', 6, 'run'],
      ['srv &', 8, 'background'],
      ['up   # runs until Ctrl-C', 9, 'untilCtrlC'],
      ['x && y', 10, 'run'],
    ]);
  });
});
