/**
 * The RFC small services of `tapnet up --small-services all --no-iperf3`,
 * from netcat-openbsd in the test's namespace: TCP with `nc`, UDP with
 * `nc -u`, IPv4 and IPv6 — the commands labs/README.md shows. Also: with
 * --no-iperf3 nothing answers on 5201, and chargen to a client that never
 * reads stops at the socket buffers. Then the same on a lab router (labs/services.yaml:
 * `iperf3: true`, `smallServices: all`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { controlRequest } from '../../src/runtime/control.js';
import { PYTHON, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

/** A shell pipeline inside the namespace; stdout as latin1 bytes. */
function shIn(ns: string, command: string): Buffer {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', command], { timeout: 20_000 });
  return r.stdout ?? Buffer.alloc(0);
}

const RFC868_EPOCH_OFFSET = 2_208_988_800;

describe('small services against netcat', () => {
  let t: TapnetProcess;

  beforeAll(async () => {
    t = await startTapnet({ extraArgs: ['--no-iperf3', '--small-services', 'all'] });
    for (let i = 0; i < 50 && !/inet6 fd77:.*scope global(?! tentative)/.test(inNetns(t.netns, 'ip', ['-6', 'addr', 'show', 'dev', t.tap]).stdout); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  /** Counters straight from the control socket (the CLI's start-up costs seconds). */
  const stats = async (): Promise<Record<string, number>> => {
    const reply = await controlRequest(join(t.runDir, `${t.tap}.sock`), { command: 'show', args: ['stats', 'json'] });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result as Record<string, number>;
  };

  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  it('echo (7): TCP until the client closes, UDP one datagram for one; IPv6 too', () => {
    expect(shIn(t.netns, "printf 'hello\\n' | nc -N 10.77.0.1 7").toString()).toBe('hello\n');
    expect(shIn(t.netns, "printf 'hello udp\\n' | nc -u -w1 10.77.0.1 7").toString()).toBe('hello udp\n');
    expect(shIn(t.netns, "printf 'hello v6\\n' | nc -N fd77::1 7").toString()).toBe('hello v6\n');
    expect(shIn(t.netns, "printf 'v6 udp\\n' | nc -u -w1 fd77::1 7").toString()).toBe('v6 udp\n');
  });

  it('discard (9): swallows everything, answers nothing', async () => {
    const before = (await stats()).smallDiscardBytes ?? 0;
    expect(shIn(t.netns, "printf 'into the void\\n' | nc -N 10.77.0.1 9").length).toBe(0);
    expect(shIn(t.netns, "printf 'x' | nc -u -w1 10.77.0.1 9").length).toBe(0);
    expect((await stats()).smallDiscardBytes! - before).toBe(14 + 1);
  });

  it('chargen (19): TCP a stream of rotating 72-character lines, UDP one datagram of 0-512 characters', () => {
    const lines = shIn(t.netns, 'nc 10.77.0.1 19 | head -n 3').toString('latin1').split('\r\n');
    expect(lines[0]).toBe(' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg');
    expect(lines[1]).toBe(lines[0]!.slice(1) + 'h');
    for (let i = 0; i < 3; i++) {
      const d = shIn(t.netns, "printf '\\n' | nc -u -w1 10.77.0.1 19");
      expect(d.length).toBeLessThanOrEqual(512);
      expect(d.toString('latin1')).toMatch(/^[ -~\r\n]*$/);
    }
  });

  it('daytime (13) and time (37): the date as text, and seconds since 1900 in 4 bytes, over TCP and UDP', () => {
    const dayRe = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d \d{4}\r\n$/;
    expect(shIn(t.netns, 'nc 10.77.0.1 13').toString()).toMatch(dayRe);
    expect(shIn(t.netns, "printf '\\n' | nc -u -w1 10.77.0.1 13").toString()).toMatch(dayRe);
    const now = Math.floor(Date.now() / 1000) + RFC868_EPOCH_OFFSET;
    const tcp = shIn(t.netns, 'nc 10.77.0.1 37');
    const udp = shIn(t.netns, "printf '' | nc -u -w1 10.77.0.1 37; printf '\\n' | nc -u -w1 10.77.0.1 37");
    expect(tcp.length).toBe(4);
    expect(Math.abs(tcp.readUInt32BE(0) - now)).toBeLessThan(10);
    expect(udp.length % 4).toBe(0);
    expect(Math.abs(udp.readUInt32BE(0) - now)).toBeLessThan(10);
  });

  it('chargen to a client that never reads stays within the socket buffers', async () => {
    const code = [
      'import socket,time',
      's=socket.socket()',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)',
      's.connect(("10.77.0.1",19))',
      'time.sleep(6)',
    ].join('\n');
    const reader = spawn('ip', ['netns', 'exec', t.netns, PYTHON, '-c', code], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 3000));
    const a = (await stats()).smallChargenBytes!;
    await new Promise((r) => setTimeout(r, 1500));
    const b = (await stats()).smallChargenBytes!;
    reader.kill();
    // Stalled (zero window), not queueing in tapnet: a kernel receive buffer of 64 KB plus tapnet's send buffer.
    expect(b).toBe(a);
    expect(a).toBeLessThan(8 * 1024 * 1024);
    // And tapnet still answers.
    expect(shIn(t.netns, "printf 'still here\\n' | nc -N 10.77.0.1 7").toString()).toBe('still here\n');
  });

  it('--no-iperf3: nothing listens on 5201', async () => {
    const r = inNetns(t.netns, 'iperf3', ['-c', '10.77.0.1', '-t', '1']);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Connection refused/);
    expect((await stats()).iperf3Tests).toBeUndefined();
  });
});

describe('labs/services.yaml: iperf3 and the small services on a lab router', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/services.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('iperf3 over IPv4 and IPv6 to the router, echo and time with nc; show iperf3 --lab', () => {
    const tcp = JSON.parse(inNetns(lab.ns('sv-pc'), 'iperf3', ['-c', '10.5.0.1', '-t', '1', '-J']).stdout) as { error?: string; end: { sum_received: { bytes: number } } };
    expect(tcp.error).toBeUndefined();
    expect(tcp.end.sum_received.bytes).toBeGreaterThan(0);
    const udp = JSON.parse(inNetns(lab.ns('sv-pc'), 'iperf3', ['-c', 'fd00:5::1', '-u', '-b', '5M', '-t', '1', '-J']).stdout) as { error?: string; end: { sum: { packets: number } } };
    expect(udp.error).toBeUndefined();
    expect(udp.end.sum.packets).toBeGreaterThan(300);
    expect(shIn(lab.ns('sv-pc'), "printf 'lab echo\\n' | nc -N 10.5.0.1 7").toString()).toBe('lab echo\n');
    expect(shIn(lab.ns('sv-pc'), "printf '\\n' | nc -u -w1 10.5.0.1 37").length).toBe(4);
    const show = lab.cli(['show', 'iperf3', '--lab', lab.file]);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/last test from \[fd00:5::10\]:\d+: udp, 1 stream\(s\), clientSends; completed/);
  });
});
