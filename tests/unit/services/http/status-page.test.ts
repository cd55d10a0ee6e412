/**
 * Issue 11 item 6: the status page stays small however many connections the
 * host holds. Thousands of HTTP/1.0 requests leave thousands of server-side
 * connections in TIME-WAIT (the server closes first); the page shows counts
 * per state and only the newest STATUS_PAGE_RECENT_CONNECTIONS.
 */
import { describe, expect, it } from 'vitest';
import { STATUS_PAGE_RECENT_CONNECTIONS, startHttpService } from '../../../../src/services/http/server.js';
import { B, tcpPair } from '../../l4/tcp/harness.js';

/** The whole page as a client gets it (HTTP/1.0: the server closes, so it ends in TIME-WAIT). */
function fetchPage(p: ReturnType<typeof tcpPair>, path: string, onDone: (body: string) => void): void {
  const client = p.a.tcp.connect({ host: B, port: 80 });
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  client.on('end', () => {
    const raw = Buffer.concat(chunks).toString('latin1');
    onDone(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  });
  client.write(`GET ${path} HTTP/1.0\r\n\r\n`);
}

describe('status page with thousands of TIME-WAIT connections', () => {
  it('stays under 16 KB and counts them instead of listing them', async () => {
    const p = tcpPair();
    startHttpService(p.b);
    const total = 3000;
    let done = 0;
    let started = 0;
    // 200 at a time, like a load generator; every one ends in TIME-WAIT on the server (2 MSL = 60 s).
    const startMore = (): void => {
      while (started < total && started - done < 200) {
        started++;
        fetchPage(p, '/bytes/10', () => {
          done++;
          startMore();
        });
      }
    };
    startMore();
    await p.runUntil(() => done === total, 50_000);
    // A few are retired early when a later SYN reuses the 4-tuple (RFC 6191): most are still there.
    const timeWait = p.b.tcp.layer.stateSummary()['TIME-WAIT']!;
    expect(timeWait).toBeGreaterThan(2000);

    let page: string | undefined;
    fetchPage(p, '/', (body) => (page = body));
    await p.runUntil(() => page !== undefined);
    expect(page).toContain('== tcp ==');
    expect(page).toMatch(/connections: \d+ \(.*TIME-WAIT \d{4}/); // counted, not listed
    expect(Buffer.byteLength(page!)).toBeLessThan(16 * 1024);
    const listed = page!.split('\n').filter((l) => /^(TIME-WAIT|ESTABLISHED|CLOSE-WAIT|LAST-ACK|FIN-WAIT-\d|SYN-RECEIVED) /.test(l));
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.length).toBeLessThanOrEqual(STATUS_PAGE_RECENT_CONNECTIONS);
  }, 120_000);
});
