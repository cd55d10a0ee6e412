/**
 * The interface's way out (src/l2/interface.ts): IPv4 and IPv6 leave through
 * the same shape, sendIpv4/sendIpv6 → neighbour resolver → one framing
 * routine → device, with the offload request translated for the device; and
 * the way in: frames go to the receivers the interface was built with.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/bytes.js';
import { fold, pseudoHeaderSumV4, verifyChecksum } from '../../../src/core/checksum.js';
import { createTestContext } from '../../../src/core/context.js';
import type { TransportOffload } from '../../../src/core/offload.js';
import type { Device, FrameHandler, TxOffload } from '../../../src/device/device.js';
import { Slices } from '../../../src/core/slices.js';
import { ArpOperation, emitArp } from '../../../src/l2/arp/packet.js';
import { EtherType } from '../../../src/l2/ethernet/ether-type.js';
import { emitEthernet, parseEthernet } from '../../../src/l2/ethernet/frame.js';
import { NetworkInterface, type InterfaceReceivers } from '../../../src/l2/interface.js';
import { BROADCAST_MAC } from '../../../src/l2/mac-address.js';
import { parseIpv6 } from '../../../src/l3/ipv6/address.js';

const OUR_MAC = 0x0200_0000_0001;
const OUR_IP = 0x0a00_0001;
const PEER_MAC = 0x0200_0000_0002;
const PEER_IP = 0x0a00_0002;
const PEER6_MAC = 0x0200_0000_0006;

class FakeDevice implements Device {
  readonly name = 'fake0';
  readonly sent: { frame: Uint8Array; offload: TxOffload | undefined }[] = [];
  receiver: FrameHandler | undefined;
  constructor(
    readonly mtu = 1500,
    readonly tsoMaxSize = 0,
    readonly checksumOffload = false,
  ) {}
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

function setup(device = new FakeDevice(), receivers: InterfaceReceivers = {}) {
  const ctx = createTestContext();
  const ipv6Up: Uint8Array[] = [];
  const iface = new NetworkInterface(ctx, device, {
    name: 't0',
    mac: OUR_MAC,
    ipv4: [{ address: OUR_IP, prefixLength: 24 }],
    receivers: {
      ...receivers,
      // IPv6 with a stand-in for NDP: every unicast next hop is at PEER6_MAC.
      ipv6: () => ({
        neighbours: { resolve: (nextHop) => (nextHop[0] === 0xff ? 0x3333_0000_0001 : PEER6_MAC), mustWait: () => false },
        receive: (packet) => ipv6Up.push(packet.slice()),
      }),
    },
  });
  /** The peer answers ARP for PEER_IP (a reply sent to us). */
  const arpReply = (): void => {
    const frame = new Uint8Array(14 + 28);
    const h = emitEthernet({ destination: OUR_MAC, source: PEER_MAC, etherType: EtherType.ARP }, frame, 0);
    emitArp(
      { operation: ArpOperation.Reply, senderHardwareAddress: PEER_MAC, senderProtocolAddress: PEER_IP, targetHardwareAddress: OUR_MAC, targetProtocolAddress: OUR_IP },
      frame,
      h,
    );
    device.receiver!(frame);
  };
  return { ctx, iface, device, arpReply, ipv6Up };
}

const frameOf = (bytes: Uint8Array) => {
  const r = parseEthernet(bytes);
  if (!r.ok) throw new Error('bad frame');
  return r.value;
};

/** An IPv4 packet (20-byte header) carrying a TCP segment with `dataLength` bytes and a partial checksum. */
function tcpPacket(dataLength: number): { packet: Uint8Array; pseudo: number } {
  const packet = new Uint8Array(40 + dataLength);
  packet[0] = 0x45;
  const tcp = packet.subarray(20);
  tcp[12] = 0x50;
  for (let i = 20; i < tcp.length; i++) tcp[i] = i & 0xff;
  const pseudo = pseudoHeaderSumV4(OUR_IP, PEER_IP, 6, tcp.length);
  const f = fold(pseudo);
  tcp[16] = f >>> 8;
  tcp[17] = f & 0xff;
  return { packet, pseudo };
}

const partial: TransportOffload = { segmentSize: 1448, headerLength: 40, checksumStart: 20, checksumOffset: 16 };

