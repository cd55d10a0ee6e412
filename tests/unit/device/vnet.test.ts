/**
 * The virtio-net header layer (src/device/vnet.ts) over a fake TAP: strip on
 * receive, prepend on send, counters.
 */
import { describe, expect, it } from 'vitest';
import { Stats } from '../../../src/core/stats.js';
import type { FrameHandler, TxOffload } from '../../../src/device/device.js';
import { TunOffload, VNET_HDR_SIZE, VnetGsoType, VnetHdrFlag } from '../../../src/device/tap.js';
import {
  VnetDevice,
  describeVnetHeader,
  emitVnetHeader,
  parseVnetHeader,
  type VnetCapableDevice,
} from '../../../src/device/vnet.js';

class FakeTap implements VnetCapableDevice {
  readonly name = 'fake0';
  readonly mtu = 1500;
  readonly vnetHdr = true;
  readonly sent: Uint8Array[] = [];
  receiver: FrameHandler | undefined;
  constructor(readonly offloadFlags: number) {}
  setReceiver(onFrame: FrameHandler): void {
    this.receiver = onFrame;
  }
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  flush(): void {}
  onClose(): void {}
  close(): void {}
}

const ALL = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;

describe('virtio-net header', () => {
  it('emits all zeros for a plain frame and round-trips a TSO request', () => {
    const buf = new Uint8Array(VNET_HDR_SIZE).fill(0xee);
    expect(emitVnetHeader(undefined, buf, 0)).toBe(VNET_HDR_SIZE);
    expect([...buf]).toEqual(new Array(VNET_HDR_SIZE).fill(0));

    const offload: TxOffload = { gsoType: VnetGsoType.tcpv4, gsoSize: 1448, headerLength: 66, checksumStart: 34, checksumOffset: 16 };
    emitVnetHeader(offload, buf, 0);
    // Little-endian: gso_size 1448 = 0x05a8.
    expect([...buf]).toEqual([1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0, 0, 0]);
    const h = parseVnetHeader(buf)!;
    expect(h).toEqual({ flags: VnetHdrFlag.needsCsum, gsoType: 1, headerLength: 66, gsoSize: 1448, checksumStart: 34, checksumOffset: 16 });
    expect(describeVnetHeader(h)).toContain('needs_csum');
    expect(parseVnetHeader(buf.subarray(0, 11))).toBeUndefined();
  });
});

describe('VnetDevice', () => {
  it('strips the header on receive and says whether the checksum is vouched for', () => {
    const tap = new FakeTap(ALL);
    const stats = new Stats();
    const dev = new VnetDevice(tap, stats);
    const seen: { frame: number[]; valid: boolean }[] = [];
    const offloads: (TxOffload | undefined)[] = [];
    dev.setReceiver((frame, offload) => {
      seen.push({ frame: [...frame], valid: dev.rxChecksumValid });
      offloads.push(offload && { ...offload });
    });
    const frame = [1, 2, 3, 4];
    tap.receiver!(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...frame));
    // NEEDS_CSUM, csum_start 1, csum_offset 0: the sum of bytes 1.. goes into bytes 1-2.
    tap.receiver!(Uint8Array.of(VnetHdrFlag.needsCsum, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, ...frame));
    tap.receiver!(Uint8Array.of(VnetHdrFlag.dataValid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...frame));
    tap.receiver!(Uint8Array.of(1, 2, 3)); // shorter than the header
    expect(seen).toEqual([
      { frame, valid: false },
      { frame, valid: true },
      { frame, valid: true },
    ]);
    expect(offloads).toEqual([undefined, { gsoType: 0, gsoSize: 0, headerLength: 0, checksumStart: 1, checksumOffset: 0 }, undefined]);
    expect(dev.rxChecksumValid).toBe(false); // only during the callback
    expect(stats.get('vnetInGsoFrames')).toBe(0); // GSO frames: tests/unit/device/segment.test.ts
    expect(stats.get('vnetInPartialCsum')).toBe(1);
    expect(stats.get('vnetInCsumValid')).toBe(1);
    expect(stats.get('vnetInErrors')).toBe(1);
  });

  it('prepends a zero header to plain frames and the offload header to TSO frames', () => {
    const tap = new FakeTap(ALL);
    const stats = new Stats();
    const dev = new VnetDevice(tap, stats);
    expect(dev.tsoMaxSize).toBe(65_535);
    expect(dev.checksumOffload).toBe(true);
    dev.send(Uint8Array.of(9, 8, 7));
    dev.send(Uint8Array.of(9, 8, 7), { gsoType: VnetGsoType.tcpv4, gsoSize: 1448, headerLength: 66, checksumStart: 34, checksumOffset: 16 }); // the device does not look inside
    expect([...tap.sent[0]!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 8, 7]);
    expect([...tap.sent[1]!]).toEqual([1, 1, 66, 0, 0xa8, 5, 34, 0, 16, 0, 0, 0, 9, 8, 7]);
    expect(stats.get('vnetOutTsoFrames')).toBe(1);
    expect(stats.get('vnetOutPartialCsum')).toBe(1);
  });

  it('offers only what the kernel accepted', () => {
    expect(new VnetDevice(new FakeTap(TunOffload.csum)).tsoMaxSize).toBe(0);
    expect(new VnetDevice(new FakeTap(TunOffload.csum)).checksumOffload).toBe(true);
    const none = new VnetDevice(new FakeTap(0));
    expect(none.tsoMaxSize).toBe(0);
    expect(none.checksumOffload).toBe(false);
  });
});

/** A TAP that takes the header as a prefix (as src/device/tap.ts does), recording the joined frame. */
class PrefixTap extends FakeTap {
  prefixed = 0;
  sendWithPrefix(prefix: Uint8Array, frame: Uint8Array): void {
    this.prefixed++;
    const joined = new Uint8Array(prefix.length + frame.length);
    joined.set(prefix);
    joined.set(frame, prefix.length);
    this.sent.push(joined);
  }
}

describe('VnetDevice with a prefix-taking TAP', () => {
  it('writes the same bytes as through its own buffer, and still finishes a checksum itself where the TAP cannot', () => {
    const frame = Uint8Array.from({ length: 120 }, (_, i) => i);
    const offload: TxOffload = { gsoType: VnetGsoType.none, gsoSize: 0, headerLength: 0, checksumStart: 34, checksumOffset: 16 };
    const plainTap = new FakeTap(ALL);
    const prefixTap = new PrefixTap(ALL);
    new VnetDevice(plainTap).send(frame, offload);
    new VnetDevice(prefixTap).send(frame, offload);
    expect(prefixTap.prefixed).toBe(1);
    expect(prefixTap.sent).toEqual(plainTap.sent);

    // Without checksum offload the partial checksum is finished on a copy: the buffer path, not the prefix.
    const noCsum = new PrefixTap(0);
    new VnetDevice(noCsum).send(frame, offload);
    expect(noCsum.prefixed).toBe(0);
    expect(noCsum.sent).toHaveLength(1);
  });
});
