/**
 * The TCP RST a `reject` rule answers a TCP segment with, as if from the
 * closed port it was sent to.
 *
 * Read first: RFC 9293 §3.10.7.1 (SEGMENT ARRIVES in CLOSED): "If the ACK
 * bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
 * <CTL=RST,ACK>. If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>", where
 * SEG.LEN counts SYN and FIN. "An incoming segment containing a RST is
 * discarded": a RST is never answered.
 */
import type { Ipv4HeaderView } from '../../l3/ipv4/header.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import { TcpFlags, TcpHeaderView, emitTcpHeader, finishTcpChecksumV4, TCP_HEADER_MIN_LENGTH } from '../../l4/tcp/header.js';
import { seq, seqAdd } from '../../l4/tcp/seq.js';
import type { Ipv4Address } from '../../l3/ipv4/address.js';

export interface TcpReset {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  /** The RST segment, checksummed for (source, destination). */
  readonly segment: Uint8Array;
}

/** The segment being answered (reused: nothing of it is kept). */
const arrived = new TcpHeaderView();

/** The RST answering the TCP segment in `ip`, or undefined when none is due (a RST, or a truncated header). */
export function tcpResetFor(ip: Ipv4HeaderView): TcpReset | undefined {
  if (ip.protocol !== IpProtocol.TCP || ip.fragmentOffset !== 0) return undefined;
  const tcp = arrived;
  if (tcp.wrap(ip.payload)) return undefined;
  const flags = tcp.flags;
  if (flags & TcpFlags.RST) return undefined;
  const segmentLength = tcp.payload.length + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0);
  const ackOn = (flags & TcpFlags.ACK) !== 0;
  const segment = new Uint8Array(TCP_HEADER_MIN_LENGTH);
  emitTcpHeader(
    {
      sourcePort: tcp.destinationPort,
      destinationPort: tcp.sourcePort,
      sequenceNumber: ackOn ? tcp.acknowledgmentNumber : seq(0),
      acknowledgmentNumber: ackOn ? seq(0) : seqAdd(tcp.sequenceNumber, segmentLength),
      flags: ackOn ? TcpFlags.RST : TcpFlags.RST | TcpFlags.ACK,
      window: 0,
      urgentPointer: 0,
      options: {},
    },
    segment,
    0,
  );
  finishTcpChecksumV4(segment, ip.destination, ip.source);
  return { source: ip.destination, destination: ip.source, segment };
}
