import type { CounterName } from '../../../../src/core/stats.js';
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../../src/core/bytes.js';
import { createTestContext } from '../../../../src/core/context.js';
import { Arp, ipv4MulticastMac, type ArpDependencies } from '../../../../src/l2/arp/arp.js';
import { NudState } from '../../../../src/l2/neighbour/cache.js';
import { ARP_LENGTH, ArpOperation, emitArp, parseArp, type ArpPacket } from '../../../../src/l2/arp/packet.js';
import { EtherType } from '../../../../src/l2/ethernet/ether-type.js';
import { emitEthernet, parseEthernet, type EthernetFrame } from '../../../../src/l2/ethernet/frame.js';
import { BROADCAST_MAC, type MacAddress } from '../../../../src/l2/mac-address.js';
import { ARP_REPLY_FRAME, ARP_REQUEST_FRAME } from '../captures.js';

// We play vb from the capture (02:00:00:00:00:02, 10.0.0.2); the Linux peer is va.
const OUR_MAC = 0x0200_0000_0002;
const OUR_IP = 0x0a00_0002;
const PEER_MAC = 0x0200_0000_0001;
const PEER_IP = 0x0a00_0001;
const OTHER_MAC = 0x0200_0000_0003;
const OTHER_IP = 0x0a00_0003;

function setup(extra: Partial<ArpDependencies> = {}) {
  const ctx = createTestContext();
  const frames: Uint8Array[] = [];
  const unreachable: { packet: Uint8Array; nextHop: number }[] = [];
  /** What the interface does with a resolved packet (l2/interface.ts frames it the same way). */
  const transmit = (mac: MacAddress, packet: Uint8Array): void => {
    const frame = new Uint8Array(14 + packet.length);
    emitEthernet({ destination: mac, source: OUR_MAC, etherType: EtherType.IPv4 }, frame, 0);
    frame.set(packet, 14);
    frames.push(frame);
  };
  const arp = new Arp({
    ctx,
    mac: OUR_MAC,
    addresses: () => [OUR_IP],
    // The device copies; so must the test, because Arp reuses its buffers.
    sendFrame: (frame) => frames.push(frame.slice()),
    transmit,
    onUnreachable: (packet, nextHop) => unreachable.push({ packet, nextHop }),
    ...extra,
  });
  const at = (t: number): void => ctx.timers.advanceTo(ctx.clock, t);
  const stat = (name: CounterName): number => ctx.stats.get(name);
  /** Delivers an ARP packet as if it came in a frame to `to`. */
  const deliver = (fields: Partial<ArpPacket>, to = OUR_MAC): void => {
    const buf = new Uint8Array(ARP_LENGTH);
    emitArp(
      {
        operation: ArpOperation.Request,
        senderHardwareAddress: PEER_MAC,
        senderProtocolAddress: PEER_IP,
        targetHardwareAddress: 0,
        targetProtocolAddress: OUR_IP,
        ...fields,
      },
      buf,
      0,
    );
    arp.receive(buf, to);
  };
  /** The interface's sendIpv4 as far as ARP is concerned: resolve, then send now or leave it waiting. */
  const send = (nextHop: number, packet: Uint8Array): 'sent' | 'queued' | 'dropped' => {
    const mac = arp.resolve(nextHop, packet);
    if (typeof mac !== 'number') return mac;
    transmit(mac, packet);
    return 'sent';
  };
  return { ctx, arp, frames, unreachable, at, stat, deliver, send };
}

function ethernet(frame: Uint8Array): EthernetFrame {
  const result = parseEthernet(frame);
  if (!result.ok) throw new Error('bad frame');
  return result.value;
}

function arpIn(frame: Uint8Array): ArpPacket {
  const eth = ethernet(frame);
  expect(eth.etherType).toBe(EtherType.ARP);
  const result = parseArp(eth.payload);
  if (!result.ok) throw new Error('bad ARP');
  return result.value;
}

const ipPacket = (n: number, length = 20): Uint8Array => {
  const p = new Uint8Array(length).fill(n);
  p[0] = 0x45;
  return p;
};

