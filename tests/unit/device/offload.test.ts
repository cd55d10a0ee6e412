/**
 * The virtio-net offload translation (src/device/offload.ts): a transport's
 * request in IP terms becomes the frame's virtio-net fields, as far as the
 * device offers them, and the software fallback for the partial checksum
 * (src/core/offload.ts).
 */
import { describe, expect, it } from 'vitest';
import { fold, pseudoHeaderSumV4, verifyChecksum } from '../../../src/core/checksum.js';
import { completePartialChecksum, type TransportOffload } from '../../../src/core/offload.js';
import type { Device } from '../../../src/device/device.js';
import { frameOffload, newTxOffload, segmentationMaxSize } from '../../../src/device/offload.js';
import { VnetGsoType } from '../../../src/device/tap.js';

const SOURCE = 0x0a4d0001;
const DESTINATION = 0x0a4d0002;

/** A 20-byte IPv4 header (contents irrelevant here) and a TCP segment with `dataLength` data bytes, checksum partial. */
function partialPacket(dataLength: number): { packet: Uint8Array; pseudo: number } {
  const packet = new Uint8Array(20 + 20 + dataLength);
  const tcp = packet.subarray(20);
  tcp.set([0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff], 0);
  for (let i = 20; i < tcp.length; i++) tcp[i] = i & 0xff;
  const pseudo = pseudoHeaderSumV4(SOURCE, DESTINATION, 6, tcp.length);
  const f = fold(pseudo);
  tcp[16] = f >>> 8;
  tcp[17] = f & 0xff;
  return { packet, pseudo };
}

function device(caps: { tsoMaxSize?: number; checksumOffload?: boolean }): Device {
  return { name: 'd0', mtu: 1500, setReceiver() {}, send() {}, flush() {}, onClose() {}, close() {}, ...caps };
}

const request: TransportOffload = { segmentSize: 1448, headerLength: 40, checksumStart: 20, checksumOffset: 16 };

describe('completePartialChecksum', () => {
  it('turns a pseudo-header-only TCP checksum into the full one', () => {
    const { packet, pseudo } = partialPacket(5);
    completePartialChecksum(packet, { checksumStart: 20, checksumOffset: 16 });
    const tcp = packet.subarray(20);
    expect(verifyChecksum(tcp, 0, tcp.length, pseudo)).toBe(true);
  });

  it('writes a sum that comes to zero as 0xffff (Linux CSUM_MANGLED_0: zero is "no checksum" to UDP, RFC 768)', () => {
    // An 8-byte "UDP header" whose words sum to 0xffff with the field holding 0: the checksum computes to 0.
    const packet = Uint8Array.of(0xff, 0x00, 0x00, 0xff, 0, 0, 0, 0);
    completePartialChecksum(packet, { checksumStart: 0, checksumOffset: 6 });
    expect([packet[6], packet[7]]).toEqual([0xff, 0xff]);
    expect(verifyChecksum(packet, 0, packet.length)).toBe(true);
  });
});

describe('frameOffload', () => {
  const full = device({ tsoMaxSize: 65_535, checksumOffload: true });

  it('a 60 KB IPv4 segment: TSO (tcpv4) with offsets shifted by the Ethernet header', () => {
    const { packet } = partialPacket(60_000);
    expect(frameOffload(full, packet, request, 'ipv4', 14, newTxOffload())).toEqual({
      gsoType: VnetGsoType.tcpv4,
      gsoSize: 1448,
      headerLength: 54,
      checksumStart: 34,
      checksumOffset: 16,
    });
  });

  it('IPv6 segments are tcpv6', () => {
    const { packet } = partialPacket(60_000);
    expect(frameOffload(full, packet, request, 'ipv6', 14, newTxOffload())?.gsoType).toBe(VnetGsoType.tcpv6);
  });

  it('a packet within the MTU keeps only the partial checksum (one segment is no GSO frame)', () => {
    const { packet } = partialPacket(100);
    expect(frameOffload(full, packet, request, 'ipv4', 14, newTxOffload())).toMatchObject({ gsoType: VnetGsoType.none, gsoSize: 0, checksumStart: 34 });
  });

  it('two segments within the link MTU are still a GSO frame (a path MTU below the link MTU sized them)', () => {
    const { packet } = partialPacket(1000);
    expect(frameOffload(full, packet, { ...request, segmentSize: 500 }, 'ipv6', 14, newTxOffload())).toMatchObject({ gsoType: VnetGsoType.tcpv6, gsoSize: 500 });
  });

  it('a device without checksum offload gets a finished checksum and no offload at all (and is not offered TSO)', () => {
    const plain = device({ tsoMaxSize: 65_535 });
    expect(segmentationMaxSize(plain)).toBe(0);
    const { packet, pseudo } = partialPacket(100);
    expect(frameOffload(plain, packet, request, 'ipv4', 14, newTxOffload())).toBeUndefined();
    const tcp = packet.subarray(20);
    expect(verifyChecksum(tcp, 0, tcp.length, pseudo)).toBe(true);
  });

  it('a complete checksum and nothing to segment needs no offload', () => {
    const { packet } = partialPacket(100);
    expect(frameOffload(full, packet, { ...request, checksumStart: 0, checksumOffset: 0 }, 'ipv4', 14, newTxOffload())).toBeUndefined();
  });
});
