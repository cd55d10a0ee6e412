/**
 * DHCPv6 client/server messages. Read first: RFC 8415 §8 (the format),
 * §7.3 (message types), §21.1 (the option format). Option bodies are in
 * options.ts. Relay messages (§9, RELAY-FORW/REPL) are not parsed here.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |    msg-type   |               transaction-id                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   .                            options                            .
 *   .                 (variable number and length)                  .
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Each option (§21.1):
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          option-code          |           option-len          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                          option-data                          |
 *   |                      (option-len octets)                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { fail, ok, type ParseResult } from '../../core/parse-result.js';

/** RFC 8415 §7.3. Unknown values are kept as plain numbers. */
export const Dhcp6MessageType = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const;

/** Byte offsets of the header fields (§8). */
export const Dhcp6Field = { msgType: 0, transactionId: 1, options: 4 } as const;
export const DHCP6_HEADER_LENGTH = 4;
/** Option header: code (16) + length (16) (§21.1). */
export const DHCP6_OPTION_HEADER_LENGTH = 4;
/** RFC 8415 §7.2: the UDP ports. */
export const DHCP6_CLIENT_PORT = 546;
export const DHCP6_SERVER_PORT = 547;
/**
 * Options read from one message (or one IA): a real message carries about ten; a peer that
 * sends a thousand zero-length options gets a parse error, not a thousand allocations. tapnet's choice.
 */
export const DHCP6_MAX_OPTIONS = 64;

/** One option as it came: code and the bytes of its data (a view into the message). */
export interface Dhcp6RawOption {
  readonly code: number;
  readonly data: Uint8Array;
}

export interface Dhcp6Message {
  readonly msgType: number;
  /** 24 bits (§8): the client picks it, the server echoes it. */
  readonly transactionId: number;
  readonly options: readonly Dhcp6RawOption[];
}

/** The options of `buf` from `start` to its end (§21.1): used for messages and, nested, for IA_NA and IAADDR. */
export function parseDhcp6Options(buf: Uint8Array, start: number): ParseResult<Dhcp6RawOption[]> {
  const options: Dhcp6RawOption[] = [];
  let at = start;
  while (at < buf.length) {
    if (buf.length - at < DHCP6_OPTION_HEADER_LENGTH) return fail('truncated', at, `${buf.length - at} octets left, an option header is 4`);
    const code = getU16(buf, at);
    const length = getU16(buf, at + 2);
    const end = at + DHCP6_OPTION_HEADER_LENGTH + length;
    if (end > buf.length) return fail('badLength', at + 2, `option ${code} claims ${length} octets, ${buf.length - at - 4} left`);
    if (options.length >= DHCP6_MAX_OPTIONS) return fail('badOption', at, `more than ${DHCP6_MAX_OPTIONS} options`);
    options.push({ code, data: buf.subarray(at + DHCP6_OPTION_HEADER_LENGTH, end) });
    at = end;
  }
  return ok(options);
}

/** A client/server message (not a relay message: RELAY-FORW and RELAY-REPL are 'unsupported'). */
export function parseDhcp6Message(buf: Uint8Array): ParseResult<Dhcp6Message> {
  if (buf.length < DHCP6_HEADER_LENGTH) return fail('truncated', 0, `${buf.length} octets, the header is 4`);
  const msgType = buf[Dhcp6Field.msgType]!;
  if (msgType === Dhcp6MessageType.RELAY_FORW || msgType === Dhcp6MessageType.RELAY_REPL) return fail('unsupported', 0, 'relay messages are not handled');
  const transactionId = (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!;
  const options = parseDhcp6Options(buf, Dhcp6Field.options);
  if (!options.ok) return options;
  return ok({ msgType, transactionId, options: options.value });
}

/** The first option with `code`, or undefined. */
export function findDhcp6Option(options: readonly Dhcp6RawOption[], code: number): Dhcp6RawOption | undefined {
  return options.find((o) => o.code === code);
}

export function dhcp6OptionsLength(options: readonly Dhcp6RawOption[]): number {
  return options.reduce((sum, o) => sum + DHCP6_OPTION_HEADER_LENGTH + o.data.length, 0);
}

/** Writes the options at `offset`; returns the octets written. */
export function emitDhcp6Options(options: readonly Dhcp6RawOption[], buf: Uint8Array, offset: number): number {
  let at = offset;
  for (const o of options) {
    setU16(buf, at, o.code);
    setU16(buf, at + 2, o.data.length);
    buf.set(o.data, at + DHCP6_OPTION_HEADER_LENGTH);
    at += DHCP6_OPTION_HEADER_LENGTH + o.data.length;
  }
  return at - offset;
}

export function dhcp6MessageLength(message: Dhcp6Message): number {
  return DHCP6_HEADER_LENGTH + dhcp6OptionsLength(message.options);
}

/** Writes the message at `offset`; returns the octets written. Throws RangeError when it does not fit (a programmer error). */
export function emitDhcp6Message(message: Dhcp6Message, buf: Uint8Array, offset: number): number {
  const length = dhcp6MessageLength(message);
  if (offset + length > buf.length) throw new RangeError(`DHCPv6 message of ${length} octets does not fit`);
  buf[offset + Dhcp6Field.msgType] = message.msgType;
  buf[offset + 1] = (message.transactionId >>> 16) & 0xff;
  buf[offset + 2] = (message.transactionId >>> 8) & 0xff;
  buf[offset + 3] = message.transactionId & 0xff;
  emitDhcp6Options(message.options, buf, offset + Dhcp6Field.options);
  return length;
}

export function encodeDhcp6Message(message: Dhcp6Message): Uint8Array {
  const buf = new Uint8Array(dhcp6MessageLength(message));
  emitDhcp6Message(message, buf, 0);
  return buf;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Dhcp6MessageType).map(([k, v]) => [v, k.toLowerCase().replace('_', '-')]));

/** tcpdump-style one line: "solicit xid=b475df options 1,6,8,3". */
export function describeDhcp6Message(message: Dhcp6Message): string {
  const type = TYPE_NAMES[message.msgType] ?? `type-${message.msgType}`;
  return `${type} xid=${message.transactionId.toString(16).padStart(6, '0')} options ${message.options.map((o) => o.code).join(',')}`;
}
