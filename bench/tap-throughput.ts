/**
 * TAP device throughput: how many frames per second the addon + TapDevice move
 * between tapnet and the kernel, without any protocol code on top.
 *
 *   tx 60 B / 1514 B   tapnet writes frames for a foreign MAC; the kernel drops
 *                      them right after eth_type_trans (cheap for the kernel),
 *                      so this is our send() + writeBatch cost.
 *   echo (rx+tx)       closed loop: WINDOW ICMP echo requests in flight to the
 *                      kernel's address, each reply triggers the next request.
 *   rx 60 B            a Python AF_PACKET sender in the namespace floods the TAP;
 *                      we count what arrives. "generator" is what the sender
 *                      managed (it is the limit here: compare tapnet's CPU
 *                      share), "tx_dropped" is the kernel's count of frames
 *                      that found the TAP's queue full (txqueuelen).
 *
 * Medians of RUNS runs of SECONDS each. Needs root. Run:
 *   npx tsx bench/tap-throughput.ts [seconds=2] [runs=3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setU16, setU32 } from '../src/core/bytes.js';
import { internetChecksum } from '../src/core/checksum.js';
import { openTap, type TapDevice } from '../src/device/tap.js';

const SECONDS = Number(process.argv[2] ?? 2);
const RUNS = Number(process.argv[3] ?? 3);
const WINDOW = 256;
// The TAP's kernel-side queue (tun's ring): 500 by default, overflowing whenever the
// reader is descheduled for ~1.5 ms at 330 k frames/s.
const RX_QUEUE_LENGTHS = [500, 10_000];

const id = randomBytes(3).toString('hex');
const NS = `tapnet-bench-${id}`;
const NAME = `tb${id}`;
const OUR_MAC = Uint8Array.of(0x02, 0x74, 0x61, 0x70, 0x00, 0x01);
const FOREIGN_MAC = Uint8Array.of(0x02, 0x74, 0x61, 0x70, 0x00, 0xff);
const OUR_IP = '10.251.7.1';
const KERNEL_IP = '10.251.7.2';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

function ipv4(text: string): number {
  return text.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function linkStats(): { rxPackets: number; txPackets: number; txDropped: number; address: string } {
  const [link] = JSON.parse(ip('-n', NS, '-s', '-j', 'link', 'show', 'dev', NAME)) as {
    address: string;
    stats64: { rx: { packets: number }; tx: { packets: number; dropped: number } };
  }[];
  return {
    rxPackets: link!.stats64.rx.packets,
    txPackets: link!.stats64.tx.packets,
    txDropped: link!.stats64.tx.dropped,
    address: link!.address,
  };
}

function macBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(':'), (h) => parseInt(h, 16));
}

function rawFrame(dst: Uint8Array, length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.set(dst, 0);
  f.set(OUR_MAC, 6);
  setU16(f, 12, 0x88b5); // IEEE 802 local experimental EtherType
  return f;
}

function echoRequest(kernelMac: Uint8Array, seq: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 18); // 60 bytes, the Ethernet minimum
  f.set(kernelMac, 0);
  f.set(OUR_MAC, 6);
  setU16(f, 12, 0x0800);
  f[14] = 0x45;
  setU16(f, 16, 46);
  f[22] = 64;
  f[23] = 1;
  setU32(f, 26, ipv4(OUR_IP));
  setU32(f, 30, ipv4(KERNEL_IP));
  setU16(f, 24, internetChecksum(f, 14, 20));
  f[34] = 8;
  setU16(f, 38, 0x4242);
  setU16(f, 40, seq & 0xffff);
  setU16(f, 36, internetChecksum(f, 34, 26));
  return f;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Sends as fast as possible for SECONDS, yielding to the event loop every 4 batches. */
async function txRun(
  dev: TapDevice,
  frame: Uint8Array,
): Promise<{ fps: number; sent: number; dropped: number; kernelSaw: number }> {
  const k0 = linkStats().rxPackets;
  const tx0 = dev.txFrames;
  const drop0 = dev.txDropped;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) dev.send(frame);
    await tick();
  }
  dev.flush();
  const dt = (performance.now() - t0) / 1000;
  const sent = dev.txFrames - tx0;
  return { fps: sent / dt, sent, dropped: dev.txDropped - drop0, kernelSaw: linkStats().rxPackets - k0 };
}

async function echoRun(dev: TapDevice, kernelMac: Uint8Array): Promise<number> {
  const requests = Array.from({ length: 65536 }, (_, i) => echoRequest(kernelMac, i));
  let seq = 0;
  let replies = 0;
  dev.setReceiver((frame) => {
    // ICMP echo reply (type 0) to us: send the next request.
    if (frame.length >= 42 && frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 1 && frame[34] === 0) {
      replies++;
      dev.send(requests[seq++ & 0xffff]!);
    }
  });
  for (let i = 0; i < WINDOW; i++) dev.send(requests[seq++ & 0xffff]!);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const dt = (performance.now() - t0) / 1000;
  const n = replies;
  dev.setReceiver(() => {});
  await new Promise((r) => setTimeout(r, 100)); // drain the window
  return n / dt;
}

