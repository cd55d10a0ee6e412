/**
 * A repeater hub: every frame that comes in on one port goes out of every
 * other port, unchanged. No MAC table, no VLANs, no filtering.
 *
 * Read first: IEEE 802.3-2022 Clause 9 (the 10 Mb/s repeater unit) and
 * Clause 27 (the 100BASE-T repeater): a repeater "receives a signal on one
 * port and retransmits it to all other ports" (§27.1.1), frames included that
 * a station would throw away, without looking at any address. That is the
 * whole difference from learning-switch.ts beside this file, and the lesson:
 * on a hub every station's NIC sees every frame, so `tcpdump` on any port
 * sees the whole segment's unicast traffic; a switch shows a port only the
 * frames meant for it, floods, and its own MAC-table overflow (mac-table.ts).
 *
 * Not modelled: collisions and half duplex (the segment here is a set of
 * full-duplex links, so two stations sending at once both get through), and
 * the "jabber" and partitioning a repeater does to a babbling port.
 *
 * Offload: like the switch, a super-frame goes whole to a port whose device
 * takes it and as wire frames (device/segment.ts) to any other.
 */
import type { StackContext } from '../../core/context.js';
import type { Device, TxOffload } from '../../device/device.js';
import { OFFLOAD_DROP_REASON, Segmenter } from '../../device/segment.js';
import { describeEthernetBytes } from '../ethernet/frame.js';

export const HubCounter = {
  /** Every frame that arrived on any port. */
  inFrames: 'hubInFrames',
  /** Arrived on a port that is down (removed or its device closed). */
  inPortDown: 'hubInPortDown',
  /** Copies sent: one per other port that is up, per frame. */
  outFrames: 'hubOutFrames',
} as const;

export interface HubPortCounters {
  rxFrames: number;
  rxOctets: number;
  txFrames: number;
  txOctets: number;
  /** Frames refused at this port (it was down). */
  rxDiscards: number;
}

export class HubPort {
  readonly counters: HubPortCounters = { rxFrames: 0, rxOctets: 0, txFrames: 0, txOctets: 0, rxDiscards: 0 };
  up = true;
  constructor(
    readonly index: number,
    readonly name: string,
    readonly device: Device,
  ) {}
}

export class Hub {
  readonly name: string;
  readonly ports: HubPort[] = [];
  private readonly segmenter = new Segmenter();

  constructor(
    readonly ctx: StackContext,
    options: { readonly name?: string } = {},
  ) {
    this.name = options.name ?? 'hub';
    ctx.stats.declare(...Object.values(HubCounter));
  }

  /** Connects `device` as a new port; the hub becomes its receiver. */
  addPort(device: Device, name: string): HubPort {
    if (this.ports.some((p) => p.name === name)) throw new Error(`hub ${this.name}: duplicate port name '${name}'`);
    const port = new HubPort(this.ports.length, name, device);
    this.ports.push(port);
    device.setReceiver((frame, offload) => this.receive(port, frame, offload));
    device.onClose(() => (port.up = false));
    return port;
  }

  /** Repeats `frame` from `port` out of every other port that is up (802.3 §27.1.1). */
  receive(port: HubPort, frame: Uint8Array, offload?: TxOffload): void {
    const { ctx } = this;
    port.counters.rxFrames++;
    port.counters.rxOctets += frame.length;
    ctx.stats.inc(HubCounter.inFrames);
    if (!port.up) {
      port.counters.rxDiscards++;
      ctx.trace.dropped(HubCounter.inPortDown, `${this.name} ${port.name}: port is down`, () => describeEthernetBytes(frame));
      return;
    }
    for (const out of this.ports) {
      if (out === port || !out.up) continue;
      out.counters.txFrames++;
      out.counters.txOctets += frame.length;
      ctx.stats.inc(HubCounter.outFrames);
      const refused = this.segmenter.sendTo(out.device, frame, offload);
      if (refused) ctx.trace.dropped(refused, `${this.name} ${out.name}: ${OFFLOAD_DROP_REASON[refused]}`, () => describeEthernetBytes(frame));
    }
  }

  /** Text for `tapnet show ports`. */
  show(): string {
    let out = `${this.name}: hub (repeats every frame to every other port, learns nothing)\n`;
    out += 'port       rx frames  rx bytes     tx frames  tx bytes     rx discards\n';
    for (const p of this.ports) {
      const c = p.counters;
      out += `${p.name.padEnd(10)} ${String(c.rxFrames).padEnd(10)} ${String(c.rxOctets).padEnd(12)} ${String(c.txFrames).padEnd(10)} ${String(c.txOctets).padEnd(12)} ${c.rxDiscards}${p.up ? '' : '  (down)'}\n`;
    }
    return out;
  }
}
