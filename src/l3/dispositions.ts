/**
 * What a transport protocol tells IP about a datagram it was handed
 * (STYLE.md rule 7: layers answer, the layer below acts). IP turns
 * 'protocolUnreachable' and 'portUnreachable' into ICMP destination
 * unreachable (RFC 1122 §3.2.2.1, §4.1.3.1).
 */
export type Disposition = 'delivered' | 'dropped' | 'protocolUnreachable' | 'portUnreachable';
