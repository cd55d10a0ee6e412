/**
 * Framing in place (src/l2/headroom.ts, l2/interface.ts transmit): the IP
 * packet an interface is dispatching leaves another interface framed over
 * its own received link header, a view of the receive buffer (no copy into
 * the interface's scratch); every other packet is framed in the scratch.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/bytes.js';
import { createTestContext } from '../../../src/core/context.js';
import { Stats } from '../../../src/core/stats.js';
import type { TransportOffload } from '../../../src/core/offload.js';
import type { Device, FrameHandler, TxOffload } from '../../../src/device/device.js';
import { TunOffload, VNET_HDR_SIZE, VnetGsoType, VnetHdrFlag } from '../../../src/device/tap.js';
import { VnetDevice, emitVnetHeader, parseVnetHeader, type VnetCapableDevice } from '../../../src/device/vnet.js';
import { EtherType } from '../../../src/l2/ethernet/ether-type.js';
import { emitEthernet, parseEthernet } from '../../../src/l2/ethernet/frame.js';
import { arriving } from '../../../src/l2/headroom.js';
import { NetworkInterface, type InterfaceReceivers } from '../../../src/l2/interface.js';
import { BROADCAST_MAC } from '../../../src/l2/mac-address.js';
import { parseIpv6 } from '../../../src/l3/ipv6/address.js';
import { superFrame, payloadBytes, MSS } from '../device/super-frame.js';
import { TcpFlags } from '../../../src/l4/tcp/header.js';

const MAC_A = 0x0200_0000_000a;
const MAC_B = 0x0200_0000_000b;
const PEER_MAC = 0x0200_0000_0002;
const PEER6_MAC = 0x0200_0000_0006;

/** Keeps the views it is handed (not copies), so a test can see where a frame lives. */
class ViewDevice implements Device {
  readonly sent: { frame: Uint8Array; bytes: string; offload: TxOffload | undefined }[] = [];
  receiver: FrameHandler | undefined;
  constructor(
    readonly name: string,
    readonly mtu = 1500,
    readonly tsoMaxSize = 0,
    readonly checksumOffload = false,
  ) {}
  setReceiver(onFrame: FrameHandler): void {
    this.receiver = onFrame;
  }
  send(frame: Uint8Array, offload?: TxOffload): void {
    this.sent.push({ frame, bytes: toHex(frame), offload: offload && { ...offload } });
  }
  flush(): void {}
  onClose(): void {}
  close(): void {}
}

/** A TAP opened with the virtio-net header that takes header + frame as two pieces (like TapDevice). */
class VnetTap implements VnetCapableDevice {
  readonly mtu = 1500;
  readonly vnetHdr = true;
  readonly offloadFlags = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;
  readonly written: { header: Uint8Array; frame: Uint8Array }[] = [];
  receiver: FrameHandler | undefined;
  constructor(readonly name: string) {}
  setReceiver(onFrame: FrameHandler): void {
    this.receiver = onFrame;
  }
  send(frame: Uint8Array): void {
    this.written.push({ header: frame.slice(0, VNET_HDR_SIZE), frame: frame.subarray(VNET_HDR_SIZE) });
  }
  sendWithPrefix(prefix: Uint8Array, frame: Uint8Array): void {
    this.written.push({ header: prefix.slice(), frame });
  }
  flush(): void {}
  onClose(): void {}
  close(): void {}
}

/** Interface A hands every IP packet to `forward`, which sends it on through interface B. */
function router(deviceA: Device, deviceB: Device, forward: (packet: Uint8Array, b: NetworkInterface, offload?: TransportOffload) => void) {
  const ctx = createTestContext();
  const ipv6 = (deliver: (p: Uint8Array, o?: TransportOffload) => void): InterfaceReceivers['ipv6'] => () => ({
    neighbours: { resolve: () => PEER6_MAC, mustWait: () => false },
    receive: (packet, _m, offload) => deliver(packet, offload),
  });
  let b: NetworkInterface | undefined;
  const a = new NetworkInterface(ctx, deviceA, {
    name: 'a',
    mac: MAC_A,
    receivers: { ipv4: (packet, _link, _bc, offload) => forward(packet, b!, offload), ipv6: ipv6((p, o) => forward(p, b!, o)) },
  });
  b = new NetworkInterface(ctx, deviceB, { name: 'b', mac: MAC_B, receivers: { ipv4: () => {}, ipv6: ipv6(() => {}) } });
  return { a, b, ctx };
}

