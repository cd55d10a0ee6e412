/**
 * Software segmentation and checksum completion (src/device/segment.ts),
 * with the virtio-net headers the kernel writes for a TSO burst: each
 * segment is parsed back with the codecs (IPv4/IPv6/TCP) and checked field by
 * field, and every refusal reason is hit once.
 */
import { describe, expect, it } from 'vitest';
import { pseudoHeaderSumV4, sumWords, fold } from '../../../src/core/checksum.js';
import { Stats } from '../../../src/core/stats.js';
import type { FrameHandler, TxOffload } from '../../../src/device/device.js';
import { OffloadDrop, Segmenter, TsoField, SUPER_FRAME_MAX } from '../../../src/device/segment.js';
import { TunOffload, VnetGsoType, VnetHdrFlag } from '../../../src/device/tap.js';
import { VnetDevice, emitVnetHeader, parseVnetHeader, type VnetCapableDevice } from '../../../src/device/vnet.js';
import { EthernetField } from '../../../src/l2/ethernet/frame.js';
import { Field as Ipv4Field, parseIpv4Header } from '../../../src/l3/ipv4/header.js';
import { Ipv6Field, parseIpv6Header } from '../../../src/l3/ipv6/header.js';
import { Field as TcpField, TcpFlags, parseTcpHeader, verifyTcpChecksumV4, verifyTcpChecksumV6 } from '../../../src/l4/tcp/header.js';
import { DST4, DST6, MSS, SEQ0, SRC4, SRC6, payloadBytes, superFrame } from './super-frame.js';

function segmentAll(frame: Uint8Array, offload: TxOffload): { segments: Uint8Array[]; drop: string | undefined } {
  const segments: Uint8Array[] = [];
  const drop = new Segmenter().toWire(frame, offload, (s) => segments.push(s.slice()));
  return { segments, drop };
}

describe('TsoField agrees with the codecs', () => {
  it('uses the same offsets as the Ethernet, IPv4, IPv6 and TCP Field tables', () => {
    expect(TsoField.etherType).toBe(EthernetField.ETHER_TYPE);
    expect(TsoField.innerEtherType).toBe(EthernetField.INNER_ETHER_TYPE);
    expect(TsoField.ipv4VersionIhl).toBe(Ipv4Field.VERSION_IHL);
    expect(TsoField.ipv4TotalLength).toBe(Ipv4Field.TOTAL_LENGTH);
    expect(TsoField.ipv4Identification).toBe(Ipv4Field.IDENTIFICATION);
    expect(TsoField.ipv4Protocol).toBe(Ipv4Field.PROTOCOL);
    expect(TsoField.ipv4HeaderChecksum).toBe(Ipv4Field.HEADER_CHECKSUM);
    expect(TsoField.ipv4Source).toBe(Ipv4Field.SOURCE);
    expect(TsoField.ipv6PayloadLength).toBe(Ipv6Field.PAYLOAD_LENGTH);
    expect(TsoField.ipv6NextHeader).toBe(Ipv6Field.NEXT_HEADER);
    expect(TsoField.ipv6Source).toBe(Ipv6Field.SOURCE);
    expect(TsoField.tcpSequenceNumber).toBe(TcpField.SEQUENCE_NUMBER);
    expect(TsoField.tcpDataOffset).toBe(TcpField.DATA_OFFSET);
    expect(TsoField.tcpFlags).toBe(TcpField.FLAGS);
    expect(TsoField.tcpChecksum).toBe(TcpField.CHECKSUM);
  });
});

