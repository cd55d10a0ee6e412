/**
 * TCP options: the variable part of the TCP header after the 20 fixed bytes.
 *
 * Read first: RFC 9293 §3.1 (option format) and §3.2 (MSS), RFC 7323 §2
 * (window scale) and §3 (timestamps), RFC 2018 §2-3 (SACK-permitted, SACK).
 *
 *   Kind 0  End of Option List   [0]                              1 byte
 *   Kind 1  No-Operation         [1]                              1 byte
 *   Kind 2  Maximum Segment Size [2][4][  mss (16)  ]             4 bytes
 *   Kind 3  Window Scale         [3][3][shift]                    3 bytes
 *   Kind 4  SACK-Permitted       [4][2]                           2 bytes
 *   Kind 5  SACK                 [5][2+8n][left(32) right(32)]*n  10, 18, 26 or 34 bytes
 *   Kind 8  Timestamps           [8][10][ TSval (32) ][ TSecr (32) ] 10 bytes
 *
 * Every other option is a kind-length-value triple too, so an unknown one can
 * be stepped over and kept. Two levels, as for headers: `parseTcpOptionList`
 * gives the options in wire order (with NOPs, for `describe`), `parseTcpOptions`
 * the record a connection uses. Emitting writes the record in Linux's order and
 * alignment (`tcp_options_write`), so a record parsed from a Linux segment
 * re-emits byte for byte.
 *
 * Linux skips a malformed option and keeps the segment; we report it as a
 * typed `badOption` error with its offset and let the caller choose.
 */
import { getU16, getU32, setU16, setU32, setU8, toHex } from '../../core/bytes.js';
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import { seq, type SeqNum } from './seq.js';

export const TcpOptionKind = {
  endOfOptionList: 0,
  noOperation: 1,
  maximumSegmentSize: 2,
  windowScale: 3,
  sackPermitted: 4,
  sack: 5,
  timestamps: 8,
} as const;
export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind];

/** RFC 9293 §3.1: data offset is 4 bits of 32-bit words, so at most 60 - 20 bytes of options. */
export const TCP_OPTIONS_MAX_LENGTH = 40;
/** RFC 7323 §2.3: a shift above 14 MUST be treated as 14 (2^14 * 65535 < 2^30). */
export const TCP_MAX_WINDOW_SCALE = 14;
/** RFC 2018 §3: 40 bytes hold at most 4 SACK blocks (2 + 4*8 = 34). */
export const TCP_MAX_SACK_BLOCKS = 4;

const MSS_LENGTH = 4;
const WINDOW_SCALE_LENGTH = 3;
const SACK_PERMITTED_LENGTH = 2;
const SACK_BASE_LENGTH = 2;
const SACK_BLOCK_LENGTH = 8;
const TIMESTAMPS_LENGTH = 10;

/** One SACK block: the bytes [left, right) have been received (RFC 2018 §3). */
export interface SackBlock {
  readonly left: SeqNum;
  readonly right: SeqNum;
}

