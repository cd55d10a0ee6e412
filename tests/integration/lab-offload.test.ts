/**
 * Byte-exact TCP through a lab with virtio-net offload on (the default) and
 * off (`offload: false` on every link): a client namespace sends and
 * receives a few MB, compared by SHA-256, to a server on its switch (IPv4
 * and IPv6: super-frames cross the switch whole), to one behind the router
 * (segmented at the router's ingress, forwarded per packet) and to one
 * behind the router's NAT (masquerade). With offload on, the lab must really
 * have carried super-frames (vnetInGsoFrames); with it off, none.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, uniqueName } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const SIZE = 4 * 1024 * 1024;
const TRANSFER_TIMEOUT_MS = 60_000;

/** One side of a transfer: serve-sink / serve-source listen; send / recv connect. Prints "sha256 bytes" for what it received. */
const PEER = `
import hashlib, socket, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(sys.argv[4], 'rb').read() if len(sys.argv) > 4 else b''
family = socket.AF_INET6 if ':' in addr else socket.AF_INET
def drain(s):
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(65536)
        if not b:
            return '%s %d' % (h.hexdigest(), n)
        h.update(b)
        n += len(b)
if mode.startswith('serve'):
    l = socket.socket(family)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(1)
    print('listening', flush=True)
    c, _ = l.accept()
    if mode == 'serve-sink':
        print(drain(c), flush=True)
    else:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        drain(c)
    c.close()
else:
    s = socket.create_connection((addr, port), timeout=50)
    if mode == 'send':
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        drain(s)
    else:
        print(drain(s), flush=True)
    s.close()
`;

function run(ns: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, ...args], { timeout: TRANSFER_TIMEOUT_MS, maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** A lab: client c and server s on switch sw; router r to x (routed) and w (behind masquerade). */
function labYaml(name: string, p: string, offload: boolean): string {
  const link = (a: string, b: string): string => (offload ? `  - [${a}, ${b}]` : `  - { endpoints: [${a}, ${b}], offload: false }`);
  return `name: ${name}
nodes:
  ${p}c:
    kind: host
    interfaces:
      eth0: { addresses: [10.61.1.10/24, fd61:1::10/64] }
    routes: [default via 10.61.1.1]
  ${p}s:
    kind: host
    interfaces:
      eth0: { addresses: [10.61.1.20/24, fd61:1::20/64] }
  ${p}x:
    kind: host
    interfaces:
      eth0: { address: 10.61.3.10/24 }
    routes: [10.61.1.0/24 via 10.61.3.1]
  ${p}w:
    kind: host
    interfaces:
      eth0: { address: 10.61.2.10/24 }
  sw:
    kind: switch
    ports:
      p1:
      p2:
      up:
  r:
    kind: router
    interfaces:
      lan: { address: 10.61.1.1/24 }
      wan: { address: 10.61.2.1/24 }
      dmz: { address: 10.61.3.1/24 }
    nat:
      masquerade: { out: wan }
links:
${link(`${p}c:eth0`, 'sw:p1')}
${link(`${p}s:eth0`, 'sw:p2')}
${link('sw:up', 'r:lan')}
${link('r:wan', `${p}w:eth0`)}
${link('r:dmz', `${p}x:eth0`)}
`;
}

for (const offload of [true, false]) {
  describe(`lab TCP byte-exact with offload ${offload ? 'on' : 'off'}`, () => {
    const p = uniqueName('tof');
    let lab: LabProcess | undefined;
    let dir = '';
    let file = '';
    let expected = '';
    let port = 7100;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tapnet-offload-'));
      const data = randomBytes(SIZE);
      file = join(dir, 'data.bin');
      writeFileSync(file, data);
      writeFileSync(join(dir, 'peer.py'), PEER);
      expected = `${createHash('sha256').update(data).digest('hex')} ${SIZE}`;
      const labFile = join(dir, 'lab.yaml');
      writeFileSync(labFile, labYaml(p, p, offload));
      lab = await startLab(labFile, { keepNames: true }); // its host names come from uniqueName
    }, 60_000);

    afterAll(async () => {
      if (lab) {
        await lab.down().catch(() => undefined);
        cleanupLab(lab);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Client `c` → server at `address` in `serverNs`, then the other way; both byte-exact. */
    async function bothWays(serverNs: string, address: string): Promise<void> {
      const peer = join(dir, 'peer.py');
      const up = port++;
      const sink = run(serverNs, [PYTHON, peer, 'serve-sink', address, String(up)]);
      await new Promise((r) => setTimeout(r, 500));
      const sent = await run(`${p}c`, [PYTHON, peer, 'send', address, String(up), file]);
      expect(sent.code, sent.stderr).toBe(0);
      const received = await sink;
      expect(received.stdout.trim().split('\n').pop(), received.stderr).toBe(expected);

      const down = port++;
      const source = run(serverNs, [PYTHON, peer, 'serve-source', address, String(down), file]);
      await new Promise((r) => setTimeout(r, 500));
      const got = await run(`${p}c`, [PYTHON, peer, 'recv', address, String(down)]);
      expect(got.stdout.trim(), got.stderr).toBe(expected);
      expect((await source).code).toBe(0);
    }

    it('through the switch (IPv4)', () => bothWays(`${p}s`, '10.61.1.20'), TRANSFER_TIMEOUT_MS * 2);
    it('through the switch (IPv6)', () => bothWays(`${p}s`, 'fd61:1::20'), TRANSFER_TIMEOUT_MS * 2);
    it('through the switch and the router', () => bothWays(`${p}x`, '10.61.3.10'), TRANSFER_TIMEOUT_MS * 2);
    it('through the switch, the router and NAT (masquerade)', () => bothWays(`${p}w`, '10.61.2.10'), TRANSFER_TIMEOUT_MS * 2);

    it(offload ? 'carried TSO super-frames' : 'carried no super-frames', () => {
      // A TAP's offload counters are its tapnet node's: the switch's ports, the router's interfaces.
      for (const node of ['sw', 'r']) {
        const stats = lab!.stats(node);
        if (offload) expect(stats.vnetInGsoFrames ?? 0, node).toBeGreaterThan(0);
        else expect(stats.vnetInGsoFrames ?? 0, node).toBe(0);
        for (const counter of ['vnetInGsoSizeZero', 'vnetInGsoSizeTooLarge', 'vnetInGsoTypeUnknown', 'vnetInCsumOutOfFrame', 'vnetInSuperFrameTooLarge', 'vnetGsoWithoutOffload', 'vnetInGsoBadHeaders']) {
          expect(stats[counter] ?? 0, `${node} ${counter}`).toBe(0);
        }
      }
    });
  });
}
