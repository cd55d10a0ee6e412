/**
 * Domain names on the wire. Read first: RFC 1035 §3.1 (labels), §2.3.4 (size
 * limits), §4.1.4 (message compression), §5.1 (the text form and its
 * escapes); RFC 4343 (case insensitivity); RFC 3597 §4 (where compression is
 * allowed).
 *
 * A name is a sequence of labels, each a length octet and that many octets,
 * ended by the zero-length root label:
 *
 *   www.example.test.
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   | 3| w| w| w| 7| e| x| a| m| p| l| e| 4| t| e| s| t| 0|
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *
 * The top two bits of a length octet give the label type:
 *   00  a normal label of 0..63 octets
 *   11  a compression pointer: the other 14 bits are an offset from the start
 *       of the message, where the rest of the name continues
 *           +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *           | 1  1|                OFFSET                   |
 *           +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   01  extended label (RFC 6891 §5; none is in use), 10 reserved: both rejected.
 *
 * In memory a name is its RFC 1035 §5.1 text, absolute, with the trailing dot
 * ("www.example.test.", the root is "."); octets that are not plain printable
 * characters are escaped as `\.` `\\` or `\DDD`, as dig prints them, so every
 * wire name has exactly one text form and the text round-trips.
 */
import { setU16 } from '../../core/bytes.js';
import type { ParseError } from '../../core/parse-result.js';

/** RFC 1035 §2.3.4: "labels 63 octets or less". */
export const MAX_LABEL_LENGTH = 63;
/** RFC 1035 §2.3.4: "names 255 octets or less", counted on the wire (length octets and root included). */
export const MAX_NAME_LENGTH = 255;
/** A pointer holds 14 bits of offset (RFC 1035 §4.1.4). */
export const MAX_POINTER_OFFSET = 0x3fff;
/**
 * Pointers followed while reading one name. A 255-octet name has at most 127
 * labels (each at least 2 octets), so a sane encoder never needs more jumps
 * than that; the strictly-backwards rule already makes loops impossible, this
 * bounds the work a hostile chain of pointers can cause.
 */
export const MAX_POINTER_HOPS = 127;

const LABEL_TYPE_MASK = 0xc0;
const LABEL_TYPE_NORMAL = 0x00;
const LABEL_TYPE_POINTER = 0xc0;

export type DnsNameErrorCode =
  | 'truncated' // the name runs past the end of the message (or of its RDATA)
  | 'labelTooLong' // text label over 63 octets
  | 'nameTooLong' // more than 255 octets on the wire
  | 'badLabelType' // length octet 0x40-0xbf: extended (RFC 6891 §5) or reserved label type
  | 'forwardPointer' // a pointer not strictly before the labels being read (would allow loops)
  | 'tooManyPointers' // more than MAX_POINTER_HOPS jumps
  | 'badEscape' // text form: `\` not followed by a character or three digits <= 255
  | 'emptyLabel'; // text form: "a..b" or ".a"

/** A ParseError with the precise DNS reason in `code`. */
export interface DnsNameError extends ParseError {
  readonly code: DnsNameErrorCode;
}

export type NameResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DnsNameError };

const REASON: Record<DnsNameErrorCode, ParseError['reason']> = {
  truncated: 'truncated',
  labelTooLong: 'badLength',
  nameTooLong: 'badLength',
  badLabelType: 'badValue',
  forwardPointer: 'badValue',
  tooManyPointers: 'badValue',
  badEscape: 'badValue',
  emptyLabel: 'badValue',
};

function nameFail(code: DnsNameErrorCode, offset: number, detail: string): { ok: false; error: DnsNameError } {
  return { ok: false, error: { reason: REASON[code], offset, detail: `${code}: ${detail}`, code } };
}

// ---------------------------------------------------------------------------
// Text form (RFC 1035 §5.1)

/** Octets dig escapes with a backslash even though they are printable. */
const SPECIAL = new Set([0x22, 0x24, 0x28, 0x29, 0x2e, 0x3b, 0x40, 0x5c]); // " $ ( ) . ; @ \

/** One label as text, escaped like dig prints it. */
export function labelToText(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let text = '';
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b <= 0x20 || b >= 0x7f) text += '\\' + String(b).padStart(3, '0');
    else if (SPECIAL.has(b)) text += '\\' + String.fromCharCode(b);
    else text += String.fromCharCode(b);
  }
  return text;
}

