/**
 * Path attributes, RFC 4271 §4.3 and §5, with revised error handling
 * (RFC 7606 §3 and §7): what each attribute is, how long it must be, and
 * what a malformed one costs.
 *
 *  0                   1
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Attr. Flags  |Attr. Type Code|  then Attribute Length: 1 octet,
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  or 2 when Extended Length is set;
 *                                    then the value.
 * Flags: 0x80 Optional, 0x40 Transitive, 0x20 Partial, 0x10 Extended Length.
 *
 *  code attribute         flags  length   malformed → (RFC 7606 section)
 *   1   ORIGIN            WK     1        treat-as-withdraw (§7.1)
 *   2   AS_PATH           WK     var      treat-as-withdraw (§7.2)
 *   3   NEXT_HOP          WK     4        treat-as-withdraw (§7.3)
 *   4   MULTI_EXIT_DISC   O      4        treat-as-withdraw (§7.4)
 *   5   LOCAL_PREF        WK     4        treat-as-withdraw (§7.5)
 *   6   ATOMIC_AGGREGATE  WK     0        attribute discard (§7.6)
 *   7   AGGREGATOR        OT     6/8      attribute discard (§7.7)
 *   8   COMMUNITIES       OT     4n       treat-as-withdraw (§7.8, RFC 1997)
 *   9   ORIGINATOR_ID     O      4        treat-as-withdraw (§7.9, RFC 4456)
 *  10   CLUSTER_LIST      O      4n       treat-as-withdraw (§7.10, RFC 4456)
 *  14   MP_REACH_NLRI     O      var      session reset (§7.11, RFC 4760)
 *  15   MP_UNREACH_NLRI   O      var      session reset (§7.11)
 *  17   AS4_PATH          OT     var      attribute discard (RFC 6793 §6)
 *  18   AS4_AGGREGATOR    OT     8        attribute discard (RFC 6793 §6)
 * (WK = well-known: Optional bit 0, Transitive bit 1. O = optional
 * non-transitive, OT = optional transitive.) Flags that disagree with this
 * table make the attribute malformed (RFC 7606 §3 c). An unknown optional
 * attribute is kept when transitive (passed on with Partial set, RFC 4271
 * §5) and dropped when not; an unknown well-known one resets the session.
 *
 * Lengths that disagree with the Total Path Attribute Length (RFC 7606 §4):
 * an attribute whose length runs past the field, or fewer bytes left than an
 * attribute header, make the UPDATE treat-as-withdraw (the Total Path
 * Attribute Length still locates the NLRI); only when the routes themselves
 * cannot be known (the overrunning attribute is MP_REACH/MP_UNREACH_NLRI, or
 * nothing before it said which prefixes the UPDATE is about) does the
 * session reset (RFC 7606 §3 j, §7.11).
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { as4PathFor } from './as4.js';
import { AS_TRANS } from './open.js';
import { asPathLength, emitAsPath, parseAsPath, type AsPathSegment } from './as-path.js';
import { ErrorCode, UpdateSubcode, bgpError, bgpFail, bgpOk, type BgpError, type BgpResult } from './errors.js';
import { emitMpReach, emitMpUnreach, mpReachLength, mpUnreachLength, parseMpReach, parseMpUnreach, type MpReach, type MpUnreach } from './mp-reach.js';

export const AttributeFlag = { optional: 0x80, transitive: 0x40, partial: 0x20, extendedLength: 0x10 } as const;

export const AttributeType = {
  origin: 1,
  asPath: 2,
  nextHop: 3,
  multiExitDisc: 4,
  localPref: 5,
  atomicAggregate: 6,
  aggregator: 7,
  communities: 8,
  originatorId: 9,
  clusterList: 10,
  mpReachNlri: 14,
  mpUnreachNlri: 15,
  as4Path: 17,
  as4Aggregator: 18,
} as const;

/** ORIGIN values, RFC 4271 §5.1.1; lower is preferred (§9.1.2.2 c). */
export const Origin = { igp: 0, egp: 1, incomplete: 2 } as const;

