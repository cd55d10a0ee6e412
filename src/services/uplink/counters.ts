/**
 * Every counter of the uplink through host sockets, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own.
 */
export const UPLINK_COUNTERS = [
  'uplinkIcmpEchoAnswered',
  'uplinkIcmpEchoFull',
  'uplinkIcmpEchoIn',
  'uplinkIcmpEchoOut',
  'uplinkIcmpEchoTimeouts',
  'uplinkIcmpEchoUnmatched',
  'uplinkIcmpNotOurs',
  'uplinkIcmpSendErrors',
  'uplinkIcmpUnsupported',
  'uplinkInErrors',
  'uplinkOtherProtocol',
  'uplinkTcpActive',
  'uplinkTcpConnectFailed',
  'uplinkTcpConnects',
  'uplinkTcpFull',
  'uplinkTcpSynWhilePending',
  'uplinkUdpFlows',
  'uplinkUdpFlowsFull',
  'uplinkUdpInDatagrams',
  'uplinkUdpOutDatagrams',
  'uplinkUdpSendErrors',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    uplink: typeof UPLINK_COUNTERS;
  }
}
