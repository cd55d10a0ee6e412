/**
 * tapnet's WireGuard against the real thing: a lab whose tapnet router has
 * wg0, and a host namespace running wireguard-go configured by `wg setconf`
 * (the lab does that for `kind: wireguard` on a host). A second host sits on
 * the router's LAN, so packets cross the tunnel from both ends:
 *
 *   wgl-S 10.60.0.10 ── lan [ r: tapnet router, wg0 10.99.0.1 fd99::1 ] eth0 10.50.0.1 ── eth0 10.50.0.2 wgp-S
 *   fd60::10              10.60.0.1 fd60::1                           fd50::1          fd50::2   wireguard-go wgS: 10.99.0.2 fd99::2
 *
 * The lab runs with TAPNET_WG_REKEY_AFTER_TIME_MS (the documented test knob)
 * at 4 s, so sessions tapnet initiated are rekeyed while the tests run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, inNetns, netnsExists, sh, uniqueName } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const REKEY_AFTER_MS = 4000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function key(): { privateKey: string; publicKey: string } {
  const privateKey = sh('wg', ['genkey']).stdout.trim();
  const publicKey = sh('sh', ['-c', `echo ${privateKey} | wg pubkey`]).stdout.trim();
  return { privateKey, publicKey };
}

/** Receives one TCP stream on PORT, prints "<bytes> <sha256>". */
const SINK = `import socket,hashlib,sys
s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(1); print('listening',flush=True)
c,_=s.accept(); h=hashlib.sha256(); n=0
while True:
  d=c.recv(65536)
  if not d: break
  h.update(d); n+=len(d)
print(n,h.hexdigest(),flush=True)`;
/** Sends N pseudo-random bytes to HOST PORT, prints "<bytes> <sha256>". */
const SOURCE = `import socket,hashlib,sys,random
r=random.Random(13); data=r.randbytes(int(sys.argv[3])); h=hashlib.sha256(data).hexdigest()
s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=30); s.sendall(data); s.shutdown(socket.SHUT_WR)
s.recv(1); print(len(data),h,flush=True)`;

