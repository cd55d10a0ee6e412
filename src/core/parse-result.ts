/**
 * Parse results: wire input never throws (STYLE.md rule 3).
 *
 * Every parser returns `ParseResult<T>`: either the parsed value or a typed
 * reason with the byte offset where parsing gave up. The reason names line up
 * with the drop counters, so a learner can follow a bad frame from the parser
 * to `tapnet show stats`.
 */

export type ParseErrorReason =
  | 'truncated' // the buffer is shorter than the header or than a length field claims
  | 'badLength' // a length field is impossible (smaller than the header, larger than the buffer, ...)
  | 'badChecksum'
  | 'unsupportedVersion'
  | 'badValue' // a field holds a value the RFC forbids
  | 'unsupported' // well-formed but not something we implement (e.g. ARP for a non-Ethernet hardware type)
  | 'badOption';

export interface ParseError {
  readonly reason: ParseErrorReason;
  /** Byte offset (relative to the start of the parsed header) where the problem was found. */
  readonly offset: number;
  /** Human-readable detail for traces, e.g. "IHL 3 < 5". */
  readonly detail?: string;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ParseError };

export function ok<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: ParseErrorReason, offset: number, detail?: string): ParseResult<T> {
  return { ok: false, error: { reason, offset, detail } };
}

/** One-line rendering of a parse error for traces. */
export function describeParseError(error: ParseError): string {
  return `${error.reason} at +${error.offset}${error.detail ? ` (${error.detail})` : ''}`;
}
