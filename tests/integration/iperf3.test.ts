/**
 * Debian's iperf3 client (3.12) against tapnet's iperf3 server, inside the
 * test's namespace: TCP, -R, -P, --bidir, -n, -l/-w, UDP with -b (both ways),
 * IPv6, a second client while one runs (busy), what `tapnet show tcp` shows
 * during a test, and bad clients (garbage, a huge or broken JSON block, a data
 * connection with no test), each followed by a test that still works.
 *
 * Every figure iperf3 prints is checked against a count taken inside tapnet:
 * the server's stream counters (`tapnet show iperf3 --json`), the TCP
 * connection's own byte counts, and the stack's counters.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { controlRequest } from '../../src/runtime/control.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';

const V4 = '10.77.0.1';
const V6 = 'fd77::1';

interface IperfJson {
  error?: string;
  start: { test_start: { num_streams: number; reverse: number } };
  end: {
    streams: { sender?: { bytes: number; retransmits?: number; sender: boolean }; receiver?: { bytes: number }; udp?: { bytes: number; packets: number; lost_packets: number; jitter_ms: number; sender: boolean } }[];
    sum_sent?: { bytes: number; retransmits?: number; seconds: number };
    sum_received?: { bytes: number; seconds: number; bits_per_second: number };
    sum?: { bytes: number; packets: number; lost_packets: number; lost_percent: number; jitter_ms: number; bits_per_second: number };
    sum_sent_bidir_reverse?: { bytes: number };
    sum_received_bidir_reverse?: { bytes: number };
  };
  server_output_json?: { end: { streams: { tcp: { tcp_info: { snd_cwnd: number; rtt_us: number; rto_ms: number; retransmits: number; sack_blocks_received: number } } }[] } };
}

interface StreamStatus {
  id: number;
  sender: boolean;
  bytes: number;
  connection?: { bytesSent: number; bytesReceived: number };
}
interface Iperf3Status {
  busy: boolean;
  last?: { outcome: string; streams: StreamStatus[] };
}

/** `iperf3 -c ... -J` in the namespace without blocking the event loop. */
function iperf3(ns: string, args: readonly string[], timeoutMs = 30_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'iperf3', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function iperf3Json(ns: string, args: readonly string[]): Promise<IperfJson> {
  const r = await iperf3(ns, [...args, '-J']);
  const json = JSON.parse(r.stdout) as IperfJson;
  expect(json.error, `iperf3 ${args.join(' ')}: ${json.error}`).toBeUndefined();
  expect(r.status).toBe(0);
  return json;
}

/** A Python socket client in the namespace: connect to 5201, send `hexBytes`, print what came back (hex) and how it ended. */
function rawClient(ns: string, host: string, hexBytes: string, waitSeconds = 3): string {
  const code = [
    'import socket,sys,binascii',
    `s=socket.create_connection(("${host}",5201),timeout=${waitSeconds})`,
    `s.sendall(binascii.unhexlify("${hexBytes}"))`,
    'got=b""',
    'try:',
    '  while True:',
    '    d=s.recv(4096)',
    '    if not d: break',
    '    got+=d',
    'except Exception as e: got+=b"|"+type(e).__name__.encode()',
    'print(binascii.hexlify(got.split(b"|")[0]).decode(), (b"|"+got.split(b"|",1)[1]).decode() if b"|" in got else "closed")',
  ].join('\n');
  const r = inNetns(ns, PYTHON, ['-c', code], { timeoutMs: 20_000 });
  return r.stdout.trim();
}

const COOKIE_HEX = Buffer.from('abcdefghijklmnopqrstuvwxyz234567abcd\0', 'latin1').toString('hex');

describe('iperf3 against tapnet', () => {
  let t: TapnetProcess;

  beforeAll(async () => {
    t = await startTapnet();
    // The kernel end's SLAAC address must be usable before the IPv6 test (DAD).
    for (let i = 0; i < 50 && !/inet6 fd77:.*scope global(?! tentative)/.test(inNetns(t.netns, 'ip', ['-6', 'addr', 'show', 'dev', t.tap]).stdout); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  /** `tapnet show iperf3 --json`, asked on the control socket directly (the CLI's start-up costs seconds on a busy machine). */
  const status = async (): Promise<Iperf3Status> => {
    const reply = await controlRequest(join(t.runDir, `${t.tap}.sock`), { command: 'show', args: ['iperf3', 'json'] });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result as Iperf3Status;
  };

  it('TCP: iperf3 -c, and its figures match what tapnet counted', async () => {
    const before = t.stats();
    const j = await iperf3Json(t.netns, ['-c', V4, '-t', '2']);
    const last = (await status()).last!;
    expect(last.outcome).toBe('completed');
    // The receiver's figure iperf3 prints is the server's count, exactly.
    expect(j.end.sum_received!.bytes).toBe(last.streams[0]!.bytes);
    expect(t.stats().iperf3BytesReceived! - (before.iperf3BytesReceived ?? 0)).toBe(last.streams[0]!.bytes);
    // The client's own count of what it sent agrees with the TCP connection's count inside tapnet
    // (within what was still in flight when the client said TEST_END).
    const tcpReceived = last.streams[0]!.connection?.bytesReceived ?? last.streams[0]!.bytes;
    expect(tcpReceived).toBeGreaterThanOrEqual(last.streams[0]!.bytes);
    expect(last.streams[0]!.bytes / j.end.sum_sent!.bytes).toBeGreaterThan(0.9);
    expect(j.end.sum_received!.bits_per_second).toBeGreaterThan(10e6);
  });

  it('TCP -R -P 4 with --get-server-output: four streams from tapnet, each with cwnd, srtt, rto, retransmits, SACK blocks', async () => {
    const j = await iperf3Json(t.netns, ['-c', V4, '-t', '2', '-R', '-P', '4', '--get-server-output']);
    expect(j.start.test_start).toMatchObject({ num_streams: 4, reverse: 1 });
    expect(j.end.streams).toHaveLength(4);
    for (const s of j.end.streams) expect(s.receiver!.bytes).toBeGreaterThan(0);
    expect(typeof j.end.sum_sent!.retransmits).toBe('number'); // tapnet reports its retransmits as the sender
    const last = (await status()).last!;
    expect(last.streams.map((s) => s.sender)).toEqual([true, true, true, true]);
    expect(j.end.sum_sent!.bytes).toBe(last.streams.reduce((a, s) => a + s.bytes, 0));
    // Sanity against the TCP layer: what the connections sent covers what the streams counted.
    for (const s of last.streams) if (s.connection) expect(s.connection.bytesSent).toBeGreaterThanOrEqual(s.bytes);
    const infos = j.server_output_json!.end.streams.map((s) => s.tcp.tcp_info);
    expect(infos).toHaveLength(4);
    for (const i of infos) {
      expect(i.snd_cwnd).toBeGreaterThan(0);
      expect(i.rtt_us).toBeGreaterThan(0);
      expect(i.rto_ms).toBeGreaterThanOrEqual(200);
      expect(i.retransmits).toBeGreaterThanOrEqual(0);
      expect(i.sack_blocks_received).toBeGreaterThanOrEqual(0);
    }
  });

  it('TCP -n, -l and -w; and --bidir', async () => {
    const n = await iperf3Json(t.netns, ['-c', V4, '-n', '20M', '-l', '16K', '-w', '512K']);
    expect(n.end.sum_sent!.bytes).toBe(20 * 1024 * 1024);
    expect(n.end.sum_received!.bytes).toBeGreaterThan(0.9 * 20 * 1024 * 1024);
    const b = await iperf3Json(t.netns, ['-c', V4, '-t', '1', '--bidir']);
    expect(b.end.sum_received!.bytes).toBeGreaterThan(0);
    expect(b.end.sum_received_bidir_reverse!.bytes).toBeGreaterThan(0);
    expect((await status()).last!.streams.map((s) => s.sender)).toEqual([false, true]);
  });

  it('UDP -u -b 20M: the rate, no loss on a clean TAP, jitter from RFC 1889 smoothing; and -R', async () => {
    const u = await iperf3Json(t.netns, ['-c', V4, '-u', '-b', '20M', '-t', '2']);
    const sum = u.end.sum!;
    expect(sum.bits_per_second).toBeGreaterThan(18e6);
    expect(sum.bits_per_second).toBeLessThan(22e6);
    expect(sum.lost_percent).toBeLessThan(2);
    expect(sum.jitter_ms).toBeGreaterThanOrEqual(0);
    expect(sum.jitter_ms).toBeLessThan(10);
    expect(t.stats().iperf3UdpInDatagrams).toBeGreaterThanOrEqual(sum.packets - sum.lost_packets);
    const r = await iperf3Json(t.netns, ['-c', V4, '-u', '-b', '10M', '-t', '1', '-R']);
    expect(r.end.sum!.bits_per_second).toBeGreaterThan(8e6);
    expect(r.end.sum!.bits_per_second).toBeLessThan(12e6);
    expect(r.end.sum!.lost_percent).toBeLessThan(2);
    expect((await status()).last!.streams[0]!.sender).toBe(true);
  });

  it('the small services are off by default', () => {
    expect(inNetns(t.netns, 'nc', ['-z', '-w', '2', V4, '7']).status).not.toBe(0);
  });

  it('IPv6: TCP and UDP to fd77::1', async () => {
    const tcp = await iperf3Json(t.netns, ['-c', V6, '-t', '1']);
    expect(tcp.end.sum_received!.bytes).toBeGreaterThan(0);
    const udp = await iperf3Json(t.netns, ['-c', V6, '-u', '-b', '5M', '-t', '1', '-R']);
    expect(udp.end.sum!.packets).toBeGreaterThan(300);
    expect(udp.end.sum!.lost_percent).toBeLessThan(2);
  });

  it('a second client while a test runs: "the server is busy running a test"; show tcp lists the streams meanwhile', async () => {
    const before = t.stats().iperf3AccessDenied ?? 0;
    const first = iperf3(t.netns, ['-c', V4, '-t', '3', '-P', '2', '-b', '500M']);
    await new Promise((r) => setTimeout(r, 1000));
    // Straight to the control socket: the CLI's own start-up (tsx) can take longer than the test on a busy machine.
    const reply = await controlRequest(join(t.runDir, `${t.tap}.sock`), { command: 'show', args: ['tcp'] });
    const tcp = reply.ok ? (reply.result as string) : reply.error;
    const second = await iperf3(t.netns, ['-c', V4, '-t', '1']);
    expect(second.stdout + second.stderr).toContain('the server is busy running a test');
    expect(tcp).toMatch(/cwnd\s+ssthresh\s+srtt\s+rttvar\s+rto\s+inflight\s+retrans\s+sack/);
    expect(tcp.split('\n').filter((l) => /^ESTABLISHED\s+10\.77\.0\.1:5201/.test(l)).length, tcp).toBeGreaterThanOrEqual(3); // control + 2 streams
    expect((await first).status).toBe(0);
    expect(t.stats().iperf3AccessDenied).toBe(before + 1);
  });

  it('bad clients are closed with a counter, and the next test works', async () => {
    const before = t.stats();
    // Garbage instead of a cookie: closed, nothing sent back.
    expect(rawClient(t.netns, V4, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789').toString('hex'))).toBe('closed');
    // A cookie, then a JSON block claiming 16 MB: PARAM_EXCHANGE, then SERVER_ERROR with IERECVPARAMS (114).
    expect(rawClient(t.netns, V4, COOKIE_HEX + '01000000')).toBe('09fe0000007200000000 closed');
    // A cookie, then 4 bytes of length and text that is not JSON.
    expect(rawClient(t.netns, V4, COOKIE_HEX + '00000004' + Buffer.from('{{{{').toString('hex'))).toBe('09fe0000007200000000 closed');
    // A UDP "stream" when no test runs: dropped.
    inNetns(t.netns, PYTHON, ['-c', `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"9876", ("${V4}", 5201))`]);
    await new Promise((r) => setTimeout(r, 300));
    const after = t.stats();
    expect(after.iperf3InBadCookie! - (before.iperf3InBadCookie ?? 0)).toBe(1);
    expect(after.iperf3InJsonTooLong! - (before.iperf3InJsonTooLong ?? 0)).toBe(1);
    expect(after.iperf3InBadJson! - (before.iperf3InBadJson ?? 0)).toBe(1);
    expect(after.iperf3InStrayStreams! - (before.iperf3InStrayStreams ?? 0)).toBe(1);
    expect(t.output()).toMatch(/iperf3: 10\.77\.0\.2:\d+ opened with .*GET \/ HTTP\/1\.1.*, not an iperf3 cookie; closed/);
    expect((await status()).busy).toBe(false);
    const j = await iperf3Json(t.netns, ['-c', V4, '-t', '1']);
    expect(j.end.sum_received!.bytes).toBeGreaterThan(0);
  });
});
