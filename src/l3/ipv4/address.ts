/**
 * IPv4 addresses and prefixes.
 *
 * Read first: RFC 791 §2.3 (addressing), RFC 4632 (CIDR notation and
 * longest-prefix thinking), RFC 6890 (special-purpose ranges).
 *
 * An address is an unsigned 32-bit number (0x0a000001 = 10.0.0.1): compare
 * with `===`, mask with `&` followed by `>>> 0` to stay unsigned, and use it
 * as a Map key without allocating a string.
 */
import { getU32, setU32 } from '../../core/bytes.js';

export type Ipv4Address = number;

export interface Ipv4Cidr {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
}

export const IPV4_ANY: Ipv4Address = 0;
/** Limited broadcast (RFC 919 §7, RFC 1122 §3.2.1.3 (c)). */
export const IPV4_BROADCAST: Ipv4Address = 0xffffffff;

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Strict dotted quad: four decimal octets 0..255, no leading zeros (a leading
 * zero means octal to inet_aton, so "010.0.0.1" is refused rather than guessed).
 */
export function parseIpv4(text: string): Ipv4Address | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(address: Ipv4Address): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** Reads an address stored big-endian at `offset`. */
export function readIpv4(buf: Uint8Array, offset: number): Ipv4Address {
  return getU32(buf, offset);
}

export function writeIpv4(buf: Uint8Array, offset: number, address: Ipv4Address): void {
  setU32(buf, offset, address);
}

/** The netmask for a prefix length: 24 → 0xffffff00 (255.255.255.0). */
export function prefixMask(prefixLength: number): number {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new RangeError(`prefix length ${prefixLength} is not in 0..32`);
  }
  // A shift by 32 is a shift by 0 in JS, hence the special case.
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** "10.77.0.0/24" (host bits may be set: "10.77.0.1/24" is an interface address). */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9][0-9]?)$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > 32) return undefined;
  return { address, prefixLength };
}

export function formatIpv4Cidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.address)}/${cidr.prefixLength}`;
}

/** The network address: host bits cleared. */
export function networkOf(cidr: Ipv4Cidr): Ipv4Address {
  return (cidr.address & prefixMask(cidr.prefixLength)) >>> 0;
}

/** The directed broadcast address: host bits set (RFC 919, RFC 1812 §5.3.5.2). */
export function broadcastOf(cidr: Ipv4Cidr): Ipv4Address {
  return (cidr.address | ~prefixMask(cidr.prefixLength)) >>> 0;
}

export function inCidr(address: Ipv4Address, cidr: Ipv4Cidr): boolean {
  const mask = prefixMask(cidr.prefixLength);
  return ((address & mask) >>> 0) === ((cidr.address & mask) >>> 0);
}

/** 224.0.0.0/4 (RFC 5771). */
export function isMulticastIpv4(address: Ipv4Address): boolean {
  return address >>> 28 === 0xe;
}

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3 (g)). */
export function isLoopbackIpv4(address: Ipv4Address): boolean {
  return address >>> 24 === 127;
}

/** 169.254.0.0/16 (RFC 3927). */
export function isLinkLocalIpv4(address: Ipv4Address): boolean {
  return address >>> 16 === 0xa9fe;
}

/** 10/8, 172.16/12, 192.168/16 (RFC 1918). */
export function isPrivateIpv4(address: Ipv4Address): boolean {
  return address >>> 24 === 10 || address >>> 20 === 0xac1 || address >>> 16 === 0xc0a8;
}
