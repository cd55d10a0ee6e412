/**
 * The browser view's packet decode: every layer of a captured frame, each
 * field named as in its RFC's header diagram with its byte range (for the
 * hex pane), read with tapnet's own codecs — the same parse functions and
 * Field offset tables the stack runs on (src/l2, src/l3, src/l4, services).
 * No second decoder: where a codec refuses the bytes, its typed error is
 * what the page shows.
 */
import type { ParseResult } from '../../core/parse-result.js';
import { describeParseError } from '../../core/parse-result.js';
import { ArpField, parseArp } from '../../l2/arp/packet.js';
import { EthernetField, parseEthernet } from '../../l2/ethernet/frame.js';
import { EtherType, describeEtherType } from '../../l2/ethernet/ether-type.js';
import { formatMac } from '../../l2/mac-address.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { formatIpv4 } from '../../l3/ipv4/address.js';
import { Field as Ipv4Field, parseIpv4Header } from '../../l3/ipv4/header.js';
import { formatIpv6 } from '../../l3/ipv6/address.js';
import { Ipv6Field, parseIpv6Header } from '../../l3/ipv6/header.js';
import { Field as IcmpField, parseIcmpv4 } from '../../l3/icmpv4/message.js';
import { Icmpv6Field, describeIcmpv6 } from '../../l3/icmpv6/message.js';
import { Field as TcpField, describeTcpFlags, parseTcpHeader } from '../../l4/tcp/header.js';
import { parseTcpOptionList, type TcpOption } from '../../l4/tcp/options.js';
import { UdpField, parseUdp } from '../../l4/udp/header.js';
import { DnsHeaderField, describeDnsMessage, parseDnsMessage } from '../../services/dns/message.js';
import { Field as DhcpField, describeDhcpMessage, parseDhcpMessage } from '../../services/dhcp/message.js';

export interface DecodedField {
  readonly name: string;
  readonly value: string;
  /** Byte range in the frame (a bit field names the bytes that hold it). */
  readonly offset: number;
  readonly length: number;
}

export interface DecodedLayer {
  readonly name: string;
  /** Where to read about it: the RFC section of the header diagram. */
  readonly rfc: string;
  readonly offset: number;
  readonly length: number;
  readonly summary: string;
  readonly fields: DecodedField[];
  /** The codec's error when it refused these bytes. */
  readonly error?: string;
}

/** What the packet list and its filter need: one line per frame. */
export interface PacketSummary {
  protocols: string[];
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  info: string;
}

export interface Decoded {
  readonly layers: DecodedLayer[];
  readonly summary: PacketSummary;
}

class Builder {
  readonly layers: DecodedLayer[] = [];
  readonly summary: PacketSummary = { protocols: [], info: '' };
  layer(name: string, rfc: string, offset: number, length: number, summary: string, fields: [string, string, number, number][], error?: string): void {
    this.layers.push({
      name,
      rfc,
      offset,
      length,
      summary,
      error,
      fields: fields.map(([n, value, o, l]) => ({ name: n, value, offset: offset + o, length: l })),
    });
    this.summary.protocols.push(name.toLowerCase().split(' ')[0]!);
    this.summary.info = summary;
  }
  failed(name: string, rfc: string, offset: number, length: number, r: ParseResult<unknown> & { ok: false }): void {
    this.layer(name, rfc, offset, length, `malformed: ${describeParseError(r.error)}`, [], describeParseError(r.error));
  }
}

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

