/**
 * tapnet's BGP speaker against BIRD 2 (Debian bird2), both directions:
 * tapnet opens the session to b1 (BIRD passive) and b2 opens it to tapnet
 * (tapnet passive). IPv4 and IPv6 (MP-BGP over the IPv4 session) prefixes,
 * the decision process on a prefix both BIRDs announce, withdrawals, a
 * session reset, route refresh (BIRD's `reload in`), and traffic: b2 pings
 * b1's network through the route tapnet chose and installed. FRR's bgpd
 * (run without zebra, -Z: it installs nothing, it speaks BGP) peers too, both
 * sides connecting at once.
 * Lab: tests/integration/fixtures/bgp-bird.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, inNetns, sh, waitFor } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function birdConfig(options: { id: string; as: number; peer: string; nextHop6: string; passive: boolean; statics: string; statics6: string; exportFilter?: string }): string {
  return `router id ${options.id};
log stderr all;
protocol device { scan time 1; }
protocol direct { ipv4; ipv6; interface "lo"; }
protocol kernel { ipv4 { export where source = RTS_BGP; }; }
protocol kernel { ipv6 { export where source = RTS_BGP; }; }
protocol static s4 { ipv4; ${options.statics} }
protocol static s6 { ipv6; ${options.statics6} }
protocol bgp r1 {
  local as ${options.as};
  neighbor ${options.peer} as 65001;
  hold time 9;
  connect retry time 1;
  connect delay time 1;
  # After an error BIRD waits "error wait time" (default 60-300 s, doubling while errors keep coming) before it
  # starts again; the tests reset sessions on purpose several times, so keep that short.
  error wait time 1, 2;
  error forget time 5;
  ${options.passive ? 'passive on;' : ''}
  ipv4 { import all; export ${options.exportFilter ?? 'where source = RTS_STATIC'}; };
  ipv6 { import all; export where source = RTS_STATIC; next hop address ${options.nextHop6}; };
}
`;
}

const FRR_CONFIG = `frr defaults traditional
hostname f1
router bgp 65030
 bgp router-id 10.61.3.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 timers bgp 3 9
 neighbor 10.61.3.1 remote-as 65001
 neighbor 10.61.3.1 timers connect 1
 address-family ipv4 unicast
  network 10.74.0.0/16
 exit-address-family
`;

describe('BGP: tapnet, BIRD 2 and FRR', () => {
  let lab: LabProcess | undefined;
  const birds: ChildProcess[] = [];
  const birdLog = { b1: '', b2: '' };
  const r = (): LabProcess => lab!;
  const sock = (b: string) => join(r().runDir, `${b}.ctl`);
  const birdc = (b: string, ...args: string[]) => sh('birdc', ['-s', sock(b), ...args]).stdout;
  const show = () => r().cli(['show', 'bgp', '--lab', r().file, '--node', r().node('bb-r1')]).stdout;
  const showJson = () =>
    JSON.parse(r().cli(['show', 'bgp', '--json', '--lab', r().file, '--node', r().node('bb-r1')]).stdout) as {
      neighbors: { address: string; state: string; prefixesReceived: number }[];
      routes: { prefix: string; best: boolean; peer: string | null; reason: string | null; asPath: string }[];
    };
  const until = (what: string, check: () => boolean, ms = 20_000) => waitFor(what, check, ms, () => `${show()}
${lab?.output() ?? ''}`, 250);

  beforeAll(async () => {
    lab = await startLab('tests/integration/fixtures/bgp-bird.yaml');
    const b1 = r().ns('bb-b1');
    const b2 = r().ns('bb-b2');
    for (const [ns, a4, a6] of [[b1, '10.71.0.1/32', '2001:db8:71::1/128'], [b2, '10.72.0.1/32', '2001:db8:72::1/128']] as const) {
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', a4, 'dev', 'lo']);
      sh('ip', ['-n', ns, '-6', 'addr', 'add', a6, 'dev', 'lo']);
    }
    const configs = {
      b1: birdConfig({
        id: '10.61.1.2',
        as: 65010,
        peer: '10.61.1.1',
        nextHop6: 'fd61:1::2',
        passive: true,
        statics: 'route 10.71.0.0/16 blackhole; route 10.73.0.0/16 blackhole;',
        statics6: 'route 2001:db8:71::/48 blackhole;',
      }),
      b2: birdConfig({
        id: '10.61.2.2',
        as: 65020,
        peer: '10.61.2.1',
        nextHop6: 'fd61:2::2',
        passive: false,
        statics: 'route 10.72.0.0/16 blackhole; route 10.73.0.0/16 blackhole;',
        statics6: 'route 2001:db8:72::/48 blackhole;',
        // b2's 10.73/16 carries a longer AS path: tapnet must prefer b1's.
        exportFilter: 'filter { if source != RTS_STATIC then reject; if net = 10.73.0.0/16 then bgp_path.prepend(65020); accept; }',
      }),
    };
    for (const [name, ns] of [['b1', b1], ['b2', b2]] as const) {
      const file = join(r().runDir, `${name}.conf`);
      writeFileSync(file, configs[name]);
      const child = spawn('ip', ['netns', 'exec', ns, 'bird', '-f', '-c', file, '-s', sock(name), '-P', join(r().runDir, `${name}.pid`)], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (birdLog[name] += d.toString()));
      child.on('exit', (code) => code && code !== 0 && console.error(`bird ${name} exited ${code}: ${birdLog[name]}`));
      birds.push(child);
    }
    // FRR drops to user frr: its directory must be frr's.
    const frrDir = join(r().runDir, 'frr');
    mkdirSync(frrDir);
    writeFileSync(join(frrDir, 'bgpd.conf'), FRR_CONFIG);
    const frr = Number(sh('id', ['-u', 'frr']).stdout.trim());
    const frrGroup = Number(sh('id', ['-g', 'frr']).stdout.trim());
    chownSync(frrDir, frr, frrGroup);
    chmodSync(r().runDir, 0o711); // mkdtemp made it 0700: user frr must pass through
    const bgpd = ['netns', 'exec', r().ns('bb-f1'), '/usr/lib/frr/bgpd', '-Z', '-f', join(frrDir, 'bgpd.conf'), '-i', join(frrDir, 'bgpd.pid'), '--vty_socket', frrDir, '-u', 'frr', '-g', 'frr'];
    birds.push(spawn('ip', bgpd, { stdio: 'ignore' }));
  }, 60_000);

  afterAll(async () => {
    for (const b of birds) if (b.exitCode === null) b.kill('SIGTERM');
    await sleep(200);
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
  });

  it('sessions establish both ways (tapnet active to b1, passive for b2); IPv4 and IPv6 prefixes are exchanged', async () => {
    await until('both BIRD sessions Established', () => showJson().neighbors.filter((n) => n.address !== '10.61.3.2').every((n) => n.state === 'Established'));
    await until('routes from both', () => showJson().routes.some((x) => x.prefix === '2001:db8:72::/48'));
    const routes = showJson().routes;
    expect(routes.filter((x) => x.best).map((x) => x.prefix)).toEqual(expect.arrayContaining(['10.71.0.0/16', '10.72.0.0/16', '10.73.0.0/16', '2001:db8:71::/48', '2001:db8:72::/48']));
    expect(birdc('b1', 'show', 'protocols', 'r1')).toMatch(/Established/);
    expect(birdc('b2', 'show', 'protocols', 'r1')).toMatch(/Established/);
    // BIRD b2 learned b1's prefixes through tapnet: AS path 65001 65010, next hop tapnet's address on its link.
    await until('b2 has 10.71/16', () => /10\.71\.0\.0\/16/.test(birdc('b2', 'show', 'route', '10.71.0.0/16', 'all')));
    const b2route = birdc('b2', 'show', 'route', '10.71.0.0/16', 'all');
    expect(b2route).toMatch(/BGP.as_path: 65001 65010/);
    expect(b2route).toMatch(/BGP.next_hop: 10\.61\.2\.1/);
    await until('b2 has 2001:db8:71::/48', () => /2001:db8:71::\/48/.test(birdc('b2', 'show', 'route', '2001:db8:71::/48', 'all')));
    expect(birdc('b2', 'show', 'route', '2001:db8:71::/48', 'all')).toMatch(/BGP.as_path: 65001 65010[\s\S]*next_hop: fd61:2::1/);
  }, 40_000);

  it('FRR bgpd: the session establishes (both sides connect; one connection survives), routes go both ways, route refresh', async () => {
    const vtysh = (cmd: string) => inNetns(r().ns('bb-f1'), 'vtysh', ['--vty_socket', join(r().runDir, 'frr'), '-c', cmd]).stdout;
    await until('FRR session Established', () => showJson().neighbors.find((n) => n.address === '10.61.3.2')?.state === 'Established', 30_000);
    await until('10.74/16 from FRR', () => showJson().routes.some((x) => x.prefix === '10.74.0.0/16' && x.best && x.peer === '10.61.3.2'));
    await until('FRR has 10.71/16', () => /65001 65010/.test(vtysh('show bgp ipv4 unicast 10.71.0.0/16')));
    expect(vtysh('show bgp ipv4 unicast summary')).toMatch(/10\.61\.3\.1 +4 +65001 /);
    const before = r().stats(r().node('bb-r1')).bgpInRouteRefreshes ?? 0;
    vtysh('clear bgp 10.61.3.1 soft in');
    await until('FRR refresh counted', () => (r().stats(r().node('bb-r1')).bgpInRouteRefreshes ?? 0) > before);
  }, 45_000);

  it('the decision process: the shorter AS path wins (65010 over 65020 65020), as BIRD would choose', () => {
    const r73 = showJson().routes.filter((x) => x.prefix === '10.73.0.0/16');
    expect(r73).toHaveLength(2);
    const best = r73.find((x) => x.best)!;
    expect(best).toMatchObject({ peer: '10.61.1.2', asPath: '65010', reason: 'as-path length' });
    expect(show()).toMatch(/\*> 10\.73\.0\.0\/16 +10\.61\.1\.2 /);
    const routes = r().cli(['show', 'routes', '--lab', r().file, '--node', r().node('bb-r1')]).stdout;
    expect(routes).toMatch(/10\.73\.0\.0\/16 via 10\.61\.1\.2 dev eth0 metric 20/);
    expect(routes).toMatch(/2001:db8:72::\/48 via fd61:2::2 dev eth1/);
  });

  it('traffic follows the installed routes: b2 pings b1 (IPv4 and IPv6) through tapnet', () => {
    expect(inNetns(r().ns('bb-b2'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-I', '10.72.0.1', '10.71.0.1']).stdout).toMatch(/ttl=63[\s\S]*2 received/);
    expect(inNetns(r().ns('bb-b2'), 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', '-I', '2001:db8:72::1', '2001:db8:71::1']).stdout).toMatch(/2 received/);
  });

  it('withdrawals propagate: b1 withdraws 10.71/16 and 10.73/16; tapnet falls back to b2 for 10.73/16, b2 loses 10.71/16', async () => {
    birdc('b1', 'disable', 's4');
    await until('10.71/16 gone', () => !showJson().routes.some((x) => x.prefix === '10.71.0.0/16'));
    const best73 = showJson().routes.find((x) => x.prefix === '10.73.0.0/16' && x.best)!;
    expect(best73).toMatchObject({ peer: '10.61.2.2', asPath: '65020 65020' });
    await until('b2 lost 10.71/16', () => !/10\.71\.0\.0\/16/.test(birdc('b2', 'show', 'route', '10.71.0.0/16')));
    birdc('b1', 'enable', 's4');
    await until('10.71/16 back', () => showJson().routes.some((x) => x.prefix === '10.71.0.0/16' && x.best));
  }, 30_000);

  it('route refresh: BIRD `reload in` sends ROUTE-REFRESH, tapnet answers with its table', async () => {
    const before = r().stats(r().node('bb-r1')).bgpInRouteRefreshes ?? 0;
    birdc('b1', 'reload', 'in', 'r1');
    await until('a refresh counted', () => (r().stats(r().node('bb-r1')).bgpInRouteRefreshes ?? 0) > before);
    expect(birdc('b1', 'show', 'route', '10.72.0.0/16')).toMatch(/10\.72\.0\.0\/16/);
  }, 20_000);

  it('a session reset recovers: BIRD restarts its session to tapnet', async () => {
    const transitions = r().stats(r().node('bb-r1')).bgpEstablishedTransitions!;
    birdc('b2', 'restart', 'r1');
    await until('re-established', () => (r().stats(r().node('bb-r1')).bgpEstablishedTransitions ?? 0) > transitions && showJson().neighbors.find((n) => n.address === '10.61.2.2')!.state === 'Established');
    await until('b2 routes back', () => showJson().routes.some((x) => x.prefix === '10.72.0.0/16' && x.best));
    expect(r().stats(r().node('bb-r1')).bgpInNotifications).toBeGreaterThanOrEqual(1); // BIRD's Cease
  }, 30_000);

  it('tapnet bgp refresh and reset against BIRD: BIRD answers the ROUTE-REFRESH with its routes, logs the Administrative Reset, and the session recovers', async () => {
    const node = r().node('bb-r1');
    const updates = r().stats(node).bgpInUpdates ?? 0;
    const refresh = r().cli(['bgp', 'refresh', '10.61.2.2', '--lab', r().file, '--node', node]);
    expect(refresh.stdout, refresh.stderr).toMatch(/10\.61\.2\.2: ROUTE-REFRESH sent for ipv4 ipv6/);
    await until('BIRD re-sent its routes', () => (r().stats(node).bgpInUpdates ?? 0) > updates);
    const transitions = r().stats(node).bgpEstablishedTransitions!;
    const reset = r().cli(['bgp', 'reset', '10.61.2.2', '--lab', r().file, '--node', node]);
    expect(reset.stdout, reset.stderr).toMatch(/10\.61\.2\.2: NOTIFICATION Cease \/ Administrative Reset sent/);
    await until('BIRD logged it', () => /r1: Received: Administrative reset/.test(birdLog.b2));
    await until('re-established', () => (r().stats(node).bgpEstablishedTransitions ?? 0) > transitions && showJson().neighbors.find((n) => n.address === '10.61.2.2')!.state === 'Established');
    await until('b2 routes back', () => showJson().routes.some((x) => x.prefix === '10.72.0.0/16' && x.best));
  }, 30_000);

  it('bad input from a raw peer on kernel TCP: the right NOTIFICATION each time, counted, and b2 keeps its session and traffic', async () => {
    const b1 = r().ns('bb-b1');
    const raw = (mode: string) => inNetns(b1, 'python3', [join(ROOT, 'tests/integration/bgp-raw.py'), mode, '10.61.1.2', '10.61.1.1'], { timeoutMs: 20_000 }).stdout;
    birdc('b1', 'disable', 'r1');
    await until('b1 session down', () => showJson().neighbors.find((n) => n.address === '10.61.1.2')!.state !== 'Established');
    expect(raw('holdtime1')).toMatch(/^OPEN\nNOTIFICATION 2\/6 /); // OPEN Message Error / Unacceptable Hold Time
    expect(raw('badversion')).toMatch(/^OPEN\nNOTIFICATION 2\/1 /); // Unsupported Version Number
    expect(raw('silent')).toMatch(/^OPEN\nKEEPALIVE\n[\s\S]*NOTIFICATION 4\/0 after [234]\.\d+s/); // Hold Timer Expired after the negotiated 3 s
    const stats = r().stats(r().node('bb-r1'));
    expect(stats.bgpInOpenErrors).toBeGreaterThanOrEqual(2);
    expect(stats.bgpHoldTimerExpired).toBeGreaterThanOrEqual(1);

    // UPDATE errors: treat-as-withdraw and an AS_PATH loop keep the session; a length overrun resets it.
    const child = spawn('ip', ['netns', 'exec', b1, 'python3', join(ROOT, 'tests/integration/bgp-raw.py'), 'badupdate', '10.61.1.2', '10.61.1.1']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await until('the raw peer sent its UPDATEs', () => out.includes('SENT'));
    await until('the raw peer route', () => showJson().routes.some((x) => x.prefix === '192.168.97.0/24'), 3000).catch((e: Error) => {
      throw new Error(`${e.message}\nraw peer: ${out}`);
    });
    const prefixes = showJson().routes.map((x) => x.prefix);
    expect(prefixes).not.toContain('192.168.98.0/24'); // AS_PATH 65010 65001: our own AS
    expect(prefixes).not.toContain('192.168.99.0/24'); // no NEXT_HOP: treat-as-withdraw
    child.stdin.write('\n'); // now the malformed one
    await exited;
    expect(out).toMatch(/SENT\n[\s\S]*NOTIFICATION 3\/1 /); // UPDATE Message Error / Malformed Attribute List
    const after = r().stats(r().node('bb-r1'));
    expect(after.bgpInTreatAsWithdraw).toBeGreaterThanOrEqual(1);
    expect(after.bgpInAsPathLoop).toBeGreaterThanOrEqual(1);
    expect(after.bgpInUpdateErrors).toBeGreaterThanOrEqual(1);
    await until('the raw peer route withdrawn', () => !showJson().routes.some((x) => x.prefix === '192.168.97.0/24'));
    // Through all of it the b2 session stayed up and tapnet kept answering.
    expect(showJson().neighbors.find((n) => n.address === '10.61.2.2')!.state).toBe('Established');
    expect(inNetns(r().ns('bb-b2'), 'ping', ['-c', '1', '-W', '2', '10.61.1.1']).stdout).toMatch(/1 received/);
    birdc('b1', 'enable', 'r1');
    await until('b1 back', () => showJson().neighbors.find((n) => n.address === '10.61.1.2')!.state === 'Established');
    // and forwarding b2 → b1 again once b1 has its routes back.
    const ping = () => inNetns(r().ns('bb-b2'), 'ping', ['-c', '1', '-W', '1', '-I', '10.72.0.1', '10.71.0.1']).stdout;
    await until('b2 reaches b1 through tapnet again', () => /1 received/.test(ping()));
  }, 60_000);
});
