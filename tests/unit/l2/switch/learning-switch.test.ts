import { describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair, type LinkDevice } from '../../../../src/device/link.js';
import { emitEthernet, parseEthernet, type VlanTag } from '../../../../src/l2/ethernet/frame.js';
import { BROADCAST_MAC } from '../../../../src/l2/mac-address.js';
import { LearningSwitch } from '../../../../src/l2/switch/learning-switch.js';
import type { PortVlanConfig } from '../../../../src/l2/switch/vlan.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { Host } from '../../../../src/node/host.js';

const mac = (n: number): number => 0x02_00_00_00_00_00 + n;

/** A switch whose ports lead to raw "stations" (link ends we send from and record at). */
function rig(configs: PortVlanConfig[], options: { macTableMax?: number } = {}) {
  const ctx = createTestContext(3);
  const sw = new LearningSwitch(ctx, { name: 'sw', macTableMax: options.macTableMax });
  const stations: LinkDevice[] = [];
  const received: Uint8Array[][] = [];
  configs.forEach((vlan, i) => {
    const [station, port] = createLinkPair(ctx, { nameA: `st${i}`, nameB: `p${i}` });
    sw.addPort(port, { name: `p${i}`, vlan });
    const inbox: Uint8Array[] = [];
    station.setReceiver((f) => inbox.push(f.slice()));
    stations.push(station);
    received.push(inbox);
  });
  const settle = (): void => {
    for (let i = 0; i < 5; i++) ctx.timers.run();
  };
  const send = (from: number, destination: number, source: number, vlan?: VlanTag, payload = 46): void => {
    const buf = new Uint8Array(18 + payload);
    const n = emitEthernet({ destination, source, vlan, etherType: 0x0800 }, buf, 0);
    stations[from]!.send(buf.subarray(0, n + payload));
    settle();
  };
  const clear = (): void => received.forEach((r) => (r.length = 0));
  const counts = (): number[] => received.map((r) => r.length);
  return { ctx, sw, stations, received, send, clear, counts, settle };
}

const access = (vid: number): PortVlanConfig => ({ mode: 'access', vid });

describe('LearningSwitch forwarding (IEEE 802.1D §7.7-7.8)', () => {
  it('floods unknown unicast to every other port, then forwards to the learnt port only', () => {
    const r = rig([access(1), access(1), access(1), access(1)]);
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 1, 1, 1]);
    expect(r.ctx.stats.get('swFloodsUnknownUnicast')).toBe(1);
    r.clear();
    r.send(2, mac(1), mac(2)); // mac(1) is known on p0 now
    expect(r.counts()).toEqual([1, 0, 0, 0]);
    r.clear();
    r.send(0, mac(2), mac(1)); // and mac(2) on p2
    expect(r.counts()).toEqual([0, 0, 1, 0]);
    expect(r.ctx.stats.get('swForwarded')).toBe(2);
  });

  it('floods broadcast, never back out the ingress port', () => {
    const r = rig([access(1), access(1), access(1)]);
    r.send(1, BROADCAST_MAC, mac(5));
    expect(r.counts()).toEqual([1, 0, 1]);
    expect(r.ctx.stats.get('swFloodsGroup')).toBe(1);
  });

  it('filters a frame whose destination lives on the ingress port (§7.7.1)', () => {
    const r = rig([access(1), access(1)]);
    r.send(0, BROADCAST_MAC, mac(1));
    r.send(0, BROADCAST_MAC, mac(2)); // both stations behind p0 (a hub or another switch)
    r.clear();
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 0]);
    expect(r.ctx.stats.get('swInFilteredSamePort')).toBe(1);
    expect(r.sw.ports[0]!.counters.rxDiscards).toBe(1);
  });

  it('drops group source addresses and link-local reserved destinations (802.1Q Table 8-1)', () => {
    const r = rig([access(1), access(1)]);
    r.send(0, mac(2), 0x01_00_5e_00_00_01);
    r.send(0, 0x01_80_c2_00_00_00, mac(1)); // STP BPDU address
    r.send(0, 0x01_80_c2_00_00_0e, mac(1)); // LLDP
    expect(r.counts()).toEqual([0, 0]);
    expect(r.ctx.stats.get('swInBadSource')).toBe(1);
    expect(r.ctx.stats.get('swInReservedGroup')).toBe(2);
  });

  it('ages a station out after 300 s and floods to it again', () => {
    const r = rig([access(1), access(1), access(1)]);
    r.send(1, BROADCAST_MAC, mac(2));
    r.clear();
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 1, 0]);
    r.clear();
    r.ctx.timers.advanceTo(r.ctx.clock, 300_000);
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 1, 1]);
  });

  it('follows a station that moved to another port', () => {
    const r = rig([access(1), access(1), access(1)]);
    r.send(1, BROADCAST_MAC, mac(2));
    r.send(2, BROADCAST_MAC, mac(2));
    r.clear();
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 0, 1]);
    expect(r.ctx.stats.get('swMacMoves')).toBe(1);
  });

  it('keeps per-port counters and shows the MAC table', () => {
    const r = rig([access(1), access(1)]);
    r.send(0, BROADCAST_MAC, mac(1), undefined, 50);
    const p0 = r.sw.ports[0]!.counters;
    const p1 = r.sw.ports[1]!.counters;
    expect(p0).toMatchObject({ rxFrames: 1, rxOctets: 64, rxFlooded: 1, txFrames: 0 });
    expect(p1).toMatchObject({ rxFrames: 0, txFrames: 1, txOctets: 64 });
    expect(r.sw.show('mac')).toMatch(/vlan 1 +02:00:00:00:00:01 +p0/);
    expect(r.sw.show('ports')).toMatch(/^p0 +access 1 +1 +64/m);
    expect(r.sw.macRows()).toEqual([{ vid: 1, mac: '02:00:00:00:00:01', port: 'p0', ageSeconds: 0 }]);
  });

  it('forgets the stations of a port whose device closed', () => {
    const r = rig([access(1), access(1), access(1)]);
    r.send(1, BROADCAST_MAC, mac(2));
    r.stations[1]!.close();
    r.clear();
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 0, 1]);
  });
});

