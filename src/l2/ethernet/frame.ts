/**
 * Ethernet II frames with an optional IEEE 802.1Q VLAN tag.
 *
 * Read first: RFC 894 (IP over Ethernet, the "Ethernet II" framing), IEEE
 * 802.3-2018 §3.2 (MAC frame format), IEEE 802.1Q-2018 §9.6 (the tag).
 *
 *  Untagged (14-byte header):
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                      Destination address                      |
 *  +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                               |                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *  |                        Source address                         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           EtherType           |  Payload ...                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *  Tagged (18-byte header): a 4-byte tag at offset 12, between source and EtherType.
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |        TPID = 0x8100          | PCP |D|         VID           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           EtherType           |  Payload ...                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   PCP = priority code point (802.1p), D = drop eligible indicator (DEI,
 *   formerly CFI), VID = VLAN identifier (0 = priority tag only, 4095 reserved).
 *
 * What is not here, and why:
 * - No preamble, SFD or FCS: a TAP (like a packet socket) hands over frames
 *   without them and computes nothing.
 * - No padding: real Ethernet pads frames to 60 bytes (+FCS = the 64-byte
 *   minimum, IEEE 802.3 §4.2.3.3); a TAP neither adds nor requires it, so
 *   frames from the kernel arrive unpadded (a 42-byte ARP) and we emit
 *   unpadded frames too. Receivers must not assume either way: payload
 *   parsers use their own length fields and ignore trailing bytes.
 * - Only one tag is parsed. A second tag (or an 802.1ad S-tag, 0x88a8) shows
 *   up as `etherType` 0x8100/0x88a8 and is left to the caller.
 * - 802.3 length frames (LLC/SNAP, e.g. STP) are 'unsupported'.
 */
import type { ParseError, ParseResult } from '../../core/parse-result.js';
import { getU16, setU16 } from '../../core/bytes.js';
import { formatMac, readMac, writeMac, type MacAddress } from '../mac-address.js';
import { ETHER_TYPE_MIN, EtherType, describeEtherType } from './ether-type.js';

/** Byte offsets, in wire order. */
export const EthernetField = {
  DESTINATION: 0,
  SOURCE: 6,
  /** EtherType of an untagged frame, or the TPID (0x8100) of a tagged one. */
  ETHER_TYPE: 12,
  /** Tag control information (PCP, DEI, VID) of a tagged frame. */
  TCI: 14,
  /** EtherType of a tagged frame. */
  INNER_ETHER_TYPE: 16,
} as const;

export const ETHERNET_HEADER_LENGTH = 14;
export const VLAN_TAG_LENGTH = 4;
export const ETHERNET_VLAN_HEADER_LENGTH = ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
/** Largest VID; 4095 (0xfff) is reserved by IEEE 802.1Q Table 9-2 but still fits the field. */
export const VLAN_ID_MAX = 0x0fff;

export interface VlanTag {
  /** Priority code point 0..7 (IEEE 802.1Q §6.9.3; 0 = best effort). */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN identifier 0..4095. */
  readonly vid: number;
}

/** What `emitEthernet` writes. */
export interface EthernetHeader {
  readonly destination: MacAddress;
  readonly source: MacAddress;
  readonly vlan?: VlanTag | undefined;
  /** The payload's EtherType (the inner one when tagged). */
  readonly etherType: number;
}

/** What `parseEthernet` returns. */
export interface EthernetFrame extends EthernetHeader {
  readonly vlan: VlanTag | undefined;
  /** 14, or 18 with a tag. */
  readonly payloadOffset: number;
  /** The bytes after the header (a view into the frame, not a copy). */
  readonly payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * A reusable view for the receive path: `wrap()` checks the length once,
 * then the getters read the frame with no allocation.
 */
export class EthernetFrameView {
  private buf: Uint8Array = EMPTY;
  private tagged = false;

