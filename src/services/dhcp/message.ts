/**
 * The DHCP message: a BOOTP packet whose vendor field holds DHCP options.
 *
 * Read first: RFC 2131 §2 (format) and §4.1 (options, overload), RFC 2132
 * (options, see options.ts), RFC 1542 §2.1 (300-byte minimum), RFC 3396
 * (long options).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +---------------+---------------+---------------+---------------+
 *    |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
 *    +---------------+---------------+---------------+---------------+
 *    |                            xid (4)                            |
 *    +-------------------------------+-------------------------------+
 *    |           secs (2)            |           flags (2)           |
 *    +-------------------------------+-------------------------------+
 *    |                          ciaddr  (4)                          |
 *    +---------------------------------------------------------------+
 *    |                          yiaddr  (4)                          |
 *    +---------------------------------------------------------------+
 *    |                          siaddr  (4)                          |
 *    +---------------------------------------------------------------+
 *    |                          giaddr  (4)                          |
 *    +---------------------------------------------------------------+
 *    |                          chaddr  (16)                         |
 *    +---------------------------------------------------------------+
 *    |                          sname   (64)                         |
 *    +---------------------------------------------------------------+
 *    |                          file    (128)                        |
 *    +---------------------------------------------------------------+
 *    |                          options (variable)                   |
 *    +---------------------------------------------------------------+
 *
 * The options field starts with the magic cookie 99.130.83.99 (RFC 2131 §3);
 * without it the packet is plain BOOTP, which we do not serve. The field
 * names are the RFC's own: ciaddr is the client's current address, yiaddr
 * "your" (offered) address, siaddr the next server, giaddr the relay agent,
 * chaddr the client hardware address. Flags has one bit: BROADCAST (reply by
 * broadcast, for clients that cannot receive unicast before configuring).
 */
import { getU16, getU32, setU16, setU32, setU8 } from '../../core/bytes.js';
import { fail, ok, type ParseResult } from '../../core/parse-result.js';
import {
  DhcpMessageType,
  DhcpOptionCode,
  DHCP_OPTION_MAX_DATA,
  decodeDhcpOptions,
  dhcpOptionsToTlvs,
  dhcpTlvWireLength,
  scanDhcpOptions,
  type DhcpOptionFragments,
  type DhcpOptions,
  type DhcpOptionTlv,
} from './options.js';

/** Byte offsets, in wire order. */
export const Field = {
  OP: 0,
  HTYPE: 1,
  HLEN: 2,
  HOPS: 3,
  XID: 4,
  SECS: 8,
  FLAGS: 10,
  CIADDR: 12,
  YIADDR: 16,
  SIADDR: 20,
  GIADDR: 24,
  CHADDR: 28,
  SNAME: 44,
  FILE: 108,
  MAGIC_COOKIE: 236,
  OPTIONS: 240,
} as const;

const CHADDR_LENGTH = 16;
const SNAME_LENGTH = 64;
const FILE_LENGTH = 128;

/** RFC 2131 §3: 99.130.83.99. */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** RFC 1542 §2.1: BOOTP relays and old clients drop messages shorter than 300 bytes. */
export const BOOTP_MIN_MESSAGE_LENGTH = 300;
/** Fixed header plus the magic cookie. */
export const DHCP_HEADER_LENGTH = Field.OPTIONS;
/** RFC 1700 ARP hardware type for Ethernet. */
export const HTYPE_ETHERNET = 1;

export const BootpOp = { BOOTREQUEST: 1, BOOTREPLY: 2 } as const;
/** RFC 2131 §2: the leftmost bit of flags; the other 15 MUST be zero. */
export const DhcpFlags = { BROADCAST: 0x8000 } as const;

/** The message as a plain record. Addresses are u32 numbers; chaddr a 48-bit number. */
export interface DhcpMessage {
  /** BootpOp: 1 from client, 2 from server. */
  readonly op: number;
  /** Hardware address type, HTYPE_ETHERNET. */
  readonly htype: number;
  /** Hardware address length, 6 for Ethernet. */
  readonly hlen: number;
  /** Relay agent hops. */
  readonly hops: number;
  /** Transaction ID chosen by the client. */
  readonly xid: number;
  /** Seconds since the client began acquiring or renewing. */
  readonly secs: number;
  /** DhcpFlags bits. */
  readonly flags: number;
  readonly ciaddr: number;
  readonly yiaddr: number;
  readonly siaddr: number;
  readonly giaddr: number;
  /** The first 6 bytes of chaddr: the client's MAC address (the other 10 are written as zero). */
  readonly chaddr: number;
  /** Server host name; '' when absent or when the field carries options. */
  readonly sname: string;
  /** Boot file name; '' when absent or when the field carries options. */
  readonly file: string;
  readonly options: DhcpOptions;
}

