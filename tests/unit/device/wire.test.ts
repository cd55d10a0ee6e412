import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../src/core/context.js';
import { createWirePair } from '../../../src/device/wire.js';

describe('createWirePair (zero-delay in-process cable)', () => {
  it('delivers on the next microtask as one batch, never re-entrantly, and copies', async () => {
    const ctx = createTestContext();
    const [a, b] = createWirePair(ctx, 'a', 'b', 1500);
    const got: number[] = [];
    let batches = 0;
    b.setReceiver(
      (f) => {
        got.push(f[0]!);
        if (f[0] === 1) b.send(new Uint8Array(60).fill(9)); // answered from inside the receiver
      },
      () => batches++,
    );
    const echoed: number[] = [];
    a.setReceiver((f) => echoed.push(f[0]!));
    const frame = new Uint8Array(60).fill(1);
    a.send(frame);
    frame.fill(2); // the wire copied: the receiver still sees 1
    a.send(frame);
    expect(got).toEqual([]);
    await Promise.resolve();
    expect(got).toEqual([1, 2]);
    expect(batches).toBe(1);
    await Promise.resolve();
    expect(echoed).toEqual([9]);
  });

  it('counts oversize and after-close sends under the Link counter names', async () => {
    const ctx = createTestContext();
    const [a, b] = createWirePair(ctx, 'a', 'b', 100);
    b.setReceiver(() => {});
    a.send(new Uint8Array(100 + 18 + 1));
    expect(ctx.stats.get('linkTxOversize')).toBe(1);
    let closed = '';
    b.onClose((r) => (closed = r));
    a.close();
    expect(closed).toBe('wire closed');
    a.send(new Uint8Array(60));
    expect(ctx.stats.get('linkTxClosed')).toBe(1);
    expect(a.counters.dropped).toBe(2);
  });
});
