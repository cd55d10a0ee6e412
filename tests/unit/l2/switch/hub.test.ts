import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { createLinkPair, type LinkDevice } from '../../../../src/device/link.js';
import { emitEthernet } from '../../../../src/l2/ethernet/frame.js';
import { Hub } from '../../../../src/l2/switch/hub.js';

const mac = (n: number): number => 0x02_00_00_00_00_00 + n;

function rig(ports: number) {
  const ctx = createTestContext(3);
  const hub = new Hub(ctx, { name: 'hub' });
  const stations: LinkDevice[] = [];
  const received: Uint8Array[][] = [];
  for (let i = 0; i < ports; i++) {
    const [station, port] = createLinkPair(ctx, { nameA: `st${i}`, nameB: `p${i}` });
    hub.addPort(port, `p${i}`);
    const inbox: Uint8Array[] = [];
    station.setReceiver((f) => inbox.push(f.slice()));
    stations.push(station);
    received.push(inbox);
  }
  const send = (from: number, destination: number, source: number): Uint8Array => {
    const buf = new Uint8Array(14 + 46);
    emitEthernet({ destination, source, etherType: 0x0800 }, buf, 0);
    buf[20] = from;
    stations[from]!.send(buf);
    for (let i = 0; i < 5; i++) ctx.timers.run();
    return buf;
  };
  return { ctx, hub, stations, received, send, counts: () => received.map((r) => r.length) };
}

describe('Hub (IEEE 802.3 §27.1.1: a repeater retransmits to all other ports)', () => {
  it('repeats every frame, unicast included, to every other port, unchanged, and never learns', () => {
    const r = rig(4);
    const sent = r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 1, 1, 1]);
    expect(r.received[3]![0]).toEqual(sent);
    // A switch would now know mac(1) on p0 and send the answer there only; the hub sends it everywhere.
    r.send(2, mac(1), mac(2));
    r.send(2, mac(1), mac(2));
    expect(r.counts()).toEqual([2, 3, 1, 3]);
    expect(r.ctx.stats.get('hubInFrames')).toBe(3);
    expect(r.ctx.stats.get('hubOutFrames')).toBe(9);
    expect(r.hub.ports.map((p) => [p.counters.rxFrames, p.counters.txFrames])).toEqual([
      [1, 2],
      [0, 3],
      [2, 1],
      [0, 3],
    ]);
  });

  it('repeats frames a station or a switch would refuse (group source, runt)', () => {
    const r = rig(3);
    r.send(1, mac(9), 0x01_00_5e_00_00_01);
    r.stations[0]!.send(new Uint8Array(6));
    for (let i = 0; i < 5; i++) r.ctx.timers.run();
    expect(r.counts()).toEqual([1, 1, 2]);
  });

  it('a port that went down neither sends nor receives (counted, and shown)', () => {
    const r = rig(3);
    r.hub.ports[2]!.up = false;
    r.send(0, mac(2), mac(1));
    expect(r.counts()).toEqual([0, 1, 0]);
    r.hub.receive(r.hub.ports[2]!, new Uint8Array(60));
    expect(r.ctx.stats.get('hubInPortDown')).toBe(1);
    expect(r.hub.show()).toMatch(/p2 .* 1\s+\(down\)/);
  });
});
