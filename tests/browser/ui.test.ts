/**
 * The browser view (`tapnet lab up --ui`, src/runtime/ui) in a real browser:
 * Debian's chromium, headless, driven by playwright-core with an explicit
 * executable path. A two-LAN lab (labs/two-lans.yaml, with a firewall on r1
 * so that conntrack tracks the flows) carries a real ping and a real curl; the
 * page must show them, decode the SYN's options with the values the sender's
 * kernel chose, show the walk of a SYN to a closed port ending at the RST,
 * and show the conntrack entry. Skipped, naming the tool, without chromium.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ROOT } from '../integration/harness.js';
import { cleanupLab, startLab, type LabProcess } from '../integration/lab-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Linux tcp_select_initial_window: the window scale a SYN offers for the netns's largest receive buffer. */
function kernelWindowScale(ns: string): number {
  const read = (name: string): number[] => spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', name], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
  let space = Math.max(read('net.ipv4.tcp_rmem')[2]!, read('net.core.rmem_max')[0]!);
  let scale = 0;
  while (space > 65535 && scale < 14) {
    space >>= 1;
    scale++;
  }
  return scale;
}

describe.skipIf(!haveChromium)(`browser view (needs ${CHROMIUM}: apt-get install chromium)`, () => {
  let lab: LabProcess | undefined;
  let url = '';
  let server: ChildProcess | undefined;
  let context: import('playwright-core').BrowserContext | undefined;
  let page: import('playwright-core').Page;
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-ui-'));

  beforeAll(async () => {
    // two-lans.yaml with a firewall on r1 (accept all): conntrack then tracks every forwarded flow.
    const doc = parseDocument(readFileSync(join(ROOT, 'labs/two-lans.yaml'), 'utf8'));
    doc.setIn(['nodes', 'r1', 'firewall'], doc.createNode({ rules: ['forward accept'] }));
    const file = join(dir, 'two-lans.yaml');
    writeFileSync(file, doc.toString());
    lab = await startLab(file, { args: ['--ui', '127.0.0.1:0'] });
    const m = /browser view on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(lab.output());
    if (!m) throw new Error(`no UI address in the lab output:\n${lab.output()}`);
    url = m[1]!;
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    await page.waitForSelector('#topology g.node');
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live');
    // A web server on lan2-pc, then the traffic: ping, curl, and a connection to a port nobody listens on.
    server = spawn('ip', ['netns', 'exec', lab.ns('lan2-pc'), 'python3', '-m', 'http.server', '8080', '--bind', '10.2.0.10'], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      if (spawnSync('ip', ['netns', 'exec', lab.ns('lan2-pc'), 'ss', '-ltn', 'sport = :8080'], { encoding: 'utf8' }).stdout.includes('8080')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = (ns: string, args: string[]): string => spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 10_000 }).stdout;
    expect(run(lab.ns('lan1-pc'), ['ping', '-c', '2', '-i', '0.2', '10.2.0.10'])).toContain('2 received');
    expect(run(lab.ns('lan1-pc'), ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://10.2.0.10:8080/'])).toBe('200');
    run(lab.ns('lan1-pc'), ['curl', '-s', '--max-time', '3', 'http://10.1.0.1:81/']);
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGKILL');
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** The packet-list rows as the page shows them. */
  const rows = (): Promise<{ id: string; cells: string[] }[]> =>
    page.$$eval('#packets tbody tr', (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-id')!, cells: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '') })));
  const waitRow = async (match: (cells: string[]) => boolean): Promise<string> => {
    for (let i = 0; i < 50; i++) {
      const row = (await rows()).find((r) => match(r.cells));
      if (row) return row.id;
      await page.waitForTimeout(100);
    }
    throw new Error(`no such row; rows:\n${(await rows()).map((r) => r.cells.join(' | ')).join('\n')}`);
  };
  const fieldValue = (name: string): Promise<string> => page.$eval(`#detail .field[data-field="${name}"]`, (e) => e.textContent ?? '');

  it('lists the ICMP echo and the TCP handshake', async () => {
    await waitRow((c) => c[6] === 'ICMP' && c[8]!.startsWith('echo request') && c[4] === '10.1.0.10');
    await waitRow((c) => c[6] === 'ICMP' && c[8]!.startsWith('echo reply') && c[4] === '10.2.0.10');
    await waitRow((c) => c[6] === 'TCP' && c[8]!.includes('→ 8080 [S]'));
    await waitRow((c) => c[6] === 'TCP' && c[8]!.includes('8080 →') && c[8]!.includes('[S.]'));
    await waitRow((c) => c[6] === 'HTTP' && c[8]!.startsWith('GET / HTTP/1.1'));
  });

  it("decodes the SYN's options with the values the client's kernel sent", async () => {
    const id = await waitRow((c) => c[6] === 'TCP' && c[8]!.includes('→ 8080 [S]'));
    await page.click(`#packets tr[data-id="${id}"]`);
    await page.waitForSelector('#detail details[data-layer="TCP"]');
    expect(await fieldValue('Maximum Segment Size (kind 2)')).toBe('Maximum Segment Size (kind 2): 1460');
    expect(await fieldValue('SACK-Permitted (kind 4)')).toContain('yes');
    expect(await fieldValue('Window Scale (kind 3)')).toBe(`Window Scale (kind 3): ${kernelWindowScale(lab!.ns('lan1-pc'))}`);
    // Clicking a field highlights its bytes: the MSS option is 4 bytes (02 04 05 b4).
    await page.click('#detail .field[data-field="Maximum Segment Size (kind 2)"]');
    expect(await page.$$eval('#hex span.hl', (s) => s.map((x) => x.textContent).join(' '))).toBe('02 04 05 b4');
    // The forwarded SYN's walk goes through conntrack, the firewall and the route lookup, then out on eth1.
    const walk = await page.$$eval('#walk li', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(walk.some((s) => s.includes('conntrack'))).toBe(true);
    expect(walk.some((s) => s.includes('RFC 1812 §5.2.4.3: longest match for 10.2.0.10'))).toBe(true);
    expect(walk.some((s) => /sent on .*r1:eth1/.test(s))).toBe(true);
  });

  it('walks a SYN to a closed port to "RST sent, no listener", each step opening its source', async () => {
    const id = await waitRow((c) => c[6] === 'TCP' && c[5] === '10.1.0.1' && c[8]!.includes('→ 81 [S]'));
    await page.click(`#packets tr[data-id="${id}"]`);
    await page.waitForFunction(() => [...document.querySelectorAll('#walk li')].some((li) => li.textContent?.includes('RST sent')));
    const steps = await page.$$eval('#walk li', (lis) => lis.map((li) => ({ kind: li.getAttribute('data-kind'), text: li.textContent ?? '' })));
    expect(steps.at(-1)!.text).toContain('RST sent, no listener');
    expect(steps.at(-1)!.text).toContain('l4/tcp/segment-arrives.ts');
    expect(steps.some((s) => s.kind === 'drop' && s.text.includes('tcpInNoSocket'))).toBe(true);
    expect(steps.some((s) => s.kind === 'tx')).toBe(true);
    await page.click('#walk li:last-child');
    await page.waitForFunction(() => document.getElementById('source-title')?.textContent?.startsWith('src/l4/tcp/segment-arrives.ts'));
    expect(await page.$eval('#source .hl', (e) => e.textContent ?? '')).toContain('RST sent, no listener');
    // The source pane serves src/ only.
    const outside = await page.evaluate(async () => (await fetch('/src/../package.json')).status);
    expect(outside).toBe(404);
  });

  it('filters with pcap-filter words', async () => {
    await page.fill('#filter', 'icmp and host 10.2.0.10');
    await page.press('#filter', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#packets tbody tr').length === 0);
    spawnSync('ip', ['netns', 'exec', lab!.ns('lan1-pc'), 'ping', '-c', '1', '10.2.0.10'], { timeout: 5000 });
    spawnSync('ip', ['netns', 'exec', lab!.ns('lan1-pc'), 'curl', '-s', '-o', '/dev/null', 'http://10.2.0.10:8080/'], { timeout: 5000 });
    await waitRow((c) => c[6] === 'ICMP');
    await page.waitForTimeout(500);
    expect((await rows()).every((r) => r.cells[6] === 'ICMP')).toBe(true);
    await page.fill('#filter', 'tcp port');
    await page.press('#filter', 'Enter');
    await page.waitForFunction(() => document.getElementById('filter-error')?.textContent?.includes('expected a port'));
  });

  afterEach(async () => {
    // Each test starts from the unfiltered list, whatever the one before left.
    await page.fill('#filter', '');
    await page.press('#filter', 'Enter');
  });

  it("shows r1's conntrack entry and TCP table live", async () => {
    await page.click(`#topology g.node[data-node="${lab!.node('r1')}"]`);
    await page.waitForSelector('#tables [data-table="conntrack"] table');
    const text = await page.$eval('#tables [data-table="conntrack"]', (e) => e.textContent ?? '');
    expect(text).toContain('10.2.0.10');
    expect(text).toContain('8080');
    expect(await page.$('#tables [data-table="tcp connections"]')).not.toBeNull();
    // The picture in the README: r1's packets, a SYN with its layers and walk, r1's tables.
    spawnSync('ip', ['netns', 'exec', lab!.ns('lan1-pc'), 'curl', '-s', '-o', '/dev/null', 'http://10.2.0.10:8080/'], { timeout: 5000 });
    const id = await waitRow((c) => c[6] === 'TCP' && c[8]!.includes('→ 8080 [S]'));
    await page.click(`#packets tr[data-id="${id}"]`);
    await page.waitForSelector('#detail details[data-layer="TCP"]');
    await page.click('#detail .field[data-field="Maximum Segment Size (kind 2)"]');
    // Into the run's own directory; TAPNET_UPDATE_SCREENSHOT=1 refreshes the README's picture (docs/ui.png).
    const shot = process.env.TAPNET_UPDATE_SCREENSHOT === '1' ? join(ROOT, 'docs/ui.png') : join(dir, 'ui.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
  });

  it('ignores malformed WebSocket messages and counts them', async () => {
    await page.evaluate((u) => {
      const ws = new WebSocket(u.replace('http', 'ws') + 'ws');
      ws.onopen = () => {
        ws.send('not json');
        ws.send(JSON.stringify({ type: 'shutdown' }));
        ws.send(JSON.stringify({ type: 'select', id: 'x' }));
      };
    }, url);
    await page.waitForFunction(() => /[3-9] malformed/.test(document.getElementById('malformed')?.textContent ?? ''));
    // The lab still runs.
    expect(lab!.cli(['lab', 'status', lab!.file]).status).toBe(0);
  });

  it('`tapnet ui --lab FILE` names the view the lab already serves', () => {
    const r = lab!.cli(['ui', '--lab', lab!.file, '--listen', '127.0.0.1:0']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(url);
  });
});
