/**
 * NOTIFICATION, RFC 4271 §4.5: sent when an error is detected; the
 * connection is closed right after it.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Error code    | Error subcode |   Data (variable)             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * (The body, after the 19-byte header.) Cease may carry a shutdown
 * communication (RFC 9003): a length byte and UTF-8 text; it is shown when
 * present and well-formed.
 */
import { ErrorCode, HeaderSubcode, bgpFail, bgpOk, describeErrorCode, type BgpResult } from './errors.js';
import { HEADER_LENGTH, MessageType, frameMessage } from './header.js';

export const NotificationField = { code: 0, subcode: 1, data: 2 } as const;

export interface Notification {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export function parseNotification(body: Uint8Array): BgpResult<Notification> {
  if (body.length < 2) return bgpFail(ErrorCode.messageHeader, HeaderSubcode.badMessageLength, HEADER_LENGTH, `NOTIFICATION body of ${body.length} bytes`);
  return bgpOk({ code: body[NotificationField.code]!, subcode: body[NotificationField.subcode]!, data: body.slice(NotificationField.data) });
}

export function notificationLength(n: Notification): number {
  return 2 + n.data.length;
}

export function emitNotification(n: Notification, buf: Uint8Array, offset: number): number {
  buf[offset + NotificationField.code] = n.code;
  buf[offset + NotificationField.subcode] = n.subcode;
  buf.set(n.data, offset + NotificationField.data);
  return notificationLength(n);
}

export function notificationMessage(n: Notification): Uint8Array {
  const body = new Uint8Array(notificationLength(n));
  emitNotification(n, body, 0);
  return frameMessage(MessageType.notification, body);
}

/** "Cease / Administrative Reset: \"maintenance\"". */
export function describeNotification(n: Notification): string {
  let text = describeErrorCode(n.code, n.subcode);
  if (n.code === ErrorCode.cease && n.data.length > 0 && n.data[0] === n.data.length - 1) {
    text += `: "${new TextDecoder().decode(n.data.subarray(1))}"`;
  } else if (n.data.length > 0) {
    text += ` (data ${Array.from(n.data.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('')}${n.data.length > 16 ? '…' : ''})`;
  }
  return text;
}
