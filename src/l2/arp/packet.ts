/**
 * ARP packets for IPv4 over Ethernet.
 *
 * Read first: RFC 826 "An Ethernet Address Resolution Protocol" (packet
 * format and the packet reception algorithm), RFC 5227 §2.1.1 and §2.3 (ARP
 * probes and announcements), RFC 5342 §2 (the hardware/operation registries).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     Hardware type (ar$hrd)    |     Protocol type (ar$pro)    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  | HW len ar$hln | Pr len ar$pln |       Operation (ar$op)       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                Sender hardware address (ar$sha)               |
 *  +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                               | Sender protocol addr (ar$spa) |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |       (ar$spa continued)      | Target hardware addr (ar$tha) |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *  |                       (ar$tha continued)                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                Target protocol address (ar$tpa)               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 826 is generic over hardware and protocol; with Ethernet (hrd 1,
 * hln 6) and IPv4 (pro 0x0800, pln 4) the packet is a fixed 28 bytes. Other
 * combinations are 'unsupported' here. Bytes after the 28 (Ethernet padding
 * on a real wire) are ignored.
 */
import { getU16, getU8, setU16, setU8 } from '../../core/bytes.js';
import type { ParseError, ParseResult } from '../../core/parse-result.js';
import { formatIpv4, readIpv4, writeIpv4 } from '../../l3/ipv4/address.js';
import { ZERO_MAC, formatMac, readMac, writeMac, type MacAddress } from '../mac-address.js';
import { EtherType } from '../ethernet/ether-type.js';

/** Byte offsets, in wire order (Ethernet/IPv4 sizes). */
export const ArpField = {
  HARDWARE_TYPE: 0,
  PROTOCOL_TYPE: 2,
  HARDWARE_LENGTH: 4,
  PROTOCOL_LENGTH: 5,
  OPERATION: 6,
  SENDER_HARDWARE_ADDRESS: 8,
  SENDER_PROTOCOL_ADDRESS: 14,
  TARGET_HARDWARE_ADDRESS: 18,
  TARGET_PROTOCOL_ADDRESS: 24,
} as const;

/** An Ethernet/IPv4 ARP packet: 8 fixed bytes + 2 × (6 + 4). */
export const ARP_LENGTH = 28;

/** ar$hrd values (RFC 5342 §2.1, IANA "Hardware Types"). */
export const ArpHardwareType = { Ethernet: 1 } as const;
const HARDWARE_LENGTH_ETHERNET = 6;
const PROTOCOL_LENGTH_IPV4 = 4;

/** ar$op values (RFC 826; RFC 5342 §2.2 lists the rest, e.g. RARP 3/4, InARP 8/9). */
export const ArpOperation = { Request: 1, Reply: 2 } as const;
export type ArpOperation = (typeof ArpOperation)[keyof typeof ArpOperation];

export interface ArpPacket {
  readonly operation: ArpOperation;
  readonly senderHardwareAddress: MacAddress;
  readonly senderProtocolAddress: number;
  readonly targetHardwareAddress: MacAddress;
  readonly targetProtocolAddress: number;
}

const EMPTY = new Uint8Array(0);

/** A reusable view: `wrap()` validates once, the getters then read freely. */
export class ArpPacketView {
  private buf: Uint8Array = EMPTY;

