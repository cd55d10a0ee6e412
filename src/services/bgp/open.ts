/**
 * OPEN, RFC 4271 §4.2: the first message each side sends on a new connection.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+
 * |    Version    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     My Autonomous System      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Hold Time           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         BGP Identifier                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Opt Parm Len  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Optional Parameters (variable)                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Optional parameters: type (1) | length (1) | value. Type 2 holds
 * capabilities (RFC 5492 §4); type 1 (authentication) is deprecated, and any
 * other type → Unsupported Optional Parameter (RFC 4271 §6.2).
 * "My Autonomous System" is AS_TRANS (23456) when the real AS needs 4 octets;
 * the real one rides in the 4-octet AS capability (RFC 6793 §4.1).
 * (Offsets are in the body, after the 19-byte header.)
 */
import { getU16, getU32, setU16, setU32 } from '../../core/bytes.js';
import { formatIpv4 } from '../../l3/ipv4/address.js';
import { CAPABILITY_ERROR_SUBCODE, capabilitiesLength, describeCapability, emitCapabilities, parseCapabilities, type Capability } from './capabilities.js';
import { ErrorCode, OpenSubcode, bgpFail, bgpOk, type BgpResult } from './errors.js';
import { HEADER_LENGTH, MessageType, frameMessage } from './header.js';

export const OpenField = { version: 0, myAs: 1, holdTime: 3, bgpIdentifier: 5, optionalParametersLength: 9, optionalParameters: 10 } as const;
export const OPEN_FIXED_LENGTH = 10;
export const BGP_VERSION = 4;
/** RFC 6793 §9: the 2-octet AS that stands for "my AS does not fit". */
export const AS_TRANS = 23456;
export const OptionalParameterType = { capabilities: 2 } as const;

export interface Open {
  readonly version: number;
  /** The 2-octet field as sent (AS_TRANS for a 4-octet AS). */
  readonly myAs: number;
  /** Seconds; 0 or ≥ 3 (checked by the session, which knows what to answer). */
  readonly holdTime: number;
  readonly bgpIdentifier: number;
  readonly capabilities: readonly Capability[];
}

/**
 * Parses an OPEN body. Structural errors only (RFC 4271 §6.2): version,
 * lengths, optional parameter types; the session checks AS, hold time and
 * identifier against its configuration (session.ts).
 */
export function parseOpen(body: Uint8Array): BgpResult<Open> {
  const base = HEADER_LENGTH;
  if (body.length < OPEN_FIXED_LENGTH) return bgpFail(ErrorCode.messageHeader, 2, base, `OPEN body of ${body.length} bytes`);
  const version = body[OpenField.version]!;
  // RFC 4271 §6.2: "the Data field is a 2-octet unsigned integer, which indicates the largest locally-supported version number".
  if (version !== BGP_VERSION) return bgpFail(ErrorCode.openMessage, OpenSubcode.unsupportedVersionNumber, base, `version ${version}`, Uint8Array.of(0, BGP_VERSION));
  const optLength = body[OpenField.optionalParametersLength]!;
  if (OPEN_FIXED_LENGTH + optLength !== body.length) {
    return bgpFail(ErrorCode.messageHeader, 2, base + OpenField.optionalParametersLength, `optional parameters length ${optLength} in a body of ${body.length}`);
  }
  const capabilities: Capability[] = [];
  let at = OpenField.optionalParameters;
  while (at < body.length) {
    if (at + 2 > body.length) return bgpFail(ErrorCode.openMessage, 0, base + at, 'optional parameter truncated');
    const type = body[at]!;
    const length = body[at + 1]!;
    if (at + 2 + length > body.length) return bgpFail(ErrorCode.openMessage, 0, base + at, `optional parameter length ${length} overruns the OPEN`);
    if (type !== OptionalParameterType.capabilities) {
      return bgpFail(ErrorCode.openMessage, OpenSubcode.unsupportedOptionalParameter, base + at, `optional parameter type ${type}`, body.slice(at, at + 2 + length));
    }
    const caps = parseCapabilities(body.subarray(at + 2, at + 2 + length), base + at + 2);
    if (!caps.ok) return bgpFail(ErrorCode.openMessage, CAPABILITY_ERROR_SUBCODE, caps.error.offset, caps.error.detail);
    capabilities.push(...caps.value);
    at += 2 + length;
  }
  return bgpOk({
    version,
    myAs: getU16(body, OpenField.myAs),
    holdTime: getU16(body, OpenField.holdTime),
    bgpIdentifier: getU32(body, OpenField.bgpIdentifier),
    capabilities,
  });
}

export function openLength(o: Open): number {
  const caps = capabilitiesLength(o.capabilities);
  return OPEN_FIXED_LENGTH + (o.capabilities.length > 0 ? 2 + caps : 0);
}

/** One optional parameter holding every capability (as BIRD and FRR send them; RFC 5492 allows either). */
export function emitOpen(o: Open, buf: Uint8Array, offset: number): number {
  const length = openLength(o);
  if (length - OPEN_FIXED_LENGTH > 255) throw new Error('OPEN: capabilities exceed 255 bytes');
  buf[offset + OpenField.version] = o.version;
  setU16(buf, offset + OpenField.myAs, o.myAs);
  setU16(buf, offset + OpenField.holdTime, o.holdTime);
  setU32(buf, offset + OpenField.bgpIdentifier, o.bgpIdentifier);
  buf[offset + OpenField.optionalParametersLength] = length - OPEN_FIXED_LENGTH;
  if (o.capabilities.length > 0) {
    const p = offset + OpenField.optionalParameters;
    buf[p] = OptionalParameterType.capabilities;
    buf[p + 1] = length - OPEN_FIXED_LENGTH - 2;
    emitCapabilities(o.capabilities, buf, p + 2);
  }
  return length;
}

export function openMessage(o: Open): Uint8Array {
  const body = new Uint8Array(openLength(o));
  emitOpen(o, body, 0);
  return frameMessage(MessageType.open, body);
}

/** The speaker's real AS: the 4-octet capability's when present (RFC 6793 §4.1), else the 2-octet field. */
export function openAs(o: Open): number {
  const four = o.capabilities.find((c) => c.kind === 'fourOctetAs');
  return four ? four.as : o.myAs;
}

export function describeOpen(o: Open): string {
  return `OPEN as ${openAs(o)} hold ${o.holdTime} id ${formatIpv4(o.bgpIdentifier)} [${o.capabilities.map(describeCapability).join(', ')}]`;
}
