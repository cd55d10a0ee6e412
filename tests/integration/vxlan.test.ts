/**
 * VXLAN links (RFC 7348) against Linux's own vxlan, and tapnet to tapnet.
 *
 *   kernel side                         underlay veth                tapnet lab (part a)
 *   ns K: vx0 (type vxlan id 42) ── vK 192.0.2.1 ═══ 192.0.2.2 vU ── ns U: the lab's UDP socket
 *         10.42.0.1, fd42::1                                        sw1:wan { vxlan } ── sw1:p1 ── pc (10.42.0.10)
 *   then vx0 moves into a Linux bridge with a veth to ns KP (10.42.0.5): a PC behind the kernel's bridge
 *
 * Linux's vxlan only answers across two namespaces (never over loopback in one), hence K and U joined by a veth.
 * The second lab is split into two parts, each its own `tapnet lab up --part` process, whose underlays are two
 * more namespaces joined over IPv6: a host behind a switch in part a, a router interface in part b.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns, netnsExists, sh, TAPNET, uniqueName } from './harness.js';
import { tapnetEnv } from './lab-harness.js';

const p = uniqueName('vx'); // 8 characters: every name below starts with it
const K = `${p}k`;
const U = `${p}u`;
const KP = `${p}kp`;
const PC = `${p}pc`;
const SW = `${p}sw`;
const X = `${p}x`; // the tapnet-to-tapnet underlays
const Y = `${p}y`;
const HA = `${p}ha`;
const SWA = `${p}swa`;
const RB = `${p}rb`;
const HB = `${p}hb`;
const runDir = mkdtempSync(join(tmpdir(), 'tapnet-vxlan-'));
const env = tapnetEnv(runDir);

const KERNEL_LAB = join(runDir, 'kernel.yaml');
const SPLIT_LAB = join(runDir, 'split.yaml');

function must(ns: string | undefined, command: string, args: string[]): string {
  const r = ns ? inNetns(ns, command, args) : sh(command, args);
  if (r.status !== 0) throw new Error(`${ns ? `[${ns}] ` : ''}${command} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

interface Part {
  readonly child: ChildProcess;
  output(): string;
}
const parts: Part[] = [];

async function labUp(file: string, part?: string): Promise<Part> {
  const child = spawn(process.execPath, [TAPNET, 'lab', 'up', file, ...(part ? ['--part', part] : [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const lab: Part = { child, output: () => out };
  parts.push(lab);
  const ready = await new Promise<boolean>((resolve) => {
    const check = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('ready')) resolve(true);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.on('exit', () => resolve(false));
    setTimeout(() => resolve(false), 30_000);
  });
  if (!ready) throw new Error(`lab ${file} ${part ?? ''} did not become ready:\n${out}`);
  return lab;
}

function envCli(args: string[]): string {
  const r = spawnSyncEnv(args);
  if (r.status !== 0) throw new Error(`tapnet ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function spawnSyncEnv(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [TAPNET, ...args], { encoding: 'utf8', env, timeout: 30_000 });
}

/** A UDP datagram from namespace `ns` to ADDRESS:4789 (the payload as hex): a hand-made VXLAN packet. */
function sendUdp(ns: string, address: string, hex: string): void {
  must(ns, 'python3', ['-c', `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes.fromhex('${hex}'), ('${address}', 4789))`]);
}

