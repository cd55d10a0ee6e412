/**
 * A learning Ethernet switch (a "transparent bridge") with 802.1Q VLANs.
 *
 * Read first: IEEE 802.1D-2004 §7.7 (the Forwarding Process) and §7.8 (the
 * Learning Process), IEEE 802.1Q-2018 §8.6 (Forwarding Process: ingress,
 * filtering, egress) and §8.8 (Filtering Database); vlan.ts and mac-table.ts
 * beside this file. Linux's net/bridge/br_input.c (br_handle_frame_finish)
 * makes the same decisions in the same order:
 *
 *   1. the frame must hold an Ethernet header and come from a unicast source
 *      ("group addresses" never send: 802.1Q §8.8.3 learns only individual
 *      addresses, and Linux drops them in br_handle_frame)
 *   2. reserved link-local group addresses 01-80-C2-00-00-0X (STP, LACP,
 *      LLDP, PAUSE) are never relayed (802.1Q §8.6.3 Table 8-1)
 *   3. ingress classification and filtering put it in one VLAN (vlan.ts)
 *   4. learning: source MAC → ingress port, in that VLAN (§8.8.3)
 *   5. forwarding: group destination or unknown unicast → every other port
 *      of the VLAN ("flooding"); known unicast → that port, unless it is the
 *      port the frame came in on: "a frame is never transmitted on the port
 *      on which it was received" (802.1D §7.7.1)
 *   6. egress: tagged or untagged as the out port's VLAN config says (§8.8.2)
 *
 * A switch has ports, no addresses: it never originates a frame and never
 * changes one except for its VLAN tag.
 *
 * Offload: a frame arrives with its virtio-net metadata (device.ts
 * FrameHandler: a TSO super-frame, a partial checksum) and leaves with it,
 * untouched, on a port whose device takes it (a TAP with offload, an
 * in-process wire); on any other port (offload off, an impaired link, a
 * captured link) it leaves as wire frames, cut and checksummed by
 * device/segment.ts, the routine the router shares. Every refused frame is counted with a
 * `sw…` counter (the names are in `SwitchCounter`) and traced; every port has
 * its own frame/octet counters (802.1Q §12.6.1.1.3 "Port counters").
 */
import type { CounterName } from '../../core/stats.js';
import type { StackContext } from '../../core/context.js';
import type { Device, TxOffload } from '../../device/device.js';
import { newTxOffload } from '../../device/offload.js';
import { OFFLOAD_DROP_REASON, Segmenter } from '../../device/segment.js';
import { getU16 } from '../../core/bytes.js';
import { ETHERNET_HEADER_LENGTH, EthernetField, VLAN_TAG_LENGTH, describeEthernetBytes } from '../ethernet/frame.js';
import { formatMac, isMulticastMac, readMac, ZERO_MAC, type MacAddress } from '../mac-address.js';
import { MacTable, describeMacEntry, type MacEntry } from './mac-table.js';
import {
  ACCESS_DEFAULT,
  classifyIngress,
  describePortVlan,
  egressUntagged,
  isMember,
  stripTag,
  validatePortVlanConfig,
  writeTag,
  type PortVlanConfig,
} from './vlan.js';

/** 01-80-C2-00-00-00 .. 0F: the bridge group addresses a C-VLAN bridge must not forward (802.1Q Table 8-1). */
const RESERVED_GROUP_BASE: MacAddress = 0x0180_c200_0000;
const RESERVED_GROUP_COUNT = 16;

export const SwitchCounter = {
  inFrames: 'swInFrames',
  /** Shorter than an Ethernet header. */
  inErrors: 'swInErrors',
  /** Source MAC is a group address or all zeros. */
  inBadSource: 'swInBadSource',
  /** Destination in 01-80-C2-00-00-0X: link-local, not relayed. */
  inReservedGroup: 'swInReservedGroup',
  inTaggedOnAccess: 'swInTaggedOnAccess',
  inDoubleTagged: 'swInDoubleTagged',
  inUntaggedNoNative: 'swInUntaggedNoNative',
  inVlanFiltered: 'swInVlanFiltered',
  /** Destination learnt on the ingress port: nothing to do (802.1D §7.7.1). */
  inFilteredSamePort: 'swInFilteredSamePort',
  /** Arrived on a port that is down (removed or its device closed). */
  inPortDown: 'swInPortDown',
  /** Flooded because the destination is a group address. */
  floodsGroup: 'swFloodsGroup',
  /** Flooded because the destination was not (or no longer) in the MAC table. */
  floodsUnknownUnicast: 'swFloodsUnknownUnicast',
  /** Sent to exactly one port. */
  forwarded: 'swForwarded',
  macLearned: 'swMacLearned',
  macMoves: 'swMacMoves',
  /** A new station was not learnt because the table was full (its frames are flooded). */
  macTableFull: 'swMacTableFull',
} as const;

export interface SwitchPortCounters {
  rxFrames: number;
  rxOctets: number;
  txFrames: number;
  txOctets: number;
  /** Frames refused at this port's ingress (any `swIn…` reason). */
  rxDiscards: number;
  /** Frames from this port that were flooded. */
  rxFlooded: number;
}