const GENERATOR = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
frame = bytes.fromhex(sys.argv[2])
end = time.monotonic() + float(sys.argv[3])
sent = errors = 0
while time.monotonic() < end:
    for _ in range(1000):
        try:
            s.send(frame)
            sent += 1
        except OSError:
            errors += 1
print(sent, errors)
`;

async function rxRun(
  dev: TapDevice,
  txQueueLength: number,
): Promise<{ fps: number; gen: number; kernelDrop: number; batch: number; cpu: number }> {
  ip('-n', NS, 'link', 'set', 'dev', NAME, 'txqueuelen', String(txQueueLength));
  let frames = 0;
  dev.setReceiver((frame) => {
    if (frame[0] === 0x02) frames++;
  });
  const hex = Buffer.from(rawFrame(OUR_MAC, 60)).toString('hex');
  const drop0 = linkStats().txDropped;
  const b0 = dev.rxBatches;
  const f0 = dev.rxFrames;
  const child = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', GENERATOR, NAME, hex, String(SECONDS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => child.on('exit', r));
  const cpu = process.cpuUsage(cpu0);
  const dt = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 100));
  const [sent] = out.trim().split(' ').map(Number);
  dev.setReceiver(() => {});
  return {
    fps: frames / dt,
    gen: (sent ?? 0) / dt,
    kernelDrop: linkStats().txDropped - drop0,
    batch: (dev.rxFrames - f0) / Math.max(1, dev.rxBatches - b0),
    cpu: (cpu.user + cpu.system) / 1e6 / dt,
  };
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

async function main(): Promise<void> {
  ip('netns', 'add', NS);
  let dev: TapDevice | undefined;
  try {
    execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    dev = openTap({ name: NAME, netns: NS });
    ip('-n', NS, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', NAME);
    ip('-n', NS, 'link', 'set', 'dev', NAME, 'up');
    ip('-n', NS, 'neigh', 'replace', OUR_IP, 'lladdr', '02:74:61:70:00:01', 'dev', NAME);
    const kernelMac = macBytes(linkStats().address);
    dev.setReceiver(() => {});

    const tx60: number[] = [];
    const tx1514: number[] = [];
    const echo: number[] = [];
    const rxByQueue = new Map<number, { fps: number[]; gen: number[]; batch: number[]; cpu: number[]; drop: number }>();
    let txDropped = 0;
    let sentTotal = 0;
    let kernelSawTotal = 0;
    for (let run = 0; run < RUNS; run++) {
      const a = await txRun(dev, rawFrame(FOREIGN_MAC, 60));
      const b = await txRun(dev, rawFrame(FOREIGN_MAC, 1514));
      tx60.push(a.fps);
      tx1514.push(b.fps);
      txDropped += a.dropped + b.dropped;
      sentTotal += a.sent + b.sent;
      kernelSawTotal += a.kernelSaw + b.kernelSaw;
      echo.push(await echoRun(dev, kernelMac));
      for (const q of RX_QUEUE_LENGTHS) {
        const r = await rxRun(dev, q);
        const acc = rxByQueue.get(q) ?? { fps: [], gen: [], batch: [], cpu: [], drop: 0 };
        acc.fps.push(r.fps);
        acc.gen.push(r.gen);
        acc.batch.push(r.batch);
        acc.cpu.push(r.cpu);
        acc.drop += r.kernelDrop;
        rxByQueue.set(q, acc);
      }
    }
    const t1514 = median(tx1514);
    console.log(`TAP throughput, node ${process.version}, ${SECONDS}s x ${RUNS} runs, medians`);
    console.log('| path | frames/s | notes |');
    console.log('|---|---|---|');
    const seen = (kernelSawTotal / sentTotal).toFixed(3);
    console.log(
      `| tx 60 B (send + writeBatch) | ${fmt(median(tx60))} | tapnet txDropped ${txDropped}; ` +
        `kernel rx_packets / tapnet txFrames ${seen} |`,
    );
    console.log(`| tx 1514 B | ${fmt(t1514)} | ${((t1514 * 1514 * 8) / 1e9).toFixed(2)} Gbit/s |`);
    console.log(`| echo loop, window ${WINDOW} (rx+tx each) | ${fmt(median(echo))} | kernel answers ICMP echo |`);
    for (const [q, r] of rxByQueue) {
      console.log(
        `| rx 60 B (AF_PACKET flood), txqueuelen ${q} | ${fmt(median(r.fps))} | generator ${fmt(median(r.gen))}/s, ` +
          `mean batch ${median(r.batch).toFixed(1)}, tapnet CPU ${(median(r.cpu) * 100).toFixed(0)} %, kernel tx_dropped ${r.drop} |`,
      );
    }
  } finally {
    dev?.close();
    ip('netns', 'del', NS);
  }
}

await main();
