/**
 * What an operator does to a running speaker (`tapnet bgp refresh|reset`,
 * like FRR's `clear bgp NEIGHBOR soft in|out` and `clear bgp NEIGHBOR`, or
 * BIRD's `reload in|out` and `restart`). Each returns one line per neighbour
 * it touched, for the terminal.
 *
 * Read first: RFC 2918 §3-4 (ROUTE-REFRESH: "the BGP speaker ... re-advertise
 * to the peer the Adj-RIB-Out"), RFC 4486 §4 (Cease subcode 4,
 * Administrative Reset: "the BGP speaker ... decides to administratively
 * reset the peering"), RFC 4271 §8.1.2 (after the session closes, the
 * ConnectRetry timer brings it back).
 */
import { CeaseSubcode, ErrorCode } from './errors.js';
import type { BgpPeer, BgpSpeaker } from './speaker.js';

/** The peers an operator command is about: one by address, or all. Throws when `address` is not a neighbour. */
export function selectPeers(speaker: BgpSpeaker, address: string | undefined): BgpPeer[] {
  if (address === undefined) return speaker.peers;
  const peer = speaker.peer(address);
  if (!peer) throw new Error(`${address} is not a neighbor of this router (neighbors: ${speaker.peers.map((p) => p.config.address).join(', ') || 'none'})`);
  return [peer];
}

/**
 * Soft reconfiguration inbound (RFC 2918): ask the peer for its routes
 * again. They come back as UPDATEs and go through the import checks and
 * policy once more, so the Adj-RIB-In is rebuilt without closing the session.
 */
export function refreshIn(speaker: BgpSpeaker, address?: string): string[] {
  return selectPeers(speaker, address).map((p) => {
    const s = p.session;
    const at = p.config.address;
    if (s.state !== 'Established') return `${at}: not refreshed: the session is ${s.state}`;
    // RFC 2918 §4: "A BGP speaker ... MUST NOT send a ROUTE-REFRESH message to a peer that did not advertise the capability".
    if (!s.peerRouteRefresh) return `${at}: not refreshed: the peer did not announce the Route Refresh capability (RFC 2918)`;
    const sent = s.families.filter((f) => s.requestRefresh(f));
    return `${at}: ROUTE-REFRESH sent for ${sent.join(' ')}`;
  });
}

/** Soft reconfiguration outbound: our Adj-RIB-Out to the peer again, through the export policy (what its ROUTE-REFRESH would get). */
export function refreshOut(speaker: BgpSpeaker, address?: string): string[] {
  return selectPeers(speaker, address).map((p) => {
    const s = p.session;
    if (s.state !== 'Established') return `${p.config.address}: not refreshed: the session is ${s.state}`;
    for (const f of s.families) speaker.routeRefresh(s, f);
    return `${p.config.address}: routes re-sent for ${s.families.join(' ')}`;
  });
}

/**
 * A hard reset: NOTIFICATION Cease / Administrative Reset (RFC 4486 §4,
 * subcode 4), the connection closed, the peer's routes withdrawn; the
 * session's ConnectRetry timer (or the peer's) opens it again.
 */
export function resetSessions(speaker: BgpSpeaker, address?: string): string[] {
  return selectPeers(speaker, address).map((p) => {
    const s = p.session;
    const at = p.config.address;
    if (s.state === 'Idle' || s.state === 'Connect' || s.state === 'Active') return `${at}: not reset: no connection (the session is ${s.state})`;
    s.reset({ code: ErrorCode.cease, subcode: CeaseSubcode.administrativeReset, data: new Uint8Array(0) }, 'administrative reset (tapnet bgp reset)');
    return `${at}: NOTIFICATION Cease / Administrative Reset sent; reconnecting in ${s.config.connectRetry} s`;
  });
}