export interface RawAttribute {
  readonly flags: number;
  readonly type: number;
  readonly value: Uint8Array;
}

export interface PathAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  nextHop?: number;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { as: number; address: number };
  communities?: number[];
  originatorId?: number;
  clusterList?: number[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /**
   * AS4_PATH / AS4_AGGREGATOR (RFC 6793 §4.2) as received from a 2-octet
   * (OLD) peer; parseUpdate merges them into asPath / aggregator (as4.ts) and
   * removes them, so the RIBs never hold them. Sent ones are made by
   * encodeAttributes for OLD peers only.
   */
  as4Path?: AsPathSegment[];
  as4Aggregator?: { as: number; address: number };
  /** Unrecognised optional transitive attributes, passed on with Partial set. */
  other: RawAttribute[];
}

export interface ParsedAttributes {
  readonly attributes: PathAttributes;
  /** Set when RFC 7606 says the UPDATE's routes are to be withdrawn instead of used. */
  readonly treatAsWithdraw: BgpError | undefined;
  /** Attributes dropped on the way (attribute discard), for counters and traces. */
  readonly discarded: readonly BgpError[];
}

/** Expected Optional|Transitive bits of the known attributes. */
const EXPECTED_FLAGS: Record<number, number> = {
  1: 0x40,
  2: 0x40,
  3: 0x40,
  4: 0x80,
  5: 0x40,
  6: 0x40,
  7: 0xc0,
  8: 0xc0,
  9: 0x80,
  10: 0x80,
  14: 0x80,
  15: 0x80,
  17: 0xc0,
  18: 0xc0,
};
/** Attributes whose malformation only drops the attribute (RFC 7606 §7.6, §7.7; RFC 6793 §6). */
const DISCARDABLE = new Set<number>([AttributeType.atomicAggregate, AttributeType.aggregator, AttributeType.as4Path, AttributeType.as4Aggregator]);

/**
 * Parses the Path Attributes field of an UPDATE. `base` is the field's
 * offset in the message, for error offsets. Returns a session-reset error
 * only where RFC 7606 still asks for one.
 */