/** A view over the fixed header, for peeking at xid/chaddr without parsing options. Build it with `wrap()`. */
export class DhcpMessageView {
  private constructor(readonly buf: Uint8Array) {}

  /** Checks length, op, hlen and the magic cookie. */
  static wrap(buf: Uint8Array): ParseResult<DhcpMessageView> {
    if (buf.length < DHCP_HEADER_LENGTH) {
      return fail('truncated', buf.length, `${buf.length} bytes < ${DHCP_HEADER_LENGTH} (header + magic cookie)`);
    }
    const op = buf[Field.OP]!;
    if (op !== BootpOp.BOOTREQUEST && op !== BootpOp.BOOTREPLY) return fail('badValue', Field.OP, `op ${op}`);
    const hlen = buf[Field.HLEN]!;
    if (hlen > CHADDR_LENGTH) return fail('badValue', Field.HLEN, `hlen ${hlen} > ${CHADDR_LENGTH}`);
    const cookie = getU32(buf, Field.MAGIC_COOKIE);
    if (cookie !== DHCP_MAGIC_COOKIE) {
      return fail('unsupported', Field.MAGIC_COOKIE, `magic cookie 0x${cookie.toString(16).padStart(8, '0')}: BOOTP, not DHCP`);
    }
    return ok(new DhcpMessageView(buf));
  }

  get op(): number {
    return this.buf[Field.OP]!;
  }
  get htype(): number {
    return this.buf[Field.HTYPE]!;
  }
  get hlen(): number {
    return this.buf[Field.HLEN]!;
  }
  get hops(): number {
    return this.buf[Field.HOPS]!;
  }
  get xid(): number {
    return getU32(this.buf, Field.XID);
  }
  get secs(): number {
    return getU16(this.buf, Field.SECS);
  }
  get flags(): number {
    return getU16(this.buf, Field.FLAGS);
  }
  get broadcast(): boolean {
    return (this.flags & DhcpFlags.BROADCAST) !== 0;
  }
  get ciaddr(): number {
    return getU32(this.buf, Field.CIADDR);
  }
  get yiaddr(): number {
    return getU32(this.buf, Field.YIADDR);
  }
  get siaddr(): number {
    return getU32(this.buf, Field.SIADDR);
  }
  get giaddr(): number {
    return getU32(this.buf, Field.GIADDR);
  }
  get chaddr(): number {
    return getU16(this.buf, Field.CHADDR) * 0x1_0000_0000 + getU32(this.buf, Field.CHADDR + 2);
  }
  /** The sname field read as a string (meaningless when overloaded with options). */
  get sname(): string {
    return cString(this.buf, Field.SNAME, SNAME_LENGTH);
  }
  get file(): string {
    return cString(this.buf, Field.FILE, FILE_LENGTH);
  }

  describe(): string {
    const parsed = parseDhcpMessage(this.buf);
    return parsed.ok ? describeDhcpMessage(parsed.value) : `DHCP xid 0x${hex32(this.xid)} (bad: ${parsed.error.detail})`;
  }
}

/**
 * Parses a whole message (the UDP payload). Options are read from the
 * options field, then 'file', then 'sname' when option 52 says so (RFC 2131
 * §4.1), and repeated codes are concatenated (RFC 3396). Offsets in errors
 * are relative to the start of the message.
 */
export function parseDhcpMessage(buf: Uint8Array): ParseResult<DhcpMessage> {
  const wrapped = DhcpMessageView.wrap(buf);
  if (!wrapped.ok) return wrapped;
  const view = wrapped.value;

  const fragments: DhcpOptionFragments = new Map();
  const error = scanDhcpOptions(buf, Field.OPTIONS, buf.length, fragments);
  if (error) return { ok: false, error };

  let overload = 0;
  const overloadFragments = fragments.get(DhcpOptionCode.overload);
  if (overloadFragments) {
    const first = overloadFragments[0]!;
    if (overloadFragments.length !== 1 || first.data.length !== 1 || first.data[0]! < 1 || first.data[0]! > 3) {
      return fail('badOption', first.offset, 'option 52 (overload) must be one byte 1, 2 or 3');
    }
    overload = first.data[0]!;
    const fileError = overload & 1 ? scanDhcpOptions(buf, Field.FILE, Field.FILE + FILE_LENGTH, fragments) : undefined;
    if (fileError) return { ok: false, error: fileError };
    const snameError = overload & 2 ? scanDhcpOptions(buf, Field.SNAME, Field.SNAME + SNAME_LENGTH, fragments) : undefined;
    if (snameError) return { ok: false, error: snameError };
  }
  const options = decodeDhcpOptions(fragments);
  if (!options.ok) return options;

  return ok({
    op: view.op,
    htype: view.htype,
    hlen: view.hlen,
    hops: view.hops,
    xid: view.xid,
    secs: view.secs,
    flags: view.flags,
    ciaddr: view.ciaddr,
    yiaddr: view.yiaddr,
    siaddr: view.siaddr,
    giaddr: view.giaddr,
    chaddr: view.chaddr,
    sname: overload & 2 ? '' : view.sname,
    file: overload & 1 ? '' : view.file,
    options: options.value,
  });
}

