import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Stats } from '../../../../src/core/stats.js';
import { walkWatch } from '../../../../src/core/trace.js';
import pino from 'pino';
import { CLIENT_QUEUE_MAX, UiServer, parseUiRequest, sourceFile, uiStarter } from '../../../../src/runtime/ui/server.js';
import { decodeFrame } from '../../../../src/runtime/ui/decode.js';

function model(stats = new Stats()) {
  return {
    stats,
    topology: { name: 't', nodes: [{ name: 'r1', kind: 'router', interfaces: [] }], links: [{ a: 'r1:eth0', b: 'pc:eth0', watch: 'r1:eth0' }] },
    tables: () => ({ routes: [] }),
  };
}

/** A SYN from 10.1.0.10:37112 to 10.2.0.10:8080 with MSS 1460, SACK-permitted, timestamps, window scale 7 (as Linux sends it). */
const SYN = Buffer.from(
  '02dfa7a30daf' + 'dec415db0084' + '0800' +
    '4500003c463e40004006e0670a01000a0a02000a' +
    '90f81f90b3696d3f00000000a002faf014450000' + '020405b40402080a6bbc1b9a0000000001030307',
  'hex',
);

let server: UiServer | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

const open = (url: string): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http', 'ws') + 'ws');
    const messages: Record<string, unknown>[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    ws.on('open', () => resolve({ ws, messages }));
    ws.on('error', reject);
  });
const until = async (f: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(f()).toBe(true);
};

describe('browser view requests', () => {
  it('accepts exactly the known read-only requests', () => {
    expect(parseUiRequest('{"type":"view","scope":"link:0","filter":"tcp"}')).toEqual({ type: 'view', scope: 'link:0', filter: 'tcp' });
    expect(parseUiRequest('{"type":"select","id":3}')).toEqual({ type: 'select', id: 3 });
    for (const bad of ['', 'null', '[]', '42', '{', '{"type":"shutdown"}', '{"type":"lb","args":["drain"]}', '{"type":"select","id":-1}', '{"type":"select","id":"1"}', '{"type":"pause"}', `{"type":"tables","node":"${'x'.repeat(100)}"}`]) {
      expect(parseUiRequest(bad)).toBeUndefined();
    }
  });

  it('ignores and counts malformed WebSocket messages, and keeps serving', async () => {
    const stats = new Stats();
    server = new UiServer(model(stats), { host: '127.0.0.1', port: 0 });
    const url = await server.listen();
    const { ws, messages } = await open(url);
    await until(() => messages.some((m) => m.type === 'topology'));
    expect(walkWatch.on).toBe(true);
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'shutdown' }));
    ws.send(Buffer.from([0xff, 0xfe]));
    await until(() => stats.get('uiWsMalformed') === 3);
    ws.send(JSON.stringify({ type: 'view', scope: 'all', filter: 'tcp port' }));
    await until(() => messages.some((m) => m.type === 'filterError'));
    // Still answering: a frame seen at the watched point reaches the browser, decoded by tapnet's codecs.
    ws.send(JSON.stringify({ type: 'view', scope: 'all', filter: 'tcp and port 8080' }));
    await until(() => messages.some((m) => m.type === 'filterOk'));
    const id = server.monitor.frame('r1:eth0', 'rx', SYN, undefined);
    await until(() => messages.some((m) => m.type === 'packets'));
    ws.send(JSON.stringify({ type: 'select', id }));
    await until(() => messages.some((m) => m.type === 'packet'));
    const packet = messages.find((m) => m.type === 'packet') as { layers: { name: string; fields: { name: string; value: string }[] }[] };
    expect(packet.layers.map((l) => l.name)).toEqual(['Ethernet', 'IPv4', 'TCP']);
    ws.close();
    await until(() => !walkWatch.on);
  });

  it('drops the oldest packets for a browser that does not keep up, and says how many', () => {
    server = new UiServer(model(), { host: '127.0.0.1', port: 0 });
    const sent: string[] = [];
    const fake = { readyState: 1, OPEN: 1, bufferedAmount: 0, send: (m: string) => sent.push(m), on: () => {}, terminate: () => {} };
    const client = server.connected(fake as unknown as WebSocket);
    for (let i = 0; i < CLIENT_QUEUE_MAX + 10; i++) server.monitor.frame('r1:eth0', 'rx', SYN, undefined);
    expect(client.queue.length).toBe(CLIENT_QUEUE_MAX);
    expect(client.skipped).toBe(10);
    expect(client.queue[0]!.id).toBe(11);
    walkWatch.attach(undefined);
  });

  it('starts once however often it is asked (tapnet up --ui, then tapnet ui twice at once), closed with the lab', async () => {
    const cleanup: Array<() => void> = [];
    let models = 0;
    const start = uiStarter(() => (models++, model()), pino({ level: 'silent' }), cleanup);
    const [a, b] = await Promise.all([start({ host: '127.0.0.1', port: 0 }), start({ host: '127.0.0.1', port: 0 })]);
    expect(a).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(b).toBe(a);
    expect(await start({ host: '127.0.0.1', port: 0 })).toBe(a);
    expect(models).toBe(1);
    expect(cleanup).toHaveLength(1);
    expect((await fetch(a)).status).toBe(200);
    cleanup[0]!();
    await expect(fetch(a)).rejects.toThrow();
  });

  it('sends the view its own counters under their show-stats names', async () => {
    const stats = new Stats();
    server = new UiServer(model(stats), { host: '127.0.0.1', port: 0 });
    const { ws, messages } = await open(await server.listen());
    ws.send('not json');
    await until(() => messages.some((m) => m.type === 'rates'));
    expect((messages.find((m) => m.type === 'rates') as { counters: unknown }).counters).toEqual({ uiConnections: 1, uiWsMalformed: 1, uiPacketsSkipped: 0, uiHttpRefused: 0 });
    ws.close();
  });

  it('serves only files under src/', () => {
    expect(sourceFile('l4/tcp/segment-arrives.ts')).toMatch(/src\/l4\/tcp\/segment-arrives\.ts$/);
    expect(sourceFile('../package.json')).toBeUndefined();
    expect(sourceFile('/etc/passwd')).toBeUndefined();
    expect(sourceFile('l4/tcp/nonexistent.ts')).toBeUndefined();
  });
});

describe('decode with the codecs', () => {
  it("names the SYN's fields and options as RFC 9293 and RFC 7323 do, with their byte ranges", () => {
    const d = decodeFrame(SYN);
    const tcp = d.layers.find((l) => l.name === 'TCP')!;
    expect(tcp.rfc).toBe('RFC 9293 §3.1');
    const field = (name: string) => tcp.fields.find((f) => f.name === name)!;
    expect(field('Maximum Segment Size (kind 2)')).toMatchObject({ value: '1460', offset: 54, length: 4 });
    expect(field('Window Scale (kind 3)')).toMatchObject({ value: '7', offset: 71, length: 3 });
    expect(field('SACK-Permitted (kind 4)').value).toBe('yes');
    expect(field('Control Bits').value).toBe('S');
    expect(d.summary).toMatchObject({ protocols: ['ethernet', 'ipv4', 'tcp'], source: '10.1.0.10', destination: '10.2.0.10', sourcePort: 37112, destinationPort: 8080 });
  });

  it('shows the codec error for bytes it refuses, never throws', () => {
    expect(decodeFrame(SYN.subarray(0, 20)).layers.at(-1)!.error).toBeDefined();
    for (let n = 0; n < SYN.length; n++) decodeFrame(SYN.subarray(0, n));
  });
});
