/**
 * Transport data (message type 4): a 16-byte header, then an IP packet
 * (padded with zeros to a multiple of 16) sealed with ChaCha20-Poly1305.
 * An empty plaintext is a keepalive (32 bytes in all). Whitepaper §5.4.6.
 *
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+-----------------------------------------------+
 * |   type = 4    |               reserved (zero)                 |   0
 * +---------------+-----------------------------------------------+
 * |          receiver index (LE u32): the peer's session          |   4
 * +---------------------------------------------------------------+
 * |                                                               |   8
 * +                      counter (LE u64)                         +
 * |                                                               |
 * +---------------------------------------------------------------+
 * |        encrypted packet (length - 16 - 16) ... + tag (16)     |  16
 * +---------------------------------------------------------------+
 *
 * The counter is the AEAD nonce (4 zero bytes, then the counter) and what
 * the anti-replay window (./replay.ts) checks.
 */
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import { TAG_LENGTH } from './crypto.js';
import { MessageType, emitMessageType, getU32le, setU32le } from './message-type.js';

export const TransportField = {
  type: 0,
  receiver: 4,
  counter: 8,
  encryptedPacket: 16,
} as const;

export const TRANSPORT_HEADER_LENGTH = 16;
/** A keepalive: the header and the tag of an empty plaintext. */
export const KEEPALIVE_LENGTH = TRANSPORT_HEADER_LENGTH + TAG_LENGTH;

export interface TransportHeader {
  readonly receiver: number;
  /** As a JS number: exact below 2^53, which REJECT_AFTER_MESSAGES keeps counters far under. */
  readonly counter: number;
  /** Ciphertext and tag, a view into the message. */
  readonly encryptedPacket: Uint8Array;
}

export function parseTransport(buf: Uint8Array): ParseResult<TransportHeader> {
  if (buf.length < KEEPALIVE_LENGTH) return fail('truncated', 0, `${buf.length} bytes < ${KEEPALIVE_LENGTH}`);
  if (buf[0] !== MessageType.transport || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return fail('badValue', 0, 'not transport data');
  const f = TransportField;
  return ok({
    receiver: getU32le(buf, f.receiver),
    counter: getU32le(buf, f.counter) + getU32le(buf, f.counter + 4) * 0x1_0000_0000,
    encryptedPacket: buf.subarray(f.encryptedPacket),
  });
}

/** Writes the 16-byte header; the caller seals the packet behind it. */
export function emitTransportHeader(receiver: number, counter: number, buf: Uint8Array, offset: number): number {
  const f = TransportField;
  emitMessageType(MessageType.transport, buf, offset);
  setU32le(buf, offset + f.receiver, receiver);
  setU32le(buf, offset + f.counter, counter >>> 0);
  setU32le(buf, offset + f.counter + 4, Math.floor(counter / 0x1_0000_0000));
  return TRANSPORT_HEADER_LENGTH;
}

export function describeTransport(m: TransportHeader): string {
  const inner = m.encryptedPacket.length - TAG_LENGTH;
  return `WireGuard transport, receiver ${m.receiver}, counter ${m.counter}, ${inner === 0 ? 'keepalive' : `${inner} bytes`}`;
}