describe('Segmenter: TCP segmentation', () => {
  const flags = TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN | TcpFlags.CWR;

  it('cuts a TCPv4 super-frame like tcp_gso_segment: lengths, IDs, checksums, sequence numbers, flags', () => {
    const payload = payloadBytes(2 * MSS + 1104);
    const { frame, offload } = superFrame(4, payload, flags);
    const original = frame.slice();
    const { segments, drop } = segmentAll(frame, offload);
    expect(drop).toBeUndefined();
    expect(segments.map((s) => s.length)).toEqual([14 + 52 + MSS, 14 + 52 + MSS, 14 + 52 + 1104]);
    const received: number[] = [];
    segments.forEach((s, i) => {
      const ip = parseIpv4Header(s.subarray(14)); // verifies the header checksum
      expect(ip.ok).toBe(true);
      if (!ip.ok) return;
      expect(ip.value.totalLength).toBe(s.length - 14);
      expect(ip.value.identification).toBe((0xfffe + i) & 0xffff); // one higher per segment, wrapping
      expect(ip.value.dontFragment).toBe(true);
      const tcp = s.subarray(34);
      expect(verifyTcpChecksumV4(tcp, SRC4, DST4)).toBe(true);
      const h = parseTcpHeader(tcp);
      expect(h.ok).toBe(true);
      if (!h.ok) return;
      expect(h.value.sequenceNumber).toBe((SEQ0 + i * MSS) >>> 0);
      const last = i === segments.length - 1;
      expect(h.value.flags & TcpFlags.FIN).toBe(last ? TcpFlags.FIN : 0);
      expect(h.value.flags & TcpFlags.PSH).toBe(last ? TcpFlags.PSH : 0);
      expect(h.value.flags & TcpFlags.CWR).toBe(i === 0 ? TcpFlags.CWR : 0);
      expect(h.value.flags & TcpFlags.ACK).toBe(TcpFlags.ACK);
      expect(h.value.options.timestamps).toEqual({ value: 1, echoReply: 2 });
      received.push(...tcp.subarray(32));
    });
    expect(Uint8Array.from(received)).toEqual(payload);
    expect(frame).toEqual(original); // the input is never changed
  });

  it('cuts a TCPv6 super-frame: payload length and checksum per segment', () => {
    const payload = payloadBytes(3 * MSS);
    const { frame, offload } = superFrame(6, payload, TcpFlags.ACK | TcpFlags.PSH);
    const { segments, drop } = segmentAll(frame, offload);
    expect(drop).toBeUndefined();
    expect(segments).toHaveLength(3);
    const received: number[] = [];
    segments.forEach((s, i) => {
      const ip = parseIpv6Header(s.subarray(14));
      expect(ip.ok && ip.value.payloadLength).toBe(32 + MSS);
      const tcp = s.subarray(54);
      expect(verifyTcpChecksumV6(tcp, SRC6, DST6)).toBe(true);
      const h = parseTcpHeader(tcp);
      expect(h.ok && h.value.sequenceNumber).toBe((SEQ0 + i * MSS) >>> 0);
      expect(h.ok && h.value.flags).toBe(i === 2 ? TcpFlags.ACK | TcpFlags.PSH : TcpFlags.ACK);
      received.push(...tcp.subarray(32));
    });
    expect(Uint8Array.from(received)).toEqual(payload);
  });

  it('cuts an 802.1Q-tagged super-frame behind the tag', () => {
    const { frame: untagged, offload } = superFrame(4, payloadBytes(MSS + 10), TcpFlags.ACK);
    const frame = new Uint8Array(untagged.length + 4);
    frame.set(untagged.subarray(0, 12));
    frame.set([0x81, 0x00, 0x00, 0x0a], 12);
    frame.set(untagged.subarray(12), 16);
    const { segments, drop } = segmentAll(frame, { ...offload, headerLength: offload.headerLength + 4, checksumStart: offload.checksumStart + 4 });
    expect(drop).toBeUndefined();
    expect(segments.map((s) => s.length)).toEqual([18 + 52 + MSS, 18 + 52 + 10]);
    for (const s of segments) expect(verifyTcpChecksumV4(s.subarray(38), SRC4, DST4)).toBe(true);
  });
});