describe('NetworkInterface output: one shape for IPv4 and IPv6', () => {
  it('frames IPv4 and IPv6 the same way: resolved MAC, our MAC, the family EtherType, the packet', () => {
    const { iface, device, arpReply } = setup();
    iface.arp.probe(PEER_IP);
    arpReply();
    device.sent.length = 0;
    const v4 = Uint8Array.of(0x45, 1, 2, 3);
    const v6 = Uint8Array.of(0x60, 4, 5, 6);
    iface.sendIpv4(v4, PEER_IP);
    iface.sendIpv6(v6, parseIpv6('fd00::2')!);
    iface.sendIpv6(v6, parseIpv6('ff02::1')!);
    expect(device.sent.map((s) => frameOf(s.frame))).toMatchObject([
      { destination: PEER_MAC, source: OUR_MAC, etherType: EtherType.IPv4 },
      { destination: PEER6_MAC, source: OUR_MAC, etherType: EtherType.IPv6 },
      { destination: 0x3333_0000_0001, source: OUR_MAC, etherType: EtherType.IPv6 },
    ]);
    expect(toHex(frameOf(device.sent[0]!.frame).payload)).toBe(toHex(v4));
    expect(toHex(frameOf(device.sent[1]!.frame).payload)).toBe(toHex(v6));
  });

  it('carries packets larger than its first buffer (jumbo links), and small ones after', () => {
    const { iface, device } = setup(new FakeDevice(9000));
    const big = new Uint8Array(9000).fill(9);
    iface.sendIpv4(big, 0xffff_ffff);
    iface.sendIpv6(Uint8Array.of(0x60, 1), parseIpv6('ff02::1')!);
    expect(device.sent[0]!.frame.length).toBe(9014);
    expect(frameOf(device.sent[0]!.frame)).toMatchObject({ destination: BROADCAST_MAC, etherType: EtherType.IPv4 });
    expect(device.sent[1]!.frame.length).toBe(16);
  });

  it('a TSO segment to a resolved neighbour leaves whole, with frame offsets (tcpv4; tcpv6 for IPv6)', () => {
    const { iface, device, arpReply } = setup(new FakeDevice(1500, 65_535, true));
    iface.arp.probe(PEER_IP);
    arpReply();
    device.sent.length = 0;
    const { packet } = tcpPacket(10_000);
    iface.sendIpv4(packet, PEER_IP, partial);
    expect(device.sent[0]!.offload).toEqual({ gsoType: 1, gsoSize: 1448, headerLength: 54, checksumStart: 34, checksumOffset: 16 });
    iface.sendIpv6(packet, parseIpv6('fd00::2')!, partial);
    expect(device.sent[1]!.offload?.gsoType).toBe(4);
  });

  it('a packet that waits for ARP loses its offload request: its checksum is finished before it is queued', () => {
    const { iface, device, arpReply, ctx } = setup(new FakeDevice(1500, 65_535, true));
    const { packet, pseudo } = tcpPacket(100);
    iface.sendIpv4(packet, PEER_IP, partial);
    expect(device.sent).toHaveLength(1); // the ARP request
    expect(ctx.stats.get('arpOutRequests')).toBe(1);
    arpReply();
    const out = device.sent[1]!;
    expect(out.offload).toBeUndefined();
    const tcp = frameOf(out.frame).payload.subarray(20);
    expect(verifyChecksum(tcp, 0, tcp.length, pseudo)).toBe(true);
  });

  it('a device without checksum offload gets a finished checksum', () => {
    const { iface, device } = setup();
    const { packet, pseudo } = tcpPacket(100);
    iface.sendIpv4(packet, 0xffff_ffff, { ...partial, segmentSize: 0 });
    expect(device.sent[0]!.offload).toBeUndefined();
    const tcp = frameOf(device.sent[0]!.frame).payload.subarray(20);
    expect(verifyChecksum(tcp, 0, tcp.length, pseudo)).toBe(true);
  });
});

