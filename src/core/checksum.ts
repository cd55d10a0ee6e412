/**
 * The Internet checksum.
 *
 * Read first: RFC 1071 "Computing the Internet Checksum" (the one's-complement
 * sum of 16-bit words), RFC 1624 "Computation of the Internet Checksum via
 * Incremental Update" (equation 3: HC' = ~(~HC + ~m + m')), and for the
 * pseudo-headers RFC 768 / RFC 9293 §3.1 (IPv4) and RFC 8200 §8.1 (IPv6).
 *
 * Sums are carried in a plain JS number (up to 2^53) and folded only at the
 * end, so a 64 KB datagram never overflows and no per-word folding is needed.
 */

/**
 * Adds the 16-bit big-endian words of `buf[offset, offset+length)` to `initial`
 * without folding. An odd trailing byte is padded with zero on the right
 * (RFC 1071 §4.1).
 */
export function sumWords(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const end = offset + length;
  let i = offset;
  // Unrolled by 4 words: this loop is the hottest code in the stack.
  for (; i + 8 <= end; i += 8) {
    sum +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i + 2 <= end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds a running sum into 16 bits with end-around carry (RFC 1071 §4.1). */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: the one's complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** RFC 1071 checksum over a byte range, ready to store in a header. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return finishChecksum(sumWords(buf, offset, length, initial));
}

/**
 * True when the range (which includes its own checksum field) verifies:
 * the folded sum of everything, checksum included, is 0xffff.
 */
export function verifyChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): boolean {
  return fold(sumWords(buf, offset, length, initial)) === 0xffff;
}

/**
 * IPv4 pseudo-header sum (RFC 768, RFC 9293 §3.1): source, destination,
 * zero + protocol, and the transport length. Addresses are 32-bit numbers.
 */
export function pseudoHeaderSumV4(source: number, destination: number, protocol: number, length: number): number {
  return (
    (source >>> 16) + (source & 0xffff) + (destination >>> 16) + (destination & 0xffff) + protocol + length
  );
}

/**
 * IPv6 pseudo-header sum (RFC 8200 §8.1): source and destination addresses
 * (16 bytes each), the 32-bit upper-layer length and the next header value.
 */
export function pseudoHeaderSumV6(source: Uint8Array, destination: Uint8Array, nextHeader: number, length: number): number {
  let sum = sumWords(source, 0, 16);
  sum = sumWords(destination, 0, 16, sum);
  return sum + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader;
}

/**
 * RFC 1624 equation 3: the new checksum after one 16-bit word of the covered
 * data changed from `oldWord` to `newWord`. HC' = ~(~HC + ~m + m').
 * Used by routers (TTL decrement) and NAT (address/port rewrite).
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit field (an IPv4 address): two 16-bit words. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  const c = updateChecksum16(checksum, oldValue >>> 16, newValue >>> 16);
  return updateChecksum16(c, oldValue & 0xffff, newValue & 0xffff);
}
