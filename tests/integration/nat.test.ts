/**
 * labs/nat.yaml against the real kernel: a LAN namespace reaches an
 * "internet" namespace through a tapnet NAT router. The servers are real
 * (python3 -m http.server, dnsmasq) and their logs say which source address
 * they saw; traceroute and dig's "connection refused" only work when the ICMP
 * errors coming back are translated inside (RFC 5508).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const WEB = '203.0.113.10';
const PUBLIC = '203.0.113.1';

interface Server {
  readonly child: ChildProcess;
  log(): string;
}

/** A long-running command inside a namespace, its output kept as its log. */
function serve(ns: string, command: string, args: readonly string[], cwd: string): Server {
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log };
}

/** dnsmasq answering one name, logging every query with its source (and nothing read from /etc). */
function dnsmasq(ns: string, listen: string, answer: string, cwd: string): Server {
  return serve(
    ns,
    'dnsmasq',
    ['--no-daemon', '--conf-file=/dev/null', '--no-hosts', '--no-resolv', '--pid-file=', '--user=root', '--bind-interfaces', `--listen-address=${listen}`, `--address=/example.test/${answer}`, '--log-queries', '--log-facility=-'],
    cwd,
  );
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** The server's log once it matches `pattern` (spawnSync blocked the event loop that reads it), or as it is after 5 s. */
async function logOf(server: Server, pattern: RegExp): Promise<string> {
  await until(() => pattern.test(server.log()));
  return server.log();
}

describe('labs/nat.yaml: masquerade, port forwards, hairpin and a stateful firewall', () => {
  let lab: LabProcess;
  const servers: Server[] = [];
  let dir = '';
  let web: Server, srv: Server, webDns: Server, srvDns: Server;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapnet-nat-'));
    lab = await startLab('labs/nat.yaml');
    web = serve(lab.ns('nat-web'), PYTHON, ['-u', '-m', 'http.server', '8000', '--bind', WEB], dir);
    srv = serve(lab.ns('nat-srv'), PYTHON, ['-u', '-m', 'http.server', '80'], dir);
    webDns = dnsmasq(lab.ns('nat-web'), WEB, '192.0.2.80', dir);
    srvDns = dnsmasq(lab.ns('nat-srv'), '192.168.77.20', '192.0.2.53', dir);
    servers.push(web, srv, webDns, srvDns);
    await until(() => web.log().includes('Serving HTTP') && srv.log().includes('Serving HTTP') && webDns.log().includes('started') && srvDns.log().includes('started'));
  });

  afterAll(() => {
    for (const s of servers) s.child.kill('SIGKILL');
    if (lab) cleanupLab(lab);
    rmSync(dir, { recursive: true, force: true });
  });

  it('pings the internet from the LAN', () => {
    const r = inNetns(lab.ns('nat-pc'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', WEB]);
    expect(r.stdout, r.stderr).toContain('2 received');
  });

  it('fetches a page; the web server logs the router\'s public address', async () => {
    const r = inNetns(lab.ns('nat-pc'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${WEB}:8000/`]);
    expect(r.stdout, r.stderr).toBe('200');
    const pattern = /^203\.0\.113\.1 - - .*"GET \/ HTTP\/1\.1" 200/m;
    expect(await logOf(web, pattern)).toMatch(pattern);
    expect(web.log()).not.toContain('192.168.77.');
  });

  it('resolves a name over UDP (dig); dnsmasq logs the public address', async () => {
    const r = inNetns(lab.ns('nat-pc'), 'dig', ['+short', '+tries=1', '+time=3', `@${WEB}`, 'example.test']);
    expect(r.stdout.trim(), r.stderr).toBe('192.0.2.80');
    const pattern = /query\[A\] example\.test from 203\.0\.113\.1$/m;
    expect(await logOf(webDns, pattern)).toMatch(pattern);
  });

  // Linux sends at most one port unreachable per second to one address (net.ipv4.icmp_ratelimit), and
  // every LAN client is one address to the far end: each of these tests first lets that second pass.
  it('translates ICMP errors inside: dig sees "connection refused" from a closed port', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const refused = inNetns(lab.ns('nat-pc'), 'dig', ['+tries=1', '+time=3', `@${WEB}`, '-p', '9', 'example.test']);
    expect(refused.stdout + refused.stderr).toMatch(/connection refused/i);
  });

  it('translates ICMP errors inside: traceroute sees the router, then the far end', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const trace = inNetns(lab.ns('nat-pc'), 'traceroute', ['-n', '-q', '1', '-w', '2', WEB], { timeoutMs: 30_000 });
    expect(trace.stdout.split('\n').slice(1, 3).map((l) => /^\s*\d+\s+(\S+)/.exec(l)?.[1]), trace.stdout).toEqual(['192.168.77.1', WEB]);
  });

  it('publishes a LAN web server on the public address (DNAT); it logs the real client', async () => {
    const r = inNetns(lab.ns('nat-web'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${PUBLIC}:8080/`]);
    expect(r.stdout, r.stderr).toBe('200');
    const pattern = /^203\.0\.113\.10 - - .*"GET \/ HTTP\/1\.1" 200/m;
    expect(await logOf(srv, pattern)).toMatch(pattern);
  });

  it('publishes a UDP port too', async () => {
    const r = inNetns(lab.ns('nat-web'), 'dig', ['+short', '+tries=1', '+time=3', `@${PUBLIC}`, '-p', '5353', 'example.test']);
    expect(r.stdout.trim(), r.stderr).toBe('192.0.2.53');
    const pattern = /query\[A\] example\.test from 203\.0\.113\.10$/m;
    expect(await logOf(srvDns, pattern)).toMatch(pattern);
  });

  it('hairpins a LAN client that uses the public address', async () => {
    const r = inNetns(lab.ns('nat-pc'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${PUBLIC}:8080/`]);
    expect(r.stdout, r.stderr).toBe('200');
    const pattern = /^203\.0\.113\.1 - - .*"GET \/ HTTP\/1\.1" 200/m;
    expect(await logOf(srv, pattern)).toMatch(pattern);
  });

  it('shows the connections: tapnet show conntrack', () => {
    const r = lab.cli(['show', 'conntrack', '--lab', lab.file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tcp +6 +\d+ \w+ src=192\.168\.77\.10 dst=203\.0\.113\.10 sport=\d+ dport=8000 .* src=203\.0\.113\.10 dst=203\.0\.113\.1 sport=8000 dport=610\d\d .*\[SNAT\]$/m);
    expect(r.stdout).toMatch(/^tcp .* src=203\.0\.113\.10 dst=203\.0\.113\.1 sport=\d+ dport=8080 .* src=192\.168\.77\.20 dst=203\.0\.113\.10 sport=80 .*\[DNAT\]$/m);
    expect(r.stdout).toMatch(/\[DNAT HAIRPIN\]$/m);
    expect(r.stdout).toMatch(/^udp +17 +\d+ src=192\.168\.77\.10 dst=203\.0\.113\.10 sport=\d+ dport=53 /m);
  });

  it('keeps the internet out (policy drop), rejects a forbidden published port with a RST, and counts it', () => {
    const ping = inNetns(lab.ns('nat-web'), 'ping', ['-c', '1', '-W', '1', '192.168.77.10']);
    expect(ping.stdout).toContain('0 received');
    const started = Date.now();
    const curl = inNetns(lab.ns('nat-web'), 'curl', ['-s', '--max-time', '5', `http://${PUBLIC}:2222/`]);
    expect(curl.status).toBe(7); // "Failed to connect": refused by the RST, not timed out
    expect(Date.now() - started).toBeLessThan(3000);
    const fw = lab.cli(['show', 'firewall', '--lab', lab.file]);
    expect(fw.stdout).toMatch(/^chain forward \(policy drop: [1-9]\d* packets/m);
    expect(fw.stdout).toMatch(/^ +6 +[1-9]\d* +\d+ +in wan to 192\.168\.77\.20 tcp dport 22 reject$/m);
    const stats = lab.stats(lab.node('gw'));
    expect(stats.fwRejected).toBeGreaterThanOrEqual(1);
    expect(stats.fwForwardDropped).toBeGreaterThanOrEqual(2);
  });

  it('survives NAT port exhaustion: new mappings are dropped and counted, everything else keeps working', () => {
    // 300 UDP flows from distinct source ports; the masquerade range holds 100 ports.
    const script =
      'from scapy.all import IP, UDP, send\n' +
      `send([IP(dst="${WEB}")/UDP(sport=20000+i, dport=9)/b"x" for i in range(300)], verbose=0)\n`;
    const r = inNetns(lab.ns('nat-pc'), PYTHON, ['-c', script], { timeoutMs: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const stats = lab.stats(lab.node('gw'));
    expect(stats.natPortExhausted).toBeGreaterThanOrEqual(200);
    expect(stats.natMappings).toBeLessThanOrEqual(100 * 3); // per protocol: ICMP, TCP and UDP each have 100
    expect(inNetns(lab.ns('nat-pc'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', WEB]).stdout).toContain('2 received');
    const curl = inNetns(lab.ns('nat-pc'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${WEB}:8000/`]);
    expect(curl.stdout).toBe('200');
  });

  it('survives a SYN flood that fills the conntrack table: unanswered entries are evicted first', () => {
    // 2000 SYNs from random ports to a published port whose server never answers; the table holds 512.
    const script =
      'from scapy.all import IP, TCP, send, RandShort\n' +
      `send([IP(dst="${PUBLIC}")/TCP(sport=RandShort(), dport=9999, flags="S", seq=i) for i in range(2000)], verbose=0)\n`;
    const r = inNetns(lab.ns('nat-web'), PYTHON, ['-c', script], { timeoutMs: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const stats = lab.stats(lab.node('gw'));
    expect(stats.ctEarlyDrop).toBeGreaterThan(1000);
    expect(stats.ctEntries).toBeLessThanOrEqual(512);
    // Answered connections are never the ones evicted: new flows still get in.
    expect(inNetns(lab.ns('nat-pc'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', WEB]).stdout).toContain('2 received');
    const curl = inNetns(lab.ns('nat-web'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${PUBLIC}:8080/`]);
    expect(curl.stdout).toBe('200');
  });
});
