/**
 * labs/home-nat.yaml against the kernel: two PCs lease addresses with busybox
 * udhcpc from the tapnet router's DHCP server, find each other by name through
 * its DNS server (dig), reach "the internet" through its masquerade (the web
 * host's tcpdump and web server log see only the router's public address),
 * traceroute through it, and the internet reaches the home server through the
 * port forward (curl, the home server's log).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, inNetns, netnsExists } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

/** `python3 -m http.server 80` inside `ns`, its request log collected. */
interface WebServer {
  readonly child: ChildProcess;
  log(): string;
}

function startWebServer(ns: string, address: string, dir: string): WebServer {
  const child = spawn('ip', ['netns', 'exec', ns, PYTHON, '-u', '-m', 'http.server', '80', '--bind', address], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log };
}

/** Waits for a line matching `pattern` in a server's log (it is written after the response). */
async function logLine(server: WebServer, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5000;
  while (!pattern.test(server.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return server.log();
}

/** curl's status code for URL from NS, retried while the server is still starting (connection refused). */
function curlStatus(ns: string, url: string): string {
  let r = inNetns(ns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '--retry', '10', '--retry-connrefused', '--retry-delay', '1', url], { timeoutMs: 30_000 });
  if (r.stdout !== '200') r = inNetns(ns, 'curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', url]);
  return r.stdout || r.stderr;
}

