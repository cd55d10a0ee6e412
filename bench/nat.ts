/**
 * iperf3 through a NAT: a tapnet router masquerading (conntrack + SNAT) vs a
 * Linux namespace router with nftables masquerade, and a tapnet router
 * without NAT as the baseline for what conntrack + NAT cost inside tapnet.
 *
 *   npx tsx bench/nat.ts [seconds=3] [runs=3]
 *
 * Topology in every case: client namespace (10.205.1.10) → router → server
 * namespace (198.18.0.10). The server has no route back to 10.205.1.0/24,
 * so only translated traffic can be answered. For each path: one iperf3 TCP
 * stream and iperf3 UDP with 64-byte datagrams at full speed (-b 0), `runs`
 * times `seconds` each; medians and ratios as a Markdown table. Needs root,
 * iperf3, nft and iproute2; every namespace is uniquely named and removed.
 *
 * As in bench/switch-router.ts, the Linux path uses veth pairs with their
 * default offloads (TCP crosses as 64 KB GSO super-packets) and tapnet's lab
 * TAPs have offload on (the router segments super-frames where they come in
 * and sends MTU-sized frames): the honest default of each.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** TAPNET_BENCH_NODE_ARGS: extra node flags for the tapnet process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const NODE_ARGS = (process.env.TAPNET_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const ROOT = resolve(import.meta.dirname, '..');
const TAPNET = join(ROOT, 'bin/tapnet.js');
const seconds = Number(process.argv[2] ?? 3);
const runs = Number(process.argv[3] ?? 3);
/** TAPNET_BENCH_OFFLOAD=off: the tapnet lab's links get `offload: false` (plain frames), for a before/after. */
const LINK_OFFLOAD = process.env.TAPNET_BENCH_OFFLOAD === 'off' ? 'false' : 'true';
const tag = randomBytes(2).toString('hex');
const created: string[] = [];
const runDir = mkdtempSync(join(tmpdir(), 'tapnet-bench-nat-'));
const SERVER = '198.18.0.10';

function sh(cmd: string, args: string[], timeoutMs = 60_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}
const nsx = (ns: string, cmd: string[], timeoutMs?: number): string => sh('ip', ['netns', 'exec', ns, ...cmd], timeoutMs);
function netns(name: string): string {
  sh('ip', ['netns', 'add', name]);
  created.push(name);
  nsx(name, ['ip', 'link', 'set', 'lo', 'up']);
  return name;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Result {
  tcpMbps: number;
  udpPps: number;
  udpLossPct: number;
}

async function measure(client: string, server: string): Promise<Result> {
  const srv = spawn('ip', ['netns', 'exec', server, 'iperf3', '-s', '-p', '5201'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 1000)); // iperf3 -s has no readiness signal
    // The first connection also waits for ARP on both sides: warm the path up.
    spawnSync('ip', ['netns', 'exec', client, 'ping', '-c', '2', '-i', '0.2', '-W', '2', SERVER]);
    const iperf = <T>(args: string[]): T => {
      const out = spawnSync('ip', ['netns', 'exec', client, 'iperf3', '-c', SERVER, '-p', '5201', '-t', String(seconds), '-J', ...args], {
        encoding: 'utf8',
        timeout: (seconds + 20) * 1000,
      });
      const json = JSON.parse(out.stdout) as T & { error?: string };
      if (json.error) throw new Error(`iperf3 ${args.join(' ')} from ${client}: ${json.error}`);
      return json;
    };
    const tcp: number[] = [];
    const pps: number[] = [];
    const loss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = iperf<{ end: { sum_received: { bits_per_second: number } } }>([]);
      tcp.push(t.end.sum_received.bits_per_second / 1e6);
      const u = iperf<{ end: { sum: { packets: number; lost_packets: number; seconds: number } } }>(['-u', '-l', '64', '-b', '0']);
      const received = u.end.sum.packets - u.end.sum.lost_packets;
      pps.push(received / u.end.sum.seconds);
      loss.push((100 * u.end.sum.lost_packets) / Math.max(1, u.end.sum.packets));
    }
    return { tcpMbps: median(tcp), udpPps: median(pps), udpLossPct: median(loss) };
  } finally {
    srv.kill();
  }
}

