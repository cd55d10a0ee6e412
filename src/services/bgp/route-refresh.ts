/**
 * ROUTE-REFRESH, RFC 2918 §3: ask the peer to send its Adj-RIB-Out for one
 * address family again (after an import policy changed, `tapnet bgp refresh`).
 *
 *  0       7      15      23      31
 * +-------+-------+-------+-------+
 * |      AFI      | Res.  | SAFI  |
 * +-------+-------+-------+-------+
 *
 * (The body, after the 19-byte header.) RFC 7313 gives the reserved byte a
 * meaning (BoRR/EoRR); a plain refresh has 0 there.
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { ErrorCode, bgpFail, bgpOk, type BgpResult } from './errors.js';
import { HEADER_LENGTH, MessageType, frameMessage } from './header.js';

export const RouteRefreshField = { afi: 0, reserved: 2, safi: 3 } as const;
export const ROUTE_REFRESH_BODY_LENGTH = 4;

export interface RouteRefresh {
  readonly afi: number;
  readonly safi: number;
  /** RFC 7313 message subtype: 0 normal, 1 BoRR, 2 EoRR. */
  readonly subtype: number;
}

export function parseRouteRefresh(body: Uint8Array): BgpResult<RouteRefresh> {
  // RFC 7313 §5: a ROUTE-REFRESH whose length is not 23 → ROUTE-REFRESH Message Error / Invalid Message Length.
  if (body.length !== ROUTE_REFRESH_BODY_LENGTH) {
    return bgpFail(ErrorCode.routeRefresh, 1, HEADER_LENGTH, `ROUTE-REFRESH body of ${body.length} bytes`, body.slice(0, 4096 - 21));
  }
  return bgpOk({ afi: getU16(body, RouteRefreshField.afi), subtype: body[RouteRefreshField.reserved]!, safi: body[RouteRefreshField.safi]! });
}

export function emitRouteRefresh(r: RouteRefresh, buf: Uint8Array, offset: number): number {
  setU16(buf, offset + RouteRefreshField.afi, r.afi);
  buf[offset + RouteRefreshField.reserved] = r.subtype;
  buf[offset + RouteRefreshField.safi] = r.safi;
  return ROUTE_REFRESH_BODY_LENGTH;
}

export function routeRefreshMessage(r: RouteRefresh): Uint8Array {
  const body = new Uint8Array(ROUTE_REFRESH_BODY_LENGTH);
  emitRouteRefresh(r, body, 0);
  return frameMessage(MessageType.routeRefresh, body);
}