describe('NetworkInterface input and addresses', () => {
  it('hands IPv4 and IPv6 to the receivers it was built with; ARP it answers itself', () => {
    const up: { packet: Uint8Array; linkBroadcast: boolean }[] = [];
    const { device, ipv6Up, arpReply, iface } = setup(new FakeDevice(), { ipv4: (packet, _link, linkBroadcast) => up.push({ packet: packet.slice(), linkBroadcast }) });
    const frame = (etherType: number, destination: number, payload: number[]): Uint8Array => {
      const f = new Uint8Array(14 + payload.length);
      emitEthernet({ destination, source: PEER_MAC, etherType }, f, 0);
      f.set(payload, 14);
      return f;
    };
    device.receiver!(frame(EtherType.IPv4, OUR_MAC, [0x45, 7]));
    device.receiver!(frame(EtherType.IPv4, BROADCAST_MAC, [0x45, 8]));
    device.receiver!(frame(EtherType.IPv6, OUR_MAC, [0x60, 9]));
    arpReply();
    expect(up.map((u) => [u.packet[1], u.linkBroadcast])).toEqual([
      [7, false],
      [8, true],
    ]);
    expect(ipv6Up.map((p) => p[1])).toEqual([9]);
    expect(iface.arp.entries()).toEqual([]); // an unsolicited reply creates nothing
  });

  it('without an IPv4 receiver, IPv4 is an unknown EtherType', () => {
    const ctx = createTestContext();
    const device = new FakeDevice();
    new NetworkInterface(ctx, device, { mac: OUR_MAC });
    const f = new Uint8Array(20);
    emitEthernet({ destination: OUR_MAC, source: PEER_MAC, etherType: EtherType.IPv4 }, f, 0);
    device.receiver!(f);
    expect(ctx.stats.get('ethInUnknownType')).toBe(1);
  });

  it('changes its addresses only through its own methods', () => {
    const { iface } = setup();
    const a = { address: 0x0a01_0001, prefixLength: 16 };
    expect(iface.addIpv4Address(a)).toBe(true);
    expect(iface.addIpv4Address({ ...a })).toBe(false);
    expect(iface.ipv4Addresses).toHaveLength(2);
    expect(iface.removeIpv4Address({ ...a })).toBe(true);
    expect(iface.removeIpv4Address(a)).toBe(false);
    expect(iface.ipv4Addresses).toEqual([{ address: OUR_IP, prefixLength: 24 }]);
  });
});

/** A device that gathers (as the TAP does): records the headers it was given and the payload slices' length. */
class GatherDevice extends FakeDevice {
  readonly gathered: { frame: Uint8Array; offload: TxOffload | undefined; payload: number }[] = [];
  sendWithPayload(frame: Uint8Array, offload: TxOffload | undefined, payload: Slices): void {
    this.gathered.push({ frame: frame.slice(), offload: offload && { ...offload }, payload: payload.length });
  }
}

describe('NetworkInterface: the one gather path, IPv4 and IPv6', () => {
  /** An interface whose IPv6 neighbour is resolved or pending (`pending`), recording what waits for it. */
  function setup6(pending: boolean) {
    const ctx = createTestContext();
    const device = new GatherDevice(1500, 65_535, true);
    const waiting: Uint8Array[] = [];
    const iface = new NetworkInterface(ctx, device, {
      name: 't0',
      mac: OUR_MAC,
      receivers: {
        ipv6: () => ({
          neighbours: {
            resolve: (_nextHop, packet) => {
              if (!pending) return PEER6_MAC;
              waiting.push(packet.slice());
              return 'queued' as const;
            },
            mustWait: () => pending,
          },
          receive: () => {},
        }),
      },
    });
    return { iface, device, waiting };
  }
  const data = new Uint8Array(20_000).fill(5);
  const payload = (): Slices => {
    const s = new Slices();
    s.add(data, 0, 12_000);
    s.add(data, 12_000, 8_000);
    return s;
  };
  /** An IPv6 header (payload length 20 + 20000) and a 20-byte TCP header. */
  const headers = (): Uint8Array => {
    const h = new Uint8Array(60);
    h[0] = 0x60;
    h[4] = (20_020 >>> 8) & 0xff;
    h[5] = 20_020 & 0xff;
    h[6] = 6;
    h[40 + 12] = 0x50;
    return h;
  };
  const tso6: TransportOffload = { segmentSize: 1428, headerLength: 60, checksumStart: 40, checksumOffset: 16 };

  it('an IPv6 super-packet to a resolved neighbour: the headers framed, the data gathered, tcpv6 offsets', () => {
    const { iface, device } = setup6(false);
    iface.sendIpv6WithPayload(headers(), parseIpv6('fd00::2')!, tso6, payload());
    expect(device.sent).toHaveLength(0);
    expect(device.gathered).toHaveLength(1);
    const g = device.gathered[0]!;
    expect(g.frame.length).toBe(14 + 60);
    expect(g.payload).toBe(20_000);
    expect(frameOf(g.frame).etherType).toBe(EtherType.IPv6);
    expect(g.offload).toEqual({ gsoType: 4, gsoSize: 1428, headerLength: 74, checksumStart: 54, checksumOffset: 16 });
  });

  it('while NDP resolves, the data is copied and the super-packet waits as wire-sized segments', () => {
    const { iface, device, waiting } = setup6(true);
    iface.sendIpv6WithPayload(headers(), parseIpv6('fd00::2')!, tso6, payload());
    expect(device.gathered).toHaveLength(0);
    expect(waiting.length).toBe(Math.ceil(20_000 / 1428));
    expect(waiting.every((p) => p.length <= 1500)).toBe(true);
    expect(waiting.reduce((n, p) => n + p.length - 60, 0)).toBe(20_000);
  });
});
