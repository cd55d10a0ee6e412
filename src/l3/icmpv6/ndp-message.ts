/**
 * Neighbor Discovery messages and their options.
 *
 * Read first: RFC 4861 §4 (the five messages and the options), §6.1.1-2 and
 * §7.1.1-2 (validity checks, done by ./ndp.ts), RFC 8106 §5.1 (RDNSS: DNS
 * servers in router advertisements), RFC 4191 §2.2 (router preference),
 * RFC 3971 §5.3.2 / RFC 7527 (the Nonce option Linux puts in DAD probes).
 *
 *   Router Solicitation (133)         Router Advertisement (134)
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   | Type  | Code  |   Checksum    | | Type  | Code  |   Checksum    |
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   |           Reserved            | |CurHLim|M|O|Prf|Router Lifetime|
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   |   Options ...                   |        Reachable Time         |
 *                                     +-------+-------+-------+-------+
 *                                     |         Retrans Timer         |
 *                                     +-------+-------+-------+-------+
 *                                     |   Options ...
 *
 *   Neighbor Solicitation (135)       Neighbor Advertisement (136)
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   | Type  | Code  |   Checksum    | | Type  | Code  |   Checksum    |
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   |           Reserved            | |R|S|O|       Reserved          |
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   |   Target Address (16 octets)  | |   Target Address (16 octets)  |
 *   +-------+-------+-------+-------+ +-------+-------+-------+-------+
 *   |   Options ...                   |   Options ...
 *
 *   Redirect (137): Reserved (4), Target Address (16), Destination Address (16), Options.
 *
 *   Option: Type (1), Length (1, in 8-octet units including these two; 0 is invalid), data.
 *     1/2  Source/Target Link-Layer Address: the 6-byte MAC (length 1)
 *     3    Prefix Information (length 4): Prefix Length, L|A flags, Valid Lifetime,
 *          Preferred Lifetime, Reserved2, Prefix (16)
 *     5    MTU (length 1): Reserved (2), MTU (4)
 *     14   Nonce: 6 or more bytes
 *     25   RDNSS (length 1 + 2n): Reserved (2), Lifetime (4), n addresses
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { ok, type ParseResult } from '../../core/parse-result.js';
import { readMac, writeMac, type MacAddress } from '../../l2/mac-address.js';
import { formatIpv6, type Ipv6Address } from '../ipv6/address.js';
import { Icmpv6Type, icmpv6TypeName, setIcmpv6Checksum } from './message.js';

export const NdpField = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** RA: Cur Hop Limit. */
  CUR_HOP_LIMIT: 4,
  /** RA: M, O, Prf flags. NA: R, S, O flags (the first byte of the reserved word). */
  FLAGS: 5,
  NA_FLAGS: 4,
  ROUTER_LIFETIME: 6,
  REACHABLE_TIME: 8,
  RETRANS_TIMER: 12,
  /** NS, NA, Redirect. */
  TARGET: 8,
  /** Redirect. */
  DESTINATION: 24,
} as const;

/** Where the options start, per message type. */
const OPTIONS_OFFSET: Record<number, number> = {
  [Icmpv6Type.RouterSolicitation]: 8,
  [Icmpv6Type.RouterAdvertisement]: 16,
  [Icmpv6Type.NeighborSolicitation]: 24,
  [Icmpv6Type.NeighborAdvertisement]: 24,
  [Icmpv6Type.Redirect]: 40,
};

/** RFC 4861 §4: every NDP message is sent with hop limit 255; §6.1/§7.1 receivers drop others (off-link senders cannot forge it). */
export const NDP_HOP_LIMIT = 255;

export function isNdpType(type: number): boolean {
  return OPTIONS_OFFSET[type] !== undefined;
}

export const NdpOptionType = {
  SourceLinkLayerAddress: 1,
  TargetLinkLayerAddress: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
  Nonce: 14,
  RouteInformation: 24,
  RecursiveDnsServer: 25,
  DnsSearchList: 31,
} as const;

