/**
 * Handshake initiation (message type 1), 148 bytes: the first message of
 * Noise_IKpsk2, initiator → responder. Whitepaper §5.4.2.
 *
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+-----------------------------------------------+
 * |   type = 1    |               reserved (zero)                 |   0
 * +---------------+-----------------------------------------------+
 * |                    sender index (LE u32)                      |   4
 * +---------------------------------------------------------------+
 * |              unencrypted ephemeral public key (32)            |   8
 * +---------------------------------------------------------------+
 * |         encrypted static public key (32 + 16 tag)             |  40
 * +---------------------------------------------------------------+
 * |            encrypted TAI64N timestamp (12 + 16 tag)           |  88
 * +---------------------------------------------------------------+
 * |                          mac1 (16)                            | 116
 * +---------------------------------------------------------------+
 * |                          mac2 (16)                            | 132
 * +---------------------------------------------------------------+ 148
 */
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import { toHex } from '../../core/bytes.js';
import { MessageType, emitMessageType, getU32le, setU32le } from './message-type.js';

export const InitiationField = {
  type: 0,
  sender: 4,
  ephemeral: 8,
  encryptedStatic: 40,
  encryptedTimestamp: 88,
  mac1: 116,
  mac2: 132,
} as const;

export const INITIATION_LENGTH = 148;
export const ENCRYPTED_STATIC_LENGTH = 48;
export const ENCRYPTED_TIMESTAMP_LENGTH = 28;

/** A parsed initiation; the byte fields are views into the message. */
export interface Initiation {
  readonly sender: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedStatic: Uint8Array;
  readonly encryptedTimestamp: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export function parseInitiation(buf: Uint8Array): ParseResult<Initiation> {
  if (buf.length < INITIATION_LENGTH) return fail('truncated', 0, `${buf.length} bytes < ${INITIATION_LENGTH}`);
  if (buf.length > INITIATION_LENGTH) return fail('badLength', INITIATION_LENGTH, `${buf.length} bytes > ${INITIATION_LENGTH}`);
  if (buf[0] !== MessageType.initiation || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return fail('badValue', 0, 'not an initiation');
  const f = InitiationField;
  return ok({
    sender: getU32le(buf, f.sender),
    ephemeral: buf.subarray(f.ephemeral, f.encryptedStatic),
    encryptedStatic: buf.subarray(f.encryptedStatic, f.encryptedTimestamp),
    encryptedTimestamp: buf.subarray(f.encryptedTimestamp, f.mac1),
    mac1: buf.subarray(f.mac1, f.mac2),
    mac2: buf.subarray(f.mac2, INITIATION_LENGTH),
  });
}

/** Writes the message (mac1 and mac2 as given: the cookie code fills them in place afterwards). */
export function emitInitiation(m: Initiation, buf: Uint8Array, offset: number): number {
  const f = InitiationField;
  emitMessageType(MessageType.initiation, buf, offset);
  setU32le(buf, offset + f.sender, m.sender);
  buf.set(m.ephemeral, offset + f.ephemeral);
  buf.set(m.encryptedStatic, offset + f.encryptedStatic);
  buf.set(m.encryptedTimestamp, offset + f.encryptedTimestamp);
  buf.set(m.mac1, offset + f.mac1);
  buf.set(m.mac2, offset + f.mac2);
  return INITIATION_LENGTH;
}

export function describeInitiation(m: Initiation): string {
  return `WireGuard handshake initiation, sender ${m.sender}, ephemeral ${toHex(m.ephemeral.subarray(0, 4))}…`;
}
