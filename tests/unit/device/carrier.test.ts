import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../src/core/context.js';
import { Carrier, gate } from '../../../src/device/carrier.js';
import { createWirePair } from '../../../src/device/wire.js';

describe('Carrier gate (tapnet link down|up)', () => {
  it('down: nothing crosses either way, each drop counted where it happened; up: frames flow again', async () => {
    const ctxA = createTestContext();
    const ctxB = createTestContext();
    const carrier = new Carrier();
    const [wa, wb] = createWirePair(createTestContext(), 'a', 'b', 1500);
    const a = gate(wa, carrier, ctxA);
    const b = gate(wb, carrier, ctxB);
    const atA: number[] = [];
    const atB: number[] = [];
    a.setReceiver((f) => atA.push(f[0]!));
    b.setReceiver((f) => atB.push(f[0]!));
    const frame = (n: number) => new Uint8Array(60).fill(n);

    a.send(frame(1));
    await Promise.resolve();
    expect(atB).toEqual([1]);

    // A frame already on the wire when the cable comes out is lost at the far end too.
    a.send(frame(2));
    carrier.up = false;
    await Promise.resolve();
    a.send(frame(3));
    b.send(frame(4));
    await Promise.resolve();
    expect(atA).toEqual([]);
    expect(atB).toEqual([1]);
    expect(ctxB.stats.get('linkRxCarrierDown')).toBe(1);
    expect(ctxA.stats.get('linkTxCarrierDown')).toBe(1);
    expect(ctxB.stats.get('linkTxCarrierDown')).toBe(1);
    expect(carrier.counters).toEqual({ txDropped: 2, rxDropped: 1 });

    carrier.up = true;
    a.send(frame(5));
    b.send(frame(6));
    await Promise.resolve();
    expect(atB).toEqual([1, 5]);
    expect(atA).toEqual([6]);
  });
});
