/**
 * DNS messages. Read first: RFC 1035 §4.1 (the format), then RFC 6891 (EDNS0
 * and its OPT pseudo-record), RFC 2181 §9 (the TC bit), RFC 3597 (unknown
 * types, and which RDATA may be compressed), RFC 2782 (SRV), RFC 4035 §3.2
 * (the AD and CD bits). Names and compression live in name.ts, RDATA in
 * rdata.ts, parameter numbers in constants.ts.
 *
 *   +---------------------+
 *   |        Header       |
 *   +---------------------+
 *   |       Question      | the question for the name server
 *   +---------------------+
 *   |        Answer       | RRs answering the question
 *   +---------------------+
 *   |      Authority      | RRs pointing toward an authority
 *   +---------------------+
 *   |      Additional     | RRs holding additional information
 *   +---------------------+
 *
 * Header (RFC 1035 §4.1.1):
 *                                   1  1  1  1  1  1
 *     0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                      ID                       |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    QDCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    ANCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    NSCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    ARCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *
 * Question (§4.1.2): QNAME, QTYPE (16 bits), QCLASS (16 bits).
 * Resource record (§4.1.3): NAME, TYPE (16), CLASS (16), TTL (32), RDLENGTH (16), RDATA.
 * OPT (RFC 6891 §6.1.2-3): NAME is the root, CLASS carries the sender's UDP
 * payload size, TTL is EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15), and
 * RDATA is a list of {OPTION-CODE (16), OPTION-LENGTH (16), OPTION-DATA}.
 */
import { getU16, getU32, setU16 } from '../../core/bytes.js';
import { DnsType, dnsClassName, dnsTypeName, ednsOptionName, opcodeName, rcodeName } from './constants.js';
import { DnsWriter, readName } from './name.js';
import { copyBytes, describeRdata, dnsFail, hex, readRdata, writeRdata, type DnsParseError, type DnsParseResult, type RData } from './rdata.js';

export * from './constants.js';
export type { DnsErrorCode, DnsParseError, DnsParseResult, RData } from './rdata.js';
export { describeRdata, rdataKind } from './rdata.js';

/** Byte offsets of the header fields. */
export const DnsHeaderField = {
  id: 0,
  flags: 2,
  questionCount: 4,
  answerCount: 6,
  authorityCount: 8,
  additionalCount: 10,
} as const;
export const DNS_HEADER_LENGTH = 12;

/** Bits of the flags word (RFC 1035 §4.1.1, AD/CD from RFC 4035 §3.2). Z must be zero and is not kept. */
const Flag = { qr: 0x8000, aa: 0x0400, tc: 0x0200, rd: 0x0100, ra: 0x0080, ad: 0x0020, cd: 0x0010 } as const;
const OPCODE_SHIFT = 11;

/** RFC 1035 §2.3.4: "UDP messages 512 octets or less" without EDNS. */
export const DNS_UDP_MAX_SIZE = 512;
/** The largest message: over TCP a 16-bit length precedes it (RFC 1035 §4.2.2). */
export const DNS_MAX_MESSAGE_LENGTH = 0xffff;
/** RFC 6891 §6.2.5: payload sizes below 512 are treated as 512. */
export const EDNS_MIN_UDP_PAYLOAD = 512;
/** RFC 6891 §6.1.3: the DO bit is the top bit of the OPT TTL's low half. */
const EDNS_DO_BIT = 0x8000;
/** OPT record without options: root name (1) + type, class, TTL, RDLENGTH (10). */
const OPT_FIXED_LENGTH = 11;

export interface DnsFlags {
  readonly qr: boolean; // response
  readonly opcode: number; // DnsOpcode
  readonly aa: boolean; // authoritative answer
  readonly tc: boolean; // truncated
  readonly rd: boolean; // recursion desired
  readonly ra: boolean; // recursion available
  readonly ad: boolean; // authentic data (RFC 4035 §3.2.3)
  readonly cd: boolean; // checking disabled (RFC 4035 §3.2.2)
  readonly rcode: number; // the low 4 bits; EDNS adds the upper 8 (see fullRcode)
}

