/**
 * IPv4 fragmentation: cutting a datagram to fit a link MTU.
 *
 * Read first: RFC 791 §3.2 "Fragmentation and Reassembly" (the procedure
 * this file follows step by step) and RFC 1122 §3.3.3; RFC 8900 for why
 * fragmentation is best avoided (DF + path MTU discovery, RFC 1191).
 *
 * The rules, in RFC 791's words where it has them:
 *  - every fragment but the last carries a multiple of 8 data bytes
 *    ("the data must be broken on 8 octet boundaries");
 *  - fragment offsets are relative to the original datagram, so fragmenting
 *    a fragment adds its own offset, and MF stays set on the last piece if
 *    the original had MF set;
 *  - the first fragment gets all options, later ones only the options whose
 *    "copied" flag is set;
 *  - a datagram with DF set is not fragmented: the caller sends ICMP
 *    "fragmentation needed" (RFC 1191) instead.
 */
import { getU16, setU16 } from '../../core/bytes.js';
import {
  Field,
  IPV4_MAX_PACKET_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  IPV4_MIN_MTU,
  Ipv4HeaderView,
  forEachIpv4Option,
  ipv4OptionCopied,
  setIpv4HeaderChecksum,
} from './header.js';

const FLAG_MF = 0x2000;
const FLAG_DF = 0x4000;

/**
 * 'needsFragmentationButDF': too big and DF set (the caller answers with ICMP
 * fragmentation needed). 'oversize': a forwarded fragment whose offset + data
 * run past 65535 (a "ping of death" piece): its pieces' offsets would not fit
 * the 13-bit field, and its datagram could never be reassembled anyway.
 */
export type FragmentResult = 'ok' | 'needsFragmentationButDF' | 'oversize';

/**
 * One scratch buffer for every fragment: `emit` must copy what it keeps
 * (links copy on send) and must not call `fragmentIpv4` again.
 */
const scratch = new Uint8Array(IPV4_MAX_PACKET_LENGTH);
/** Options copied into the later fragments (at most 40 bytes). */
const laterOptions = new Uint8Array(40);
const view = new Ipv4HeaderView();
let busy = false;

/**
 * Emits `packet` as fragments of at most `mtu` bytes each (a packet that
 * already fits is emitted unchanged). `packet` must be a valid IPv4 packet:
 * a broken one is a programmer error and throws.
 */
export function fragmentIpv4(packet: Uint8Array, mtu: number, emit: (fragment: Uint8Array) => void): FragmentResult {
  if (!Number.isInteger(mtu) || mtu < IPV4_MIN_MTU) throw new RangeError(`MTU ${mtu} < ${IPV4_MIN_MTU} (RFC 791 §3.1)`);
  const error = view.wrap(packet, false);
  if (error) throw new RangeError(`fragmentIpv4: not a valid IPv4 packet (${error.reason}: ${error.detail ?? ''})`);
  const totalLength = view.totalLength;
  if (totalLength <= mtu) {
    emit(view.packet);
    return 'ok';
  }
  if (view.dontFragment) return 'needsFragmentationButDF';
  if (view.fragmentOffset + totalLength - view.headerLength > IPV4_MAX_PACKET_LENGTH - IPV4_MIN_HEADER_LENGTH) return 'oversize';
  if (busy) throw new Error('fragmentIpv4 is not re-entrant: emit must not fragment again');
  busy = true;
  try {
    split(packet, mtu, emit);
  } finally {
    busy = false;
  }
  return 'ok';
}

function split(packet: Uint8Array, mtu: number, emit: (fragment: Uint8Array) => void): void {
  const firstHeaderLength = view.headerLength;
  const totalLength = view.totalLength;
  const originalOffset = view.fragmentOffset;
  const originalMoreFragments = view.moreFragments;

  // RFC 791 §3.2: later fragments carry only the options with the copied flag.
  let copiedLength = 0;
  forEachIpv4Option(view.options, (type, option) => {
    if (!ipv4OptionCopied(type)) return;
    laterOptions.set(option, copiedLength);
    copiedLength += option.length;
  });
  const paddedCopiedLength = (copiedLength + 3) & ~3;
  laterOptions.fill(0, copiedLength, paddedCopiedLength);
  const laterHeaderLength = IPV4_MIN_HEADER_LENGTH + paddedCopiedLength;

  const dataLength = totalLength - firstHeaderLength;
  let position = 0;
  let first = true;
  while (position < dataLength) {
    const headerLength = first ? firstHeaderLength : laterHeaderLength;
    // Every fragment but the last carries a multiple of 8 data bytes.
    const room = (mtu - headerLength) & ~7;
    const length = Math.min(room, dataLength - position);
    const last = position + length === dataLength;

    // Fixed header from the original, then the options for this fragment.
    scratch.set(packet.subarray(0, IPV4_MIN_HEADER_LENGTH), 0);
    if (first) {
      scratch.set(packet.subarray(IPV4_MIN_HEADER_LENGTH, firstHeaderLength), IPV4_MIN_HEADER_LENGTH);
    } else {
      scratch.set(laterOptions.subarray(0, paddedCopiedLength), IPV4_MIN_HEADER_LENGTH);
    }
    scratch[Field.VERSION_IHL] = 0x40 | (headerLength / 4);
    setU16(scratch, Field.TOTAL_LENGTH, headerLength + length);
    const moreFragments = !last || originalMoreFragments;
    const flags = getU16(packet, Field.FLAGS_FRAGMENT_OFFSET) & FLAG_DF;
    setU16(scratch, Field.FLAGS_FRAGMENT_OFFSET, flags | (moreFragments ? FLAG_MF : 0) | ((originalOffset + position) / 8));
    setIpv4HeaderChecksum(scratch, 0);
    scratch.set(packet.subarray(firstHeaderLength + position, firstHeaderLength + position + length), headerLength);

    emit(scratch.subarray(0, headerLength + length));
    position += length;
    first = false;
  }
}

/** How many fragments `fragmentIpv4` makes for a packet without options (for sizing and tests). */
export function ipv4FragmentCount(totalLength: number, mtu: number, headerLength = IPV4_MIN_HEADER_LENGTH): number {
  if (totalLength <= mtu) return 1;
  const room = (mtu - headerLength) & ~7;
  return Math.ceil((totalLength - headerLength) / room);
}