export function parseAttributes(buf: Uint8Array, asWidth: 2 | 4, base: number, hasNlri = true): BgpResult<ParsedAttributes> {
  const a: PathAttributes = { other: [] };
  /** Whether a treat-as-withdraw would know which routes to withdraw: IPv4 NLRI, or an MP attribute parsed already (RFC 7606 §3 j). */
  const routesKnown = (): boolean => hasNlri || a.mpReach !== undefined || a.mpUnreach !== undefined;
  const seen = new Set<number>();
  const discarded: BgpError[] = [];
  let withdraw: BgpError | undefined;
  let at = 0;
  /** RFC 7606 §4: a length that overruns the field; treat-as-withdraw unless the routes cannot be known. */
  const overrun = (type: number | undefined, subcode: number, detail: string, data: Uint8Array): BgpResult<ParsedAttributes> | undefined => {
    const mp = type === AttributeType.mpReachNlri || type === AttributeType.mpUnreachNlri;
    if (mp || !routesKnown()) return bgpFail(ErrorCode.updateMessage, subcode, base + at, detail, data);
    withdraw ??= bgpError('treatAsWithdraw', ErrorCode.updateMessage, subcode, base + at, detail, data);
    return undefined;
  };
  while (at < buf.length) {
    const flags = buf[at]!;
    const extended = (flags & AttributeFlag.extendedLength) !== 0;
    const headerLength = extended ? 4 : 3;
    if (at + headerLength > buf.length) {
      // RFC 7606 §4, second case: "fewer than three octets remain (or fewer than four ... Extended Length)".
      const fail = overrun(at + 1 < buf.length ? buf[at + 1] : undefined, UpdateSubcode.malformedAttributeList, `${buf.length - at} bytes left, less than an attribute header`, buf.slice(at));
      if (fail) return fail;
      break;
    }
    const type = buf[at + 1]!;
    const length = extended ? getU16(buf, at + 2) : buf[at + 2]!;
    const whole = buf.subarray(at, at + headerLength + length);
    if (at + headerLength + length > buf.length) {
      // RFC 7606 §4, first case: "the length of the last encountered path attribute would cause the Total
      // Attribute Length to be exceeded" → treat-as-withdraw; the NLRI is found from the Total Attribute Length.
      const fail = overrun(type, UpdateSubcode.attributeLengthError, `attribute ${type} length ${length} overruns the attributes`, whole.slice());
      if (fail) return fail;
      break;
    }
    const value = buf.subarray(at + headerLength, at + headerLength + length);
    const offset = base + at;
    at += headerLength + length;
    if (seen.has(type)) {
      // RFC 7606 §3 g: a repeated MP attribute resets; any other repeat is discarded.
      if (type === AttributeType.mpReachNlri || type === AttributeType.mpUnreachNlri) {
        return bgpFail(ErrorCode.updateMessage, UpdateSubcode.malformedAttributeList, offset, `attribute ${type} repeated`);
      }
      discarded.push(bgpError('attributeDiscard', ErrorCode.updateMessage, UpdateSubcode.malformedAttributeList, offset, `attribute ${type} repeated`));
      continue;
    }
    seen.add(type);
    const expected = EXPECTED_FLAGS[type];
    if (expected === undefined) {
      if ((flags & AttributeFlag.optional) === 0) {
        return bgpFail(ErrorCode.updateMessage, UpdateSubcode.unrecognizedWellKnownAttribute, offset, `unknown well-known attribute ${type}`, whole.slice());
      }
      if (flags & AttributeFlag.transitive) a.other.push({ flags: flags | AttributeFlag.partial, type, value: value.slice() });
      continue;
    }
    const problem = (flags & 0xc0) !== expected ? `flags 0x${flags.toString(16)}` : decodeKnown(a, type, value, asWidth, offset);
    if (problem === undefined) continue;
    if (typeof problem !== 'string') return { ok: false, error: problem }; // MP attributes: session reset
    const subcode = (flags & 0xc0) !== expected ? UpdateSubcode.attributeFlagsError : subcodeFor(type);
    const error = bgpError(DISCARDABLE.has(type) ? 'attributeDiscard' : 'treatAsWithdraw', ErrorCode.updateMessage, subcode, offset, `attribute ${type}: ${problem}`, whole.slice());
    if (error.action === 'attributeDiscard') discarded.push(error);
    else withdraw ??= error;
  }
  return bgpOk({ attributes: a, treatAsWithdraw: withdraw, discarded });
}

function subcodeFor(type: number): number {
  if (type === AttributeType.origin) return UpdateSubcode.invalidOriginAttribute;
  if (type === AttributeType.asPath) return UpdateSubcode.malformedAsPath;
  if (type === AttributeType.nextHop) return UpdateSubcode.invalidNextHopAttribute;
  return UpdateSubcode.attributeLengthError;
}

