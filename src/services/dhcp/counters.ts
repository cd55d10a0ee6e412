/**
 * Every counter of the DHCP server and client, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own, after dnsmasq's and Kea's statistics.
 */
export const DHCP_COUNTERS = [
  'dhcpClientInAcks',
  'dhcpClientInErrors',
  'dhcpClientInIgnored',
  'dhcpClientInNaks',
  'dhcpClientInOffers',
  'dhcpClientLeaseExpired',
  'dhcpClientOutDiscovers',
  'dhcpClientOutErrors',
  'dhcpClientOutReleases',
  'dhcpClientOutRequests',
  'dhcpInBadType',
  'dhcpInBootp',
  'dhcpInDeclines',
  'dhcpInDiscovers',
  'dhcpInErrors',
  'dhcpInInforms',
  'dhcpInMessages',
  'dhcpInNoScope',
  'dhcpInOtherServer',
  'dhcpInReleases',
  'dhcpInRequests',
  'dhcpInUnknownClient',
  'dhcpLeaseFileErrors',
  'dhcpOutAcks',
  'dhcpOutErrors',
  'dhcpOutNaks',
  'dhcpOutOffers',
  'dhcpPoolExhausted',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    dhcp: typeof DHCP_COUNTERS;
  }
}
