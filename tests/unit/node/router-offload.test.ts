/**
 * A router forwards TSO super-frames whole (issue 10): the virtio-net
 * metadata travels up with the packet (l2/interface.ts), the forwarder
 * checks the MTU against the segments (l3/routing/forward.ts,
 * l3/ipv6/forward.ts), NAT patches a partial checksum's seed
 * (netfilter/nat/rewrite.ts), and the outgoing interface sends the
 * super-frame whole to a device with TSO or cuts it for one without
 * (device/segment.ts).
 *
 *   host A (10.1.0.2, fd00:1::2) ── lan ── router ── out ── host B (10.2.0.2, fd00:2::2)
 *
 * Frames are injected on the router's lan device as the kernel would hand
 * them over a TAP with offload (tests/unit/device/super-frame.ts).
 */
import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../src/core/context.js';
import { completePartialChecksum } from '../../../src/core/offload.js';
import { Stats } from '../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../src/core/trace.js';
import type { Device, FrameHandler, TxOffload } from '../../../src/device/device.js';
import { VnetGsoType } from '../../../src/device/tap.js';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';
import { Ipv4HeaderView } from '../../../src/l3/ipv4/header.js';
import { parseIpv6Cidr } from '../../../src/l3/ipv6/address.js';
import { TcpFlags, verifyTcpChecksumV4, verifyTcpChecksumV6 } from '../../../src/l4/tcp/header.js';
import { Netfilter } from '../../../src/netfilter/netfilter.js';
import { Host } from '../../../src/node/host.js';
import { Router } from '../../../src/node/router.js';
import { DST4, DST6, MSS, SRC4, SRC6, payloadBytes, superFrame } from '../device/super-frame.js';

interface Sent {
  readonly frame: Uint8Array;
  readonly offload: TxOffload | undefined;
}

/** One end of a pipe between two nodes; frames reach the other end on the next microtask, offload metadata included. */
class PipeEnd implements Device {
  readonly sent: Sent[] = [];
  peer!: PipeEnd;
  receiver: FrameHandler | undefined;
  readonly rxChecksumValid = true;
  readonly tsoMaxSize: number;
  readonly checksumOffload: boolean;
  constructor(
    readonly name: string,
    offload: boolean,
    readonly mtu = 1500,
  ) {
    this.tsoMaxSize = offload ? 65_535 : 0;
    this.checksumOffload = offload;
  }
  setReceiver(onFrame: FrameHandler): void {
    this.receiver = onFrame;
  }
  send(frame: Uint8Array, offload?: TxOffload): void {
    const copy = frame.slice();
    const meta = offload && { ...offload };
    this.sent.push({ frame: copy, offload: meta });
    queueMicrotask(() => this.peer.receiver?.(copy, meta));
  }
  flush(): void {}
  onClose(): void {}
  close(): void {}
}