/** Fills one known attribute into `a`; returns what is wrong with it, or a session-reset error for MP attributes. */
function decodeKnown(a: PathAttributes, type: number, value: Uint8Array, asWidth: 2 | 4, offset: number): string | BgpError | undefined {
  const fixed = (n: number): string | undefined => (value.length === n ? undefined : `length ${value.length} != ${n}`);
  const multipleOf4 = (): string | undefined => (value.length > 0 && value.length % 4 === 0 ? undefined : `length ${value.length} is not a positive multiple of 4`);
  let problem: string | undefined;
  switch (type) {
    case AttributeType.origin:
      problem = fixed(1) ?? (value[0]! > 2 ? `value ${value[0]}` : undefined);
      if (!problem) a.origin = value[0]!;
      return problem;
    case AttributeType.asPath: {
      const path = parseAsPath(value, asWidth);
      if (!path.ok) return path.reason;
      a.asPath = path.path;
      return undefined;
    }
    case AttributeType.nextHop: {
      problem = fixed(4);
      if (problem) return problem;
      const nh = getU32(value, 0);
      // RFC 4271 §6.3: not a valid host address; RFC 7606 §7.3: treat-as-withdraw.
      if (nh === 0 || nh === 0xffffffff || nh >>> 28 === 0xe || nh >>> 24 === 127) return `next hop ${value.join('.')} is not a host address`;
      a.nextHop = nh;
      return undefined;
    }
    case AttributeType.multiExitDisc:
      problem = fixed(4);
      if (!problem) a.med = getU32(value, 0);
      return problem;
    case AttributeType.localPref:
      problem = fixed(4);
      if (!problem) a.localPref = getU32(value, 0);
      return problem;
    case AttributeType.atomicAggregate:
      problem = fixed(0);
      if (!problem) a.atomicAggregate = true;
      return problem;
    case AttributeType.aggregator:
      problem = fixed(asWidth + 4);
      if (!problem) a.aggregator = { as: asWidth === 4 ? getU32(value, 0) : getU16(value, 0), address: getU32(value, asWidth) };
      return problem;
    case AttributeType.communities:
      problem = multipleOf4();
      if (!problem) a.communities = Array.from({ length: value.length / 4 }, (_, i) => getU32(value, i * 4));
      return problem;
    case AttributeType.originatorId:
      problem = fixed(4);
      if (!problem) a.originatorId = getU32(value, 0);
      return problem;
    case AttributeType.clusterList:
      problem = multipleOf4();
      if (!problem) a.clusterList = Array.from({ length: value.length / 4 }, (_, i) => getU32(value, i * 4));
      return problem;
    case AttributeType.as4Path: {
      // RFC 6793 §6: malformed when shorter than 6 or odd, a segment empty or overrunning, or of an unknown type.
      if (value.length < 6 || value.length % 2 !== 0) return `AS4_PATH length ${value.length}`;
      const path = parseAsPath(value, 4);
      if (!path.ok) return `AS4_PATH ${path.reason}`;
      a.as4Path = path.path;
      return undefined;
    }
    case AttributeType.as4Aggregator:
      problem = fixed(8);
      if (!problem) a.as4Aggregator = { as: getU32(value, 0), address: getU32(value, 4) };
      return problem;
    case AttributeType.mpReachNlri: {
      const r = parseMpReach(value, offset);
      if (!r.ok) return r.error;
      a.mpReach = r.value;
      return undefined;
    }
    case AttributeType.mpUnreachNlri: {
      const r = parseMpUnreach(value, offset);
      if (!r.ok) return r.error;
      a.mpUnreach = r.value;
      return undefined;
    }
  }
  return undefined;
}

