/**
 * libpcap capture files, the format tcpdump -w writes and Wireshark opens.
 * Read first: https://www.tcpdump.org/manpages/pcap-savefile.5.html
 * (also draft-ietf-opsawg-pcap).
 *
 * File header (24 bytes), then one record per frame:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     Magic Number (0xa1b2c3d4)                 |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Major Version (2)        |      Minor Version (4)        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                   Reserved1 (thiszone, 0)                     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                   Reserved2 (sigfigs, 0)                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        SnapLen                                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        LinkType (1 = Ethernet)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *   record: Timestamp (seconds) | Timestamp (microseconds) |
 *           Captured Packet Length | Original Packet Length | Packet Data...
 *
 * Every field is in the writer's byte order; the reader tells which from how
 * the magic number reads. We write little-endian (the byte order of every
 * machine tapnet runs on) and read both, plus the nanosecond variant
 * (magic 0xa1b23c4d) that `tcpdump --time-stamp-precision=nano -w` writes.
 *
 * The writer buffers records in memory and writes them with one
 * `fs.writeSync` per 64 KiB, on a short unref'd interval, and on close, so a
 * capture costs no syscall per frame. Buffered records of open writers are
 * also flushed when the process exits normally.
 */
import * as fs from 'node:fs';
import { fail, ok, type ParseResult } from './parse-result.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
/** tcpdump's default snapshot length (MAXIMUM_SNAPLEN in tcpdump/netdissect.h). */
export const PCAP_SNAPLEN_DEFAULT = 262_144;
export const PCAP_FILE_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;

/** LINKTYPE_* values from https://www.tcpdump.org/linktypes.html (unknown values are kept as numbers). */
export const LinkType = {
  ETHERNET: 1,
  RAW: 101,
} as const;

/** Records are written to the file once this many bytes are buffered. */
export const PCAP_FLUSH_BYTES = 64 * 1024;
/** ...or at least this often, so `tcpdump -r` on a live capture sees recent frames. */
export const PCAP_FLUSH_INTERVAL_MS_DEFAULT = 200;

const Field = {
  MAGIC: 0,
  VERSION_MAJOR: 4,
  VERSION_MINOR: 6,
  THISZONE: 8,
  SIGFIGS: 12,
  SNAPLEN: 16,
  LINKTYPE: 20,
} as const;
const RecordField = {
  TS_SECONDS: 0,
  TS_FRACTION: 4,
  CAPTURED_LENGTH: 8,
  ORIGINAL_LENGTH: 12,
} as const;

export interface PcapWriterOptions {
  /** LINKTYPE_ of every record (default 1, Ethernet). */
  linkType?: number;
  /** Frames longer than this are truncated in the file (default 262144). */
  snapLength?: number;
  /** Wall-clock time in ms since the Unix epoch, used when `write` is given no timestamp. */
  now?: () => number;
  /** How often buffered records are flushed (default 200 ms); 0 disables the timer. */
  flushIntervalMs?: number;
}

