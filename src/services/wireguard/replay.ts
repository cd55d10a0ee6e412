/**
 * The anti-replay window for transport counters (whitepaper §5.4.6, RFC
 * 6479 "IPsec Anti-Replay Algorithm without Bit Shifting"): a ring of
 * bitmap words; moving the window forward clears whole words instead of
 * shifting bits. A counter is accepted once, and only if it is newer than
 * the highest seen or within WINDOW_SIZE below it.
 *
 * wireguard-go uses 128 words of 64 bits; JS bit operations are 32-bit, so
 * this ring is 256 words of 32 bits: the same 8192 bits of ring, one word of
 * which is always the "moving" one, so the window is 8160 counters.
 */
const WORD_BITS_LOG = 5;
const WORD_BITS = 1 << WORD_BITS_LOG;
const RING_WORDS = 256;
/** Counters this far behind the newest one are still accepted (once). */
export const REPLAY_WINDOW_SIZE = (RING_WORDS - 1) * WORD_BITS;

export class ReplayFilter {
  private last = 0;
  private readonly ring = new Uint32Array(RING_WORDS);

  reset(): void {
    this.last = 0;
    this.ring.fill(0);
  }

  /** True (and remembered) for a counter seen for the first time inside the window; `limit`: counters ≥ it are refused. */
  validate(counter: number, limit: number): boolean {
    if (counter >= limit) return false;
    const word = Math.floor(counter / WORD_BITS);
    if (counter > this.last) {
      const current = Math.floor(this.last / WORD_BITS);
      const diff = Math.min(word - current, RING_WORDS);
      for (let i = 1; i <= diff; i++) this.ring[(current + i) % RING_WORDS] = 0;
      this.last = counter;
    } else if (this.last - counter > REPLAY_WINDOW_SIZE) {
      return false;
    }
    const index = word % RING_WORDS;
    const bit = 1 << (counter % WORD_BITS);
    const old = this.ring[index]!;
    if ((old & bit) !== 0) return false;
    this.ring[index] = old | bit;
    return true;
  }
}
