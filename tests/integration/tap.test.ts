/**
 * The TAP addon against the real kernel: tapnet owns TAPs whose kernel ends
 * sit in fresh network namespaces; the kernel (ARP, ICMP echo, ping) is the
 * peer. Frames are built by hand here so this test depends on nothing above
 * src/device. Needs root.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Slices } from '../../src/core/slices.js';
import { getU16, getU32, setU16, setU32 } from '../../src/core/bytes.js';
import { internetChecksum } from '../../src/core/checksum.js';
import {
  BATCH_FRAMES,
  TunOffload,
  VNET_HDR_SIZE,
  VnetHdrField,
  VnetHdrFlag,
  openTap,
  type TapDevice,
} from '../../src/device/tap.js';

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const id = randomBytes(3).toString('hex');
const tapName = (n: number): string => `tt${id}${n}`; // 9 characters, unique per run
const nsName = (n: number): string => `tapnet-tt-${id}-${n}`;
// /24s of 10.0.0.0/8 picked per run, only ever used inside our namespaces;
// TAPs sharing a namespace get different ones.
const [octetA, octetB] = randomBytes(2);
const subnetN = (n: number): string => `10.${100 + (octetA! % 100)}.${(octetB! + n) % 256}`;
const subnet = subnetN(0);

const opened: TapDevice[] = [];
const namespaces: string[] = [];
const children: ReturnType<typeof spawn>[] = [];
let scratch: string | undefined;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function addNetns(name: string): void {
  ip('netns', 'add', name);
  namespaces.push(name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
}

function track(dev: TapDevice): TapDevice {
  opened.push(dev);
  return dev;
}

function linkExists(name: string, netns?: string): boolean {
  try {
    ip(...(netns ? ['-n', netns] : []), 'link', 'show', 'dev', name);
    return true;
  } catch {
    return false;
  }
}

function linkInfo(name: string, netns: string): { address: string; mtu: number } {
  const [info] = JSON.parse(ip('-n', netns, '-j', 'link', 'show', 'dev', name)) as { address: string; mtu: number }[];
  return info!;
}

// ---- frames by hand -------------------------------------------------------

const OUR_MAC = Uint8Array.of(0x02, 0x74, 0x61, 0x70, 0x00, 0x01); // locally administered
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;

function ipv4(text: string): number {
  return text.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function macBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(':'), (h) => parseInt(h, 16));
}

/** A 42-byte ARP reply (RFC 826): `sender` is at `senderMac`, answering `target`. */
function arpReply(senderMac: Uint8Array, senderIp: number, targetMac: Uint8Array, targetIp: number): Uint8Array {
  const f = new Uint8Array(42);
  f.set(targetMac, 0); // Ethernet destination
  f.set(senderMac, 6); // Ethernet source
  setU16(f, 12, ETHERTYPE_ARP);
  setU16(f, 14, 1); // hardware type: Ethernet
  setU16(f, 16, ETHERTYPE_IPV4); // protocol type
  f[18] = 6; // hardware address length
  f[19] = 4; // protocol address length
  setU16(f, 20, 2); // operation: reply
  f.set(senderMac, 22);
  setU32(f, 28, senderIp);
  f.set(targetMac, 32);
  setU32(f, 38, targetIp);
  return f;
}

/** Ethernet + IPv4 (RFC 791) + ICMP echo (RFC 792, type 8 request / 0 reply) with `payload` bytes of data. */
function icmpEcho(
  type: 0 | 8,
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  dst: number,
  ident: number,
  seq: number,
  payload: Uint8Array = new Uint8Array(32).fill(0x61),
): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + payload.length);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  setU16(f, 12, ETHERTYPE_IPV4);
  const ipOff = 14;
  f[ipOff] = 0x45; // version 4, IHL 5
  setU16(f, ipOff + 2, 20 + 8 + payload.length); // total length
  setU16(f, ipOff + 4, seq); // identification
  setU16(f, ipOff + 6, 0x4000); // DF
  f[ipOff + 8] = 64; // TTL
  f[ipOff + 9] = 1; // protocol: ICMP
  setU32(f, ipOff + 12, src);
  setU32(f, ipOff + 16, dst);
  setU16(f, ipOff + 10, internetChecksum(f, ipOff, 20));
  const icmpOff = ipOff + 20;
  f[icmpOff] = type;
  setU16(f, icmpOff + 4, ident);
  setU16(f, icmpOff + 6, seq);
  f.set(payload, icmpOff + 8);
  setU16(f, icmpOff + 2, internetChecksum(f, icmpOff, 8 + payload.length));
  return f;
}