const RA_MANAGED = 0x80;
const RA_OTHER = 0x40;
const NA_ROUTER = 0x80;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;
const PREFIX_ON_LINK = 0x80;
const PREFIX_AUTONOMOUS = 0x40;

/** Prefix Information option: 32 bytes (RFC 4861 §4.6.2). */
const PREFIX_OPTION_LENGTH = 32;
const LINK_LAYER_OPTION_LENGTH = 8;
const MTU_OPTION_LENGTH = 8;

/** RFC 4191 §2.1: the 2-bit router preference, as a signed number (01 high, 00 medium, 11 low, 10 reserved). */
export const RouterPreference = { High: 1, Medium: 0, Low: -1 } as const;

export type NdpOption =
  | { readonly kind: 'sourceLinkLayerAddress'; readonly mac: MacAddress }
  | { readonly kind: 'targetLinkLayerAddress'; readonly mac: MacAddress }
  | {
      readonly kind: 'prefixInformation';
      readonly prefixLength: number;
      /** L: the prefix is on-link. */
      readonly onLink: boolean;
      /** A: use it for stateless address autoconfiguration (RFC 4862). */
      readonly autonomous: boolean;
      /** Seconds; 0xffffffff = infinity. */
      readonly validLifetime: number;
      readonly preferredLifetime: number;
      readonly prefix: Ipv6Address;
    }
  | { readonly kind: 'mtu'; readonly mtu: number }
  | { readonly kind: 'nonce'; readonly nonce: Uint8Array }
  | { readonly kind: 'recursiveDnsServer'; readonly lifetime: number; readonly servers: readonly Ipv6Address[] }
  /** Anything else: kept raw so it can be counted and printed. `data` excludes type and length. */
  | { readonly kind: 'unknown'; readonly type: number; readonly data: Uint8Array };

export type NdpMessage =
  | { readonly type: typeof Icmpv6Type.RouterSolicitation; readonly options: readonly NdpOption[] }
  | {
      readonly type: typeof Icmpv6Type.RouterAdvertisement;
      readonly curHopLimit: number;
      readonly managed: boolean;
      readonly other: boolean;
      readonly routerPreference: number;
      /** Seconds; 0 = not a default router. */
      readonly routerLifetime: number;
      /** Milliseconds; 0 = unspecified. */
      readonly reachableTime: number;
      readonly retransTimer: number;
      readonly options: readonly NdpOption[];
    }
  | { readonly type: typeof Icmpv6Type.NeighborSolicitation; readonly target: Ipv6Address; readonly options: readonly NdpOption[] }
  | {
      readonly type: typeof Icmpv6Type.NeighborAdvertisement;
      readonly router: boolean;
      readonly solicited: boolean;
      readonly override: boolean;
      readonly target: Ipv6Address;
      readonly options: readonly NdpOption[];
    }
  | { readonly type: typeof Icmpv6Type.Redirect; readonly target: Ipv6Address; readonly destination: Ipv6Address; readonly options: readonly NdpOption[] };

/** The first option of `kind` in a message, typed. */
export function findNdpOption<K extends NdpOption['kind']>(options: readonly NdpOption[], kind: K): Extract<NdpOption, { kind: K }> | undefined {
  return options.find((o) => o.kind === kind) as Extract<NdpOption, { kind: K }> | undefined;
}

