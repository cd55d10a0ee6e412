/**
 * 802.1Q VLANs on a switch port: which VLAN a frame belongs to when it
 * arrives (ingress classification), and how it must look when it leaves
 * (tagged or untagged).
 *
 * Read first: IEEE 802.1Q-2018 §6.9 (the tag; "priority-tagged" frames carry
 * VID 0), §6.9.1 (acceptable frame types: "Admit Only VLAN-tagged frames",
 * "Admit Only Untagged and Priority-tagged frames", "Admit All frames"),
 * §8.6.1 (ingress: the PVID classifies untagged frames), §8.6.2 (ingress
 * filtering: drop frames of VLANs the port is not a member of), §8.8.2 (the
 * member set and the untagged set decide egress), Table 9-2 (VID 0 and 4095
 * are reserved). Cisco calls the two port kinds "access" and "trunk" and the
 * PVID of a trunk its "native VLAN"; this file uses those words.
 *
 *   port kind  accepts on ingress                   VLAN of the frame     sends on egress
 *   ---------  -----------------------------------  --------------------  ------------------------------
 *   access     untagged, priority-tagged (VID 0)    the port's VLAN       untagged, own VLAN only
 *   trunk      tagged with an allowed VID;          the tag's VID;        tagged with the VID, except the
 *              untagged only if a native VLAN is    the native VLAN for   native VLAN, which goes untagged
 *              set                                  untagged frames
 *
 * Double tags are refused everywhere: a frame whose first tag is followed by
 * a second one (0x8100 or 0x88a8) is the "VLAN hopping" double-tagging
 * attack. A switch that strips the outer (native) tag and forwards the rest
 * out a trunk hands the inner tag to the next switch, which reads it as a
 * real VLAN. tapnet does not do 802.1ad Q-in-Q, so no legitimate frame has
 * two tags; an outer 802.1ad S-tag is refused for the same reason.
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { EtherType } from '../ethernet/ether-type.js';
import { ETHERNET_HEADER_LENGTH, EthernetField, VLAN_TAG_LENGTH } from '../ethernet/frame.js';

/** IEEE 802.1Q §9.6 default PVID: every port starts in VLAN 1. */
export const DEFAULT_VID = 1;
/** Table 9-2: VID 0 means "priority tag only, no VLAN". */
export const PRIORITY_VID = 0;
/** Table 9-2: VID 4095 (0xFFF) is reserved for implementation use and never carried on the wire. */
export const RESERVED_VID = 0x0fff;
export const VID_MIN = 1;
export const VID_MAX = 4094;

export type PortVlanConfig =
  | { readonly mode: 'access'; readonly vid: number }
  | {
      readonly mode: 'trunk';
      /** VIDs carried tagged; 'all' = 1..4094. */
      readonly allowed: ReadonlySet<number> | 'all';
      /** VLAN of untagged frames; absent = untagged frames are dropped (an "admit only tagged" port). */
      readonly native?: number;
    };

export const ACCESS_DEFAULT: PortVlanConfig = { mode: 'access', vid: DEFAULT_VID };

export function isValidVid(vid: number): boolean {
  return Number.isInteger(vid) && vid >= VID_MIN && vid <= VID_MAX;
}

/** Throws for a configuration mistake (programmer or lab-file error), naming the bad VID. */
export function validatePortVlanConfig(config: PortVlanConfig): void {
  if (config.mode === 'access') {
    if (!isValidVid(config.vid)) throw new RangeError(`access VLAN ${config.vid} is not in ${VID_MIN}..${VID_MAX}`);
    return;
  }
  if (config.native !== undefined && !isValidVid(config.native)) {
    throw new RangeError(`native VLAN ${config.native} is not in ${VID_MIN}..${VID_MAX}`);
  }
  if (config.allowed !== 'all') {
    for (const vid of config.allowed) if (!isValidVid(vid)) throw new RangeError(`trunk VLAN ${vid} is not in ${VID_MIN}..${VID_MAX}`);
  }
}

/** Is the port in VLAN `vid`'s member set (802.1Q §8.8.2)? */
export function isMember(config: PortVlanConfig, vid: number): boolean {
  if (config.mode === 'access') return config.vid === vid;
  if (config.native === vid) return true;
  return config.allowed === 'all' ? isValidVid(vid) : config.allowed.has(vid);
}

/** Is the port in VLAN `vid`'s untagged set: do its frames leave without a tag? */
export function egressUntagged(config: PortVlanConfig, vid: number): boolean {
  return config.mode === 'access' || config.native === vid;
}