export interface DnsHeader {
  readonly id: number;
  readonly flags: DnsFlags;
  readonly questionCount: number;
  readonly answerCount: number;
  readonly authorityCount: number;
  readonly additionalCount: number;
}

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** Seconds. RFC 2181 §8: a value with the top bit set is to be treated as zero; kept as received. */
  readonly ttl: number;
  readonly data: RData;
}

export interface EdnsOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/** The OPT pseudo-record, taken out of the additional section (RFC 6891 §6.1). */
export interface Edns {
  readonly udpPayloadSize: number;
  /** The upper 8 bits of the 12-bit RCODE (RFC 6891 §6.1.3). */
  readonly extendedRcode: number;
  readonly version: number;
  /** DNSSEC OK (RFC 3225). */
  readonly dnssecOk: boolean;
  readonly options: readonly EdnsOption[];
}

export interface DnsMessage {
  readonly id: number;
  readonly flags: DnsFlags;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  /** Additional records except OPT, which is `edns` (and is written last). */
  readonly additionals: readonly DnsRecord[];
  readonly edns?: Edns | undefined;
}

/** The response code with EDNS's upper bits (RFC 6891 §6.1.3), e.g. 16 = BADVERS. */
export function fullRcode(message: Pick<DnsMessage, 'flags' | 'edns'>): number {
  return ((message.edns?.extendedRcode ?? 0) << 4) | message.flags.rcode;
}

export function flagsFromWord(word: number): DnsFlags {
  return {
    qr: (word & Flag.qr) !== 0,
    opcode: (word >>> OPCODE_SHIFT) & 0xf,
    aa: (word & Flag.aa) !== 0,
    tc: (word & Flag.tc) !== 0,
    rd: (word & Flag.rd) !== 0,
    ra: (word & Flag.ra) !== 0,
    ad: (word & Flag.ad) !== 0,
    cd: (word & Flag.cd) !== 0,
    rcode: word & 0xf,
  };
}

export function flagsToWord(flags: DnsFlags): number {
  if (flags.opcode >>> 4 !== 0 || flags.rcode >>> 4 !== 0) {
    throw new RangeError(`opcode ${flags.opcode} / rcode ${flags.rcode} do not fit 4 bits (put the upper rcode bits in edns.extendedRcode)`);
  }
  return (
    (flags.qr ? Flag.qr : 0) |
    (flags.opcode << OPCODE_SHIFT) |
    (flags.aa ? Flag.aa : 0) |
    (flags.tc ? Flag.tc : 0) |
    (flags.rd ? Flag.rd : 0) |
    (flags.ra ? Flag.ra : 0) |
    (flags.ad ? Flag.ad : 0) |
    (flags.cd ? Flag.cd : 0) |
    flags.rcode
  );
}

// ---------------------------------------------------------------------------
// Parsing: never throws; every slice that is kept is copied, so a message
// outlives the receive buffer.

export function parseDnsHeader(buf: Uint8Array): DnsParseResult<DnsHeader> {
  if (buf.length < DNS_HEADER_LENGTH) return dnsFail('truncated', 'truncated', 0, `${buf.length} bytes < DNS header ${DNS_HEADER_LENGTH}`);
  return {
    ok: true,
    value: {
      id: getU16(buf, DnsHeaderField.id),
      flags: flagsFromWord(getU16(buf, DnsHeaderField.flags)),
      questionCount: getU16(buf, DnsHeaderField.questionCount),
      answerCount: getU16(buf, DnsHeaderField.answerCount),
      authorityCount: getU16(buf, DnsHeaderField.authorityCount),
      additionalCount: getU16(buf, DnsHeaderField.additionalCount),
    },
  };
}

type Step<T> = { ok: true; value: T; end: number } | { ok: false; error: DnsParseError };

