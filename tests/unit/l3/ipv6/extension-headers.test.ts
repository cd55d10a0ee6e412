/**
 * IPv6 extension-header conformance (issue 11 item 11), on hand-built bytes:
 * thc-ipv6's atk6-implementation6 cases and their edges, sent as raw frames
 * to a tapnet host over an in-memory link. Where tapnet answers with an
 * ICMPv6 error, the whole message is compared byte for byte with one built
 * here independently (type, code, checksum, pointer, the quoted packet).
 *
 * What Linux 6.18 does with the same packets (measured with
 * tests/integration/ext-headers6.py into a namespace; the integration test
 * ext-headers6.test.ts sends them to `tapnet up`) is noted on each case.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { setU16, setU32 } from '../../../../src/core/bytes.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { IPV6_EXTENSION_HEADERS_BYTES_MAX } from '../../../../src/l3/ipv6/extension-chain.js';
import { parseIpv6, type Ipv6Address } from '../../../../src/l3/ipv6/address.js';
import { Host } from '../../../../src/node/host.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';

const TAPNET = parseIpv6('fd77::1')!;
const MAC_A = 0x020000000001;
const MAC_B = 0x02000000000b;
/** B's SLAAC address: fd77::/64 + EUI-64 of 02:00:00:00:00:0b. */
const PEER = parseIpv6('fd77::ff:fe00:b')!;
const HBH = 0;
const DSTOPT = 60;
const FRAG = 44;
const ICMPV6 = 58;
/** thc-ipv6's NXT_IGNORE: an unknown option type whose high bits 00 say "skip" (RFC 8200 §4.2). */
const IGNORE = 0x1f;

