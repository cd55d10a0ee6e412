/**
 * IPv4 output with TCP's offload request (src/l3/ipv4/output.ts): one big
 * datagram handed down whole with the request in IP's terms (offsets from the
 * IP header) when the link can take it whole; otherwise the checksum is
 * finished here and fragmentation and DF rules apply as always. What the
 * device makes of the request is tested in device/offload.test.ts and
 * l2/interface.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { fold, pseudoHeaderSumV4, verifyChecksum } from '../../../../src/core/checksum.js';
import type { TransportOffload } from '../../../../src/core/offload.js';
import { Ipv4Output } from '../../../../src/l3/ipv4/output.js';
import type { Ipv4Link } from '../../../../src/l3/ipv4/link.js';
import { RouteTable } from '../../../../src/l3/routing/table.js';

const SOURCE = 0x0a4d0001;
const DESTINATION = 0x0a4d0002;

function setup(link: Partial<Ipv4Link>) {
  const ctx = createTestContext();
  const sent: { packet: Uint8Array; offload: TransportOffload | undefined }[] = [];
  const l: Ipv4Link = {
    name: 'test0',
    mtu: 1500,
    ipv4Addresses: [{ address: SOURCE, prefixLength: 24 }],
    sendIpv4: (packet, _nextHop, offload) => sent.push({ packet: packet.slice(), offload: offload && { ...offload } }),
    ...link,
  };
  const routes = new RouteTable<Ipv4Link>();
  routes.add({ destination: { address: 0x0a4d0000, prefixLength: 24 }, value: l });
  return { out: new Ipv4Output(ctx, routes, () => [l]), sent };
}

/** A TCP segment (20-byte header) with `dataLength` data bytes and the pseudo-header sum in its checksum field. */
function partialSegment(dataLength: number): Uint8Array {
  const s = new Uint8Array(20 + dataLength);
  s[12] = 0x50;
  for (let i = 20; i < s.length; i++) s[i] = i & 0xff;
  const f = fold(pseudoHeaderSumV4(SOURCE, DESTINATION, 6, s.length));
  s[16] = f >>> 8;
  s[17] = f & 0xff;
  return s;
}

const TCP = 6;
const offload = { gsoSize: 1448, partialChecksumOffset: 16, transportHeaderLength: 20 };

describe('Ipv4Output with offload', () => {
  it('sends a 64 KB segment whole, with TSO and partial-checksum offsets from the IP header', () => {
    const { out, sent } = setup({ tsoMaxSize: 65_535, checksumOffload: true });
    const r = out.send({ destination: DESTINATION, source: SOURCE, protocol: TCP, dontFragment: true, offload }, partialSegment(60_000));
    expect(r).toBe('sent');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.packet.length).toBe(60_020 + 20);
    expect(sent[0]!.offload).toEqual({ segmentSize: 1448, headerLength: 40, checksumStart: 20, checksumOffset: 16 });
  });

  it('a small segment goes down with its request; the link decides what to use of it', () => {
    const { out, sent } = setup({ tsoMaxSize: 65_535, checksumOffload: true });
    out.send({ destination: DESTINATION, source: SOURCE, protocol: TCP, dontFragment: true, offload }, partialSegment(100));
    expect(sent[0]!.offload).toMatchObject({ checksumStart: 20, checksumOffset: 16 });
  });

  it('finishes the checksum itself before fragmenting a datagram the link cannot take whole (DF clear)', () => {
    const { out, sent } = setup({ checksumOffload: true });
    const segment = partialSegment(3000);
    expect(out.send({ destination: DESTINATION, source: SOURCE, protocol: TCP, offload }, segment)).toBe('sent');
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.every((s) => s.offload === undefined)).toBe(true);
    const tcp = new Uint8Array(sent.reduce((n, s) => n + s.packet.length - 20, 0));
    let at = 0;
    for (const s of sent) {
      tcp.set(s.packet.subarray(20), at);
      at += s.packet.length - 20;
    }
    expect(verifyChecksum(tcp, 0, tcp.length, pseudoHeaderSumV4(SOURCE, DESTINATION, TCP, tcp.length))).toBe(true);
  });

  it('does not pass a segment over the MTU to a link without TSO: DF makes it needsFragmentation', () => {
    const { out, sent } = setup({ checksumOffload: true });
    const r = out.send({ destination: DESTINATION, source: SOURCE, protocol: TCP, dontFragment: true, offload }, partialSegment(3000));
    expect(r).toBe('needsFragmentation');
    expect(sent).toHaveLength(0);
  });
});
