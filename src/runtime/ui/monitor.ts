/**
 * What the browser view watches: every frame the observed devices
 * (device/observe.ts) receive or send while a browser is connected, in a ring
 * buffer, with the walk each received frame took (core/trace.ts), and
 * per-point packet/byte counts for the link rates.
 *
 * Only runs while attached (a browser is connected): walkWatch.on is false
 * otherwise and nothing reaches it.
 */
import type { WalkSink, WalkStep } from '../../core/trace.js';
import { decodeFrame, type PacketSummary } from './decode.js';

/** Frames kept for the page to select (Wireshark keeps all; a learner's view needs the recent ones). */
export const PACKET_RING_SIZE = 4096;
/** Bytes of a frame kept (a TSO super-frame is 64 KB; the headers and the start of the data are what is read). */
export const PACKET_SNAPLEN = 2048;

export interface CapturedPacket {
  readonly id: number;
  /** ms since the epoch. */
  readonly time: number;
  readonly point: string;
  readonly direction: 'rx' | 'tx';
  readonly length: number;
  readonly bytes: Uint8Array;
  /** The received packet whose handling sent this one. */
  readonly cause: number | undefined;
  readonly summary: PacketSummary;
  walk?: WalkStep[];
}

export interface PointCounters {
  packets: number;
  bytes: number;
}

export class Monitor implements WalkSink {
  private readonly ring: (CapturedPacket | undefined)[] = new Array(PACKET_RING_SIZE);
  private nextId = 1;
  readonly points = new Map<string, PointCounters>();
  /** Called for each captured packet (the server queues it for the clients that want it). */
  onPacket: (p: CapturedPacket) => void = () => {};

  constructor(private readonly now: () => number = Date.now) {}

  frame(point: string, direction: 'rx' | 'tx', bytes: Uint8Array, cause: number | undefined): number {
    const id = this.nextId++;
    const copy = bytes.slice(0, PACKET_SNAPLEN);
    const p: CapturedPacket = { id, time: this.now(), point, direction, length: bytes.length, bytes: copy, cause, summary: decodeFrame(copy).summary };
    this.ring[id % PACKET_RING_SIZE] = p;
    let c = this.points.get(point);
    if (!c) this.points.set(point, (c = { packets: 0, bytes: 0 }));
    c.packets++;
    c.bytes += bytes.length;
    this.onPacket(p);
    return id;
  }

  walked(id: number, steps: WalkStep[]): void {
    const p = this.get(id);
    if (p) p.walk = steps;
  }

  get(id: number): CapturedPacket | undefined {
    const p = this.ring[id % PACKET_RING_SIZE];
    return p?.id === id ? p : undefined;
  }
}