beforeAll(async () => {
  // The kernel's side: K and U joined by a veth; K's vxlan device talks to U's address.
  must(undefined, 'ip', ['netns', 'add', K]);
  must(undefined, 'ip', ['netns', 'add', U]);
  must(undefined, 'ip', ['link', 'add', `${p}vk`, 'netns', K, 'type', 'veth', 'peer', 'name', `${p}vu`, 'netns', U]);
  must(K, 'ip', ['addr', 'add', '192.0.2.1/24', 'dev', `${p}vk`]);
  must(U, 'ip', ['addr', 'add', '192.0.2.2/24', 'dev', `${p}vu`]);
  must(K, 'ip', ['link', 'set', `${p}vk`, 'up']);
  // A veth hands the inner frame over with its TCP/UDP checksum still partial (offloaded to a NIC that is not
  // there); a UDP socket, tapnet's, then gets an unfinished checksum. Off: the kernel completes it (labs/README.md).
  must(K, 'ethtool', ['-K', `${p}vk`, 'tx', 'off']);
  must(U, 'ip', ['link', 'set', `${p}vu`, 'up']);
  must(K, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '192.0.2.1', 'remote', '192.0.2.2', 'dev', `${p}vk`]);
  must(K, 'ip', ['addr', 'add', '10.42.0.1/24', 'dev', 'vx0']);
  must(K, 'ip', ['-6', 'addr', 'add', 'fd42::1/64', 'dev', 'vx0', 'nodad']);
  must(K, 'ip', ['link', 'set', 'vx0', 'up']);
  writeFileSync(
    KERNEL_LAB,
    `name: ${p}
nodes:
  ${PC}:
    kind: host
    interfaces:
      eth0: { addresses: [10.42.0.10/24, fd42::10/64] }
  ${SW}:
    kind: switch
    ports: { p1: {}, wan: {} }
links:
  - endpoints: [${PC}:eth0, ${SW}:p1]
    mtu: 1450
  - [${SW}:wan, { vxlan: { vni: 42, remote: 192.0.2.1, local: 192.0.2.2, netns: ${U} } }]
`,
  );
  // Two tapnet processes, one per part, over an IPv6 underlay (X ═ Y).
  must(undefined, 'ip', ['netns', 'add', X]);
  must(undefined, 'ip', ['netns', 'add', Y]);
  must(undefined, 'ip', ['link', 'add', `${p}vx`, 'netns', X, 'type', 'veth', 'peer', 'name', `${p}vy`, 'netns', Y]);
  must(X, 'ip', ['-6', 'addr', 'add', 'fd99::1/64', 'dev', `${p}vx`, 'nodad']);
  must(Y, 'ip', ['-6', 'addr', 'add', 'fd99::2/64', 'dev', `${p}vy`, 'nodad']);
  must(X, 'ip', ['link', 'set', `${p}vx`, 'up']);
  must(Y, 'ip', ['link', 'set', `${p}vy`, 'up']);
  writeFileSync(
    SPLIT_LAB,
    `name: ${p}s
nodes:
  ${HA}: { kind: host, part: a, interfaces: { eth0: { address: 10.43.0.1/24 } } }
  ${SWA}: { kind: switch, part: a, ports: { p1: {}, wan: {}, wan2: {} } }
  ${RB}: { kind: router, part: b, interfaces: { eth0: { address: 10.43.0.2/24 } } }
  ${HB}: { kind: host, part: b, interfaces: { eth0: { address: 10.43.0.3/24 } } }
links:
  - endpoints: [${HA}:eth0, ${SWA}:p1]
    mtu: 1430
  - [${SWA}:wan, { vxlan: { vni: 4242, remote: "fd99::2", local: "fd99::1", netns: ${X} } }]
  - [${RB}:eth0, { vxlan: { vni: 4242, remote: "fd99::1", local: "fd99::2", netns: ${Y} } }]
  # A second segment on the same sockets (told apart by VNI), ending on a host's interface.
  - [${SWA}:wan2, { vxlan: { vni: 4243, remote: "fd99::2", local: "fd99::1", netns: ${X} } }]
  - [${HB}:eth0, { vxlan: { vni: 4243, remote: "fd99::1", local: "fd99::2", netns: ${Y} } }]
`,
  );
  await Promise.all([labUp(KERNEL_LAB), labUp(SPLIT_LAB, 'a'), labUp(SPLIT_LAB, 'b')]);
}, 60_000);

afterAll(async () => {
  for (const [file, part] of [[KERNEL_LAB], [SPLIT_LAB, 'a'], [SPLIT_LAB, 'b']] as const) spawnSyncEnv(['lab', 'down', file, ...(part ? ['--part', part] : [])]);
  await Promise.all(parts.map((l) => (l.child.exitCode === null ? new Promise((r) => l.child.on('exit', r)) : undefined)));
  for (const ns of [K, KP, U, X, Y, PC, HA, HB]) if (netnsExists(ns)) sh('ip', ['netns', 'delete', ns]);
  rmSync(runDir, { recursive: true, force: true });
}, 30_000);

