/**
 * Multicast Listener Discovery messages: the MLDv2 report a node sends to
 * say which groups it listens to, and the query a router sends to ask.
 *
 * Read first: RFC 3810 §5.1 (query), §5.2 (version 2 report), §5.2.12
 * (record types), RFC 2710 §3 (the 24-byte MLDv1 query and report, still
 * answered by v2 hosts). Reports go to ff02::16 with hop limit 1 and a
 * Hop-by-Hop Router Alert option (RFC 3810 §5), so that snooping switches
 * and routers see them.
 *
 *   Version 2 Multicast Listener Report (143):
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   |Type=143| Rsvd |   Checksum    |   Reserved    |Nr of Mcast Rec|
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   | Record: Type | Aux Data Len | Number of Sources | Multicast   |
 *   | Address (16) | Source Addresses (16 each) | Aux Data         |
 *   +---------------------------------------------------------------+
 *
 *   Version 1 Multicast Listener Report (131), RFC 2710 §3 (24 bytes, to the group itself):
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   |Type=131| Code |   Checksum    | Max Resp Delay|   Reserved    |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   |     Multicast Address (16)                                    |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *
 *   Multicast Listener Query (130):
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   |Type=130| Code |   Checksum    | Max Resp Code |   Reserved    |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   |     Multicast Address (16; :: in a general query)             |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   | v2 only: Resv|S|QRV | QQIC | Number of Sources | Sources ... |
 */
import { getU16, setU16 } from '../../core/bytes.js';
import { ok, type ParseResult } from '../../core/parse-result.js';
import { formatIpv6, type Ipv6Address } from '../ipv6/address.js';
import { Icmpv6Type, setIcmpv6Checksum } from './message.js';

export const MldField = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Query. */
  MAX_RESPONSE_CODE: 4,
  MULTICAST_ADDRESS: 8,
  /** Report v2. */
  RECORD_COUNT: 6,
  RECORDS: 8,
} as const;

export const MLD_QUERY_V1_LENGTH = 24;
export const MLD_QUERY_V2_MIN_LENGTH = 28;
const RECORD_HEADER_LENGTH = 20;

/** RFC 3810 §5.2.12. */
export const MldRecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
  AllowNewSources: 5,
  BlockOldSources: 6,
} as const;

export interface MldRecord {
  readonly type: number;
  readonly group: Ipv6Address;
  readonly sources: readonly Ipv6Address[];
}

export interface MldReportRecord {
  readonly records: readonly MldRecord[];
}

export interface MldQueryRecord {
  /** Milliseconds (the Max Response Code decoded, RFC 3810 §5.1.3). */
  readonly maxResponseDelayMs: number;
  /** :: for a general query. */
  readonly group: Ipv6Address;
  readonly version: 1 | 2;
}

/** RFC 3810 §5.1.3: codes ≥ 32768 are a floating-point value. */
export function decodeMaxResponseCode(code: number): number {
  if (code < 0x8000) return code;
  const exp = (code >> 12) & 0x7;
  const mant = code & 0x0fff;
  return (mant | 0x1000) << (exp + 3);
}