/** A receive buffer like a TAP slot: `before` spare bytes, an Ethernet header to MAC_A (tagged with `vid`), the packet. */
function received(packet: Uint8Array, etherType: number, before = VNET_HDR_SIZE, vid?: number): { buffer: Uint8Array; frame: Uint8Array } {
  const header = vid === undefined ? 14 : 18;
  const buffer = new Uint8Array(before + header + packet.length).fill(0xee, 0, before);
  emitEthernet({ destination: MAC_A, source: PEER_MAC, etherType, vlan: vid === undefined ? undefined : { pcp: 0, dei: false, vid } }, buffer, before);
  buffer.set(packet, before + header);
  return { buffer, frame: buffer.subarray(before) };
}

const ipv4Packet = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x45 : i & 0xff));
const ipv6Packet = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x60 : (i * 3) & 0xff));

describe('framing in place: headroom present', () => {
  it('IPv4 and IPv6 leave as views of the receive buffer, over the received Ethernet header', () => {
    for (const [packet, etherType, sendOn] of [
      [ipv4Packet(200), EtherType.IPv4, (p: Uint8Array, b: NetworkInterface) => b.sendIpv4(p, 0xffff_ffff)],
      [ipv6Packet(200), EtherType.IPv6, (p: Uint8Array, b: NetworkInterface) => b.sendIpv6(p, parseIpv6('fd00::2')!)],
    ] as const) {
      const devB = new ViewDevice('b');
      const devA = new ViewDevice('a');
      router(devA, devB, (p, b) => sendOn(p, b));
      const { buffer, frame } = received(packet, etherType);
      devA.receiver!(frame);
      expect(devB.sent).toHaveLength(1);
      const out = devB.sent[0]!.frame;
      // Same memory: the frame starts where the received one did (same 14-byte header), no copy.
      expect(out.buffer).toBe(buffer.buffer);
      expect(out.byteOffset).toBe(frame.byteOffset);
      expect(out.length).toBe(14 + packet.length);
      const parsed = parseEthernet(out);
      if (!parsed.ok) throw new Error('bad frame');
      expect(parsed.value).toMatchObject({
        destination: etherType === EtherType.IPv4 ? BROADCAST_MAC : PEER6_MAC,
        source: MAC_B,
        etherType,
      });
      expect(toHex(parsed.value.payload)).toBe(toHex(packet));
      // The spare bytes in front of the frame (the TAP slot's vnet header) are not touched.
      expect([...buffer.subarray(0, VNET_HDR_SIZE)]).toEqual(new Array(VNET_HDR_SIZE).fill(0xee));
    }
  });

  it('a tagged arrival has 18 bytes of room: the untagged frame starts 4 bytes in', () => {
    const packet = ipv4Packet(100);
    const { buffer, frame } = received(packet, EtherType.IPv4, 0, 10);
    const devB = new ViewDevice('b');
    const { b } = router(new ViewDevice('a'), devB, () => {});
    // A host interface drops tagged frames (ethInTagged), so the arrival is marked here as a tagged port would.
    const ip = frame.subarray(18);
    arriving.buffer = ip.buffer;
    arriving.offset = ip.byteOffset;
    arriving.room = 18;
    try {
      expect(arriving.headroom(ip)).toBe(18);
      b.sendIpv4(ip, 0xffff_ffff);
    } finally {
      arriving.buffer = undefined;
      arriving.offset = -1;
      arriving.room = 0;
    }
    const out = devB.sent[0]!.frame;
    expect(out.buffer).toBe(buffer.buffer);
    expect(out.byteOffset).toBe(4);
    expect(parseEthernet(out).ok && parseEthernet(out)).toMatchObject({ value: { source: MAC_B, etherType: EtherType.IPv4, vlan: undefined } });
    expect(toHex(out.subarray(14))).toBe(toHex(packet));
  });

  it('a TSO super-frame goes whole through a virtio-net device: one header in front, the frame still in the receive buffer', () => {
    const tapA = new VnetTap('tapA');
    const tapB = new VnetTap('tapB');
    const stats = new Stats();
    router(new VnetDevice(tapA, stats), new VnetDevice(tapB, stats), (p, b, offload) => {
      // What the forwarder does: the header length filled in (IPv4 20 + TCP 32), the rest as received.
      b.sendIpv4(p, 0xffff_ffff, offload && { ...offload, headerLength: 52 });
    });
    const { frame, offload } = superFrame(4, payloadBytes(MSS * 10), TcpFlags.ACK | TcpFlags.PSH);
    frame.set([2, 0, 0, 0, 0, 0x0a], 0); // to interface A
    const slot = new Uint8Array(VNET_HDR_SIZE + frame.length);
    emitVnetHeader(offload, slot, 0);
    slot.set(frame, VNET_HDR_SIZE);
    tapA.receiver!(slot);
    expect(tapB.written).toHaveLength(1);
    const { header, frame: out } = tapB.written[0]!;
    expect(out.buffer).toBe(slot.buffer);
    expect(out.byteOffset).toBe(VNET_HDR_SIZE);
    expect(out.length).toBe(frame.length);
    expect(parseVnetHeader(header)).toEqual({
      flags: VnetHdrFlag.needsCsum,
      gsoType: VnetGsoType.tcpv4,
      headerLength: 14 + 52,
      gsoSize: MSS,
      checksumStart: offload.checksumStart,
      checksumOffset: 16,
    });
    expect(toHex(out.subarray(14))).toBe(toHex(frame.subarray(14)));
    expect(toHex(out.subarray(0, 12))).toBe(toHex(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0b)));
    expect(stats.get('vnetOutTsoFrames')).toBe(1);
  });
});

