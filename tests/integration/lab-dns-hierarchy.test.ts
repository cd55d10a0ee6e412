/**
 * labs/dns-hierarchy.yaml, the commands of its labs/README.md section: a host
 * whose resolv.conf points at the home router's recursive resolver finds
 * www.example.test through the root, TLD and authoritative tapnet servers
 * (dig, kdig, dig +trace, curl), `show dns` shows the cache and delegations
 * filling, the authority rotates www's two addresses (round robin), recursion
 * is refused outside the allow-list, and unbound, run in the host's namespace
 * against the same root, gets the same answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('labs/dns-hierarchy.yaml: root, TLD, authority and a recursive resolver', () => {
  let lab: LabProcess | undefined;
  const r = (): LabProcess => lab!;
  const pc = (): string => r().ns('dh-pc');
  const showDns = (): string => r().cli(['show', 'dns', '--lab', r().file, '--node', r().node('dh-home')]).stdout;

  beforeAll(async () => {
    lab = await startLab('labs/dns-hierarchy.yaml');
  }, 60_000);

  afterAll(async () => {
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
  });

  it('the lab wrote the host\'s resolv.conf; dig www.example.test resolves through it, RA set, AA clear', () => {
    expect(inNetns(pc(), 'cat', ['/etc/resolv.conf']).stdout).toContain('nameserver 10.1.0.1');
    expect(showDns()).toMatch(/in flight: 0, delegations: 0, cached: 0/);
    const dig = inNetns(pc(), 'dig', ['+time=3', '+tries=1', 'www.example.test']).stdout;
    expect(dig).toMatch(/status: NOERROR/);
    expect(dig).toMatch(/flags: qr rd ra;/);
    expect(dig).toMatch(/www\.example\.test\.\s+300\s+IN\s+A\s+10\.53\.0\.2[12]\n/);
    expect(dig).toContain('SERVER: 10.1.0.1#53');
    // The cache filled: the delegations learned on the way and the answer.
    const show = showDns();
    expect(show).toMatch(/delegation test\. NS ns\.test\. at 10\.53\.0\.3/);
    expect(show).toMatch(/delegation example\.test\. NS ns\.example\.test\. at 10\.53\.0\.4/);
    expect(show).toMatch(/www\.example\.test\. IN A {2}2 records {2}NOERROR/);
    const stats = r().stats(r().node('dh-home'));
    expect(stats.dnsRecReferrals).toBe(2);
    // The second time it is the cache: nothing more sent.
    const sent = stats.dnsRecSent;
    expect(inNetns(pc(), 'kdig', ['+short', 'www.example.test']).stdout.trim().split('\n').sort()).toEqual(['10.53.0.21', '10.53.0.22']);
    expect(r().stats(r().node('dh-home')).dnsRecSent).toBe(sent);
  });

  it('dig +trace walks root → test. → example.test. from the host itself', () => {
    const trace = inNetns(pc(), 'dig', ['+trace', '+time=3', '+tries=1', 'www.example.test'], { timeoutMs: 30_000 }).stdout;
    expect(trace).toMatch(/\.\s+\d+\s+IN\s+NS\s+root-server\.\n;; Received \d+ bytes from 10\.1\.0\.1#53/);
    expect(trace).toMatch(/test\.\s+\d+\s+IN\s+NS\s+ns\.test\.\n;; Received \d+ bytes from 10\.53\.0\.2#53\(root-server\)/);
    expect(trace).toMatch(/example\.test\.\s+\d+\s+IN\s+NS\s+ns\.example\.test\.\n;; Received \d+ bytes from 10\.53\.0\.3#53\(ns\.test\)/);
    expect(trace).toMatch(/www\.example\.test\.\s+\d+\s+IN\s+A\s+10\.53\.0\.2[12]\n[\s\S]*;; Received \d+ bytes from 10\.53\.0\.4#53\(ns\.example\.test\)/);
  });

  it('CNAME chasing, NXDOMAIN with the SOA (cached negatively), round robin at the authority', () => {
    const web = inNetns(pc(), 'dig', ['+time=3', '+tries=1', 'web.example.test']).stdout;
    expect(web).toMatch(/web\.example\.test\.\s+\d+\s+IN\s+CNAME\s+www\.example\.test\./);
    const nx = inNetns(pc(), 'dig', ['+time=3', '+tries=1', 'nothere.example.test']).stdout;
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(nx).toMatch(/example\.test\.\s+\d+\s+IN\s+SOA\s+gateway\.example\.test\./);
    expect(showDns()).toMatch(/nothere\.example\.test\. IN A {2}NXDOMAIN/);
    const order = (): string => inNetns(pc(), 'dig', ['+short', '+time=3', '@10.53.0.4', 'www.example.test']).stdout.trim();
    const first = order();
    const second = order();
    expect(first.split('\n').sort()).toEqual(['10.53.0.21', '10.53.0.22']);
    expect(second).toBe(first.split('\n').reverse().join('\n'));
  });

  it('curl http://www.example.test/ reaches both web servers in turn', () => {
    const got = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const c = inNetns(pc(), 'curl', ['-s', '--max-time', '5', '--retry', '5', '--retry-connrefused', '--retry-delay', '1', 'http://www.example.test/'], { timeoutMs: 30_000 });
      got.add(c.stdout.trim());
    }
    expect([...got].sort()).toEqual(['dh-web1', 'dh-web2']); // each server's name as its run: line gives it
  });

  it('recursion is REFUSED to a client outside the allow-list (a web server asking the wan address)', () => {
    const dig = inNetns(r().ns('dh-web1'), 'dig', ['+time=3', '+tries=1', '@10.53.0.1', 'www.example.test']).stdout;
    expect(dig).toMatch(/status: REFUSED/);
    expect(dig).toMatch(/EDE: 18 \(Prohibited\)/);
  });

  it('unbound in the host namespace, from the same root, gets the same answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapnet-unbound-'));
    let child: ChildProcess | undefined;
    try {
      writeFileSync(join(dir, 'root.hints'), '.  3600 IN NS root-server.\nroot-server. 3600 IN A 10.53.0.2\n');
      writeFileSync(
        join(dir, 'unbound.conf'),
        [
          'server:',
          '  interface: 127.0.0.1',
          '  port: 5399',
          '  do-daemonize: no',
          '  use-syslog: no',
          '  logfile: ""',
          '  username: ""',
          '  chroot: ""',
          `  directory: "${dir}"`,
          `  pidfile: "${join(dir, 'unbound.pid')}"`,
          `  root-hints: "${join(dir, 'root.hints')}"`,
          '  do-ip6: no',
          '  do-not-query-localhost: no',
          '  module-config: "iterator"',
          '  local-zone: "test." nodefault', // unbound answers the RFC 6761 special-use name test. itself by default
          '  verbosity: 0',
          'remote-control:',
          '  control-enable: no',
          '',
        ].join('\n'),
      );
      inNetns(pc(), 'ip', ['link', 'set', 'lo', 'up']);
      child = spawn('ip', ['netns', 'exec', pc(), 'unbound', '-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' });
      const ask = (server: string, port: string, name: string): string =>
        inNetns(pc(), 'dig', ['+short', '+time=3', '+tries=2', '-p', port, `@${server}`, name]).stdout.trim().split('\n').sort().join(' ');
      let theirs = '';
      for (let i = 0; i < 20 && theirs === ''; i++) {
        await sleep(250);
        theirs = ask('127.0.0.1', '5399', 'www.example.test');
      }
      expect(theirs).toBe('10.53.0.21 10.53.0.22');
      expect(ask('10.1.0.1', '53', 'www.example.test')).toBe(theirs);
      expect(ask('127.0.0.1', '5399', 'web.example.test')).toBe(ask('10.1.0.1', '53', 'web.example.test'));
      const status = (server: string, port: string): string =>
        /status: (\w+)/.exec(inNetns(pc(), 'dig', ['+time=3', '+tries=2', '-p', port, `@${server}`, 'nothere.example.test']).stdout)?.[1] ?? '';
      expect(status('127.0.0.1', '5399')).toBe('NXDOMAIN');
      expect(status('10.1.0.1', '53')).toBe('NXDOMAIN');
    } finally {
      if (child?.pid) child.kill('SIGTERM');
      await sleep(200);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
