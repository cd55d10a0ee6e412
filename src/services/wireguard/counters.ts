/**
 * Every counter of WireGuard, in one list: what `tapnet show stats` can show
 * for it, and every reason it drops a message or a packet. A name missing
 * here does not compile (core/stats.ts). Names: tapnet's own (the kernel's
 * wg keeps only per-peer rx/tx bytes, shown by `tapnet show wg`).
 */
export const WIREGUARD_COUNTERS = [
  // UDP in
  'wgInDatagrams',
  'wgInTruncated', // shorter than its type's fixed size (or than a keepalive)
  'wgInBadLength', // a handshake message longer than its fixed size
  'wgInBadType', // unknown type byte or non-zero reserved bytes
  'wgInBadMac1',
  'wgInCookieRequired', // under load, mac2 missing or stale: answered with a cookie reply
  'wgInRateLimited', // under load, over the per-source handshake rate
  'wgInBadHandshake', // an initiation or response that does not decrypt / authenticate
  'wgInUnknownPeer', // an initiation from a static key that is no configured peer
  'wgInReplayedTimestamp', // an initiation whose TAI64N is not newer than the last one
  'wgInHandshakeFlood', // a second initiation from a peer within 20 ms
  'wgInUnknownReceiver', // a response, cookie or data for a receiver index we do not hold
  'wgInBadCookie', // a cookie reply that does not decrypt
  'wgInExpiredKeypair', // data under a session older than REJECT_AFTER_TIME
  'wgInDecryptErrors', // data whose tag does not verify
  'wgInReplayed', // a counter seen before or behind the anti-replay window
  'wgInBadInnerPacket', // decrypted to something that is not a whole IPv4/IPv6 packet
  'wgInSourceNotAllowed', // cryptokey routing: inner source outside the peer's allowed IPs
  'wgInInitiations',
  'wgInResponses',
  'wgInCookieReplies',
  'wgInKeepalives',
  'wgInPackets', // decrypted IP packets handed to the node
  'wgInQueueFull', // more decrypted packets waiting for the node than the queue holds
  'wgInGroPackets', // super-packets made of several decrypted TCP segments (gro.ts)
  'wgInGroSegments', // the segments that went into them
  // out
  'wgOutPackets',
  'wgOutNoPeer', // cryptokey routing: no peer's allowed IPs hold the destination
  'wgOutNoEndpoint', // the peer has no endpoint yet (it has not contacted us)
  'wgOutStagedDropped', // packets waiting for a handshake beyond the staging queue
  'wgOutQueueFull',
  'wgOutBadPacket',
  'wgOutSendErrors', // the UDP socket refused (no route to the endpoint, ...)
  'wgOutInitiations',
  'wgOutResponses',
  'wgOutCookieReplies',
  'wgOutKeepalives',
  'wgHandshakesCompleted',
  'wgHandshakeTimeouts', // gave up after REKEY_ATTEMPT_TIME
  'wgKeysZeroed', // all session keys dropped after 3 × REJECT_AFTER_TIME without a new handshake
  'wgUnderLoad', // times the interface went under load
  'wgRateLimiterEntries', // gauge
  'wgIndexEntries', // gauge: receiver indices held
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    wireguard: typeof WIREGUARD_COUNTERS;
  }
}
