/**
 * The TAP's write batch (src/device/tap.ts, src/device/tx-batch.ts): frames
 * forwarded out of a receive batch are queued by reference into the receive
 * buffer, and written before that buffer can be refilled; TCP payload slices
 * are referenced and their loan returned once written. A fake addon handle
 * stands in for native/tap.cc: `read` fills the receive slots the way the
 * addon does and calls the batch callback; `writeBatch` resolves the parts
 * and records each frame's bytes AT THE MOMENT OF THE WRITE, so a reference
 * to bytes that changed in the meantime shows up as a wrong frame.
 */
import { describe, expect, it } from 'vitest';
import { Slices, transmitLoans } from '../../../src/core/slices.js';
import { BATCH_FRAMES, RX_SLOT_SIZE, TapDevice } from '../../../src/device/tap.js';

class FakeHandle {
  readonly name: string;
  readonly fd = -1;
  readonly mtu = 1500;
  readonly vnetHdr = false;
  readonly offloadError = undefined;
  readonly lastWriteError = undefined;
  closed = false;
  readonly busyPollHits = 0;
  readonly busyPollMisses = 0;
  /** Every frame written, as its bytes at write time. */
  readonly written: string[] = [];
  /** Buffers each writeBatch named (to see what was referenced). */
  readonly named: ArrayBufferLike[][] = [];
  /** How many frames the next writeBatch fails (EAGAIN). */
  failNext = 0;
  private rx!: Uint8Array;
  private lengths!: Uint32Array;
  private onRead!: (count: number) => void;
  private onClose!: (reason: string) => void;

