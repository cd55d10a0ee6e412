/**
 * IPv6 output with TCP's offload request (src/l3/ipv6/output.ts), the same
 * request IPv4 output takes (l3/offload-request.ts): one big packet handed
 * down whole with the request in IP's terms (offsets from the IPv6 header)
 * when the link takes it whole and each of its segments fits the path MTU;
 * its data left in place for a link that gathers; never fragmented (RFC 8201
 * §5.2: TCP sizes segments to the path). The IPv4 side is
 * ../ipv4/output-offload.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { fold, pseudoHeaderSumV6 } from '../../../../src/core/checksum.js';
import type { TransportOffload } from '../../../../src/core/offload.js';
import { Slices } from '../../../../src/core/slices.js';
import { parseIpv6 } from '../../../../src/l3/ipv6/address.js';
import type { Ipv6Link } from '../../../../src/l3/ipv6/link.js';
import { Ipv6Output } from '../../../../src/l3/ipv6/output.js';
import { Ipv6RouteTable } from '../../../../src/l3/ipv6/route-table.js';

const SOURCE = parseIpv6('fd77::1')!;
const DESTINATION = parseIpv6('fd77::2')!;
const TCP = 6;

interface Sent {
  packet: Uint8Array;
  offload: TransportOffload | undefined;
  /** Bytes that followed as slices (gathered), not in `packet`. */
  gathered: number;
}

function setup(link: Partial<Ipv6Link>) {
  const ctx = createTestContext();
  const sent: Sent[] = [];
  const l: Ipv6Link = {
    name: 'test0',
    mtu: 1500,
    ipv6Addresses: [{ address: SOURCE, prefixLength: 64, state: 'preferred', autoconfigured: false }],
    hasGroup: () => false,
    sendIpv6: (packet, _nextHop, offload) => sent.push({ packet: packet.slice(), offload: offload && { ...offload }, gathered: 0 }),
    ...link,
  };
  const routes = new Ipv6RouteTable<Ipv6Link>();
  routes.add({ destination: { address: parseIpv6('fd77::')!, prefixLength: 64 }, value: l });
  return { out: new Ipv6Output(ctx, routes, () => [l]), sent, ctx };
}

/** A TCP segment (20-byte header) with `dataLength` data bytes and the RFC 8200 §8.1 pseudo-header sum in its checksum field. */
function partialSegment(dataLength: number): Uint8Array {
  const s = new Uint8Array(20 + dataLength);
  s[12] = 0x50;
  for (let i = 20; i < s.length; i++) s[i] = i & 0xff;
  const f = fold(pseudoHeaderSumV6(SOURCE, DESTINATION, TCP, s.length));
  s[16] = f >>> 8;
  s[17] = f & 0xff;
  return s;
}

const offload = { gsoSize: 1428, partialChecksumOffset: 16, transportHeaderLength: 20 };
const send = (out: Ipv6Output, segment: Uint8Array, more?: Slices) =>
  out.send({ destination: DESTINATION, source: SOURCE, nextHeader: TCP, dontFragment: true, offload }, segment, more);

describe('Ipv6Output with offload', () => {
  it('sends a 64 KB segment whole, with TSO and partial-checksum offsets from the IPv6 header', () => {
    const { out, sent } = setup({ tsoMaxSize: 65_535, checksumOffload: true });
    expect(send(out, partialSegment(60_000))).toBe('sent');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.packet.length).toBe(40 + 20 + 60_000);
    expect((sent[0]!.packet[4]! << 8) | sent[0]!.packet[5]!).toBe(60_020); // payload length
    expect(sent[0]!.offload).toEqual({ segmentSize: 1428, headerLength: 60, checksumStart: 40, checksumOffset: 16 });
  });

  it('leaves the data where it is for a link that gathers: the headers go down, the slices follow', () => {
    const { out, sent } = setup({
      tsoMaxSize: 65_535,
      checksumOffload: true,
      sendIpv6WithPayload: (packet, _nextHop, o, payload) => sent.push({ packet: packet.slice(), offload: { ...o }, gathered: payload.length }),
    });
    const data = new Uint8Array(30_000).fill(7);
    const more = new Slices();
    more.add(data, 0, 20_000);
    more.add(data, 20_000, 10_000);
    const header = partialSegment(0);
    header.set(partialSegment(30_000).subarray(16, 18), 16); // the seed covers the data too
    expect(send(out, header, more)).toBe('sent');
    expect(sent).toEqual([{ packet: expect.any(Uint8Array), offload: { segmentSize: 1428, headerLength: 60, checksumStart: 40, checksumOffset: 16 }, gathered: 30_000 }]);
    expect(sent[0]!.packet.length).toBe(60);
    expect((sent[0]!.packet[4]! << 8) | sent[0]!.packet[5]!).toBe(30_020);
  });

  it('copies the data behind the headers for a link that does not gather', () => {
    const { out, sent } = setup({ tsoMaxSize: 65_535, checksumOffload: true });
    const more = new Slices();
    more.add(new Uint8Array(5000).fill(9), 0, 5000);
    expect(send(out, partialSegment(0), more)).toBe('sent');
    expect(sent[0]!.packet.length).toBe(60 + 5000);
    expect(sent[0]!.packet[60 + 4999]).toBe(9);
  });

  it('never fragments: a segment over the MTU towards a link without TSO is needsFragmentation', () => {
    const { out, sent, ctx } = setup({ checksumOffload: true });
    expect(send(out, partialSegment(3000))).toBe('needsFragmentation');
    expect(sent).toHaveLength(0);
    expect(ctx.stats.get('Ip6FragCreates')).toBe(0);
  });

  it('refuses a super-packet whose segments do not fit a learned path MTU, and sends one sized to it', () => {
    const { out, sent } = setup({ tsoMaxSize: 65_535, checksumOffload: true });
    out.pathMtu.update(DESTINATION, 1280, 1500); // a Packet Too Big said 1280 (RFC 8201)
    expect(send(out, partialSegment(20_000))).toBe('needsFragmentation'); // 40 + 20 + 1428 > 1280
    expect(sent).toHaveLength(0);
    const small = { ...offload, gsoSize: 1280 - 60 };
    expect(out.send({ destination: DESTINATION, source: SOURCE, nextHeader: TCP, dontFragment: true, offload: small }, partialSegment(20_000))).toBe('sent');
    expect(sent[0]!.offload?.segmentSize).toBe(1220);
  });
});
