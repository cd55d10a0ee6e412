/**
 * DHCPv6 (RFC 8415) against ISC dhclient -6 (and dhcpcd) in the kernel end's namespace:
 * `tapnet up --dhcp6 stateful` hands an address from PREFIX::100-1ff and the
 * DNS server, lists the binding in `show leases`, frees it on Release, and
 * advertises M=1 in its RAs; `--dhcp6 stateless` answers an
 * Information-request (dhclient -6 -S) with the DNS server only, and
 * advertises O=1, M=0 (RFC 4861 §4.2, read with rdisc6).
 *
 * dhclient runs its own script (written here), which logs every event to a
 * file and configures the address with `ip`: the host's resolv.conf is never
 * touched. Every dhclient is ours (spawned here) and killed in afterAll.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupTapnet, inNetns, startTapnet, waitFor, type TapnetProcess } from './harness.js';


const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');
type LeaseRow = { family?: string; address: string; state: string; duid?: string; iaid?: number; expiresInSeconds: number };
const leases = (t: TapnetProcess): LeaseRow[] => {
  const r = t.cli(['show', 'leases', '--json']);
  if (r.status !== 0) throw new Error(`show leases: ${r.stderr}`);
  return JSON.parse(r.stdout) as LeaseRow[];
};
/** dhclient -6 binds to the link-local address: wait until DAD let the kernel use it. */
const linkLocalReady = (t: TapnetProcess): boolean => {
  const out = inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap, 'scope', 'link']).stdout;
  return /inet6 fe80::/.test(out) && !/tentative/.test(out);
};