/** The Internet checksum over the IPv6 pseudo-header and `message`, computed here without tapnet's code. */
function icmpv6Checksum(source: Ipv6Address, destination: Ipv6Address, message: Uint8Array): number {
  const pseudo = new Uint8Array(40 + message.length + (message.length % 2));
  pseudo.set(source, 0);
  pseudo.set(destination, 16);
  setU32(pseudo, 32, message.length);
  pseudo[39] = ICMPV6;
  pseudo.set(message, 40);
  let sum = 0;
  for (let i = 0; i < pseudo.length; i += 2) sum += (pseudo[i]! << 8) | pseudo[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An echo request from PEER to TAPNET with `size` bytes of data. */
function echoRequest(identifier: number, size = 16): Uint8Array {
  const m = new Uint8Array(8 + size).fill(identifier & 0xff);
  m.set([128, 0, 0, 0]);
  setU16(m, 4, identifier);
  setU16(m, 6, 1);
  setU16(m, 2, icmpv6Checksum(PEER, TAPNET, m));
  return m;
}

/** An options header of `length` bytes as thc-ipv6 builds it: option 0x1f (length 0), then Pad1 to the end. */
function thcHeader(nextHeader: number, length = 8): number[] {
  const h = new Array<number>(length).fill(0);
  h[0] = nextHeader;
  h[1] = length / 8 - 1;
  h[2] = IGNORE;
  return h;
}

/** An options header holding `options` then Pad1s up to `length`. */
function optionsHeader(nextHeader: number, options: number[], length = 8): number[] {
  const h = new Array<number>(length).fill(0);
  h[0] = nextHeader;
  h[1] = length / 8 - 1;
  h.splice(2, options.length, ...options);
  return h.slice(0, length);
}

function fragmentHeader(nextHeader: number, offset: number, more: boolean, identification: number): number[] {
  return [nextHeader, 0, (offset >> 8) & 0xff, (offset & 0xf8) | (more ? 1 : 0), identification >>> 24, (identification >> 16) & 0xff, (identification >> 8) & 0xff, identification & 0xff];
}

/** An IPv6 packet from PEER to TAPNET: `firstHeader` names the first of `rest`. */
function ipv6(firstHeader: number, rest: ArrayLike<number>, hopLimit = 64): Uint8Array {
  const p = new Uint8Array(40 + rest.length);
  p[0] = 0x60;
  setU16(p, 4, rest.length);
  p[6] = firstHeader;
  p[7] = hopLimit;
  p.set(PEER, 8);
  p.set(TAPNET, 24);
  p.set(rest, 40);
  return p;
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `count` thc Destination Options headers, the last naming ICMPv6. */
function dstoptChain(count: number): number[] {
  const chain: number[] = [];
  for (let i = 0; i < count; i++) chain.push(...thcHeader(i === count - 1 ? ICMPV6 : DSTOPT));
  return chain;
}

/** The Parameter Problem tapnet must send about `invoking`, built field by field (RFC 4443 §3.4, §2.4 (c)). */
function parameterProblem(code: number, pointer: number, invoking: Uint8Array): Uint8Array {
  const quoted = invoking.subarray(0, Math.min(invoking.length, 1280 - 40 - 8)); // the error fits the minimum MTU
  const m = new Uint8Array(8 + quoted.length);
  m[0] = 4; // Parameter Problem
  m[1] = code;
  setU32(m, 4, pointer);
  m.set(quoted, 8);
  setU16(m, 2, icmpv6Checksum(TAPNET, PEER, m));
  return m;
}

/** tapnet (A) and a SLAAC host (B) on one link; B's device also sends raw frames and B's ICMPv6 is captured. */
async function setup() {
  const ctx = createTestContext(7);
  const [da, db] = createLinkPair(ctx, { mtu: 1500 });
  const a = new Host(ctx);
  const bCtx = { ...createTestContext(8), clock: ctx.clock, timers: ctx.timers };
  const b = new Host(bCtx);
  a.addInterface(da, { name: 'a0', mac: MAC_A, ipv6: { addresses: [{ address: TAPNET, prefixLength: 64 }], router: { dnsServers: [TAPNET] } } });
  b.addInterface(db, { name: 'b0', mac: MAC_B, ipv6: { acceptRouterAdvertisements: true } });
  a.start();
  b.start();
  const advance = (ms: number): void => ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + ms);
  advance(3000);
  // One ping each way resolves both neighbour entries; then B's ICMPv6 is replaced by a recorder.
  const ping = b.ipv6.ping(TAPNET, { count: 1 });
  for (let i = 0; i < 100; i++) {
    advance(1);
    await Promise.resolve();
  }
  await ping;
  const answers: Uint8Array[] = [];
  b.ipv6In.register(IpProtocol.ICMPv6, (d) => {
    answers.push(d.payload.slice());
    return 'delivered';
  });
  const ethernet = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x0b, 0x86, 0xdd);
  /** Sends IPv6 packets from B's wire end, lets A answer, and returns what B received (errors and replies). */
  const send = (...packets: Uint8Array[]): Uint8Array[] => {
    answers.length = 0;
    for (const p of packets) db.send(concat(ethernet, p));
    advance(10);
    return answers.slice();
  };
  const counter = (name: Parameters<typeof ctx.stats.get>[0]): number => a.ctx.stats.get(name);
  return { send, counter };
}

/** The echo replies among `answers`, as their identifiers. */
const echoReplies = (answers: Uint8Array[]): number[] => answers.filter((m) => m[0] === 129).map((m) => (m[4]! << 8) | m[5]!);

/** Sends `packet` as fragments of `size` bytes (thc-ipv6 uses 1432 for a 1500-byte link). */
function fragments(firstHeader: number, fragmentable: Uint8Array, identification: number, size = 1432): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < fragmentable.length; at += size) {
    const piece = fragmentable.subarray(at, at + size);
    out.push(ipv6(FRAG, concat(fragmentHeader(firstHeader, at, at + size < fragmentable.length, identification), piece)));
  }
  return out;
}

