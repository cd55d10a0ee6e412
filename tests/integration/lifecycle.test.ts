/**
 * The CLI's life cycle against the real kernel: a closed stdout (`tapnet show ... | head`) and SIGINT/SIGTERM
 * arriving while `tapnet up` / `tapnet lab up` are still starting (issue 11, items 14 and 15).
 *
 * To stop start-up at an exact point, a test makes a file tapnet opens during start-up a FIFO: opening it
 * (the --pcap file, right after the TAP is in its namespace with its address) or reading it (the DHCP lease
 * file, the last thing before the control socket and "ready") blocks the process until the test opens the
 * other end. The signal is sent while tapnet is blocked there, then the FIFO is released.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAPNET, cleanupTapnet, linkExists, netnsExists, sh, startTapnet, uniqueName, type TapnetProcess } from './harness.js';
import { cleanupLab } from './lab-harness.js';

describe('tapnet show with a closed stdout', () => {
  let t: TapnetProcess;
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  it('exits 0 without a stack trace when the reader has gone (`| true`, `| head -1`)', async () => {
    t = await startTapnet();
    const env = { ...process.env, TAPNET_RUN_DIR: t.runDir };
    // `true` exits before tapnet has loaded, so its first write meets a closed pipe (EPIPE): deterministic.
    for (const command of ['show tcp', 'show stats --json', 'ping 10.77.0.2 -c 1']) {
      for (const reader of ['true', 'head -1']) {
        const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${TAPNET}" ${command} --tap ${t.tap} | ${reader}`], { encoding: 'utf8', env, timeout: 60_000 });
        expect({ command, reader, status: r.status, stderr: r.stderr }).toEqual({ command, reader, status: 0, stderr: '' });
      }
    }
  });
});

interface Started {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnTapnet(args: readonly string[], runDir: string): Started {
  const child = spawn(process.execPath, [TAPNET, ...args], { env: { ...process.env, TAPNET_RUN_DIR: runDir, TAPNET_STATE_DIR: runDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

/** Waits until tapnet's main thread sleeps in open() of a FIFO with no other end (the kernel's wait_for_partner). */
async function waitBlockedOnFifo(pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (sh('cat', [`/proc/${pid}/wchan`]).stdout === 'wait_for_partner') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('tapnet never blocked on its FIFO');
}

/**
 * Opens the FIFO's other end, unblocking tapnet: as a writer that closes at once (tapnet reads an empty
 * lease file), or as a reader that drains whatever tapnet writes (a pcap header) until it closes its end.
 */
function release(fifo: string, as: 'reader' | 'writer'): void {
  if (as === 'writer') closeSync(openSync(fifo, 'w'));
  else spawn('cat', [fifo], { stdio: ['ignore', 'ignore', 'ignore'] });
}

describe('tapnet up: SIGINT/SIGTERM during start-up', () => {
  const made: { tap: string; netns: string; runDir: string; child?: ChildProcess }[] = [];
  afterAll(() => {
    for (const m of made) cleanupTapnet(m);
  });

  async function startAndSignal(point: 'spawn' | 'pcap' | 'leases', signal: NodeJS.Signals): Promise<void> {
    const tap = uniqueName('tnsig');
    const netns = uniqueName('tnsigns');
    const runDir = mkdtempSync(join(tmpdir(), 'tapnet-sig-'));
    const fifo = join(runDir, point === 'pcap' ? 'capture.pcap' : 'leases');
    if (point !== 'spawn') sh('mkfifo', [fifo]);
    const args = ['up', '--tap', tap, '--netns', netns];
    if (point === 'pcap') args.push('--pcap', fifo);
    if (point === 'leases') args.push('--lease-file', fifo);
    const t = spawnTapnet(args, runDir);
    made.push({ tap, netns, runDir, child: t.child });

    if (point !== 'spawn') {
      await waitBlockedOnFifo(t.child.pid!);
      // Start-up has made the namespace and the TAP by now (both come before the pcap file and the leases).
      expect(netnsExists(netns)).toBe(true);
      expect(linkExists(tap, netns)).toBe(true);
    }
    t.child.kill(signal);
    if (point === 'pcap') release(fifo, 'reader');
    if (point === 'leases') release(fifo, 'writer');
    const exit = await Promise.race([t.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    expect(exit, t.output()).not.toBe('timeout');
    if (point === 'spawn') {
      // A signal that beats the handlers (the modules are still loading) finds nothing made: either way is fine.
      expect([JSON.stringify({ code: 0, signal: null }), JSON.stringify({ code: null, signal })]).toContain(JSON.stringify(exit));
    } else {
      expect(exit, t.output()).toEqual({ code: 0, signal: null });
    }
    expect(t.output()).not.toMatch(/tapnet (lab \S+ )?ready/);
    expect(netnsExists(netns)).toBe(false);
    expect(linkExists(tap)).toBe(false);
    expect(existsSync(join(runDir, `${tap}.sock`))).toBe(false);
  }

  it('right after spawn: nothing is left', async () => startAndSignal('spawn', 'SIGTERM'), 60_000);
  it('SIGINT with the TAP in its namespace (blocked opening the pcap file): removes both, exits 0', async () => startAndSignal('pcap', 'SIGINT'), 60_000);
  it('SIGTERM just before ready (blocked reading the lease file): removes everything, exits 0', async () => startAndSignal('leases', 'SIGTERM'), 60_000);
});

describe('tapnet lab up: SIGTERM during start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-labsig-'));
  const [h1, h2] = [uniqueName('tlsig'), uniqueName('tlsig')];
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    cleanupLab({ hosts: [h1, h2], runDir: dir, child });
  });

  it('removes the namespaces and TAPs already made, exits 0', async () => {
    const fifo = join(dir, 'second-link.pcap');
    sh('mkfifo', [fifo]);
    const file = join(dir, 'sig.yaml');
    // Links are made in file order: h1's TAP exists when the second link blocks opening its capture FIFO.
    writeFileSync(
      file,
      [
        `name: sig${h1}`,
        'nodes:',
        `  ${h1}: { kind: host, interfaces: { eth0: { address: 10.201.0.1/24 } } }`,
        `  ${h2}: { kind: host, interfaces: { eth0: { address: 10.201.0.2/24 } } }`,
        '  sw: { kind: switch, ports: { p1: {}, p2: {} } }',
        'links:',
        `  - [${h1}:eth0, sw:p1]`,
        `  - { endpoints: [${h2}:eth0, sw:p2], capture: ${fifo} }`,
        '',
      ].join('\n'),
    );
    const t = spawnTapnet(['lab', 'up', file], dir);
    child = t.child;
    await waitBlockedOnFifo(t.child.pid!);
    expect(netnsExists(h1)).toBe(true);
    expect(linkExists('eth0', h1)).toBe(true);
    t.child.kill('SIGTERM');
    release(fifo, 'reader');
    const exit = await Promise.race([t.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    expect(exit, t.output()).toEqual({ code: 0, signal: null });
    expect(t.output()).not.toMatch(/tapnet (lab \S+ )?ready/);
    expect(netnsExists(h1)).toBe(false);
    expect(netnsExists(h2)).toBe(false);
  }, 60_000);
});
