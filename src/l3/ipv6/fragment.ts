/**
 * IPv6 fragmentation: only the source fragments (routers send Packet Too
 * Big instead), by inserting a Fragment header after the unfragmentable
 * part of the packet.
 *
 * Read first: RFC 8200 §4.5 (the procedure this file follows), RFC 7739
 * (random Identification values), RFC 8900 (why to avoid fragmenting).
 *
 *   original:  | unfragmentable part | fragmentable part ...................... |
 *   fragments: | unfragmentable part | Fragment (offset 0, M=1)    | first piece |
 *              | unfragmentable part | Fragment (offset n, M=1)    | next piece  |
 *              | unfragmentable part | Fragment (offset m, M=0)    | last piece  |
 *
 * The unfragmentable part is the fixed header and any Hop-by-Hop (and
 * Routing) header; the Next Header field that pointed at the fragmentable
 * part points at the Fragment header (44) instead, whose own Next Header
 * keeps the original value. Every piece but the last is a multiple of 8.
 */
import { setU16 } from '../../core/bytes.js';
import { IpProtocol } from '../ip-protocol.js';
import { FRAGMENT_HEADER_LENGTH, emitIpv6FragmentHeader } from './fragment-header.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6Field } from './header.js';

/** One scratch buffer for every fragment: `emit` must copy what it keeps (links copy on send). */
const scratch = new Uint8Array(IPV6_HEADER_LENGTH + 65_535 + FRAGMENT_HEADER_LENGTH);

/**
 * Emits `packet` as fragments of at most `mtu` bytes. `unfragmentableLength`
 * is where the fragmentable part starts, `nextHeaderField` the offset of the
 * octet that names it (6 when there are no extension headers). Bad
 * arguments are programmer errors and throw.
 */
export function fragmentIpv6(
  packet: Uint8Array,
  unfragmentableLength: number,
  nextHeaderField: number,
  mtu: number,
  identification: number,
  emit: (fragment: Uint8Array) => void,
): number {
  if (!Number.isInteger(mtu) || mtu < IPV6_MIN_MTU) throw new RangeError(`MTU ${mtu} < ${IPV6_MIN_MTU} (RFC 8200 §5)`);
  if (unfragmentableLength < IPV6_HEADER_LENGTH || unfragmentableLength > packet.length || nextHeaderField >= unfragmentableLength) {
    throw new RangeError(`unfragmentable part ${unfragmentableLength} / next header field ${nextHeaderField} do not fit a ${packet.length}-byte packet`);
  }
  const room = (mtu - unfragmentableLength - FRAGMENT_HEADER_LENGTH) & ~7;
  if (room <= 0) throw new RangeError(`no room for data: MTU ${mtu}, unfragmentable part ${unfragmentableLength}`);
  const originalNextHeader = packet[nextHeaderField]!;
  const dataLength = packet.length - unfragmentableLength;
  let count = 0;
  for (let position = 0; position < dataLength || (position === 0 && dataLength === 0); ) {
    const length = Math.min(room, dataLength - position);
    const more = position + length < dataLength;
    scratch.set(packet.subarray(0, unfragmentableLength), 0);
    scratch[nextHeaderField] = IpProtocol.IPv6Fragment;
    emitIpv6FragmentHeader({ nextHeader: originalNextHeader, fragmentOffset: position, moreFragments: more, identification }, scratch, unfragmentableLength);
    const dataStart = unfragmentableLength + FRAGMENT_HEADER_LENGTH;
    scratch.set(packet.subarray(unfragmentableLength + position, unfragmentableLength + position + length), dataStart);
    const total = dataStart + length;
    setU16(scratch, Ipv6Field.PAYLOAD_LENGTH, total - IPV6_HEADER_LENGTH);
    emit(scratch.subarray(0, total));
    count++;
    position += length;
    if (length === 0) break;
  }
  return count;
}

/** How many fragments `fragmentIpv6` makes (for sizing and tests). */
export function ipv6FragmentCount(packetLength: number, mtu: number, unfragmentableLength = IPV6_HEADER_LENGTH): number {
  if (packetLength <= mtu) return 1;
  const room = (mtu - unfragmentableLength - FRAGMENT_HEADER_LENGTH) & ~7;
  return Math.ceil((packetLength - unfragmentableLength) / room);
}