function readQuestion(buf: Uint8Array, offset: number): Step<DnsQuestion> {
  const name = readName(buf, offset);
  if (!name.ok) return name;
  const pos = name.value.end;
  if (pos + 4 > buf.length) return dnsFail('truncated', 'truncated', pos, 'question type/class cut short');
  return { ok: true, value: { name: name.value.name, type: getU16(buf, pos), class: getU16(buf, pos + 2) }, end: pos + 4 };
}

interface RawRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdataStart: number;
  readonly rdataEnd: number;
}

function readRecordFrame(buf: Uint8Array, offset: number): Step<RawRecord> {
  const name = readName(buf, offset);
  if (!name.ok) return name;
  const pos = name.value.end;
  if (pos + 10 > buf.length) return dnsFail('truncated', 'truncated', pos, 'record type/class/TTL/RDLENGTH cut short');
  const rdataStart = pos + 10;
  const rdataEnd = rdataStart + getU16(buf, pos + 8);
  if (rdataEnd > buf.length) return dnsFail('truncated', 'truncated', pos + 8, `RDATA to +${rdataEnd} past the end +${buf.length}`);
  const record = { name: name.value.name, type: getU16(buf, pos), class: getU16(buf, pos + 2), ttl: getU32(buf, pos + 4), rdataStart, rdataEnd };
  return { ok: true, value: record, end: rdataEnd };
}

function readEdns(buf: Uint8Array, frame: RawRecord, offset: number): DnsParseResult<Edns> {
  if (frame.name !== '.') return dnsFail('badOpt', 'badValue', offset, `OPT owner "${frame.name}" is not the root (RFC 6891 §6.1.2)`);
  const options: EdnsOption[] = [];
  let pos = frame.rdataStart;
  while (pos < frame.rdataEnd) {
    if (pos + 4 > frame.rdataEnd) return dnsFail('badOpt', 'badOption', pos, 'option header cut short');
    const length = getU16(buf, pos + 2);
    if (pos + 4 + length > frame.rdataEnd) return dnsFail('badOpt', 'badOption', pos, `option of ${length} octets runs past the RDATA`);
    options.push({ code: getU16(buf, pos), data: copyBytes(buf, pos + 4, pos + 4 + length) });
    pos += 4 + length;
  }
  return {
    ok: true,
    value: {
      udpPayloadSize: frame.class,
      extendedRcode: frame.ttl >>> 24,
      version: (frame.ttl >>> 16) & 0xff,
      dnssecOk: (frame.ttl & EDNS_DO_BIT) !== 0,
      options,
    },
  };
}

/**
 * Parses a whole message. Counts that promise more than the buffer holds give
 * 'truncated' at the record that is missing; bytes after the last record are
 * ignored. Never throws.
 */
export function parseDnsMessage(buf: Uint8Array): DnsParseResult<DnsMessage> {
  const header = parseDnsHeader(buf);
  if (!header.ok) return header;
  const h = header.value;
  let pos = DNS_HEADER_LENGTH;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < h.questionCount; i++) {
    const q = readQuestion(buf, pos);
    if (!q.ok) return q;
    questions.push(q.value);
    pos = q.end;
  }
  const sections: DnsRecord[][] = [[], [], []];
  const counts = [h.answerCount, h.authorityCount, h.additionalCount];
  let edns: Edns | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const frame = readRecordFrame(buf, pos);
      if (!frame.ok) return frame;
      const f = frame.value;
      if (f.type === DnsType.OPT) {
        if (s !== 2) return dnsFail('badOpt', 'badValue', pos, 'OPT outside the additional section');
        if (edns) return dnsFail('badOpt', 'badValue', pos, 'more than one OPT (RFC 6891 §6.1.1)');
        const e = readEdns(buf, f, pos);
        if (!e.ok) return e;
        edns = e.value;
      } else {
        const data = readRdata(buf, f.type, f.class, f.rdataStart, f.rdataEnd);
        if (!data.ok) return data;
        sections[s]!.push({ name: f.name, type: f.type, class: f.class, ttl: f.ttl, data: data.value });
      }
      pos = frame.end;
    }
  }
  const [answers, authorities, additionals] = sections as [DnsRecord[], DnsRecord[], DnsRecord[]];
  return { ok: true, value: { id: h.id, flags: h.flags, questions, answers, authorities, additionals, edns } };
}