describe('ARP behaviour', () => {
  it("answers Linux's request for our address with exactly Linux's reply, and learns the sender as STALE", () => {
    const { arp, frames, stat } = setup();
    const request = fromHex(ARP_REQUEST_FRAME);
    arp.receive(request.subarray(14), BROADCAST_MAC);
    expect(frames.map((f) => toHex(f))).toEqual([ARP_REPLY_FRAME]);
    expect(stat('arpInRequests')).toBe(1);
    expect(stat('arpOutReplies')).toBe(1);
    expect(arp.cache.lookup(PEER_IP)).toMatchObject({ state: NudState.Stale, mac: PEER_MAC });
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
  });

  it("resolves a next hop: Linux-shaped broadcast request, then the queued packet leaves on the reply", () => {
    const { arp, frames, stat, deliver, send } = setup();
    expect(send(PEER_IP, ipPacket(1))).toBe('queued');
    expect(frames).toHaveLength(1);
    // Byte for byte what Linux sends (ARP_REQUEST_FRAME), with the roles of va and vb swapped.
    expect(toHex(frames[0]!)).toBe(
      'ffffffffffff' + '020000000002' + '0806' + '0001080006040001' + '020000000002' + '0a000002' + '000000000000' + '0a000001',
    );
    expect(stat('arpOutRequests')).toBe(1);
    deliver({ operation: ArpOperation.Reply, targetHardwareAddress: OUR_MAC }, OUR_MAC); // the peer answers us
    expect(stat('arpInReplies')).toBe(1);
    expect(arp.cache.lookup(PEER_IP)?.state).toBe(NudState.Reachable);
    expect(frames).toHaveLength(2);
    const out = ethernet(frames[1]!);
    expect(out).toMatchObject({ destination: PEER_MAC, source: OUR_MAC, etherType: EtherType.IPv4, vlan: undefined });
    expect(toHex(out.payload)).toBe(toHex(ipPacket(1)));
    // Resolved: the next packet goes straight out.
    expect(send(PEER_IP, ipPacket(2))).toBe('sent');
    expect(ethernet(frames[2]!).payload[1]).toBe(2);
    expect(stat('arpOutRequests')).toBe(1);
  });

  it('a broadcast reply resolves but does not confirm (STALE → DELAY once the queue leaves)', () => {
    const { arp, frames, deliver, send } = setup();
    send(PEER_IP, ipPacket(1));
    deliver({ operation: ArpOperation.Reply, targetHardwareAddress: OUR_MAC }, BROADCAST_MAC);
    expect(frames).toHaveLength(2);
    expect(arp.cache.lookup(PEER_IP)?.state).toBe(NudState.Delay);
  });

  it('never creates an entry from an unsolicited reply or a gratuitous ARP', () => {
    const { arp, frames, stat, deliver } = setup();
    deliver({ operation: ArpOperation.Reply, targetHardwareAddress: OUR_MAC });
    deliver({ targetProtocolAddress: PEER_IP }); // gratuitous request: sender = target
    deliver({ operation: ArpOperation.Reply, targetProtocolAddress: PEER_IP, targetHardwareAddress: BROADCAST_MAC }, BROADCAST_MAC);
    expect(arp.cache.size).toBe(0);
    expect(stat('arpInUnsolicited')).toBe(3);
    expect(frames).toHaveLength(0);
  });

  it('a gratuitous ARP updates an entry we already have (after the lock time)', () => {
    const { arp, at, stat, deliver } = setup();
    deliver({}); // a request for us: entry created, STALE
    at(500);
    deliver({ senderHardwareAddress: OTHER_MAC, targetProtocolAddress: PEER_IP }, BROADCAST_MAC);
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC); // within ARP_LOCKTIME_MS: the first answer sticks
    expect(stat('arpInLocked')).toBe(1);
    at(1_000);
    deliver({ senderHardwareAddress: OTHER_MAC, targetProtocolAddress: PEER_IP }, BROADCAST_MAC);
    expect(arp.lookup(PEER_IP)).toBe(OTHER_MAC);
    expect(arp.cache.lookup(PEER_IP)?.state).toBe(NudState.Stale);
    expect(stat('arpInUnsolicited')).toBe(0);
  });

  it('ignores requests for foreign addresses: no reply, no entry (but merges a known sender, RFC 826)', () => {
    const { arp, frames, at, stat, deliver } = setup();
    deliver({ targetProtocolAddress: OTHER_IP });
    expect(frames).toHaveLength(0);
    expect(arp.cache.size).toBe(0);
    expect(stat('arpInForeign')).toBe(1);
    deliver({}); // now the peer is known
    frames.length = 0;
    at(2_000);
    deliver({ senderHardwareAddress: OTHER_MAC, targetProtocolAddress: OTHER_IP });
    expect(frames).toHaveLength(0);
    expect(arp.lookup(PEER_IP)).toBe(OTHER_MAC);
    expect(stat('arpInForeign')).toBe(2);
  });

  it('drops malformed packets with a counter and a trace line', () => {
    const { ctx, arp, frames, stat } = setup();
    const dropped = vi.spyOn(ctx.trace, 'dropped');
    arp.receive(fromHex(ARP_REQUEST_FRAME).subarray(14, 14 + 20), BROADCAST_MAC);
    const bad = fromHex(ARP_REQUEST_FRAME).subarray(14).slice();
    bad[1] = 6; // hardware type 6
    arp.receive(bad, BROADCAST_MAC);
    expect(stat('arpInErrors')).toBe(2);
    expect(stat('arpInRequests')).toBe(0);
    expect(frames).toHaveLength(0);
    expect(dropped).toHaveBeenCalledTimes(2);
    const [counter, reason, describe] = dropped.mock.calls[0]!;
    expect(counter).toBe('arpInErrors');
    expect(reason).toBe('truncated at +0 (20 bytes < 28)');
    expect(describe?.()).toBe('ARP truncated at +0, length 20');
    expect(dropped.mock.calls[1]![1]).toBe('unsupported at +0 (hardware type 6)');
  });

  it('drops a multicast or zero sender hardware address (RFC 1812 §3.3.2)', () => {
    const { arp, frames, stat, deliver } = setup();
    deliver({ senderHardwareAddress: BROADCAST_MAC });
    deliver({ senderHardwareAddress: 0x0100_5e00_0001 });
    deliver({ senderHardwareAddress: 0 });
    expect(stat('arpInErrors')).toBe(3);
    expect(arp.cache.size).toBe(0);
    expect(frames).toHaveLength(0);
  });

  it('refuses to learn anything that claims our own address', () => {
    const { arp, frames, stat, deliver } = setup();
    deliver({ senderProtocolAddress: OUR_IP, senderHardwareAddress: OTHER_MAC });
    deliver({ senderHardwareAddress: OUR_MAC, targetProtocolAddress: PEER_IP });
    expect(stat('arpInConflict')).toBe(2);
    expect(arp.cache.size).toBe(0);
    expect(frames).toHaveLength(0);
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) for our address without learning', () => {
    const { arp, frames, stat, deliver } = setup();
    deliver({ senderProtocolAddress: 0 }, BROADCAST_MAC);
    expect(arp.cache.size).toBe(0);
    expect(frames).toHaveLength(1);
    const eth = ethernet(frames[0]!);
    expect(eth.destination).toBe(PEER_MAC);
    expect(arpIn(frames[0]!)).toEqual({
      operation: ArpOperation.Reply,
      senderHardwareAddress: OUR_MAC,
      senderProtocolAddress: OUR_IP,
      targetHardwareAddress: PEER_MAC,
      targetProtocolAddress: 0,
    });
    deliver({ senderProtocolAddress: 0, targetProtocolAddress: OTHER_IP }, BROADCAST_MAC);
    expect(frames).toHaveLength(1);
    expect(stat('arpInForeign')).toBe(1);
  });

  it('asks at most once per second; failure drops the queue and reports each packet unreachable', () => {
    const { arp, frames, unreachable, at, stat, send } = setup();
    for (let i = 0; i < 10; i++) {
      at(i * 90);
      send(PEER_IP, ipPacket(i));
    }
    expect(frames).toHaveLength(1);
    at(2_999);
    expect(frames).toHaveLength(3);
    expect(frames.map((f) => arpIn(f).targetProtocolAddress)).toEqual([PEER_IP, PEER_IP, PEER_IP]);
    expect(unreachable).toHaveLength(0);
    at(3_000);
    expect(arp.cache.lookup(PEER_IP)?.state).toBe(NudState.Failed);
    expect(arp.lookup(PEER_IP)).toBeUndefined();
    // the latest three were kept (RFC 1122 §2.3.2.2), and now come back as unreachable
    expect(unreachable.map((u) => [u.nextHop, u.packet[1]])).toEqual([
      [PEER_IP, 7],
      [PEER_IP, 8],
      [PEER_IP, 9],
    ]);
    expect(stat('arpQueueDrops')).toBe(10);
    expect(stat('arpResolveFailed')).toBe(1);
    expect(stat('arpOutRequests')).toBe(3);
  });

  it('announce(): one gratuitous request per address, RFC 5227 §2.3 form', () => {
    const { arp, frames, stat } = setup({ addresses: () => [OUR_IP, OTHER_IP] });
    arp.announce();
    expect(frames.map((f) => toHex(f))).toEqual([
      'ffffffffffff' + '020000000002' + '0806' + '0001080006040001' + '020000000002' + '0a000002' + '000000000000' + '0a000002',
      'ffffffffffff' + '020000000002' + '0806' + '0001080006040001' + '020000000002' + '0a000003' + '000000000000' + '0a000003',
    ]);
    expect(stat('arpOutRequests')).toBe(2);
  });

  it('sends broadcasts and multicasts without ARP', () => {
    const subnetBroadcast = 0x0a00_00ff;
    const { arp, frames, stat, send } = setup({ isBroadcast: (ip) => ip === subnetBroadcast });
    expect(send(0xffff_ffff, ipPacket(1))).toBe('sent');
    expect(send(subnetBroadcast, ipPacket(2))).toBe('sent');
    expect(send(0xe000_00fb, ipPacket(3))).toBe('sent'); // 224.0.0.251 (mDNS)
    expect(frames.map((f) => ethernet(f).destination)).toEqual([BROADCAST_MAC, BROADCAST_MAC, 0x0100_5e00_00fb]);
    expect(ipv4MulticastMac(0xefff_ffff)).toBe(0x0100_5e7f_ffff); // 239.255.255.255: only 23 bits map
    expect(stat('arpOutRequests')).toBe(0);
    expect(arp.cache.size).toBe(0);
    expect(send(0, ipPacket(4))).toBe('dropped');
    expect(stat('arpOutBadNextHop')).toBe(1);
  });

  it('unicast probes go to the known MAC once the entry needs re-checking', () => {
    const { arp, frames, at, deliver, send } = setup();
    deliver({}); // STALE entry for the peer
    frames.length = 0;
    at(10_000);
    send(PEER_IP, ipPacket(1)); // STALE → DELAY, sent at once
    expect(frames).toHaveLength(1);
    at(15_000); // DELAY → PROBE
    expect(frames).toHaveLength(2);
    const probe = frames[1]!;
    expect(ethernet(probe).destination).toBe(PEER_MAC);
    expect(arpIn(probe)).toMatchObject({ operation: ArpOperation.Request, targetHardwareAddress: 0, targetProtocolAddress: PEER_IP });
    deliver({ operation: ArpOperation.Reply, targetHardwareAddress: OUR_MAC }, OUR_MAC);
    expect(arp.cache.lookup(PEER_IP)?.state).toBe(NudState.Reachable);
  });

  it('probe(), lookup() and entries() for `tapnet show arp`', () => {
    const { arp, frames, at, deliver } = setup();
    arp.probe(OTHER_IP);
    expect(frames).toHaveLength(1);
    expect(arp.lookup(OTHER_IP)).toBeUndefined();
    at(400);
    deliver({});
    at(1_500);
    expect(arp.entries()).toEqual([
      { address: PEER_IP, state: 'STALE', mac: PEER_MAC, ageMs: 1_100, queued: 0 },
      { address: OTHER_IP, state: 'INCOMPLETE', mac: undefined, ageMs: 1_500, queued: 0 },
    ]);
  });

  it('tags every ARP frame on a VLAN interface (announcements, requests)', () => {
    const { arp, frames } = setup({ vlan: { pcp: 0, dei: false, vid: 42 } });
    arp.announce();
    arp.probe(PEER_IP);
    expect(frames.map((f) => ethernet(f).vlan?.vid)).toEqual([42, 42]);
    expect(arpIn(frames[0]!).senderProtocolAddress).toBe(OUR_IP);
    expect(arpIn(frames[1]!).targetProtocolAddress).toBe(PEER_IP);
  });

  it('a packet waiting for resolution leaves through the interface once the reply comes', () => {
    const { arp, frames, deliver, send } = setup();
    expect(send(PEER_IP, ipPacket(7))).toBe('queued');
    expect(arp.mustWait(PEER_IP)).toBe(true);
    expect(arp.mustWait(0xffff_ffff)).toBe(false);
    deliver({ operation: ArpOperation.Reply, targetHardwareAddress: OUR_MAC });
    expect(arp.mustWait(PEER_IP)).toBe(false);
    expect(ethernet(frames.at(-1)!)).toMatchObject({ destination: PEER_MAC, etherType: EtherType.IPv4 });
    expect(ethernet(frames.at(-1)!).payload[1]).toBe(7);
  });

  it('ignores martian sender addresses, counted: no entry, no reply, no merge (issue 11 item 3)', () => {
    const subnet = { address: OUR_IP, prefixLength: 24 }; // 10.0.0.2/24
    const { arp, frames, stat, deliver, send } = setup({ subnets: () => [subnet] });
    // We once tried to send to the subnet broadcast through ARP: an INCOMPLETE entry a spoofer would like to fill.
    expect(send(0x0a00_00ff, ipPacket(1))).toBe('queued');
    frames.length = 0;
    const martians = [
      0xe000_0009, // 224.0.0.9: multicast
      0xffff_ffff, // limited broadcast
      0x0a00_00ff, // 10.0.0.255: our subnet's broadcast
      0x0a00_0000, // 10.0.0.0: our subnet's network address
      0x7f00_0001, // 127.0.0.1
      0x0001_0203, // 0.1.2.3
    ];
    for (const spa of martians) {
      deliver({ senderProtocolAddress: spa }); // a request for our address
      deliver({ operation: ArpOperation.Reply, senderProtocolAddress: spa, targetHardwareAddress: OUR_MAC });
    }
    expect(stat('arpInMartians')).toBe(2 * martians.length);
    expect(frames).toEqual([]); // no reply, and the queued packet did not leave for the spoofer's MAC
    expect(arp.cache.lookup(0x0a00_00ff)).toMatchObject({ state: NudState.Incomplete, mac: undefined });
    expect(arp.entries().map((e) => e.address)).toEqual([0x0a00_00ff]);
    // A normal neighbour is still learned and answered.
    deliver({});
    expect(frames.map((f) => arpIn(f).operation)).toEqual([ArpOperation.Reply]);
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
  });

  it('on a /31 (RFC 3021) both addresses are hosts, not martians', () => {
    const { arp, stat, deliver } = setup({ subnets: () => [{ address: OUR_IP, prefixLength: 31 }] });
    deliver({ senderProtocolAddress: 0x0a00_0003, targetProtocolAddress: OUR_IP });
    expect(stat('arpInMartians')).toBe(0);
    expect(arp.lookup(0x0a00_0003)).toBe(PEER_MAC);
  });

  it('never throws on random or mutated ARP payloads, and only ever answers with replies (property)', () => {
    const { arp, frames } = setup();
    const seed = fromHex(ARP_REQUEST_FRAME).subarray(14);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc.array(fc.tuple(fc.nat(27), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }).map((edits) => {
            const b = seed.slice();
            for (const [i, v] of edits) b[i] = v;
            return b;
          }),
        ),
        fc.constantFrom(OUR_MAC, BROADCAST_MAC, OTHER_MAC),
        (bytes, to) => {
          arp.receive(bytes, to);
        },
      ),
      { numRuns: 3000 },
    );
    expect(frames.length).toBeGreaterThan(0); // mutations of a request for us still get answered
    for (const f of frames) expect(arpIn(f).operation).toBe(ArpOperation.Reply);
  });
});
