/**
 * IPv6 addresses and prefixes.
 *
 * Read first: RFC 4291 (the addressing architecture: §2.2 text forms, §2.5.6
 * link-local, §2.7 multicast and its scopes, §2.7.1 solicited-node groups,
 * appendix A the modified EUI-64 interface identifier), RFC 5952 (the one
 * canonical text form that `formatIpv6` prints), RFC 2464 §7 (the Ethernet
 * MAC of a multicast group), RFC 4193 (fc00::/7 unique local addresses, like
 * the lab's fd77::/64).
 *
 * An address is a 16-byte `Uint8Array` in network order, exactly as on the
 * wire. Treat it as immutable: getters on packet views return views into
 * the packet (valid only while the packet is), so copy with `.slice()` what
 * must be kept. Compare with `ipv6Equal` (never `===`), and key Maps with
 * `ipv6Key` (32 hex digits; `ipv6FromKey` turns it back).
 */

export type Ipv6Address = Uint8Array;

export const IPV6_ADDRESS_LENGTH = 16;

export interface Ipv6Cidr {
  readonly address: Ipv6Address;
  readonly prefixLength: number;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/** Builds a constant from text; throws on a typo (programmer error). */
function constant(text: string): Ipv6Address {
  const a = parseIpv6(text);
  if (!a) throw new Error(`bad IPv6 constant ${text}`);
  return a;
}

/** :: (RFC 4291 §2.5.2): "this host, no address yet", the source of DAD probes. */
export const IPV6_UNSPECIFIED: Ipv6Address = new Uint8Array(16);
/** ::1 (RFC 4291 §2.5.3): never on a wire. */
export const IPV6_LOOPBACK: Ipv6Address = constant('::1');
/** ff02::1, all nodes on the link (RFC 4291 §2.7.1). */
export const IPV6_ALL_NODES: Ipv6Address = constant('ff02::1');
/** ff02::2, all routers on the link (RFC 4291 §2.7.1). */
export const IPV6_ALL_ROUTERS: Ipv6Address = constant('ff02::2');
/** ff02::16, all MLDv2-capable routers: where MLDv2 reports go (RFC 3810 §5.2.14). */
export const IPV6_ALL_MLDV2_ROUTERS: Ipv6Address = constant('ff02::16');

/** Multicast scopes (RFC 4291 §2.7, RFC 7346): the low nibble of the second byte. */
export const MulticastScope = {
  InterfaceLocal: 0x1,
  LinkLocal: 0x2,
  RealmLocal: 0x3,
  AdminLocal: 0x4,
  SiteLocal: 0x5,
  OrganizationLocal: 0x8,
  Global: 0xe,
} as const;

// --- text forms ---

/**
 * RFC 4291 §2.2: eight groups of 1-4 hex digits, one `::` for a run of zero
 * groups, and optionally a dotted quad for the last 32 bits
 * ("::ffff:10.0.0.1"). Zone indexes ("fe80::1%eth0") are refused: an
 * address here names no interface. Returns undefined for anything else.
 */
export function parseIpv6(text: string): Ipv6Address | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const double = text.indexOf('::');
  if (double >= 0 && text.indexOf('::', double + 1) >= 0) return undefined;
  const head = double >= 0 ? text.slice(0, double) : text;
  const tail = double >= 0 ? text.slice(double + 2) : '';
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const tailWords: number[] = [];
  const all = [...headGroups, ...tailGroups];
  for (let i = 0; i < all.length; i++) {
    const group = all[i]!;
    const target = i < headGroups.length ? words : tailWords;
    if (HEX_GROUP.test(group)) {
      target.push(parseInt(group, 16));
      continue;
    }
    // A dotted quad may only end the text: the last group, and not the last one before a trailing "::".
    const quad = DOTTED_QUAD.exec(group);
    if (!quad || i !== all.length - 1 || target !== (double >= 0 ? tailWords : words)) return undefined;
    const octets = quad.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    target.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
  }
  const total = words.length + tailWords.length;
  if (double < 0 ? total !== 8 : total > 7) return undefined;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  const start = 8 - tailWords.length;
  tailWords.forEach((w, i) => {
    out[(start + i) * 2] = w >> 8;
    out[(start + i) * 2 + 1] = w & 0xff;
  });
  return out;
}

/**
 * RFC 5952 §4: lower case, no leading zeros, the longest run of two or more
 * zero groups as `::` (the first one on a tie), and ::ffff:a.b.c.d for
 * IPv4-mapped addresses (§5).
 */