async function tapnetLab(yaml: string): Promise<{ child: ChildProcess; file: string }> {
  const file = join(runDir, `lab-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, yaml);
  const env = { ...process.env, TAPNET_RUN_DIR: runDir };
  const child = spawn(process.execPath, [...NODE_ARGS, TAPNET, 'lab', 'up', file, '--log-level', 'warn'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolveReady, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`lab did not start:\n${out}`)), 30_000);
    const poll = setInterval(() => {
      if (spawnSync(process.execPath, [TAPNET, 'lab', 'status', file], { encoding: 'utf8', env }).status === 0) {
        clearInterval(poll);
        clearTimeout(timer);
        resolveReady();
      }
    }, 300);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`lab exited:\n${out}`));
    });
  });
  return { child, file };
}

async function stopLab(lab: { child: ChildProcess }): Promise<void> {
  const exited = new Promise((r) => lab.child.once('exit', r));
  lab.child.kill('SIGTERM');
  await exited;
}

/** Client → tapnet router (with or without masquerade) → server without a route back (NAT) or with one (plain). */
async function tapnetRouter(nat: boolean): Promise<Result> {
  const a = `bna${tag}${nat ? 'n' : 'p'}`;
  const b = `bnb${tag}${nat ? 'n' : 'p'}`;
  created.push(a, b);
  const serverRoutes = nat ? '' : ', routes: [10.205.1.0/24 via 198.18.0.1]';
  const natBlock = nat ? '\n    nat: { masquerade: wan }' : '';
  const lab = await tapnetLab(`name: bnat${tag}${nat ? 'n' : 'p'}
nodes:
  ${a}: { kind: host, interfaces: { eth0: { address: 10.205.1.10/24 } }, routes: [default via 10.205.1.1] }
  ${b}: { kind: host, interfaces: { eth0: { address: ${SERVER}/24 } }${serverRoutes} }
  gw:
    kind: router
    interfaces: { lan: { address: 10.205.1.1/24 }, wan: { address: 198.18.0.1/24 } }${natBlock}
links:
  - { endpoints: [${a}:eth0, gw:lan], offload: ${LINK_OFFLOAD} }
  - { endpoints: [gw:wan, ${b}:eth0], offload: ${LINK_OFFLOAD} }
`);
  try {
    return await measure(a, b);
  } finally {
    await stopLab(lab);
  }
}

/** Client → namespace router with ip_forward=1 and `nft ... masquerade` → server without a route back. */
async function linuxNat(): Promise<Result> {
  const a = netns(`lna${tag}`);
  const b = netns(`lnb${tag}`);
  const r = netns(`lnr${tag}`);
  nsx(r, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  sh('ip', ['link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'lan', 'netns', r]);
  sh('ip', ['link', 'add', 'eth0', 'netns', b, 'type', 'veth', 'peer', 'name', 'wan', 'netns', r]);
  for (const [ns, dev, address] of [
    [r, 'lan', '10.205.1.1/24'],
    [r, 'wan', '198.18.0.1/24'],
    [a, 'eth0', '10.205.1.10/24'],
    [b, 'eth0', `${SERVER}/24`],
  ] as const) {
    nsx(ns, ['ip', 'addr', 'add', address, 'dev', dev]);
    nsx(ns, ['ip', 'link', 'set', dev, 'up']);
  }
  nsx(a, ['ip', 'route', 'add', 'default', 'via', '10.205.1.1']);
  nsx(r, ['nft', 'add table ip nat; add chain ip nat post { type nat hook postrouting priority srcnat; }; add rule ip nat post oifname "wan" masquerade']);
  return measure(a, b);
}

function row(name: string, t: Result, k: Result): string {
  return [
    `| ${name} TCP (Mbit/s) | ${t.tcpMbps.toFixed(0)} | ${k.tcpMbps.toFixed(0)} | ${(t.tcpMbps / k.tcpMbps).toFixed(3)} |`,
    `| ${name} UDP 64 B (received packets/s) | ${t.udpPps.toFixed(0)} (loss ${t.udpLossPct.toFixed(0)}%) | ${k.udpPps.toFixed(0)} (loss ${k.udpLossPct.toFixed(0)}%) | ${(t.udpPps / k.udpPps).toFixed(3)} |`,
  ].join('\n');
}

try {
  const tnat = await tapnetRouter(true);
  const lnat = await linuxNat();
  const tplain = await tapnetRouter(false);
  console.log(`iperf3, medians of ${runs} runs of ${seconds} s\n`);
  console.log('| path | tapnet | baseline | tapnet / baseline |\n| --- | --- | --- | --- |');
  console.log(row('NAT: tapnet masquerade vs nftables masquerade', tnat, lnat));
  console.log(row('NAT cost: tapnet masquerade vs tapnet router without NAT', tnat, tplain));
} finally {
  for (const ns of created) spawnSync('ip', ['netns', 'delete', ns]);
  rmSync(runDir, { recursive: true, force: true });
}
