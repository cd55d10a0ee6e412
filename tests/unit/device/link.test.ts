import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../src/core/context.js';
import { createLinkPair, type LinkDevice } from '../../../src/device/link.js';

function frame(tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(tag & 0xff);
  return f;
}

/** Records what a device receives: frames (by first byte) and batch ends as 'end'. */
function recorder(device: LinkDevice): (number | 'end')[] {
  const events: (number | 'end')[] = [];
  device.setReceiver(
    (f) => events.push(f[0]!),
    () => events.push('end'),
  );
  return events;
}

describe('createLinkPair without impairment', () => {
  it('delivers frames in order, on the next timers.run(), never during send()', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    const got = recorder(b);
    a.send(frame(1));
    a.send(frame(2));
    a.send(frame(3));
    expect(got).toEqual([]);
    expect(ctx.timers.run()).toBeGreaterThan(0);
    expect(got).toEqual([1, 2, 3, 'end']);
    expect(a.counters).toMatchObject({ txFrames: 3, txBytes: 180, rxFrames: 0, dropped: 0 });
    expect(b.counters).toMatchObject({ rxFrames: 3, rxBytes: 180, txFrames: 0, dropped: 0 });
  });

  it('copies the frame in send(): the caller may reuse its buffer at once', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    const received: Uint8Array[] = [];
    b.setReceiver((f) => received.push(f.slice()));
    const buf = frame(7);
    a.send(buf);
    buf.fill(0);
    ctx.timers.run();
    expect(received).toEqual([frame(7)]);
  });

  it('works in both directions with the given names and mtu', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { nameA: 'h1-eth0', nameB: 'r1-eth0', mtu: 9000 });
    expect([a.name, b.name, a.mtu, b.mtu]).toEqual(['h1-eth0', 'r1-eth0', 9000, 9000]);
    expect(a.peer).toBe(b);
    const atA = recorder(a);
    const atB = recorder(b);
    a.send(frame(1));
    b.send(frame(2));
    ctx.timers.run();
    expect(atA).toEqual([2, 'end']);
    expect(atB).toEqual([1, 'end']);
  });

  it('a reply sent from inside a receiver is delivered later, not re-entrantly', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    const log: string[] = [];
    let insideB = false;
    b.setReceiver((f) => {
      insideB = true;
      log.push(`b got ${f[0]}`);
      b.send(frame(f[0]! + 100));
      log.push('b sent reply');
      insideB = false;
    });
    a.setReceiver((f) => {
      expect(insideB).toBe(false);
      log.push(`a got ${f[0]}`);
    });
    a.send(frame(1));
    ctx.timers.run();
    expect(log).toEqual(['b got 1', 'b sent reply', 'a got 101']);
  });

  it('delivers each instant as one batch and different instants as separate batches', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { impairment: { delayMs: 5 } });
    const got = recorder(b);
    a.send(frame(1));
    a.send(frame(2));
    ctx.timers.advanceTo(ctx.clock, 1);
    a.send(frame(3));
    ctx.timers.advanceTo(ctx.clock, 4.999);
    expect(got).toEqual([]);
    ctx.timers.advanceTo(ctx.clock, 5);
    expect(got).toEqual([1, 2, 'end']);
    ctx.timers.advanceTo(ctx.clock, 100);
    expect(got).toEqual([1, 2, 'end', 3, 'end']);
  });

  it('frames sent in a batch callback at the same instant go in a following batch', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    const events: string[] = [];
    b.setReceiver(
      (f) => events.push(`b:${f[0]}`),
      () => events.push('b:end'),
    );
    a.setReceiver(
      (f) => {
        events.push(`a:${f[0]}`);
        a.send(frame(f[0]! + 1));
      },
      () => events.push('a:end'),
    );
    b.send(frame(1));
    ctx.timers.run();
    expect(events).toEqual(['a:1', 'a:end', 'b:2', 'b:end']);
  });

  it('accepts frames up to mtu + 18 bytes and drops (and counts) longer ones', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { mtu: 1500 });
    const got: number[] = [];
    b.setReceiver((f) => got.push(f.length));
    a.send(new Uint8Array(1518));
    a.send(new Uint8Array(1519));
    ctx.timers.run();
    expect(got).toEqual([1518]);
    expect(a.counters).toMatchObject({ txFrames: 1, dropped: 1 });
    expect(ctx.stats.get('linkTxOversize')).toBe(1);
  });

  it('counts frames that arrive with no receiver installed', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    a.send(frame(1));
    ctx.timers.run();
    expect(b.counters).toMatchObject({ rxFrames: 0, dropped: 1 });
    expect(ctx.stats.get('linkRxNoReceiver')).toBe(1);
  });

  it('rejects a nonsensical mtu', () => {
    expect(() => createLinkPair(createTestContext(), { mtu: 10 })).toThrow(/mtu/);
  });
});