/** Where each option goes: the options field, then (overloaded) 'file', then 'sname'. */
interface Layout {
  readonly main: DhcpOptionTlv[];
  readonly file: DhcpOptionTlv[];
  readonly sname: DhcpOptionTlv[];
  readonly overload: number;
  readonly length: number;
}

/**
 * Places the options. Without `maxLength` everything goes in the options
 * field. With it (the client's Maximum DHCP Message Size minus IP and UDP
 * headers), options that do not fit spill into 'file' and 'sname' if those
 * are empty, and option 52 says so (RFC 2131 §4.1).
 */
function layout(message: DhcpMessage, maxLength: number): Layout {
  if (maxLength < BOOTP_MIN_MESSAGE_LENGTH) throw new RangeError(`DHCP maxLength ${maxLength} < ${BOOTP_MIN_MESSAGE_LENGTH}`);
  const tlvs = dhcpOptionsToTlvs(message.options);
  const END = 1;
  const total = tlvs.reduce((n, t) => n + dhcpTlvWireLength(t), 0);
  const main: DhcpOptionTlv[] = [];
  const file: DhcpOptionTlv[] = [];
  const sname: DhcpOptionTlv[] = [];
  let mainBytes = 0;
  if (DHCP_HEADER_LENGTH + total + END <= maxLength) {
    main.push(...tlvs);
    mainBytes = total;
  } else {
    const OVERLOAD_OPTION = 3;
    const bins = [
      { list: main, room: maxLength - DHCP_HEADER_LENGTH - OVERLOAD_OPTION - END },
      ...(message.file === '' ? [{ list: file, room: FILE_LENGTH - END }] : []),
      ...(message.sname === '' ? [{ list: sname, room: SNAME_LENGTH - END }] : []),
    ];
    let bin = 0;
    for (const tlv of tlvs) {
      const size = dhcpTlvWireLength(tlv);
      while (bin < bins.length && bins[bin]!.room < size) bin++;
      const target = bins[bin];
      if (!target) throw new RangeError(`DHCP options do not fit in ${maxLength} bytes, even with overload`);
      target.list.push(tlv);
      target.room -= size;
      if (target.list === main) mainBytes += size;
    }
    mainBytes += OVERLOAD_OPTION;
  }
  const overload = (file.length > 0 ? 1 : 0) | (sname.length > 0 ? 2 : 0);
  return {
    main,
    file,
    sname,
    overload,
    length: Math.max(BOOTP_MIN_MESSAGE_LENGTH, DHCP_HEADER_LENGTH + mainBytes + END),
  };
}

/** Bytes `encodeDhcpMessage` writes. Same code path as the encoder. */
export function dhcpMessageLength(message: DhcpMessage, maxLength = Infinity): number {
  return layout(message, maxLength).length;
}

/**
 * Writes `message` at `offset` and returns the bytes written: at least 300
 * (RFC 1542), options ended by End and padded with zeros. Options are
 * written in the key order of `message.options`. Throws RangeError for
 * values that cannot be encoded (a programmer error).
 */