function parseOption(type: number, bytes: Uint8Array): NdpOption {
  const length = bytes.length;
  switch (type) {
    case NdpOptionType.SourceLinkLayerAddress:
    case NdpOptionType.TargetLinkLayerAddress:
      if (length !== LINK_LAYER_OPTION_LENGTH) break; // other link layers have other lengths
      return { kind: type === NdpOptionType.SourceLinkLayerAddress ? 'sourceLinkLayerAddress' : 'targetLinkLayerAddress', mac: readMac(bytes, 2) };
    case NdpOptionType.PrefixInformation:
      if (length !== PREFIX_OPTION_LENGTH) break;
      return {
        kind: 'prefixInformation',
        prefixLength: bytes[2]!,
        onLink: (bytes[3]! & PREFIX_ON_LINK) !== 0,
        autonomous: (bytes[3]! & PREFIX_AUTONOMOUS) !== 0,
        validLifetime: getU32(bytes, 4),
        preferredLifetime: getU32(bytes, 8),
        prefix: bytes.slice(16, 32),
      };
    case NdpOptionType.Mtu:
      if (length !== MTU_OPTION_LENGTH) break;
      return { kind: 'mtu', mtu: getU32(bytes, 4) };
    case NdpOptionType.Nonce:
      return { kind: 'nonce', nonce: bytes.slice(2) };
    case NdpOptionType.RecursiveDnsServer: {
      // RFC 8106 §5.1: Length is 1 + 2n, n ≥ 1.
      if (length < 24 || (length - 8) % 16 !== 0) break;
      const servers: Ipv6Address[] = [];
      for (let i = 8; i < length; i += 16) servers.push(bytes.slice(i, i + 16));
      return { kind: 'recursiveDnsServer', lifetime: getU32(bytes, 4), servers };
    }
  }
  return { kind: 'unknown', type, data: bytes.slice(2) };
}

/**
 * Parses an NDP message (checksum already verified by the caller, which has
 * the addresses). Errors: 'truncated' for a message shorter than its fixed
 * part, 'badValue' for code ≠ 0, 'badOption' for an option of length 0 or
 * one that runs past the end (RFC 4861 §6.1, §7.1: such messages are invalid).
 */
export function parseNdp(buf: Uint8Array): ParseResult<NdpMessage> {
  const type = buf.length > 0 ? buf[0]! : -1;
  const optionsOffset = OPTIONS_OFFSET[type];
  if (optionsOffset === undefined) return { ok: false, error: { reason: 'unsupported', offset: 0, detail: `ICMPv6 type ${type} is not NDP` } };
  if (buf.length < optionsOffset) return { ok: false, error: { reason: 'truncated', offset: 0, detail: `${icmpv6TypeName(type)} of ${buf.length} bytes < ${optionsOffset}` } };
  if (buf[NdpField.CODE] !== 0) return { ok: false, error: { reason: 'badValue', offset: NdpField.CODE, detail: `code ${buf[NdpField.CODE]}` } };
  const options: NdpOption[] = [];
  for (let i = optionsOffset; i < buf.length; ) {
    if (i + 2 > buf.length) return { ok: false, error: { reason: 'badOption', offset: i, detail: 'option header cut off' } };
    const length = buf[i + 1]! * 8;
    if (length === 0) return { ok: false, error: { reason: 'badOption', offset: i + 1, detail: `option ${buf[i]} has length 0` } };
    if (i + length > buf.length) return { ok: false, error: { reason: 'badOption', offset: i + 1, detail: `option ${buf[i]} of ${length} bytes, ${buf.length - i} left` } };
    options.push(parseOption(buf[i]!, buf.subarray(i, i + length)));
    i += length;
  }
  switch (type) {
    case Icmpv6Type.RouterSolicitation:
      return ok({ type, options });
    case Icmpv6Type.RouterAdvertisement: {
      const flags = buf[NdpField.FLAGS]!;
      const prf = (flags >> 3) & 0x03;
      return ok({
        type,
        curHopLimit: buf[NdpField.CUR_HOP_LIMIT]!,
        managed: (flags & RA_MANAGED) !== 0,
        other: (flags & RA_OTHER) !== 0,
        // RFC 4191 §2.2: the reserved value 10 is treated as medium.
        routerPreference: prf === 1 ? RouterPreference.High : prf === 3 ? RouterPreference.Low : RouterPreference.Medium,
        routerLifetime: getU16(buf, NdpField.ROUTER_LIFETIME),
        reachableTime: getU32(buf, NdpField.REACHABLE_TIME),
        retransTimer: getU32(buf, NdpField.RETRANS_TIMER),
        options,
      });
    }
    case Icmpv6Type.NeighborSolicitation:
      return ok({ type, target: buf.slice(NdpField.TARGET, NdpField.TARGET + 16), options });
    case Icmpv6Type.NeighborAdvertisement: {
      const flags = buf[NdpField.NA_FLAGS]!;
      return ok({
        type,
        router: (flags & NA_ROUTER) !== 0,
        solicited: (flags & NA_SOLICITED) !== 0,
        override: (flags & NA_OVERRIDE) !== 0,
        target: buf.slice(NdpField.TARGET, NdpField.TARGET + 16),
        options,
      });
    }
    default:
      return ok({
        type: Icmpv6Type.Redirect,
        target: buf.slice(NdpField.TARGET, NdpField.TARGET + 16),
        destination: buf.slice(NdpField.DESTINATION, NdpField.DESTINATION + 16),
        options,
      });
  }
}