export function decodeFrame(frame: Uint8Array): Decoded {
  const b = new Builder();
  const eth = parseEthernet(frame);
  if (!eth.ok) {
    b.failed('Ethernet', 'IEEE 802.3 §3.1.1', 0, frame.length, eth);
    return b;
  }
  const e = eth.value;
  const fields: [string, string, number, number][] = [
    ['Destination Address', formatMac(e.destination), EthernetField.DESTINATION, 6],
    ['Source Address', formatMac(e.source), EthernetField.SOURCE, 6],
  ];
  if (e.vlan) {
    fields.push(['TPID', hex(EtherType.VLAN, 4), EthernetField.ETHER_TYPE, 2]);
    fields.push(['TCI (PCP, DEI, VID)', `PCP ${e.vlan.pcp}, DEI ${e.vlan.dei ? 1 : 0}, VID ${e.vlan.vid}`, EthernetField.TCI, 2]);
    fields.push(['EtherType', `${hex(e.etherType, 4)} (${describeEtherType(e.etherType)})`, EthernetField.INNER_ETHER_TYPE, 2]);
  } else fields.push(['EtherType', `${hex(e.etherType, 4)} (${describeEtherType(e.etherType)})`, EthernetField.ETHER_TYPE, 2]);
  b.layer(e.vlan ? 'Ethernet 802.1Q' : 'Ethernet', e.vlan ? 'IEEE 802.1Q §9.6' : 'IEEE 802.3 §3.1.1; RFC 894', 0, e.payloadOffset, `${formatMac(e.source)} → ${formatMac(e.destination)}`, fields);
  if (e.vlan) b.summary.protocols.push('vlan');
  const at = e.payloadOffset;
  const payload = e.payload;
  if (e.etherType === EtherType.ARP) decodeArp(b, payload, at);
  else if (e.etherType === EtherType.IPv4) decodeIpv4(b, payload, at);
  else if (e.etherType === EtherType.IPv6) decodeIpv6(b, payload, at);
  return b;
}

function decodeArp(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseArp(bytes);
  if (!r.ok) return b.failed('ARP', 'RFC 826', at, bytes.length, r);
  const a = r.value;
  const op = a.operation === 1 ? 'request' : a.operation === 2 ? 'reply' : String(a.operation);
  b.summary.source = formatIpv4(a.senderProtocolAddress);
  b.summary.destination = formatIpv4(a.targetProtocolAddress);
  b.layer('ARP', 'RFC 826 "Packet format"', at, 28, a.operation === 1 ? `who has ${formatIpv4(a.targetProtocolAddress)}? tell ${formatIpv4(a.senderProtocolAddress)}` : `${formatIpv4(a.senderProtocolAddress)} is at ${formatMac(a.senderHardwareAddress)}`, [
    ['Hardware Type (ar$hrd)', '1 (Ethernet)', ArpField.HARDWARE_TYPE, 2],
    ['Protocol Type (ar$pro)', hex(0x0800, 4), ArpField.PROTOCOL_TYPE, 2],
    ['Hardware Length (ar$hln)', '6', ArpField.HARDWARE_LENGTH, 1],
    ['Protocol Length (ar$pln)', '4', ArpField.PROTOCOL_LENGTH, 1],
    ['Operation (ar$op)', `${a.operation} (${op})`, ArpField.OPERATION, 2],
    ['Sender Hardware Address (ar$sha)', formatMac(a.senderHardwareAddress), ArpField.SENDER_HARDWARE_ADDRESS, 6],
    ['Sender Protocol Address (ar$spa)', formatIpv4(a.senderProtocolAddress), ArpField.SENDER_PROTOCOL_ADDRESS, 4],
    ['Target Hardware Address (ar$tha)', formatMac(a.targetHardwareAddress), ArpField.TARGET_HARDWARE_ADDRESS, 6],
    ['Target Protocol Address (ar$tpa)', formatIpv4(a.targetProtocolAddress), ArpField.TARGET_PROTOCOL_ADDRESS, 4],
  ]);
}

