/**
 * tapnet's TCP against Linux: curl downloads and uploads checked by hash
 * (also with `nft ... numgen random mod 100 < 3 drop` on the kernel side),
 * tapnet connecting out to `nc -l`, `dig +tcp`, 1000 concurrent connections,
 * and blind RST/SYN/data injection from scapy (RFC 5961).
 *
 * Size: TAPNET_TCP_IT_MB (default 256, as the issue asks) for every transfer,
 * clean and under loss; set it lower for a quick local run. The IPv6 transfers
 * (the same offload path: TSO, partial checksums, gathered payload) move
 * IPV6_MB (at most 64 MiB) each way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';

const MB = Number(process.env.TAPNET_TCP_IT_MB ?? 256);
const IPV6_MB = Math.min(MB, 64);
const SERVER = '10.77.0.1';
/** tapnet's address on the default --subnet6 (fd77::/64); the kernel end takes one by SLAAC. */
const SERVER6 = '[fd77::1]';

/** Waits (up to 20 s) until the kernel end has a global IPv6 address that finished DAD. */
async function kernelIpv6Ready(t: TapnetProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap, 'scope', 'global']);
    if (r.stdout.split('\n').some((l) => /inet6 fd77:/.test(l) && !/tentative/.test(l))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the kernel end got no SLAAC address');
}

function patternSha256(n: number): string {
  const period = Buffer.alloc(251 * 256);
  for (let i = 0; i < period.length; i++) period[i] = i % 251;
  const h = createHash('sha256');
  let left = n;
  while (left > 0) {
    const piece = left >= period.length ? period : period.subarray(0, left);
    h.update(piece);
    left -= piece.length;
  }
  return h.digest('hex');
}

