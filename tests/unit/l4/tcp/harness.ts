/**
 * Two hosts joined by an in-memory link on one manual clock, for TCP
 * behaviour tests: an event-driven loop that jumps the clock from deadline to
 * deadline and lets Node's stream machinery (nextTick, microtasks) run in
 * between. Nothing sleeps.
 */
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair, type LinkDevice, type LinkOptions } from '../../../../src/device/link.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import type { TcpConfig } from '../../../../src/l4/tcp/config.js';
import type { TcpConnection } from '../../../../src/l4/tcp/connection.js';
import { Host } from '../../../../src/node/host.js';

export const A = '10.0.0.1';
export const B = '10.0.0.2';
export const A_ADDR = parseIpv4(A)!;
export const B_ADDR = parseIpv4(B)!;
/** B's IPv6 address in a pair made with `family: 'ipv6'` (A is fd00::1). */
export const B6 = 'fd00::2';

export interface PairOptions {
  seed?: number;
  mtu?: number;
  impairment?: LinkOptions['impairment'];
  configA?: Partial<TcpConfig>;
  configB?: Partial<TcpConfig>;
  /** 'ipv6': the hosts also get fd00::1/64 and fd00::2/64 (no DAD), for tests that connect over IPv6. */
  family?: 'ipv4' | 'ipv6';
}

export interface Pair {
  a: Host;
  b: Host;
  ctxA: StackContext & { clock: import('../../../../src/core/time.js').ManualClock };
  ctxB: StackContext;
  linkA: LinkDevice;
  linkB: LinkDevice;
  now(): number;
  /** Runs the simulation until `done()` holds; throws after `limitMs` of simulated time or when nothing is left to happen. */
  runUntil(done: () => boolean, limitMs?: number): Promise<void>;
  /** Runs `ms` of simulated time. */
  runFor(ms: number): Promise<void>;
}

const yieldToNode = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function tcpPair(options: PairOptions = {}): Pair {
  const ctxA = createTestContext(options.seed ?? 7);
  const statsB = new Stats();
  const ctxB: StackContext = { ...ctxA, stats: statsB, trace: new Tracer(silentLogger, statsB) };
  const [linkA, linkB] = createLinkPair(ctxA, { mtu: options.mtu, impairment: options.impairment });
  const a = new Host(ctxA);
  const b = new Host(ctxB);
  const ipv6 = (cidr: string) => (options.family === 'ipv6' ? { ipv6: { addresses: [parseIpv6Cidr(cidr)!], dadTransmits: 0 } } : {});
  a.addInterface(linkA, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: A_ADDR, prefixLength: 24 }], ...ipv6('fd00::1/64') });
  b.addInterface(linkB, { name: 'b0', mac: 0x020000000002, ipv4: [{ address: B_ADDR, prefixLength: 24 }], ...ipv6('fd00::2/64') });
  if (options.family === 'ipv6') {
    a.start();
    b.start();
  }
  if (options.configA) a.tcp.layer.configure(options.configA);
  if (options.configB) b.tcp.layer.configure(options.configB);
  const { clock, timers } = ctxA;

  const runUntil = async (done: () => boolean, limitMs = 120_000): Promise<void> => {
    const end = clock.now() + limitMs;
    let idle = 0;
    for (;;) {
      await yieldToNode();
      if (done()) return;
      const next = timers.nextDeadline();
      if (next === undefined) {
        if (++idle > 3) throw new Error(`simulation stalled at t=${clock.now()} ms: nothing left to happen`);
        continue;
      }
      idle = 0;
      if (next > end) throw new Error(`condition not met within ${limitMs} ms of simulated time (t=${clock.now()})`);
      timers.advanceTo(clock, Math.max(next, clock.now()));
    }
  };
  const runFor = async (ms: number): Promise<void> => {
    const end = clock.now() + ms;
    for (;;) {
      await yieldToNode();
      const next = timers.nextDeadline();
      if (next === undefined || next > end) break;
      timers.advanceTo(clock, Math.max(next, clock.now()));
    }
    await yieldToNode();
    timers.advanceTo(clock, end);
    await yieldToNode();
  };
  return { a, b, ctxA, ctxB, linkA, linkB, now: () => clock.now(), runUntil, runFor };
}