// ---------------------------------------------------------------------------
// Encoding: one writer for measuring (buf undefined) and writing.

function writeRecord(w: DnsWriter, record: DnsRecord): void {
  if (record.type === DnsType.OPT) throw new RangeError('OPT goes in message.edns, not in a section');
  w.name(record.name, true);
  w.u16(record.type);
  w.u16(record.class);
  w.u32(record.ttl);
  const start = w.openLength();
  writeRdata(w, record.type, record.class, record.data);
  w.closeLength(start, `${dnsTypeName(record.type)} RDATA`);
}

function optLength(edns: Edns): number {
  return edns.options.reduce((n, o) => n + 4 + o.data.length, OPT_FIXED_LENGTH);
}

function writeOpt(w: DnsWriter, edns: Edns): void {
  if (edns.extendedRcode >>> 8 !== 0 || edns.version >>> 8 !== 0) throw new RangeError('EDNS extended rcode and version are 8 bits');
  w.u8(0); // root
  w.u16(DnsType.OPT);
  w.u16(edns.udpPayloadSize);
  w.u32(((edns.extendedRcode << 24) | (edns.version << 16) | (edns.dnssecOk ? EDNS_DO_BIT : 0)) >>> 0);
  const start = w.openLength();
  for (const option of edns.options) {
    w.u16(option.code);
    w.u16(option.data.length);
    w.bytes(option.data);
  }
  w.closeLength(start, 'OPT RDATA');
}

/**
 * Writes the message. With a finite `maxSize`, each record is measured first;
 * the first one that does not fit ends the message there (an RR boundary).
 * Cutting the answer or authority section sets TC; cutting only additional
 * records does not (RFC 2181 §9: TC means required data is missing). The OPT
 * record has its room reserved and is always kept (RFC 6891 §7).
 */
