/**
 * labs/uplink.yaml: a guest namespace whose router leaves through this
 * machine's own sockets (slirp-style). The guest reaches a web server on this
 * machine's 127.0.0.1 at 10.0.2.2, as a VirtualBox or slirp4netns guest
 * reaches its host; nothing else leaves the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('labs/uplink.yaml: out through the host\'s sockets', () => {
  let lab: LabProcess;
  let web: ChildProcess | undefined;
  let webLog = '';
  let port = 0;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapnet-vm-'));
    port = await freePort();
    web = spawn(PYTHON, ['-u', '-m', 'http.server', String(port), '--bind', '127.0.0.1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    web.stdout!.on('data', (d: Buffer) => (webLog += d.toString()));
    web.stderr!.on('data', (d: Buffer) => (webLog += d.toString()));
    lab = await startLab('labs/uplink.yaml');
  });

  afterAll(() => {
    web?.kill('SIGKILL');
    if (lab) cleanupLab(lab);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the guest pings its gateway and fetches a page from the host\'s loopback at 10.0.2.2', async () => {
    expect(inNetns(lab.ns('up-guest'), 'ping', ['-c', '1', '-W', '2', '10.0.2.2']).stdout).toContain('1 received');
    const r = inNetns(lab.ns('up-guest'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://10.0.2.2:${port}/`]);
    expect(r.stdout, r.stderr).toBe('200');
    const deadline = Date.now() + 5000;
    while (!webLog.includes('"GET / HTTP/1.1" 200') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(webLog).toMatch(/^127\.0\.0\.1 - - .*"GET \/ HTTP\/1\.1" 200/m);
    const uplink = lab.cli(['show', 'uplink', '--lab', lab.file, '--node', lab.node('slirp')]);
    expect(uplink.stdout).toContain('host alias 10.0.2.2 = 127.0.0.1');
    const stats = lab.stats(lab.node('slirp'));
    expect(stats.uplinkTcpConnects).toBe(1);
    // The ping to 10.0.2.2 went to this machine's 127.0.0.1 through a raw ICMP socket, and its answer came back.
    expect([stats.uplinkIcmpEchoOut, stats.uplinkIcmpEchoIn]).toEqual([1, 1]);
  });

  it('a refused host port is refused inside too (RST)', () => {
    const r = inNetns(lab.ns('up-guest'), 'curl', ['-s', '--max-time', '5', 'http://10.0.2.2:1/']);
    expect(r.status).toBe(7);
  });
});
