/**
 * TCP data sent without a copy (send.ts `emit` → Ipv4Output or Ipv6Output →
 * the interface's one gather path → Device.sendWithPayload), over IPv4 and IPv6: the segment's data goes down as slices of the
 * send buffer's blocks, and the device reads them only when it writes, at
 * the end of the turn, like a TAP's writev (device/tap.ts). The NIC below
 * does exactly that: it keeps the slices by reference (taking a loan, as the
 * TAP does) and puts each frame together at flush time, then finishes the
 * checksum and cuts TSO frames the way the kernel would (device/segment.ts).
 * A block reused while referenced, a wrong length or a wrong checksum seed
 * shows up as corrupted or missing data at the receiver.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Slices, transmitLoans } from '../../../../src/core/slices.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import type { Device, FrameHandler, TxOffload } from '../../../../src/device/device.js';
import { createLinkPair, type LinkDevice } from '../../../../src/device/link.js';
import { Segmenter } from '../../../../src/device/segment.js';
import { SEND_BLOCK_SIZE, SendBuffer } from '../../../../src/l4/tcp/send-buffer.js';
import { TcpMemory } from '../../../../src/l4/tcp/memory.js';
import { DEFAULT_TCP_CONFIG } from '../../../../src/l4/tcp/config.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { Host } from '../../../../src/node/host.js';
import { parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import { A_ADDR, B, B_ADDR, onlyConnection, pattern } from './harness.js';

interface Queued {
  frame: Uint8Array;
  offload: TxOffload | undefined;
  slices: { buffer: Uint8Array; offset: number; length: number }[] | undefined;
}

/** A gathering NIC with checksum offload and TSO over an in-memory link end (see the top of the file). */
class GatherNic implements Device {
  readonly checksumOffload = true;
  readonly tsoMaxSize = 65_535;
  gathered = 0;
  /** TSO frames handed over (gso_type TCPv4 or TCPv6, as the family asks), each checked against the MTU. */
  superFrames = 0;
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly segmenter = new Segmenter();

  constructor(readonly link: LinkDevice) {}
  get name(): string {
    return this.link.name;
  }
  get mtu(): number {
    return this.link.mtu;
  }
  setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.link.setReceiver(onFrame, onBatchEnd);
  }
  send(frame: Uint8Array, offload?: TxOffload): void {
    this.enqueue({ frame: frame.slice(), offload: offload && { ...offload }, slices: undefined });
  }
  sendWithPayload(frame: Uint8Array, offload: TxOffload | undefined, payload: Slices): void {
    const slices = [];
    for (let i = 0; i < payload.count; i++) slices.push({ buffer: payload.buffers[i]!, offset: payload.offsets[i]!, length: payload.lengths[i]! });
    transmitLoans.lend();
    this.gathered++;
    this.enqueue({ frame: frame.slice(), offload: offload && { ...offload }, slices });
  }
  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const q of queue) {
      let frame = q.frame;
      if (q.slices) {
        // The payload is read now, at "writev" time: whatever the blocks hold at this moment goes out.
        const total = frame.length + q.slices.reduce((n, s) => n + s.length, 0);
        const whole = new Uint8Array(total);
        whole.set(frame);
        let at = frame.length;
        for (const s of q.slices) {
          whole.set(s.buffer.subarray(s.offset, s.offset + s.length), at);
          at += s.length;
        }
        frame = whole;
        transmitLoans.settle(1);
      }
      const refused = this.segmenter.toWire(frame, q.offload, (f) => this.link.send(f));
      if (refused) throw new Error(`NIC refused a frame: ${refused}`);
    }
  }
  onClose(): void {}
  close(): void {}
  private enqueue(q: Queued): void {
    if (q.offload !== undefined && q.offload.gsoType !== 0) {
      const ipv6 = (q.frame[12]! << 8 | q.frame[13]!) === 0x86dd;
      if (q.offload.gsoType !== (ipv6 ? 4 : 1)) throw new Error(`gso_type ${q.offload.gsoType} for an ${ipv6 ? 'IPv6' : 'IPv4'} frame`);
      // Each segment the kernel would cut must fit the link: headers + gso_size <= MTU (+ Ethernet).
      if (q.offload.headerLength + q.offload.gsoSize > this.mtu + 14) throw new Error(`segments of ${q.offload.headerLength}+${q.offload.gsoSize} bytes on MTU ${this.mtu}`);
      this.superFrames++;
    }
    this.queue.push(q);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }
}

const yieldToNode = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Family = 'ipv4' | 'ipv6';

