/**
 * Every counter of the BGP speaker, in one list (core/stats.ts). Names:
 * tapnet's own, after the BGP4-MIB (RFC 4273: bgpPeerInUpdates,
 * bgpPeerFsmEstablishedTransitions) summed over all peers; per-peer numbers
 * are in `tapnet show bgp`.
 */
export const BGP_COUNTERS = [
  'bgpInMessages',
  'bgpInOpens',
  'bgpInUpdates',
  'bgpInKeepalives',
  'bgpInNotifications',
  'bgpInRouteRefreshes',
  'bgpOutMessages',
  'bgpOutUpdates',
  'bgpOutNotifications',
  'bgpInHeaderErrors', // Message Header Error sent (RFC 4271 §6.1)
  'bgpInOpenErrors', // OPEN Message Error sent (§6.2): bad version, AS, hold time, identifier, parameter
  'bgpInUpdateErrors', // UPDATE Message Error sent: the session reset (§6.3, RFC 7606 session reset)
  'bgpInTreatAsWithdraw', // RFC 7606 treat-as-withdraw: the UPDATE's routes withdrawn, session kept
  'bgpInAttributeDiscard', // RFC 7606 attribute discard
  'bgpInFsmErrors', // a message not allowed in the state (RFC 6608)
  'bgpInAsPathLoop', // a route whose AS_PATH holds our AS (RFC 4271 §9.1.2): ignored
  'bgpInClusterLoop', // a reflected route that carries our cluster ID or router ID (RFC 4456 §8)
  'bgpInBadNextHop', // NEXT_HOP is our own address or not reachable on a connected network
  'bgpInPolicyRejected', // refused by an import policy
  'bgpInPrefixesAccepted', // routes put into an Adj-RIB-In (BGP4-MIB v2 bgpPrefixInPrefixesAccepted, summed)
  'bgpInUnknownPeer', // a TCP connection to port 179 from an address that is no neighbour
  'bgpHoldTimerExpired',
  'bgpMaxPrefixExceeded',
  'bgpCollisions', // connection collisions resolved (RFC 4271 §6.8)
  'bgpEstablishedTransitions',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    bgp: typeof BGP_COUNTERS;
  }
}
