/**
 * Handshake response (message type 2), 92 bytes: responder → initiator,
 * the second and last message of Noise_IKpsk2. Whitepaper §5.4.3.
 *
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+-----------------------------------------------+
 * |   type = 2    |               reserved (zero)                 |   0
 * +---------------+-----------------------------------------------+
 * |                    sender index (LE u32)                      |   4
 * +---------------------------------------------------------------+
 * |           receiver index (LE u32): the initiator's            |   8
 * +---------------------------------------------------------------+
 * |              unencrypted ephemeral public key (32)            |  12
 * +---------------------------------------------------------------+
 * |            encrypted nothing (0 + 16 tag)                     |  44
 * +---------------------------------------------------------------+
 * |                          mac1 (16)                            |  60
 * +---------------------------------------------------------------+
 * |                          mac2 (16)                            |  76
 * +---------------------------------------------------------------+  92
 */
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import { MessageType, emitMessageType, getU32le, setU32le } from './message-type.js';

export const ResponseField = {
  type: 0,
  sender: 4,
  receiver: 8,
  ephemeral: 12,
  encryptedNothing: 44,
  mac1: 60,
  mac2: 76,
} as const;

export const RESPONSE_LENGTH = 92;

export interface Response {
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedNothing: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export function parseResponse(buf: Uint8Array): ParseResult<Response> {
  if (buf.length < RESPONSE_LENGTH) return fail('truncated', 0, `${buf.length} bytes < ${RESPONSE_LENGTH}`);
  if (buf.length > RESPONSE_LENGTH) return fail('badLength', RESPONSE_LENGTH, `${buf.length} bytes > ${RESPONSE_LENGTH}`);
  if (buf[0] !== MessageType.response || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return fail('badValue', 0, 'not a response');
  const f = ResponseField;
  return ok({
    sender: getU32le(buf, f.sender),
    receiver: getU32le(buf, f.receiver),
    ephemeral: buf.subarray(f.ephemeral, f.encryptedNothing),
    encryptedNothing: buf.subarray(f.encryptedNothing, f.mac1),
    mac1: buf.subarray(f.mac1, f.mac2),
    mac2: buf.subarray(f.mac2, RESPONSE_LENGTH),
  });
}

export function emitResponse(m: Response, buf: Uint8Array, offset: number): number {
  const f = ResponseField;
  emitMessageType(MessageType.response, buf, offset);
  setU32le(buf, offset + f.sender, m.sender);
  setU32le(buf, offset + f.receiver, m.receiver);
  buf.set(m.ephemeral, offset + f.ephemeral);
  buf.set(m.encryptedNothing, offset + f.encryptedNothing);
  buf.set(m.mac1, offset + f.mac1);
  buf.set(m.mac2, offset + f.mac2);
  return RESPONSE_LENGTH;
}

export function describeResponse(m: Response): string {
  return `WireGuard handshake response, sender ${m.sender}, receiver ${m.receiver}`;
}
