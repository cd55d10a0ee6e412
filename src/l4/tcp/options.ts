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
import { fail, ok, type ParseError, type ParseResult } from '../../core/parse-result.js';
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
 * What `readTcpOptions` reports, one call per option in wire order. The
 * arrival path's `Segment` implements it to fill its option slots without
 * allocating; `parseTcpOptionList` implements it to build a list. Values are
 * as received (a window scale above 14 is capped by the user of the value).
 */
export interface TcpOptionVisitor {
  onEndOfOptionList(): void;
  onNoOperation(): void;
  onMaximumSegmentSize(mss: number): void;
  onWindowScale(shift: number): void;
  onSackPermitted(): void;
  /** A SACK option with `blockCount` blocks; `onSackBlock` follows for each. */
  onSack(blockCount: number): void;
  onSackBlock(index: number, left: SeqNum, right: SeqNum): void;
  onTimestamps(value: number, echoReply: number): void;
  /** An option this file does not interpret; its data is `bytes[dataStart, dataEnd)`. */
  onUnknown(kind: number, bytes: Uint8Array, dataStart: number, dataEnd: number): void;
}

function badOption(offset: number, detail: string): ParseError {
  return { reason: 'badOption', offset, detail };
}

/**
 * THE options reader: walks `bytes[start, end)` (the options field of a
 * header), checks each option's length (RFC 9293 §3.1: kinds 0 and 1 are
 * one byte, every other kind has a length byte that counts kind and length;
 * the known kinds have the fixed lengths in the table above) and reports it
 * to `visitor`. Stops at End of Option List: the rest is padding. Returns the
 * first malformed option as a `badOption` error whose offset is relative to
 * `bytes`; allocates nothing unless the options are malformed.
 */
export function readTcpOptions(bytes: Uint8Array, start: number, end: number, visitor: TcpOptionVisitor): ParseError | undefined {
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === TcpOptionKind.endOfOptionList) {
      visitor.onEndOfOptionList();
      return undefined;
    }
    if (kind === TcpOptionKind.noOperation) {
      visitor.onNoOperation();
      i++;
      continue;
    }
    if (i + 1 >= end) return badOption(i, `option ${kind} has no length byte`);
    const length = bytes[i + 1]!;
    if (length < 2) return badOption(i, `option ${kind} length ${length} < 2`);
    if (i + length > end) return badOption(i, `option ${kind} length ${length} runs past the options (${end - i} left)`);
    switch (kind) {
      case TcpOptionKind.maximumSegmentSize:
        if (length !== MSS_LENGTH) return wrongLength(i, kind, length, MSS_LENGTH);
        visitor.onMaximumSegmentSize(getU16(bytes, i + 2));
        break;
      case TcpOptionKind.windowScale:
        if (length !== WINDOW_SCALE_LENGTH) return wrongLength(i, kind, length, WINDOW_SCALE_LENGTH);
        visitor.onWindowScale(bytes[i + 2]!);
        break;
      case TcpOptionKind.sackPermitted:
        if (length !== SACK_PERMITTED_LENGTH) return wrongLength(i, kind, length, SACK_PERMITTED_LENGTH);
        visitor.onSackPermitted();
        break;
      case TcpOptionKind.sack: {
        const blockBytes = length - SACK_BASE_LENGTH;
        if (blockBytes === 0 || blockBytes % SACK_BLOCK_LENGTH !== 0) {
          return badOption(i, `SACK length ${length} is not 2 + 8n with n >= 1`);
        }
        const count = blockBytes / SACK_BLOCK_LENGTH;
        visitor.onSack(count);
        for (let b = 0; b < count; b++) {
          const at = i + SACK_BASE_LENGTH + b * SACK_BLOCK_LENGTH;
          visitor.onSackBlock(b, seq(getU32(bytes, at)), seq(getU32(bytes, at + 4)));
        }
        break;
      }
      case TcpOptionKind.timestamps:
        if (length !== TIMESTAMPS_LENGTH) return wrongLength(i, kind, length, TIMESTAMPS_LENGTH);
        visitor.onTimestamps(getU32(bytes, i + 2), getU32(bytes, i + 6));
        break;
      default:
        // RFC 9293 §3.1: "A TCP implementation MUST be able to receive a TCP Option in any segment" and ignore
        // the ones it does not know: the length byte lets the reader step over them.
        visitor.onUnknown(kind, bytes, i + 2, i + length);
    }
    i += length;
  }
  return undefined;
}

function wrongLength(at: number, kind: number, length: number, expected: number): ParseError {
  return badOption(at, `option ${kind} length ${length}, expected ${expected}`);
}

/** Collects the options into a wire-order list (the record level; allocates). */
class TcpOptionListBuilder implements TcpOptionVisitor {
  readonly list: TcpOption[] = [];
  private blocks: SackBlock[] = [];
  onEndOfOptionList(): void {
    this.list.push({ kind: 'endOfOptionList' });
  }
  onNoOperation(): void {
    this.list.push({ kind: 'noOperation' });
  }
  onMaximumSegmentSize(mss: number): void {
    this.list.push({ kind: 'maximumSegmentSize', mss });
  }
  onWindowScale(shift: number): void {
    this.list.push({ kind: 'windowScale', shift });
  }
  onSackPermitted(): void {
    this.list.push({ kind: 'sackPermitted' });
  }
  onSack(): void {
    this.blocks = [];
    this.list.push({ kind: 'sack', blocks: this.blocks });
  }
  onSackBlock(_index: number, left: SeqNum, right: SeqNum): void {
    this.blocks.push({ left, right });
  }
  onTimestamps(value: number, echoReply: number): void {
    this.list.push({ kind: 'timestamps', value, echoReply });
  }
  onUnknown(type: number, bytes: Uint8Array, dataStart: number, dataEnd: number): void {
    this.list.push({ kind: 'unknown', type, data: bytes.slice(dataStart, dataEnd) });
  }
}

