/**
 * UPDATE, RFC 4271 §4.3: withdraws routes and/or advertises routes that share
 * one set of path attributes.
 *
 * +-----------------------------------------------------+
 * |   Withdrawn Routes Length (2 octets)                |
 * +-----------------------------------------------------+
 * |   Withdrawn Routes (variable)                       |
 * +-----------------------------------------------------+
 * |   Total Path Attribute Length (2 octets)            |
 * +-----------------------------------------------------+
 * |   Path Attributes (variable)                        |
 * +-----------------------------------------------------+
 * |   Network Layer Reachability Information (variable) |
 * +-----------------------------------------------------+
 *
 * (The body, after the 19-byte header; the NLRI runs to the end of the
 * message.) The two IPv4-only prefix fields are here; IPv6 routes come in
 * MP_REACH_NLRI / MP_UNREACH_NLRI (mp-reach.ts). An UPDATE with no
 * withdrawals, no attributes and no NLRI is the End-of-RIB marker for IPv4
 * (RFC 4724 §2).
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { ErrorCode, UpdateSubcode, bgpError, bgpFail, bgpOk, type BgpError, type BgpResult } from './errors.js';
import { AttributeType, emitRawAttributes, encodeAttributes, parseAttributes, rawAttributesLength, type PathAttributes } from './attributes.js';
import { HEADER_LENGTH, MessageType, frameMessage } from './header.js';
import { emitPrefix, formatPrefix, parsePrefixes, prefixEncodedLength, type Prefix } from './prefix.js';
import { formatAsPath } from './as-path.js';
import { mergeAs4 } from './as4.js';
import { formatIpv4 } from '../../l3/ipv4/address.js';

export const UpdateField = { withdrawnRoutesLength: 0, withdrawnRoutes: 2 } as const;
/** The two length fields; RFC 4271 §4.3: the minimum UPDATE is 23 bytes. */
export const UPDATE_MIN_BODY = 4;

export interface Update {
  /** IPv4 prefixes withdrawn in the Withdrawn Routes field. */
  readonly withdrawn: readonly Prefix[];
  readonly attributes: PathAttributes;
  /** IPv4 prefixes advertised in the NLRI field. */
  readonly nlri: readonly Prefix[];
  /** RFC 7606: the advertised prefixes are to be withdrawn instead (malformed or missing attribute). */
  readonly treatAsWithdraw?: BgpError;
  readonly discarded?: readonly BgpError[];
}

export function parseUpdate(body: Uint8Array, asWidth: 2 | 4): BgpResult<Update> {
  const base = HEADER_LENGTH;
  if (body.length < UPDATE_MIN_BODY) return bgpFail(ErrorCode.messageHeader, 2, base, `UPDATE body of ${body.length} bytes`);
  const withdrawnLength = getU16(body, UpdateField.withdrawnRoutesLength);
  const attributesAt = UpdateField.withdrawnRoutes + withdrawnLength + 2;
  // RFC 4271 §6.3: "Withdrawn Routes Length + Total Attribute Length + 23 exceeds the message Length" → Malformed Attribute List.
  if (attributesAt > body.length) return bgpFail(ErrorCode.updateMessage, UpdateSubcode.malformedAttributeList, base, `withdrawn routes length ${withdrawnLength} overruns`);
  const attributesLength = getU16(body, attributesAt - 2);
  const nlriAt = attributesAt + attributesLength;
  if (nlriAt > body.length) return bgpFail(ErrorCode.updateMessage, UpdateSubcode.malformedAttributeList, base + attributesAt - 2, `path attribute length ${attributesLength} overruns`);
  const withdrawn = parsePrefixes(body.subarray(UpdateField.withdrawnRoutes, attributesAt - 2), 'ipv4', base + UpdateField.withdrawnRoutes);
  if (!withdrawn.ok) return withdrawn;
  const nlri = parsePrefixes(body.subarray(nlriAt), 'ipv4', base + nlriAt);
  if (!nlri.ok) return nlri;
  const parsed = parseAttributes(body.subarray(attributesAt, nlriAt), asWidth, base + attributesAt, nlri.value.length > 0);
  if (!parsed.ok) return parsed;
  const { attributes } = parsed.value;
  const discarded = [...parsed.value.discarded];
  if (attributes.as4Path || attributes.as4Aggregator) {
    if (asWidth === 4) {
      // RFC 6793 §6: AS4_PATH / AS4_AGGREGATOR between NEW speakers "MUST discard the path attribute".
      discarded.push(bgpError('attributeDiscard', ErrorCode.updateMessage, UpdateSubcode.optionalAttributeError, base + attributesAt, 'AS4_PATH/AS4_AGGREGATOR from a 4-octet AS peer'));
    } else {
      // RFC 6793 §4.2.3: from an OLD peer, merged into AS_PATH / AGGREGATOR.
      const merged = mergeAs4(attributes.asPath, attributes.as4Path, attributes.aggregator, attributes.as4Aggregator);
      if (merged.asPath) attributes.asPath = merged.asPath;
      if (merged.aggregator) attributes.aggregator = merged.aggregator;
      for (const note of merged.notes) discarded.push(bgpError('attributeDiscard', ErrorCode.updateMessage, UpdateSubcode.optionalAttributeError, base + attributesAt, note));
    }
    delete attributes.as4Path;
    delete attributes.as4Aggregator;
  }
  let treatAsWithdraw = parsed.value.treatAsWithdraw;
  // RFC 7606 §3 d: a missing well-known mandatory attribute → treat-as-withdraw. NEXT_HOP is
  // mandatory only with IPv4 NLRI in the NLRI field (RFC 4760 §3); attributes only when something is advertised.
  if (!treatAsWithdraw && (nlri.value.length > 0 || attributes.mpReach)) {
    const missing =
      attributes.origin === undefined
        ? AttributeType.origin
        : attributes.asPath === undefined
          ? AttributeType.asPath
          : nlri.value.length > 0 && attributes.nextHop === undefined
            ? AttributeType.nextHop
            : undefined;
    if (missing !== undefined) {
      treatAsWithdraw = bgpError('treatAsWithdraw', ErrorCode.updateMessage, UpdateSubcode.missingWellKnownAttribute, base + attributesAt, `missing well-known attribute ${missing}`, Uint8Array.of(missing));
    }
  }
  return bgpOk({ withdrawn: withdrawn.value, attributes, nlri: nlri.value, treatAsWithdraw, discarded });
}

