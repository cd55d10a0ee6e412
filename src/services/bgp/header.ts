/**
 * The BGP message header, RFC 4271 §4.1, and KEEPALIVE (§4.4), which is the
 * header alone.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                                                               +
 * |                                                               |
 * +                                                               +
 * |                           Marker                              |
 * +                                                               +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Length               |      Type     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Marker: 16 bytes of ones. Length: the whole message, 19..4096 (RFC 8654
 * extended messages are not negotiated here). BGP runs over TCP, a byte
 * stream: `nextMessage` finds where one message ends in what has arrived.
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { ErrorCode, HeaderSubcode, bgpFail, bgpOk, type BgpResult } from './errors.js';

export const HeaderField = { marker: 0, length: 16, type: 18 } as const;
export const HEADER_LENGTH = 19;
export const MARKER_LENGTH = 16;
/** RFC 4271 §4: "The maximum message size is 4096 octets." */
export const MAX_MESSAGE_LENGTH = 4096;

/** Message types, RFC 4271 §4.1 (5: RFC 2918). Unknown values are kept as numbers. */
export const MessageType = { open: 1, update: 2, notification: 3, keepalive: 4, routeRefresh: 5 } as const;
export type MessageTypeName = keyof typeof MessageType;

/** Minimum length of each type, RFC 4271 §6.1 ("Bad Message Length" when shorter). */
const MIN_LENGTH: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 };

export interface MessageHeader {
  readonly length: number;
  readonly type: number;
}

/**
 * Checks a header (RFC 4271 §6.1): marker all ones, length within 19..4096
 * and at least the type's minimum, KEEPALIVE exactly 19, a known type.
 * `buf` needs only the 19 header bytes.
 */
export function parseHeader(buf: Uint8Array): BgpResult<MessageHeader> {
  if (buf.length < HEADER_LENGTH) return bgpFail(ErrorCode.messageHeader, HeaderSubcode.badMessageLength, 0, `${buf.length} bytes < header ${HEADER_LENGTH}`);
  for (let i = 0; i < MARKER_LENGTH; i++) {
    if (buf[i] !== 0xff) return bgpFail(ErrorCode.messageHeader, HeaderSubcode.connectionNotSynchronized, i, 'marker is not all ones');
  }
  const length = getU16(buf, HeaderField.length);
  const type = buf[HeaderField.type]!;
  const lengthData = buf.slice(HeaderField.length, HeaderField.length + 2);
  if (length < HEADER_LENGTH || length > MAX_MESSAGE_LENGTH) {
    return bgpFail(ErrorCode.messageHeader, HeaderSubcode.badMessageLength, HeaderField.length, `length ${length} outside 19..4096`, lengthData);
  }
  const min = MIN_LENGTH[type];
  if (min === undefined) return bgpFail(ErrorCode.messageHeader, HeaderSubcode.badMessageType, HeaderField.type, `type ${type}`, Uint8Array.of(type));
  if (length < min || (type === MessageType.keepalive && length !== HEADER_LENGTH)) {
    return bgpFail(ErrorCode.messageHeader, HeaderSubcode.badMessageLength, HeaderField.length, `${typeName(type)} of length ${length}`, lengthData);
  }
  return bgpOk({ length, type });
}

/**
 * The next whole message in a receive buffer: `undefined` while more bytes
 * are needed, the error for a bad header, else the header and the body.
 */
export function nextMessage(buf: Uint8Array): BgpResult<{ header: MessageHeader; body: Uint8Array; size: number }> | undefined {
  if (buf.length < HEADER_LENGTH) return undefined;
  const header = parseHeader(buf);
  if (!header.ok) return header;
  if (buf.length < header.value.length) return undefined;
  return bgpOk({ header: header.value, body: buf.subarray(HEADER_LENGTH, header.value.length), size: header.value.length });
}

/** Writes the marker, length and type; the body must already be (or be written) after it. */
export function emitHeader(header: MessageHeader, buf: Uint8Array, offset: number): number {
  buf.fill(0xff, offset, offset + MARKER_LENGTH);
  setU16(buf, offset + HeaderField.length, header.length);
  buf[offset + HeaderField.type] = header.type;
  return HEADER_LENGTH;
}

/** A whole message: header + body. Throws (a programmer error) when the body is too long for BGP. */
export function frameMessage(type: number, body: Uint8Array): Uint8Array {
  const length = HEADER_LENGTH + body.length;
  if (length > MAX_MESSAGE_LENGTH) throw new Error(`BGP message of ${length} bytes > ${MAX_MESSAGE_LENGTH}`);
  const out = new Uint8Array(length);
  emitHeader({ length, type }, out, 0);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** KEEPALIVE, RFC 4271 §4.4: "a message consisting of only the message header". */
export function keepaliveMessage(): Uint8Array {
  return frameMessage(MessageType.keepalive, new Uint8Array(0));
}

export function typeName(type: number): string {
  const entry = Object.entries(MessageType).find(([, v]) => v === type);
  return entry ? entry[0].toUpperCase().replace('ROUTEREFRESH', 'ROUTE-REFRESH') : `type ${type}`;
}

export function describeHeader(h: MessageHeader): string {
  return `BGP ${typeName(h.type)}, length ${h.length}`;
}