function withVnetHdr(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(VNET_HDR_SIZE + frame.length); // all-zero header: a complete, plain frame
  out.set(frame, VNET_HDR_SIZE);
  return out;
}

/** Decoded bits of a received frame the tests look at; `e` is where the Ethernet header starts. */
interface Seen {
  raw: Uint8Array;
  e: number;
  etherType: number;
  arpOp?: number;
  arpSenderMac?: Uint8Array;
  arpSenderIp?: number;
  arpTargetIp?: number;
  ipSource?: number;
  ipDestination?: number;
  icmpType?: number;
  icmpIdent?: number;
  icmpSeq?: number;
}

function decode(raw: Uint8Array, e: number): Seen {
  const s: Seen = { raw, e, etherType: raw.length >= e + 14 ? getU16(raw, e + 12) : -1 };
  if (s.etherType === ETHERTYPE_ARP && raw.length >= e + 42) {
    s.arpOp = getU16(raw, e + 20);
    s.arpSenderMac = raw.slice(e + 22, e + 28);
    s.arpSenderIp = getU32(raw, e + 28);
    s.arpTargetIp = getU32(raw, e + 38);
  } else if (s.etherType === ETHERTYPE_IPV4 && raw.length >= e + 42) {
    s.ipSource = getU32(raw, e + 26);
    s.ipDestination = getU32(raw, e + 30);
    if (raw[e + 23] === 1) {
      s.icmpType = raw[e + 34];
      s.icmpIdent = getU16(raw, e + 38);
      s.icmpSeq = getU16(raw, e + 40);
    }
  }
  return s;
}

/**
 * The far end of the wire as the kernel sees it: a host at `ourIp` that
 * answers ARP requests and ICMP echo requests, and records every frame.
 */
class Peer {
  readonly seen: Seen[] = [];
  private waiters: { match: (s: Seen) => boolean; resolve: (s: Seen) => void }[] = [];
  private readonly e: number;

  constructor(
    readonly dev: TapDevice,
    readonly ourIp: number,
  ) {
    this.e = dev.vnetHdr ? VNET_HDR_SIZE : 0;
    dev.setReceiver((frame) => this.receive(frame));
  }

  private out(frame: Uint8Array): void {
    this.dev.send(this.e ? withVnetHdr(frame) : frame);
  }

  private receive(frame: Uint8Array): void {
    const s = decode(frame.slice(), this.e); // copy: the view is only valid during the call
    this.seen.push(s);
    if (s.arpOp === 1 && s.arpTargetIp === this.ourIp) {
      this.out(arpReply(OUR_MAC, this.ourIp, s.arpSenderMac!, s.arpSenderIp!));
    }
    if (s.icmpType === 8 && s.ipDestination === this.ourIp) {
      const req = s.raw.subarray(this.e);
      const payload = req.subarray(42);
      this.out(icmpEcho(0, req.subarray(6, 12), OUR_MAC, this.ourIp, s.ipSource!, s.icmpIdent!, s.icmpSeq!, payload));
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(s)) return true;
      w.resolve(s);
      return false;
    });
  }

  waitFor(what: string, match: (s: Seen) => boolean, timeoutMs = 5000): Promise<Seen> {
    const already = this.seen.find(match);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      });
    });
  }
}

