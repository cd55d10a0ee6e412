/**
 * The VXLAN header: 8 bytes in front of an Ethernet frame, carried in UDP.
 *
 * Read first: RFC 7348 §5 (the format and the UDP source port rule), then
 * Linux's drivers/net/vxlan/vxlan_core.c (vxlan_rcv, vxlan_xmit_one) and
 * include/net/vxlan.h (struct vxlanhdr, VXLAN_HF_VNI).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |R|R|R|R|I|R|R|R|            Reserved                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                VXLAN Network Identifier (VNI) |   Reserved    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Inner Ethernet frame (destination MAC first, no FCS) ...
 *
 *  I = 1: the VNI is valid (RFC 7348 §5: "MUST be set to 1 for a valid VNI").
 *  R: reserved, "MUST be set to zero on transmission and ignored on receipt".
 *
 * Linux is stricter than the RFC on receipt: with no extension (GBP, GPE,
 * remote checksum offload) configured it drops a packet with any reserved bit
 * set ("unparsed flags", vxlan_rcv). Here the RFC decides: reserved bits are
 * ignored, only a clear I flag is an error (`badValue`), as both agree on it.
 */
import { getU32, getU8, setU32 } from '../../core/bytes.js';
import { fail, ok, type ParseResult } from '../../core/parse-result.js';

/** Byte offsets, in wire order. */
export const VxlanField = {
  /** Flags: only the I bit (0x08) is defined. */
  FLAGS: 0,
  /** 24 reserved bits after the flags. */
  RESERVED_1: 1,
  /** The VNI in the top 24 bits of this 32-bit word, a reserved octet in the low 8. */
  VNI: 4,
  /** The inner Ethernet frame. */
  PAYLOAD: 8,
} as const;

export const VXLAN_HEADER_LENGTH = 8;
/** The I flag: the VNI field is valid. */
export const VXLAN_FLAG_VNI = 0x08;
/** IANA's port for VXLAN (RFC 7348 §5: Destination Port 4789). */
export const VXLAN_PORT = 4789;
/** Largest VNI: 24 bits. */
export const VNI_MAX = 0xff_ffff;
/** The 14-byte Ethernet header the inner frame must at least hold (destination, source, EtherType). */
export const INNER_ETHERNET_MIN = 14;
/**
 * Bytes VXLAN adds on the underlay below the inner frame's IP MTU: the inner Ethernet header (14), VXLAN (8),
 * UDP (8) and the outer IP header: 20 for IPv4 = 50, 40 for IPv6 = 70 (Linux: VXLAN_HEADROOM, VXLAN6_HEADROOM).
 */
export const VXLAN_OVERHEAD_IPV4 = 50;
export const VXLAN_OVERHEAD_IPV6 = 70;

export interface VxlanHeader {
  /** The whole flags octet (0x08 on a valid packet; reserved bits kept as received). */
  readonly flags: number;
  /** VXLAN Network Identifier, 0..2^24-1. */
  readonly vni: number;
}

/** A VXLAN packet: the header and the inner frame (a view into the same buffer). */
export interface VxlanPacket extends VxlanHeader {
  readonly frame: Uint8Array;
}

/**
 * Parses a UDP payload. `truncated`: shorter than the header, or no room for
 * an inner Ethernet header; `badValue`: the I flag is clear.
 */
export function parseVxlan(buf: Uint8Array): ParseResult<VxlanPacket> {
  if (buf.length < VXLAN_HEADER_LENGTH) return fail('truncated', 0, `${buf.length} bytes < the ${VXLAN_HEADER_LENGTH}-byte VXLAN header`);
  const flags = getU8(buf, VxlanField.FLAGS);
  if ((flags & VXLAN_FLAG_VNI) === 0) return fail('badValue', VxlanField.FLAGS, `flags 0x${flags.toString(16).padStart(2, '0')}: the I flag is clear`);
  if (buf.length < VXLAN_HEADER_LENGTH + INNER_ETHERNET_MIN) {
    return fail('truncated', VxlanField.PAYLOAD, `inner frame of ${buf.length - VXLAN_HEADER_LENGTH} bytes < an Ethernet header`);
  }
  return ok({ flags, vni: vniOf(buf), frame: buf.subarray(VxlanField.PAYLOAD) });
}

/** The VNI of a checked packet: the hot path reads it without building a record. */
export function vniOf(buf: Uint8Array): number {
  return getU32(buf, VxlanField.VNI) >>> 8;
}

/** Writes the 8-byte header (I flag set, reserved bits zero: RFC 7348 §5) at `offset`; returns 8. */
export function emitVxlan(header: { readonly vni: number }, buf: Uint8Array, offset: number): number {
  if (!Number.isInteger(header.vni) || header.vni < 0 || header.vni > VNI_MAX) throw new RangeError(`VNI ${header.vni} is not 0..${VNI_MAX}`);
  setU32(buf, offset + VxlanField.FLAGS, VXLAN_FLAG_VNI << 24);
  setU32(buf, offset + VxlanField.VNI, header.vni * 256);
  return VXLAN_HEADER_LENGTH;
}

/** One line, as tcpdump prints it: `VXLAN, flags [I] (0x08), vni 42`. */
export function describeVxlan(h: VxlanHeader): string {
  return `VXLAN, flags [${h.flags & VXLAN_FLAG_VNI ? 'I' : '.'}] (0x${h.flags.toString(16).padStart(2, '0')}), vni ${h.vni}`;
}
