/**
 * MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), RFC 4760 §3 and §4:
 * routes of another address family (here IPv6 unicast) ride in these two
 * optional attributes instead of the IPv4-only NEXT_HOP / NLRI fields.
 *
 * MP_REACH_NLRI value:                  MP_UNREACH_NLRI value:
 * +---------------------------------+  +---------------------------------+
 * | AFI (2)                         |  | AFI (2)                         |
 * | SAFI (1)                        |  | SAFI (1)                        |
 * | Length of Next Hop Address (1)  |  | Withdrawn Routes (variable)     |
 * | Network Address of Next Hop     |  +---------------------------------+
 * | Reserved (1)                    |
 * | NLRI (variable)                 |
 * +---------------------------------+
 *
 * An IPv6 next hop is 16 bytes (global) or 32 (global + link-local,
 * RFC 2545 §3). RFC 7606 §7.11: a malformed MP attribute means the NLRI
 * cannot be found, so the session is reset.
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { ErrorCode, UpdateSubcode, bgpFail, bgpOk, type BgpResult } from './errors.js';
import { Afi, Safi, emitPrefix, parsePrefixes, prefixEncodedLength, type AfiName, type Prefix } from './prefix.js';

export const MpReachField = { afi: 0, safi: 2, nextHopLength: 3, nextHop: 4 } as const;
export const MpUnreachField = { afi: 0, safi: 2, withdrawn: 3 } as const;

export interface MpReach {
  readonly afi: number;
  readonly safi: number;
  /** The raw next hop: 4, 16 or 32 bytes. */
  readonly nextHop: Uint8Array;
  /** Parsed for IPv4/IPv6 unicast; empty (and `supported` false) for other families. */
  readonly nlri: readonly Prefix[];
  readonly supported: boolean;
}

export interface MpUnreach {
  readonly afi: number;
  readonly safi: number;
  readonly withdrawn: readonly Prefix[];
  readonly supported: boolean;
}

function familyOf(afi: number, safi: number): AfiName | undefined {
  if (safi !== Safi.unicast) return undefined;
  return afi === Afi.ipv4 ? 'ipv4' : afi === Afi.ipv6 ? 'ipv6' : undefined;
}

const malformed = (base: number, detail: string) => bgpFail(ErrorCode.updateMessage, UpdateSubcode.optionalAttributeError, base, detail);

export function parseMpReach(value: Uint8Array, base: number): BgpResult<MpReach> {
  if (value.length < 5) return malformed(base, `MP_REACH_NLRI of ${value.length} bytes`);
  const afi = getU16(value, MpReachField.afi);
  const safi = value[MpReachField.safi]!;
  const nhLength = value[MpReachField.nextHopLength]!;
  const nlriStart = MpReachField.nextHop + nhLength + 1;
  if (nlriStart > value.length) return malformed(base, `MP_REACH_NLRI next hop length ${nhLength} overruns`);
  const nextHop = value.slice(MpReachField.nextHop, MpReachField.nextHop + nhLength);
  const family = familyOf(afi, safi);
  if (!family) return bgpOk({ afi, safi, nextHop, nlri: [], supported: false });
  const okLengths = family === 'ipv4' ? [4] : [16, 32];
  if (!okLengths.includes(nhLength)) return malformed(base + MpReachField.nextHopLength, `${family} next hop of ${nhLength} bytes`);
  const nlri = parsePrefixes(value.subarray(nlriStart), family, base + nlriStart);
  if (!nlri.ok) return nlri;
  return bgpOk({ afi, safi, nextHop, nlri: nlri.value, supported: true });
}

export function parseMpUnreach(value: Uint8Array, base: number): BgpResult<MpUnreach> {
  if (value.length < 3) return malformed(base, `MP_UNREACH_NLRI of ${value.length} bytes`);
  const afi = getU16(value, MpUnreachField.afi);
  const safi = value[MpUnreachField.safi]!;
  const family = familyOf(afi, safi);
  if (!family) return bgpOk({ afi, safi, withdrawn: [], supported: false });
  const withdrawn = parsePrefixes(value.subarray(MpUnreachField.withdrawn), family, base + MpUnreachField.withdrawn);
  if (!withdrawn.ok) return withdrawn;
  return bgpOk({ afi, safi, withdrawn: withdrawn.value, supported: true });
}

export function mpReachLength(m: MpReach): number {
  return MpReachField.nextHop + m.nextHop.length + 1 + m.nlri.reduce((n, p) => n + prefixEncodedLength(p), 0);
}

export function emitMpReach(m: MpReach, buf: Uint8Array, offset: number): number {
  setU16(buf, offset + MpReachField.afi, m.afi);
  buf[offset + MpReachField.safi] = m.safi;
  buf[offset + MpReachField.nextHopLength] = m.nextHop.length;
  buf.set(m.nextHop, offset + MpReachField.nextHop);
  let at = offset + MpReachField.nextHop + m.nextHop.length;
  buf[at++] = 0; // reserved
  for (const p of m.nlri) at += emitPrefix(p, buf, at);
  return at - offset;
}

export function mpUnreachLength(m: MpUnreach): number {
  return MpUnreachField.withdrawn + m.withdrawn.reduce((n, p) => n + prefixEncodedLength(p), 0);
}

export function emitMpUnreach(m: MpUnreach, buf: Uint8Array, offset: number): number {
  setU16(buf, offset + MpUnreachField.afi, m.afi);
  buf[offset + MpUnreachField.safi] = m.safi;
  let at = offset + MpUnreachField.withdrawn;
  for (const p of m.withdrawn) at += emitPrefix(p, buf, at);
  return at - offset;
}
