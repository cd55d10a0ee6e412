/**
 * The first four bytes of every WireGuard message: a type byte and three
 * reserved zero bytes (whitepaper §5.4; wireguard-go reads them as one
 * little-endian u32, so a non-zero reserved byte is an unknown type).
 *
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+-----------------------------------------------+
 * |     type      |            reserved (3 zero bytes)            |
 * +---------------+-----------------------------------------------+
 *
 * Every multi-byte integer in WireGuard's own headers is little-endian
 * (unlike the IP and UDP headers around them).
 */
import { fail, ok, type ParseResult } from '../../core/parse-result.js';

export const MessageType = {
  initiation: 1,
  response: 2,
  cookieReply: 3,
  transport: 4,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MESSAGE_TYPE_LENGTH = 4;

export function messageTypeName(type: number): string {
  return (Object.entries(MessageType).find(([, v]) => v === type)?.[0] ?? `type ${type}`) as string;
}

/** The message's type; `badValue` for an unknown type or non-zero reserved bytes. */
export function parseMessageType(buf: Uint8Array): ParseResult<MessageType> {
  if (buf.length < MESSAGE_TYPE_LENGTH) return fail('truncated', 0, `${buf.length} bytes < ${MESSAGE_TYPE_LENGTH}`);
  const type = buf[0]!;
  if (buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return fail('badValue', 1, 'reserved bytes not zero');
  if (type < MessageType.initiation || type > MessageType.transport) return fail('badValue', 0, `unknown type ${type}`);
  return ok(type as MessageType);
}

/** Little-endian u32 at `offset` (WireGuard's indices). */
export function getU32le(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
}

export function setU32le(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 16) & 0xff;
  buf[offset + 3] = (value >>> 24) & 0xff;
}

/** Writes the type byte and the three reserved zeros. */
export function emitMessageType(type: MessageType, buf: Uint8Array, offset: number): void {
  buf[offset] = type;
  buf[offset + 1] = 0;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
}