function decodeIpv4(b: Builder, bytes: Uint8Array, at: number): void {
  // Not verifying the checksum: a TSO super-frame's is left to the device; the field is shown as sent.
  const r = parseIpv4Header(bytes, false);
  if (!r.ok) return b.failed('IPv4', 'RFC 791 §3.1', at, bytes.length, r);
  const h = r.value;
  const ihl = (bytes[0]! & 0x0f) * 4;
  b.summary.source = formatIpv4(h.source);
  b.summary.destination = formatIpv4(h.destination);
  const flags = [h.dontFragment ? 'DF' : '', h.moreFragments ? 'MF' : ''].filter(Boolean).join(' ') || 'none';
  const fields: [string, string, number, number][] = [
    ['Version', '4', Ipv4Field.VERSION_IHL, 1],
    ['IHL', `${ihl / 4} (${ihl} bytes)`, Ipv4Field.VERSION_IHL, 1],
    ['Type of Service (DSCP, ECN)', `DSCP ${h.dscp}, ECN ${h.ecn}`, Ipv4Field.DSCP_ECN, 1],
    ['Total Length', String(h.totalLength), Ipv4Field.TOTAL_LENGTH, 2],
    ['Identification', hex(h.identification, 4), Ipv4Field.IDENTIFICATION, 2],
    ['Flags', flags, Ipv4Field.FLAGS_FRAGMENT_OFFSET, 1],
    ['Fragment Offset', String(h.fragmentOffset), Ipv4Field.FLAGS_FRAGMENT_OFFSET, 2],
    ['Time to Live', String(h.ttl), Ipv4Field.TTL, 1],
    ['Protocol', String(h.protocol), Ipv4Field.PROTOCOL, 1],
    ['Header Checksum', hex((bytes[Ipv4Field.HEADER_CHECKSUM]! << 8) | bytes[Ipv4Field.HEADER_CHECKSUM + 1]!, 4), Ipv4Field.HEADER_CHECKSUM, 2],
    ['Source Address', formatIpv4(h.source), Ipv4Field.SOURCE, 4],
    ['Destination Address', formatIpv4(h.destination), Ipv4Field.DESTINATION, 4],
  ];
  if (ihl > 20) fields.push(['Options', `${ihl - 20} bytes`, Ipv4Field.OPTIONS, ihl - 20]);
  b.layer('IPv4', 'RFC 791 §3.1', at, ihl, `${formatIpv4(h.source)} → ${formatIpv4(h.destination)} ttl ${h.ttl}`, fields);
  if (h.fragmentOffset !== 0) return;
  const payload = bytes.subarray(ihl, Math.min(bytes.length, h.totalLength));
  decodeTransport(b, h.protocol, payload, at + ihl);
}

const EXTENSION_NAMES: Record<number, string> = { 0: 'Hop-by-Hop Options', 43: 'Routing', 44: 'Fragment', 60: 'Destination Options' };

function decodeIpv6(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseIpv6Header(bytes);
  if (!r.ok) return b.failed('IPv6', 'RFC 8200 §3', at, bytes.length, r);
  const h = r.value;
  b.summary.source = formatIpv6(h.source);
  b.summary.destination = formatIpv6(h.destination);
  b.layer('IPv6', 'RFC 8200 §3', at, 40, `${formatIpv6(h.source)} → ${formatIpv6(h.destination)} hlim ${h.hopLimit}`, [
    ['Version', '6', Ipv6Field.VERSION_CLASS_FLOW, 1],
    ['Traffic Class', String(h.trafficClass), Ipv6Field.VERSION_CLASS_FLOW, 2],
    ['Flow Label', hex(h.flowLabel, 5), Ipv6Field.VERSION_CLASS_FLOW + 1, 3],
    ['Payload Length', String(h.payloadLength), Ipv6Field.PAYLOAD_LENGTH, 2],
    ['Next Header', String(h.nextHeader), Ipv6Field.NEXT_HEADER, 1],
    ['Hop Limit', String(h.hopLimit), Ipv6Field.HOP_LIMIT, 1],
    ['Source Address', formatIpv6(h.source), Ipv6Field.SOURCE, 16],
    ['Destination Address', formatIpv6(h.destination), Ipv6Field.DESTINATION, 16],
  ]);
  // RFC 8200 §4: the extension headers in order, each with Next Header first (the Fragment header is 8 bytes).
  let next = h.nextHeader;
  let offset = 40;
  const end = Math.min(bytes.length, 40 + h.payloadLength);
  for (let i = 0; i < 8 && EXTENSION_NAMES[next] !== undefined; i++) {
    if (offset + 8 > end) return;
    const length = next === IpProtocol.IPv6Fragment ? 8 : (bytes[offset + 1]! + 1) * 8;
    const fields: [string, string, number, number][] = [['Next Header', String(bytes[offset]!), 0, 1]];
    if (next === IpProtocol.IPv6Fragment) {
      const word = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
      fields.push(['Fragment Offset', String(word >> 3), 2, 2], ['M', String(word & 1), 3, 1], ['Identification', hex(((bytes[offset + 4]! << 24) | (bytes[offset + 5]! << 16) | (bytes[offset + 6]! << 8) | bytes[offset + 7]!) >>> 0, 8), 4, 4]);
    } else fields.push(['Hdr Ext Len', String(bytes[offset + 1]!), 1, 1], ['Options / data', `${length - 2} bytes`, 2, length - 2]);
    const section = next === 0 ? '§4.3' : next === 43 ? '§4.4' : next === 44 ? '§4.5' : '§4.6';
    b.layer(`IPv6 ${EXTENSION_NAMES[next]}`, `RFC 8200 ${section}`, at + offset, length, EXTENSION_NAMES[next]!, fields);
    if (next === IpProtocol.IPv6Fragment && (((bytes[offset + 2]! << 8) | bytes[offset + 3]!) >> 3) !== 0) return;
    next = bytes[offset]!;
    offset += length;
  }
  decodeTransport(b, next, bytes.subarray(offset, end), at + offset);
}

