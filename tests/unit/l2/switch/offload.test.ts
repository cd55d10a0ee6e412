/**
 * The switch and offload metadata (src/l2/switch/learning-switch.ts with
 * device/segment.ts): a super-frame or a partial checksum leaves untouched on
 * a port whose device takes it, as checksummed wire frames on one that does
 * not, and with offsets moved by 4 where an 802.1Q tag is added.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import type { Device, FrameHandler, TxOffload } from '../../../../src/device/device.js';
import { OffloadDrop } from '../../../../src/device/segment.js';
import { VnetGsoType } from '../../../../src/device/tap.js';
import { LearningSwitch } from '../../../../src/l2/switch/learning-switch.js';
import { TcpFlags, verifyTcpChecksumV4 } from '../../../../src/l4/tcp/header.js';
import { DST4, MSS, SRC4, payloadBytes, superFrame } from '../../device/super-frame.js';

/** A port device that records what it is asked to send; `offload` says whether it takes super-frames and partial checksums. */
class RecordingDevice implements Device {
  readonly mtu = 1500;
  readonly sent: { frame: Uint8Array; offload: TxOffload | undefined }[] = [];
  receiver: FrameHandler | undefined;
  constructor(
    readonly name: string,
    offload: boolean,
  ) {
    this.tsoMaxSize = offload ? 65_535 : 0;
    this.checksumOffload = offload;
  }
  readonly tsoMaxSize: number;
  readonly checksumOffload: boolean;
  setReceiver(onFrame: FrameHandler): void {
    this.receiver = onFrame;
  }
  send(frame: Uint8Array, offload?: TxOffload): void {
    this.sent.push({ frame: frame.slice(), offload: offload && { ...offload } });
  }
  flush(): void {}
  onClose(): void {}
  close(): void {}
}

function rig() {
  const ctx = createTestContext(5);
  const sw = new LearningSwitch(ctx, { name: 'sw' });
  const ingress = new RecordingDevice('in', true);
  const withOffload = new RecordingDevice('tso', true);
  const without = new RecordingDevice('plain', false);
  const trunk = new RecordingDevice('trunk', true);
  sw.addPort(ingress, { name: 'in' });
  sw.addPort(withOffload, { name: 'tso' });
  sw.addPort(without, { name: 'plain' });
  sw.addPort(trunk, { name: 'trunk', vlan: { mode: 'trunk', allowed: new Set([1]), native: undefined } });
  return { ctx, ingress, withOffload, without, trunk };
}

describe('LearningSwitch with offload metadata', () => {
  it('floods a TSO super-frame whole to offload ports and as segments to a port without', () => {
    const r = rig();
    const payload = payloadBytes(2 * MSS + 500);
    const { frame, offload } = superFrame(4, payload, TcpFlags.ACK | TcpFlags.PSH);
    r.ingress.receiver!(frame, offload);

    expect(r.withOffload.sent).toHaveLength(1);
    expect(r.withOffload.sent[0]!.frame).toEqual(frame);
    expect(r.withOffload.sent[0]!.offload).toEqual(offload);

    expect(r.without.sent.map((s) => s.frame.length)).toEqual([66 + MSS, 66 + MSS, 66 + 500]);
    for (const s of r.without.sent) {
      expect(s.offload).toBeUndefined();
      expect(verifyTcpChecksumV4(s.frame.subarray(34), SRC4, DST4)).toBe(true);
    }
    expect(Uint8Array.from(r.without.sent.flatMap((s) => [...s.frame.subarray(66)]))).toEqual(payload);

    // Tagged on the trunk: every offset after the tag moved by 4.
    expect(r.trunk.sent).toHaveLength(1);
    expect(r.trunk.sent[0]!.frame.length).toBe(frame.length + 4);
    expect(r.trunk.sent[0]!.offload).toEqual({ ...offload, headerLength: offload.headerLength + 4, checksumStart: offload.checksumStart + 4 });
  });

  it('completes a partial checksum only for the port without checksum offload', () => {
    const r = rig();
    const { frame, offload } = superFrame(4, payloadBytes(900), TcpFlags.ACK);
    const partial: TxOffload = { ...offload, gsoType: VnetGsoType.none, gsoSize: 0 };
    r.ingress.receiver!(frame, partial);
    expect(r.withOffload.sent[0]!.frame).toEqual(frame); // still the pseudo-header sum: the kernel finishes it
    expect(r.withOffload.sent[0]!.offload).toEqual(partial);
    expect(verifyTcpChecksumV4(r.without.sent[0]!.frame.subarray(34), SRC4, DST4)).toBe(true);
    expect(r.without.sent[0]!.offload).toBeUndefined();
  });

  it('counts metadata that does not hold and sends nothing where it would have to segment', () => {
    const r = rig();
    const { frame, offload } = superFrame(4, payloadBytes(3000), TcpFlags.ACK);
    r.ingress.receiver!(frame, { ...offload, gsoSize: 0 });
    expect(r.without.sent).toHaveLength(0);
    expect(r.ctx.stats.get(OffloadDrop.gsoSizeZero)).toBe(1);
  });
});