/**
 * The options in wire order (`readTcpOptions` with a list-building visitor).
 * Offsets in errors are relative to the start of `bytes`; pass `baseOffset`
 * (20 for a header) to make them relative to the header.
 */
export function parseTcpOptionList(bytes: Uint8Array, baseOffset = 0): ParseResult<TcpOption[]> {
  const builder = new TcpOptionListBuilder();
  const error = readTcpOptions(bytes, 0, bytes.length, builder);
  if (error) return fail(error.reason, baseOffset + error.offset, error.detail);
  return ok(builder.list);
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
  // No closures and no temporaries: send.ts builds every data segment and ACK through this.
  let at = offset;
  if (options.maximumSegmentSize !== undefined) {
    checkRange('maximumSegmentSize', options.maximumSegmentSize, 0xffff);
    if (buf) {
      setU8(buf, at, TcpOptionKind.maximumSegmentSize);
      setU8(buf, at + 1, MSS_LENGTH);
      setU16(buf, at + 2, options.maximumSegmentSize);
    }
    at += MSS_LENGTH;
  }
  let sackPermittedPending = options.sackPermitted === true;
  const timestamps = options.timestamps;
  if (timestamps) {
    checkRange('timestamps.value', timestamps.value, 0xffffffff);
    checkRange('timestamps.echoReply', timestamps.echoReply, 0xffffffff);
    if (buf) {
      if (sackPermittedPending) {
        setU8(buf, at, TcpOptionKind.sackPermitted);
        setU8(buf, at + 1, SACK_PERMITTED_LENGTH);
      } else {
        setU8(buf, at, TcpOptionKind.noOperation);
        setU8(buf, at + 1, TcpOptionKind.noOperation);
      }
      setU8(buf, at + 2, TcpOptionKind.timestamps);
      setU8(buf, at + 3, TIMESTAMPS_LENGTH);
      setU32(buf, at + 4, timestamps.value);
      setU32(buf, at + 8, timestamps.echoReply);
    }
    sackPermittedPending = false;
    at += 2 + TIMESTAMPS_LENGTH;
  }
  if (sackPermittedPending) {
    if (buf) {
      setU8(buf, at, TcpOptionKind.noOperation);
      setU8(buf, at + 1, TcpOptionKind.noOperation);
      setU8(buf, at + 2, TcpOptionKind.sackPermitted);
      setU8(buf, at + 3, SACK_PERMITTED_LENGTH);
    }
    at += 2 + SACK_PERMITTED_LENGTH;
  }
  if (options.windowScale !== undefined) {
    // Emitting a shift above 14 is allowed on purpose: tests need to send one.
    checkRange('windowScale', options.windowScale, 0xff);
    if (buf) {
      setU8(buf, at, TcpOptionKind.noOperation);
      setU8(buf, at + 1, TcpOptionKind.windowScale);
      setU8(buf, at + 2, WINDOW_SCALE_LENGTH);
      setU8(buf, at + 3, options.windowScale);
    }
    at += 1 + WINDOW_SCALE_LENGTH;
  }
  const blocks = options.sackBlocks;
  if (blocks && blocks.length > 0) {
    if (blocks.length > TCP_MAX_SACK_BLOCKS) {
      throw new RangeError(`emitTcpOptions: ${blocks.length} SACK blocks > ${TCP_MAX_SACK_BLOCKS}`);
    }
    const length = SACK_BASE_LENGTH + SACK_BLOCK_LENGTH * blocks.length;
    if (buf) {
      setU8(buf, at, TcpOptionKind.noOperation);
      setU8(buf, at + 1, TcpOptionKind.noOperation);
      setU8(buf, at + 2, TcpOptionKind.sack);
      setU8(buf, at + 3, length);
      for (let b = 0; b < blocks.length; b++) {
        setU32(buf, at + 4 + b * SACK_BLOCK_LENGTH, blocks[b]!.left);
        setU32(buf, at + 8 + b * SACK_BLOCK_LENGTH, blocks[b]!.right);
      }
    }
    at += 2 + length;
  }
  if (options.unknown) {
    for (const option of options.unknown) {
      checkRange('unknown option type', option.type, 0xff);
      if (option.type <= TcpOptionKind.noOperation || option.data.length > TCP_OPTIONS_MAX_LENGTH - 2) {
        throw new RangeError(`emitTcpOptions: cannot emit unknown option ${option.type} with ${option.data.length} bytes`);
      }
      if (buf) {
        setU8(buf, at, option.type);
        setU8(buf, at + 1, option.data.length + 2);
        buf.set(option.data, at + 2);
      }
      at += 2 + option.data.length;
    }
  }
  // RFC 9293 §3.1: "The TCP header padding is used to ensure that the TCP header ends ... on a 32-bit boundary.
  // The padding is composed of zeros." A zero is also End of Option List.
  while ((at - offset) % 4 !== 0) {
    if (buf) setU8(buf, at, TcpOptionKind.endOfOptionList);
    at++;
  }
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
