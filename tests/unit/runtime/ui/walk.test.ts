/**
 * The walk is recorded by the stack's own trace points: two hosts in one
 * process, host B's device observed, a connection from A to a port B does not
 * listen on. B's walk of the SYN must name the layers' files and end at the
 * RST it sent; with no sink attached nothing is recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger, walkWatch } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { observe } from '../../../../src/device/observe.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { Host } from '../../../../src/node/host.js';
import { Monitor } from '../../../../src/runtime/ui/monitor.js';

const A = parseIpv4('10.0.0.1')!;
const B = parseIpv4('10.0.0.2')!;

function pair() {
  const ctxA = createTestContext(3);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB, 'b') };
  const [da, db] = createLinkPair(ctxA, {});
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  a.addInterface(da, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: A, prefixLength: 24 }] });
  b.addInterface(observe(db, 'b:b0'), { name: 'b0', mac: 0x020000000002, ipv4: [{ address: B, prefixLength: 24 }] });
  const runFor = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t++) {
      ctxA.timers.advanceTo(ctxA.clock, ctxA.clock.now() + 1);
      await Promise.resolve();
    }
  };
  return { a, b, runFor };
}

afterEach(() => walkWatch.attach(undefined));

describe('walk of a packet', () => {
  it('follows a SYN to a closed port through the layers to "RST sent, no listener"', async () => {
    const p = pair();
    const monitor = new Monitor(() => 0);
    walkWatch.attach(monitor);
    const socket = p.a.tcp.connect({ host: '10.0.0.2', port: 81 });
    socket.on('error', () => {});
    await p.runFor(50);
    const syn = [...Array(64).keys()].map((i) => monitor.get(i + 1)).find((x) => x?.direction === 'rx' && x.summary.destinationPort === 81)!;
    expect(syn.summary.protocols).toEqual(['ethernet', 'ipv4', 'tcp']);
    const steps = syn.walk!;
    const where = steps.map((s) => `${s.kind} ${s.file}`);
    expect(where).toEqual([
      'rx device/link.ts',
      'step l2/interface.ts',
      'step l3/ipv4/input.ts',
      'step l4/tcp/tcp.ts',
      'drop l4/tcp/segment-arrives.ts',
      'event l2/neighbour/cache.ts', // the RST's next hop: its neighbour entry moves (RFC 4861 §7.3.3)
      'tx l2/interface.ts',
      'step l4/tcp/segment-arrives.ts',
    ]);
    expect(steps[4]).toMatchObject({ counter: 'tcpInNoSocket', fn: 'closedSegmentArrives', node: 'b' });
    expect(steps.at(-1)!.text).toBe('RFC 9293 §3.10.7.1 CLOSED: RST sent, no listener on port 81');
    // The RST is in the list, caused by the SYN.
    const rst = monitor.get(steps[6]!.packet!)!;
    expect(rst).toMatchObject({ direction: 'tx', cause: syn.id });
    expect(rst.summary.info).toContain('81 → ');
  });

  it('records nothing while nobody watches', async () => {
    const p = pair();
    const monitor = new Monitor(() => 0);
    const socket = p.a.tcp.connect({ host: '10.0.0.2', port: 81 });
    socket.on('error', () => {});
    await p.runFor(50);
    expect(walkWatch.on).toBe(false);
    expect(monitor.points.size).toBe(0);
  });
});
