/**
 * TCP super-frames as the kernel hands them over a TAP with TSO (Ethernet +
 * IPv4/IPv6 + TCP with timestamps + payload, the TCP checksum field holding
 * only the pseudo-header sum, NEEDS_CSUM), and the TxOffload that describes
 * them: shared by the segmentation, switch and router offload tests.
 */
import { expect } from 'vitest';
import { fold, pseudoHeaderSumV4, pseudoHeaderSumV6 } from '../../../src/core/checksum.js';
import type { TxOffload } from '../../../src/device/device.js';
import { VnetGsoType } from '../../../src/device/tap.js';
import { parseIpv4 } from '../../../src/l3/ipv4/address.js';
import { emitIpv4Header, ipv4Record } from '../../../src/l3/ipv4/header.js';
import { parseIpv6 } from '../../../src/l3/ipv6/address.js';
import { emitIpv6Header, ipv6Record } from '../../../src/l3/ipv6/header.js';
import { emitTcpHeader } from '../../../src/l4/tcp/header.js';
import { seq } from '../../../src/l4/tcp/seq.js';

export const SRC4 = parseIpv4('10.1.0.2')!;
export const DST4 = parseIpv4('10.2.0.2')!;
export const SRC6 = parseIpv6('fd00:1::2')!;
export const DST6 = parseIpv6('fd00:2::2')!;
export const MSS = 1448;
/** Sequence number near the wrap, so the segments' numbers wrap modulo 2^32. */
export const SEQ0 = 0xffff_f000;

export function payloadBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

/** Ethernet (02:00:00:00:00:01 → 02:00:00:00:00:02) + IP + TCP (with the timestamp option, as Linux sends) + payload; TCP checksum field holds the pseudo-header sum (NEEDS_CSUM). */
export function superFrame(family: 4 | 6, payload: Uint8Array, flags: number): { frame: Uint8Array; offload: TxOffload } {
  const tcpHeader = { sourcePort: 40000, destinationPort: 5201, sequenceNumber: seq(SEQ0), acknowledgmentNumber: seq(1), flags, window: 502, urgentPointer: 0, options: { timestamps: { value: 1, echoReply: 2 } } };
  const ipLength = family === 4 ? 20 : 40;
  const frame = new Uint8Array(14 + ipLength + 32 + payload.length);
  frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  frame[12] = family === 4 ? 0x08 : 0x86;
  frame[13] = family === 4 ? 0x00 : 0xdd;
  const tcpAt = 14 + ipLength;
  const tcpLength = emitTcpHeader(tcpHeader, frame, tcpAt);
  expect(tcpLength).toBe(32);
  frame.set(payload, tcpAt + tcpLength);
  const l4Length = tcpLength + payload.length;
  let pseudo: number;
  if (family === 4) {
    emitIpv4Header(ipv4Record({ protocol: 6, source: SRC4, destination: DST4, identification: 0xfffe, dontFragment: true, totalLength: 20 + l4Length }), frame, 14);
    pseudo = pseudoHeaderSumV4(SRC4, DST4, 6, l4Length);
  } else {
    emitIpv6Header(ipv6Record({ nextHeader: 6, source: SRC6, destination: DST6, payloadLength: l4Length }), frame, 14);
    pseudo = pseudoHeaderSumV6(SRC6, DST6, 6, l4Length);
  }
  const p = fold(pseudo);
  frame[tcpAt + 16] = p >>> 8;
  frame[tcpAt + 17] = p & 0xff;
  const offload: TxOffload = { gsoType: family === 4 ? VnetGsoType.tcpv4 : VnetGsoType.tcpv6, gsoSize: MSS, headerLength: tcpAt + tcpLength, checksumStart: tcpAt, checksumOffset: 16 };
  return { frame, offload };
}