describe('IPv6 extension headers, as Linux treats them', () => {
  // Linux: echo reply. The limit is on bytes (IPV6_EXTENSION_HEADERS_BYTES_MAX), not on the count of headers.
  it('answers 128 Destination Options headers in one packet', async () => {
    const { send, counter } = await setup();
    expect(echoReplies(send(ipv6(DSTOPT, concat(dstoptChain(128), echoRequest(0x101)))))).toEqual([0x101]);
    expect(counter('Ip6InHdrErrors')).toBe(0);
  });

  // Linux: echo reply. 16000 bytes of headers in 12 fragments; the first fragment ends at a header boundary,
  // so nothing in it says where ICMPv6 starts, and Linux reassembles it (see firstFragmentChain).
  it('answers 2000 Destination Options headers in fragments, as thc-ipv6 sends them', async () => {
    const { send, counter } = await setup();
    const answers = send(...fragments(DSTOPT, concat(dstoptChain(2000), echoRequest(0x103, 150)), 0x103));
    expect(echoReplies(answers)).toEqual([0x103]);
    expect(counter('Ip6ReasmOKs')).toBe(1);
  });

  // Linux 6.18: 4000 headers (32000 bytes) answered, 4090 (32720) discarded. tapnet: 32 KiB, then silence.
  it('drops a chain past 32 KiB silently, counted as ip6InExtHeadersTooLong', async () => {
    const { send, counter } = await setup();
    const headers = IPV6_EXTENSION_HEADERS_BYTES_MAX / 8;
    expect(echoReplies(send(...fragments(DSTOPT, concat(dstoptChain(headers), echoRequest(0x120)), 0x120)))).toEqual([0x120]);
    expect(send(...fragments(DSTOPT, concat(dstoptChain(headers + 1), echoRequest(0x121)), 0x121))).toEqual([]);
    expect(counter('ip6InExtHeadersTooLong')).toBe(1);
    expect(counter('Ip6InHdrErrors')).toBe(1);
  });

  // Linux: Parameter Problem code 3, pointer 0 (its first fragment shows ICMPv6 starting past its end).
  it('thc "2kb size" options headers in fragments: Parameter Problem code 3 for the first fragment', async () => {
    const { send, counter } = await setup();
    for (const first of [HBH, DSTOPT]) {
      const pieces = fragments(first, concat(thcHeader(ICMPV6, 2048), echoRequest(0x104, 150)), 0x104 + first);
      expect(send(...pieces)).toEqual([parameterProblem(3, 0, pieces[0]!)]);
    }
    expect(counter('Ip6InHdrErrors')).toBe(2);
    expect(counter('Ip6ReasmReqds')).toBe(2); // only the later fragments reach reassembly, and wait there
  });

  // Linux: Parameter Problem code 1 pointing at the Next Header octet that names Hop-by-Hop (RFC 8200 §4.1).
  it('Hop-by-Hop anywhere but first: Parameter Problem code 1 at the Next Header that names it', async () => {
    const { send, counter } = await setup();
    const afterDst = ipv6(DSTOPT, concat(thcHeader(HBH), thcHeader(ICMPV6), echoRequest(0x10b)));
    expect(send(afterDst)).toEqual([parameterProblem(1, 40, afterDst)]);
    const afterAtomic = ipv6(FRAG, concat(fragmentHeader(HBH, 0, false, 0x10c), thcHeader(ICMPV6), echoRequest(0x10c)));
    expect(send(afterAtomic)).toEqual([parameterProblem(1, 40, afterAtomic)]);
    const twice = ipv6(HBH, concat(thcHeader(HBH), thcHeader(ICMPV6), echoRequest(0x10d)));
    expect(send(twice)).toEqual([parameterProblem(1, 40, twice)]);
    // Behind two Destination Options headers: the pointer names the second one's Next Header octet.
    const deeper = ipv6(DSTOPT, concat(thcHeader(DSTOPT), thcHeader(HBH), thcHeader(ICMPV6), echoRequest(0x10e)));
    expect(send(deeper)).toEqual([parameterProblem(1, 48, deeper)]);
    expect(counter('Ip6InUnknownProtos')).toBe(4);
  });

  // thc-ipv6 "fragmentation hop-by-hop source-route": Hop-by-Hop first in the fragmentable part. Reassembly puts
  // it right after the fixed header, but on the wire it followed a Fragment header. Linux: code 1, pointer 6
  // (the Next Header octet naming it in the reassembled packet), quoting the reassembled packet.
  it('Hop-by-Hop behind a Fragment header is not first, even after reassembly: code 1 at 6', async () => {
    const { send, counter } = await setup();
    const fragmentable = concat(thcHeader(ICMPV6), echoRequest(0x121, 600));
    const reassembled = ipv6(HBH, fragmentable);
    expect(send(...fragments(HBH, fragmentable, 0x121, 304))).toEqual([parameterProblem(1, 6, reassembled)]);
    expect(counter('Ip6ReasmOKs')).toBe(1);
    expect(counter('Ip6InUnknownProtos')).toBe(1);
  });

  // Linux (ipv6_hop_jumbo): code 0 at the Jumbo Payload Length when it is ≤ 65535, else code 0 at the option
  // when Payload Length is not 0; a wrong length or alignment is dropped silently. In Destination Options 0xc2
  // is no Jumbo option, just an unknown type 11: code 2.
  it('a Jumbo Payload option in a packet that is no jumbogram (RFC 2675 §3)', async () => {
    const { send, counter } = await setup();
    const jumbo = (value: number, before: number[] = []): number[] => [...before, 0xc2, 4, value >>> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
    const nonZeroLength = ipv6(HBH, concat(optionsHeader(ICMPV6, jumbo(70_000)), echoRequest(0x10e)));
    expect(send(nonZeroLength)).toEqual([parameterProblem(0, 42, nonZeroLength)]);
    const small = ipv6(HBH, concat(optionsHeader(ICMPV6, jumbo(1000)), echoRequest(0x10f)));
    expect(send(small)).toEqual([parameterProblem(0, 44, small)]);
    const misaligned = ipv6(HBH, concat(optionsHeader(ICMPV6, jumbo(70_000, [0]), 16), echoRequest(0x110)));
    expect(send(misaligned)).toEqual([]);
    const inDstopt = ipv6(DSTOPT, concat(optionsHeader(ICMPV6, jumbo(70_000)), echoRequest(0x111)));
    expect(send(inDstopt)).toEqual([parameterProblem(2, 42, inDstopt)]);
    expect(counter('Ip6InHdrErrors')).toBe(4);
  });

  // Payload Length 0 with Hop-by-Hop first announces a jumbogram (RFC 2675 §3). Linux: a Jumbo Payload Length
  // ≤ 65535 gets code 0 at it (44); one past what arrived is dropped silently. Without a Jumbo option RFC 2675
  // asks for code 0 at Payload Length (4); Linux answers the echo request inside instead, and the RFC decides.
  it('Payload Length 0 with Hop-by-Hop: a jumbogram tapnet refuses, with RFC 2675\'s errors', async () => {
    const { send, counter } = await setup();
    const zeroLength = (hbh: number[], id: number): Uint8Array => {
      const p = ipv6(HBH, concat(hbh, echoRequest(id)));
      setU16(p, 4, 0);
      return p;
    };
    const small = zeroLength(optionsHeader(ICMPV6, [0xc2, 4, 0, 0, 0x03, 0xe8]), 0x122);
    expect(send(small)).toEqual([parameterProblem(0, 44, small)]);
    expect(send(zeroLength(optionsHeader(ICMPV6, [0xc2, 4, 0, 1, 0x11, 0x70]), 0x123))).toEqual([]); // 70000 bytes announced
    const noJumbo = zeroLength(thcHeader(ICMPV6), 0x124);
    expect(send(noJumbo)).toEqual([parameterProblem(0, 4, noJumbo)]);
    expect(counter('Ip6InHdrErrors')).toBe(3);
    expect(counter('Icmp6OutEchoReplies')).toBe(1); // the setup's ping only
  });

  // RFC 8200 §4.2, and Linux: 00 skip, 01 discard, 10 discard + error (even to multicast), 11 discard + error
  // unless multicast. Linux also refuses more than 8 options (max_dst_opts_number), more than 7 bytes of
  // padding in a row, and PadN carrying anything but zeros: all silently.
  it('unknown options by their high bits, and the option limits', async () => {
    const { send, counter } = await setup();
    const withOption = (type: number, id: number): Uint8Array => ipv6(DSTOPT, concat(optionsHeader(ICMPV6, [type, 2, 0, 0]), echoRequest(id)));
    expect(echoReplies(send(withOption(0x1e, 0x112)))).toEqual([0x112]);
    expect(send(withOption(0x5f, 0x113))).toEqual([]);
    const ten = withOption(0x9f, 0x114);
    expect(send(ten)).toEqual([parameterProblem(2, 42, ten)]);
    const eleven = withOption(0xdf, 0x115);
    expect(send(eleven)).toEqual([parameterProblem(2, 42, eleven)]);
    const unknowns = (n: number): number[] => new Array<number>(n).fill(0).flatMap(() => [0x1e, 0]);
    expect(echoReplies(send(ipv6(DSTOPT, concat(optionsHeader(ICMPV6, unknowns(8), 24), echoRequest(0x116)))))).toEqual([0x116]);
    expect(send(ipv6(DSTOPT, concat(optionsHeader(ICMPV6, unknowns(9), 24), echoRequest(0x117))))).toEqual([]);
    expect(send(ipv6(DSTOPT, concat(thcHeader(ICMPV6, 1024), echoRequest(0x118))))).toEqual([]); // 1020 Pad1
    expect(send(ipv6(DSTOPT, concat(optionsHeader(ICMPV6, [1, 4, 0, 0, 0, 1]), echoRequest(0x119))))).toEqual([]); // PadN not zero
    expect(counter('Ip6InHdrErrors')).toBe(6);
  });

  // thc-ipv6 overlap-first-zero / overlap-last-zero: two fragments at offset 0 with the same Identification,
  // the first with M=1, the second with M=0, each naming Hop-by-Hop (thc's NXT_HDR, 0) as the first header of
  // the fragmentable part. The second is an atomic fragment (RFC 6946 §4: processed on its own, whatever is
  // queued); alone, its Hop-by-Hop header follows a Fragment header: Parameter Problem code 1, pointer 40 —
  // what Linux answers. The first waits in reassembly (and would time out); no overlap is ever seen.
  it('overlap-first-zero / overlap-last-zero: the atomic fragment gets Parameter Problem code 1 at 40', async () => {
    const { send, counter } = await setup();
    for (const id of [0x114, 0x115]) {
      const data = concat(thcHeader(ICMPV6), echoRequest(id, 1350)).subarray(0, 8 + 8 + 1350 - 22);
      const first = ipv6(FRAG, concat(fragmentHeader(HBH, 0, true, id), data), 0);
      const atomic = ipv6(FRAG, concat(fragmentHeader(HBH, 0, false, id), data), 0);
      expect(send(first, atomic)).toEqual([parameterProblem(1, 40, atomic)]);
    }
    expect(counter('ip6ReasmOverlaps')).toBe(0);
    expect(counter('Ip6InUnknownProtos')).toBe(2);
  });

  // thc-ipv6 overlap-first-dst / overlap-last-dst: offset 0 (M=1) and offset 8 (M=0) overlap. RFC 5722: the
  // whole datagram is dropped, silently. Linux does the same.
  it('overlap-first-dst / overlap-last-dst: the datagram is dropped silently (RFC 5722)', async () => {
    const { send, counter } = await setup();
    const data = concat(thcHeader(ICMPV6), echoRequest(0x116, 1350)).subarray(0, 8 + 8 + 1350 - 22);
    const head = ipv6(FRAG, concat(fragmentHeader(DSTOPT, 0, true, 0x116), data), 0);
    const later = ipv6(FRAG, concat(fragmentHeader(DSTOPT, 8, false, 0x116), data.subarray(8)), 0);
    expect(send(head, later)).toEqual([]);
    const head2 = ipv6(FRAG, concat(fragmentHeader(DSTOPT, 0, true, 0x117), data), 0);
    const later2 = ipv6(FRAG, concat(fragmentHeader(DSTOPT, 8, false, 0x117), data.subarray(8)), 0);
    expect(send(later2, head2)).toEqual([]);
    expect(counter('ip6ReasmOverlaps')).toBe(2);
  });

  // RFC 6946 §4, and Linux: an atomic fragment is answered even while a first fragment with its
  // Identification is queued.
  it('an atomic fragment is processed alone, even beside a queued fragment of the same Identification', async () => {
    const { send } = await setup();
    const whole = echoRequest(0x119, 200);
    const queued = ipv6(FRAG, concat(fragmentHeader(ICMPV6, 0, true, 0x119), whole.subarray(0, 96)));
    const atomic = ipv6(FRAG, concat(fragmentHeader(ICMPV6, 0, false, 0x119), whole));
    expect(echoReplies(send(queued, atomic))).toEqual([0x119]);
  });
});