describe('LearningSwitch VLANs (IEEE 802.1Q)', () => {
  const trunk: PortVlanConfig = { mode: 'trunk', allowed: new Set([10, 20]), native: 1 };

  it('never leaks a frame between VLANs; trunks carry tags, access ports never do', () => {
    const r = rig([access(10), access(10), access(20), trunk]);
    r.send(0, BROADCAST_MAC, mac(1));
    expect(r.counts()).toEqual([0, 1, 0, 1]);
    const onTrunk = parseEthernet(r.received[3]![0]!);
    expect(onTrunk.ok && onTrunk.value.vlan?.vid).toBe(10);
    const onAccess = parseEthernet(r.received[1]![0]!);
    expect(onAccess.ok && onAccess.value.vlan).toBeUndefined();
    r.clear();
    r.send(3, BROADCAST_MAC, mac(9), { pcp: 0, dei: false, vid: 20 });
    expect(r.counts()).toEqual([0, 0, 1, 0]);
    const untagged = parseEthernet(r.received[2]![0]!);
    expect(untagged.ok && untagged.value.vlan).toBeUndefined();
  });

  it('learns per VLAN: the same MAC in two VLANs reaches two ports', () => {
    const r = rig([access(10), access(20), trunk]);
    r.send(0, BROADCAST_MAC, mac(7));
    r.send(1, BROADCAST_MAC, mac(7));
    r.clear();
    r.send(2, mac(7), mac(9), { pcp: 0, dei: false, vid: 20 });
    expect(r.counts()).toEqual([0, 1, 0]);
    r.send(2, mac(7), mac(9), { pcp: 0, dei: false, vid: 10 });
    expect(r.counts()).toEqual([1, 1, 0]);
  });

  it('untagged frames on the trunk belong to the native VLAN and leave it untagged', () => {
    const r = rig([access(1), access(10), trunk]);
    r.send(2, BROADCAST_MAC, mac(3));
    expect(r.counts()).toEqual([1, 0, 0]);
    r.clear();
    r.send(0, BROADCAST_MAC, mac(4));
    expect(r.counts()).toEqual([0, 0, 1]);
    const out = parseEthernet(r.received[2]![0]!);
    expect(out.ok && out.value.vlan).toBeUndefined();
  });

  it('VLAN hopping: a double-tagged frame from the native VLAN is dropped, not stripped into VLAN 20', () => {
    const r = rig([access(1), access(20), trunk]);
    // Attacker on the native VLAN's access port: outer tag VID 1, inner tag VID 20.
    const frame = new Uint8Array(18 + 4 + 46);
    let n = emitEthernet({ destination: BROADCAST_MAC, source: mac(66), vlan: { pcp: 0, dei: false, vid: 1 }, etherType: 0x8100 }, frame, 0);
    frame[n] = 0x00;
    frame[n + 1] = 20;
    frame[n + 2] = 0x08;
    frame[n + 3] = 0x00;
    n += 4;
    r.stations[0]!.send(frame);
    r.stations[2]!.send(frame);
    r.settle();
    expect(r.counts()).toEqual([0, 0, 0]);
    // Both copies (through the native VLAN's access port and through the trunk) are counted as double-tagged.
    expect(r.ctx.stats.get('swInDoubleTagged')).toBe(2);
    expect(r.sw.macRows()).toEqual([]);
  });

  it('refuses tags on access ports and disallowed VIDs on trunks', () => {
    const r = rig([access(10), trunk, access(10)]);
    r.send(0, BROADCAST_MAC, mac(1), { pcp: 0, dei: false, vid: 10 });
    r.send(1, BROADCAST_MAC, mac(2), { pcp: 0, dei: false, vid: 30 });
    expect(r.counts()).toEqual([0, 0, 0]);
    expect(r.ctx.stats.get('swInTaggedOnAccess')).toBe(1);
    expect(r.ctx.stats.get('swInVlanFiltered')).toBe(1);
  });
});