describe('close', () => {
  it('closes both ends, calls each onClose once, and discards frames in flight', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    const closes: string[] = [];
    a.onClose((r) => closes.push(`a: ${r}`));
    b.onClose((r) => closes.push(`b: ${r}`));
    const got = recorder(b);
    a.send(frame(1));
    b.close();
    b.close();
    a.close();
    ctx.timers.run();
    expect(got).toEqual([]);
    expect(closes).toEqual(['b: link closed by linkB', 'a: link closed by linkB']);
    expect(a.closed && b.closed).toBe(true);
    expect(ctx.timers.size).toBe(0);
  });

  it('counts sends after close as drops and tells late onClose subscribers at once', () => {
    const ctx = createTestContext();
    const [a] = createLinkPair(ctx);
    a.close();
    a.send(frame(1));
    expect(a.counters).toMatchObject({ txFrames: 0, dropped: 1 });
    expect(ctx.stats.get('linkTxClosed')).toBe(1);
    let reason = '';
    a.onClose((r) => (reason = r));
    expect(reason).toBe('link closed by linkA');
  });

  it('a receiver that closes the link stops the rest of the batch', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx);
    const got: number[] = [];
    let ended = false;
    b.setReceiver(
      (f) => {
        got.push(f[0]!);
        b.close();
      },
      () => (ended = true),
    );
    a.send(frame(1));
    a.send(frame(2));
    ctx.timers.run();
    expect(got).toEqual([1]);
    expect(ended).toBe(false);
  });
});

describe('createLinkPair with impairment', () => {
  it('applies a delay on the timer queue, driven by a ManualClock', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { impairment: { delayMs: 10 } });
    const at: number[] = [];
    b.setReceiver(() => at.push(ctx.clock.now()));
    a.send(frame(1));
    ctx.timers.advanceTo(ctx.clock, 9);
    expect(at).toEqual([]);
    ctx.timers.advanceTo(ctx.clock, 50);
    expect(at).toEqual([10]);
  });

  it('takes per-direction options', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { impairment: { aToB: { loss: 1 }, bToA: { delayMs: 3 } } });
    const atA = recorder(a);
    const atB = recorder(b);
    for (let i = 0; i < 10; i++) {
      a.send(frame(i));
      b.send(frame(i));
    }
    ctx.timers.advanceTo(ctx.clock, 3);
    expect(atB).toEqual([]);
    expect(atA).toHaveLength(11);
    expect(a.impairment.counters.lost).toBe(10);
    expect(b.impairment.counters.lost).toBe(0);
  });

  it('one seeded option set gives each direction its own loss pattern', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { impairment: { loss: 0.5, seed: 42 } });
    const atA: number[] = [];
    const atB: number[] = [];
    a.setReceiver((f) => atA.push(f[0]!));
    b.setReceiver((f) => atB.push(f[0]!));
    for (let i = 0; i < 64; i++) {
      a.send(frame(i));
      b.send(frame(i));
    }
    ctx.timers.run();
    expect(atA.length).toBeGreaterThan(10);
    expect(atB.length).toBeGreaterThan(10);
    expect(atA).not.toEqual(atB);
  });

  it('delivers reordered frames in arrival order', () => {
    const ctx = createTestContext();
    const [a, b] = createLinkPair(ctx, { impairment: { reorder: 0.2, reorderDelayMs: 5, seed: 3 } });
    const got: number[] = [];
    b.setReceiver((f) => got.push(f[0]!));
    for (let i = 0; i < 200; i++) {
      a.send(frame(i));
      ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
    }
    ctx.timers.advanceTo(ctx.clock, 1000);
    expect(got).toHaveLength(200);
    expect(got).not.toEqual([...got].sort((x, y) => x - y));
    expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // Each frame held back 5 ms arrives after the 4-5 frames sent in the meantime, never before its send time.
    expect(a.impairment.counters.reordered).toBeGreaterThan(20);
  });

  it('is deterministic: the same seed gives the same arrivals', () => {
    const trace = (seed: number): string => {
      const ctx = createTestContext(seed);
      const [a, b] = createLinkPair(ctx, { impairment: { loss: 0.1, duplicate: 0.1, reorder: 0.1, delayMs: 2, jitterMs: 2 } });
      const got: string[] = [];
      b.setReceiver((f) => got.push(`${f[0]}@${ctx.clock.now().toFixed(4)}`));
      for (let i = 0; i < 300; i++) {
        a.send(frame(i));
        ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 0.5);
      }
      ctx.timers.advanceTo(ctx.clock, 10_000);
      return got.join(' ');
    };
    expect(trace(8)).toBe(trace(8));
    expect(trace(8)).not.toBe(trace(9));
  });
});
