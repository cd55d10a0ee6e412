/**
 * 4-octet AS numbers across a 2-octet (OLD) BGP speaker, RFC 6793 §4.2.
 *
 * Read first: RFC 6793 §4.2.2 (sending to an OLD speaker), §4.2.3 (receiving
 * from one), §6 (errors).
 *
 * tapnet is a NEW speaker: its RIBs hold 4-octet AS paths. A session whose
 * peer did not send the 4-octet AS capability carries 2-octet ASes, so:
 *
 *   sending    AS_PATH with every non-mappable AS (> 65535) replaced by
 *              AS_TRANS (23456), and the whole path in AS4_PATH (type 17,
 *              optional transitive, 4-octet ASes, no confederation
 *              segments); AGGREGATOR with AS_TRANS, the real AS in
 *              AS4_AGGREGATOR (type 18)
 *   receiving  AS_PATH and AS4_PATH merged back into one path (below); an
 *              OLD speaker in the middle passes AS4_PATH on untouched and
 *              prepends its own AS to AS_PATH only, which is why the leading
 *              ASes come from AS_PATH
 *
 * Between two NEW speakers AS4_PATH and AS4_AGGREGATOR must not appear;
 * received ones are discarded (§6).
 *
 *   AS_PATH   [65010, 65020, 23456, 23456]      (an OLD peer's view)
 *   AS4_PATH         [65020, 4200000001, 4200000002]
 *   merged    [65010, 65020, 4200000001, 4200000002]
 */
import { AsPathSegmentType, asPathHops, type AsPath, type AsPathSegment } from './as-path.js';
import { AS_TRANS } from './open.js';

const isConfed = (s: AsPathSegment): boolean => s.type === AsPathSegmentType.confedSequence || s.type === AsPathSegmentType.confedSet;

/** §4.2.2: the AS4_PATH to send an OLD peer with `path`, or undefined when every AS is mappable (then it is not sent). */
export function as4PathFor(path: AsPath): AsPathSegment[] | undefined {
  const segments = path.filter((s) => !isConfed(s));
  if (!segments.some((s) => s.asns.some((as) => as > 0xffff))) return undefined;
  return segments.map((s) => ({ type: s.type, asns: [...s.asns] }));
}

export interface As4Merge {
  readonly asPath: AsPathSegment[] | undefined;
  readonly aggregator: { as: number; address: number } | undefined;
  /** What was ignored or dropped, for the trace ("SHOULD be logged", §6). */
  readonly notes: readonly string[];
}

/**
 * §4.2.3: the path and aggregator of a route from an OLD peer.
 *
 *   - AGGREGATOR present with an AS other than AS_TRANS: AS4_AGGREGATOR and
 *     AS4_PATH are ignored (an OLD speaker aggregated, dropping the 4-octet
 *     information on the way).
 *   - AGGREGATOR with AS_TRANS: AS4_AGGREGATOR, when present, names the aggregator.
 *   - fewer ASes in AS_PATH than in AS4_PATH: AS4_PATH is ignored.
 *   - otherwise: as many leading ASes (and segments) of AS_PATH as make the
 *     count equal to AS_PATH's, then AS4_PATH.
 * ASes are counted as in the decision process (RFC 4271 §9.1.2.2 a): an
 * AS_SET counts 1, confederation segments 0. AS4_PATH's confederation
 * segments are dropped first (§6).
 */
export function mergeAs4(
  asPath: AsPath | undefined,
  as4Path: AsPath | undefined,
  aggregator: { as: number; address: number } | undefined,
  as4Aggregator: { as: number; address: number } | undefined,
): As4Merge {
  const notes: string[] = [];
  const path = asPath ? [...asPath] : undefined;
  if (aggregator && aggregator.as !== AS_TRANS) {
    if (as4Path || as4Aggregator) notes.push(`AGGREGATOR AS ${aggregator.as} is not AS_TRANS: AS4_PATH/AS4_AGGREGATOR ignored`);
    return { asPath: path, aggregator, notes };
  }
  const agg = aggregator && as4Aggregator ? as4Aggregator : aggregator;
  if (!as4Path || !path) return { asPath: path, aggregator: agg, notes };
  const as4 = as4Path.filter((s) => !isConfed(s));
  if (as4.length !== as4Path.length) notes.push('AS4_PATH confederation segments discarded');
  const extra = asPathHops(path) - asPathHops(as4);
  if (extra < 0) {
    notes.push(`AS_PATH has fewer ASes (${asPathHops(path)}) than AS4_PATH (${asPathHops(as4)}): AS4_PATH ignored`);
    return { asPath: path, aggregator: agg, notes };
  }
  const lead: AsPathSegment[] = [];
  let need = extra;
  for (const s of path) {
    // A confederation segment is taken when it leads or touches a taken segment (§4.2.3); it counts 0.
    if (isConfed(s)) {
      if (need > 0 || lead.length === 0) lead.push(s);
      continue;
    }
    if (need === 0) break;
    if (s.type === AsPathSegmentType.set) {
      lead.push(s);
      need -= 1;
    } else {
      const take = Math.min(need, s.asns.length);
      lead.push({ type: s.type, asns: s.asns.slice(0, take) });
      need -= take;
    }
  }
  return { asPath: joinSequences([...lead, ...as4]), aggregator: agg, notes };
}

/** Adjacent AS_SEQUENCEs as one (up to the 255 a segment holds), the form AS_PATH had before the split. */
function joinSequences(path: AsPathSegment[]): AsPathSegment[] {
  const out: AsPathSegment[] = [];
  for (const s of path) {
    const last = out[out.length - 1];
    if (last && last.type === AsPathSegmentType.sequence && s.type === AsPathSegmentType.sequence && last.asns.length + s.asns.length <= 255) {
      out[out.length - 1] = { type: last.type, asns: [...last.asns, ...s.asns] };
    } else out.push(s);
  }
  return out;
}