/** Wall-clock milliseconds with microsecond resolution (Date.now() has only milliseconds). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

const openWriters = new Set<PcapWriter>();
let exitHookInstalled = false;
function flushAllOnExit(): void {
  for (const w of openWriters) w.close();
}

export class PcapWriter {
  readonly path: string;
  readonly linkType: number;
  readonly snapLength: number;
  /** Records written (including ones still buffered). */
  records = 0;
  private fd: number | undefined;
  private readonly buffer = new Uint8Array(PCAP_FLUSH_BYTES);
  private readonly view = new DataView(this.buffer.buffer);
  private used = 0;
  private readonly now: () => number;
  private interval: NodeJS.Timeout | undefined;

  /** Creates (or truncates) `path` and writes the file header. Throws on I/O errors. */
  constructor(path: string, options: PcapWriterOptions = {}) {
    this.path = path;
    this.linkType = options.linkType ?? LinkType.ETHERNET;
    this.snapLength = options.snapLength ?? PCAP_SNAPLEN_DEFAULT;
    if (!(Number.isInteger(this.snapLength) && this.snapLength > 0)) {
      throw new Error(`PcapWriter: snapLength must be a positive integer, got ${this.snapLength}`);
    }
    this.now = options.now ?? wallClockMs;
    this.fd = fs.openSync(path, 'w');

    const v = this.view;
    v.setUint32(Field.MAGIC, PCAP_MAGIC_MICROSECONDS, true);
    v.setUint16(Field.VERSION_MAJOR, PCAP_VERSION_MAJOR, true);
    v.setUint16(Field.VERSION_MINOR, PCAP_VERSION_MINOR, true);
    v.setInt32(Field.THISZONE, 0, true);
    v.setUint32(Field.SIGFIGS, 0, true);
    v.setUint32(Field.SNAPLEN, this.snapLength, true);
    v.setUint32(Field.LINKTYPE, this.linkType, true);
    this.used = PCAP_FILE_HEADER_LENGTH;
    this.flush();

    const intervalMs = options.flushIntervalMs ?? PCAP_FLUSH_INTERVAL_MS_DEFAULT;
    if (intervalMs > 0) {
      this.interval = setInterval(() => this.flush(), intervalMs);
      this.interval.unref();
    }
    openWriters.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', flushAllOnExit);
    }
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  /**
   * Appends one frame, stamped `timestampMs` (ms since the Unix epoch,
   * fractional for sub-millisecond) or the wall clock. Copies the bytes, so
   * `frame` may be a short-lived view. Returns false (and writes nothing)
   * once the writer is closed, so a device racing with shutdown cannot crash.
   */
  write(frame: Uint8Array, timestampMs: number = this.now()): boolean {
    if (this.fd === undefined) return false;
    const captured = Math.min(frame.length, this.snapLength);
    const recordLength = PCAP_RECORD_HEADER_LENGTH + captured;
    if (this.used + recordLength > this.buffer.length) this.flush();

    let seconds = Math.floor(timestampMs / 1000);
    let micros = Math.round((timestampMs - seconds * 1000) * 1000);
    if (micros >= 1_000_000) {
      seconds++;
      micros -= 1_000_000;
    }
    if (recordLength > this.buffer.length) {
      // A record larger than the whole buffer goes out on its own.
      const header = new Uint8Array(PCAP_RECORD_HEADER_LENGTH);
      setRecordHeader(new DataView(header.buffer), 0, seconds, micros, captured, frame.length);
      writeAll(this.fd, header);
      writeAll(this.fd, frame.subarray(0, captured));
    } else {
      setRecordHeader(this.view, this.used, seconds, micros, captured, frame.length);
      this.buffer.set(frame.subarray(0, captured), this.used + PCAP_RECORD_HEADER_LENGTH);
      this.used += recordLength;
    }
    this.records++;
    return true;
  }

  /** Writes buffered records to the file now. */
  flush(): void {
    if (this.fd === undefined || this.used === 0) return;
    writeAll(this.fd, this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  /** Flushes and closes the file; later writes are ignored. Idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    if (this.interval) clearInterval(this.interval);
    this.interval = undefined;
    fs.closeSync(this.fd);
    this.fd = undefined;
    openWriters.delete(this);
  }
}

function setRecordHeader(v: DataView, at: number, seconds: number, micros: number, captured: number, original: number): void {
  v.setUint32(at + RecordField.TS_SECONDS, seconds >>> 0, true);
  v.setUint32(at + RecordField.TS_FRACTION, micros, true);
  v.setUint32(at + RecordField.CAPTURED_LENGTH, captured, true);
  v.setUint32(at + RecordField.ORIGINAL_LENGTH, original, true);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

export interface PcapRecord {
  /** Timestamp in ms since the Unix epoch (fractional). */
  readonly ts: number;
  readonly seconds: number;
  /** Sub-second part in microseconds (nanosecond files: truncated to microseconds). */
  readonly microseconds: number;
  /** Captured bytes: a view into the input, not a copy. */
  readonly data: Uint8Array;
  /** Length of the frame on the wire (> data.length when truncated by the snap length). */
  readonly originalLength: number;
}

export interface PcapFile {
  readonly linkType: number;
  readonly snapLength: number;
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly records: PcapRecord[];
}

/** Parses a whole pcap file. Never throws: a bad header or a cut-off record is a ParseError. */
export function readPcap(bytes: Uint8Array): ParseResult<PcapFile> {
  if (bytes.length < PCAP_FILE_HEADER_LENGTH) return fail('truncated', 0, `file header needs ${PCAP_FILE_HEADER_LENGTH} bytes, have ${bytes.length}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  let nanosecond: boolean;
  const magicLE = v.getUint32(Field.MAGIC, true);
  const magicBE = v.getUint32(Field.MAGIC, false);
  if (magicLE === PCAP_MAGIC_MICROSECONDS || magicLE === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = true;
    nanosecond = magicLE === PCAP_MAGIC_NANOSECONDS;
  } else if (magicBE === PCAP_MAGIC_MICROSECONDS || magicBE === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = false;
    nanosecond = magicBE === PCAP_MAGIC_NANOSECONDS;
  } else {
    return fail('badValue', Field.MAGIC, `not a pcap file (magic 0x${magicBE.toString(16).padStart(8, '0')})`);
  }
  const major = v.getUint16(Field.VERSION_MAJOR, littleEndian);
  const minor = v.getUint16(Field.VERSION_MINOR, littleEndian);
  if (major !== PCAP_VERSION_MAJOR) return fail('unsupportedVersion', Field.VERSION_MAJOR, `version ${major}.${minor}`);
  const snapLength = v.getUint32(Field.SNAPLEN, littleEndian);
  // The low 28 bits are the link type; the top bits carry FCS information (pcap-savefile(5)).
  const linkType = v.getUint32(Field.LINKTYPE, littleEndian) & 0x0fff_ffff;

  const records: PcapRecord[] = [];
  let off = PCAP_FILE_HEADER_LENGTH;
  while (off < bytes.length) {
    if (bytes.length - off < PCAP_RECORD_HEADER_LENGTH) {
      return fail('truncated', off, `record ${records.length + 1}: header cut off`);
    }
    const seconds = v.getUint32(off + RecordField.TS_SECONDS, littleEndian);
    const fraction = v.getUint32(off + RecordField.TS_FRACTION, littleEndian);
    const captured = v.getUint32(off + RecordField.CAPTURED_LENGTH, littleEndian);
    const originalLength = v.getUint32(off + RecordField.ORIGINAL_LENGTH, littleEndian);
    if (captured > originalLength) {
      return fail('badLength', off + RecordField.CAPTURED_LENGTH, `record ${records.length + 1}: captured ${captured} > original ${originalLength}`);
    }
    const dataStart = off + PCAP_RECORD_HEADER_LENGTH;
    if (bytes.length - dataStart < captured) {
      return fail('truncated', dataStart, `record ${records.length + 1}: ${captured} bytes claimed, ${bytes.length - dataStart} left`);
    }
    const microseconds = nanosecond ? Math.floor(fraction / 1000) : fraction;
    const ts = seconds * 1000 + (nanosecond ? fraction / 1e6 : fraction / 1e3);
    records.push({ ts, seconds, microseconds, data: bytes.subarray(dataStart, dataStart + captured), originalLength });
    off = dataStart + captured;
  }
  return ok({ linkType, snapLength, littleEndian, nanosecond, records });
}
