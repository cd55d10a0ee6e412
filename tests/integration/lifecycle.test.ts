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
import { spawnSync } from 'node:child_process';
import { TAPNET, cleanupTapnet, startTapnet, type TapnetProcess } from './harness.js';

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
