/**
 * iperf3 between two namespaces through a tapnet switch vs a Linux bridge,
 * and through a tapnet router vs a Linux namespace router (ip_forward=1).
 *
 *   npx tsx bench/switch-router.ts [seconds=3] [runs=3]
 *
 * For each of the four paths: iperf3 TCP (one stream) and iperf3 UDP with
 * 64-byte datagrams at full speed (-b 0), `runs` times `seconds` each; prints
 * medians and the tapnet / Linux ratios as a Markdown table. Needs root,
 * iperf3 and iproute2. Every namespace is uniquely named and removed at the end.
 *
 * The Linux paths use veth pairs with their default offloads (TSO/GSO: TCP
 * crosses as 64 KB super-packets); tapnet's lab TAPs have offload on by
 * default too (virtio-net header, TSO both ways): the switch passes
 * super-frames through, the router segments them where they come in. That is
 * the honest comparison of what a learner gets by default from each.
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
const runDir = mkdtempSync(join(tmpdir(), 'tapnet-bench-'));

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

/** iperf3 client in `client` against a server in `server` at `address`. */
async function measure(client: string, server: string, address: string): Promise<Result> {
  const srv = spawn('ip', ['netns', 'exec', server, 'iperf3', '-s', '-p', '5201'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400)); // iperf3 -s has no readiness signal
    const tcp: number[] = [];
    const pps: number[] = [];
    const loss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = JSON.parse(nsx(client, ['iperf3', '-c', address, '-p', '5201', '-t', String(seconds), '-J'], (seconds + 20) * 1000)) as {
        end: { sum_received: { bits_per_second: number } };
      };
      tcp.push(t.end.sum_received.bits_per_second / 1e6);
      const u = JSON.parse(nsx(client, ['iperf3', '-c', address, '-p', '5201', '-u', '-l', '64', '-b', '0', '-t', String(seconds), '-J'], (seconds + 20) * 1000)) as {
        end: { sum: { packets: number; lost_packets: number; seconds: number } };
      };
      const received = u.end.sum.packets - u.end.sum.lost_packets;
      pps.push(received / u.end.sum.seconds);
      loss.push((100 * u.end.sum.lost_packets) / Math.max(1, u.end.sum.packets));
    }
    return { tcpMbps: median(tcp), udpPps: median(pps), udpLossPct: median(loss) };
  } finally {
    srv.kill();
  }
}

