/**
 * Capabilities, RFC 5492 §4: TLVs inside the OPEN's optional parameter of
 * type 2, telling the peer what this speaker can do.
 *
 * +------------------------------+
 * | Capability Code (1 octet)    |
 * +------------------------------+
 * | Capability Length (1 octet)  |
 * +------------------------------+
 * | Capability Value (variable)  |
 * +------------------------------+
 *
 * The ones tapnet speaks:
 *   1  Multiprotocol Extensions (RFC 4760 §8): AFI (2) | reserved (1) | SAFI (1)
 *   2  Route Refresh (RFC 2918 §2): empty
 *  65  4-octet AS number (RFC 6793 §3): the speaker's AS (4)
 * Every other code is kept as `unknown` and ignored (RFC 5492 §3: "a BGP
 * speaker ... MUST ignore capabilities it does not understand").
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { ErrorCode, OpenSubcode, bgpFail, bgpOk, type BgpResult } from './errors.js';

export const CapabilityCode = { multiprotocol: 1, routeRefresh: 2, fourOctetAs: 65, enhancedRouteRefresh: 70, ciscoRouteRefresh: 128 } as const;

export type Capability =
  | { readonly kind: 'multiprotocol'; readonly afi: number; readonly safi: number }
  | { readonly kind: 'routeRefresh' }
  | { readonly kind: 'fourOctetAs'; readonly as: number }
  | { readonly kind: 'unknown'; readonly code: number; readonly value: Uint8Array };

/** Parses the capabilities of one optional parameter's value; `base` is its offset in the message, for errors. */
export function parseCapabilities(buf: Uint8Array, base: number): BgpResult<Capability[]> {
  const out: Capability[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 2 > buf.length) return bgpFail(ErrorCode.openMessage, 0, base + at, 'capability header truncated');
    const code = buf[at]!;
    const length = buf[at + 1]!;
    const value = buf.subarray(at + 2, at + 2 + length);
    if (value.length < length) return bgpFail(ErrorCode.openMessage, 0, base + at, `capability ${code} length ${length} overruns the parameter`);
    const bad = (): BgpResult<Capability[]> => bgpFail(ErrorCode.openMessage, 0, base + at, `capability ${code} has length ${length}`);
    switch (code) {
      case CapabilityCode.multiprotocol:
        if (length !== 4) return bad();
        out.push({ kind: 'multiprotocol', afi: getU16(value, 0), safi: value[3]! });
        break;
      case CapabilityCode.routeRefresh:
        if (length !== 0) return bad();
        out.push({ kind: 'routeRefresh' });
        break;
      case CapabilityCode.fourOctetAs:
        if (length !== 4) return bad();
        out.push({ kind: 'fourOctetAs', as: getU32(value, 0) });
        break;
      default:
        out.push({ kind: 'unknown', code, value: value.slice() });
    }
    at += 2 + length;
  }
  return bgpOk(out);
}

function valueLength(c: Capability): number {
  switch (c.kind) {
    case 'multiprotocol':
    case 'fourOctetAs':
      return 4;
    case 'routeRefresh':
      return 0;
    case 'unknown':
      return c.value.length;
  }
}

export function capabilitiesLength(caps: readonly Capability[]): number {
  return caps.reduce((n, c) => n + 2 + valueLength(c), 0);
}

export function emitCapabilities(caps: readonly Capability[], buf: Uint8Array, offset: number): number {
  let at = offset;
  for (const c of caps) {
    const length = valueLength(c);
    buf[at] = c.kind === 'unknown' ? c.code : CapabilityCode[c.kind];
    buf[at + 1] = length;
    const v = at + 2;
    if (c.kind === 'multiprotocol') {
      setU16(buf, v, c.afi);
      buf[v + 2] = 0;
      buf[v + 3] = c.safi;
    } else if (c.kind === 'fourOctetAs') {
      setU32(buf, v, c.as);
    } else if (c.kind === 'unknown') {
      buf.set(c.value, v);
    }
    at += 2 + length;
  }
  return at - offset;
}

/** Keeps the OPEN Message Error code with the right subcode for an error found inside a capability. */
export const CAPABILITY_ERROR_SUBCODE = OpenSubcode.unsupportedOptionalParameter;

export function describeCapability(c: Capability): string {
  switch (c.kind) {
    case 'multiprotocol':
      return `mp ${c.afi === 1 ? 'ipv4' : c.afi === 2 ? 'ipv6' : `afi ${c.afi}`}/${c.safi === 1 ? 'unicast' : `safi ${c.safi}`}`;
    case 'routeRefresh':
      return 'route-refresh';
    case 'fourOctetAs':
      return `as4 ${c.as}`;
    case 'unknown':
      return `capability ${c.code}`;
  }
}
