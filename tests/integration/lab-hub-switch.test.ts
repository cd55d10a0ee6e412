/**
 * labs/hub-switch.yaml, the commands of its labs/README.md section: a hub shows every station every frame; a
 * switch shows a third PC only the broadcasts, until a MAC flood fills its table and the entries of the two
 * PCs that talk age out: then it floods their unicast to everyone, like the hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';
import { background, tcpdumpDuring, type Background } from './lab-lessons.js';

const FLOOD = 'from scapy.all import *; sendp(Ether(src=RandMAC("02:*:*:*:*:*"), dst=RandMAC("02:*:*:*:*:*"))/IP(), iface="eth0", loop=1, inter=0.005, verbose=0)';

describe('labs/hub-switch.yaml: hub vs switch, and the MAC flood', () => {
  let lab: LabProcess;
  let flood: Background | undefined;
  const macOf = (ns: string): string => /link\/ether ([0-9a-f:]{17})/.exec(inNetns(lab.ns(ns), 'ip', ['link', 'show', 'dev', 'eth0']).stdout)![1]!;
  const macTable = (): { mac: string }[] => (JSON.parse(lab.cli(['show', 'mac', '--json', '--lab', lab.file, '--node', lab.node('sw')]).stdout) as Record<string, { mac: string }[]>)[lab.node('sw')]!;
  beforeAll(async () => {
    lab = await startLab('labs/hub-switch.yaml');
  });
  afterAll(async () => {
    await flood?.stop();
    if (lab) cleanupLab(lab);
  });

  it('switch: pc3 sees the ARP broadcast but none of the unicast that follows; the table learnt both PCs', async () => {
    const seen = await tcpdumpDuring(lab.ns('hs-pc3'), ['-lni', 'eth0', 'icmp or arp'], () => {
      expect(inNetns(lab.ns('hs-pc1'), 'ping', ['-c', '2', '-i', '0.2', '10.0.10.2']).stdout).toContain('2 received');
    });
    expect(seen).toMatch(/Request who-has 10\.0\.10\.2 tell 10\.0\.10\.1/);
    expect(seen).not.toMatch(/ICMP echo/);
    expect(seen).not.toMatch(/Reply 10\.0\.10\.2 is-at/);
    const text = lab.cli(['show', 'mac', '--lab', lab.file, '--node', lab.node('sw')]).stdout;
    expect(text).toMatch(/2 entries \(max 64, ageing 10 s\)/);
    expect(macTable().map((e) => e.mac).sort()).toEqual([macOf('hs-pc1'), macOf('hs-pc2')].sort());
    // The attacker starts now; its payoff is checked below, once pc1's and pc2's entries have aged out.
    flood = background(lab.ns('hs-pc3'), PYTHON, ['-c', FLOOD]);
  });

  it('hub: h3 sees the unicast echo requests and replies between h1 and h2', async () => {
    const seen = await tcpdumpDuring(lab.ns('hs-h3'), ['-lni', 'eth0', 'icmp'], () => {
      expect(inNetns(lab.ns('hs-h1'), 'ping', ['-c', '2', '-i', '0.2', '10.0.20.2']).stdout).toContain('2 received');
    });
    expect(seen.match(/10\.0\.20\.1 > 10\.0\.20\.2: ICMP echo request/g)).toHaveLength(2);
    expect(seen.match(/10\.0\.20\.2 > 10\.0\.20\.1: ICMP echo reply/g)).toHaveLength(2);
    const ports = lab.cli(['show', 'ports', '--lab', lab.file, '--node', lab.node('hub')]);
    expect(ports.stdout).toMatch(/repeats every frame/);
    const json = JSON.parse(lab.cli(['show', 'ports', '--json', '--lab', lab.file, '--node', lab.node('hub')]).stdout) as Record<string, { name: string; txFrames: number }[]>;
    const tx = Object.fromEntries(json[lab.node('hub')]!.map((p) => [p.name, p.txFrames]));
    expect(tx.p3).toBeGreaterThanOrEqual(6); // ARP request and reply, 2 requests, 2 replies: all of them
    const mac = lab.cli(['show', 'mac', '--lab', lab.file, '--node', lab.node('hub')]);
    expect(mac.status).not.toBe(0);
    expect(mac.stderr).toMatch(/is a hub: it has no MAC table/);
  });

  it('MAC flood: the table fills, pc1 and pc2 age out and cannot come back, and pc3 sees their unicast', async () => {
    const [pc1, pc2] = [macOf('hs-pc1'), macOf('hs-pc2')];
    // The lesson's wait: the ageing time (10 s) since pc1 and pc2 last spoke.
    const deadline = Date.now() + 25_000;
    let table = macTable();
    while (!(table.length === 64 && !table.some((e) => e.mac === pc1 || e.mac === pc2)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      table = macTable();
    }
    expect(table).toHaveLength(64);
    expect(table.map((e) => e.mac)).not.toContain(pc1);
    const seen = await tcpdumpDuring(lab.ns('hs-pc3'), ['-lni', 'eth0', 'icmp'], () => {
      expect(inNetns(lab.ns('hs-pc1'), 'ping', ['-c', '2', '-i', '0.2', '10.0.10.2']).stdout).toContain('2 received');
    });
    expect(seen).toMatch(/10\.0\.10\.1 > 10\.0\.10\.2: ICMP echo request/);
    const stats = lab.cli(['show', 'stats', '--lab', lab.file, '--node', lab.node('sw')]).stdout;
    expect(Number(/swMacTableFull\s+(\d+)/.exec(stats)?.[1])).toBeGreaterThan(0);
    expect(Number(/swFloodsUnknownUnicast\s+(\d+)/.exec(stats)?.[1])).toBeGreaterThan(0);
    await flood!.stop();
  });
});