describe('tapnet DHCPv6 server with dhclient -6 in the kernel end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-dhcp6-it-'));
  const children: ChildProcess[] = [];
  const instances: TapnetProcess[] = [];

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const t of instances) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** dhclient's files for one run: its script logs "REASON ADDRESS/PREFIXLEN NAMESERVERS DOMAINS" per event. */
  const clientFiles = (name: string): { events: string; args: string[] } => {
    const events = join(dir, `${name}.events`);
    const script = join(dir, `${name}-script`);
    writeFileSync(
      script,
      `#!/bin/sh
echo "$reason $new_ip6_address/$new_ip6_prefixlen $new_dhcp6_name_servers $new_dhcp6_domain_search" >> ${events}
case "$reason" in
  BOUND6|RENEW6|REBIND6) [ -n "$new_ip6_address" ] && ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" ;;
  EXPIRE6|RELEASE6|STOP6) [ -n "$old_ip6_address" ] && ip -6 addr del "$old_ip6_address/$old_ip6_prefixlen" dev "$interface" ;;
esac
exit 0
`,
    );
    chmodSync(script, 0o755);
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, 'request dhcp6.name-servers, dhcp6.domain-search;\n');
    return { events, args: ['-cf', conf, '-pf', join(dir, `${name}.pid`), '-lf', join(dir, `${name}.leases`), '-sf', script] };
  };

  const startClient = (t: TapnetProcess, args: readonly string[]): { child: ChildProcess; log: () => string } => {
    // -d: stay in the foreground, so the process is ours to kill.
    const child = spawn('ip', ['netns', 'exec', t.netns, 'dhclient', '-6', '-d', '-v', ...args, t.tap], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    return { child, log: () => log };
  };

  it('stateful: RA M=1; dhclient -6 gets an address from the pool and the DNS server; show leases lists it; Release frees it', async () => {
    const t = await startTapnet({ extraArgs: ['--dhcp6', 'stateful'] });
    instances.push(t);
    await waitFor('the kernel end\'s link-local address', () => linkLocalReady(t), 10_000);

    const ra = inNetns(t.netns, 'rdisc6', ['-1', '-w', '3000', t.tap]).stdout;
    expect(ra).toMatch(/Stateful address conf\.\s*:\s*Yes/);
    expect(ra).toMatch(/Stateful other conf\.\s*:\s*Yes/);

    const { events, args } = clientFiles('stateful');
    const { child, log } = startClient(t, args);
    await waitFor('dhclient BOUND6', () => /^BOUND6 /m.test(read(events)), 20_000, () => `${log()}\n${t.output()}`);
    const bound = /^BOUND6 (fd77::1[0-9a-f]{2})\/(\d+) (\S+) (\S+)$/m.exec(read(events));
    expect(bound, read(events)).not.toBeNull();
    const [, address, , nameServer, domain] = bound!;
    expect(nameServer).toBe('fd77::1');
    expect(domain).toBe('lab.');
    expect(inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap]).stdout).toContain(`inet6 ${address}/`);
    expect(leases(t)).toContainEqual(expect.objectContaining({ family: 'ipv6', address, state: 'bound' }));
    expect(t.cli(['show', 'leases']).stdout).toMatch(new RegExp(`^${address!.replace(/:/g, ':')}\\s+\\d+s`, 'm'));
    const stats = t.stats();
    expect(stats.dhcp6OutAdvertises).toBeGreaterThanOrEqual(1);
    expect(stats.dhcp6OutReplies).toBeGreaterThanOrEqual(1);
    expect(stats.dhcp6Bindings).toBe(1);
    // The address works (once the kernel's DAD for it is over): tapnet answers a ping from it.
    await waitFor('DAD of the leased address', () => !/tentative/.test(inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap, 'to', `${address}/128`]).stdout), 5_000);
    expect(inNetns(t.netns, 'ping', ['-6', '-c', '1', '-W', '2', '-I', address!, 'fd77::1']).stdout).toContain('1 received');

    // dhclient -6 -r: Release (the server frees the binding), and the running dhclient stops.
    const r = inNetns(t.netns, 'dhclient', ['-6', '-r', '-v', ...args, t.tap]);
    expect(r.status, r.stderr).toBe(0);
    await waitFor('the release', () => !leases(t).some((l) => l.address === address), 10_000, () => `${r.stderr}\n${t.output()}`);
    await waitFor('dhclient to exit', () => child.exitCode !== null || child.signalCode !== null);
    expect(t.stats().dhcp6Bindings).toBe(0);
  });

  it('stateful with dhcpcd: an address from the pool and the DNS server, listed in show leases', async () => {
    const t = await startTapnet({ extraArgs: ['--dhcp6', 'stateful'] });
    instances.push(t);
    await waitFor('the kernel end\'s link-local address', () => linkLocalReady(t), 10_000);
    // dhcpcd keeps its DUID and leases under /var/lib/dhcpcd and its sockets under /run/dhcpcd: tmpfs over both,
    // inside the mount namespace `ip netns exec` gives the command, so the machine's own files are never touched.
    // Its script only logs the environment it was given (no resolv.conf, no hooks). No router solicitation: the
    // Solicit goes at once (`ia_na`), and -1 makes it exit once bound.
    const conf = join(dir, 'dhcpcd.conf');
    writeFileSync(conf, 'noipv6rs\nia_na 1\noption dhcp6_name_servers, dhcp6_domain_search\n');
    const env = join(dir, 'dhcpcd.env');
    const script = join(dir, 'dhcpcd-script');
    writeFileSync(script, `#!/bin/sh\n{ echo "reason=$reason"; env | grep '^new_dhcp6'; } >> ${env}\nexit 0\n`);
    chmodSync(script, 0o755);
    const r = inNetns(
      t.netns,
      'sh',
      ['-c', `mount -t tmpfs none /run && mount -t tmpfs none /var/lib && exec dhcpcd -6 -B -1 -t 15 --noipv4 -c ${script} -f ${conf} ${t.tap}`],
      { timeoutMs: 25_000 },
    );
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(read(env)).toMatch(/^reason=BOUND6$/m);
    expect(read(env)).toMatch(/^new_dhcp6_name_servers=fd77::1$/m);
    const address = /inet6 (fd77::1[0-9a-f]{2})\/128/.exec(inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap]).stdout)?.[1];
    expect(address).toBeDefined();
    expect(leases(t)).toContainEqual(expect.objectContaining({ family: 'ipv6', address, state: 'bound' }));
  });

  it('stateless: RA O=1, M=0; dhclient -6 -S gets the DNS server and no address', async () => {
    const t = await startTapnet({ extraArgs: ['--dhcp6', 'stateless'] });
    instances.push(t);
    await waitFor('the kernel end\'s link-local address', () => linkLocalReady(t), 10_000);

    const ra = inNetns(t.netns, 'rdisc6', ['-1', '-w', '3000', t.tap]).stdout;
    expect(ra).toMatch(/Stateful address conf\.\s*:\s*No/);
    expect(ra).toMatch(/Stateful other conf\.\s*:\s*Yes/);

    const { events, args } = clientFiles('stateless');
    const { log } = startClient(t, ['-S', ...args]);
    await waitFor('dhclient -S to configure', () => /^(BOUND6|RENEW6|INFORM6) /m.test(read(events)), 20_000, () => `events:\n${read(events)}\n${log()}\n${t.output()}`);
    // dhclient 4.4 runs its script with RENEW6 for an Information-request Reply.
    expect(read(events)).toMatch(/^(BOUND6|RENEW6|INFORM6) \/ fd77::1 lab\.$/m);
    expect(leases(t)).toEqual([]);
    expect(t.stats().dhcp6OutReplies).toBeGreaterThanOrEqual(1);
  });
});