function onClosePromise(dev: TapDevice, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('onClose did not fire')), timeoutMs);
    dev.onClose((reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Puts `kernelIp`/24 on the TAP's kernel end inside `netns` and brings it up. */
function configureKernelSide(name: string, netns: string, kernelIp: string): void {
  ip('-n', netns, 'addr', 'add', `${kernelIp}/24`, 'dev', name);
  ip('-n', netns, 'link', 'set', 'dev', name, 'up');
}

describe.skipIf(!isRoot)('TapDevice on a Linux TAP', () => {
  const nsA = nsName(1);
  const nsB = nsName(2);
  const nsC = nsName(3);

  beforeAll(() => {
    addNetns(nsA);
    addNetns(nsB);
    addNetns(nsC);
  });

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const dev of opened) {
      try {
        dev.close();
      } catch {
        /* already gone */
      }
    }
    for (const ns of namespaces) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* already gone */
      }
    }
    // A TAP opened in tapnet's own namespace vanishes with its fd; make sure.
    for (let n = 0; n < 10; n++) {
      if (linkExists(tapName(n))) {
        try {
          ip('link', 'del', tapName(n));
        } catch {
          /* raced away */
        }
      }
    }
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  describe('a TAP opened here and moved into a namespace', () => {
    const name = tapName(1);
    const ourIp = `${subnet}.1`;
    const kernelIp = `${subnet}.2`;
    let dev: TapDevice;
    let peer: Peer;

    beforeAll(() => {
      dev = track(openTap({ name }));
      peer = new Peer(dev, ipv4(ourIp));
      // The fd keeps working after the interface changes namespace.
      ip('link', 'set', 'dev', name, 'netns', nsA);
      configureKernelSide(name, nsA, kernelIp);
    });

    it('has the requested name, MTU 1500 and no virtio-net header', () => {
      expect(dev.name).toBe(name);
      expect(dev.mtu).toBe(1500);
      expect(dev.vnetHdr).toBe(false);
      expect(dev.offloadFlags).toBe(0);
      expect(linkExists(name, nsA)).toBe(true);
      expect(linkExists(name)).toBe(false);
    });

    it('receives the ARP request the kernel sends for a ping, and the ping completes through us', async () => {
      const ping = execFileAsync('ip', ['netns', 'exec', nsA, 'ping', '-c1', '-W3', ourIp]);
      const arp = await peer.waitFor('ARP request', (s) => s.arpOp === 1 && s.arpTargetIp === ipv4(ourIp));
      expect(getU16(arp.raw, 12)).toBe(ETHERTYPE_ARP);
      expect(arp.arpSenderIp).toBe(ipv4(kernelIp));
      expect(Array.from(arp.raw.subarray(0, 6))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      // Our ARP reply and echo reply went back through the batch path.
      const { stdout } = await ping;
      expect(stdout).toMatch(/1 received/);
      expect(dev.rxFrames).toBeGreaterThanOrEqual(2);
      expect(dev.txFrames).toBeGreaterThanOrEqual(2);
      expect(dev.rxBatches).toBeGreaterThan(0);
    });

    it('writes an ICMP echo request that the kernel answers (single write)', async () => {
      const kernelMac = macBytes(linkInfo(name, nsA).address);
      const before = dev.txFrames;
      const ok = dev.sendNow(icmpEcho(8, kernelMac, OUR_MAC, ipv4(ourIp), ipv4(kernelIp), 0x7470, 1));
      expect(ok).toBe(true);
      expect(dev.txFrames).toBe(before + 1);
      const reply = await peer.waitFor('echo reply', (s) => s.icmpType === 0 && s.icmpIdent === 0x7470 && s.icmpSeq === 1);
      expect(reply.ipSource).toBe(ipv4(kernelIp));
    });

    it('writes 64 frames in one batch and the kernel answers all of them', async () => {
      const kernelMac = macBytes(linkInfo(name, nsA).address);
      const before = dev.txFrames;
      const frames = Array.from({ length: BATCH_FRAMES }, (_, i) =>
        icmpEcho(8, kernelMac, OUR_MAC, ipv4(ourIp), ipv4(kernelIp), 0x6261, 1000 + i),
      );
      for (let i = 0; i < BATCH_FRAMES - 1; i++) dev.send(frames[i]!);
      expect(dev.txFrames).toBe(before); // still queued
      dev.send(frames[BATCH_FRAMES - 1]!); // a full batch leaves at once
      expect(dev.txFrames).toBe(before + BATCH_FRAMES);
      expect(dev.txDropped).toBe(0);
      await Promise.all(
        frames.map((_, i) =>
          peer.waitFor(`echo reply ${1000 + i}`, (s) => s.icmpType === 0 && s.icmpIdent === 0x6261 && s.icmpSeq === 1000 + i),
        ),
      );
    });

    it('flushes a partial batch at the end of the turn', async () => {
      const kernelMac = macBytes(linkInfo(name, nsA).address);
      const before = dev.txFrames;
      dev.send(icmpEcho(8, kernelMac, OUR_MAC, ipv4(ourIp), ipv4(kernelIp), 0x6262, 7));
      expect(dev.txFrames).toBe(before);
      await Promise.resolve();
      expect(dev.txFrames).toBe(before + 1);
      await peer.waitFor('echo reply', (s) => s.icmpType === 0 && s.icmpIdent === 0x6262);
    });

    it('writes a frame gathered from several buffers (writev) that the kernel answers', async () => {
      const kernelMac = macBytes(linkInfo(name, nsA).address);
      const whole = icmpEcho(8, kernelMac, OUR_MAC, ipv4(ourIp), ipv4(kernelIp), 0x6263, 9);
      // Ethernet header, IP header, then the ICMP message as two slices of other buffers: any byte out of place
      // breaks a checksum and the kernel stays silent.
      const first = whole.slice(34, 39);
      const rest = whole.slice(39);
      const payload = new Slices();
      payload.add(first, 0, first.length);
      payload.add(rest, 0, rest.length);
      const before = dev.txFrames;
      const beforeBytes = dev.txBytes;
      dev.sendWithPrefix(whole.slice(0, 14), whole.slice(14, 34), payload);
      dev.flush();
      expect(dev.txFrames).toBe(before + 1);
      expect(dev.txBytes).toBe(beforeBytes + whole.length);
      await peer.waitFor('echo reply', (s) => s.icmpType === 0 && s.icmpIdent === 0x6263 && s.icmpSeq === 9);
    });
  });

  describe('TAPs opened inside a namespace (netns option)', () => {
    it('creates the TAP in the namespace only, and traffic flows', async () => {
      const name = tapName(2);
      const dev = track(openTap({ name, netns: nsB }));
      expect(dev.name).toBe(name);
      expect(dev.netns).toBe(nsB);
      expect(linkExists(name, nsB)).toBe(true);
      expect(linkExists(name)).toBe(false);
      const peer = new Peer(dev, ipv4(`${subnet}.1`));
      configureKernelSide(name, nsB, `${subnet}.2`);
      const { stdout } = await execFileAsync('ip', ['netns', 'exec', nsB, 'ping', '-c1', '-W3', `${subnet}.1`]);
      expect(stdout).toMatch(/1 received/);
      expect(peer.seen.some((s) => s.etherType === ETHERTYPE_ARP)).toBe(true);
    });

    it('refuses a second open of the same name with EBUSY', () => {
      const name = tapName(2); // opened by the previous test, still attached
      expect(linkExists(name, nsB)).toBe(true);
      let error: (Error & { code?: string }) | undefined;
      try {
        track(openTap({ name, netns: nsB }));
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).toBe(`TAP ${name} is in use by another process (EBUSY)`);
      expect(error?.code).toBe('EBUSY');
    });

    it('lets the kernel choose the name', () => {
      const dev = track(openTap({ netns: nsB }));
      expect(dev.name).toMatch(/^tap\d+$/);
      expect(linkExists(dev.name, nsB)).toBe(true);
      dev.close();
      expect(linkExists(dev.name, nsB)).toBe(false);
    });

    it('sets the MTU', () => {
      const name = tapName(3);
      const dev = track(openTap({ name, netns: nsB, mtu: 9000 }));
      expect(dev.mtu).toBe(9000);
      expect(linkInfo(name, nsB).mtu).toBe(9000);
    });

    it('carries a 64 KB frame each way at the largest TAP MTU (65521)', async () => {
      const name = tapName(7);
      const dev = track(openTap({ name, netns: nsB, mtu: 65521 })); // 65535 - 14 (tun's max_mtu)
      const big = subnetN(1); // nsB already routes `subnet` to another TAP
      const peer = new Peer(dev, ipv4(`${big}.1`));
      configureKernelSide(name, nsB, `${big}.2`);
      // 65000 bytes of ICMP data: one 65042-byte frame (no fragmentation at this MTU), answered in kind.
      const ping = ['ping', '-c1', '-W3', '-M', 'do', '-s', '65000', `${big}.1`];
      const { stdout } = await execFileAsync('ip', ['netns', 'exec', nsB, ...ping]);
      expect(stdout).toMatch(/1 received/);
      const request = await peer.waitFor('big echo request', (s) => s.icmpType === 8);
      expect(request.raw.length).toBe(14 + 20 + 8 + 65000);
    });

    it('reports a missing namespace clearly', () => {
      expect(() => openTap({ netns: `${nsName(9)}-missing` })).toThrow(/cannot open network namespace .*missing.*ENOENT/);
    });

    it('rejects names longer than 15 characters', () => {
      expect(() => openTap({ name: 'x'.repeat(16), netns: nsB })).toThrow(RangeError);
    });
  });

  describe('closing', () => {
    it('fires onClose once when `ip link del` deletes the TAP', async () => {
      const name = tapName(4);
      const dev = track(openTap({ name, netns: nsB }));
      let calls = 0;
      dev.onClose(() => calls++);
      const closed = onClosePromise(dev);
      ip('-n', nsB, 'link', 'del', 'dev', name);
      expect(await closed).toMatch(new RegExp(`TAP ${name} went away`));
      expect(dev.isClosed).toBe(true);
      expect(calls).toBe(1);
      dev.send(new Uint8Array(60));
      expect(dev.txDropped).toBe(1);
      dev.close(); // idempotent, no second onClose
      expect(calls).toBe(1);
    });

    it('close() deletes the non-persistent TAP and calls onClose("closed")', async () => {
      const name = tapName(5);
      const dev = track(openTap({ name, netns: nsB }));
      const closed = onClosePromise(dev);
      dev.close();
      expect(await closed).toBe('closed');
      expect(linkExists(name, nsB)).toBe(false);
      // The name is free again.
      track(openTap({ name, netns: nsB })).close();
    });
  });

  describe('virtio-net header (IFF_VNET_HDR)', () => {
    it('prefixes frames with the 12-byte header both ways, with offloads on', async () => {
      const name = tapName(6);
      const offloads = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;
      const dev = track(openTap({ name, netns: nsC, vnetHdr: true, offloadFlags: offloads }));
      expect(dev.vnetHdr).toBe(true);
      expect(dev.offloadFlags).toBe(offloads);
      const ourIp = `${subnet}.1`;
      const kernelIp = `${subnet}.2`;
      const peer = new Peer(dev, ipv4(ourIp));
      configureKernelSide(name, nsC, kernelIp);
      const { stdout } = await execFileAsync('ip', ['netns', 'exec', nsC, 'ping', '-c1', '-W3', ourIp]);
      expect(stdout).toMatch(/1 received/);
      const arp = await peer.waitFor('ARP request', (s) => s.arpOp === 1);
      expect(arp.raw[VnetHdrField.gsoType]).toBe(0);
      expect(getU16(arp.raw, VNET_HDR_SIZE + 12)).toBe(ETHERTYPE_ARP);
      expect(arp.raw.length).toBe(VNET_HDR_SIZE + 42);

      // TUN_F_CSUM in force: the kernel leaves the UDP checksum to us and says where it goes.
      await execFileAsync('ip', ['netns', 'exec', nsC, 'bash', '-c', `echo hello > /dev/udp/${ourIp}/9`]);
      const udp = await peer.waitFor('UDP datagram', (s) => s.etherType === ETHERTYPE_IPV4 && s.raw[VNET_HDR_SIZE + 23] === 17);
      const h = new DataView(udp.raw.buffer, udp.raw.byteOffset, VNET_HDR_SIZE);
      expect(h.getUint8(VnetHdrField.flags) & VnetHdrFlag.needsCsum).toBe(VnetHdrFlag.needsCsum);
      expect(h.getUint16(VnetHdrField.csumStart, true)).toBe(14 + 20); // the UDP header, after Ethernet + IPv4
      expect(h.getUint16(VnetHdrField.csumOffset, true)).toBe(6); // the UDP checksum field
    });
  });

  describe('process lifetime', () => {
    function runChild(body: string): { child: ReturnType<typeof spawn>; opened: Promise<number>; exited: Promise<number> } {
      scratch ??= mkdtempSync(join(tmpdir(), 'tapnet-tap-test-'));
      const file = join(scratch, `child-${children.length}.ts`);
      const tapModule = join(REPO, 'src/device/tap.ts');
      writeFileSync(
        file,
        `import { openTap } from ${JSON.stringify(tapModule)};\n` +
          `const dev = openTap({ netns: ${JSON.stringify(nsB)} });\n` +
          `dev.setReceiver(() => {});\n` +
          `console.log('open ' + dev.name);\n${body}\n`,
      );
      const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const opened = new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('open ')) resolve(performance.now());
        });
        child.on('exit', () => reject(new Error(`child exited before opening a TAP: ${stderr}`)));
      });
      const exited = new Promise<number>((resolve) => child.on('exit', () => resolve(performance.now())));
      return { child, opened, exited };
    }

    it('process.exit(0) with an open TAP exits at once', async () => {
      const { child, opened, exited } = runChild('setTimeout(() => process.exit(0), 20);');
      const t0 = await opened;
      const t1 = await exited;
      expect(child.exitCode).toBe(0);
      expect(t1 - t0).toBeLessThan(1000);
    });

    it('an open TAP keeps the process alive; unref() lets it end', async () => {
      const alive = runChild('');
      await alive.opened;
      await new Promise((r) => setTimeout(r, 1500));
      expect(alive.child.exitCode).toBe(null);
      alive.child.kill('SIGTERM');
      await alive.exited;

      const unrefed = runChild('dev.unref();');
      const t0 = await unrefed.opened;
      const t1 = await unrefed.exited;
      expect(unrefed.child.exitCode).toBe(0);
      expect(t1 - t0).toBeLessThan(1000);
    });
  });
});