function optionLength(o: NdpOption): number {
  switch (o.kind) {
    case 'sourceLinkLayerAddress':
    case 'targetLinkLayerAddress':
      return LINK_LAYER_OPTION_LENGTH;
    case 'prefixInformation':
      return PREFIX_OPTION_LENGTH;
    case 'mtu':
      return MTU_OPTION_LENGTH;
    case 'nonce':
      return (2 + o.nonce.length + 7) & ~7;
    case 'recursiveDnsServer':
      return 8 + 16 * o.servers.length;
    case 'unknown':
      return (2 + o.data.length + 7) & ~7;
  }
}

function emitOption(o: NdpOption, buf: Uint8Array, at: number): number {
  const length = optionLength(o);
  buf.fill(0, at, at + length);
  buf[at + 1] = length / 8;
  switch (o.kind) {
    case 'sourceLinkLayerAddress':
    case 'targetLinkLayerAddress':
      buf[at] = o.kind === 'sourceLinkLayerAddress' ? NdpOptionType.SourceLinkLayerAddress : NdpOptionType.TargetLinkLayerAddress;
      writeMac(buf, at + 2, o.mac);
      break;
    case 'prefixInformation':
      buf[at] = NdpOptionType.PrefixInformation;
      buf[at + 2] = o.prefixLength;
      buf[at + 3] = (o.onLink ? PREFIX_ON_LINK : 0) | (o.autonomous ? PREFIX_AUTONOMOUS : 0);
      setU32(buf, at + 4, o.validLifetime >>> 0);
      setU32(buf, at + 8, o.preferredLifetime >>> 0);
      buf.set(o.prefix.subarray(0, 16), at + 16);
      break;
    case 'mtu':
      buf[at] = NdpOptionType.Mtu;
      setU32(buf, at + 4, o.mtu);
      break;
    case 'nonce':
      buf[at] = NdpOptionType.Nonce;
      buf.set(o.nonce, at + 2);
      break;
    case 'recursiveDnsServer':
      buf[at] = NdpOptionType.RecursiveDnsServer;
      setU32(buf, at + 4, o.lifetime >>> 0);
      o.servers.forEach((s, i) => buf.set(s.subarray(0, 16), at + 8 + 16 * i));
      break;
    case 'unknown':
      buf[at] = o.type;
      buf.set(o.data, at + 2);
      break;
  }
  return length;
}

/** Bytes `emitNdp` writes. */
export function ndpLength(message: NdpMessage): number {
  let n = OPTIONS_OFFSET[message.type]!;
  for (const o of message.options) n += optionLength(o);
  return n;
}