/** Starts `tapnet lab up` on a generated topology; returns the process once it logs `ready`. */
async function tapnetLab(yaml: string): Promise<{ child: ChildProcess; file: string }> {
  const file = join(runDir, `lab-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, [...NODE_ARGS, TAPNET, 'lab', 'up', file, '--log-level', 'warn'], {
    env: { ...process.env, TAPNET_RUN_DIR: runDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolveReady, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`lab did not start:\n${out}`)), 30_000);
    const poll = setInterval(() => {
      const r = spawnSync(process.execPath, [TAPNET, 'lab', 'status', file], { encoding: 'utf8', env: { ...process.env, TAPNET_RUN_DIR: runDir } });
      if (r.status === 0) {
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

async function stopLab(lab: { child: ChildProcess; file: string }): Promise<void> {
  const exited = new Promise((r) => lab.child.once('exit', r));
  lab.child.kill('SIGTERM');
  await exited;
}

async function tapnetSwitch(): Promise<Result> {
  const a = `bsa${tag}`;
  const b = `bsb${tag}`;
  created.push(a, b);
  const lab = await tapnetLab(`name: bsw${tag}
nodes:
  ${a}: { kind: host, interfaces: { eth0: { address: 10.201.0.1/24 } } }
  ${b}: { kind: host, interfaces: { eth0: { address: 10.201.0.2/24 } } }
  sw: { kind: switch, ports: { p1: {}, p2: {} } }
links:
  - { endpoints: [${a}:eth0, sw:p1], offload: ${LINK_OFFLOAD} }
  - { endpoints: [${b}:eth0, sw:p2], offload: ${LINK_OFFLOAD} }
`);
  try {
    return await measure(a, b, '10.201.0.2');
  } finally {
    await stopLab(lab);
  }
}

async function tapnetRouter(): Promise<Result> {
  const a = `bra${tag}`;
  const b = `brb${tag}`;
  created.push(a, b);
  const lab = await tapnetLab(`name: brt${tag}
nodes:
  ${a}: { kind: host, interfaces: { eth0: { address: 10.202.1.10/24 } }, routes: [default via 10.202.1.1] }
  ${b}: { kind: host, interfaces: { eth0: { address: 10.202.2.10/24 } }, routes: [default via 10.202.2.1] }
  r1: { kind: router, interfaces: { eth0: { address: 10.202.1.1/24 }, eth1: { address: 10.202.2.1/24 } } }
links:
  - { endpoints: [${a}:eth0, r1:eth0], offload: ${LINK_OFFLOAD} }
  - { endpoints: [${b}:eth0, r1:eth1], offload: ${LINK_OFFLOAD} }
`);
  try {
    return await measure(a, b, '10.202.2.10');
  } finally {
    await stopLab(lab);
  }
}

/** Two namespaces on veth pairs into a bridge living in a third namespace. */
async function linuxBridge(): Promise<Result> {
  const a = netns(`lba${tag}`);
  const b = netns(`lbb${tag}`);
  const br = netns(`lbr${tag}`);
  nsx(br, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  nsx(br, ['ip', 'link', 'set', 'br0', 'up']);
  for (const [ns, address] of [
    [a, '10.203.0.1/24'],
    [b, '10.203.0.2/24'],
  ] as const) {
    sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p-${ns}`.slice(0, 15), 'netns', br]);
    nsx(br, ['ip', 'link', 'set', `p-${ns}`.slice(0, 15), 'master', 'br0', 'up']);
    nsx(ns, ['ip', 'addr', 'add', address, 'dev', 'eth0']);
    nsx(ns, ['ip', 'link', 'set', 'eth0', 'up']);
  }
  return measure(a, b, '10.203.0.2');
}

/** Two namespaces on veth pairs into a third with ip_forward=1. */
async function linuxRouter(): Promise<Result> {
  const a = netns(`lra${tag}`);
  const b = netns(`lrb${tag}`);
  const r = netns(`lrr${tag}`);
  nsx(r, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const [ns, host, gw, dev] of [
    [a, '10.204.1.10/24', '10.204.1.1', 'ra'],
    [b, '10.204.2.10/24', '10.204.2.1', 'rb'],
  ] as const) {
    sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', dev, 'netns', r]);
    nsx(r, ['ip', 'addr', 'add', `${gw}/24`, 'dev', dev]);
    nsx(r, ['ip', 'link', 'set', dev, 'up']);
    nsx(ns, ['ip', 'addr', 'add', host, 'dev', 'eth0']);
    nsx(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    nsx(ns, ['ip', 'route', 'add', 'default', 'via', gw]);
  }
  return measure(a, b, '10.204.2.10');
}

function row(name: string, t: Result, k: Result): string {
  return [
    `| ${name} TCP (Mbit/s) | ${t.tcpMbps.toFixed(0)} | ${k.tcpMbps.toFixed(0)} | ${(t.tcpMbps / k.tcpMbps).toFixed(3)} |`,
    `| ${name} UDP 64 B (received packets/s) | ${t.udpPps.toFixed(0)} (loss ${t.udpLossPct.toFixed(0)}%) | ${k.udpPps.toFixed(0)} (loss ${k.udpLossPct.toFixed(0)}%) | ${(t.udpPps / k.udpPps).toFixed(3)} |`,
  ].join('\n');
}

try {
  const ts = await tapnetSwitch();
  const lb = await linuxBridge();
  const tr = await tapnetRouter();
  const lr = await linuxRouter();
  console.log(`iperf3, medians of ${runs} runs of ${seconds} s\n`);
  console.log('| path | tapnet | Linux | tapnet / Linux |\n| --- | --- | --- | --- |');
  console.log(row('switch (tapnet switch vs Linux bridge)', ts, lb));
  console.log(row('router (tapnet router vs namespace router)', tr, lr));
} finally {
  for (const ns of created) spawnSync('ip', ['netns', 'delete', ns]);
  rmSync(runDir, { recursive: true, force: true });
}