describe('VXLAN against Linux (a kernel vxlan device in another namespace)', () => {
  it('pings both ways: the kernel ARPs through the tunnel, tapnet learns its MAC behind 192.0.2.1', () => {
    must(K, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.42.0.10']);
    must(PC, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.42.0.1']);
    const kernelMac = JSON.parse(must(K, 'ip', ['-j', 'link', 'show', 'vx0']))[0].address as string;
    const mac = envCli(['show', 'mac', '--lab', KERNEL_LAB, '--node', SW]);
    expect(mac).toContain(`${kernelMac} dst 192.0.2.1`);
    // The kernel learned pc's MAC behind our underlay address too (its FDB, the same behaviour).
    expect(must(K, 'bridge', ['fdb', 'show', 'dev', 'vx0'])).toMatch(/dst 192\.0\.2\.2/);
  });

  it('pings over IPv6 (NDP through the tunnel)', () => {
    must(K, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd42::10']);
  });

  it('carries a TCP transfer byte for byte', () => {
    const data = randomBytes(3_000_000);
    const file = join(runDir, 'data');
    writeFileSync(file, data);
    const server = spawn('ip', ['netns', 'exec', PC, 'python3', '-c', `
import hashlib, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 5042)); s.listen(1)
print('listening', flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)
`]);
    let out = '';
    server.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise<void>((resolve, reject) => {
      const started = setInterval(() => {
        if (!out.includes('listening')) return;
        clearInterval(started);
        const send = inNetns(K, 'python3', ['-c', `import socket; s = socket.create_connection(('10.42.0.10', 5042)); s.sendall(open('${file}', 'rb').read()); s.close()`], { timeoutMs: 30_000 });
        if (send.status !== 0) return reject(new Error(send.stderr));
        server.on('exit', () => {
          try {
            expect(out.trim().split('\n').at(-1)).toBe(`${data.length} ${createHash('sha256').update(data).digest('hex')}`);
            resolve();
          } catch (e) {
            reject(e);
          }
        });
      }, 50);
    });
  }, 30_000);

  it('drops a wrong VNI and truncated VXLAN headers, with counters, and still forwards afterwards', () => {
    const before = JSON.parse(envCli(['show', 'stats', '--json', '--lab', KERNEL_LAB, '--node', SW])) as Record<string, number>;
    // VNI 43 (flags I, VNI 0x00002b) carrying a broadcast frame; then 5 bytes; then a header with nothing after it.
    sendUdp(K, '192.0.2.2', `0800000000002b00${'ff'.repeat(6)}020000000001080600`);
    sendUdp(K, '192.0.2.2', '0800000000');
    sendUdp(K, '192.0.2.2', '0800000000002a00');
    // A clear I flag.
    sendUdp(K, '192.0.2.2', `0000000000002a00${'ff'.repeat(6)}020000000001080600`);
    must(K, 'ping', ['-c', '1', '-W', '2', '10.42.0.10']);
    const after = JSON.parse(envCli(['show', 'stats', '--json', '--lab', KERNEL_LAB, '--node', SW])) as Record<string, number>;
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
    expect(delta('vxlanInUnknownVni')).toBe(1);
    expect(delta('vxlanInTruncated')).toBe(2);
    expect(delta('vxlanInBadFlags')).toBe(1);
  });

  it('a tunnel whose port is taken: one line naming the file, line and link; nothing left behind', () => {
    const file = join(runDir, 'taken.yaml');
    writeFileSync(file, `name: ${p}t\nnodes:\n  ${p}ts: { kind: switch, ports: { wan: {} } }\nlinks:\n  - [${p}ts:wan, { vxlan: { vni: 9, remote: 192.0.2.1, local: 192.0.2.2, netns: ${U} } }]\n`);
    const r = spawnSyncEnv(['lab', 'up', file]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${file}:5:5: links (${p}ts:wan): VXLAN: VXLAN underlay in namespace ${U}: cannot bind 192.0.2.2 port 4789`);
    expect(spawnSyncEnv(['lab', 'status', file]).stderr).toContain('is not running');
  });

  it('reaches a PC behind a Linux bridge the kernel vxlan device is a port of', () => {
    must(undefined, 'ip', ['netns', 'add', KP]);
    must(undefined, 'ip', ['link', 'add', `${p}vp`, 'netns', KP, 'type', 'veth', 'peer', 'name', `${p}vb`, 'netns', K]);
    must(KP, 'ip', ['addr', 'add', '10.42.0.5/24', 'dev', `${p}vp`]);
    must(KP, 'ip', ['link', 'set', `${p}vp`, 'up']);
    must(K, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    must(K, 'ip', ['link', 'set', 'vx0', 'master', 'br0']);
    must(K, 'ip', ['link', 'set', `${p}vb`, 'master', 'br0']);
    must(K, 'ip', ['link', 'set', `${p}vb`, 'up']);
    must(K, 'ip', ['link', 'set', 'br0', 'up']);
    must(PC, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.42.0.5']);
    const kpMac = JSON.parse(must(KP, 'ip', ['-j', 'link', 'show', `${p}vp`]))[0].address as string;
    expect(envCli(['show', 'mac', '--lab', KERNEL_LAB, '--node', SW])).toContain(`${kpMac} dst 192.0.2.1`);
  });

  it('says the MTU and where it came from in the lab status', () => {
    const status = envCli(['lab', 'status', KERNEL_LAB]);
    expect(status).toMatch(/:wan — vxlan vni 42 → 192\.0\.2\.1\s+mtu 1450\s+\(underlay mtu 1500 - 50 \(IPv4\)/);
  });
});

describe('tapnet to tapnet: one lab file, two parts, two processes, an IPv6 underlay', () => {
  it('pings from a host in part a to a router interface in part b', () => {
    must(HA, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.43.0.2']);
    // 1430 = 1500 - 70 (IPv6 underlay): the largest ping that fits, unfragmented.
    must(HA, 'ping', ['-c', '1', '-M', 'do', '-s', String(1430 - 28), '-W', '2', '10.43.0.2']);
    const status = envCli(['lab', 'status', SPLIT_LAB, '--part', 'b']);
    expect(status).toContain('underlay mtu 1500 - 70 (IPv6)');
    expect(envCli(['show', 'mac', '--lab', SPLIT_LAB, '--part', 'a'])).toMatch(/dst fd99::2/);
  });

  it('reaches a host interface whose other end is a second VNI on the same underlay sockets', () => {
    must(HA, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.43.0.3']);
    must(HB, 'ping', ['-c', '1', '-W', '2', '10.43.0.2']); // hb ─ VNI 4243 ─ swa ─ VNI 4242 ─ rb: both segments
  });

  it('refuses a split lab without --part', () => {
    const r = spawnSyncEnv(['lab', 'status', SPLIT_LAB]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bring one up with --part NAME');
  });
});
