/**
 * Ethernet frames for the l2 codec tests.
 *
 * ARP frames: captured from Linux 6.18 with `tcpdump -xx` on a veth pair between two network namespaces,
 * va = 02:00:00:00:00:01 / 10.0.0.1, vb = 02:00:00:00:00:02 / 10.0.0.2 (unpadded: veth, like a TAP, adds no
 * padding to the 60-byte Ethernet minimum).
 */

/** `ping 10.0.0.2` from va: the kernel's broadcast request, target hardware address zero. */
export const ARP_REQUEST_FRAME =
  'ffffffffffff' + // destination: broadcast
  '020000000001' + // source: va
  '0806' + // EtherType ARP
  '0001' + // hardware type 1 (Ethernet)
  '0800' + // protocol type IPv4
  '06' + // hardware length 6
  '04' + // protocol length 4
  '0001' + // operation 1 (request)
  '020000000001' + // sender hardware address: va
  '0a000001' + // sender protocol address: 10.0.0.1
  '000000000000' + // target hardware address: unknown, zero
  '0a000002'; // target protocol address: 10.0.0.2

/** vb's answer to ARP_REQUEST_FRAME: unicast to va. */
export const ARP_REPLY_FRAME =
  '020000000001' + // destination: va
  '020000000002' + // source: vb
  '0806' +
  '0001' +
  '0800' +
  '06' +
  '04' +
  '0002' + // operation 2 (reply)
  '020000000002' + // sender hardware address: vb (the answer)
  '0a000002' + // sender protocol address: 10.0.0.2
  '020000000001' + // target hardware address: va
  '0a000001'; // target protocol address: 10.0.0.1

/** `arping -U -I va 10.0.0.1`: iputils' unsolicited (gratuitous) request; iputils puts broadcast in the target hardware address. */
export const ARPING_GRATUITOUS_FRAME =
  'ffffffffffff' + '020000000001' + '0806' + '0001' + '0800' + '06' + '04' + '0001' + '020000000001' + '0a000001' + 'ffffffffffff' + '0a000001';

/**
 * An 802.1Q tagged IPv4/TCP frame from a real network, as used by dpkt's test suite
 * (kbandla/dpkt, dpkt/ethernet.py test_eth_802dot1q): TCI 0x9020 = PCP 4, DEI (then CFI) 1, VID 32.
 * The kernel here has no 8021q module, so no tagged frame could be captured locally.
 */
export const VLAN_TCP_FRAME =
  '0060089fb1f3' + // destination
  '00400540ef24' + // source
  '8100' + // TPID: 802.1Q tag follows
  '9020' + // TCI: 100 1 000000100000 = PCP 4, DEI 1, VID 32
  '0800' + // EtherType IPv4
  '450000343b6440004006b79b83972081839720150495177051d4ee9c51a55b3680107c7012c700000101080a0004f0d40199a3fd';