export function updateLength(u: Update, asWidth: 2 | 4): number {
  const prefixes = (ps: readonly Prefix[]) => ps.reduce((n, p) => n + prefixEncodedLength(p), 0);
  return UPDATE_MIN_BODY + prefixes(u.withdrawn) + rawAttributesLength(encodeAttributes(u.attributes, asWidth)) + prefixes(u.nlri);
}

export function emitUpdate(u: Update, asWidth: 2 | 4, buf: Uint8Array, offset: number): number {
  let at = offset + UpdateField.withdrawnRoutes;
  for (const p of u.withdrawn) at += emitPrefix(p, buf, at);
  setU16(buf, offset + UpdateField.withdrawnRoutesLength, at - offset - UpdateField.withdrawnRoutes);
  const lengthAt = at;
  at += 2;
  const raw = encodeAttributes(u.attributes, asWidth);
  at += emitRawAttributes(raw, buf, at);
  setU16(buf, lengthAt, at - lengthAt - 2);
  for (const p of u.nlri) at += emitPrefix(p, buf, at);
  return at - offset;
}

export function updateMessage(u: Update, asWidth: 2 | 4): Uint8Array {
  const body = new Uint8Array(updateLength(u, asWidth));
  emitUpdate(u, asWidth, body, 0);
  return frameMessage(MessageType.update, body);
}

/** The End-of-RIB marker for IPv4 unicast (RFC 4724 §2): an empty UPDATE. */
export function isEndOfRib(u: Update): boolean {
  return u.withdrawn.length === 0 && u.nlri.length === 0 && !u.attributes.mpReach && (!u.attributes.mpUnreach || u.attributes.mpUnreach.withdrawn.length === 0) && u.attributes.origin === undefined;
}

export function describeUpdate(u: Update): string {
  const a = u.attributes;
  const parts: string[] = ['UPDATE'];
  const withdrawn = [...u.withdrawn, ...(a.mpUnreach?.withdrawn ?? [])];
  const nlri = [...u.nlri, ...(a.mpReach?.nlri ?? [])];
  if (withdrawn.length) parts.push(`withdraw ${withdrawn.map(formatPrefix).join(' ')}`);
  if (nlri.length) parts.push(`announce ${nlri.map(formatPrefix).join(' ')}`);
  if (a.asPath) parts.push(`path [${formatAsPath(a.asPath)}]`);
  if (a.nextHop !== undefined) parts.push(`nh ${formatIpv4(a.nextHop)}`);
  if (u.treatAsWithdraw) parts.push(`(treat-as-withdraw: ${u.treatAsWithdraw.detail})`);
  return parts.join(' ');
}
