/**
 * `tapnet connect --send N` (runtime/tcp-fetch.ts) against a peer that answers
 * and half-closes at once (nc -l -N): every byte is still sent, then it finishes.
 */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { tcpFetch } from '../../../src/runtime/tcp-fetch.js';
import { B, pattern, tcpPair } from '../l4/tcp/harness.js';

it('sends all its bytes to a peer that half-closes first, then finishes', async () => {
  const t = tcpPair();
  const hash = createHash('sha256');
  let got = 0;
  let peerDone = false;
  t.b.tcp
    .createServer((s) => {
      s.on('data', (d: Buffer) => {
        hash.update(d);
        got += d.length;
      });
      s.on('end', () => (peerDone = true));
      s.end('hello from nc\n');
    })
    .listen(9000);
  let result: Awaited<ReturnType<typeof tcpFetch>> | undefined;
  void tcpFetch(t.a, B, 9000, 1_000_000).then((r) => (result = r));
  await t.runUntil(() => result !== undefined && peerDone, 60_000);
  expect(result!.error).toBeUndefined();
  expect(result!.sent).toBe(1_000_000);
  expect(result!.head).toBe('hello from nc\n');
  expect(got).toBe(1_000_000);
  expect(hash.digest('hex')).toBe(createHash('sha256').update(pattern(1_000_000)).digest('hex'));
});