function pipe(a: string, b: string, options: { offload: boolean; mtu?: number }): [PipeEnd, PipeEnd] {
  const x = new PipeEnd(a, options.offload, options.mtu);
  const y = new PipeEnd(b, true, options.mtu);
  x.peer = y;
  y.peer = x;
  return [x, y];
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

/** superFrame() sends from 02:..:01 to 02:..:02: host A's MAC and the router's lan MAC. */
function rig(options: { outOffload: boolean; outMtu?: number; nat?: boolean }) {
  const ctx = createTestContext(31);
  const own = (): StackContext => {
    const stats = new Stats();
    return { ...ctx, stats, trace: new Tracer(silentLogger, stats) };
  };
  const router = new Router(own());
  const a = new Host(own());
  const b = new Host(own());
  const [lanR, lanA] = pipe('r-lan', 'a-eth0', { offload: true });
  const [outR, outB] = pipe('r-out', 'b-eth0', { offload: options.outOffload, mtu: options.outMtu });
  const v6 = (text: string) => ({ addresses: [parseIpv6Cidr(text)!], dadTransmits: 0 });
  router.addInterface(lanR, { name: 'lan', mac: 0x02_00_00_00_00_02, ipv4: [{ address: parseIpv4('10.1.0.1')!, prefixLength: 24 }], ipv6: v6('fd00:1::1/64') });
  router.addInterface(outR, { name: 'out', mac: 0x02_00_00_00_00_03, ipv4: [{ address: parseIpv4('10.2.0.1')!, prefixLength: 24 }], ipv6: v6('fd00:2::1/64') });
  a.addInterface(lanA, { name: 'eth0', mac: 0x02_00_00_00_00_01, ipv4: [{ address: SRC4, prefixLength: 24 }], ipv6: v6('fd00:1::2/64') });
  b.addInterface(outB, { name: 'eth0', mac: 0x02_00_00_00_00_04, ipv4: [{ address: DST4, prefixLength: 24 }], ipv6: v6('fd00:2::2/64') });
  if (options.nat) Netfilter.attach(router, { nat: { source: [{ outInterface: 'out' }] } });
  for (const h of [router, a, b]) h.start();
  return { router, a, b, lanR, outR };
}

/**
 * The connection's SYN, as a plain frame: the router learns B's link-layer
 * address (a packet that waits for ARP/NDP would leave as wire segments) and
 * conntrack sees the connection open. Then the record of what was sent is cleared.
 */
async function open(t: ReturnType<typeof rig>, family: 4 | 6): Promise<void> {
  const syn = superFrame(family, new Uint8Array(0), TcpFlags.SYN);
  t.lanR.receiver!(syn.frame, undefined);
  await settle();
  t.outR.sent.length = 0;
}

/** The forwarded IP packets (ARP and NDP left out) the router sent on `end`. */
function forwarded(end: PipeEnd, etherType: number): Sent[] {
  return end.sent.filter((s) => ((s.frame[12]! << 8) | s.frame[13]!) === etherType && (etherType !== 0x86dd || s.frame[14 + 6] === 6));
}

describe('Router: TSO super-frames forwarded whole', () => {
  it('IPv4: leaves whole on a TSO port with its GSO metadata, TTL decremented once', async () => {
    const t = rig({ outOffload: true });
    await open(t, 4);
    const payload = payloadBytes(20 * MSS + 100);
    const { frame, offload } = superFrame(4, payload, TcpFlags.ACK | TcpFlags.PSH);
    t.lanR.receiver!(frame, offload);
    await settle();
    const out = forwarded(t.outR, 0x0800);
    expect(out).toHaveLength(1);
    const sent = out[0]!;
    expect(sent.frame.length).toBe(frame.length);
    expect(sent.offload).toEqual({ gsoType: VnetGsoType.tcpv4, gsoSize: MSS, headerLength: 14 + 20 + 32, checksumStart: 34, checksumOffset: 16 });
    const ip = new Ipv4HeaderView();
    expect(ip.wrap(sent.frame.subarray(14))).toBeUndefined(); // header checksum still holds after the TTL patch
    expect(ip.ttl).toBe(63);
    expect(sent.frame.subarray(66)).toEqual(payload);
    expect(t.router.ctx.stats.get('IpForwDatagrams')).toBe(2); // the SYN, then the super-frame
    // The kernel would finish the checksum: it then verifies.
    const packet = sent.frame.slice(14);
    completePartialChecksum(packet, { checksumStart: 20, checksumOffset: 16 });
    expect(verifyTcpChecksumV4(packet.subarray(20), SRC4, DST4)).toBe(true);
  });

  it('IPv4: cut into checksummed segments where the outgoing port has no offload', async () => {
    const t = rig({ outOffload: false });
    await open(t, 4);
    const payload = payloadBytes(3 * MSS + 7);
    const { frame, offload } = superFrame(4, payload, TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN);
    t.lanR.receiver!(frame, offload);
    await settle();
    const out = forwarded(t.outR, 0x0800);
    expect(out.map((s) => s.frame.length)).toEqual([66 + MSS, 66 + MSS, 66 + MSS, 66 + 7]);
    for (const [i, s] of out.entries()) {
      expect(s.offload).toBeUndefined();
      expect(s.frame[14 + 8]).toBe(63); // TTL
      expect(verifyTcpChecksumV4(s.frame.subarray(34), SRC4, DST4)).toBe(true);
      expect(s.frame[34 + 13]! & TcpFlags.FIN).toBe(i === 3 ? TcpFlags.FIN : 0);
    }
    expect(Uint8Array.from(out.flatMap((s) => [...s.frame.subarray(66)]))).toEqual(payload);
  });

  it('IPv4: segments larger than the next MTU with DF set get fragmentation needed, as a plain packet would', async () => {
    const t = rig({ outOffload: true, outMtu: 1400 });
    await open(t, 4);
    const { frame, offload } = superFrame(4, payloadBytes(10 * MSS), TcpFlags.ACK);
    t.lanR.receiver!(frame, offload);
    await settle();
    expect(forwarded(t.outR, 0x0800)).toHaveLength(0);
    expect(t.router.ctx.stats.get('IpFragFails')).toBe(1);
    expect(t.a.ctx.stats.get('IcmpInDestUnreachs')).toBe(1);
    // A super-frame whose segments fit (MSS 1348 + 52 header bytes = 1400) goes on.
    const fits = superFrame(4, payloadBytes(4 * 1348), TcpFlags.ACK);
    t.lanR.receiver!(fits.frame, { ...fits.offload, gsoSize: 1348 });
    await settle();
    expect(forwarded(t.outR, 0x0800)).toHaveLength(1);
  });

  it('IPv4 with masquerade: the super-frame is NATed whole and its partial checksum seed follows the new address', async () => {
    const t = rig({ outOffload: true, nat: true });
    await open(t, 4);
    const payload = payloadBytes(8 * MSS);
    const { frame, offload } = superFrame(4, payload, TcpFlags.ACK);
    t.lanR.receiver!(frame, offload);
    await settle();
    const out = forwarded(t.outR, 0x0800);
    expect(out).toHaveLength(1);
    const packet = out[0]!.frame.slice(14);
    const ip = new Ipv4HeaderView();
    expect(ip.wrap(packet)).toBeUndefined();
    expect(ip.source).toBe(parseIpv4('10.2.0.1'));
    expect(out[0]!.offload?.gsoType).toBe(VnetGsoType.tcpv4);
    completePartialChecksum(packet, { checksumStart: 20, checksumOffset: 16 });
    expect(verifyTcpChecksumV4(packet.subarray(20), parseIpv4('10.2.0.1')!, DST4)).toBe(true);
    expect(t.router.ctx.stats.get('natSnat')).toBe(1);
  });

  it('IPv4 with masquerade to a port without offload: every segment carries a correct checksum', async () => {
    const t = rig({ outOffload: false, nat: true });
    await open(t, 4);
    const payload = payloadBytes(2 * MSS + 1);
    const { frame, offload } = superFrame(4, payload, TcpFlags.ACK);
    t.lanR.receiver!(frame, offload);
    await settle();
    const out = forwarded(t.outR, 0x0800);
    expect(out).toHaveLength(3);
    for (const s of out) expect(verifyTcpChecksumV4(s.frame.subarray(34), parseIpv4('10.2.0.1')!, DST4)).toBe(true);
  });

  it('IPv6: forwarded whole on a TSO port, cut on a port without, Packet Too Big when the segments do not fit', async () => {
    const whole = rig({ outOffload: true });
    await open(whole, 6);
    // IPv6's header is 20 bytes longer: 1500 - 40 - 32 leaves 1428 payload bytes per segment.
    const mss6 = MSS - 20;
    const payload = payloadBytes(5 * mss6 + 3);
    const sf = superFrame(6, payload, TcpFlags.ACK);
    whole.lanR.receiver!(sf.frame, { ...sf.offload, gsoSize: mss6 });
    await settle();
    const out = forwarded(whole.outR, 0x86dd);
    expect(out).toHaveLength(1);
    expect(out[0]!.offload).toEqual({ gsoType: VnetGsoType.tcpv6, gsoSize: mss6, headerLength: 14 + 40 + 32, checksumStart: 54, checksumOffset: 16 });
    expect(out[0]!.frame[14 + 7]).toBe(63); // hop limit
    expect(whole.router.ctx.stats.get('Ip6OutForwDatagrams')).toBe(2); // the SYN, then the super-frame
    expect(whole.router.ctx.stats.get('Ip6InTooBigErrors')).toBe(0);

    const cut = rig({ outOffload: false });
    await open(cut, 6);
    const again = superFrame(6, payload, TcpFlags.ACK);
    cut.lanR.receiver!(again.frame, { ...again.offload, gsoSize: mss6 });
    await settle();
    const segments = forwarded(cut.outR, 0x86dd);
    expect(segments.map((s) => s.frame.length)).toEqual([...Array(5).fill(86 + mss6), 86 + 3]);
    for (const s of segments) expect(verifyTcpChecksumV6(s.frame.subarray(54), SRC6, DST6)).toBe(true);

    const small = rig({ outOffload: true, outMtu: 1280 });
    await open(small, 6);
    const big = superFrame(6, payloadBytes(3 * mss6), TcpFlags.ACK);
    small.lanR.receiver!(big.frame, { ...big.offload, gsoSize: mss6 });
    await settle();
    expect(forwarded(small.outR, 0x86dd)).toHaveLength(0);
    expect(small.router.ctx.stats.get('Ip6InTooBigErrors')).toBe(1);
  });

  it('into a tunnel (a point-to-point link, no Ethernet): cut into segments that fit its MTU', async () => {
    const t = rig({ outOffload: true });
    const sent: Uint8Array[] = [];
    t.router.addPointToPoint({ name: 'tun0', mtu: 1420, ipv4: [{ address: parseIpv4('10.9.0.1')!, prefixLength: 24 }], transmit: (p) => void sent.push(p.slice()) });
    t.router.routes.add({ destination: { address: DST4, prefixLength: 32 }, value: t.router.pointToPoint[0]! });
    const payload = payloadBytes(3 * 1368 + 5);
    const { frame, offload } = superFrame(4, payload, TcpFlags.ACK);
    t.lanR.receiver!(frame, { ...offload, gsoSize: 1368 });
    await settle();
    expect(sent.map((p) => p.length)).toEqual([52 + 1368, 52 + 1368, 52 + 1368, 52 + 5]);
    for (const p of sent) expect(verifyTcpChecksumV4(p.subarray(20), SRC4, DST4)).toBe(true);
    expect(Uint8Array.from(sent.flatMap((p) => [...p.subarray(52)]))).toEqual(payload);
  });
});
