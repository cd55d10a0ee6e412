/**
 * Byte helpers: big-endian ("network order", RFC 1700) reads and writes on
 * plain Uint8Arrays, so packet views need no DataView allocation per packet.
 * Callers check bounds first (STYLE.md rule 2); these helpers do not.
 */

export function getU8(buf: Uint8Array, offset: number): number {
  return buf[offset]!;
}

export function getU16(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

export function getU32(buf: Uint8Array, offset: number): number {
  // `>>> 0` keeps the result unsigned (JS bit operators work on int32).
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

export function setU8(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
}

export function setU16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 8) & 0xff;
  buf[offset + 1] = value & 0xff;
}

export function setU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 24) & 0xff;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

/** Bytes from a hex string; whitespace and `:` separators are ignored (for test vectors). */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`fromHex: not a hex string: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(buf: Uint8Array, separator = ''): string {
  let s = '';
  for (let i = 0; i < buf.length; i++) s += (i > 0 ? separator : '') + buf[i]!.toString(16).padStart(2, '0');
  return s;
}

/** tcpdump -X style dump, 16 bytes a line, for traces and test failure messages. */
export function hexdump(buf: Uint8Array, maxBytes = 256): string {
  const lines: string[] = [];
  const n = Math.min(buf.length, maxBytes);
  for (let off = 0; off < n; off += 16) {
    const row = buf.subarray(off, Math.min(off + 16, n));
    const hex = toHex(row, ' ').padEnd(47, ' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`0x${off.toString(16).padStart(4, '0')}:  ${hex}  ${ascii}`);
  }
  if (buf.length > n) lines.push(`... ${buf.length - n} more bytes`);
  return lines.join('\n');
}

/** A view of `length` bytes at `offset` of `buf`, sharing memory (never a copy). */
export function view(buf: Uint8Array, offset: number, length: number): Uint8Array {
  return buf.subarray(offset, offset + length);
}
