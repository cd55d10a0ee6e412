/**
 * TCP over IPv6 leaves a TAP the way IPv4 does: 64 KB super-frames with
 * VIRTIO_NET_HDR_GSO_TCPV6 and a partial checksum (NEEDS_CSUM), the data
 * gathered from the send buffer. The "TAP" here records every frame with its
 * virtio-net header exactly as the kernel would read it from the fd (the
 * header captured below), then does what the kernel does with it
 * (virtio_net_hdr_to_skb, then GSO: device/segment.ts, the one segmentation
 * routine) and hands the wire segments to a plain peer host, which checks
 * every checksum. A wrong pseudo-header seed (RFC 8200 §8.1), a wrong
 * csum_start or hdr_len, or segments larger than the MTU show up as
 * checksum errors, corrupted data or a failed assertion.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fold, pseudoHeaderSumV6 } from '../../../src/core/checksum.js';
import { createTestContext, type StackContext } from '../../../src/core/context.js';
import type { Slices } from '../../../src/core/slices.js';
import { transmitLoans } from '../../../src/core/slices.js';
import { Stats } from '../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../src/core/trace.js';
import type { FrameHandler } from '../../../src/device/device.js';
import { createLinkPair, type LinkDevice } from '../../../src/device/link.js';
import { Segmenter } from '../../../src/device/segment.js';
import { TunOffload, VNET_HDR_SIZE, VnetGsoType, VnetHdrFlag } from '../../../src/device/tap.js';
import { VnetDevice, parseVnetHeader, type VnetCapableDevice, type VnetHeader } from '../../../src/device/vnet.js';
import { parseIpv6Cidr } from '../../../src/l3/ipv6/address.js';
import { IpProtocol } from '../../../src/l3/ip-protocol.js';
import type { Socket } from '../../../src/l4/tcp/socket.js';
import { Host } from '../../../src/node/host.js';

const ETHERNET = 14;
const IPV6 = 40;

/** A TAP opened with IFF_VNET_HDR and TSO4/TSO6/CSUM, whose "kernel" side is an in-memory link to a plain host. */
class CapturingTap implements VnetCapableDevice {
  readonly vnetHdr = true;
  readonly offloadFlags = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;
  /** Every frame as the kernel reads it: virtio-net header + Ethernet frame. */
  readonly captured: Uint8Array[] = [];
  private receiver: FrameHandler | undefined;
  private readonly segmenter = new Segmenter();
  private queue: Uint8Array[] = [];
  private scheduled = false;

  constructor(readonly wire: LinkDevice) {
    // Frames from the peer arrive with an all-zero virtio-net header (no offload), as a TAP hands them up.
    wire.setReceiver((frame) => {
      const withHeader = new Uint8Array(VNET_HDR_SIZE + frame.length);
      withHeader.set(frame, VNET_HDR_SIZE);
      this.receiver?.(withHeader);
    });
  }
  get name(): string {
    return 'tap6';
  }
  get mtu(): number {
    return this.wire.mtu;
  }
  setReceiver(onFrame: FrameHandler): void {
    this.receiver = onFrame;
  }
  send(bytes: Uint8Array): void {
    this.enqueue(bytes.slice());
  }
  sendWithPrefix(prefix: Uint8Array, frame: Uint8Array, payload?: Slices): void {
    // The TAP's writev: the payload slices are read at write time (end of turn); here, put together at once.
    const whole = new Uint8Array(prefix.length + frame.length + (payload?.length ?? 0));
    whole.set(prefix, 0);
    whole.set(frame, prefix.length);
    payload?.copyTo(whole, prefix.length + frame.length);
    this.enqueue(whole);
  }
  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const bytes of queue) {
      this.captured.push(bytes);
      const h = parseVnetHeader(bytes)!;
      const offload = {
        gsoType: h.gsoType,
        gsoSize: h.gsoSize,
        headerLength: h.headerLength,
        checksumStart: h.flags & VnetHdrFlag.needsCsum ? h.checksumStart : 0,
        checksumOffset: h.flags & VnetHdrFlag.needsCsum ? h.checksumOffset : 0,
      };
      const refused = this.segmenter.toWire(bytes.subarray(VNET_HDR_SIZE), offload, (segment) => {
        if (segment.length > ETHERNET + this.mtu) throw new Error(`a ${segment.length}-byte segment on MTU ${this.mtu}`);
        this.wire.send(segment);
      });
      if (refused) throw new Error(`the kernel would refuse this frame: ${refused}`);
    }
  }
  onClose(): void {}
  close(): void {}
  private enqueue(bytes: Uint8Array): void {
    this.queue.push(bytes);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }
}

