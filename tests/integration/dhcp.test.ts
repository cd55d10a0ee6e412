/**
 * DHCP against the real tools: ISC dhclient and busybox udhcpc lease from
 * tapnet's server in the kernel end's namespace (`tapnet up --no-host-addr`),
 * renew and release; leases survive a restart of tapnet; tapnet's own client
 * takes its address from dnsmasq (`tapnet up --dhcp-client`).
 *
 * The clients run their own scripts (written here), which configure the
 * address with `ip` and log every event to a file, so nothing touches the
 * host's resolv.conf. Every client process is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, TAPNET, cleanupTapnet, inNetns, sh, startTapnet, uniqueName, waitFor, type TapnetProcess } from './harness.js';


const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');
const kernelAddresses = (t: TapnetProcess): string[] =>
  [...inNetns(t.netns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', t.tap]).stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]!);
const dig = (t: TapnetProcess, name: string): string => inNetns(t.netns, 'dig', ['+short', '+time=2', '+tries=1', name, '@10.77.0.1']).stdout.trim();
/** The lease names the DNS server holds (`tapnet show dns`: "leases: a.lab. 10.77.0.100, ..."), for when the kernel end has no address to ask from. */
const dnsLeases = (t: TapnetProcess): string => /^leases: (.*)$/m.exec(t.cli(['show', 'dns']).stdout)?.[1] ?? '';
type LeaseRow = { address: string; state: string; mac: string; hostname?: string; expiresInSeconds: number };
const leases = (t: TapnetProcess): LeaseRow[] => {
  const r = t.cli(['show', 'leases', '--json']);
  if (r.status !== 0) throw new Error(`show leases: ${r.stderr}`);
  return JSON.parse(r.stdout) as LeaseRow[];
};