function pair(mtu: number, loss: number, family: Family = 'ipv4') {
  const ctxA = createTestContext(11);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB) };
  const [linkA, linkB] = createLinkPair(ctxA, { mtu, impairment: { aToB: { delayMs: 5 }, bToA: { delayMs: 5, loss, seed: 3 } } });
  const nic = new GatherNic(linkB);
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  const ipv6 = (cidr: string) => (family === 'ipv6' ? { ipv6: { addresses: [parseIpv6Cidr(cidr)!], dadTransmits: 0 } } : {});
  a.addInterface(linkA, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: A_ADDR, prefixLength: 24 }], ...ipv6('fd00::1/64') });
  b.addInterface(nic, { name: 'b0', mac: 0x020000000002, ipv4: [{ address: B_ADDR, prefixLength: 24 }], ...ipv6('fd00::2/64') });
  if (family === 'ipv6') {
    a.start();
    b.start();
  }
  const { clock, timers } = ctxA;
  const runUntil = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 1_000_000; i++) {
      await yieldToNode();
      if (done()) return;
      const next = timers.nextDeadline();
      if (next === undefined) continue;
      timers.advanceTo(clock, Math.max(next, clock.now()));
    }
    throw new Error('transfer did not finish');
  };
  return { a, b, nic, runUntil, statsB };
}

describe('TCP send without copying the data (gathered payload)', () => {
  for (const [family, mtu, loss] of [
    ['ipv4', 1500, 0],
    ['ipv4', 1500, 0.03],
    ['ipv4', 9000, 0.02],
    ['ipv6', 1500, 0],
    ['ipv6', 1500, 0.03],
    ['ipv6', 9000, 0.02],
  ] as const) {
    it(`delivers 4 MiB byte-exact over ${family} at MTU ${mtu}, loss ${loss * 100}%, its data gathered from the send buffer`, async () => {
      const t = pair(mtu, loss, family);
      let server: Socket | undefined;
      t.b.tcp.createServer((s) => (server = s)).listen(80);
      const client = t.a.tcp.connect({ host: family === 'ipv4' ? B : 'fd00::2', port: 80 });
      await t.runUntil(() => server !== undefined && !client.connecting);
      const c = onlyConnection(t.b);
      expect(c.net.family).toBe(family);
      expect(c.checksumOffload).toBe(true);
      expect(c.tsoMax).toBe(65_535 - (family === 'ipv4' ? 20 : 40) - 60); // every super-packet fits the NIC's 65535 with any TCP header
      const size = 4 * 1024 * 1024;
      const data = pattern(size, 17);
      let got = 0;
      const hash = createHash('sha256');
      client.on('data', (d: Buffer) => {
        got += d.length;
        hash.update(d);
      });
      // Written in odd-sized pieces so segments straddle send-buffer blocks.
      for (let off = 0; off < size; off += 100_003) server!.write(data.subarray(off, Math.min(size, off + 100_003)));
      await t.runUntil(() => got === size);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(t.nic.gathered).toBeGreaterThan(0);
      expect(t.nic.superFrames).toBeGreaterThan(0);
      expect(transmitLoans.frames).toBe(0);
      if (loss > 0) expect(t.statsB.get('TcpRetransSegs')).toBeGreaterThan(0);
    });
  }
});

describe('SendBuffer blocks and loans', () => {
  it('does not reuse an acknowledged block while a frame is on loan, and does once the loans are back', () => {
    const memory = new TcpMemory(DEFAULT_TCP_CONFIG, new Stats());
    const buffer = new SendBuffer(memory);
    buffer.push(new Uint8Array(SEND_BLOCK_SIZE).fill(1));
    const slices = new Slices();
    buffer.slices(0, 100, slices);
    const lent = slices.buffers[0]!;
    transmitLoans.lend(); // a TAP queued a frame referencing it
    buffer.consume(SEND_BLOCK_SIZE); // acknowledged before the TAP wrote it (a retransmission still queued)
    buffer.push(new Uint8Array(SEND_BLOCK_SIZE).fill(2));
    slices.clear();
    buffer.slices(0, 1, slices);
    expect(slices.buffers[0]).not.toBe(lent);
    expect(lent[0]).toBe(1); // the queued frame still reads its own bytes
    transmitLoans.settle(1); // written
    buffer.consume(SEND_BLOCK_SIZE);
    buffer.push(new Uint8Array(10).fill(3));
    slices.clear();
    buffer.slices(0, 10, slices);
    // Both retired blocks are free again; the new data lands in one of them.
    expect(slices.count).toBe(1);
    expect(slices.length).toBe(10);
  });

  it('describes a range that straddles blocks as one slice per block', () => {
    const buffer = new SendBuffer(new TcpMemory(DEFAULT_TCP_CONFIG, new Stats()));
    const data = pattern(3 * SEND_BLOCK_SIZE);
    buffer.push(data);
    buffer.consume(1000);
    const slices = new Slices();
    buffer.slices(SEND_BLOCK_SIZE - 2000, 2 * SEND_BLOCK_SIZE, slices);
    expect(slices.count).toBe(3);
    const out = new Uint8Array(slices.length);
    slices.copyTo(out, 0);
    expect(Buffer.from(out).equals(data.subarray(SEND_BLOCK_SIZE - 1000, 3 * SEND_BLOCK_SIZE - 1000))).toBe(true);
  });
});
