/**
 * Issue 11 item 1: TCP memory has a global bound. 1000 kernel clients ask
 * tapnet's HTTP server for a large /bytes/N and never read; tapnet's resident
 * memory must stay under 350 MB (before the budget, 200 such connections took
 * it from 94 MB to 932 MB; with it, 213-260 MB on a quiet machine, up to 312 MB
 * with other test files running beside it: V8 collects later when starved of CPU). Buffers start small (tcp_wmem[1] = 16 KiB), grow
 * only with cwnd, and the stack-wide budget (tcp_mem) caps the total.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, cleanupTapnet, startTapnet, type TapnetProcess } from './harness.js';

const SERVER = '10.77.0.1';
const CONNECTIONS = 1000;
const RSS_LIMIT_MB = 350;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('TCP memory with 1000 connections that never read', () => {
  let t: TapnetProcess;

  beforeAll(async () => {
    t = await startTapnet();
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  /** One round: CONNECTIONS clients that never read, held 8 s; returns tapnet's peak RSS (MB) and stats while loaded. */
  async function round(pid: number): Promise<{ peak: number; loaded: Record<string, number> }> {
    const client = spawn('ip', ['netns', 'exec', t.netns, PYTHON, join(import.meta.dirname, 'tcp-hold.py'), SERVER, '80', String(CONNECTIONS), String(1e9), '8'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    client.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => client.on('exit', resolve));
    try {
      let peak = 0;
      while (!out.includes('connected') && client.exitCode === null) {
        peak = Math.max(peak, rssMb(pid));
        await sleep(200);
      }
      expect(JSON.parse(out.split('\n')[0]!), err).toEqual({ connected: CONNECTIONS });
      const loaded = t.stats();
      // Every response is being pushed into a full window now; sample while tapnet's buffers fill.
      while (client.exitCode === null) {
        peak = Math.max(peak, rssMb(pid));
        await sleep(200);
      }
      expect(await exited, err).toBe(0);
      return { peak, loaded };
    } finally {
      if (client.exitCode === null) client.kill('SIGKILL');
    }
  }

  it(`keeps tapnet's RSS under ${RSS_LIMIT_MB} MB, and later rounds reuse the memory of earlier ones`, async () => {
    const pid = t.child.pid!;
    const idle = rssMb(pid);
    const peaks: number[] = [];
    let firstLoaded: Record<string, number> = {};
    for (let i = 0; i < 3; i++) {
      const r = await round(pid);
      if (i === 0) firstLoaded = r.loaded;
      peaks.push(r.peak);
      await sleep(2000);
    }
    const after = rssMb(pid);
    const stats = t.stats();
    console.log(
      `tcp memory: RSS idle ${idle.toFixed(0)} MB; ${CONNECTIONS} connections that never read, three rounds: ` +
        `peaks ${peaks.map((p) => p.toFixed(0)).join(', ')} MB, ${after.toFixed(0)} MB 2 s after the last; ` +
        `TcpCurrEstab while loaded ${firstLoaded.TcpCurrEstab}, TcpExtTCPMemoryPressures ${stats.TcpExtTCPMemoryPressures ?? 0}`,
    );
    expect(firstLoaded.TcpCurrEstab).toBeGreaterThanOrEqual(CONNECTIONS);
    for (const peak of peaks) expect(peak).toBeLessThan(RSS_LIMIT_MB);
    // V8 sizes its old generation up once after the first round (measured: 213, 260, 247, 244, 243 MB over five
    // rounds); from then on a round reuses what the previous one left, so the third may not add to the second
    // beyond the garbage collector's own timing (seen up to +21 MB on a loaded CI machine; a round's load is ~100 MB).
    expect(peaks[2]!).toBeLessThan(peaks[1]! + 30);
    expect(stats.TcpCurrEstab).toBe(0);
  }, 120_000);
});