function decodeTransport(b: Builder, protocol: number, bytes: Uint8Array, at: number): void {
  if (protocol === IpProtocol.TCP) decodeTcp(b, bytes, at);
  else if (protocol === IpProtocol.UDP) decodeUdp(b, bytes, at);
  else if (protocol === IpProtocol.ICMP) decodeIcmp(b, bytes, at);
  else if (protocol === IpProtocol.ICMPv6) decodeIcmpv6(b, bytes, at);
}

function decodeIcmp(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseIcmpv4(bytes, false);
  if (!r.ok) return b.failed('ICMP', 'RFC 792', at, bytes.length, r);
  const m = r.value;
  const fields: [string, string, number, number][] = [
    ['Type', String(bytes[IcmpField.TYPE]), IcmpField.TYPE, 1],
    ['Code', String(bytes[IcmpField.CODE]), IcmpField.CODE, 1],
    ['Checksum', hex((bytes[IcmpField.CHECKSUM]! << 8) | bytes[IcmpField.CHECKSUM + 1]!, 4), IcmpField.CHECKSUM, 2],
  ];
  let summary = `type ${bytes[0]} code ${bytes[1]}`;
  if (m.kind === 'echo') {
    const request = bytes[0] === 8;
    summary = `echo ${request ? 'request' : 'reply'} id ${m.identifier} seq ${m.sequence}`;
    fields.push(['Identifier', String(m.identifier), IcmpField.IDENTIFIER, 2], ['Sequence Number', String(m.sequence), IcmpField.SEQUENCE, 2], ['Data', `${m.data.length} bytes`, IcmpField.BODY, m.data.length]);
  } else fields.push(['Rest of header / quoted datagram', `${bytes.length - 4} bytes`, IcmpField.REST, bytes.length - 4]);
  b.layer('ICMP', m.kind === 'echo' ? 'RFC 792 "Echo or Echo Reply Message"' : 'RFC 792', at, bytes.length, summary, fields);
}

function decodeIcmpv6(b: Builder, bytes: Uint8Array, at: number): void {
  if (bytes.length < 4) return b.layer('ICMPv6', 'RFC 4443 §2.1', at, bytes.length, 'truncated', [], 'truncated');
  const type = bytes[0]!;
  const ndp = type >= 133 && type <= 137;
  b.layer(ndp ? 'ICMPv6 NDP' : 'ICMPv6', ndp ? 'RFC 4861 §4' : 'RFC 4443 §2.1', at, bytes.length, describeIcmpv6(bytes), [
    ['Type', String(type), Icmpv6Field.TYPE, 1],
    ['Code', String(bytes[1]), Icmpv6Field.CODE, 1],
    ['Checksum', hex((bytes[2]! << 8) | bytes[3]!, 4), Icmpv6Field.CHECKSUM, 2],
    ['Message body', `${bytes.length - 4} bytes`, Icmpv6Field.REST, bytes.length - 4],
  ]);
  if (ndp) b.summary.protocols.push('ndp');
}