/** The attributes as raw (flags, type, value) triples, MP attributes first, then in type order (RFC 4271 §5: "SHOULD be ordered by type code"). */
export function encodeAttributes(a: PathAttributes, asWidth: 2 | 4): RawAttribute[] {
  const out: RawAttribute[] = [];
  const u32 = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    setU32(b, 0, n);
    return b;
  };
  const add = (type: number, value: Uint8Array) => out.push({ flags: EXPECTED_FLAGS[type]!, type, value });
  if (a.origin !== undefined) add(AttributeType.origin, Uint8Array.of(a.origin));
  if (a.asPath !== undefined) {
    const v = new Uint8Array(asPathLength(a.asPath, asWidth));
    emitAsPath(a.asPath, asWidth, v, 0);
    add(AttributeType.asPath, v);
    // RFC 6793 §4.2.2: to an OLD peer, a path with a non-mappable AS also goes whole in AS4_PATH (no confed segments).
    const as4Path = asWidth === 2 ? as4PathFor(a.asPath) : undefined;
    if (as4Path) {
      const w = new Uint8Array(asPathLength(as4Path, 4));
      emitAsPath(as4Path, 4, w, 0);
      add(AttributeType.as4Path, w);
    }
  }
  if (a.nextHop !== undefined) add(AttributeType.nextHop, u32(a.nextHop));
  if (a.med !== undefined) add(AttributeType.multiExitDisc, u32(a.med));
  if (a.localPref !== undefined) add(AttributeType.localPref, u32(a.localPref));
  if (a.atomicAggregate) add(AttributeType.atomicAggregate, new Uint8Array(0));
  if (a.aggregator) {
    const v = new Uint8Array(asWidth + 4);
    if (asWidth === 4) setU32(v, 0, a.aggregator.as);
    else setU16(v, 0, a.aggregator.as > 0xffff ? AS_TRANS : a.aggregator.as);
    setU32(v, asWidth, a.aggregator.address);
    add(AttributeType.aggregator, v);
    // RFC 6793 §4.2.2: AGGREGATOR carries AS_TRANS, AS4_AGGREGATOR the real AS.
    if (asWidth === 2 && a.aggregator.as > 0xffff) {
      const w = new Uint8Array(8);
      setU32(w, 0, a.aggregator.as);
      setU32(w, 4, a.aggregator.address);
      add(AttributeType.as4Aggregator, w);
    }
  }
  if (a.communities?.length) add(AttributeType.communities, concatU32(a.communities));
  if (a.originatorId !== undefined) add(AttributeType.originatorId, u32(a.originatorId));
  if (a.clusterList?.length) add(AttributeType.clusterList, concatU32(a.clusterList));
  if (a.mpReach) {
    const v = new Uint8Array(mpReachLength(a.mpReach));
    emitMpReach(a.mpReach, v, 0);
    add(AttributeType.mpReachNlri, v);
  }
  if (a.mpUnreach) {
    const v = new Uint8Array(mpUnreachLength(a.mpUnreach));
    emitMpUnreach(a.mpUnreach, v, 0);
    add(AttributeType.mpUnreachNlri, v);
  }
  out.push(...a.other);
  // RFC 7606 §5.1: MP_REACH_NLRI / MP_UNREACH_NLRI "SHALL be encoded as the very first path attribute".
  const rank = (t: number) => (t === AttributeType.mpReachNlri || t === AttributeType.mpUnreachNlri ? -1 : t);
  return out.sort((x, y) => rank(x.type) - rank(y.type));
}

function concatU32(values: readonly number[]): Uint8Array {
  const v = new Uint8Array(values.length * 4);
  values.forEach((n, i) => setU32(v, i * 4, n));
  return v;
}

export function rawAttributesLength(raw: readonly RawAttribute[]): number {
  return raw.reduce((n, r) => n + (r.value.length > 255 ? 4 : 3) + r.value.length, 0);
}

/** Writes attributes; Extended Length only where the value needs it (RFC 4271 §4.3). */
export function emitRawAttributes(raw: readonly RawAttribute[], buf: Uint8Array, offset: number): number {
  let at = offset;
  for (const r of raw) {
    const extended = r.value.length > 255;
    buf[at] = extended ? r.flags | AttributeFlag.extendedLength : r.flags & ~AttributeFlag.extendedLength;
    buf[at + 1] = r.type;
    if (extended) setU16(buf, at + 2, r.value.length);
    else buf[at + 2] = r.value.length;
    at += extended ? 4 : 3;
    buf.set(r.value, at);
    at += r.value.length;
  }
  return at - offset;
}

/** "65001:100" (RFC 1997 §: high 16 bits the AS, low 16 bits the value), and the well-known ones by name. */
export function formatCommunity(c: number): string {
  const named: Record<number, string> = { 0xffffff01: 'no-export', 0xffffff02: 'no-advertise', 0xffffff03: 'no-export-subconfed' };
  return named[c] ?? `${c >>> 16}:${c & 0xffff}`;
}

export function parseCommunity(text: string): number | undefined {
  const named: Record<string, number> = { 'no-export': 0xffffff01, 'no-advertise': 0xffffff02, 'no-export-subconfed': 0xffffff03 };
  if (named[text] !== undefined) return named[text];
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) return undefined;
  return ((Number(m[1]) << 16) | Number(m[2])) >>> 0;
}