describe('tapnet DHCP server with dhclient and udhcpc in the kernel end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-dhcp-it-'));
  const leaseFile = join(dir, 'leases');
  const children: ChildProcess[] = [];
  let t: TapnetProcess | undefined;
  let tap = '';
  let netns = '';
  const LEASE_TIME = 20; // T1 = 10 s: dhclient renews within the test

  const up = (): Promise<TapnetProcess> =>
    startTapnet({ tap, netns, extraArgs: ['--no-host-addr', '--lease-file', leaseFile, '--lease-time', String(LEASE_TIME)] });

  beforeAll(async () => {
    tap = uniqueName('tnd');
    netns = uniqueName('tndns');
    sh('ip', ['netns', 'add', netns]); // ours, so it outlives a tapnet restart
    t = await up();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    sh('pkill', ['-KILL', '-f', `${dir}/`]); // any daemonized client started with our files
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    if (netns) sh('ip', ['netns', 'delete', netns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('dhclient: gets a lease with every option, its name resolves, renews at T1 (unicast), releases', async () => {
    const events = join(dir, 'dhclient.events');
    const script = join(dir, 'dhclient-script');
    writeFileSync(
      script,
      `#!/bin/sh
echo "$reason $new_ip_address $new_subnet_mask $new_routers $new_domain_name_servers $new_domain_name $new_dhcp_lease_time" >> ${events}
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  EXPIRE|FAIL|RELEASE|STOP) [ -n "$old_ip_address" ] && ip addr del "$old_ip_address/$old_subnet_mask" dev "$interface" ;;
esac
exit 0
`,
    );
    chmodSync(script, 0o755);
    const conf = join(dir, 'dhclient.conf');
    writeFileSync(conf, 'send host-name "dhbox";\nrequest subnet-mask, routers, domain-name, domain-name-servers, host-name;\n');
    const files = ['-cf', conf, '-pf', join(dir, 'dhclient.pid'), '-lf', join(dir, 'dhclient.leases'), '-sf', script];
    // -d: stay in the foreground, so the process is ours to kill.
    const child = spawn('ip', ['netns', 'exec', t!.netns, 'dhclient', '-4', '-d', '-v', ...files, t!.tap], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));

    await waitFor('dhclient BOUND', () => /^BOUND /m.test(read(events)), 20_000, () => log);
    expect(read(events)).toMatch(/^BOUND 10\.77\.0\.1\d\d 255\.255\.255\.0 10\.77\.0\.1 10\.77\.0\.1 lab 20$/m);
    const address = /^BOUND (\S+)/m.exec(read(events))![1]!;
    expect(kernelAddresses(t!)).toEqual([`${address}/24`]);
    expect(leases(t!)).toContainEqual(expect.objectContaining({ address, state: 'bound', hostname: 'dhbox' }));
    expect(dig(t!, 'dhbox.lab')).toBe(address);
    expect(inNetns(t!.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');

    // T1 = 10 s: dhclient unicasts a REQUEST from its address (RENEWING) and the server ACKs it.
    const requestsBefore = t!.stats().dhcpInRequests!;
    await waitFor('dhclient RENEW', () => /^RENEW /m.test(read(events)), 20_000, () => log);
    const renewedAt = Date.now();
    // dhclient logged the REQUEST before its script wrote RENEW, but node may read the file before the pipe.
    const unicast = new RegExp(`DHCPREQUEST for ${address.replace(/\./g, '\\.')} on \\S+ to 10\\.77\\.0\\.1 port 67`);
    await waitFor('dhclient to log the unicast REQUEST', () => unicast.test(log), 5_000, () => log);
    expect(t!.stats().dhcpInRequests).toBeGreaterThan(requestsBefore);
    // The ACK restarted the lease at RENEW (T1 = 10 s in): a full LEASE_TIME from then, less the time these
    // checks took (each `tapnet show` is a process; seconds on a loaded machine). Not renewed: ~LEASE_TIME - 10.
    const lease = leases(t!).find((l) => l.address === address)!;
    const sinceRenew = (Date.now() - renewedAt) / 1000;
    expect(lease.expiresInSeconds).toBeGreaterThan(LEASE_TIME - 2 - sinceRenew);

    // dhclient -r: RELEASE, and the running one stops.
    const r = inNetns(t!.netns, 'dhclient', ['-4', '-r', '-v', ...files, t!.tap]);
    expect(r.status, r.stderr).toBe(0);
    await waitFor('the release', () => leases(t!).find((l) => l.address === address)?.state === 'released');
    await waitFor('dhclient to exit', () => child.exitCode !== null || child.signalCode !== null);
    expect(kernelAddresses(t!)).toEqual([]);
    expect(dnsLeases(t!)).not.toContain('dhbox');
  });

  /**
   * On renew the script keeps the address (`replace`, no flush): removing a
   * device's last IPv4 address makes Linux flush its ARP cache (fib_disable_ip →
   * arp_ifdown), so the unicast RELEASE sent next would wait for ARP and be lost
   * when the deconfig flush runs — busybox sends a RELEASE once, without retries.
   */
  const udhcpcScript = (events: string): string => {
    const script = join(dir, 'udhcpc-script');
    writeFileSync(
      script,
      `#!/bin/sh
echo "$1 $ip $mask $router $dns $domain $lease" >> ${events}
case "$1" in
  bound) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
  renew) ip addr replace "$ip/$mask" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
`,
    );
    chmodSync(script, 0o755);
    return script;
  };

  it('busybox udhcpc: gets a lease, renews on SIGUSR1, releases on SIGUSR2', async () => {
    const events = join(dir, 'udhcpc.events');
    const script = udhcpcScript(events);
    const child = spawn('ip', ['netns', 'exec', t!.netns, 'busybox', 'udhcpc', '-f', '-i', t!.tap, '-s', script, '-x', 'hostname:ubox', '-t', '5', '-T', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));

    await waitFor('udhcpc bound', () => /^bound /m.test(read(events)), 20_000, () => log);
    const [, address, mask, router, dns, domain, lease] = /^bound (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)/m.exec(read(events))!;
    expect({ mask, router, dns, domain, lease }).toEqual({ mask: '24', router: '10.77.0.1', dns: '10.77.0.1', domain: 'lab', lease: '20' });
    expect(kernelAddresses(t!)).toEqual([`${address}/24`]);
    expect(dig(t!, 'ubox.lab')).toBe(address);

    const acksBefore = t!.stats().dhcpOutAcks!;
    child.kill('SIGUSR1');
    await waitFor('udhcpc renew', () => /^renew /m.test(read(events)), 10_000, () => log);
    await waitFor('udhcpc to log the renew', () => /sending renew to (server )?10\.77\.0\.1/.test(log), 5_000, () => log);
    expect(t!.stats().dhcpOutAcks).toBeGreaterThan(acksBefore);

    child.kill('SIGUSR2');
    await waitFor('the release', () => leases(t!).find((l) => l.address === address)?.state === 'released', 10_000, () => log);
    expect(kernelAddresses(t!)).toEqual([]);
    expect(dnsLeases(t!)).not.toContain('ubox');
    child.kill('SIGTERM');
  });

  it('a restart of tapnet keeps the leases: listed, in DNS, and the same client gets the same address', async () => {
    const events = join(dir, 'udhcpc2.events');
    const script = udhcpcScript(events);
    const mac = '02:00:5e:10:20:30';
    inNetns(t!.netns, 'ip', ['link', 'set', 'dev', t!.tap, 'address', mac]);
    // -n -q: one lease, then exit (the address stays).
    const once = (): ReturnType<typeof inNetns> =>
      inNetns(t!.netns, 'busybox', ['udhcpc', '-n', '-q', '-i', t!.tap, '-s', script, '-x', 'hostname:keeper', '-t', '5', '-T', '2'], { timeoutMs: 30_000 });
    const first = once();
    expect(first.status, first.stdout + first.stderr).toBe(0);
    const address = /^bound (\S+)/m.exec(read(events))![1]!;
    expect(read(leaseFile)).toMatch(new RegExp(`^\\d+ ${mac} ${address.replace(/\./g, '\\.')} keeper `, 'm'));

    expect(await t!.stop()).toBe(0);
    cleanupTapnet({ ...t!, netns: `${netns}-keep` }); // the run dir only: our namespace stays
    t = await up();

    expect(leases(t)).toContainEqual(expect.objectContaining({ address, state: 'bound', mac, hostname: 'keeper' }));
    expect(dnsLeases(t)).toContain(`keeper.lab. ${address}`);
    inNetns(t.netns, 'ip', ['link', 'set', 'dev', t.tap, 'address', mac]); // the new TAP's kernel end gets the old MAC
    const second = once();
    expect(second.status, second.stdout + second.stderr).toBe(0);
    expect(read(events).match(/^bound (\S+)/gm)).toEqual([`bound ${address}`, `bound ${address}`]);
    expect(dig(t, 'keeper.lab')).toBe(address);
  });

  it('malformed DHCP from the kernel side is counted, and tapnet still answers ping and DHCP', async () => {
    inNetns(t!.netns, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', t!.tap]);
    const before = t!.stats();
    // Each payload by broadcast to port 67: no magic cookie (BOOTP), an option running past the end, a truncated header.
    const script = `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"${t!.tap}")
head = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, 0x1234, 0, 0x8000, 0, 0, 0, 0) + bytes.fromhex("02005e000001") + bytes(10) + bytes(192)
cookie = bytes([99, 130, 83, 99])
pad = lambda p: p + bytes(max(0, 300 - len(p)))
for payload in [pad(head + bytes(4) + bytes([53, 1, 1, 255])), pad(head + cookie + bytes([53, 1, 1, 12, 200, 65, 65])), head[:100]]:
    s.sendto(payload, ("255.255.255.255", 67))
`;
    const r = inNetns(t!.netns, PYTHON, ['-c', script]);
    expect(r.status, r.stderr).toBe(0);
    await waitFor('the counters', () => {
      const s = t!.stats();
      return s.dhcpInBootp! - before.dhcpInBootp! >= 1 && s.dhcpInErrors! - before.dhcpInErrors! >= 2;
    });
    expect(inNetns(t!.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');
    const events = join(dir, 'udhcpc3.events');
    const ok = inNetns(t!.netns, 'busybox', ['udhcpc', '-n', '-q', '-i', t!.tap, '-s', udhcpcScript(events), '-t', '5', '-T', '2'], { timeoutMs: 30_000 });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
  });
});

describe('tapnet DHCP client (`tapnet up --dhcp-client`) against dnsmasq in the kernel end', () => {
  let t: TapnetProcess | undefined;
  let dnsmasq: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-dhcpc-it-'));

  beforeAll(async () => {
    t = await startTapnet({ extraArgs: ['--dhcp-client'] }); // the kernel end keeps 10.77.0.2 for dnsmasq
  });
  afterAll(async () => {
    if (dnsmasq && dnsmasq.exitCode === null) dnsmasq.kill('SIGKILL');
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes its address, route and DNS from dnsmasq, and answers on it', async () => {
    const dnsmasqLeases = join(dir, 'dnsmasq.leases');
    dnsmasq = spawn(
      'ip',
      [
        'netns', 'exec', t!.netns, 'dnsmasq', '-k', '--conf-file=/dev/null', `--interface=${t!.tap}`, '--bind-interfaces', '--port=0',
        '--dhcp-range=10.77.0.50,10.77.0.60,2m', '--dhcp-option=option:dns-server,10.77.0.2', '--domain=kernel.test',
        `--dhcp-leasefile=${dnsmasqLeases}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--user=root', '--log-facility=-', '--log-dhcp',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    dnsmasq.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    dnsmasq.stderr!.on('data', (d: Buffer) => (log += d.toString()));

    // tapnet's client retransmits on the RFC 2131 back-off (4 s, 8 s, ...), so the first lease may take a few seconds.
    await waitFor('tapnet to be bound', () => /BOUND/.test(t!.cli(['show', 'leases']).stdout), 30_000, () => `${log}\n${t!.output()}`);
    const shown = t!.cli(['show', 'leases']).stdout;
    const address = /BOUND (10\.77\.0\.\d+)\/24 from 10\.77\.0\.2, lease 120s/.exec(shown)?.[1];
    expect(address, shown).toBeDefined();
    expect(shown).toMatch(/router 10\.77\.0\.2, dns 10\.77\.0\.2, domain kernel\.test/);
    expect(Number(address!.split('.')[3])).toBeGreaterThanOrEqual(50);
    expect(t!.cli(['show', 'routes']).stdout).toContain('0.0.0.0/0 via 10.77.0.2 dev');
    expect(read(dnsmasqLeases)).toMatch(new RegExp(` ${address!.replace(/\./g, '\\.')} tapnet `));
    await waitFor('dnsmasq to log the ACK', () => /DHCPACK\(\S+\) 10\.77\.0\.\d+ \S+ tapnet/.test(log), 5_000, () => log);
    // The kernel reaches tapnet at its leased address, and tapnet reaches the kernel.
    expect(inNetns(t!.netns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', address!]).stdout).toContain('2 received');
    expect(t!.cli(['ping', '10.77.0.2', '-c', '1']).stdout).toContain('1 received');
  });
});

describe('DHCP starvation from the kernel side (perfdhcp, thousands of MACs)', () => {
  let t: TapnetProcess | undefined;
  beforeAll(async () => {
    t = await startTapnet(); // the kernel end has 10.77.0.2, perfdhcp's relay address
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  it('the pool runs out gracefully: offers for the first 100, the rest counted, and tapnet keeps answering', () => {
    // -i: DISCOVER/OFFER only, so every offer holds its address (OFFER_HOLD_MS) and nothing is ever REQUESTed.
    const r = inNetns(t!.netns, 'perfdhcp', ['-4', '-i', '-R', '3000', '-n', '3000', '-r', '1000', '-l', '10.77.0.2', '10.77.0.1'], { timeoutMs: 60_000 });
    expect(r.stdout).toMatch(/DISCOVER-OFFER/);
    const s = t!.stats();
    // 100 addresses; a few more offers when a client's DISCOVER is retransmitted or an offer's hold ran out on
    // a loaded machine (both answered as RFC 2131 §4.3.1 says), never one per MAC.
    expect(s.dhcpOutOffers).toBeGreaterThanOrEqual(100);
    expect(s.dhcpOutOffers).toBeLessThan(150);
    expect(s.dhcpPoolExhausted).toBeGreaterThanOrEqual(2000);
    expect(s.dhcpInDiscovers).toBe(s.dhcpOutOffers! + s.dhcpPoolExhausted!);
    const shown = t!.cli(['show', 'leases']).stdout;
    expect(shown.match(/ offered /g)).toHaveLength(100); // one record per address, not per MAC
    expect(shown).toMatch(/pool 10\.77\.0\.100-10\.77\.0\.199, 100 in use/);
    expect(inNetns(t!.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');
  });
});

describe('tapnet up: DHCP arguments', () => {
  const badArgs: Array<[string[], RegExp]> = [
    [['--lease-time', '5'], /--lease-time/],
    [['--lease-time', 'soon'], /--lease-time/],
    [['--dhcp-host', 'zz,10.77.0.5'], /--dhcp-host/],
    [['--dhcp-host', '02:00:00:00:00:01,10.77.0.5,Bad_Name'], /--dhcp-host/],
    [['--dhcp-host', '02:00:00:00:00:01,10.99.0.5'], /--dhcp-host: 10\.99\.0\.5 is not in 10\.77\.0\.0\/24/],
    [['--dhcp-client', '--lease-file', '/tmp/x'], /--dhcp-client.*--lease-file/],
    [['--dhcp-client', '--no-dhcp'], /--dhcp-client.*--no-dhcp/],
  ];
  for (const [args, pattern] of badArgs) {
    it(`exits 2 with one line for: up ${args.join(' ')}`, () => {
      const r = sh(process.execPath, [TAPNET, 'up', ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    });
  }
});