export function formatIpv6(a: Ipv6Address, offset = 0): string {
  const words = new Array<number>(8);
  for (let i = 0; i < 8; i++) words[i] = (a[offset + i * 2]! << 8) | a[offset + i * 2 + 1]!;
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `::ffff:${a[offset + 12]}.${a[offset + 13]}.${a[offset + 14]}.${a[offset + 15]}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => words.slice(from, to).map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** "fd77::/64" or "fd77::1/64" (host bits allowed: an interface address). */
export function parseIpv6Cidr(text: string): Ipv6Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv6(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!address || !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > 128) return undefined;
  return { address, prefixLength };
}

export function formatIpv6Cidr(cidr: Ipv6Cidr): string {
  return `${formatIpv6(cidr.address)}/${cidr.prefixLength}`;
}

// --- keys, comparison, bytes ---

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A string key for Maps: 32 lower-case hex digits (cheaper than the text form, and unambiguous). */
export function ipv6Key(a: Ipv6Address, offset = 0): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += HEX[a[offset + i]!];
  return s;
}

/** The address back from an `ipv6Key`. */
export function ipv6FromKey(key: string): Ipv6Address {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(key.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function ipv6Equal(a: Ipv6Address, b: Ipv6Address): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A copy of the 16 bytes at `buf[offset]`, safe to keep after the packet is gone. */
export function readIpv6(buf: Uint8Array, offset: number): Ipv6Address {
  return buf.slice(offset, offset + 16);
}

export function writeIpv6(buf: Uint8Array, offset: number, a: Ipv6Address): void {
  buf.set(a.subarray(0, 16), offset);
}

// --- prefixes ---

/** The first `prefixLength` bits of `a`, the rest zero (a new array). */
export function prefixOf(a: Ipv6Address, prefixLength: number): Ipv6Address {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 128) {
    throw new RangeError(`prefix length ${prefixLength} is not in 0..128`);
  }
  const out = a.slice(0, 16);
  const full = prefixLength >> 3;
  const bits = prefixLength & 7;
  if (full < 16) {
    out[full] = bits === 0 ? 0 : out[full]! & (0xff << (8 - bits));
    out.fill(0, full + 1);
  }
  return out;
}

/** True when the first `cidr.prefixLength` bits of `a` equal those of `cidr.address`. */
export function inIpv6Cidr(a: Ipv6Address, cidr: Ipv6Cidr): boolean {
  const full = cidr.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== cidr.address[i]) return false;
  const bits = cidr.prefixLength & 7;
  if (bits === 0) return true;
  const mask = 0xff << (8 - bits);
  return (a[full]! & mask) === (cidr.address[full]! & mask);
}

/** `prefix` (its first `prefixLength` bits) followed by the low bits of `interfaceId` (8 bytes, RFC 4291 §2.5.1). */
export function withInterfaceId(prefix: Ipv6Address, interfaceId: Uint8Array): Ipv6Address {
  const out = prefixOf(prefix, 64);
  out.set(interfaceId.subarray(0, 8), 8);
  return out;
}

// --- kinds of address ---

export function isUnspecifiedIpv6(a: Ipv6Address): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

export function isLoopbackIpv6(a: Ipv6Address): boolean {
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** ff00::/8 (RFC 4291 §2.7). */
export function isMulticastIpv6(a: Ipv6Address): boolean {
  return a[0] === 0xff;
}

/** The scope nibble of a multicast address (RFC 4291 §2.7). */
export function multicastScope(a: Ipv6Address): number {
  return a[1]! & 0x0f;
}

/** fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocalIpv6(a: Ipv6Address): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2): an IPv4 address in IPv6 clothes, never on an IPv6 wire. */
export function isIpv4MappedIpv6(a: Ipv6Address): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/**
 * ff02::1:ffXX:XXXX, the solicited-node group of `a` (RFC 4291 §2.7.1): its
 * low 24 bits appended to ff02::1:ff00:0/104. NDP asks "who has `a`" there,
 * so only the few hosts sharing those bits wake up.
 */
export function solicitedNodeMulticast(a: Ipv6Address): Ipv6Address {
  const out = new Uint8Array(16);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = a[13]!;
  out[14] = a[14]!;
  out[15] = a[15]!;
  return out;
}

/** True for any ff02::1:ffXX:XXXX (what an NS with source :: must be sent to, RFC 4861 §7.1.1). */
export function isSolicitedNodeMulticast(a: Ipv6Address): boolean {
  if (a[0] !== 0xff || a[1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (a[i] !== 0) return false;
  return a[11] === 0x01 && a[12] === 0xff;
}

/** RFC 2464 §7: 33:33 followed by the group's last 32 bits. */
export function ipv6MulticastMac(group: Ipv6Address): number {
  return 0x3333_0000_0000 + ((group[12]! << 24) >>> 0) + (group[13]! << 16) + (group[14]! << 8) + group[15]!;
}

/**
 * The modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A,
 * RFC 2464 §4): ff:fe in the middle, the universal/local bit inverted.
 * 02:00:00:00:00:0a → 0000:00ff:fe00:000a.
 */
export function eui64InterfaceId(mac: number): Uint8Array {
  const b = new Uint8Array(6);
  const high = Math.floor(mac / 0x1_0000_0000);
  b[0] = (high >> 8) & 0xff;
  b[1] = high & 0xff;
  b[2] = (mac >>> 24) & 0xff;
  b[3] = (mac >>> 16) & 0xff;
  b[4] = (mac >>> 8) & 0xff;
  b[5] = mac & 0xff;
  return Uint8Array.of(b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!);
}

/** fe80::/64 + the EUI-64 identifier of `mac` (RFC 4862 §5.3). */
export function linkLocalFromMac(mac: number): Ipv6Address {
  const out = new Uint8Array(16);
  out[0] = 0xfe;
  out[1] = 0x80;
  out.set(eui64InterfaceId(mac), 8);
  return out;
}
