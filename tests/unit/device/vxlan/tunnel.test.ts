import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { emitVxlan, parseVxlan } from '../../../../src/device/vxlan/header.js';
import { innerFlowHash, VxlanReceiver, VxlanTunnel, type VxlanUnderlay } from '../../../../src/device/vxlan/tunnel.js';

/** An underlay that records what the tunnel sends (header + frame as one datagram) and can refuse. */
class RecordingUnderlay implements VxlanUnderlay {
  readonly sent: { datagram: Uint8Array; remote: string; hash: number }[] = [];
  full = false;
  send(header: Uint8Array, frame: Uint8Array, remote: string, flowHash: number): 'sent' | 'full' {
    if (this.full) return 'full';
    const d = new Uint8Array(header.length + frame.length);
    d.set(header);
    d.set(frame, header.length);
    this.sent.push({ datagram: d, remote, hash: flowHash });
    return 'sent';
  }
  setReceiver(): void {}
  close(): void {}
}

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];

function frame(dst: number[], src: number[], etherType = 0x0806, payload = 28): Uint8Array {
  const f = new Uint8Array(14 + payload);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = etherType >> 8;
  f[13] = etherType & 0xff;
  return f;
}

function datagram(vni: number, inner: Uint8Array): Uint8Array {
  const d = new Uint8Array(8 + inner.length);
  emitVxlan({ vni }, d, 0);
  d.set(inner, 8);
  return d;
}

function setup(remotes = ['192.0.2.2', '192.0.2.3']) {
  const ctx = createTestContext();
  const underlay = new RecordingUnderlay();
  const tunnel = new VxlanTunnel(ctx, { name: 'sw1:p9', vni: 42, remotes, mtu: 1450, underlay });
  const receiver = new VxlanReceiver(ctx);
  receiver.add(tunnel);
  const received: Uint8Array[] = [];
  tunnel.setReceiver((f) => received.push(f.slice()));
  return { ctx, underlay, tunnel, receiver, received };
}

