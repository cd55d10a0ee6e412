/**
 * labs/vpc.yaml, the commands of its labs/README.md section: a VPC's public and private subnets, an internet
 * gateway (1:1 elastic IPs) and a NAT gateway (many-to-one), a security group (stateful, on the instance) and a
 * network ACL (stateless, ordered, on the subnet), a bastion; `ss -tlnp` inside, nmap from outside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';
import { tcpdumpDuring } from './lab-lessons.js';

/** nmap's port lines as { "22/tcp": "filtered", ... }. */
function nmap(ns: string, target: string): Record<string, string> {
  const out = inNetns(ns, 'nmap', ['-Pn', '-n', '-p', '22,80,3306,9090', target], { timeoutMs: 60_000 }).stdout;
  return Object.fromEntries([...out.matchAll(/^(\d+\/tcp)\s+(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('labs/vpc.yaml: subnets, gateways, security group vs network ACL', () => {
  let lab: LabProcess;
  beforeAll(async () => {
    lab = await startLab('labs/vpc.yaml');
    // The instances' services and vpc-web's security group come from the lab's run: (asynchronous).
    const deadline = Date.now() + 15_000;
    const listening = (ns: string, n: number): boolean => (inNetns(lab.ns(ns), 'ss', ['-tln']).stdout.match(/LISTEN/g) ?? []).length >= n;
    const ready = (): boolean =>
      listening('vpc-web', 4) && listening('vpc-db', 4) && listening('vpc-bastion', 1) && listening('vpc-inet', 1) && /table inet sg/.test(inNetns(lab.ns('vpc-web'), 'nft', ['list', 'ruleset']).stdout);
    while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(() => lab && cleanupLab(lab));

  it('inside, the web instance listens on 22, 80, 3306 and 9090; from the internet only 80 is open (security group)', () => {
    const ss = inNetns(lab.ns('vpc-web'), 'ss', ['-tlnp']).stdout;
    for (const port of [22, 80, 3306, 9090]) expect(ss).toMatch(new RegExp(`0\\.0\\.0\\.0:${port} `));
    expect(nmap(lab.ns('vpc-inet'), '198.51.100.10')).toEqual({ '22/tcp': 'filtered', '80/tcp': 'open', '3306/tcp': 'filtered', '9090/tcp': 'filtered' });
  });

  it('the network ACL: from the web instance only 3306 of the database is open', () => {
    expect(nmap(lab.ns('vpc-web'), '10.0.0.70')).toEqual({ '22/tcp': 'filtered', '80/tcp': 'filtered', '3306/tcp': 'open', '9090/tcp': 'filtered' });
  });

  it('the bastion: SSH from the internet to it, and from it to the private database and the web instance', () => {
    expect(inNetns(lab.ns('vpc-inet'), 'nc', ['-w', '2', '198.51.100.11', '22']).stdout).toContain('SSH-2.0-OpenSSH_9.2 vpc-bastion');
    expect(inNetns(lab.ns('vpc-bastion'), 'nc', ['-w', '2', '10.0.0.70', '22']).stdout).toContain('SSH-2.0-OpenSSH_9.2 vpc-db');
    expect(inNetns(lab.ns('vpc-bastion'), 'nc', ['-w', '2', '10.0.0.10', '22']).stdout).toContain('SSH-2.0-OpenSSH_9.2 vpc-web');
  });

  it('out: the web instance leaves as its own elastic IP, the private database as the NAT gateway; the internet cannot reach it', async () => {
    const curl = (ns: string): string => inNetns(lab.ns(ns), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://198.51.100.50:8000/']).stdout;
    const fromDb = await tcpdumpDuring(lab.ns('vpc-inet'), ['-lni', 'eth0', 'tcp port 8000'], () => expect(curl('vpc-db')).toBe('200'));
    expect(fromDb).toMatch(/198\.51\.100\.20\.\d+ > 198\.51\.100\.50\.8000: Flags \[S\]/);
    const fromWeb = await tcpdumpDuring(lab.ns('vpc-inet'), ['-lni', 'eth0', 'tcp port 8000'], () => expect(curl('vpc-web')).toBe('200'));
    expect(fromWeb).toMatch(/198\.51\.100\.10\.\d+ > 198\.51\.100\.50\.8000: Flags \[S\]/);
    const ping = inNetns(lab.ns('vpc-inet'), 'ping', ['-c', '1', '-W', '1', '10.0.0.70']);
    expect(ping.stdout + ping.stderr).toMatch(/Network is unreachable/);
    // Stateless: the answers to the database's own connection came in by the ephemeral-port rule, counted.
    const acl = lab.cli(['show', 'firewall', '--lab', lab.file, '--node', lab.node('natgw')]).stdout;
    expect(acl).toMatch(/4\s+[1-9]\d*\s+\d+\s+out priv tcp dport 32768-60999 accept/);
    expect(acl).toMatch(/2\s+[1-9]\d*\s+\d+\s+out priv from 10\.0\.0\.10 tcp dport 3306 accept/);
    expect(lab.cli(['show', 'conntrack', '--lab', lab.file, '--node', lab.node('igw')]).stdout).toMatch(/SNAT/);
  });
});
