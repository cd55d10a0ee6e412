/**
 * labs/subnets.yaml, the commands of its labs/README.md section: three departments on /26 and /27 subnets of one
 * /24, a router firewall between them (web allowed, the database port rejected, ping dropped by the policy, each
 * counted in `show firewall`), and a host firewall (nftables in sn-db's namespace) for what the router never sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

describe('labs/subnets.yaml: subnetting, a segmenting firewall and a host firewall', () => {
  let lab: LabProcess;
  const nc = (from: string, port: number): string => {
    const r = inNetns(lab.ns(from), 'nc', ['-zv', '-w', '2', '10.50.0.130', String(port)]);
    return r.stdout + r.stderr;
  };
  beforeAll(async () => {
    lab = await startLab('labs/subnets.yaml');
  });
  afterAll(() => lab && cleanupLab(lab));

  it('a /26 is on-link only up to .63: sales is reached through the router', () => {
    expect(inNetns(lab.ns('sn-eng'), 'ip', ['route']).stdout).toMatch(/10\.50\.0\.0\/26 dev eth0/);
    const trace = inNetns(lab.ns('sn-eng'), 'traceroute', ['-n', '10.50.0.70']).stdout;
    expect(trace).toMatch(/1\s+10\.50\.0\.1 /);
    expect(trace).toMatch(/2\s+10\.50\.0\.70 /);
  });

  it('the router firewall: :80 allowed, :3306 rejected, ping dropped; each counted', async () => {
    // sn-db's web server was started by the lab (run:); it may still be starting.
    const deadline = Date.now() + 10_000;
    while (!/:80 /.test(inNetns(lab.ns('sn-db'), 'ss', ['-tln']).stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const web = inNetns(lab.ns('sn-eng'), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://10.50.0.130/']);
    expect(web.stdout).toBe('200');
    expect(nc('sn-eng', 3306)).toMatch(/Connection refused/);
    expect(inNetns(lab.ns('sn-eng'), 'ping', ['-c', '1', '-W', '1', '10.50.0.130']).stdout).toContain('0 received');
    expect(inNetns(lab.ns('sn-eng'), 'ping', ['-c', '1', '-W', '1', '10.50.0.129']).stdout).toContain('1 received'); // the router itself answers
    const fw = lab.cli(['show', 'firewall', '--lab', lab.file]).stdout;
    expect(fw).toMatch(/chain forward \(policy drop: [1-9]\d* packets/);
    expect(fw).toMatch(/3\s+[1-9]\d*\s+\d+\s+out data tcp dport 80 accept/);
    expect(fw).toMatch(/4\s+[1-9]\d*\s+\d+\s+out data tcp dport 3306 reject/);
  });

  it('ss inside sn-db lists what listens; inside its subnet, 3306 is open to anyone', () => {
    const ss = inNetns(lab.ns('sn-db'), 'ss', ['-tlnp']).stdout;
    expect(ss).toMatch(/0\.0\.0\.0:3306 .*"nc"/);
    expect(ss).toMatch(/10\.50\.0\.130:80 .*"python3"/);
    expect(nc('sn-guest', 3306)).toMatch(/succeeded/);
  });

  it('a host firewall in sn-db: 3306 for the app server only', () => {
    const nft = (args: string[]): void => {
      const r = inNetns(lab.ns('sn-db'), 'nft', args);
      expect(r.status, r.stderr).toBe(0);
    };
    nft(['add', 'table', 'inet', 'host']);
    nft(['add', 'chain', 'inet', 'host', 'input', '{ type filter hook input priority 0; policy accept; }']);
    nft(['add', 'rule', 'inet', 'host', 'input', 'tcp', 'dport', '3306', 'ip', 'saddr', '!=', '10.50.0.140', 'counter', 'reject', 'with', 'tcp', 'reset']);
    expect(nc('sn-guest', 3306)).toMatch(/Connection refused/);
    expect(nc('sn-app', 3306)).toMatch(/succeeded/);
    expect(inNetns(lab.ns('sn-db'), 'nft', ['list', 'chain', 'inet', 'host', 'input']).stdout).toMatch(/counter packets 1 bytes \d+ reject with tcp reset/);
  });
});
