/**
 * Every counter of TCP, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: RFC 4022 TCP-MIB and Linux's TcpExt (nstat: Tcp*, TcpExt*).
 */
export const TCP_COUNTERS = [
  'delayedAcks',
  'listenDrops',
  'listenOverflows',
  'syncookiesFailed',
  'syncookiesRecv',
  'syncookiesSent',
  'tcpAbortOnData',
  'tcpAbortOnTimeout',
  'tcpAckOutOfRange',
  'tcpActiveOpens',
  'tcpAttemptFails',
  'tcpChallengeAck',
  'tcpChallengeAckLimited',
  'tcpCurrEstab',
  'tcpDsackRecv',
  'tcpEstabResets',
  'tcpFastRetrans',
  'tcpIcmpOutOfWindow',
  'tcpInAfterFin',
  'tcpInCsumErrors',
  'tcpInErrs',
  'tcpInNoAck',
  'tcpInNoSocket',
  'tcpInOutOfWindow',
  'tcpInSegs',
  'tcpKeepAlive',
  'tcpKeepAliveTimeouts',
  'tcpListenBadAck',
  'tcpListenRst',
  'tcpListenSynFin',
  'tcpLossProbeRecovery',
  'tcpLossProbes',
  'tcpLostRetransmit',
  'tcpMemoryLimitSynDrops',
  'tcpMemoryPressures',
  'tcpOfoDrop',
  'tcpOfoPruned',
  'tcpOfoQueue',
  'tcpOutRsts',
  'tcpOutSegs',
  'tcpPassiveOpens',
  'tcpPawsEstab',
  'tcpRackReoTimeouts',
  'tcpRcvQDrop',
  'tcpRenoRecovery',
  'tcpRetransSegs',
  'tcpRstChallenged',
  'tcpSackRecovery',
  'tcpSackReorder',
  'tcpSynChallenge',
  'tcpSynInWindow',
  'tcpSynRecvBadAck',
  'tcpSynSentBadAck',
  'tcpSynSentNoSyn',
  'tcpSynSentRst',
  'tcpTimeouts',
  'tcpWinProbe',
  'tcpZeroWindowDrop',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    tcp: typeof TCP_COUNTERS;
  }
}
