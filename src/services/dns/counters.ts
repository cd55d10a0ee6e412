/**
 * Every counter of the DNS server and forwarder, in one list:
 * what `tapnet show stats` can show for this layer, and every reason it drops
 * a packet. A name missing here does not compile (core/stats.ts).
 * Names: tapnet's own, after NSD's and dnsmasq's statistics.
 */
export const DNS_COUNTERS = [
  'dnsAuthAnswers',
  'dnsCacheEntries',
  'dnsCacheEvictions',
  'dnsCacheHits',
  'dnsCacheInserts',
  'dnsCacheMisses',
  'dnsForwarded',
  'dnsFwdAnswers',
  'dnsFwdBadReplies',
  'dnsFwdDropped',
  'dnsFwdMerged',
  'dnsFwdQueries',
  'dnsFwdRetries',
  'dnsFwdTimeouts',
  'dnsFwdUpstreamErrors',
  'dnsInCookies',
  'dnsInCookiesValid',
  'dnsInErrors',
  'dnsInFormErrors',
  'dnsInQueries',
  'dnsOutBadCookie',
  'dnsOutBadVers',
  'dnsOutFormErr',
  'dnsOutNoError',
  'dnsOutNotImp',
  'dnsOutNxDomain',
  'dnsOutOtherRcodes',
  'dnsOutRefused',
  'dnsOutResponses',
  'dnsOutServFail',
  'dnsOutTruncated',
  'dnsRecBadReplies',
  'dnsRecBudgetExceeded',
  'dnsRecCnames',
  'dnsRecDropped',
  'dnsRecGlueless',
  'dnsRecLame',
  'dnsRecMerged',
  'dnsRecOutOfBailiwick',
  'dnsRecQueries',
  'dnsRecReferrals',
  'dnsRecSent',
  'dnsRecServFail',
  'dnsRecTimeouts',
  'dnsOutRecursionRefused',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    dns: typeof DNS_COUNTERS;
  }
}
