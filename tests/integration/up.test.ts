/**
 * `tapnet up` against the real kernel: the kernel end of the TAP lives in a
 * fresh namespace and uses the real ping, arping and tcpdump.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAPNET, cleanupTapnet, inNetns, linkExists, netnsExists, sh, startTapnet, uniqueName, type TapnetProcess } from './harness.js';

describe('tapnet up with the kernel as the peer', () => {
  let t: TapnetProcess;
  const pcapDir = mkdtempSync(join(tmpdir(), 'tapnet-pcap-'));
  const pcapFile = join(pcapDir, 'up.pcap');

  beforeAll(async () => {
    t = await startTapnet({ extraArgs: ['--pcap', pcapFile] });
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(pcapDir, { recursive: true, force: true });
  });

  it('answers ping from the kernel end', () => {
    const r = inNetns(t.netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.1']);
    expect(r.stdout).toContain('3 received');
    expect(t.stats().IcmpOutEchoReps).toBeGreaterThanOrEqual(3);
  });

  it('reassembles and fragments: ping -s 4000 crosses as fragments both ways', () => {
    const before = t.stats();
    const r = inNetns(t.netns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-s', '4000', '10.77.0.1']);
    expect(r.stdout).toContain('2 received');
    expect(r.stdout).toContain('4008 bytes from 10.77.0.1');
    const after = t.stats();
    expect(after.IpReasmOKs! - (before.IpReasmOKs ?? 0)).toBe(2);
    expect(after.IpFragOKs! - (before.IpFragOKs ?? 0)).toBe(2);
    expect(after.IpFragCreates! - (before.IpFragCreates ?? 0)).toBe(6); // 4028-byte datagram / 1480 = 3 fragments each
  });

  it('handles the largest pings: -s 65000', () => {
    const r = inNetns(t.netns, 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '-s', '65000', '10.77.0.1']);
    expect(r.stdout).toContain('2 received');
    expect(r.stdout).toContain('65008 bytes from 10.77.0.1');
  });

  it('answers arping with its MAC', () => {
    const r = inNetns(t.netns, 'arping', ['-c', '2', '-w', '5', '-I', t.tap, '10.77.0.1']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Unicast reply from 10\.77\.0\.1 \[02:/i);
  });

  it('does not answer ARP for a foreign address and counts it', () => {
    const before = t.stats().arpInForeign ?? 0;
    const r = inNetns(t.netns, 'arping', ['-c', '2', '-w', '2', '-I', t.tap, '10.77.0.99']);
    expect(r.status).not.toBe(0);
    expect(t.stats().arpInForeign).toBeGreaterThanOrEqual(before + 2);
  });

  it('resolves the kernel end with ARP and pings it (tapnet ping)', () => {
    const r = t.cli(['ping', '10.77.0.2', '-c', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 packets transmitted, 2 received');
    const arp = t.cli(['show', 'arp']);
    expect(arp.stdout).toMatch(/10\.77\.0\.2\s+(REACHABLE|STALE|DELAY)/);
  });

  it('answers protocol unreachable for a protocol it does not speak', () => {
    // Raw IP socket with protocol 253 (RFC 3692 experimental) from the kernel end.
    const script =
      'import socket\nr=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)\nr.settimeout(3)\n' +
      's=socket.socket(socket.AF_INET,socket.SOCK_RAW,253)\ns.sendto(b"x"*8,("10.77.0.1",0))\n' +
      'while True:\n  d=r.recv(2000)\n  if d[20]==3:\n    print("unreach", d[21]); break\n';
    const r = inNetns(t.netns, '/usr/bin/python3', ['-c', script]);
    expect(r.stdout.trim(), r.stderr).toBe('unreach 2');
  });

  it('writes a pcap file that tcpdump reads', async () => {
    inNetns(t.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']);
    await t.stop();
    expect(existsSync(pcapFile)).toBe(true);
    const r = sh('tcpdump', ['-nn', '-r', pcapFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/IP 10\.77\.0\.2 > 10\.77\.0\.1: ICMP echo request/);
    expect(r.stdout).toMatch(/IP 10\.77\.0\.1 > 10\.77\.0\.2: ICMP echo reply/);
    expect(r.stdout).toMatch(/ARP, Request who-has 10\.77\.0\.1/);
  });

  it('removed what it created on SIGTERM and exited 0', async () => {
    expect(await t.stop()).toBe(0);
    expect(netnsExists(t.netns)).toBe(false);
    expect(linkExists(t.tap)).toBe(false);
  });
});

describe('tapnet up lifecycle and arguments', () => {
  it('--mtu 9000 sets both ends: ping -s 8972 -M do crosses in one frame each way', async () => {
    const t = await startTapnet({ extraArgs: ['--mtu', '9000'] });
    try {
      expect(sh('ip', ['-n', t.netns, 'link', 'show', t.tap]).stdout).toMatch(/mtu 9000/);
      const before = t.stats();
      // 8972 + 8 (ICMP) + 20 (IP) = 9000, DF set: no fragmentation allowed on either side.
      const r = inNetns(t.netns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-s', '8972', '-M', 'do', '10.77.0.1']);
      expect(r.stdout, r.stderr).toContain('2 received');
      expect(r.stdout).toContain('8980 bytes from 10.77.0.1');
      const after = t.stats();
      expect((after.IpReasmOKs ?? 0) - (before.IpReasmOKs ?? 0)).toBe(0);
      expect((after.IpFragOKs ?? 0) - (before.IpFragOKs ?? 0)).toBe(0);
      // One byte more does not fit with DF set.
      expect(inNetns(t.netns, 'ping', ['-c', '1', '-W', '1', '-s', '8973', '-M', 'do', '10.77.0.1']).status).not.toBe(0);
    } finally {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  it('keeps a namespace it did not create, and leaves it without the TAP', async () => {
    const t = await startTapnet({ createNetns: true });
    try {
      expect(linkExists(t.tap, t.netns)).toBe(true);
      expect(await t.stop()).toBe(0);
      expect(netnsExists(t.netns)).toBe(true);
      expect(linkExists(t.tap, t.netns)).toBe(false);
    } finally {
      cleanupTapnet(t);
    }
  });

  it('stops cleanly when its TAP is deleted underneath it', async () => {
    const t = await startTapnet();
    try {
      sh('ip', ['-n', t.netns, 'link', 'delete', t.tap]);
      const code = await new Promise<number | null>((resolve) => {
        if (t.child.exitCode !== null) resolve(t.child.exitCode);
        t.child.on('exit', (c) => resolve(c));
      });
      expect(code).toBe(1);
      expect(t.output()).toMatch(/went away/);
      expect(netnsExists(t.netns)).toBe(false); // tapnet created it, so tapnet removed it
    } finally {
      cleanupTapnet(t);
    }
  });

  it('refuses a second tapnet on a TAP in use', async () => {
    const t = await startTapnet();
    try {
      const r = spawnSync(process.execPath, [TAPNET, 'up', '--tap', t.tap, '--netns', uniqueName('tnx')], {
        encoding: 'utf8',
        env: { ...process.env, TAPNET_RUN_DIR: t.runDir },
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`${t.tap}.*in use`));
      // The first one still serves.
      expect(inNetns(t.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');
    } finally {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  const badArgs: Array<[string[], RegExp]> = [
    [['--subnet', '10.77.0.0'], /--subnet/],
    [['--subnet', '10.77.0.0/31'], /--subnet/],
    [['--subnet', '300.1.1.0/24'], /--subnet/],
    [['--tap', 'a-name-that-is-too-long'], /--tap/],
    [['--netns', 'bad/name'], /--netns/],
    [['--log-level', 'loud'], /--log-level/],
    [['--mtu', '575'], /--mtu/],
    [['--mtu', '65522'], /--mtu/],
    [['--mtu', 'big'], /--mtu/],
    [['--bogus'], /--bogus/],
  ];
  for (const [args, pattern] of badArgs) {
    it(`exits 2 with one line for: up ${args.join(' ')}`, () => {
      const r = spawnSync(process.execPath, [TAPNET, 'up', ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    });
  }
});
