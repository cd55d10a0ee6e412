import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/core/bytes.js';
import { createTestContext } from '../../../src/core/context.js';
import { PcapWriter, readPcap } from '../../../src/core/pcap.js';
import { createLinkPair } from '../../../src/device/link.js';
import { capture } from '../../../src/device/pcap-device.js';

/** ARP request: who has 10.0.0.2? tell 10.0.0.1 (from 02:00:00:00:00:01). */
const ARP_REQUEST = fromHex('ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002');
/** ARP reply: 10.0.0.2 is at 02:00:00:00:00:02. */
const ARP_REPLY = fromHex('020000000001 020000000002 0806 0001 0800 06 04 0002 020000000002 0a000002 020000000001 0a000001');

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapnet-capture-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Link a–b with 5 ms delay; b answers every ARP request; a is captured with the manual clock as timestamps. */
function setup(file: string) {
  const ctx = createTestContext();
  const [a, b] = createLinkPair(ctx, { nameA: 'h1-eth0', mtu: 1400, impairment: { delayMs: 5 } });
  b.setReceiver((f) => {
    if (f[21] === 1) b.send(ARP_REPLY);
  });
  const writer = new PcapWriter(file, { now: () => 1_000_000 + ctx.clock.now() });
  const captured = capture(a, writer);
  return { ctx, a, b, writer, captured };
}

describe('capture()', () => {
  it('records sent and received frames, in order, with their times, and passes them through', () => {
    const file = path.join(dir, 'both.pcap');
    const { ctx, b, writer, captured } = setup(file);
    expect([captured.name, captured.mtu]).toEqual(['h1-eth0', 1400]);
    const received: Uint8Array[] = [];
    let batches = 0;
    captured.setReceiver(
      (f) => received.push(f.slice()),
      () => batches++,
    );
    captured.send(ARP_REQUEST);
    ctx.timers.advanceTo(ctx.clock, 100);
    writer.close();

    expect(received).toEqual([ARP_REPLY]);
    expect(batches).toBe(1);
    expect(b.counters.rxFrames).toBe(1);
    const r = readPcap(new Uint8Array(fs.readFileSync(file)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.records.map((x) => [x.ts, Array.from(x.data)])).toEqual([
      [1_000_000, Array.from(ARP_REQUEST)], // sent at t=0
      [1_000_010, Array.from(ARP_REPLY)], // request arrives at 5, reply at 10
    ]);
  });

  it('tcpdump shows both directions', () => {
    const file = path.join(dir, 'tcpdump.pcap');
    const { ctx, writer, captured } = setup(file);
    captured.setReceiver(() => {});
    captured.send(ARP_REQUEST);
    ctx.timers.advanceTo(ctx.clock, 100);
    writer.close();
    const r = spawnSync('tcpdump', ['-r', file, '-nn', '-tt'], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      '1000.000000 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28',
      '1000.010000 ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28',
    ]);
  });

  it('captures a received frame before the receiver can scribble on it', () => {
    const file = path.join(dir, 'scribble.pcap');
    const { ctx, writer, captured } = setup(file);
    captured.setReceiver((f) => f.fill(0));
    captured.send(ARP_REQUEST);
    ctx.timers.advanceTo(ctx.clock, 100);
    writer.close();
    const r = readPcap(new Uint8Array(fs.readFileSync(file)));
    expect(r.ok && Array.from(r.value.records[1]!.data)).toEqual(Array.from(ARP_REPLY));
  });

  it('passes close and onClose through, leaving the writer open', () => {
    const file = path.join(dir, 'close.pcap');
    const { a, b, writer, captured } = setup(file);
    const reasons: string[] = [];
    captured.onClose((r) => reasons.push(r));
    captured.close();
    expect(a.closed && b.closed).toBe(true);
    expect(reasons).toEqual(['link closed by h1-eth0']);
    expect(writer.closed).toBe(false);
    writer.close();
  });
});