describe('Segmenter: partial checksum completion', () => {
  it('completes a NEEDS_CSUM frame on a copy (RFC 1071 §4), leaving the input as it was', () => {
    const { frame, offload } = superFrame(4, payloadBytes(700), TcpFlags.ACK);
    const partial: TxOffload = { ...offload, gsoType: VnetGsoType.none, gsoSize: 0 };
    const before = frame.slice();
    expect(verifyTcpChecksumV4(frame.subarray(34), SRC4, DST4)).toBe(false);
    const { segments, drop } = segmentAll(frame, partial);
    expect(drop).toBeUndefined();
    expect(segments).toHaveLength(1);
    expect(verifyTcpChecksumV4(segments[0]!.subarray(34), SRC4, DST4)).toBe(true);
    expect(frame).toEqual(before);
  });

  it('passes a plain frame through as it is', () => {
    const frame = Uint8Array.of(1, 2, 3);
    const seen: Uint8Array[] = [];
    expect(new Segmenter().toWire(frame, undefined, (s) => seen.push(s))).toBeUndefined();
    expect(seen[0]).toBe(frame);
  });
});

describe('Segmenter: bad metadata is refused, nothing is emitted', () => {
  const cases: [string, (o: TxOffload, f: Uint8Array) => [TxOffload, Uint8Array], string][] = [
    ['gso_size 0', (o, f) => [{ ...o, gsoSize: 0 }, f], OffloadDrop.gsoSizeZero],
    ['gso_size larger than the payload', (o, f) => [{ ...o, gsoSize: 5000 }, f], OffloadDrop.gsoSizeTooLarge],
    ['unknown gso_type (UDP: never offered)', (o, f) => [{ ...o, gsoType: VnetGsoType.udp }, f], OffloadDrop.gsoTypeUnknown],
    ['unknown gso_type (7)', (o, f) => [{ ...o, gsoType: 7 }, f], OffloadDrop.gsoTypeUnknown],
    ['csum_start past the end', (o, f) => [{ ...o, checksumStart: f.length - 1 }, f], OffloadDrop.checksumOutOfFrame],
    ['csum_offset past the end', (o, f) => [{ ...o, checksumOffset: f.length }, f], OffloadDrop.checksumOutOfFrame],
    ['tcpv6 type on an IPv4 frame', (o, f) => [{ ...o, gsoType: VnetGsoType.tcpv6 }, f], OffloadDrop.gsoBadHeaders],
    ['IPv4 total length that lies', (o, f) => [o, lie(f, 14 + Ipv4Field.TOTAL_LENGTH)], OffloadDrop.gsoBadHeaders],
    // Without a partial checksum, so that the header walk is what refuses them.
    ['TCP header cut short', (o, f) => [{ ...o, checksumStart: 0 }, f.slice(0, 14 + 20 + 10)], OffloadDrop.gsoBadHeaders],
    ['truncated Ethernet header', (o) => [{ ...o, checksumStart: 0 }, new Uint8Array(10)], OffloadDrop.gsoBadHeaders],
  ];
  function lie(f: Uint8Array, at: number): Uint8Array {
    const g = f.slice();
    g[at + 1]! ^= 0x10;
    return g;
  }
  for (const [name, mutate, counter] of cases) {
    it(name, () => {
      const base = superFrame(4, payloadBytes(3000), TcpFlags.ACK);
      const [offload, frame] = mutate(base.offload, base.frame);
      const { segments, drop } = segmentAll(frame, offload);
      expect(drop).toBe(counter);
      expect(segments).toHaveLength(0);
    });
  }

  it('a super-frame larger than 65535 + headers', () => {
    const frame = new Uint8Array(SUPER_FRAME_MAX + 1);
    const { offload } = superFrame(6, payloadBytes(3000), TcpFlags.ACK);
    expect(segmentAll(frame, offload).drop).toBe(OffloadDrop.superFrameTooLarge);
  });
});

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

/** The frame as the kernel writes it into the TAP: 12-byte virtio-net header first. */
function withVnetHeader(flags: number, offload: TxOffload, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + frame.length);
  emitVnetHeader(offload, out, 0);
  out[0] = flags;
  out.set(frame, 12);
  return out;
}