  constructor(name: string) {
    this.name = name;
  }
  setOffload(): undefined {
    return undefined;
  }
  setBusyPoll(): void {}
  start(rx: Uint8Array, _slotSize: number, _slots: number, lengths: Uint32Array, onRead: (count: number) => void, onClose: (reason: string) => void): void {
    this.rx = rx;
    this.lengths = lengths;
    this.onRead = onRead;
    this.onClose = onClose;
  }
  /** The addon's read: the frames into slots 0.. (overwriting the previous batch), then one call. */
  read(frames: Uint8Array[]): void {
    frames.forEach((f, i) => {
      this.rx.set(f, i * RX_SLOT_SIZE);
      this.lengths[i] = f.length;
    });
    this.onRead(frames.length);
  }
  deleteUnderneath(): void {
    this.closed = true;
    this.onClose('EBADFD');
  }
  write(buf: Uint8Array, offset: number, length: number): number {
    this.written.push(hex(buf.subarray(offset, offset + length)));
    return length;
  }
  writeBatch(buffers: readonly (ArrayBufferLike | undefined)[], parts: Uint32Array, frameParts: Uint32Array, frames: number): number {
    this.named.push(buffers.filter((b): b is ArrayBufferLike => b !== undefined));
    let part = 0;
    let written = 0;
    for (let i = 0; i < frames; i++) {
      let bytes = '';
      for (let k = 0; k < frameParts[i]!; k++, part++) {
        const buffer = buffers[parts[3 * part]!]!;
        bytes += hex(new Uint8Array(buffer, parts[3 * part + 1]!, parts[3 * part + 2]!));
      }
      if (this.failNext > 0) {
        this.failNext--;
        continue;
      }
      this.written.push(bytes);
      written++;
    }
    return written;
  }
  close(): void {
    this.closed = true;
  }
  ref(): void {}
  unref(): void {}
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function tap(name: string): { device: TapDevice; handle: FakeHandle } {
  const handle = new FakeHandle(name);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const device = new TapDevice(handle as any, 0, undefined);
  return { device, handle };
}

/** A deterministic frame: `seed` in every byte but a counter, so frames differ. */
function frame(length: number, seed: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (seed * 31 + i) & 0xff;
  return f;
}

describe('TapDevice write batch', () => {
  it('queues a forwarded frame by reference and writes it before the receive batch ends', () => {
    const a = tap('a');
    const b = tap('b');
    const rxBuffers: ArrayBufferLike[] = [];
    a.device.setReceiver((f) => {
      rxBuffers.push(f.buffer);
      f[0] = 0xee; // a receiver may rewrite the frame before sending it on (TTL, framing in place)
      b.device.send(f);
    });
    const frames = [frame(1514, 1), frame(60, 2), frame(9000, 3)];
    a.handle.read(frames);
    // Written by the end of the batch, with no microtask turn in between.
    const expected = frames.map((f) => {
      const g = f.slice();
      g[0] = 0xee;
      return hex(g);
    });
    expect(b.handle.written).toEqual(expected);
    // By reference: the write named a's receive buffer.
    expect(b.handle.named.at(-1)).toContain(rxBuffers[0]);
    // The next read refills the slots; nothing more (and nothing stale) is written.
    a.handle.read([frame(1514, 9)]);
    expect(b.handle.written).toHaveLength(4);
    expect(b.handle.written[3]).toBe(hex(Object.assign(frame(1514, 9), { 0: 0xee })));
    expect(b.device.txFrames).toBe(4);
    expect(b.device.txBytes).toBe(1514 + 60 + 9000 + 1514);
  });

  it('makes every borrower write: a frame flooded to two TAPs leaves both before the next read', () => {
    const a = tap('a');
    const b = tap('b');
    const c = tap('c');
    a.device.setReceiver((f) => {
      b.device.send(f);
      c.device.send(f);
    });
    const frames = [frame(1514, 4), frame(800, 5), frame(64, 6)];
    a.handle.read(frames);
    expect(b.handle.written).toEqual(frames.map(hex));
    expect(c.handle.written).toEqual(frames.map(hex));
    a.handle.read([frame(100, 7)]);
    expect(b.handle.written.at(-1)).toBe(hex(frame(100, 7)));
    expect(c.handle.written.at(-1)).toBe(hex(frame(100, 7)));
    expect(b.handle.written).toHaveLength(4);
  });

  it('copies a frame built in a scratch buffer (the caller reuses it at once)', () => {
    const b = tap('b');
    const scratch = frame(100, 5);
    b.device.send(scratch);
    const sent = hex(scratch);
    scratch.fill(0); // reused before the end of the turn
    b.device.flush();
    expect(b.handle.written).toEqual([sent]);
    expect(b.handle.named.at(-1)).toHaveLength(1); // only the batch's own buffer
  });

  it('never writes stale bytes: random batches, forwards, hairpins, scratch sends, fills and early flushes', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const a = tap('a');
    const b = tap('b');
    const expected = new Map<FakeHandle, string[]>([
      [a.handle, []],
      [b.handle, []],
    ]);
    const scratch = new Uint8Array(2000);
    let counter = 0;
    const receiver = (f: Uint8Array): void => {
      // 0: forward to b, 1: hairpin to a, 2: send a scratch copy to b, 3: drop; sometimes flush b early.
      const what = random(4);
      if (what === 3) return;
      f[1] = counter++ & 0xff;
      if (what === 2) {
        scratch.set(f.subarray(0, Math.min(f.length, scratch.length)));
        const s = scratch.subarray(0, Math.min(f.length, scratch.length));
        expected.get(b.handle)!.push(hex(s));
        b.device.send(s);
        scratch.fill(0xaa);
      } else {
        const out = what === 0 ? b : a;
        expected.get(out.handle)!.push(hex(f));
        out.device.send(f);
      }
      if (random(10) === 0) b.device.flush();
    };
    a.device.setReceiver(receiver);
    for (let batch = 0; batch < 50; batch++) {
      const n = 1 + random(BATCH_FRAMES);
      a.handle.read(Array.from({ length: n }, (_, i) => frame(60 + random(9000), batch * 100 + i)));
    }
    expect(a.handle.written).toEqual(expected.get(a.handle));
    expect(b.handle.written).toEqual(expected.get(b.handle));
  });

  it('counts frames the kernel refused and keeps nothing queued', () => {
    const a = tap('a');
    const b = tap('b');
    a.device.setReceiver((f) => b.device.send(f));
    b.handle.failNext = 1;
    a.handle.read([frame(100, 1), frame(100, 2)]);
    expect(b.device.txDropped).toBe(1);
    expect(b.device.txFrames).toBe(1);
    expect(b.handle.written).toEqual([hex(frame(100, 2))]);
    a.handle.read([frame(100, 3)]);
    expect(b.handle.written).toEqual([hex(frame(100, 2)), hex(frame(100, 3))]);
  });

  it('writes a full batch in the middle of a receive batch and the rest at its end', () => {
    const a = tap('a');
    const b = tap('b');
    a.device.setReceiver((f) => {
      b.device.send(f);
      b.device.send(f); // twice: 2 × 64 frames
    });
    const frames = Array.from({ length: BATCH_FRAMES }, (_, i) => frame(200, i));
    a.handle.read(frames);
    expect(b.handle.written).toEqual(frames.flatMap((f) => [hex(f), hex(f)]));
    expect(b.handle.named.length).toBe(2);
  });

  it('references TCP payload slices behind a copied header and returns the loan once written', async () => {
    const b = tap('b');
    const header = frame(66, 7);
    const block1 = frame(16384, 8);
    const block2 = frame(16384, 9);
    const payload = new Slices();
    payload.add(block1, 16000, 384);
    payload.add(block2, 0, 1000);
    const before = transmitLoans.frames;
    b.device.sendWithPrefix(new Uint8Array(12), header, payload);
    expect(transmitLoans.frames).toBe(before + 1);
    const expected = '00'.repeat(12) + hex(header) + hex(block1.subarray(16000)) + hex(block2.subarray(0, 1000));
    await Promise.resolve(); // the end-of-turn flush
    expect(transmitLoans.frames).toBe(before);
    expect(b.handle.written).toEqual([expected]);
    expect(b.handle.named.at(-1)).toEqual([expect.anything(), block1.buffer, block2.buffer]);
    expect(b.device.txBytes).toBe(12 + 66 + 384 + 1000);
  });

  it('returns the loans of frames lost when the TAP is deleted underneath', () => {
    const b = tap('b');
    const payload = new Slices();
    payload.add(frame(100, 1), 0, 100);
    const before = transmitLoans.frames;
    b.device.sendWithPrefix(new Uint8Array(0), frame(54, 2), payload);
    b.handle.deleteUnderneath();
    expect(transmitLoans.frames).toBe(before);
    expect(b.device.txDropped).toBe(1);
    expect(b.handle.written).toEqual([]);
  });
});