describe('VXLAN tunnel (RFC 7348 §4)', () => {
  it('floods broadcast and unknown unicast to every remote (head-end replication), with the VNI header', () => {
    const { ctx, underlay, tunnel } = setup();
    tunnel.send(frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], MAC_A));
    tunnel.send(frame(MAC_B, MAC_A));
    expect(underlay.sent.map((s) => s.remote)).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.2', '192.0.2.3']);
    const p = parseVxlan(underlay.sent[0]!.datagram);
    expect(p.ok && p.value.vni).toBe(42);
    expect(p.ok && [...p.value.frame.subarray(6, 12)]).toEqual(MAC_A);
    expect(ctx.stats.get('vxlanOutFlooded')).toBe(2);
    expect(ctx.stats.get('vxlanOutDatagrams')).toBe(4);
  });

  it('learns the inner source MAC behind the outer source address and then sends unicast there only', () => {
    const { ctx, underlay, tunnel, receiver, received } = setup();
    receiver.receive(datagram(42, frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], MAC_B)), '192.0.2.3');
    expect(received).toHaveLength(1);
    expect(ctx.stats.get('vxlanFdbLearned')).toBe(1);
    expect(tunnel.fdbRows()).toEqual([{ mac: '02:00:00:00:00:0b', remote: '192.0.2.3', ageSeconds: 0 }]);
    tunnel.send(frame(MAC_B, MAC_A));
    expect(underlay.sent.map((s) => s.remote)).toEqual(['192.0.2.3']);
    // It moves: the next frame from it comes from another VTEP (a learned remote need not be configured).
    receiver.receive(datagram(42, frame(MAC_A, MAC_B)), '198.51.100.7');
    expect(ctx.stats.get('vxlanFdbMoved')).toBe(1);
    tunnel.send(frame(MAC_B, MAC_A));
    expect(underlay.sent.at(-1)!.remote).toBe('198.51.100.7');
    expect(tunnel.showFdb()).toContain('02:00:00:00:00:0b dst 198.51.100.7');
  });

  it('forgets a MAC after the ageing time (Linux: 300 s) and floods again', () => {
    const { ctx, underlay, tunnel, receiver } = setup();
    receiver.receive(datagram(42, frame(MAC_A, MAC_B)), '192.0.2.3');
    ctx.clock.advance(300_000);
    tunnel.send(frame(MAC_B, MAC_A));
    expect(underlay.sent).toHaveLength(2);
    expect(tunnel.fdbRows()).toEqual([]);
  });

  it('caps the FDB: a flood of source MACs is counted, not learned', () => {
    const ctx = createTestContext();
    const tunnel = new VxlanTunnel(ctx, { name: 't', vni: 1, remotes: ['192.0.2.2'], mtu: 1450, underlay: new RecordingUnderlay(), fdbMax: 4 });
    const receiver = new VxlanReceiver(ctx);
    receiver.add(tunnel);
    for (let i = 0; i < 10; i++) receiver.receive(datagram(1, frame(MAC_A, [0x02, 0, 0, 0, 1, i])), '192.0.2.2');
    expect(tunnel.fdbRows()).toHaveLength(4);
    expect(ctx.stats.get('vxlanFdbFull')).toBe(6);
    expect(ctx.stats.get('vxlanInFrames')).toBe(10); // still delivered: the FDB is only for sending
  });

  it('drops a wrong VNI, a clear I flag and truncated datagrams, each with its counter', () => {
    const { ctx, receiver, received } = setup();
    receiver.receive(datagram(43, frame(MAC_A, MAC_B)), '192.0.2.2');
    const noFlag = datagram(42, frame(MAC_A, MAC_B));
    noFlag[0] = 0;
    receiver.receive(noFlag, '192.0.2.2');
    receiver.receive(datagram(42, frame(MAC_A, MAC_B)).subarray(0, 5), '192.0.2.2');
    receiver.receive(datagram(42, frame(MAC_A, MAC_B)).subarray(0, 8 + 10), '192.0.2.2');
    expect(received).toHaveLength(0);
    expect(ctx.stats.get('vxlanInUnknownVni')).toBe(1);
    expect(ctx.stats.get('vxlanInBadFlags')).toBe(1);
    expect(ctx.stats.get('vxlanInTruncated')).toBe(2);
    expect(ctx.stats.get('vxlanInDatagrams')).toBe(4);
  });

  it('drops oversize frames and super-frames, and counts a full send queue', () => {
    const { ctx, underlay, tunnel } = setup(['192.0.2.2']);
    tunnel.send(frame(MAC_B, MAC_A, 0x0800, 1450 + 4 + 1));
    tunnel.send(frame(MAC_B, MAC_A, 0x0800, 100), { gsoType: 1, gsoSize: 1400, headerLength: 54, checksumStart: 34, checksumOffset: 16 });
    expect(ctx.stats.get('vxlanOutOversize')).toBe(2);
    tunnel.send(frame(MAC_B, MAC_A, 0x0800, 1450 + 4)); // exactly mtu + 18: fits
    expect(underlay.sent).toHaveLength(1);
    underlay.full = true;
    tunnel.send(frame(MAC_B, MAC_A));
    expect(ctx.stats.get('vxlanOutQueueFull')).toBe(1);
  });

  it('refuses a second tunnel with the same VNI on one socket', () => {
    const { ctx, receiver } = setup();
    expect(() => receiver.add(new VxlanTunnel(ctx, { name: 'x', vni: 42, remotes: ['192.0.2.9'], mtu: 1450, underlay: new RecordingUnderlay() }))).toThrow(/VNI 42/);
  });
});

describe('inner flow hash (RFC 7348 §5 source port)', () => {
  function tcp4(src: number, dst: number, sport: number, dport: number): Uint8Array {
    const f = frame(MAC_B, MAC_A, 0x0800, 40);
    f[14] = 0x45;
    f[14 + 9] = 6;
    f.set([10, 0, 0, src], 14 + 12);
    f.set([10, 0, 0, dst], 14 + 16);
    f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff], 34);
    return f;
  }

  it('is the same for every packet of a flow and spreads different flows', () => {
    expect(innerFlowHash(tcp4(1, 2, 40000, 80))).toBe(innerFlowHash(tcp4(1, 2, 40000, 80)));
    const a = tcp4(1, 2, 40000, 80);
    a[14 + 4] = 0x12; // another IP identification, TTL: not part of the flow
    a[14 + 8] = 3;
    expect(innerFlowHash(a)).toBe(innerFlowHash(tcp4(1, 2, 40000, 80)));
    const buckets = new Set<number>();
    for (let port = 40000; port < 40064; port++) buckets.add(innerFlowHash(tcp4(1, 2, port, 80)) % 4);
    expect(buckets.size).toBe(4);
  });

  it('never reads past a short frame', () => {
    expect(() => innerFlowHash(new Uint8Array(3))).not.toThrow();
    const f = tcp4(1, 2, 1, 2);
    expect(() => innerFlowHash(f.subarray(0, 30))).not.toThrow();
  });
});