export interface SwitchPortOptions {
  readonly name: string;
  /** Default: access port in VLAN 1. */
  readonly vlan?: PortVlanConfig;
}

export class SwitchPort {
  readonly counters: SwitchPortCounters = { rxFrames: 0, rxOctets: 0, txFrames: 0, txOctets: 0, rxDiscards: 0, rxFlooded: 0 };
  up = true;
  constructor(
    readonly index: number,
    readonly name: string,
    readonly device: Device,
    readonly vlan: PortVlanConfig,
  ) {}
}

export interface LearningSwitchOptions {
  readonly name?: string;
  readonly ageingTimeMs?: number;
  readonly macTableMax?: number;
}

/** One line of `tapnet show mac`. */
export interface MacTableRow {
  readonly vid: number;
  readonly mac: string;
  readonly port: string;
  readonly ageSeconds: number;
}

export class LearningSwitch {
  readonly name: string;
  readonly ports: SwitchPort[] = [];
  readonly macTable: MacTable<SwitchPort>;
  /** Egress rewrites (tag added or removed) are built here; devices copy on send. */
  private scratch = new Uint8Array(ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH + 1500);
  /** Cuts super-frames for ports without offload (device/segment.ts). */
  private readonly segmenter = new Segmenter();
  /** The offload metadata of a frame whose tag was added or removed: its offsets move with the tag. */
  private readonly retagged = newTxOffload();

  constructor(
    readonly ctx: StackContext,
    options: LearningSwitchOptions = {},
  ) {
    this.name = options.name ?? 'switch';
    this.macTable = new MacTable<SwitchPort>({ ageingTimeMs: options.ageingTimeMs, maxEntries: options.macTableMax });
    ctx.stats.declare(...Object.values(SwitchCounter));
  }

  /** Connects `device` as a new port; the switch becomes its receiver. */
  addPort(device: Device, options: SwitchPortOptions): SwitchPort {
    const vlan = options.vlan ?? ACCESS_DEFAULT;
    validatePortVlanConfig(vlan);
    if (this.ports.some((p) => p.name === options.name)) throw new Error(`switch ${this.name}: duplicate port name '${options.name}'`);
    const port = new SwitchPort(this.ports.length, options.name, device, vlan);
    this.ports.push(port);
    device.setReceiver((frame, offload) => this.receive(port, frame, offload));
    device.onClose(() => this.portDown(port));
    return port;
  }

  /** Takes a port out of service: nothing is sent to it and its MAC entries go (802.1Q §8.8.3). */
  portDown(port: SwitchPort): void {
    port.up = false;
    this.macTable.flushPort(port);
  }

  /** The Forwarding Process for one frame from `port` (see the steps at the top of this file); `offload` goes with it. */
  receive(port: SwitchPort, frame: Uint8Array, offload?: TxOffload): void {
    const { ctx } = this;
    const counters = port.counters;
    counters.rxFrames++;
    counters.rxOctets += frame.length;
    ctx.stats.inc(SwitchCounter.inFrames);
    if (!port.up) return this.drop(port, SwitchCounter.inPortDown, 'port is down', frame);
    if (frame.length < ETHERNET_HEADER_LENGTH) return this.drop(port, SwitchCounter.inErrors, `${frame.length} bytes < Ethernet header`, frame);

    const source = readMac(frame, EthernetField.SOURCE);
    if (isMulticastMac(source) || source === ZERO_MAC) {
      return this.drop(port, SwitchCounter.inBadSource, `source ${formatMac(source)} is not an individual address`, frame);
    }
    const destination = readMac(frame, EthernetField.DESTINATION);
    if (destination >= RESERVED_GROUP_BASE && destination < RESERVED_GROUP_BASE + RESERVED_GROUP_COUNT) {
      return this.drop(port, SwitchCounter.inReservedGroup, `${formatMac(destination)} is link-local (802.1Q Table 8-1)`, frame);
    }

    const cls = classifyIngress(port.vlan, frame);
    if (!cls.ok) return this.drop(port, cls.counter, cls.reason, frame);
    const vid = cls.vid;

    const now = ctx.clock.now();
    const learnt = this.macTable.learn(vid, source, port, now);
    if (learnt === 'learned') ctx.stats.inc(SwitchCounter.macLearned);
    else if (learnt === 'moved') {
      ctx.stats.inc(SwitchCounter.macMoves);
      ctx.trace.event('switch MAC moved', () => `${this.name}: ${formatMac(source)} vlan ${vid} now on ${port.name}`);
    } else if (learnt === 'full') ctx.stats.inc(SwitchCounter.macTableFull);
    if (ctx.trace.watching) ctx.trace.step(`IEEE 802.1Q §8.8.3 learning: ${formatMac(source)} vlan ${vid} on ${port.name} (${learnt})`);

    if (isMulticastMac(destination)) {
      ctx.trace.step('IEEE 802.1Q §8.8.6: group destination: flood to every other port of the VLAN');
      ctx.stats.inc(SwitchCounter.floodsGroup);
      counters.rxFlooded++;
      return this.flood(port, frame, vid, cls.tagged, cls.pcp, offload);
    }
    const out = this.macTable.lookup(vid, destination, now);
    if (out === undefined || !out.up) {
      ctx.trace.step('IEEE 802.1Q §8.8.6: unknown unicast destination: flood to every other port of the VLAN');
      ctx.stats.inc(SwitchCounter.floodsUnknownUnicast);
      counters.rxFlooded++;
      return this.flood(port, frame, vid, cls.tagged, cls.pcp, offload);
    }
    if (out === port) return this.drop(port, SwitchCounter.inFilteredSamePort, `${formatMac(destination)} is on the ingress port`, frame);
    ctx.stats.inc(SwitchCounter.forwarded);
    if (ctx.trace.watching) ctx.trace.step(`IEEE 802.1Q §8.8.6: ${formatMac(destination)} learnt on ${out.name}: forward there`);
    this.transmit(out, frame, vid, cls.tagged, cls.pcp, offload);
  }