const yieldToNode = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function download(mtu: number, size: number) {
  const ctxPeer = createTestContext(21);
  const statsUs = new Stats();
  const ctxUs: StackContext = { ...ctxPeer, stats: statsUs, trace: new Tracer(silentLogger, statsUs) };
  const [peerLink, wire] = createLinkPair(ctxPeer, { mtu, impairment: { aToB: { delayMs: 2 }, bToA: { delayMs: 2 } } });
  const tap = new CapturingTap(wire);
  const peer = new Host(ctxPeer);
  const us = new Host(ctxUs);
  peer.addInterface(peerLink, { name: 'k0', mac: 0x020000000001, ipv6: { addresses: [parseIpv6Cidr('fd77::2/64')!], dadTransmits: 0 } });
  us.addInterface(new VnetDevice(tap, statsUs), { name: 't0', mac: 0x020000000002, ipv6: { addresses: [parseIpv6Cidr('fd77::1/64')!], dadTransmits: 0 } });
  peer.start();
  us.start();
  const { clock, timers } = ctxPeer;
  const runUntil = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 1_000_000; i++) {
      await yieldToNode();
      if (done()) return;
      const next = timers.nextDeadline();
      if (next !== undefined) timers.advanceTo(clock, Math.max(next, clock.now()));
    }
    throw new Error('transfer did not finish');
  };
  let server: Socket | undefined;
  us.tcp.createServer((s) => (server = s)).listen(80);
  const client = peer.tcp.connect({ host: 'fd77::1', port: 80 });
  await runUntil(() => server !== undefined && !client.connecting);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >>> 11)) & 0xff;
  let got = 0;
  const hash = createHash('sha256');
  client.on('data', (d: Buffer) => {
    got += d.length;
    hash.update(d);
  });
  server!.write(data);
  await runUntil(() => got === size);
  expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  expect(transmitLoans.frames).toBe(0);
  expect(peer.ctx.stats.get('TcpInCsumErrors')).toBe(0);
  return { tap, statsUs };
}

/** The TSO frames among the captured ones, with their parsed virtio-net headers. */
function tsoFrames(tap: CapturingTap): { bytes: Uint8Array; header: VnetHeader }[] {
  return tap.captured.map((bytes) => ({ bytes, header: parseVnetHeader(bytes)! })).filter((f) => f.header.gsoType !== VnetGsoType.none);
}

describe('TCP over IPv6 through a TAP with offload (VIRTIO_NET_HDR_GSO_TCPV6)', () => {
  it('sends 2 MiB as TSO super-frames with partial checksums; the kernel-side segments arrive byte-exact with good checksums', async () => {
    const { tap, statsUs } = await download(1500, 2 * 1024 * 1024);
    const tso = tsoFrames(tap);
    expect(tso.length).toBeGreaterThan(0);
    expect(statsUs.get('vnetOutTsoFrames')).toBe(tso.length);
    // The captured header of the first super-frame, byte for byte: NEEDS_CSUM, GSO_TCPV6, hdr_len 14 + 40 + 32
    // (TCP with timestamps), gso_size = MSS 1500 - 40 - 20 - 12 = 1428 (LE 0x0594), csum_start 54, csum_offset 16.
    expect([...tso[0]!.bytes.subarray(0, VNET_HDR_SIZE)]).toEqual([1, 4, 86, 0, 0x94, 0x05, 54, 0, 16, 0, 0, 0]);
    for (const { bytes, header } of tso) {
      expect(header.flags).toBe(VnetHdrFlag.needsCsum);
      expect(header.gsoType).toBe(VnetGsoType.tcpv6);
      expect(header.checksumStart).toBe(ETHERNET + IPV6);
      expect(header.checksumOffset).toBe(16);
      // Each segment fits the link: headers + gso_size <= MTU.
      expect(header.headerLength - ETHERNET + header.gsoSize).toBeLessThanOrEqual(1500);
      // The checksum field holds the RFC 8200 §8.1 pseudo-header sum (upper-layer length, next header 6), not inverted.
      const ip = bytes.subarray(VNET_HDR_SIZE + ETHERNET);
      const tcpLength = ip.length - IPV6;
      expect((ip[4]! << 8) | ip[5]!).toBe(tcpLength); // IPv6 payload length: the whole super-segment
      const seed = fold(pseudoHeaderSumV6(ip.subarray(8, 24), ip.subarray(24, 40), IpProtocol.TCP, tcpLength));
      expect((ip[IPV6 + 16]! << 8) | ip[IPV6 + 17]!).toBe(seed);
    }
  });

  it('at MTU 9000 the segments grow with the link (gso_size 8928) and still fit it', async () => {
    const { tap } = await download(9000, 1024 * 1024);
    const tso = tsoFrames(tap);
    expect(tso.length).toBeGreaterThan(0);
    for (const { header } of tso) expect(header.gsoSize).toBe(9000 - 40 - 20 - 12);
  });
});
