/**
 * The browser view of a running `tapnet up`, started later by `tapnet ui
 * --tap` (asked twice: one server, one URL), spoken to over its WebSocket
 * as the page does: the kernel end's ping shows up in the packet list with
 * the walk tapnet's code took, tapnet's tables come back, and the view's own
 * counters are in `tapnet show stats`.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TAPNET, cleanupTapnet, inNetns, startTapnet, waitFor, type TapnetProcess } from './harness.js';

describe('tapnet ui --tap: the view of tapnet up', () => {
  let t: TapnetProcess;
  let url = '';

  beforeAll(async () => {
    t = await startTapnet({ createNetns: true });
  });

  afterAll(async () => {
    if (!t) return;
    await t.stop();
    cleanupTapnet(t);
  });

  it('starts once however often asked, and names its URL', async () => {
    const env = { ...process.env, TAPNET_RUN_DIR: t.runDir };
    const ask = (): string => {
      const r = spawnSync(process.execPath, [TAPNET, 'ui', '--tap', t.tap, '--listen', '127.0.0.1:0'], { encoding: 'utf8', env, timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    url = ask();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(ask()).toBe(url);
    expect((await fetch(url)).status).toBe(200);
  });

  it("lists the kernel's ping with its walk, shows tapnet's tables, counts what it ignored", async () => {
    const ws = new WebSocket(url.replace('http', 'ws') + 'ws');
    const messages: Record<string, unknown>[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
    ws.send(JSON.stringify({ type: 'view', scope: 'all', filter: 'icmp' }));
    ws.send(JSON.stringify({ type: 'tables', node: 'tapnet' }));
    ws.send('not json');
    await waitFor('the view', () => messages.some((m) => m.type === 'filterOk'));
    expect(inNetns(t.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).status).toBe(0);

    type Row = { id: number; protocols: string[]; info: string; direction: string; walked: boolean };
    const rows = (): Row[] => messages.filter((m) => m.type === 'packets').flatMap((m) => m.list as Row[]);
    await waitFor('the echo request in the list', () => rows().some((r) => r.info.startsWith('echo request')), 5000, () => JSON.stringify(rows()));
    expect(rows().every((r) => r.protocols.includes('icmp'))).toBe(true);
    const request = rows().find((r) => r.info.startsWith('echo request'))!;
    expect(request).toMatchObject({ direction: 'rx', walked: true });
    ws.send(JSON.stringify({ type: 'select', id: request.id }));
    await waitFor('the packet', () => messages.some((m) => m.type === 'packet'));
    const walk = (messages.find((m) => m.type === 'packet') as { walk: { text: string; file?: string }[] }).walk;
    expect(walk.some((s) => s.file?.startsWith('l3/'))).toBe(true);
    expect(walk.some((s) => /sent on/.test(s.text))).toBe(true);

    // The tables come again each second: one after the ping has the kernel end in tapnet's ARP cache.
    const tables = (): Record<string, unknown>[] => messages.filter((m) => m.type === 'tables').map((m) => m.tables as Record<string, unknown>);
    await waitFor("the kernel end in tapnet's ARP table", () => tables().some((t) => JSON.stringify(t.arp).includes('10.77.0.2')), 5000);
    // leases: tapnet up serves DHCP unless --no-dhcp.
    expect(Object.keys(tables().at(-1)!).sort()).toEqual(['arp', 'dns', 'leases', 'neigh', 'routes', 'tcp']);
    ws.close();

    const stats = t.stats();
    expect(stats.uiWsMalformed).toBe(1);
    expect(stats.uiConnections).toBe(1);
  });
});