  private flood(ingress: SwitchPort, frame: Uint8Array, vid: number, tagged: boolean, pcp: number, offload: TxOffload | undefined): void {
    const ports = this.ports;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i]!;
      if (p === ingress || !p.up || !isMember(p.vlan, vid)) continue;
      this.transmit(p, frame, vid, tagged, pcp, offload);
    }
  }

  /**
   * Egress (802.1Q §8.8.2): untagged in the port's untagged set, else tagged
   * with `vid`. The frame keeps its offload metadata where the port's device
   * takes it, else leaves as wire frames (device/segment.ts).
   */
  private transmit(out: SwitchPort, frame: Uint8Array, vid: number, tagged: boolean, pcp: number, offload: TxOffload | undefined): void {
    let bytes = frame;
    if (egressUntagged(out.vlan, vid)) {
      if (tagged) bytes = stripTag(frame, this.scratchFor(frame.length));
    } else if (!tagged || (getU16(frame, EthernetField.TCI) & 0x0fff) !== vid) {
      bytes = writeTag(frame, tagged, vid, pcp, this.scratchFor(frame.length + VLAN_TAG_LENGTH));
    }
    if (offload !== undefined && bytes.length !== frame.length) offload = this.moveOffsets(offload, bytes.length - frame.length);
    out.counters.txFrames++;
    out.counters.txOctets += bytes.length;
    const refused = this.segmenter.sendTo(out.device, bytes, offload);
    if (refused) this.ctx.trace.dropped(refused, `${this.name} ${out.name}: ${OFFLOAD_DROP_REASON[refused]}`, () => describeEthernetBytes(bytes));
  }

  /** The metadata of a frame that gained (+4) or lost (-4) an 802.1Q tag: everything after the tag moved. */
  private moveOffsets(offload: TxOffload, delta: number): TxOffload {
    const r = this.retagged;
    r.gsoType = offload.gsoType;
    r.gsoSize = offload.gsoSize;
    r.headerLength = offload.headerLength > 0 ? offload.headerLength + delta : 0;
    r.checksumStart = offload.checksumStart > 0 ? offload.checksumStart + delta : 0;
    r.checksumOffset = offload.checksumOffset;
    return r;
  }

  private scratchFor(length: number): Uint8Array {
    if (this.scratch.length < length) this.scratch = new Uint8Array(length);
    return this.scratch;
  }

  private drop(port: SwitchPort, counter: CounterName, reason: string, frame: Uint8Array): void {
    port.counters.rxDiscards++;
    this.ctx.trace.dropped(counter, `${this.name} ${port.name}: ${reason}`, () => describeEthernetBytes(frame));
  }

  /** The MAC table, live entries only, sorted by VLAN and MAC. */
  macRows(): MacTableRow[] {
    const now = this.ctx.clock.now();
    return this.macTable.entries(now).map((e: MacEntry<SwitchPort>) => ({
      vid: e.vid,
      mac: formatMac(e.mac),
      port: e.port.name,
      ageSeconds: Math.floor((now - e.lastSeen) / 1000),
    }));
  }

  /** Text for `tapnet show mac` / `tapnet show ports`. */
  show(what: 'mac' | 'ports'): string {
    const now = this.ctx.clock.now();
    if (what === 'mac') {
      const entries = this.macTable.entries(now);
      let out = `${this.name}: ${entries.length} entries (max ${this.macTable.maxEntries}, ageing ${this.macTable.ageingTimeMs / 1000} s)\n`;
      for (const e of entries) out += `${describeMacEntry(e, now, (p) => p.name)}\n`;
      return out;
    }
    let out = 'port       vlan                    rx frames  rx bytes     tx frames  tx bytes     rx discards  flooded\n';
    for (const p of this.ports) {
      const c = p.counters;
      out +=
        `${p.name.padEnd(10)} ${describePortVlan(p.vlan).padEnd(23)} ${String(c.rxFrames).padEnd(10)} ${String(c.rxOctets).padEnd(12)} ` +
        `${String(c.txFrames).padEnd(10)} ${String(c.txOctets).padEnd(12)} ${String(c.rxDiscards).padEnd(12)} ${c.rxFlooded}${p.up ? '' : '  (down)'}\n`;
    }
    return out;
  }
}