  /** Points the view at `buf`. On an error the getters must not be used. */
  wrap(buf: Uint8Array): ParseError | undefined {
    this.buf = buf;
    this.tagged = false;
    if (buf.length < ETHERNET_HEADER_LENGTH) {
      return { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < ${ETHERNET_HEADER_LENGTH}` };
    }
    let typeOffset: number = EthernetField.ETHER_TYPE;
    if (getU16(buf, EthernetField.ETHER_TYPE) === EtherType.VLAN) {
      if (buf.length < ETHERNET_VLAN_HEADER_LENGTH) {
        return { reason: 'truncated', offset: EthernetField.TCI, detail: `tagged frame of ${buf.length} bytes < ${ETHERNET_VLAN_HEADER_LENGTH}` };
      }
      this.tagged = true;
      typeOffset = EthernetField.INNER_ETHER_TYPE;
    }
    const etherType = getU16(buf, typeOffset);
    if (etherType < ETHER_TYPE_MIN) {
      return { reason: 'unsupported', offset: typeOffset, detail: `802.3 length/type ${etherType} < 0x0600` };
    }
    return undefined;
  }

  get destination(): MacAddress {
    return readMac(this.buf, EthernetField.DESTINATION);
  }
  get source(): MacAddress {
    return readMac(this.buf, EthernetField.SOURCE);
  }
  get hasVlan(): boolean {
    return this.tagged;
  }
  /** The tag control information word (0 when untagged). */
  get tci(): number {
    return this.tagged ? getU16(this.buf, EthernetField.TCI) : 0;
  }
  get pcp(): number {
    return this.tci >>> 13;
  }
  get dei(): boolean {
    return (this.tci & 0x1000) !== 0;
  }
  /** VLAN identifier, 0 when untagged. */
  get vid(): number {
    return this.tci & VLAN_ID_MAX;
  }
  get etherType(): number {
    return getU16(this.buf, this.tagged ? EthernetField.INNER_ETHER_TYPE : EthernetField.ETHER_TYPE);
  }
  get payloadOffset(): number {
    return this.tagged ? ETHERNET_VLAN_HEADER_LENGTH : ETHERNET_HEADER_LENGTH;
  }
  get length(): number {
    return this.buf.length;
  }
  /** The payload as a view (allocates a subarray object, never copies bytes). */
  get payload(): Uint8Array {
    return this.buf.subarray(this.payloadOffset);
  }
  get vlan(): VlanTag | undefined {
    return this.tagged ? { pcp: this.pcp, dei: this.dei, vid: this.vid } : undefined;
  }
}

export function parseEthernet(buf: Uint8Array): ParseResult<EthernetFrame> {
  const view = new EthernetFrameView();
  const error = view.wrap(buf);
  if (error) return { ok: false, error };
  return {
    ok: true,
    value: {
      destination: view.destination,
      source: view.source,
      vlan: view.vlan,
      etherType: view.etherType,
      payloadOffset: view.payloadOffset,
      payload: view.payload,
    },
  };
}

/** Header bytes `emitEthernet` writes for `header`: 14, or 18 with a tag. */
export function ethernetHeaderLength(header: EthernetHeader): number {
  return header.vlan ? ETHERNET_VLAN_HEADER_LENGTH : ETHERNET_HEADER_LENGTH;
}

/**
 * Writes the header at `buf[offset]` and returns its length; the payload
 * goes right after. Bad field values are programmer errors and throw.
 */
export function emitEthernet(header: EthernetHeader, buf: Uint8Array, offset: number): number {
  const length = ethernetHeaderLength(header);
  if (offset < 0 || offset + length > buf.length) {
    throw new RangeError(`emitEthernet: ${length} bytes do not fit at offset ${offset} of ${buf.length}`);
  }
  if (!Number.isInteger(header.etherType) || header.etherType < ETHER_TYPE_MIN || header.etherType > 0xffff) {
    throw new RangeError(`emitEthernet: EtherType ${header.etherType} is not in 0x0600..0xffff`);
  }
  writeMac(buf, offset + EthernetField.DESTINATION, header.destination);
  writeMac(buf, offset + EthernetField.SOURCE, header.source);
  const vlan = header.vlan;
  if (vlan) {
    const { pcp, dei, vid } = vlan;
    if (!Number.isInteger(pcp) || pcp < 0 || pcp > 7) throw new RangeError(`emitEthernet: PCP ${pcp} is not in 0..7`);
    if (!Number.isInteger(vid) || vid < 0 || vid > VLAN_ID_MAX) throw new RangeError(`emitEthernet: VID ${vid} is not in 0..4095`);
    setU16(buf, offset + EthernetField.ETHER_TYPE, EtherType.VLAN);
    setU16(buf, offset + EthernetField.TCI, (pcp << 13) | (dei ? 0x1000 : 0) | vid);
    setU16(buf, offset + EthernetField.INNER_ETHER_TYPE, header.etherType);
  } else {
    setU16(buf, offset + EthernetField.ETHER_TYPE, header.etherType);
  }
  return length;
}

/**
 * One line, `tcpdump -e` style:
 * "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42"
 * "00:40:05:40:ef:24 > 00:60:08:9f:b1:f3, vlan 32, p 4, DEI, ethertype IPv4 (0x0800), length 70"
 */
export function describeEthernet(header: EthernetHeader, length?: number): string {
  const vlan = header.vlan ? `vlan ${header.vlan.vid}, p ${header.vlan.pcp}${header.vlan.dei ? ', DEI' : ''}, ` : '';
  const len = length === undefined ? '' : `, length ${length}`;
  return `${formatMac(header.source)} > ${formatMac(header.destination)}, ${vlan}ethertype ${describeEtherType(header.etherType)}${len}`;
}

/** describeEthernet for raw bytes (traces): the parse error if the frame does not parse. */
export function describeEthernetBytes(buf: Uint8Array): string {
  const result = parseEthernet(buf);
  if (!result.ok) return `Ethernet ${result.error.reason} at +${result.error.offset}, length ${buf.length}`;
  return describeEthernet(result.value, buf.length);
}