/** Transfers `bytes` over TCP from `fromNs` to `toNs` listening on `address`; returns both sides' "<bytes> <sha256>". */
async function transfer(dir: string, fromNs: string, toNs: string, address: string, port: number, bytes: number): Promise<{ sent: string; received: string }> {
  const sink = join(dir, 'sink.py');
  const source = join(dir, 'source.py');
  writeFileSync(sink, SINK);
  writeFileSync(source, SOURCE);
  const server = spawn('ip', ['netns', 'exec', toNs, PYTHON, sink, address, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((r) => server.on('exit', () => r()));
  for (let i = 0; i < 100 && !out.includes('listening'); i++) await sleep(50);
  const client = inNetns(fromNs, PYTHON, [source, address, String(port), String(bytes)], { timeoutMs: 120_000 });
  await Promise.race([done, sleep(20_000)]);
  server.kill('SIGKILL');
  return { sent: client.stdout.trim() || client.stderr, received: out.replace('listening\n', '').trim() };
}

describe('tapnet WireGuard interoperates with wireguard-go and wg', () => {
  const suffix = uniqueName('').slice(0, 6);
  const peerNs = `wgp-${suffix}`;
  const lanNs = `wgl-${suffix}`;
  const wgName = `wgt${suffix}`;
  const rogueName = `wgr${suffix}`;
  const router = key();
  const laptop = key();
  let lab: LabProcess | undefined;
  let dir = '';
  const r = (): LabProcess => lab!;
  const wg = (...args: string[]) => inNetns(peerNs, 'wg', args);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapnet-wg-'));
    const file = join(dir, 'wg.yaml');
    writeFileSync(
      file,
      `name: wgi-${suffix}
nodes:
  ${peerNs}:
    kind: host
    interfaces:
      eth0: { addresses: [10.50.0.2/24, fd50::2/64] }
      ${wgName}:
        kind: wireguard
        privateKey: ${laptop.privateKey}
        listenPort: 51820
        addresses: [10.99.0.2/24, fd99::2/64]
        peers:
          - publicKey: ${router.publicKey}
            endpoint: 10.50.0.1:51820
            allowedIPs: [10.99.0.1/32, fd99::1/128, 10.60.0.0/24, fd60::/64]
  ${lanNs}:
    kind: host
    interfaces:
      eth0: { addresses: [10.60.0.10/24, fd60::10/64] }
    routes: [default via 10.60.0.1, "::/0 via fd60::1"]
  r:
    kind: router
    interfaces:
      eth0: { addresses: [10.50.0.1/24, fd50::1/64] }
      lan: { addresses: [10.60.0.1/24, fd60::1/64] }
      wg0:
        kind: wireguard
        privateKey: ${router.privateKey}
        listenPort: 51820
        addresses: [10.99.0.1/24, fd99::1/64]
        peers:
          - publicKey: ${laptop.publicKey}
            endpoint: 10.50.0.2:51820
            allowedIPs: [10.99.0.2/32, fd99::2/128]
links:
  - [${peerNs}:eth0, r:eth0]
  - [${lanNs}:eth0, r:lan]
`,
    );
    process.env.TAPNET_WG_REKEY_AFTER_TIME_MS = String(REKEY_AFTER_MS);
    lab = await startLab(file, { keepNames: true });
  }, 60_000);

  afterAll(async () => {
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
    for (const name of [wgName, rogueName]) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('tapnet initiates: the first packet from its LAN to the laptop makes the handshake (IPv4)', () => {
    const ping = inNetns(lanNs, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.99.0.2']);
    expect(ping.stdout, ping.stderr).toMatch(/[23] received/);
    const s = r().stats('r');
    expect(s.wgOutInitiations).toBeGreaterThanOrEqual(1);
    expect(s.wgInResponses).toBeGreaterThanOrEqual(1);
    expect(wg('show', wgName, 'latest-handshakes').stdout).not.toMatch(/\t0$/m);
  });

  it('rekeys a session it initiated after REKEY_AFTER_TIME (the test knob), without losing the tunnel', async () => {
    // The current session is the one tapnet initiated in the test before: keep sending past the rekey time.
    const before = r().stats('r').wgOutInitiations!;
    const count = Math.ceil((REKEY_AFTER_MS * 2.5) / 200);
    const ping = inNetns(lanNs, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', '10.99.0.2'], { timeoutMs: 30_000 });
    expect(Number(/(\d+) received/.exec(ping.stdout)?.[1]), ping.stdout).toBeGreaterThanOrEqual(count - 2);
    expect(r().stats('r').wgOutInitiations! - before).toBeGreaterThanOrEqual(1);
    expect(r().stats('r').wgHandshakesCompleted).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it('wireguard-go initiates: a fresh peer on its side handshakes with tapnet (IPv4 and IPv6)', () => {
    const before = r().stats('r').wgInInitiations ?? 0;
    // Removing and re-adding the peer drops wireguard-go's sessions: its next packet needs a new handshake.
    expect(wg('set', wgName, 'peer', router.publicKey, 'remove').status).toBe(0);
    expect(wg('set', wgName, 'peer', router.publicKey, 'endpoint', '10.50.0.1:51820', 'allowed-ips', '10.99.0.1/32,fd99::1/128,10.60.0.0/24,fd60::/64').status).toBe(0);
    const ping = inNetns(peerNs, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.99.0.1']);
    expect(ping.stdout, ping.stderr).toMatch(/[23] received/);
    expect(r().stats('r').wgInInitiations).toBeGreaterThan(before);
    const ping6 = inNetns(peerNs, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd99::1']);
    expect(ping6.stdout, ping6.stderr).toMatch(/[23] received/);
  });

  it('forwards between the laptop and the LAN both ways, IPv4 and IPv6', () => {
    expect(inNetns(peerNs, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.60.0.10']).stdout).toMatch(/2 received/);
    expect(inNetns(peerNs, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd60::10']).stdout).toMatch(/2 received/);
    expect(inNetns(lanNs, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd99::2']).stdout).toMatch(/2 received/);
    const show = r().cli(['show', 'wg', '--lab', r().file]).stdout;
    expect(show).toMatch(/interface: wg0\n  public key: .+\n  private key: \(hidden\)\n  listening port: 51820\n/);
    expect(show).toContain(`peer: ${laptop.publicKey}\n  endpoint: 10.50.0.2:51820\n  allowed ips: 10.99.0.2/32, fd99::2/128\n  latest handshake: `);
    expect(show).toMatch(/transfer: .* received, .* sent/);
  });

  it('carries a TCP transfer byte-exact each way (4 MiB)', async () => {
    const out = await transfer(dir, lanNs, peerNs, '10.99.0.2', 5001, 4 << 20);
    expect(out.received, out.sent).toBe(out.sent);
    expect(out.sent).toMatch(/^4194304 [0-9a-f]{64}$/);
    const back = await transfer(dir, peerNs, lanNs, 'fd60::10', 5002, 4 << 20);
    expect(back.received, back.sent).toBe(back.sent);
    // IPv4 out of the tunnel: r coalesces wireguard-go's segments into super-packets for the LAN's TAP (gro.ts).
    const gro = r().stats('r').wgInGroSegments ?? 0;
    const back4 = await transfer(dir, peerNs, lanNs, '10.60.0.10', 5005, 4 << 20);
    expect(back4.received, back4.sent).toBe(back4.sent);
    expect(r().stats('r').wgInGroSegments ?? 0).toBeGreaterThan(gro);
  }, 120_000);

  // Opt-in (TAPNET_WG_BIG=1): the 64 MiB, each way.
  it.runIf(process.env.TAPNET_WG_BIG === '1')('carries 64 MiB byte-exact each way', async () => {
    const out = await transfer(dir, lanNs, peerNs, '10.99.0.2', 5003, 64 << 20);
    expect(out.received, out.sent).toBe(out.sent);
    const back = await transfer(dir, peerNs, lanNs, '10.60.0.10', 5004, 64 << 20);
    expect(back.received, back.sent).toBe(back.sent);
  }, 600_000);

  it('answers persistent keepalives from wireguard-go, and counts them', async () => {
    const before = r().stats('r').wgInKeepalives ?? 0;
    expect(wg('set', wgName, 'peer', router.publicKey, 'persistent-keepalive', '1').status).toBe(0);
    await sleep(3500);
    expect(wg('set', wgName, 'peer', router.publicKey, 'persistent-keepalive', '0').status).toBe(0);
    expect((r().stats('r').wgInKeepalives ?? 0) - before).toBeGreaterThanOrEqual(2);
  });

  it('follows a roaming endpoint: the laptop moves to another port, tapnet answers there', () => {
    expect(wg('set', wgName, 'listen-port', '51821').status).toBe(0);
    expect(inNetns(peerNs, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.99.0.1']).stdout).toMatch(/[12] received/);
    expect(r().cli(['show', 'wg', '--lab', r().file]).stdout).toContain('endpoint: 10.50.0.2:51821');
    // Traffic tapnet starts now goes to the new port.
    expect(inNetns(lanNs, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.99.0.2']).stdout).toMatch(/2 received/);
  });

  it('runs the tunnel over IPv6 too: wireguard-go moves to an IPv6 endpoint, tapnet follows', () => {
    expect(wg('set', wgName, 'peer', router.publicKey, 'endpoint', '[fd50::1]:51820').status).toBe(0);
    expect(inNetns(peerNs, 'ping', ['-c', '2', '-i', '0.3', '-W', '2', '10.99.0.1']).stdout).toMatch(/[12] received/);
    expect(r().cli(['show', 'wg', '--lab', r().file]).stdout).toMatch(/endpoint: \[fd50::2\]:5182[01]/);
    expect(inNetns(lanNs, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd99::2']).stdout).toMatch(/2 received/);
  });

  it('a peer without a configured key gets nothing back', async () => {
    const rogue = key();
    const conf = join(dir, 'rogue.conf');
    writeFileSync(conf, `[Interface]\nPrivateKey = ${rogue.privateKey}\nListenPort = 51830\n\n[Peer]\nPublicKey = ${router.publicKey}\nEndpoint = 10.50.0.1:51820\nAllowedIPs = 10.98.0.1/32\n`);
    const child = spawn('ip', ['netns', 'exec', peerNs, 'wireguard-go', '-f', rogueName], { env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' }, stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && sh('test', ['-S', `/var/run/wireguard/${rogueName}.sock`]).status !== 0; i++) await sleep(50);
      expect(wg('setconf', rogueName, conf).status).toBe(0);
      inNetns(peerNs, 'ip', ['addr', 'add', '10.98.0.2/24', 'dev', rogueName]);
      inNetns(peerNs, 'ip', ['link', 'set', rogueName, 'up']);
      const before = r().stats('r');
      expect(inNetns(peerNs, 'ping', ['-c', '2', '-i', '0.3', '-W', '1', '10.98.0.1']).stdout).toContain(' 0 received');
      const after = r().stats('r');
      expect(after.wgInUnknownPeer! - (before.wgInUnknownPeer ?? 0)).toBeGreaterThanOrEqual(1);
      expect(after.wgOutResponses).toBe(before.wgOutResponses);
      expect(wg('show', rogueName, 'latest-handshakes').stdout).toMatch(/\t0$/m);
    } finally {
      child.kill('SIGTERM');
      rmSync(`/var/run/wireguard/${rogueName}.sock`, { force: true });
    }
    // The real tunnel still works.
    expect(inNetns(peerNs, 'ping', ['-c', '1', '-W', '2', '10.99.0.1']).stdout).toMatch(/1 received/);
  });

  it('lab down stops wireguard-go and leaves nothing behind', async () => {
    expect(await r().down(), r().output()).toBe(0);
    for (const ns of r().hosts) expect(netnsExists(ns), ns).toBe(false);
    expect(sh('test', ['-e', `/var/run/wireguard/${wgName}.sock`]).status).not.toBe(0);
    lab = undefined;
  });
});
