/**
 * AS_PATH (type 2), RFC 4271 §4.3 and §5.1.2, with 4-octet ASes (RFC 6793).
 *
 * A sequence of path segments:
 *
 * +----------------+----------------+--------------------------------+
 * | segment type   | segment length | length × AS number (2 or 4 B)  |
 * +----------------+----------------+--------------------------------+
 *
 *   1 AS_SET       unordered: the ASes an aggregate came through (counts as 1 hop)
 *   2 AS_SEQUENCE  ordered: the ASes the route went through, nearest first
 * (3 AS_CONFED_SEQUENCE and 4 AS_CONFED_SET, RFC 5065, are parsed and kept.)
 *
 * The AS width is a property of the session, not of the bytes: 4 octets when
 * both sides sent the 4-octet AS capability (RFC 6793 §4.1), else 2.
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';

export const AsPathSegmentType = { set: 1, sequence: 2, confedSequence: 3, confedSet: 4 } as const;

export interface AsPathSegment {
  readonly type: number;
  readonly asns: readonly number[];
}

export type AsPath = readonly AsPathSegment[];

/** The segments, or a reason when the attribute is malformed (RFC 7606 §7.2: treat-as-withdraw). */
export function parseAsPath(value: Uint8Array, asWidth: 2 | 4): { ok: true; path: AsPathSegment[] } | { ok: false; reason: string } {
  const path: AsPathSegment[] = [];
  let at = 0;
  while (at < value.length) {
    if (at + 2 > value.length) return { ok: false, reason: 'segment header truncated' };
    const type = value[at]!;
    const count = value[at + 1]!;
    if (type < 1 || type > 4) return { ok: false, reason: `segment type ${type}` };
    if (count === 0) return { ok: false, reason: 'empty segment' }; // RFC 7606 §7.2
    if (at + 2 + count * asWidth > value.length) return { ok: false, reason: `segment of ${count} ASes overruns the attribute` };
    const asns: number[] = [];
    for (let i = 0; i < count; i++) asns.push(asWidth === 4 ? getU32(value, at + 2 + i * 4) : getU16(value, at + 2 + i * 2));
    path.push({ type, asns });
    at += 2 + count * asWidth;
  }
  return { ok: true, path };
}

export function asPathLength(path: AsPath, asWidth: 2 | 4): number {
  return path.reduce((n, s) => n + 2 + s.asns.length * asWidth, 0);
}

export function emitAsPath(path: AsPath, asWidth: 2 | 4, buf: Uint8Array, offset: number): number {
  let at = offset;
  for (const s of path) {
    buf[at] = s.type;
    buf[at + 1] = s.asns.length;
    at += 2;
    for (const as of s.asns) {
      if (asWidth === 4) setU32(buf, at, as);
      else setU16(buf, at, as > 0xffff ? 23456 : as); // AS_TRANS (RFC 6793 §4.2.2; the real path goes in AS4_PATH, as4.ts)
      at += asWidth;
    }
  }
  return at - offset;
}

/**
 * RFC 4271 §9.1.2.2 a: "AS_SET counts as 1, no matter how many ASes are in
 * the set"; each AS of a sequence counts 1; confederation segments count 0
 * (RFC 5065 §5.3).
 */
export function asPathHops(path: AsPath): number {
  let n = 0;
  for (const s of path) {
    if (s.type === AsPathSegmentType.sequence) n += s.asns.length;
    else if (s.type === AsPathSegmentType.set) n += 1;
  }
  return n;
}

/** The neighbouring AS the route came from: the first AS of a leading AS_SEQUENCE (RFC 4271 §9.1.2.2 c). */
export function firstAs(path: AsPath): number | undefined {
  const s = path[0];
  return s && s.type === AsPathSegmentType.sequence ? s.asns[0] : undefined;
}

export function asPathContains(path: AsPath, as: number): boolean {
  return path.some((s) => s.asns.includes(as));
}

/** RFC 4271 §5.1.2: prepend our AS to a leading AS_SEQUENCE (a new one when full at 255 or when the path starts with a set). */
export function prependAs(path: AsPath, as: number): AsPathSegment[] {
  const first = path[0];
  if (first && first.type === AsPathSegmentType.sequence && first.asns.length < 255) {
    return [{ type: AsPathSegmentType.sequence, asns: [as, ...first.asns] }, ...path.slice(1)];
  }
  return [{ type: AsPathSegmentType.sequence, asns: [as] }, ...path];
}

/** "65001 65002 {65010,65011}" like `show ip bgp`. */
export function formatAsPath(path: AsPath): string {
  return path
    .map((s) => (s.type === AsPathSegmentType.set || s.type === AsPathSegmentType.confedSet ? `{${s.asns.join(',')}}` : s.type === AsPathSegmentType.confedSequence ? `(${s.asns.join(' ')})` : s.asns.join(' ')))
    .join(' ');
}