/** Labels (root excluded) → absolute text name. */
export function labelsToName(labels: readonly Uint8Array[]): string {
  if (labels.length === 0) return '.';
  let text = '';
  for (const label of labels) text += labelToText(label) + '.';
  return text;
}

const utf8 = new TextEncoder();

/**
 * Text → labels (root excluded), checking the RFC 1035 limits. "" and "." are
 * the root; the trailing dot is optional (every name is taken as absolute).
 * Characters outside ASCII are stored as their UTF-8 octets (IDNs belong in
 * punycode, RFC 5891, but the wire carries any octet).
 */
export function nameToLabels(name: string): NameResult<Uint8Array[]> {
  const labels: Uint8Array[] = [];
  if (name === '' || name === '.') return { ok: true, value: labels };
  let label: number[] = [];
  let wireLength = 1; // the root label
  const endLabel = (at: number): DnsNameError | undefined => {
    if (label.length === 0) return nameFail('emptyLabel', at, `empty label in "${name}"`).error;
    if (label.length > MAX_LABEL_LENGTH) return nameFail('labelTooLong', at, `label of ${label.length} octets > ${MAX_LABEL_LENGTH}`).error;
    wireLength += 1 + label.length;
    if (wireLength > MAX_NAME_LENGTH) return nameFail('nameTooLong', at, `name of ${wireLength}+ octets > ${MAX_NAME_LENGTH}`).error;
    labels.push(Uint8Array.from(label));
    label = [];
    return undefined;
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) {
      const digits = /^[0-9]{3}/.exec(name.slice(i + 1, i + 4));
      if (digits) {
        const value = Number(digits[0]);
        if (value > 255) return nameFail('badEscape', i, `\\${digits[0]} > 255`);
        label.push(value);
        i += 3;
      } else if (i + 1 < name.length && !/[0-9]/.test(name[i + 1]!)) {
        const cp = name.codePointAt(i + 1)!;
        for (const b of utf8.encode(String.fromCodePoint(cp))) label.push(b);
        i += cp > 0xffff ? 2 : 1;
      } else {
        return nameFail('badEscape', i, `bad escape in "${name}"`);
      }
    } else if (c === 0x2e) {
      const error = endLabel(i);
      if (error) return { ok: false, error };
    } else if (c < 0x80) {
      label.push(c);
    } else {
      const cp = name.codePointAt(i)!;
      for (const b of utf8.encode(String.fromCodePoint(cp))) label.push(b);
      if (cp > 0xffff) i++;
    }
  }
  if (label.length > 0) {
    const error = endLabel(name.length);
    if (error) return { ok: false, error };
  }
  return { ok: true, value: labels };
}

function labelsOrThrow(name: string): Uint8Array[] {
  const result = nameToLabels(name);
  if (!result.ok) throw new RangeError(`invalid domain name "${name}": ${result.error.detail}`);
  return result.value;
}

/** ASCII-only lower-casing: RFC 4343 §3 folds A-Z and nothing else. */
function lowerLabel(label: Uint8Array): Uint8Array {
  let out: Uint8Array | undefined;
  for (let i = 0; i < label.length; i++) {
    const b = label[i]!;
    if (b >= 0x41 && b <= 0x5a) {
      out ??= Uint8Array.from(label);
      out[i] = b | 0x20;
    }
  }
  return out ?? label;
}

/**
 * The canonical text of a valid name: lower case (ASCII only), trailing dot,
 * canonical escapes. Throws RangeError on invalid text (a programmer error;
 * validate untrusted text with `nameToLabels`).
 */
export function canonicalName(name: string): string {
  return labelsToName(labelsOrThrow(name).map(lowerLabel));
}

/** Adds the trailing dot if missing ("example.test" → "example.test."); leaves escapes alone. */
export function absoluteName(name: string): string {
  if (name === '' || name === '.') return '.';
  // A trailing "\." is an escaped dot inside the last label, not the root.
  const trailingBackslashes = /\\*(?=\.$)/.exec(name)?.[0].length ?? 0;
  return name.endsWith('.') && trailingBackslashes % 2 === 0 ? name : name + '.';
}

/** Case-insensitive name equality (RFC 4343 §3); invalid text equals only itself. */
export function namesEqual(a: string, b: string): boolean {
  if (a === b) return true;
  const la = nameToLabels(a);
  const lb = nameToLabels(b);
  if (!la.ok || !lb.ok || la.value.length !== lb.value.length) return false;
  return la.value.every((label, i) => labelsEqual(label, lb.value[i]!));
}

function labelsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** True when `name` is `ancestor` or below it ("www.example.test." is in "example.test."); case-insensitive. */
export function isSubdomain(name: string, ancestor: string): boolean {
  const ln = nameToLabels(name);
  const la = nameToLabels(ancestor);
  if (!ln.ok || !la.ok) return false;
  const skip = ln.value.length - la.value.length;
  if (skip < 0) return false;
  return la.value.every((label, i) => labelsEqual(label, ln.value[skip + i]!));
}

/** Octets the name takes on the wire without compression. Throws on invalid text. */
export function nameWireLength(name: string): number {
  return labelsOrThrow(name).reduce((sum, label) => sum + 1 + label.length, 1);
}

// ---------------------------------------------------------------------------
// Reading

export interface NameRead {
  readonly name: string;
  /** Offset just after the name where it started: after its first pointer, or after its root label. */
  readonly end: number;
}

/**
 * Reads the name at `offset` of `message` (pointers are offsets from the
 * start of `message`, so pass the whole DNS message). `limit` bounds the
 * octets before the first pointer, e.g. the end of an RDATA.
 *
 * A pointer must point strictly before the labels being read (RFC 1035
 * §4.1.4: "a pointer to a prior occurrence of the same name"). Every jump
 * then goes to a lower offset, so a loop is impossible and the walk ends.
 */
export function readName(message: Uint8Array, offset: number, limit = message.length): NameResult<NameRead> {
  let pos = offset;
  let segmentStart = offset; // where the labels after the last jump began
  let segmentLimit = Math.min(limit, message.length);
  let end = -1;
  let hops = 0;
  let wireLength = 0;
  let text = '';
  for (;;) {
    if (pos >= segmentLimit || pos < 0) return nameFail('truncated', pos, `name needs a label at +${pos}, data ends at +${segmentLimit}`);
    const length = message[pos]!;
    const type = length & LABEL_TYPE_MASK;
    if (type === LABEL_TYPE_POINTER) {
      if (pos + 2 > segmentLimit) return nameFail('truncated', pos, 'pointer cut short');
      const target = ((length & ~LABEL_TYPE_MASK) << 8) | message[pos + 1]!;
      if (target >= segmentStart) return nameFail('forwardPointer', pos, `pointer to +${target} is not before +${segmentStart}`);
      if (++hops > MAX_POINTER_HOPS) return nameFail('tooManyPointers', pos, `more than ${MAX_POINTER_HOPS} pointers`);
      if (end < 0) end = pos + 2;
      pos = segmentStart = target;
      segmentLimit = message.length;
    } else if (type !== LABEL_TYPE_NORMAL) {
      return nameFail('badLabelType', pos, `length octet 0x${length.toString(16)} is ${type === 0x40 ? 'an extended' : 'a reserved'} label type`);
    } else if (length === 0) {
      return { ok: true, value: { name: text === '' ? '.' : text, end: end < 0 ? pos + 1 : end } };
    } else {
      if (pos + 1 + length > segmentLimit) return nameFail('truncated', pos, `label of ${length} octets runs past +${segmentLimit}`);
      wireLength += 1 + length;
      // +1 for the root label still to come: checked here, the walk stops as soon as the name is too long.
      if (wireLength + 1 > MAX_NAME_LENGTH) return nameFail('nameTooLong', pos, `name of ${wireLength + 1}+ octets > ${MAX_NAME_LENGTH}`);
      text += labelToText(message, pos + 1, pos + 1 + length) + '.';
      pos += 1 + length;
    }
  }
}

// ---------------------------------------------------------------------------
// Writing

/**
 * The compression dictionary: where each name suffix already sits in the
 * message being written. Keys are canonical (lower-case) text, so matching is
 * case-insensitive; the octets written keep their case, and a compressed
 * suffix takes the case of the earlier occurrence, which RFC 4343 §4.1
 * accepts. Entries can be rolled back when a record is taken out again
 * (truncation).
 */
export class CompressionDictionary {
  private readonly offsets = new Map<string, number>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }
  find(key: string): number | undefined {
    return this.offsets.get(key);
  }
  /** Remembers the first occurrence only; offsets a pointer cannot hold are skipped. */
  add(key: string, offset: number): void {
    if (offset > MAX_POINTER_OFFSET || this.offsets.has(key)) return;
    this.offsets.set(key, offset);
    this.order.push(key);
  }
  /** Forgets every entry added after the dictionary had `size` entries. */
  rollback(size: number): void {
    while (this.order.length > size) this.offsets.delete(this.order.pop()!);
  }
}