describe('framing in place: headroom absent', () => {
  it('a packet built elsewhere, a copy, or a packet inside the arriving one is framed in the scratch; the receive buffer is left alone', () => {
    const cases: ((p: Uint8Array) => Uint8Array)[] = [
      (p) => p.slice(), // a copy (a hook that replaced the bytes)
      (p) => p.subarray(20), // an inner packet (decapsulated): the bytes in front are the outer header, not free
    ];
    for (const pick of cases) {
      const devA = new ViewDevice('a');
      const devB = new ViewDevice('b');
      router(devA, devB, (p, b) => b.sendIpv4(pick(p), 0xffff_ffff));
      const packet = ipv4Packet(120);
      const { buffer, frame } = received(packet, EtherType.IPv4);
      const before = toHex(buffer);
      devA.receiver!(frame);
      const out = devB.sent[0]!.frame;
      expect(out.buffer).not.toBe(buffer.buffer);
      expect(toHex(buffer)).toBe(before);
      expect(toHex(out.subarray(14))).toBe(toHex(pick(packet)));
    }
  });

  it('outside a receive nothing has headroom, and a receive inside a receive restores the outer arrival', () => {
    const devB = new ViewDevice('b');
    const { b } = router(new ViewDevice('a'), devB, () => {});
    const { frame } = received(ipv4Packet(60), EtherType.IPv4);
    const standalone = frame.subarray(14);
    expect(arriving.headroom(standalone)).toBe(0);
    b.sendIpv4(standalone, 0xffff_ffff);
    expect(devB.sent[0]!.frame.buffer).not.toBe(frame.buffer);

    // Outer arrival on A; while it is dispatched, an inner frame arrives on C (a tunnel delivering synchronously).
    const devA = new ViewDevice('a');
    const devC = new ViewDevice('c');
    const seen: number[] = [];
    const ctx = createTestContext();
    const inner = received(ipv4Packet(40), EtherType.IPv4);
    new NetworkInterface(ctx, devC, { name: 'c', mac: MAC_A, receivers: { ipv4: (p) => seen.push(arriving.headroom(p)) } });
    new NetworkInterface(ctx, devA, {
      name: 'a',
      mac: MAC_A,
      receivers: {
        ipv4: (p) => {
          seen.push(arriving.headroom(p));
          devC.receiver!(inner.frame);
          seen.push(arriving.headroom(p));
        },
      },
    });
    devA.receiver!(received(ipv4Packet(80), EtherType.IPv4).frame);
    expect(seen).toEqual([14, 14, 14]);
    expect(arriving.buffer).toBeUndefined();
  });
});
