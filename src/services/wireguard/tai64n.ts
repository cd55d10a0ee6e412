/**
 * TAI64N timestamps (https://cr.yp.to/libtai/tai64.html), 12 bytes: seconds
 * since 1970 + 2^62 + 10 (TAI's offset from UTC in 1972) as a big-endian
 * u64, then nanoseconds as a big-endian u32. The initiator sends one in
 * every initiation; a responder drops an initiation whose timestamp is not
 * newer than the last one it accepted from that peer (whitepaper §5.1,
 * replay protection of the first message).
 */
export const TAI64N_LENGTH = 12;
const TAI64_BASE = 0x4000_0000_0000_000an;

/**
 * Like wireguard-go's tai64n.Now: nanoseconds rounded down to 2^24 ns
 * (≈16.8 ms), so the timestamp does not leak a precise clock to whoever can
 * decrypt it (initiations are at least REKEY_TIMEOUT apart anyway).
 */
export const TAI64N_WHITENER_NS = 0x100_0000;

export function tai64n(unixMs: number, out = new Uint8Array(TAI64N_LENGTH)): Uint8Array {
  const seconds = Math.floor(unixMs / 1000);
  const nanos = Math.floor(((unixMs - seconds * 1000) * 1e6) / TAI64N_WHITENER_NS) * TAI64N_WHITENER_NS;
  const dv = new DataView(out.buffer, out.byteOffset, TAI64N_LENGTH);
  dv.setBigUint64(0, TAI64_BASE + BigInt(seconds));
  dv.setUint32(8, nanos);
  return out;
}

/** a after b, comparing as big-endian numbers (bytes in order). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TAI64N_LENGTH; i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  return false;
}