  /** Points the view at `buf` (the ARP payload of a frame). On an error the getters must not be used. */
  wrap(buf: Uint8Array): ParseError | undefined {
    this.buf = buf;
    if (buf.length < ARP_LENGTH) return { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < ${ARP_LENGTH}` };
    const hardwareType = getU16(buf, ArpField.HARDWARE_TYPE);
    if (hardwareType !== ArpHardwareType.Ethernet) {
      return { reason: 'unsupported', offset: ArpField.HARDWARE_TYPE, detail: `hardware type ${hardwareType}` };
    }
    const protocolType = getU16(buf, ArpField.PROTOCOL_TYPE);
    if (protocolType !== EtherType.IPv4) {
      return { reason: 'unsupported', offset: ArpField.PROTOCOL_TYPE, detail: `protocol type 0x${protocolType.toString(16)}` };
    }
    // Ethernet addresses are 6 bytes and IPv4 addresses 4: anything else is a lie, not a variant.
    const hardwareLength = getU8(buf, ArpField.HARDWARE_LENGTH);
    if (hardwareLength !== HARDWARE_LENGTH_ETHERNET) {
      return { reason: 'badLength', offset: ArpField.HARDWARE_LENGTH, detail: `hardware length ${hardwareLength} != 6` };
    }
    const protocolLength = getU8(buf, ArpField.PROTOCOL_LENGTH);
    if (protocolLength !== PROTOCOL_LENGTH_IPV4) {
      return { reason: 'badLength', offset: ArpField.PROTOCOL_LENGTH, detail: `protocol length ${protocolLength} != 4` };
    }
    const operation = getU16(buf, ArpField.OPERATION);
    if (operation !== ArpOperation.Request && operation !== ArpOperation.Reply) {
      return { reason: 'unsupported', offset: ArpField.OPERATION, detail: `operation ${operation}` };
    }
    return undefined;
  }

  get operation(): ArpOperation {
    return getU16(this.buf, ArpField.OPERATION) as ArpOperation;
  }
  get senderHardwareAddress(): MacAddress {
    return readMac(this.buf, ArpField.SENDER_HARDWARE_ADDRESS);
  }
  get senderProtocolAddress(): number {
    return readIpv4(this.buf, ArpField.SENDER_PROTOCOL_ADDRESS);
  }
  get targetHardwareAddress(): MacAddress {
    return readMac(this.buf, ArpField.TARGET_HARDWARE_ADDRESS);
  }
  get targetProtocolAddress(): number {
    return readIpv4(this.buf, ArpField.TARGET_PROTOCOL_ADDRESS);
  }
  /** A record copy of the fields (for traces and tests). */
  toRecord(): ArpPacket {
    return {
      operation: this.operation,
      senderHardwareAddress: this.senderHardwareAddress,
      senderProtocolAddress: this.senderProtocolAddress,
      targetHardwareAddress: this.targetHardwareAddress,
      targetProtocolAddress: this.targetProtocolAddress,
    };
  }
}

export function parseArp(buf: Uint8Array): ParseResult<ArpPacket> {
  const view = new ArpPacketView();
  const error = view.wrap(buf);
  if (error) return { ok: false, error };
  return { ok: true, value: view.toRecord() };
}

/** Always ARP_LENGTH: the Ethernet/IPv4 packet has no variable part. */
export function arpLength(_packet?: ArpPacket): number {
  return ARP_LENGTH;
}

/** Writes the 28-byte packet at `buf[offset]` and returns 28. */
export function emitArp(packet: ArpPacket, buf: Uint8Array, offset: number): number {
  if (offset < 0 || offset + ARP_LENGTH > buf.length) {
    throw new RangeError(`emitArp: ${ARP_LENGTH} bytes do not fit at offset ${offset} of ${buf.length}`);
  }
  setU16(buf, offset + ArpField.HARDWARE_TYPE, ArpHardwareType.Ethernet);
  setU16(buf, offset + ArpField.PROTOCOL_TYPE, EtherType.IPv4);
  setU8(buf, offset + ArpField.HARDWARE_LENGTH, HARDWARE_LENGTH_ETHERNET);
  setU8(buf, offset + ArpField.PROTOCOL_LENGTH, PROTOCOL_LENGTH_IPV4);
  setU16(buf, offset + ArpField.OPERATION, packet.operation);
  writeMac(buf, offset + ArpField.SENDER_HARDWARE_ADDRESS, packet.senderHardwareAddress);
  writeIpv4(buf, offset + ArpField.SENDER_PROTOCOL_ADDRESS, packet.senderProtocolAddress);
  writeMac(buf, offset + ArpField.TARGET_HARDWARE_ADDRESS, packet.targetHardwareAddress);
  writeIpv4(buf, offset + ArpField.TARGET_PROTOCOL_ADDRESS, packet.targetProtocolAddress);
  return ARP_LENGTH;
}

/**
 * One line, close to tcpdump's:
 *   "ARP who-has 10.0.0.2 tell 10.0.0.1"
 *   "ARP who-has 10.0.0.1 (ff:ff:ff:ff:ff:ff) tell 10.0.0.1"   (target hardware address set)
 *   "ARP reply 10.0.0.2 is-at 02:00:00:00:00:02"
 * plus ", gratuitous" for announcements (sender = target protocol address).
 */
export function describeArp(packet: ArpPacket): string {
  const gratuitous = packet.senderProtocolAddress === packet.targetProtocolAddress ? ', gratuitous' : '';
  if (packet.operation === ArpOperation.Request) {
    const tha = packet.targetHardwareAddress;
    const known = tha === ZERO_MAC ? '' : ` (${formatMac(tha)})`;
    return `ARP who-has ${formatIpv4(packet.targetProtocolAddress)}${known} tell ${formatIpv4(packet.senderProtocolAddress)}${gratuitous}`;
  }
  return `ARP reply ${formatIpv4(packet.senderProtocolAddress)} is-at ${formatMac(packet.senderHardwareAddress)}${gratuitous}`;
}

/** describeArp for raw bytes (traces): the parse error if it does not parse. */
export function describeArpBytes(buf: Uint8Array): string {
  const result = parseArp(buf);
  return result.ok ? describeArp(result.value) : `ARP ${result.error.reason} at +${result.error.offset}, length ${buf.length}`;
}
