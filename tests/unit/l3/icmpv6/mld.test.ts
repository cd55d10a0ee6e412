/**
 * MLD listener behaviour on a tapnet host, against hand-built queries from a
 * "router" end of an in-memory link: MLDv2 reports by default, MLDv1
 * compatibility mode after an MLDv1 query (RFC 3810 §8.2.1), and back to v2
 * once the Older Version Querier Present Timeout passes.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { createLinkPair } from '../../../../src/device/link.js';
import { emitEthernet } from '../../../../src/l2/ethernet/frame.js';
import { EtherType } from '../../../../src/l2/ethernet/ether-type.js';
import { IPV6_ALL_NODES, formatIpv6, linkLocalFromMac, parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import { emitIpv6Header, IPV6_HEADER_LENGTH } from '../../../../src/l3/ipv6/header.js';
import { setIcmpv6Checksum } from '../../../../src/l3/icmpv6/message.js';
import { MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS } from '../../../../src/l3/icmpv6/mld.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import { Host } from '../../../../src/node/host.js';

const ROUTER_MAC = 0x02_00_00_00_00_99;
const ROUTER_LL = linkLocalFromMac(ROUTER_MAC);

/** A general query from the router: 24 bytes (MLDv1) or 28 (MLDv2), max response delay 1 s. */
function generalQuery(version: 1 | 2): Uint8Array {
  const icmpLength = version === 1 ? 24 : 28;
  const frame = new Uint8Array(14 + IPV6_HEADER_LENGTH + icmpLength);
  emitEthernet({ destination: 0x33_33_00_00_00_01, source: ROUTER_MAC, etherType: EtherType.IPv6 }, frame, 0);
  emitIpv6Header(
    { trafficClass: 0, flowLabel: 0, payloadLength: icmpLength, nextHeader: IpProtocol.ICMPv6, hopLimit: 1, source: ROUTER_LL, destination: IPV6_ALL_NODES },
    frame,
    14,
  );
  const icmp = 14 + IPV6_HEADER_LENGTH;
  frame[icmp] = 130;
  frame[icmp + 4] = 0x03; // Max Response Delay 1000 ms
  frame[icmp + 5] = 0xe8;
  setIcmpv6Checksum(frame, icmp, icmpLength, ROUTER_LL, IPV6_ALL_NODES);
  return frame;
}

/** ICMPv6 type and IPv6 destination of every MLD report the host sends. */
function setup() {
  const ctx = createTestContext(3);
  const [hostEnd, routerEnd] = createLinkPair(ctx);
  const host = new Host(ctx);
  host.addInterface(hostEnd, { name: 'h0', mac: 0x02_00_00_00_00_01, ipv6: { addresses: [parseIpv6Cidr('fd00::1/64')!], dadTransmits: 0 } });
  const reports: string[] = [];
  routerEnd.setReceiver((frame) => {
    if (frame[12] !== 0x86 || frame[13] !== 0xdd) return;
    // Reports carry a Hop-by-Hop Router Alert: ICMPv6 starts after the 8-byte HBH header.
    const nextHeader = frame[14 + 6];
    const icmp = 14 + IPV6_HEADER_LENGTH + (nextHeader === IpProtocol.HopByHop ? 8 : 0);
    const type = frame[icmp]!;
    if (type === 131 || type === 143) reports.push(`${type} ${formatIpv6(frame.subarray(14 + 24, 14 + 40))}`);
  });
  host.start();
  const advance = (ms: number): void => ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + ms);
  advance(2000);
  reports.length = 0;
  return { ctx, host, routerEnd, reports, advance };
}

describe('MLD listener', () => {
  it('answers an MLDv2 general query with one MLDv2 report to ff02::16', () => {
    const { routerEnd, reports, advance } = setup();
    routerEnd.send(generalQuery(2));
    advance(1100);
    expect(reports).toEqual(['143 ff02::16']);
  });

  it('answers an MLDv1 query with one MLDv1 report per group, each sent to the group, and keeps v1 until the timeout', () => {
    const { routerEnd, reports, advance, host } = setup();
    routerEnd.send(generalQuery(1));
    advance(1100);
    // fd00::1 and fe80::ff:fe00:1 share one solicited-node group.
    expect(reports).toEqual(['131 ff02::1:ff00:1']);
    expect(host.ctx.stats.get('Icmp6OutGroupMembResponses')).toBe(1);

    // Still a v1 querier around: a v2 query (from another router) is answered in v1.
    reports.length = 0;
    routerEnd.send(generalQuery(2));
    advance(1100);
    expect(reports).toEqual(['131 ff02::1:ff00:1']);

    // No v1 query for the Older Version Querier Present Timeout: back to MLDv2.
    advance(MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS);
    reports.length = 0;
    routerEnd.send(generalQuery(2));
    advance(1100);
    expect(reports).toEqual(['143 ff02::16']);
  });
});
