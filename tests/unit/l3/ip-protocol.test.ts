import { describe, expect, it } from 'vitest';
import { IpProtocol, ipProtocolName } from '../../../src/l3/ip-protocol.js';

describe('IpProtocol', () => {
  it('holds the IANA numbers', () => {
    expect([IpProtocol.ICMP, IpProtocol.IGMP, IpProtocol.TCP, IpProtocol.UDP, IpProtocol.IPv6, IpProtocol.ICMPv6]).toEqual([
      1, 2, 6, 17, 41, 58,
    ]);
  });

  it('names known numbers and keeps unknown ones as tcpdump does', () => {
    expect(ipProtocolName(6)).toBe('TCP');
    expect(ipProtocolName(58)).toBe('ICMPv6');
    expect(ipProtocolName(253)).toBe('ip-proto-253');
  });
});