function decodeUdp(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseUdp(bytes);
  if (!r.ok) return b.failed('UDP', 'RFC 768', at, bytes.length, r);
  const u = r.value;
  b.summary.sourcePort = u.sourcePort;
  b.summary.destinationPort = u.destinationPort;
  b.layer('UDP', 'RFC 768 "Format"', at, 8, `${u.sourcePort} → ${u.destinationPort} len ${u.length}`, [
    ['Source Port', String(u.sourcePort), UdpField.sourcePort, 2],
    ['Destination Port', String(u.destinationPort), UdpField.destinationPort, 2],
    ['Length', String(u.length), UdpField.length, 2],
    ['Checksum', hex(u.checksum, 4), UdpField.checksum, 2],
  ]);
  const ports = [u.sourcePort, u.destinationPort];
  if (ports.includes(53)) decodeDns(b, u.payload, at + 8);
  else if (ports.includes(67) || ports.includes(68)) decodeDhcp(b, u.payload, at + 8);
}

function decodeDns(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseDnsMessage(bytes);
  if (!r.ok) return b.layer('DNS', 'RFC 1035 §4.1', at, bytes.length, `malformed: ${r.error.code}`, [], String(r.error.code));
  const m = r.value;
  const f = DnsHeaderField;
  b.layer('DNS', 'RFC 1035 §4.1.1', at, bytes.length, describeDnsMessage(m), [
    ['ID', String(m.id), f.id, 2],
    ['QR|Opcode|AA|TC|RD|RA|Z|RCODE', `qr ${m.flags.qr ? 1 : 0} opcode ${m.flags.opcode} rcode ${m.flags.rcode}`, f.flags, 2],
    ['QDCOUNT', String(m.questions.length), f.questionCount, 2],
    ['ANCOUNT', String(m.answers.length), f.answerCount, 2],
    ['NSCOUNT', String(m.authorities.length), f.authorityCount, 2],
    ['ARCOUNT', String(m.additionals.length + (m.edns ? 1 : 0)), f.additionalCount, 2],
    ['Question / Answer / Authority / Additional', m.questions.map((q) => q.name).join(', '), 12, bytes.length - 12],
  ]);
}

function decodeDhcp(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseDhcpMessage(bytes);
  if (!r.ok) return b.failed('DHCP', 'RFC 2131 §2', at, bytes.length, r);
  const m = r.value;
  const f = DhcpField;
  b.layer('DHCP', 'RFC 2131 §2 (Figure 1)', at, bytes.length, describeDhcpMessage(m), [
    ['op', String(m.op), f.OP, 1],
    ['htype', String(m.htype), f.HTYPE, 1],
    ['hlen', String(m.hlen), f.HLEN, 1],
    ['hops', String(m.hops), f.HOPS, 1],
    ['xid', hex(m.xid >>> 0, 8), f.XID, 4],
    ['secs', String(m.secs), f.SECS, 2],
    ['flags', hex(m.flags, 4), f.FLAGS, 2],
    ['ciaddr', formatIpv4(m.ciaddr), f.CIADDR, 4],
    ['yiaddr', formatIpv4(m.yiaddr), f.YIADDR, 4],
    ['siaddr', formatIpv4(m.siaddr), f.SIADDR, 4],
    ['giaddr', formatIpv4(m.giaddr), f.GIADDR, 4],
    ['chaddr', formatMac(m.chaddr), f.CHADDR, 16],
    ['magic cookie', '99.130.83.99', f.MAGIC_COOKIE, 4],
    ['options', `${bytes.length - f.OPTIONS} bytes`, f.OPTIONS, bytes.length - f.OPTIONS],
  ]);
}

/** Bytes one TCP option takes on the wire (RFC 9293 §3.1, RFC 7323, RFC 2018). */
function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'endOfOptionList':
    case 'noOperation':
      return 1;
    case 'maximumSegmentSize':
      return 4;
    case 'windowScale':
      return 3;
    case 'sackPermitted':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + o.data.length;
  }
}

