/**
 * BGP error codes (RFC 4271 §4.5 and §6) and what to do about an error
 * (RFC 7606 §2: revised error handling for UPDATE messages).
 *
 * Read first: RFC 4271 §6 "BGP Error Handling", then RFC 7606 §2 and §7.
 *
 * Every parser in this folder returns a `BgpError` instead of throwing: it
 * carries the NOTIFICATION code, subcode and data that RFC 4271 §6 asks for,
 * and the action RFC 7606 picks. Only `sessionReset` sends a NOTIFICATION and
 * closes the session; the two others keep it up:
 *
 *   sessionReset      NOTIFICATION(code, subcode, data), then close (RFC 4271 §6)
 *   treatAsWithdraw   the UPDATE's prefixes are withdrawn, the session stays (RFC 7606 §2)
 *   attributeDiscard  the attribute is dropped, the rest of the UPDATE is used (RFC 7606 §2)
 */

/** NOTIFICATION error codes, RFC 4271 §4.5 (7: RFC 7313). */
export const ErrorCode = {
  messageHeader: 1,
  openMessage: 2,
  updateMessage: 3,
  holdTimerExpired: 4,
  fsm: 5,
  cease: 6,
  routeRefresh: 7,
} as const;

/** Message Header Error subcodes, RFC 4271 §6.1. */
export const HeaderSubcode = { connectionNotSynchronized: 1, badMessageLength: 2, badMessageType: 3 } as const;

/** OPEN Message Error subcodes, RFC 4271 §6.2 (7: RFC 5492 §5). */
export const OpenSubcode = {
  unsupportedVersionNumber: 1,
  badPeerAs: 2,
  badBgpIdentifier: 3,
  unsupportedOptionalParameter: 4,
  unacceptableHoldTime: 6,
  unsupportedCapability: 7,
} as const;

/** UPDATE Message Error subcodes, RFC 4271 §6.3. */
export const UpdateSubcode = {
  malformedAttributeList: 1,
  unrecognizedWellKnownAttribute: 2,
  missingWellKnownAttribute: 3,
  attributeFlagsError: 4,
  attributeLengthError: 5,
  invalidOriginAttribute: 6,
  invalidNextHopAttribute: 8,
  optionalAttributeError: 9,
  invalidNetworkField: 10,
  malformedAsPath: 11,
} as const;

/** FSM Error subcodes, RFC 6608 §3. */
export const FsmSubcode = { unspecified: 0, openSent: 1, openConfirm: 2, established: 3 } as const;

/** Cease subcodes, RFC 4486 §4. */
export const CeaseSubcode = {
  maximumPrefixes: 1,
  administrativeShutdown: 2,
  peerDeconfigured: 3,
  administrativeReset: 4,
  connectionRejected: 5,
  otherConfigurationChange: 6,
  connectionCollisionResolution: 7,
  outOfResources: 8,
} as const;

export type BgpErrorAction = 'sessionReset' | 'treatAsWithdraw' | 'attributeDiscard';

export interface BgpError {
  readonly action: BgpErrorAction;
  readonly code: number;
  readonly subcode: number;
  /** NOTIFICATION data (RFC 4271 §6: e.g. the bad attribute, the bad length). */
  readonly data: Uint8Array;
  /** Byte offset in the parsed message where the problem was found. */
  readonly offset: number;
  /** One line for traces and logs. */
  readonly detail: string;
}

export type BgpResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: BgpError };

export function bgpOk<T>(value: T): BgpResult<T> {
  return { ok: true, value };
}

export function bgpError(action: BgpErrorAction, code: number, subcode: number, offset: number, detail: string, data: Uint8Array = new Uint8Array(0)): BgpError {
  return { action, code, subcode, offset, detail, data };
}

export function bgpFail<T = never>(code: number, subcode: number, offset: number, detail: string, data?: Uint8Array): BgpResult<T> {
  return { ok: false, error: bgpError('sessionReset', code, subcode, offset, detail, data) };
}

const CODE_NAMES: Record<number, [string, Record<number, string>]> = {
  1: ['Message Header Error', { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' }],
  2: [
    'OPEN Message Error',
    { 1: 'Unsupported Version Number', 2: 'Bad Peer AS', 3: 'Bad BGP Identifier', 4: 'Unsupported Optional Parameter', 6: 'Unacceptable Hold Time', 7: 'Unsupported Capability' },
  ],
  3: [
    'UPDATE Message Error',
    {
      1: 'Malformed Attribute List',
      2: 'Unrecognized Well-known Attribute',
      3: 'Missing Well-known Attribute',
      4: 'Attribute Flags Error',
      5: 'Attribute Length Error',
      6: 'Invalid ORIGIN Attribute',
      8: 'Invalid NEXT_HOP Attribute',
      9: 'Optional Attribute Error',
      10: 'Invalid Network Field',
      11: 'Malformed AS_PATH',
    },
  ],
  4: ['Hold Timer Expired', {}],
  5: ['Finite State Machine Error', { 1: 'Receive Unexpected Message in OpenSent State', 2: 'Receive Unexpected Message in OpenConfirm State', 3: 'Receive Unexpected Message in Established State' }],
  6: [
    'Cease',
    {
      1: 'Maximum Number of Prefixes Reached',
      2: 'Administrative Shutdown',
      3: 'Peer De-configured',
      4: 'Administrative Reset',
      5: 'Connection Rejected',
      6: 'Other Configuration Change',
      7: 'Connection Collision Resolution',
      8: 'Out of Resources',
    },
  ],
  7: ['ROUTE-REFRESH Message Error', { 1: 'Invalid Message Length' }],
};

/** "OPEN Message Error / Unacceptable Hold Time" (the words of RFC 4271 §4.5, as BIRD and FRR log them). */
export function describeErrorCode(code: number, subcode: number): string {
  const entry = CODE_NAMES[code];
  if (!entry) return `error code ${code} subcode ${subcode}`;
  const sub = entry[1][subcode];
  return sub ? `${entry[0]} / ${sub}` : subcode === 0 ? entry[0] : `${entry[0]} / subcode ${subcode}`;
}