/** A name ready to write: its labels, and keys[i] the canonical text of the suffix starting at label i. */
interface PreparedName {
  readonly labels: readonly Uint8Array[];
  readonly keys: readonly string[];
}

/**
 * Names prepared recently. A server writes the same few names over and over
 * (its zone's owners and targets), and turning text into labels and suffix
 * keys is most of the cost of writing a name. This is a memo of a pure
 * function (text → labels): nothing depends on it but speed. When full it
 * starts over (tapnet's choice of size: a lab zone has far fewer names).
 */
const PREPARED_NAMES_MAX = 1024;
const preparedNames = new Map<string, PreparedName>();

function prepareName(name: string): PreparedName {
  let prepared = preparedNames.get(name);
  if (prepared) return prepared;
  const labels = labelsOrThrow(name);
  const keys = new Array<string>(labels.length);
  let suffix = '';
  for (let i = labels.length - 1; i >= 0; i--) {
    suffix = labelToText(lowerLabel(labels[i]!)) + '.' + suffix;
    keys[i] = suffix;
  }
  prepared = { labels, keys };
  if (preparedNames.size >= PREPARED_NAMES_MAX) preparedNames.clear();
  preparedNames.set(name, prepared);
  return prepared;
}

/**
 * Writes `name` at `offset` and returns the offset after it. With `buf`
 * undefined nothing is written, only measured: length and emit share this
 * one path. With a dictionary the longest known suffix becomes a pointer
 * (offsets relative to `messageStart`) and the new suffixes are remembered;
 * without one the name is written in full (RDATA of types RFC 3597 §4 does
 * not allow to compress, e.g. SRV). Throws RangeError on invalid text.
 */
export function writeName(
  name: string,
  buf: Uint8Array | undefined,
  offset: number,
  messageStart: number,
  dictionary?: CompressionDictionary,
): number {
  const { labels, keys } = prepareName(name);
  let pos = offset;
  for (let i = 0; i < labels.length; i++) {
    if (dictionary) {
      const target = dictionary.find(keys[i]!);
      if (target !== undefined) {
        if (buf) {
          buf[pos] = LABEL_TYPE_POINTER | (target >>> 8);
          buf[pos + 1] = target & 0xff;
        }
        return pos + 2;
      }
      dictionary.add(keys[i]!, pos - messageStart);
    }
    const label = labels[i]!;
    if (buf) {
      buf[pos] = label.length;
      buf.set(label, pos + 1);
    }
    pos += 1 + label.length;
  }
  if (buf) buf[pos] = 0;
  return pos + 1;
}

/**
 * A cursor over the message being written, owning its compression
 * dictionary. With `buf` undefined it only measures, so length and emit share
 * one code path (STYLE.md rule 4).
 */
export class DnsWriter {
  readonly dictionary = new CompressionDictionary();
  constructor(
    public buf: Uint8Array | undefined,
    public pos: number,
    readonly messageStart: number,
  ) {}
  u8(v: number): void {
    if (this.buf) this.buf[this.pos] = v;
    this.pos += 1;
  }
  u16(v: number): void {
    if (this.buf) setU16(this.buf, this.pos, v);
    this.pos += 2;
  }
  u32(v: number): void {
    if (this.buf) {
      setU16(this.buf, this.pos, v >>> 16);
      setU16(this.buf, this.pos + 2, v & 0xffff);
    }
    this.pos += 4;
  }
  bytes(b: Uint8Array): void {
    if (this.buf) this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** RFC 3597 §4: compress only where the type allows it (`compress`). */
  name(name: string, compress: boolean): void {
    this.pos = writeName(name, this.buf, this.pos, this.messageStart, compress ? this.dictionary : undefined);
  }
  /** Writes a 16-bit length placeholder; `close` fills in the octets written since. */
  openLength(): number {
    this.pos += 2;
    return this.pos;
  }
  closeLength(start: number, what: string): void {
    const length = this.pos - start;
    if (length > 0xffff) throw new RangeError(`${what} of ${length} octets does not fit RDLENGTH`);
    if (this.buf) setU16(this.buf, start - 2, length);
  }
}