export function encodeDhcpMessage(message: DhcpMessage, buf: Uint8Array, offset: number, maxLength = Infinity): number {
  const plan = layout(message, maxLength);
  if (offset + plan.length > buf.length) throw new RangeError(`encodeDhcpMessage: needs ${plan.length} bytes at ${offset}`);
  const out = buf.subarray(offset, offset + plan.length);
  out.fill(0);
  setU8(out, Field.OP, checked('op', message.op, 0xff));
  setU8(out, Field.HTYPE, checked('htype', message.htype, 0xff));
  setU8(out, Field.HLEN, checked('hlen', message.hlen, CHADDR_LENGTH));
  setU8(out, Field.HOPS, checked('hops', message.hops, 0xff));
  setU32(out, Field.XID, checked('xid', message.xid, 0xffffffff));
  setU16(out, Field.SECS, checked('secs', message.secs, 0xffff));
  setU16(out, Field.FLAGS, checked('flags', message.flags, 0xffff));
  setU32(out, Field.CIADDR, checked('ciaddr', message.ciaddr, 0xffffffff));
  setU32(out, Field.YIADDR, checked('yiaddr', message.yiaddr, 0xffffffff));
  setU32(out, Field.SIADDR, checked('siaddr', message.siaddr, 0xffffffff));
  setU32(out, Field.GIADDR, checked('giaddr', message.giaddr, 0xffffffff));
  const chaddr = checked('chaddr', message.chaddr, 0xffff_ffff_ffff);
  setU16(out, Field.CHADDR, Math.floor(chaddr / 0x1_0000_0000));
  setU32(out, Field.CHADDR + 2, chaddr % 0x1_0000_0000);
  writeCString(out, Field.SNAME, SNAME_LENGTH, message.sname, 'sname');
  writeCString(out, Field.FILE, FILE_LENGTH, message.file, 'file');
  setU32(out, Field.MAGIC_COOKIE, DHCP_MAGIC_COOKIE);

  let at: number = Field.OPTIONS;
  if (plan.overload !== 0) {
    out.set([DhcpOptionCode.overload, 1, plan.overload], at);
    at += 3;
  }
  at = writeTlvs(out, at, plan.main);
  out[at] = DhcpOptionCode.end;
  if (plan.file.length > 0) out[writeTlvs(out, Field.FILE, plan.file)] = DhcpOptionCode.end;
  if (plan.sname.length > 0) out[writeTlvs(out, Field.SNAME, plan.sname)] = DhcpOptionCode.end;
  return plan.length;
}

/** Writes options, splitting data longer than 255 bytes into repeated instances (RFC 3396 §5). */
function writeTlvs(out: Uint8Array, at: number, tlvs: readonly DhcpOptionTlv[]): number {
  for (const tlv of tlvs) {
    let start = 0;
    do {
      const piece = tlv.data.subarray(start, start + DHCP_OPTION_MAX_DATA);
      out[at] = tlv.code;
      out[at + 1] = piece.length;
      out.set(piece, at + 2);
      at += 2 + piece.length;
      start += DHCP_OPTION_MAX_DATA;
    } while (start < tlv.data.length);
  }
  return at;
}

function checked(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`encodeDhcpMessage: ${name} ${value} is not an integer in [0, ${max}]`);
  }
  return value;
}

/** A NUL-terminated string field; the RFC wants the NUL, so at most length - 1 characters. */
function writeCString(out: Uint8Array, at: number, length: number, value: string, name: string): void {
  if (value.length > length - 1) throw new RangeError(`encodeDhcpMessage: ${name} longer than ${length - 1} bytes`);
  for (let i = 0; i < value.length; i++) out[at + i] = checked(`${name} character`, value.charCodeAt(i), 0xff);
}

function cString(buf: Uint8Array, at: number, length: number): string {
  let s = '';
  for (let i = at; i < at + length && buf[i] !== 0; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

const MESSAGE_TYPE_NAMES = new Map<number, string>(Object.entries(DhcpMessageType).map(([name, value]) => [value, name]));

/**
 * One line for traces: "DHCP DISCOVER xid 0x6540643e from 02:00:00:00:00:02",
 * "DHCP OFFER xid 0x6540643e to 02:00:00:00:00:02, yiaddr 10.77.0.64, server 10.77.0.1, lease 43200s".
 */
export function describeDhcpMessage(message: DhcpMessage): string {
  const type = message.options.messageType;
  const name =
    type === undefined
      ? `BOOTP ${message.op === BootpOp.BOOTREQUEST ? 'REQUEST' : 'REPLY'}`
      : `DHCP ${MESSAGE_TYPE_NAMES.get(type) ?? `type ${type}`}`;
  const direction = message.op === BootpOp.BOOTREQUEST ? 'from' : 'to';
  const parts = [`${name} xid 0x${hex32(message.xid)} ${direction} ${formatMac(message.chaddr)}`];
  const o = message.options;
  if (message.ciaddr !== 0) parts.push(`ciaddr ${formatIpv4(message.ciaddr)}`);
  if (message.yiaddr !== 0) parts.push(`yiaddr ${formatIpv4(message.yiaddr)}`);
  if (o.requestedIpAddress !== undefined) parts.push(`requested ${formatIpv4(o.requestedIpAddress)}`);
  if (o.serverIdentifier !== undefined) parts.push(`server ${formatIpv4(o.serverIdentifier)}`);
  if (o.leaseTime !== undefined) parts.push(`lease ${o.leaseTime}s`);
  if (message.giaddr !== 0) parts.push(`via ${formatIpv4(message.giaddr)}`);
  if (message.flags & DhcpFlags.BROADCAST) parts.push('broadcast');
  if (o.message !== undefined) parts.push(`message ${JSON.stringify(o.message)}`);
  return parts.join(', ');
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

function formatMac(mac: number): string {
  return mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}