/** Runs a command in the namespace without blocking the event loop (tapnet runs in a child, but vitest's timers must tick). */
function inNetnsAsync(ns: string, command: string, args: readonly string[], timeoutMs = 120_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('TCP and HTTP against the Linux kernel', () => {
  let t: TapnetProcess;
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-tcp-'));

  beforeAll(async () => {
    t = await startTapnet();
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('curl GET / shows the status page', async () => {
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '10', `http://${SERVER}/`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('== interfaces ==');
    expect(r.stdout).toContain('== tcp ==');
    expect(r.stdout).toMatch(/ESTABLISHED +10\.77\.0\.1:80 +10\.77\.0\.2:\d+/);
  });

  it(`curl downloads ${MB} MiB from /bytes/N byte-exact`, async () => {
    const n = MB * 1024 * 1024;
    const file = join(dir, 'down.bin');
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '120', '-o', file, '-w', '%{http_code} %{size_download} %{speed_download}', `http://${SERVER}/bytes/${n}`]);
    expect(r.status, r.stderr).toBe(0);
    const [code, size] = r.stdout.split(' ');
    expect(code).toBe('200');
    expect(Number(size)).toBe(n);
    const sum = spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(sum).toBe(patternSha256(n));
  });

  it(`curl uploads ${MB} MiB to POST /sha256 and gets the right hash back`, async () => {
    const n = MB * 1024 * 1024;
    const file = join(dir, 'up.bin');
    const data = randomBytes(n);
    writeFileSync(file, data);
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '120', '-H', 'Expect:', '--data-binary', `@${file}`, `http://${SERVER}/sha256`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('used offload for those transfers: 64 KB segments both ways, kernel MTU still 1500', () => {
    const stats = t.stats();
    // The kernel handed us GSO super-frames (TSO towards us) and took ours whole (TSO from us).
    expect(stats.vnetInGsoFrames).toBeGreaterThan(0);
    expect(stats.vnetOutTsoFrames).toBeGreaterThan(0);
    expect(stats.vnetOutPartialCsum).toBeGreaterThan(0);
    expect(stats.TcpInCsumErrors ?? 0).toBe(0);
    expect(inNetns(t.netns, 'ip', ['link', 'show', t.tap]).stdout).toContain('mtu 1500');
  });

  it(`IPv6: curl -g downloads and uploads ${IPV6_MB} MiB byte-exact, the download as TSO super-frames with partial checksums`, async () => {
    await kernelIpv6Ready(t);
    const n = IPV6_MB * 1024 * 1024;
    const down = join(dir, 'down6.bin');
    const before = t.stats();
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '120', '-g', '-o', down, '-w', '%{http_code} %{size_download}', `http://${SERVER6}/bytes/${n}`]);
    const after = t.stats();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`200 ${n}`);
    expect(spawnSync('sha256sum', [down], { encoding: 'utf8' }).stdout.split(' ')[0]).toBe(patternSha256(n));
    // Sent over IPv6 the way IPv4 sends: 64 KB segments the kernel cuts (TCPV6), checksums it finishes.
    expect(after.vnetOutTsoFrames! - (before.vnetOutTsoFrames ?? 0)).toBeGreaterThan(0);
    expect(after.vnetOutPartialCsum! - (before.vnetOutPartialCsum ?? 0)).toBeGreaterThan(0);
    const up = join(dir, 'up6.bin');
    const data = randomBytes(n);
    writeFileSync(up, data);
    const u = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '120', '-g', '-H', 'Expect:', '--data-binary', `@${up}`, `http://${SERVER6}/sha256`]);
    expect(u.status, u.stderr).toBe(0);
    expect(u.stdout.trim()).toBe(createHash('sha256').update(data).digest('hex'));
    expect(t.stats().TcpInCsumErrors ?? 0).toBe(0);
  });

  it('keep-alive and several requests on one connection (curl reuses it)', async () => {
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '10', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects}\n', `http://${SERVER}/bytes/1000`, `http://${SERVER}/bytes/2000`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['1', '0']);
  });

  it('answers a POST whose client half-closes after the body (`nc -N`)', async () => {
    // nc -N shuts down its sending side once stdin ends: the FIN follows the body (RFC 9293 §3.6 half-close).
    const request = 'POST /sha256 HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 5\\r\\n\\r\\nhello';
    const r = await inNetnsAsync(t.netns, 'sh', ['-c', `printf '${request}' | timeout 10 nc -N ${SERVER} 80`], 15_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.stdout).toContain('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n'); // sha256("hello")
  });

  it('negotiates ECN when the kernel asks (net.ipv4.tcp_ecn = 1 in the namespace), and the download is exact', async () => {
    const before = t.stats().tcpEcnNegotiated ?? 0;
    expect(inNetns(t.netns, 'sysctl', ['-qw', 'net.ipv4.tcp_ecn=1']).status).toBe(0);
    try {
      const n = 2_000_000;
      const file = join(dir, 'ecn.bin');
      const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '30', '-o', file, `http://${SERVER}/bytes/${n}`]);
      expect(r.status, r.stderr).toBe(0);
      expect(spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.split(' ')[0]).toBe(patternSha256(n));
      expect((t.stats().tcpEcnNegotiated ?? 0) - before).toBe(1);
    } finally {
      inNetns(t.netns, 'sysctl', ['-qw', 'net.ipv4.tcp_ecn=2']);
    }
  });

  describe('with 3% loss on the kernel side (nft numgen)', () => {
    beforeAll(() => {
      const rules = join(dir, 'loss.nft');
      writeFileSync(
        rules,
        [
          'table inet tapnetloss {',
          '  chain in { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 3 drop; }',
          '  chain out { type filter hook output priority 0; meta l4proto tcp numgen random mod 100 < 3 drop; }',
          '}',
          '',
        ].join('\n'),
      );
      const r = inNetns(t.netns, 'nft', ['-f', rules]);
      expect(r.status, r.stderr).toBe(0);
    });
    afterAll(() => {
      inNetns(t.netns, 'nft', ['delete', 'table', 'inet', 'tapnetloss']);
    });

    it('download and upload still arrive byte-exact', async () => {
      const n = MB * 1024 * 1024;
      const down = join(dir, 'down-loss.bin');
      const before = t.stats();
      const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '300', '-o', down, `http://${SERVER}/bytes/${n}`], 320_000);
      expect(r.status, r.stderr).toBe(0);
      expect(spawnSync('sha256sum', [down], { encoding: 'utf8' }).stdout.split(' ')[0]).toBe(patternSha256(n));
      const up = join(dir, 'up-loss.bin');
      const data = randomBytes(n);
      writeFileSync(up, data);
      const u = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '300', '-H', 'Expect:', '--data-binary', `@${up}`, `http://${SERVER}/sha256`], 320_000);
      expect(u.status, u.stderr).toBe(0);
      expect(u.stdout.trim()).toBe(createHash('sha256').update(data).digest('hex'));
      const after = t.stats();
      const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
      expect(delta('TcpRetransSegs'), JSON.stringify(after)).toBeGreaterThan(10);
      // Our sender recovered with SACK. (nft drops in the kernel's output hook are local drops that Linux simply
      // sends again, so the kernel-to-tapnet direction sees few holes on the wire.)
      expect(delta('TcpExtTCPSackRecovery')).toBeGreaterThan(0);
    }, 700_000);
  });

  it('tapnet connects out to `nc -l` in the namespace, both directions', async () => {
    const out = join(dir, 'nc.out');
    const nc = spawn('ip', ['netns', 'exec', t.netns, 'sh', '-c', `printf 'hello from nc\\n' | timeout 20 nc -l -N 9000 > ${out}`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => nc.on('exit', resolve));
    // nc needs a moment to listen; tapnet retries are not part of the test.
    for (let i = 0; i < 50 && inNetns(t.netns, 'ss', ['-ltn', 'sport = :9000']).stdout.split('\n').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = t.cli(['connect', '10.77.0.2', '9000', '--send', '1000000']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { sent: number; received: number; head: string; error?: string };
    expect(result.error).toBeUndefined();
    expect(result.sent).toBe(1_000_000);
    expect(result.head).toBe('hello from nc\n');
    await exited;
    const sum = spawnSync('sha256sum', [out], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(sum).toBe(patternSha256(1_000_000));
  });

  it('dig +tcp gets answers over DNS-over-TCP on port 53', async () => {
    const r = await inNetnsAsync(t.netns, 'dig', ['+tcp', '+time=3', '+tries=1', `@${SERVER}`, 'lab', 'SOA']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('status: NOERROR');
    expect(r.stdout).toContain('(TCP)');
  });

  it('1000 concurrent connections, all held open, each served', async () => {
    const r = await inNetnsAsync(t.netns, PYTHON, [join(import.meta.dirname, 'tcp-many.py'), SERVER, '80', '1000', '5000'], 120_000);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { connected: number; ok: number; failed: number };
    expect(result).toMatchObject({ connected: 1000, ok: 1000, failed: 0 });
  }, 150_000);

  it('blind RST, SYN and data injection (scapy) is challenged or ignored; the connection survives', async () => {
    const before = t.stats();
    const r = await inNetnsAsync(t.netns, PYTHON, [join(import.meta.dirname, 'tcp-blind.py'), SERVER, '80'], 60_000);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true });
    const after = t.stats();
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
    expect(delta('tcpRstChallenged')).toBe(3);
    expect(delta('TcpExtTCPSYNChallenge')).toBe(1);
    expect(delta('tcpAckOutOfRange')).toBe(1);
    expect(delta('tcpInOutOfWindow')).toBeGreaterThanOrEqual(1);
    expect(delta('TcpEstabResets')).toBe(0);
    // The process is still healthy.
    const ping = inNetns(t.netns, 'ping', ['-c', '1', '-W', '2', SERVER]);
    expect(ping.stdout).toContain('1 received');
  });

  it('`tapnet show tcp` lists listeners and connections with cwnd, srtt and rto', () => {
    const r = t.cli(['show', 'tcp']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/LISTEN +\*:80/);
    expect(r.stdout).toMatch(/LISTEN +\*:53/);
    expect(r.stdout).toContain('cwnd');
  });
});

describe('TCP with --no-offload (plain frames, checksums in software)', () => {
  let t: TapnetProcess;
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-tcp-nooff-'));
  const server = '10.79.0.1';

  beforeAll(async () => {
    t = await startTapnet({ subnet: '10.79.0.0/24', extraArgs: ['--no-offload'] });
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it(`curl downloads and uploads ${MB} MiB byte-exact, without a single GSO frame`, async () => {
    const n = MB * 1024 * 1024;
    const down = join(dir, 'down.bin');
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '120', '-o', down, `http://${server}/bytes/${n}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(spawnSync('sha256sum', [down], { encoding: 'utf8' }).stdout.split(' ')[0]).toBe(patternSha256(n));
    const up = join(dir, 'up.bin');
    const data = randomBytes(n);
    writeFileSync(up, data);
    const u = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '120', '-H', 'Expect:', '--data-binary', `@${up}`, `http://${server}/sha256`]);
    expect(u.status, u.stderr).toBe(0);
    expect(u.stdout.trim()).toBe(createHash('sha256').update(data).digest('hex'));
    const stats = t.stats();
    expect(stats.vnetInGsoFrames).toBeUndefined(); // no virtio-net layer at all
    expect(stats.TcpInCsumErrors ?? 0).toBe(0);
  });

  it('IPv6: curl -g downloads 16 MiB byte-exact, segmented and checksummed by tapnet', async () => {
    await kernelIpv6Ready(t);
    const n = 16 * 1024 * 1024;
    const down = join(dir, 'down6.bin');
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '60', '-g', '-o', down, `http://${SERVER6}/bytes/${n}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(spawnSync('sha256sum', [down], { encoding: 'utf8' }).stdout.split(' ')[0]).toBe(patternSha256(n));
  });
});

describe('TCP with --congestion bbr under 3% loss (nft numgen on the kernel side)', () => {
  let t: TapnetProcess;
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-tcp-bbr-'));
  const server = '10.76.0.1';

  beforeAll(async () => {
    t = await startTapnet({ subnet: '10.76.0.0/24', extraArgs: ['--congestion', 'bbr'] });
    const rules = join(dir, 'loss.nft');
    writeFileSync(rules, 'table inet tapnetloss {\n  chain in { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 3 drop; }\n}\n');
    const r = inNetns(t.netns, 'nft', ['-f', rules]);
    expect(r.status, r.stderr).toBe(0);
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it(`curl downloads ${MB} MiB byte-exact from a BBR sender that recovers with SACK`, async () => {
    const n = MB * 1024 * 1024;
    const down = join(dir, 'down.bin');
    const before = t.stats();
    const r = await inNetnsAsync(t.netns, 'curl', ['-sS', '-m', '300', '-o', down, `http://${server}/bytes/${n}`], 320_000);
    expect(r.status, r.stderr).toBe(0);
    expect(spawnSync('sha256sum', [down], { encoding: 'utf8' }).stdout.split(' ')[0]).toBe(patternSha256(n));
    const after = t.stats();
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
    expect(delta('TcpRetransSegs'), JSON.stringify(after)).toBeGreaterThan(10);
    expect(delta('TcpExtTCPSackRecovery')).toBeGreaterThan(0);
  }, 400_000);
});