/** One option as it sits on the wire. */
export type TcpOption =
  | { readonly kind: 'endOfOptionList' }
  | { readonly kind: 'noOperation' }
  | { readonly kind: 'maximumSegmentSize'; readonly mss: number }
  /** `shift` as received; the value to use is min(shift, 14). */
  | { readonly kind: 'windowScale'; readonly shift: number }
  | { readonly kind: 'sackPermitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly SackBlock[] }
  | { readonly kind: 'timestamps'; readonly value: number; readonly echoReply: number }
  | { readonly kind: 'unknown'; readonly type: number; readonly data: Uint8Array };

/** An option this file does not interpret, kept so it can be reported or passed on. */
export interface UnknownTcpOption {
  readonly type: number;
  readonly data: Uint8Array;
}

/** What a connection needs from the options; absent fields were not sent. */
export interface TcpOptions {
  readonly maximumSegmentSize?: number;
  /** Shift count to use, already capped at TCP_MAX_WINDOW_SCALE (RFC 7323 §2.3). */
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly sackBlocks?: readonly SackBlock[];
  readonly timestamps?: { readonly value: number; readonly echoReply: number };
  readonly unknown?: readonly UnknownTcpOption[];
}

/**
 * The options in wire order. Parsing stops at End of Option List (the rest is
 * padding). Offsets in errors are relative to the start of `bytes`; pass
 * `baseOffset` (20 for a header) to make them relative to the header.
 */
export function parseTcpOptionList(bytes: Uint8Array, baseOffset = 0): ParseResult<TcpOption[]> {
  const list: TcpOption[] = [];
  let i = 0;
  while (i < bytes.length) {
    const kind = bytes[i]!;
    if (kind === TcpOptionKind.endOfOptionList) {
      list.push({ kind: 'endOfOptionList' });
      break;
    }
    if (kind === TcpOptionKind.noOperation) {
      list.push({ kind: 'noOperation' });
      i++;
      continue;
    }
    const at = baseOffset + i;
    if (i + 1 >= bytes.length) return fail('badOption', at, `option ${kind} has no length byte`);
    const length = bytes[i + 1]!;
    if (length < 2) return fail('badOption', at, `option ${kind} length ${length} < 2`);
    if (i + length > bytes.length) {
      return fail('badOption', at, `option ${kind} length ${length} runs past the options (${bytes.length - i} left)`);
    }
    const wrongLength = (expected: number): ParseResult<TcpOption[]> =>
      fail('badOption', at, `option ${kind} length ${length}, expected ${expected}`);
    switch (kind) {
      case TcpOptionKind.maximumSegmentSize:
        if (length !== MSS_LENGTH) return wrongLength(MSS_LENGTH);
        list.push({ kind: 'maximumSegmentSize', mss: getU16(bytes, i + 2) });
        break;
      case TcpOptionKind.windowScale:
        if (length !== WINDOW_SCALE_LENGTH) return wrongLength(WINDOW_SCALE_LENGTH);
        list.push({ kind: 'windowScale', shift: bytes[i + 2]! });
        break;
      case TcpOptionKind.sackPermitted:
        if (length !== SACK_PERMITTED_LENGTH) return wrongLength(SACK_PERMITTED_LENGTH);
        list.push({ kind: 'sackPermitted' });
        break;
      case TcpOptionKind.sack: {
        const blockBytes = length - SACK_BASE_LENGTH;
        if (blockBytes === 0 || blockBytes % SACK_BLOCK_LENGTH !== 0) {
          return fail('badOption', at, `SACK length ${length} is not 2 + 8n with n >= 1`);
        }
        const blocks: SackBlock[] = [];
        for (let b = i + SACK_BASE_LENGTH; b < i + length; b += SACK_BLOCK_LENGTH) {
          blocks.push({ left: seq(getU32(bytes, b)), right: seq(getU32(bytes, b + 4)) });
        }
        list.push({ kind: 'sack', blocks });
        break;
      }
      case TcpOptionKind.timestamps:
        if (length !== TIMESTAMPS_LENGTH) return wrongLength(TIMESTAMPS_LENGTH);
        list.push({ kind: 'timestamps', value: getU32(bytes, i + 2), echoReply: getU32(bytes, i + 6) });
        break;
      default:
        list.push({ kind: 'unknown', type: kind, data: bytes.slice(i + 2, i + length) });
    }
    i += length;
  }
  return ok(list);
}

/** Folds a wire-order list into the record; a repeated option keeps its last value, as Linux does. */
export function tcpOptionsFromList(list: readonly TcpOption[]): TcpOptions {
  let maximumSegmentSize: number | undefined;
  let windowScale: number | undefined;
  let sackPermitted = false;
  let sackBlocks: readonly SackBlock[] | undefined;
  let timestamps: { value: number; echoReply: number } | undefined;
  const unknown: UnknownTcpOption[] = [];
  for (const option of list) {
    switch (option.kind) {
      case 'maximumSegmentSize':
        maximumSegmentSize = option.mss;
        break;
      case 'windowScale':
        windowScale = Math.min(option.shift, TCP_MAX_WINDOW_SCALE);
        break;
      case 'sackPermitted':
        sackPermitted = true;
        break;
      case 'sack':
        sackBlocks = option.blocks;
        break;
      case 'timestamps':
        timestamps = { value: option.value, echoReply: option.echoReply };
        break;
      case 'unknown':
        unknown.push({ type: option.type, data: option.data });
        break;
      case 'endOfOptionList':
      case 'noOperation':
        break;
    }
  }
  const options: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = {};
  if (maximumSegmentSize !== undefined) options.maximumSegmentSize = maximumSegmentSize;
  if (windowScale !== undefined) options.windowScale = windowScale;
  if (sackPermitted) options.sackPermitted = true;
  if (sackBlocks !== undefined) options.sackBlocks = sackBlocks;
  if (timestamps !== undefined) options.timestamps = timestamps;
  if (unknown.length > 0) options.unknown = unknown;
  return options;
}

/** The options field parsed into the record a connection uses. */
export function parseTcpOptions(bytes: Uint8Array, baseOffset = 0): ParseResult<TcpOptions> {
  const list = parseTcpOptionList(bytes, baseOffset);
  return list.ok ? ok(tcpOptionsFromList(list.value)) : list;
}

/**
 * Bytes `emitTcpOptions` writes: a multiple of 4, because the data offset
 * counts 32-bit words. Same code path as the emitter.
 */
export function tcpOptionsLength(options: TcpOptions): number {
  return writeTcpOptions(options, undefined, 0);
}

/**
 * Writes the options at `offset` in Linux's layout and returns the bytes
 * written (a multiple of 4). Throws RangeError when they do not fit in 40
 * bytes or a value is out of range: records come from our own code, so that
 * is a programmer error.
 */
export function emitTcpOptions(options: TcpOptions, buf: Uint8Array, offset: number): number {
  return writeTcpOptions(options, buf, offset);
}

/**
 * Linux `tcp_options_write` order: MSS; then timestamps, with SACK-permitted
 * sharing its word when both are sent, else behind two NOPs; a lone
 * SACK-permitted behind two NOPs; window scale behind one NOP; SACK blocks
 * behind two NOPs. Unknown options go last, then End of Option List padding.
 */
function writeTcpOptions(options: TcpOptions, buf: Uint8Array | undefined, offset: number): number {
  let at = offset;
  const u8 = (value: number): void => {
    if (buf) setU8(buf, at, value);
    at += 1;
  };
  const u16 = (value: number): void => {
    if (buf) setU16(buf, at, value);
    at += 2;
  };
  const u32 = (value: number): void => {
    if (buf) setU32(buf, at, value);
    at += 4;
  };

  if (options.maximumSegmentSize !== undefined) {
    checkRange('maximumSegmentSize', options.maximumSegmentSize, 0xffff);
    u8(TcpOptionKind.maximumSegmentSize);
    u8(MSS_LENGTH);
    u16(options.maximumSegmentSize);
  }
  let sackPermittedPending = options.sackPermitted === true;
  if (options.timestamps) {
    checkRange('timestamps.value', options.timestamps.value, 0xffffffff);
    checkRange('timestamps.echoReply', options.timestamps.echoReply, 0xffffffff);
    if (sackPermittedPending) {
      u8(TcpOptionKind.sackPermitted);
      u8(SACK_PERMITTED_LENGTH);
      sackPermittedPending = false;
    } else {
      u8(TcpOptionKind.noOperation);
      u8(TcpOptionKind.noOperation);
    }
    u8(TcpOptionKind.timestamps);
    u8(TIMESTAMPS_LENGTH);
    u32(options.timestamps.value);
    u32(options.timestamps.echoReply);
  }
  if (sackPermittedPending) {
    u8(TcpOptionKind.noOperation);
    u8(TcpOptionKind.noOperation);
    u8(TcpOptionKind.sackPermitted);
    u8(SACK_PERMITTED_LENGTH);
  }
  if (options.windowScale !== undefined) {
    // Emitting a shift above 14 is allowed on purpose: tests need to send one.
    checkRange('windowScale', options.windowScale, 0xff);
    u8(TcpOptionKind.noOperation);
    u8(TcpOptionKind.windowScale);
    u8(WINDOW_SCALE_LENGTH);
    u8(options.windowScale);
  }
  if (options.sackBlocks && options.sackBlocks.length > 0) {
    if (options.sackBlocks.length > TCP_MAX_SACK_BLOCKS) {
      throw new RangeError(`emitTcpOptions: ${options.sackBlocks.length} SACK blocks > ${TCP_MAX_SACK_BLOCKS}`);
    }
    u8(TcpOptionKind.noOperation);
    u8(TcpOptionKind.noOperation);
    u8(TcpOptionKind.sack);
    u8(SACK_BASE_LENGTH + SACK_BLOCK_LENGTH * options.sackBlocks.length);
    for (const block of options.sackBlocks) {
      u32(block.left);
      u32(block.right);
    }
  }
  for (const option of options.unknown ?? []) {
    checkRange('unknown option type', option.type, 0xff);
    if (option.type <= TcpOptionKind.noOperation || option.data.length > TCP_OPTIONS_MAX_LENGTH - 2) {
      throw new RangeError(`emitTcpOptions: cannot emit unknown option ${option.type} with ${option.data.length} bytes`);
    }
    u8(option.type);
    u8(option.data.length + 2);
    if (buf) buf.set(option.data, at);
    at += option.data.length;
  }
  // RFC 9293 §3.1: "The TCP header padding is used to ensure that the TCP header ends ... on a 32-bit boundary.
  // The padding is composed of zeros." A zero is also End of Option List.
  while ((at - offset) % 4 !== 0) u8(TcpOptionKind.endOfOptionList);
  const length = at - offset;
  if (length > TCP_OPTIONS_MAX_LENGTH) {
    throw new RangeError(`emitTcpOptions: ${length} bytes of options > ${TCP_OPTIONS_MAX_LENGTH}`);
  }
  return length;
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`emitTcpOptions: ${name} ${value} is not an integer in [0, ${max}]`);
  }
}

/** tcpdump's spelling: "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7". */
export function describeTcpOptionList(list: readonly TcpOption[]): string {
  return list
    .map((option) => {
      switch (option.kind) {
        case 'endOfOptionList':
          return 'eol';
        case 'noOperation':
          return 'nop';
        case 'maximumSegmentSize':
          return `mss ${option.mss}`;
        case 'windowScale':
          return `wscale ${option.shift}`;
        case 'sackPermitted':
          return 'sackOK';
        case 'sack':
          return `sack ${option.blocks.length} ${option.blocks.map((b) => `{${b.left}:${b.right}}`).join('')}`;
        case 'timestamps':
          return `TS val ${option.value} ecr ${option.echoReply}`;
        case 'unknown':
          return `opt-${option.type}:${toHex(option.data)}`;
      }
    })
    .join(',');
}