function optionField(o: TcpOption): [string, string] {
  switch (o.kind) {
    case 'endOfOptionList':
      return ['End of Option List (kind 0)', ''];
    case 'noOperation':
      return ['No-Operation (kind 1)', ''];
    case 'maximumSegmentSize':
      return ['Maximum Segment Size (kind 2)', String(o.mss)];
    case 'windowScale':
      return ['Window Scale (kind 3)', String(o.shift)];
    case 'sackPermitted':
      return ['SACK-Permitted (kind 4)', 'yes'];
    case 'sack':
      return ['SACK (kind 5)', o.blocks.map((x) => `${x.left}-${x.right}`).join(' ')];
    case 'timestamps':
      return ['Timestamps (kind 8)', `TSval ${o.value >>> 0} TSecr ${o.echoReply >>> 0}`];
    case 'unknown':
      return [`Option kind ${o.type}`, `${o.data.length} bytes`];
  }
}

function decodeTcp(b: Builder, bytes: Uint8Array, at: number): void {
  const r = parseTcpHeader(bytes);
  if (!r.ok) return b.failed('TCP', 'RFC 9293 §3.1', at, bytes.length, r);
  const t = r.value;
  const dataOffset = (bytes[TcpField.DATA_OFFSET]! >> 4) * 4;
  b.summary.sourcePort = t.sourcePort;
  b.summary.destinationPort = t.destinationPort;
  const fields: [string, string, number, number][] = [
    ['Source Port', String(t.sourcePort), TcpField.SOURCE_PORT, 2],
    ['Destination Port', String(t.destinationPort), TcpField.DESTINATION_PORT, 2],
    ['Sequence Number', String(t.sequenceNumber >>> 0), TcpField.SEQUENCE_NUMBER, 4],
    ['Acknowledgment Number', String(t.acknowledgmentNumber >>> 0), TcpField.ACKNOWLEDGMENT_NUMBER, 4],
    ['Data Offset', `${dataOffset / 4} (${dataOffset} bytes)`, TcpField.DATA_OFFSET, 1],
    ['Control Bits', describeTcpFlags(t.flags), TcpField.FLAGS, 1],
    ['Window', String(t.window), TcpField.WINDOW, 2],
    ['Checksum', hex((bytes[TcpField.CHECKSUM]! << 8) | bytes[TcpField.CHECKSUM + 1]!, 4), TcpField.CHECKSUM, 2],
    ['Urgent Pointer', String(t.urgentPointer), TcpField.URGENT_POINTER, 2],
  ];
  const list = parseTcpOptionList(bytes.subarray(TcpField.OPTIONS, dataOffset));
  if (list.ok) {
    let o = TcpField.OPTIONS;
    for (const option of list.value) {
      const length = optionLength(option);
      const [name, value] = optionField(option);
      fields.push([name, value, o, length]);
      o += length;
      if (option.kind === 'endOfOptionList') break;
    }
  }
  const payload = bytes.length - dataOffset;
  if (payload > 0) fields.push(['Data', `${payload} bytes`, dataOffset, payload]);
  b.layer('TCP', 'RFC 9293 §3.1', at, bytes.length, `${t.sourcePort} → ${t.destinationPort} [${describeTcpFlags(t.flags)}] seq ${t.sequenceNumber >>> 0}${t.flags & 0x10 ? ` ack ${t.acknowledgmentNumber >>> 0}` : ''} win ${t.window}${payload ? ` len ${payload}` : ''}`, fields);
  if (payload > 0) decodeHttp(b, bytes.subarray(dataOffset), at + dataOffset);
}

const HTTP_FIRST_LINE = /^(?:(?:GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP\/\d\.\d|HTTP\/\d\.\d \d{3}[^\r\n]*)\r\n/;

/** HTTP/1.1 (RFC 9112 §3, §4): only the request or status line, when the segment starts with one. */
function decodeHttp(b: Builder, bytes: Uint8Array, at: number): void {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 256))).toString('latin1');
  const m = HTTP_FIRST_LINE.exec(head);
  if (!m) return;
  const line = m[0].slice(0, -2);
  b.layer('HTTP', line.startsWith('HTTP/') ? 'RFC 9112 §4 (status line)' : 'RFC 9112 §3 (request line)', at, m[0].length, line, [[line.startsWith('HTTP/') ? 'status-line' : 'request-line', line, 0, m[0].length - 2]]);
}