function writeMessage(w: DnsWriter, message: DnsMessage, maxSize: number): void {
  const start = w.pos;
  w.pos += DNS_HEADER_LENGTH; // the header is written last, when the counts are known
  for (const q of message.questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  const limit = start + maxSize - (message.edns ? optLength(message.edns) : 0);
  if (w.pos > limit) throw new RangeError(`maxSize ${maxSize} cannot hold the header, question and OPT record`);
  let tc = message.flags.tc;
  const counts = [0, 0, 0];
  const sections = [message.answers, message.authorities, message.additionals];
  fill: for (let s = 0; s < sections.length; s++) {
    for (const record of sections[s]!) {
      if (Number.isFinite(maxSize)) {
        const buf = w.buf;
        const pos = w.pos;
        const dictionarySize = w.dictionary.size;
        w.buf = undefined;
        writeRecord(w, record);
        const end = w.pos;
        w.buf = buf;
        w.pos = pos;
        w.dictionary.rollback(dictionarySize);
        if (end > limit) {
          if (s < 2) tc = true;
          break fill;
        }
      }
      writeRecord(w, record);
      counts[s]!++;
    }
  }
  if (message.edns) {
    writeOpt(w, message.edns);
    counts[2]!++;
  }
  if (message.questions.length > 0xffff || counts.some((n) => n > 0xffff)) throw new RangeError('more than 65535 entries in a section');
  if (w.buf) {
    const b = w.buf;
    setU16(b, start + DnsHeaderField.id, message.id);
    setU16(b, start + DnsHeaderField.flags, flagsToWord({ ...message.flags, tc }));
    setU16(b, start + DnsHeaderField.questionCount, message.questions.length);
    setU16(b, start + DnsHeaderField.answerCount, counts[0]!);
    setU16(b, start + DnsHeaderField.authorityCount, counts[1]!);
    setU16(b, start + DnsHeaderField.additionalCount, counts[2]!);
  } else {
    flagsToWord(message.flags); // the same range checks as when writing
  }
}

/** Octets the message takes with name compression and no truncation. Throws RangeError on invalid records. */
export function dnsMessageLength(message: DnsMessage): number {
  const w = new DnsWriter(undefined, 0, 0);
  writeMessage(w, message, Infinity);
  return w.pos;
}

/**
 * Writes the message at `offset` (compression pointers are relative to it),
 * truncating to `maxSize` octets as described at `writeMessage`. Returns the
 * octets written.
 */
export function emitDnsMessage(message: DnsMessage, buf: Uint8Array, offset: number, maxSize = DNS_MAX_MESSAGE_LENGTH): number {
  maxSize = Math.min(maxSize, DNS_MAX_MESSAGE_LENGTH);
  const full = dnsMessageLength(message);
  const effective = full <= maxSize ? Infinity : maxSize;
  const needed = Math.min(full, maxSize);
  if (offset + needed > buf.length) throw new RangeError(`emitDnsMessage: ${needed} octets do not fit at +${offset} of ${buf.length}`);
  const w = new DnsWriter(buf, offset, offset);
  writeMessage(w, message, effective);
  return w.pos - offset;
}

/** The message as a new buffer; see `emitDnsMessage`. */
export function encodeDnsMessage(message: DnsMessage, maxSize = DNS_MAX_MESSAGE_LENGTH): Uint8Array {
  const buf = new Uint8Array(Math.min(dnsMessageLength(message), maxSize, DNS_MAX_MESSAGE_LENGTH));
  const length = emitDnsMessage(message, buf, 0, maxSize);
  return buf.subarray(0, length);
}

// ---------------------------------------------------------------------------
// describe(): dig's presentation, one line

/** `www.example.test. 0 IN A 192.0.2.10`, dig's answer line with single spaces. */
export function describeRecord(record: DnsRecord): string {
  return `${record.name} ${record.ttl} ${dnsClassName(record.class)} ${dnsTypeName(record.type)} ${describeRdata(record.data)}`;
}

/** `www.example.test. IN A`, dig's question line. */
export function describeQuestion(question: DnsQuestion): string {
  return `${question.name} ${dnsClassName(question.class)} ${dnsTypeName(question.type)}`;
}

/** dig's pseudosection: `EDNS: version: 0, flags: do; udp: 1232; COOKIE: 84a8...`. */
export function describeEdns(edns: Edns): string {
  const options = edns.options.map((o) => `; ${ednsOptionName(o.code)}: ${hex(o.data)}`).join('');
  return `EDNS: version: ${edns.version}, flags:${edns.dnssecOk ? ' do' : ''}; udp: ${edns.udpPayloadSize}${options}`;
}

const MAX_DESCRIBED_ANSWERS = 4;

/**
 * One line for traces: dig's header, question and answers, e.g.
 * `55266 QUERY NOERROR qr aa ra www.example.test. IN A -> www.example.test. 0 IN A 192.0.2.10 (1/0/0)`.
 */
export function describeDnsMessage(message: DnsMessage): string {
  const f = message.flags;
  const flags = (['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const).filter((k) => f[k]).join(' ');
  let line = `${message.id} ${opcodeName(f.opcode)} ${rcodeName(fullRcode(message))}${flags ? ' ' + flags : ''}`;
  line += ' ' + (message.questions.map(describeQuestion).join(', ') || '(no question)');
  if (message.answers.length > 0) {
    const shown = message.answers.slice(0, MAX_DESCRIBED_ANSWERS).map(describeRecord).join(', ');
    const more = message.answers.length - MAX_DESCRIBED_ANSWERS;
    line += ` -> ${shown}${more > 0 ? `, +${more} more` : ''}`;
  }
  line += ` (${message.answers.length}/${message.authorities.length}/${message.additionals.length + (message.edns ? 1 : 0)})`;
  if (message.edns) line += ` ${describeEdns(message.edns)}`;
  return line;
}
