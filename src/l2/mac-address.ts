/**
 * MAC addresses (IEEE 802 48-bit EUI-48).
 *
 * Read first: IEEE 802-2014 §8.2 (address format), RFC 7042 §2.1 (the two
 * low bits of the first octet).
 *
 *   first octet, as transmitted first on the wire:
 *    7 6 5 4 3 2 1 0
 *   +-+-+-+-+-+-+-+-+
 *   |   OUI bits  |U|I|   I = Individual/Group bit (1 = multicast, all-ones = broadcast)
 *   +-+-+-+-+-+-+-+-+     U = Universal/Local bit (1 = locally administered)
 *
 * A MAC address is a plain number: 48 bits fit exactly in a JS number
 * (2^53), so it compares with `===`, keys a Map without a string, and costs
 * no allocation on the hot path. The first octet is the most significant:
 * 02:00:00:00:00:01 is 0x0200_0000_0001.
 */
import { getU16, getU32, setU16, setU32 } from '../core/bytes.js';
import type { Random } from '../core/time.js';

export type MacAddress = number;

/** Bytes in a MAC address. */
export const MAC_LENGTH = 6;
/** ff:ff:ff:ff:ff:ff (IEEE 802-2014 §8.2.2: all ones = every station). */
export const BROADCAST_MAC: MacAddress = 0xffff_ffff_ffff;
/** 00:00:00:00:00:00: "unknown" in an ARP request's target hardware address (RFC 5227 §2.1.1). */
export const ZERO_MAC: MacAddress = 0;

const TWO_32 = 0x1_0000_0000;
const TWO_40 = 0x100_0000_0000;

export function readMac(buf: Uint8Array, offset: number): MacAddress {
  return getU16(buf, offset) * TWO_32 + getU32(buf, offset + 2);
}

export function writeMac(buf: Uint8Array, offset: number, mac: MacAddress): void {
  setU16(buf, offset, Math.floor(mac / TWO_32));
  // `>>> 0` takes the low 32 bits (ToUint32 is exact for integers below 2^53).
  setU32(buf, offset + 2, mac >>> 0);
}

/** True for a valid 48-bit address value (an integer in 0 .. 2^48-1). */
export function isMac(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= BROADCAST_MAC;
}

/** "02:00:00:00:00:01": lower-case, colon-separated, as `ip link` and tcpdump print it. */
export function formatMac(mac: MacAddress): string {
  const hex = mac.toString(16).padStart(12, '0');
  return `${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
}

const MAC_TEXT = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

/** Six two-digit hex octets separated by `:` (or `-`, Windows style, used consistently). */
export function parseMac(text: string): MacAddress | undefined {
  if (!MAC_TEXT.test(text)) return undefined;
  return parseInt(text.replace(/[:-]/g, ''), 16);
}

function firstOctet(mac: MacAddress): number {
  return Math.floor(mac / TWO_40);
}

/** The I/G bit: group (multicast) addresses, broadcast included. Never a valid source address. */
export function isMulticastMac(mac: MacAddress): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

export function isBroadcastMac(mac: MacAddress): boolean {
  return mac === BROADCAST_MAC;
}

/** Individual (unicast) and not all-zero. */
export function isUnicastMac(mac: MacAddress): boolean {
  return mac !== ZERO_MAC && !isMulticastMac(mac);
}

/** The U/L bit: locally administered (not burnt in by a vendor). */
export function isLocalMac(mac: MacAddress): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}

/**
 * A random locally administered unicast address (U/L = 1, I/G = 0), the same
 * kind Linux picks for a TAP without a configured address (eth_random_addr).
 */
export function randomLocalMac(random: Random): MacAddress {
  const first = (random.u32() & 0xfc) | 0x02;
  const middle = random.u32() & 0xff;
  return first * TWO_40 + middle * TWO_32 + random.u32();
}