describe('labs/home-nat.yaml: DHCP, DNS, NAT and a port forward behind a home router', () => {
  let lab: LabProcess;
  let dir = '';
  let web: WebServer | undefined;
  let homeServer: WebServer | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapnet-home-nat-'));
    lab = await startLab('labs/home-nat.yaml');
    web = startWebServer(lab.ns('hn-web'), '198.51.100.80', dir);
    homeServer = startWebServer(lab.ns('hn-server'), '192.168.1.10', dir);
  });
  afterAll(() => {
    web?.child.kill('SIGKILL');
    homeServer?.child.kill('SIGKILL');
    if (lab) cleanupLab(lab);
    rmSync(dir, { recursive: true, force: true });
  });

  it('both PCs leased an address from the pool and the router as gateway', () => {
    for (const pc of [lab.ns('hn-laptop'), lab.ns('hn-phone')]) {
      const addr = inNetns(pc, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']).stdout;
      expect(addr, pc).toMatch(/inet 192\.168\.1\.1\d\d\/24/);
      expect(inNetns(pc, 'ip', ['route', 'show', 'default']).stdout, pc).toContain('default via 192.168.1.1 dev eth0');
    }
  });

  it('a PC finds the other PC and the home server by name through the router\'s DNS', () => {
    const phone = /inet (192\.168\.1\.\d+)\//.exec(inNetns(lab.ns('hn-phone'), 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']).stdout)?.[1];
    expect(phone).toBeDefined();
    const dig = (name: string, type = 'A'): string => inNetns(lab.ns('hn-laptop'), 'dig', ['+short', '+time=2', '+tries=2', '@192.168.1.1', name, type]).stdout.trim();
    expect(dig(`${lab.ns('hn-phone')}.home`)).toBe(phone); // a lease's name is the client's host name: its namespace
    expect(dig('hn-server.home')).toBe('192.168.1.10');
    expect(inNetns(lab.ns('hn-laptop'), 'dig', ['+short', '+time=2', '@192.168.1.1', '-x', phone!]).stdout.trim()).toBe(`${lab.ns('hn-phone')}.home.`);
    expect(dig('gateway.home')).toBe('192.168.1.1');
    expect(inNetns(lab.ns('hn-phone'), 'dig', ['+short', '+time=2', '@192.168.1.1', '-x', '192.168.1.10']).stdout.trim()).toBe('hn-server.home.');
    // Answered by tapnet's zone on the router, not forwarded (home-nat has no upstream).
    expect(lab.stats(lab.node('home')).dnsAuthAnswers).toBeGreaterThanOrEqual(4);
  });

  it('tapnet show leases and show dns --lab name the router that serves them; a wrong table lists the right ones', () => {
    const leases = lab.cli(['show', 'leases', '--lab', lab.file]);
    expect(leases.stderr).toBe('');
    expect(leases.stdout).toMatch(/192\.168\.1\.1\d\d/);
    const json = JSON.parse(lab.cli(['show', 'leases', '--json', '--lab', lab.file]).stdout) as unknown[];
    expect(json.length).toBeGreaterThanOrEqual(2);
    const dns = lab.cli(['show', 'dns', '--lab', lab.file]);
    expect(dns.stdout).toContain(lab.ns('hn-phone'));
    const wrong = lab.cli(['show', 'mac', '--lab', lab.file, '--node', lab.node('home')]);
    expect(wrong.status).not.toBe(0);
    const none = lab.cli(['show', 'uplink', '--lab', lab.file]);
    expect(none.stderr).toMatch(new RegExp(`router ${lab.node('home')} has no table 'uplink'; it shows: .*conntrack, nat, firewall, leases, dns`));
  });

  it('the web host sees the router public address, not the PC', async () => {
    const dump = spawn('ip', ['netns', 'exec', lab.ns('hn-web'), 'tcpdump', '-c', '1', '-nli', 'eth0', 'icmp[icmptype] == icmp-echo'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    dump.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    const done = new Promise((r) => dump.on('exit', r));
    await new Promise((r) => setTimeout(r, 1000)); // tcpdump has no readiness signal
    const r = inNetns(lab.ns('hn-laptop'), 'ping', ['-c', '2', '-i', '0.3', '-W', '2', '198.51.100.80']);
    expect(r.stdout).toContain('2 received');
    await Promise.race([done, new Promise((res) => setTimeout(res, 5000))]);
    dump.kill();
    expect(seen).toMatch(/IP 198\.51\.100\.2 > 198\.51\.100\.80: ICMP echo request/);
  });

  it('the web server logs the router public address for a PC\'s request', async () => {
    expect(curlStatus(lab.ns('hn-laptop'), 'http://198.51.100.80/')).toBe('200');
    const log = await logLine(web!, /"GET \/ HTTP\/1\.1" 200/);
    expect(log).toMatch(/^198\.51\.100\.2 - - .*"GET \/ HTTP\/1\.1" 200/m);
    expect(log).not.toMatch(/192\.168\.1\./);
  });

  it('the port forward publishes the home server: 198.51.100.2:8080 from the internet is hn-server:80', async () => {
    expect(curlStatus(lab.ns('hn-web'), 'http://198.51.100.2:8080/')).toBe('200');
    const log = await logLine(homeServer!, /"GET \/ HTTP\/1\.1" 200/);
    expect(log).toMatch(/^198\.51\.100\.80 - - .*"GET \/ HTTP\/1\.1" 200/m);
    // Only the published port is open: another port on the public address is not forwarded.
    expect(inNetns(lab.ns('hn-web'), 'curl', ['-s', '--max-time', '3', 'http://198.51.100.2:8081/']).status).not.toBe(0);
  });

  it('traceroute through the NAT shows the router, then the web host', () => {
    const r = inNetns(lab.ns('hn-phone'), 'traceroute', ['-n', '-w', '2', '-q', '1', '198.51.100.80']);
    const hops = r.stdout.split('\n').slice(1).map((l) => /^\s*\d+\s+(\S+)/.exec(l)?.[1]).filter(Boolean);
    expect(hops, r.stdout).toEqual(['192.168.1.1', '198.51.100.80']);
  });

  it('lab down leaves nothing behind', async () => {
    expect(await lab.down(), lab.output()).toBe(0);
    for (const ns of lab.hosts) expect(netnsExists(ns), ns).toBe(false);
  });
});
