/**
 * Receiver indices (whitepaper §5.4.2: "sender index"): the random 32-bit
 * number a node picks for each handshake it runs and each session it holds,
 * so that the peer's responses, cookie replies and data name what they are
 * for. A session takes over its handshake's index. Entries exist only for
 * configured peers (at most a handshake and three sessions each), never for
 * a stranger's message.
 */
import type { StackContext } from '../../core/context.js';

export interface IndexEntry<Peer, Keypair> {
  readonly peer: Peer;
  /** Set for a session; absent for a handshake in progress. */
  readonly keypair?: Keypair;
}

export class IndexTable<Peer, Keypair> {
  private readonly entries = new Map<number, IndexEntry<Peer, Keypair>>();

  constructor(private readonly ctx: StackContext) {}

  get(index: number): IndexEntry<Peer, Keypair> | undefined {
    return this.entries.get(index);
  }

  get size(): number {
    return this.entries.size;
  }

  /** A fresh random index (never 0, never one in use) for `entry`. */
  add(entry: IndexEntry<Peer, Keypair>): number {
    let index: number;
    do index = this.ctx.random.u32() >>> 0;
    while (index === 0 || this.entries.has(index));
    this.set(index, entry);
    return index;
  }

  /** Points `index` at a session (the handshake's index becomes the session's). */
  set(index: number, entry: IndexEntry<Peer, Keypair>): void {
    this.entries.set(index, entry);
    this.ctx.stats.set('wgIndexEntries', this.entries.size);
  }

  /** Removes `index` if it still names `keypair`. */
  deleteSession(index: number, keypair: Keypair): void {
    if (this.entries.get(index)?.keypair === keypair) this.entries.delete(index);
    this.ctx.stats.set('wgIndexEntries', this.entries.size);
  }

  /** Removes the peer's handshake index, if it has one. */
  deleteHandshake(peer: Peer): void {
    for (const [index, entry] of this.entries) if (entry.peer === peer && !entry.keypair) this.entries.delete(index);
    this.ctx.stats.set('wgIndexEntries', this.entries.size);
  }
}