describe('LearningSwitch under a MAC flood (bad input)', () => {
  it('stops learning at the cap, floods new stations, keeps known ones, and hosts still ping', async () => {
    const ctx = createTestContext(5);
    const sw = new LearningSwitch(ctx, { name: 'sw', macTableMax: 64 });
    const hostCtx = (): StackContext => {
      const stats = new Stats();
      return { ...ctx, stats, trace: new Tracer(silentLogger, stats) };
    };
    const a = new Host(hostCtx());
    const b = new Host(hostCtx());
    const [da, pa] = createLinkPair(ctx);
    const [db, pb] = createLinkPair(ctx);
    const [attacker, pc] = createLinkPair(ctx);
    sw.addPort(pa, { name: 'pa' });
    sw.addPort(pb, { name: 'pb' });
    sw.addPort(pc, { name: 'pc' });
    a.addInterface(da, { name: 'a0', mac: mac(0xa), ipv4: [{ address: parseIpv4('10.0.0.1')!, prefixLength: 24 }] });
    b.addInterface(db, { name: 'b0', mac: mac(0xb), ipv4: [{ address: parseIpv4('10.0.0.2')!, prefixLength: 24 }] });
    const sniffed: number[] = [];
    attacker.setReceiver((f) => sniffed.push(f.length));
    const run = async <T>(p: Promise<T>): Promise<T> => {
      let done = false;
      let value!: T;
      void p.then((v) => ((done = true), (value = v)));
      for (let t = 0; t < 5000 && !done; t++) {
        ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
        await Promise.resolve();
      }
      if (!done) throw new Error('did not settle');
      return value;
    };

    expect((await run(a.ping(parseIpv4('10.0.0.2')!, { count: 1 })))[0]!.rttMs).toBeDefined();

    // macof: 10 000 frames from random sources.
    const frame = new Uint8Array(60);
    for (let i = 0; i < 10_000; i++) {
      emitEthernet({ destination: mac(0x100000 + i), source: 0x06_00_00_00_00_00 + ctx.random.u32(), etherType: 0x0800 }, frame, 0);
      attacker.send(frame);
    }
    for (let i = 0; i < 5; i++) ctx.timers.run();
    expect(sw.macTable.size).toBe(64);
    expect(ctx.stats.get('swMacTableFull')).toBeGreaterThan(9_000);

    // Known stations keep their entries (refreshed by traffic): A↔B unicast is not flooded to the attacker.
    sniffed.length = 0;
    const replies = await run(a.ping(parseIpv4('10.0.0.2')!, { count: 3, intervalMs: 10 }));
    expect(replies.every((r) => r.rttMs !== undefined)).toBe(true);
    expect(sniffed).toEqual([]);
  });
});