/** Why a frame was refused at ingress; the values are the switch's counter names. */
export const VlanDrop = {
  /** A frame shorter than the header its TPID promises. */
  truncated: 'swInErrors',
  /** A VLAN-tagged frame on an access port (only untagged/priority-tagged are admitted). */
  taggedOnAccess: 'swInTaggedOnAccess',
  /** Two tags, or an 802.1ad S-tag: VLAN hopping. */
  doubleTagged: 'swInDoubleTagged',
  /** An untagged frame on a trunk without a native VLAN. */
  untaggedNoNative: 'swInUntaggedNoNative',
  /** Ingress filtering (802.1Q §8.6.2): the port is not a member of the frame's VLAN, or VID 4095. */
  notMember: 'swInVlanFiltered',
} as const;
export type VlanDropCounter = (typeof VlanDrop)[keyof typeof VlanDrop];

/** Ingress classification of one frame. `tagged` tells where the payload starts (12 + 4 + 2 or 12 + 2). */
export type IngressClass =
  | { readonly ok: true; readonly vid: number; readonly tagged: boolean; readonly pcp: number }
  | { readonly ok: false; readonly counter: VlanDropCounter; readonly reason: string };

/**
 * 802.1Q §6.9.1 + §8.6.1 + §8.6.2 for one frame arriving on a port with
 * `config`. Reads only bytes 12..17 and never throws; `frame` must hold at
 * least the 14-byte Ethernet header (the switch checks that first).
 */
export function classifyIngress(config: PortVlanConfig, frame: Uint8Array): IngressClass {
  const tpid = getU16(frame, EthernetField.ETHER_TYPE);
  if (tpid === EtherType.QinQ) return { ok: false, counter: VlanDrop.doubleTagged, reason: '802.1ad S-tag (Q-in-Q is not supported)' };
  let tagged = false;
  let tagVid = PRIORITY_VID;
  let pcp = 0;
  if (tpid === EtherType.VLAN) {
    if (frame.length < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) {
      return { ok: false, counter: VlanDrop.truncated, reason: `tagged frame of ${frame.length} bytes` };
    }
    const inner = getU16(frame, EthernetField.INNER_ETHER_TYPE);
    if (inner === EtherType.VLAN || inner === EtherType.QinQ) {
      return { ok: false, counter: VlanDrop.doubleTagged, reason: `second tag 0x${inner.toString(16)} after VID ${getU16(frame, EthernetField.TCI) & 0xfff}` };
    }
    tagged = true;
    const tci = getU16(frame, EthernetField.TCI);
    tagVid = tci & 0x0fff;
    pcp = tci >>> 13;
  }

  // A priority-tagged frame (VID 0) is classified like an untagged one (§6.9.1).
  if (tagVid === PRIORITY_VID) {
    if (config.mode === 'access') return { ok: true, vid: config.vid, tagged, pcp };
    if (config.native === undefined) return { ok: false, counter: VlanDrop.untaggedNoNative, reason: 'untagged frame on a trunk without a native VLAN' };
    return { ok: true, vid: config.native, tagged, pcp };
  }
  if (config.mode === 'access') return { ok: false, counter: VlanDrop.taggedOnAccess, reason: `tagged VID ${tagVid} on an access port (VLAN ${config.vid})` };
  if (tagVid === RESERVED_VID || !isMember(config, tagVid)) {
    return { ok: false, counter: VlanDrop.notMember, reason: `VID ${tagVid} not allowed on this trunk` };
  }
  return { ok: true, vid: tagVid, tagged, pcp };
}

/**
 * Writes `frame` without its tag into `out` (which must hold frame.length - 4
 * bytes) and returns the untagged view. `frame` must be tagged.
 */
export function stripTag(frame: Uint8Array, out: Uint8Array): Uint8Array {
  out.set(frame.subarray(0, EthernetField.ETHER_TYPE), 0);
  out.set(frame.subarray(EthernetField.ETHER_TYPE + VLAN_TAG_LENGTH), EthernetField.ETHER_TYPE);
  return out.subarray(0, frame.length - VLAN_TAG_LENGTH);
}

/**
 * Writes `frame` with a tag for `vid` (priority `pcp`) into `out` and returns
 * the tagged view. An existing tag is replaced, not stacked.
 */
export function writeTag(frame: Uint8Array, tagged: boolean, vid: number, pcp: number, out: Uint8Array): Uint8Array {
  const rest = frame.subarray(EthernetField.ETHER_TYPE + (tagged ? VLAN_TAG_LENGTH : 0));
  out.set(frame.subarray(0, EthernetField.ETHER_TYPE), 0);
  setU16(out, EthernetField.ETHER_TYPE, EtherType.VLAN);
  setU16(out, EthernetField.TCI, ((pcp & 7) << 13) | (vid & 0x0fff));
  out.set(rest, EthernetField.INNER_ETHER_TYPE);
  return out.subarray(0, EthernetField.INNER_ETHER_TYPE + rest.length);
}

/** "access 10", "trunk 10,20 native 1", "trunk all". */
export function describePortVlan(config: PortVlanConfig): string {
  if (config.mode === 'access') return `access ${config.vid}`;
  const allowed = config.allowed === 'all' ? 'all' : [...config.allowed].sort((a, b) => a - b).join(',') || 'none';
  return `trunk ${allowed}${config.native !== undefined ? ` native ${config.native}` : ''}`;
}