export function parseMldQuery(buf: Uint8Array): ParseResult<MldQueryRecord> {
  if (buf.length < MLD_QUERY_V1_LENGTH) return { ok: false, error: { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < ${MLD_QUERY_V1_LENGTH}` } };
  if (buf[MldField.TYPE] !== Icmpv6Type.MulticastListenerQuery) return { ok: false, error: { reason: 'badValue', offset: 0, detail: `type ${buf[0]}` } };
  // RFC 3810 §8.1: a 24-byte query is MLDv1; ≥ 28 is MLDv2; anything in between is invalid.
  if (buf.length > MLD_QUERY_V1_LENGTH && buf.length < MLD_QUERY_V2_MIN_LENGTH) {
    return { ok: false, error: { reason: 'badLength', offset: 0, detail: `query of ${buf.length} bytes` } };
  }
  return ok({
    maxResponseDelayMs: decodeMaxResponseCode(getU16(buf, MldField.MAX_RESPONSE_CODE)),
    group: buf.slice(MldField.MULTICAST_ADDRESS, MldField.MULTICAST_ADDRESS + 16),
    version: buf.length === MLD_QUERY_V1_LENGTH ? 1 : 2,
  });
}

export function parseMldReport(buf: Uint8Array): ParseResult<MldReportRecord> {
  if (buf.length < MldField.RECORDS) return { ok: false, error: { reason: 'truncated', offset: 0, detail: `${buf.length} bytes < 8` } };
  const count = getU16(buf, MldField.RECORD_COUNT);
  const records: MldRecord[] = [];
  let at: number = MldField.RECORDS;
  for (let r = 0; r < count; r++) {
    if (at + RECORD_HEADER_LENGTH > buf.length) return { ok: false, error: { reason: 'truncated', offset: at, detail: `record ${r + 1} of ${count} cut off` } };
    const auxLength = buf[at + 1]! * 4;
    const sourceCount = getU16(buf, at + 2);
    const end = at + RECORD_HEADER_LENGTH + sourceCount * 16 + auxLength;
    if (end > buf.length) return { ok: false, error: { reason: 'truncated', offset: at, detail: `record ${r + 1} needs ${end - at} bytes` } };
    const sources: Ipv6Address[] = [];
    for (let s = 0; s < sourceCount; s++) sources.push(buf.slice(at + 20 + s * 16, at + 36 + s * 16));
    records.push({ type: buf[at]!, group: buf.slice(at + 4, at + 20), sources });
    at = end;
  }
  return ok({ records });
}

export function mldReportLength(report: MldReportRecord): number {
  let n: number = MldField.RECORDS;
  for (const r of report.records) n += RECORD_HEADER_LENGTH + 16 * r.sources.length;
  return n;
}

/** Writes an MLDv2 report with its checksum for `source` → `destination` (ff02::16); returns its length. */
export function emitMldReport(report: MldReportRecord, buf: Uint8Array, offset: number, source: Ipv6Address, destination: Ipv6Address): number {
  const length = mldReportLength(report);
  if (offset + length > buf.length) throw new RangeError('buffer too small for the MLD report');
  buf.fill(0, offset, offset + MldField.RECORDS);
  buf[offset + MldField.TYPE] = Icmpv6Type.MulticastListenerReportV2;
  setU16(buf, offset + MldField.RECORD_COUNT, report.records.length);
  let at = offset + MldField.RECORDS;
  for (const r of report.records) {
    buf[at] = r.type;
    buf[at + 1] = 0;
    setU16(buf, at + 2, r.sources.length);
    buf.set(r.group, at + 4);
    r.sources.forEach((s, i) => buf.set(s, at + 20 + 16 * i));
    at += RECORD_HEADER_LENGTH + 16 * r.sources.length;
  }
  setIcmpv6Checksum(buf, offset, length, source, destination);
  return length;
}

/** RFC 2710 §3: the 24-byte version 1 report (also the size of a v1 query and Done). */
export const MLD_V1_MESSAGE_LENGTH = 24;

/**
 * Writes an MLDv1 report for `group` with its checksum (RFC 2710 §3; the
 * Max Response Delay and Reserved fields are 0 in a report); returns 24.
 */
export function emitMldV1Report(group: Ipv6Address, buf: Uint8Array, offset: number, source: Ipv6Address, destination: Ipv6Address): number {
  if (offset + MLD_V1_MESSAGE_LENGTH > buf.length) throw new RangeError('buffer too small for the MLDv1 report');
  buf.fill(0, offset, offset + MldField.MULTICAST_ADDRESS);
  buf[offset + MldField.TYPE] = Icmpv6Type.MulticastListenerReport;
  buf.set(group, offset + MldField.MULTICAST_ADDRESS);
  setIcmpv6Checksum(buf, offset, MLD_V1_MESSAGE_LENGTH, source, destination);
  return MLD_V1_MESSAGE_LENGTH;
}

const RECORD_NAMES: Record<number, string> = { 1: 'is_in', 2: 'is_ex', 3: 'to_in', 4: 'to_ex', 5: 'allow', 6: 'block' };

/** "ICMP6, multicast listener report v2, 2 group record(s) [to_ex ff02::1:ff00:1] [to_ex ff02::2], length 48" */
export function describeMldReport(buf: Uint8Array): string {
  const parsed = parseMldReport(buf);
  if (!parsed.ok) return `ICMP6, multicast listener report v2 [${parsed.error.reason}], length ${buf.length}`;
  const records = parsed.value.records.map((r) => ` [${RECORD_NAMES[r.type] ?? r.type} ${formatIpv6(r.group)}]`).join('');
  return `ICMP6, multicast listener report v2, ${parsed.value.records.length} group record(s)${records}, length ${buf.length}`;
}