describe('VnetDevice: received virtio-net headers are checked before the stack sees them', () => {
  const ALL = TunOffload.csum | TunOffload.tso4 | TunOffload.tso6;

  it('hands a good TSO super-frame up with its metadata', () => {
    const { frame, offload } = superFrame(4, payloadBytes(3000), TcpFlags.ACK);
    const bytes = withVnetHeader(VnetHdrFlag.needsCsum, offload, frame);
    // What tun writes for this burst: NEEDS_CSUM, TCPV4, hdr_len 66, gso_size 1448 (LE), csum 34+16.
    expect([...bytes.subarray(0, 12)]).toEqual([1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0, 0, 0]);
    expect(parseVnetHeader(bytes)!.gsoSize).toBe(MSS);
    const tap = new FakeTap(ALL);
    const stats = new Stats();
    const dev = new VnetDevice(tap, stats);
    const got: TxOffload[] = [];
    dev.setReceiver((f, o) => got.push({ ...o! }));
    tap.receiver!(bytes);
    expect(got).toEqual([offload]);
    expect(stats.get('vnetInGsoFrames')).toBe(1);
  });

  it('drops bad headers under their counters and never calls the receiver', () => {
    const { frame, offload } = superFrame(4, payloadBytes(3000), TcpFlags.ACK);
    const tap = new FakeTap(ALL);
    const stats = new Stats();
    const dev = new VnetDevice(tap, stats);
    let calls = 0;
    dev.setReceiver(() => calls++);
    tap.receiver!(withVnetHeader(VnetHdrFlag.needsCsum, { ...offload, gsoSize: 0 }, frame));
    tap.receiver!(withVnetHeader(VnetHdrFlag.needsCsum, { ...offload, gsoSize: 4000 }, frame));
    tap.receiver!(withVnetHeader(VnetHdrFlag.needsCsum, { ...offload, gsoType: 0x42 }, frame));
    tap.receiver!(withVnetHeader(VnetHdrFlag.needsCsum, { ...offload, checksumStart: 60_000 }, frame));
    expect(calls).toBe(0);
    expect(stats.get(OffloadDrop.gsoSizeZero)).toBe(1);
    expect(stats.get(OffloadDrop.gsoSizeTooLarge)).toBe(1);
    expect(stats.get(OffloadDrop.gsoTypeUnknown)).toBe(1);
    expect(stats.get(OffloadDrop.checksumOutOfFrame)).toBe(1);
  });

  it('drops a GSO frame on a TAP that was not offered TSO, and refuses to send one', () => {
    const { frame, offload } = superFrame(4, payloadBytes(3000), TcpFlags.ACK);
    const tap = new FakeTap(TunOffload.csum);
    const stats = new Stats();
    const dev = new VnetDevice(tap, stats);
    let calls = 0;
    dev.setReceiver(() => calls++);
    tap.receiver!(withVnetHeader(VnetHdrFlag.needsCsum, offload, frame));
    dev.send(frame, offload);
    expect(calls).toBe(0);
    expect(tap.sent).toHaveLength(0);
    expect(stats.get(OffloadDrop.gsoWithoutOffload)).toBe(2);
  });

  it('finishes a partial checksum itself when the kernel refused TUN_F_CSUM', () => {
    const { frame, offload } = superFrame(4, payloadBytes(700), TcpFlags.ACK);
    const tap = new FakeTap(0);
    const dev = new VnetDevice(tap, new Stats());
    dev.send(frame, { ...offload, gsoType: 0, gsoSize: 0 });
    const sent = tap.sent[0]!;
    expect([...sent.subarray(0, 12)]).toEqual(new Array(12).fill(0));
    expect(verifyTcpChecksumV4(sent.subarray(12 + 34), SRC4, DST4)).toBe(true);
    expect(fold(sumWords(frame, 34, frame.length - 34, pseudoHeaderSumV4(SRC4, DST4, 6, frame.length - 34)))).not.toBe(0xffff);
  });
});