/** The one connection a host has (tests open one at a time). */
export function onlyConnection(host: Host): TcpConnection {
  const layer = host.tcp.layer as unknown as { connections: Map<string, TcpConnection> };
  const all = [...layer.connections.values()];
  if (all.length !== 1) throw new Error(`expected one connection, found ${all.length}`);
  return all[0]!;
}

export function connections(host: Host): TcpConnection[] {
  const layer = host.tcp.layer as unknown as { connections: Map<string, TcpConnection> };
  return [...layer.connections.values()];
}

/** Bytes where byte i is i % 251 (the HTTP /bytes/N pattern). */
export function pattern(n: number, offset = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (offset + i) % 251;
  return b;
}

import { EthernetFrameView } from '../../../../src/l2/ethernet/frame.js';
import { Ipv4HeaderView } from '../../../../src/l3/ipv4/header.js';
import { TcpHeaderView, emitTcpHeader, finishTcpChecksumV4, type TcpHeader } from '../../../../src/l4/tcp/header.js';
import { parseTcpOptions, type TcpOptions } from '../../../../src/l4/tcp/options.js';
import { seq as toSeq, type SeqNum } from '../../../../src/l4/tcp/seq.js';

export interface CapturedSegment {
  at: number;
  from: number;
  to: number;
  sourcePort: number;
  destinationPort: number;
  seq: SeqNum;
  ack: SeqNum;
  flags: number;
  window: number;
  options: TcpOptions;
  payloadLength: number;
}

/**
 * Records every TCP segment `device` sends, and lets a test drop frames:
 * `drop(segment) === true` discards it before it reaches the wire.
 */
export function tapSegments(device: LinkDevice, clock: { now(): number }, drop?: (s: CapturedSegment) => boolean): CapturedSegment[] {
  const log: CapturedSegment[] = [];
  const send = device.send.bind(device);
  const eth = new EthernetFrameView();
  const ip = new Ipv4HeaderView();
  const tcp = new TcpHeaderView();
  device.send = (frame: Uint8Array): void => {
    if (!eth.wrap(frame) && eth.etherType === 0x0800 && !ip.wrap(eth.payload) && ip.protocol === 6) {
      const v = tcp;
      if (!v.wrap(ip.payload)) {
        const options = parseTcpOptions(v.optionBytes, 20);
        const s: CapturedSegment = {
          at: clock.now(),
          from: ip.source,
          to: ip.destination,
          sourcePort: v.sourcePort,
          destinationPort: v.destinationPort,
          seq: v.sequenceNumber,
          ack: v.acknowledgmentNumber,
          flags: v.flags,
          window: v.window,
          options: options.ok ? options.value : {},
          payloadLength: v.payload.length,
        };
        log.push(s);
        if (drop?.(s)) return;
      }
    }
    send(frame);
  };
  return log;
}

/** Builds a raw TCP segment (with a valid IPv4 checksum for `from` → `to`). */
export function rawSegment(
  from: number,
  to: number,
  fields: Partial<Omit<TcpHeader, 'sequenceNumber' | 'acknowledgmentNumber'>> & { seq: number; ack?: number; payload?: Uint8Array },
): Uint8Array {
  const header: TcpHeader = {
    sourcePort: fields.sourcePort ?? 40000,
    destinationPort: fields.destinationPort ?? 80,
    sequenceNumber: toSeq(fields.seq),
    acknowledgmentNumber: toSeq(fields.ack ?? 0),
    flags: fields.flags ?? 0,
    window: fields.window ?? 65535,
    urgentPointer: 0,
    options: fields.options ?? {},
  };
  const payload = fields.payload ?? new Uint8Array(0);
  const buf = new Uint8Array(60 + payload.length);
  const n = emitTcpHeader(header, buf, 0);
  buf.set(payload, n);
  const segment = buf.subarray(0, n + payload.length);
  finishTcpChecksumV4(segment, from, to);
  return segment;
}

/** Delivers a raw segment to `host` as if it came from `from` over IPv4. */
export function inject(host: Host, from: number, to: number, segment: Uint8Array): void {
  host.tcp.layer.receive(host.tcp.network('ipv4')!, from, to, segment);
}