/** Writes the message at `buf[offset]` with its checksum for `source` → `destination`; returns its length. */
export function emitNdp(message: NdpMessage, buf: Uint8Array, offset: number, source: Ipv6Address, destination: Ipv6Address): number {
  const length = ndpLength(message);
  if (offset + length > buf.length) throw new RangeError('buffer too small for the NDP message');
  const optionsOffset = OPTIONS_OFFSET[message.type]!;
  buf.fill(0, offset, offset + optionsOffset);
  buf[offset + NdpField.TYPE] = message.type;
  switch (message.type) {
    case Icmpv6Type.RouterAdvertisement: {
      const prf = message.routerPreference > 0 ? 1 : message.routerPreference < 0 ? 3 : 0;
      buf[offset + NdpField.CUR_HOP_LIMIT] = message.curHopLimit;
      buf[offset + NdpField.FLAGS] = (message.managed ? RA_MANAGED : 0) | (message.other ? RA_OTHER : 0) | (prf << 3);
      setU16(buf, offset + NdpField.ROUTER_LIFETIME, message.routerLifetime);
      setU32(buf, offset + NdpField.REACHABLE_TIME, message.reachableTime);
      setU32(buf, offset + NdpField.RETRANS_TIMER, message.retransTimer);
      break;
    }
    case Icmpv6Type.NeighborSolicitation:
      buf.set(message.target, offset + NdpField.TARGET);
      break;
    case Icmpv6Type.NeighborAdvertisement:
      buf[offset + NdpField.NA_FLAGS] = (message.router ? NA_ROUTER : 0) | (message.solicited ? NA_SOLICITED : 0) | (message.override ? NA_OVERRIDE : 0);
      buf.set(message.target, offset + NdpField.TARGET);
      break;
    case Icmpv6Type.Redirect:
      buf.set(message.target, offset + NdpField.TARGET);
      buf.set(message.destination, offset + NdpField.DESTINATION);
      break;
  }
  let at = offset + optionsOffset;
  for (const o of message.options) at += emitOption(o, buf, at);
  setIcmpv6Checksum(buf, offset, length, source, destination);
  return length;
}

/**
 * tcpdump style: "ICMP6, neighbor solicitation, who has fd77::1, length 32",
 * "ICMP6, neighbor advertisement, tgt is fd77::1, length 32",
 * "ICMP6, router advertisement, length 64".
 */
export function describeNdp(buf: Uint8Array): string {
  const type = buf.length > 0 ? buf[0]! : -1;
  const parsed = parseNdp(buf);
  if (!parsed.ok) return `ICMP6, ${icmpv6TypeName(type)} [${parsed.error.reason}], length ${buf.length}`;
  const m = parsed.value;
  switch (m.type) {
    case Icmpv6Type.NeighborSolicitation:
      return `ICMP6, neighbor solicitation, who has ${formatIpv6(m.target)}, length ${buf.length}`;
    case Icmpv6Type.NeighborAdvertisement: {
      const flags = `${m.router ? 'R' : ''}${m.solicited ? 'S' : ''}${m.override ? 'O' : ''}`;
      return `ICMP6, neighbor advertisement, tgt is ${formatIpv6(m.target)}${flags ? ` [${flags}]` : ''}, length ${buf.length}`;
    }
    case Icmpv6Type.RouterAdvertisement: {
      const prefixes = m.options.filter((o) => o.kind === 'prefixInformation').map((o) => `${formatIpv6(o.prefix)}/${o.prefixLength}`);
      return `ICMP6, router advertisement, lifetime ${m.routerLifetime}s${prefixes.length ? `, prefix ${prefixes.join(' ')}` : ''}, length ${buf.length}`;
    }
    case Icmpv6Type.Redirect:
      return `ICMP6, redirect, ${formatIpv6(m.destination)} to ${formatIpv6(m.target)}, length ${buf.length}`;
    default:
      return `ICMP6, router solicitation, length ${buf.length}`;
  }
}
