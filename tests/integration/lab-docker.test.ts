/**
 * labs/docker.yaml, the commands of its labs/README.md section: Docker's default bridge (a tapnet switch,
 * the host's docker0 interface on it), containers as namespaces, masquerade out, `-p 8080:80` as DNAT for the
 * LAN and for the host's own localhost (the OUTPUT hook), a host-mode server, and a user-defined bridge isolated
 * from docker0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';
import { tcpdumpDuring } from './lab-lessons.js';

describe('labs/docker.yaml: docker0, -p 8080:80, host mode and a user-defined bridge', () => {
  let lab: LabProcess;
  const code = (ns: string, url: string): string => inNetns(lab.ns(ns), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', url]).stdout;
  beforeAll(async () => {
    lab = await startLab('labs/docker.yaml');
    // The host's rules and the two web servers come from the lab's run: (asynchronous): wait for them.
    const deadline = Date.now() + 15_000;
    const ready = (): boolean =>
      /dport 8080/.test(inNetns(lab.ns('dk-host'), 'nft', ['list', 'ruleset']).stdout) &&
      /:9000 /.test(inNetns(lab.ns('dk-host'), 'ss', ['-tln']).stdout) &&
      /:80 /.test(inNetns(lab.ns('dk-web'), 'ss', ['-tln']).stdout);
    while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(() => lab && cleanupLab(lab));

  it('-p 8080:80: the host reaches the container at localhost:8080, the LAN at the host address; nothing listens on 8080', () => {
    expect(code('dk-host', 'http://localhost:8080/')).toBe('200');
    expect(code('dk-lanpc', 'http://192.168.60.20:8080/')).toBe('200');
    const ss = inNetns(lab.ns('dk-host'), 'ss', ['-tlnp']).stdout;
    expect(ss).toMatch(/:9000 .*"python3"/);
    expect(ss).not.toMatch(/:8080 /);
    expect(inNetns(lab.ns('dk-host'), 'nft', ['list', 'table', 'ip', 'docker']).stdout).toMatch(/chain output[\s\S]*dnat to 172\.17\.0\.2:80/);
  });

  it('masquerade: the LAN sees a container as the host; it cannot reach a container directly', async () => {
    const seen = await tcpdumpDuring(lab.ns('dk-lanpc'), ['-lni', 'eth0', 'icmp'], () => {
      expect(inNetns(lab.ns('dk-web'), 'ping', ['-c', '1', '192.168.60.10']).stdout).toContain('1 received');
    });
    expect(seen).toMatch(/192\.168\.60\.20 > 192\.168\.60\.10: ICMP echo request/);
    expect(inNetns(lab.ns('dk-lanpc'), 'curl', ['-sS', '--max-time', '2', 'http://172.17.0.2/']).stderr).toMatch(/Failed to connect to 172\.17\.0\.2/);
  });

  it('host mode: a server in the host namespace is on the host address, no NAT', () => {
    expect(code('dk-lanpc', 'http://192.168.60.20:9000/')).toBe('200');
  });

  it('bridges: containers on docker0 talk directly; docker0 and the user-defined bridge are isolated', () => {
    expect(code('dk-app', 'http://172.17.0.2/')).toBe('200');
    expect(inNetns(lab.ns('dk-app'), 'ping', ['-c', '1', '-W', '1', '172.18.0.2']).stdout).toContain('0 received');
    expect(inNetns(lab.ns('dk-api'), 'ping', ['-c', '1', '-W', '1', '192.168.60.10']).stdout).toContain('1 received');
    const mac = lab.cli(['show', 'mac', '--lab', lab.file, '--node', lab.node('docker0')]).stdout;
    expect(mac).toMatch(/ web +age/);
    expect(mac).toMatch(/ app +age/);
  });
});
