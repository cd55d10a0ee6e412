/**
 * The browser view (`tapnet lab up --ui`, src/runtime/ui) in a real browser:
 * Debian's chromium, headless, driven by playwright-core with an explicit
 * executable path. A two-LAN lab (labs/two-lans.yaml, with a firewall on r1
 * so that conntrack tracks the flows) carries a real ping and a real curl; the
 * page must show them, decode the SYN's options with the values the sender's
 * kernel chose, show the walk of a SYN to a closed port ending at the RST,
 * and show the conntrack entry. A second small lab has what two-lans lacks:
 * a hub and a switch (their port and MAC tables), and a router serving DHCP,
 * DNS (forwarding to a dnsmasq, so its cache fills) and iperf3 (a TCP
 * connection of its own: the cwnd/srtt chart). Skipped, naming the tool,
 * without chromium.
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
/**
 * A hub with a DHCP client and a static host, a router serving DHCP, DNS and
 * iperf3 on the hub, and behind a switch the DNS upstream (dnsmasq; its
 * own records have TTL 0 unless --local-ttl, and TTL 0 is not cached).
 */
const HUB_LAB = `name: uihub
nodes:
  hpc1:
    kind: host
    interfaces: { eth0: { dhcp: true } }
  hpc2:
    kind: host
    interfaces: { eth0: { address: 10.9.0.20/24 } }
    routes: [default via 10.9.0.1]
  hub:
    kind: hub
    ports: { p1: , p2: , p3: }
  gw:
    kind: router
    interfaces:
      eth0: { address: 10.9.0.1/24, dhcp: true }
      eth1: { address: 10.8.0.1/24 }
    dns: { zone: home, upstreams: [10.8.0.10] }
    iperf3: true
  sw:
    kind: switch
    ports: { p1: , p2: }
  ups:
    kind: host
    interfaces: { eth0: { address: 10.8.0.10/24 } }
    routes: [default via 10.8.0.1]
    run: dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces --listen-address=10.8.0.10 --pid-file= --local-ttl=300 --address=/www.example.test/10.8.0.99
links:
  - [hpc1:eth0, hub:p1]
  - [hpc2:eth0, hub:p2]
  - [gw:eth0, hub:p3]
  - [gw:eth1, sw:p1]
  - [ups:eth0, sw:p2]
`;

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
  let hubLab: LabProcess | undefined;
  let url = '';
  let hubUrl = '';
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
    const hubFile = join(dir, 'uihub.yaml');
    writeFileSync(hubFile, HUB_LAB);
    const [started, hubStarted] = await Promise.allSettled([startLab(file, { args: ['--ui', '127.0.0.1:0'] }), startLab(hubFile, { args: ['--ui', '127.0.0.1:0'] })]);
    if (started.status === 'fulfilled') lab = started.value;
    if (hubStarted.status === 'fulfilled') hubLab = hubStarted.value;
    if (!lab || !hubLab) throw (started.status === 'rejected' ? started.reason : (hubStarted as PromiseRejectedResult).reason) as Error;
    const uiAddress = (l: LabProcess): string => {
      const m = /browser view on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(l.output());
      if (!m) throw new Error(`no UI address in the lab output:\n${l.output()}`);
      return m[1]!;
    };
    url = uiAddress(lab);
    hubUrl = uiAddress(hubLab);
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
    for (const l of [lab, hubLab]) {
      if (!l) continue;
      await l.down();
      cleanupLab(l);
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
    // pcap-filter's protocol-qualified host and net: the forwarded HTTP request's packets, none of the pings.
    await page.fill('#filter', 'ip host 10.2.0.10 and tcp dst portrange 8000-8099 and src net 10.1.0.0/24');
    await page.press('#filter', 'Enter');
    await page.waitForFunction(() => document.getElementById('filter-error')?.textContent === '');
    spawnSync('ip', ['netns', 'exec', lab!.ns('lan1-pc'), 'ping', '-c', '1', '10.2.0.10'], { timeout: 5000 });
    spawnSync('ip', ['netns', 'exec', lab!.ns('lan1-pc'), 'curl', '-s', '-o', '/dev/null', 'http://10.2.0.10:8080/'], { timeout: 5000 });
    await waitRow((c) => c[6] === 'TCP' && c[8]!.includes('→ 8080 [S]'));
    await page.waitForTimeout(500);
    expect((await rows()).every((r) => r.cells[4] === '10.1.0.10' && /→ 8080|^GET/.test(r.cells[8]!))).toBe(true);
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
    // The view's own counters, under their names: in the page's header, and in the lab's `show stats` (after r1's).
    await page.waitForFunction(() => /^uiWsMalformed [3-9]$/.test(document.querySelector('#counters [data-counter="uiWsMalformed"]')?.textContent ?? ''));
    expect(await page.$eval('#counters [data-counter="uiConnections"]', (e) => e.textContent)).toMatch(/^uiConnections [1-9]/);
    const text = lab!.cli(['show', 'stats', '--lab', lab!.file]).stdout;
    expect(text).toMatch(/^uiWsMalformed +[3-9]$/m);
    expect(text).toMatch(/^IpForwDatagrams +[1-9]/m);
  });

  it('`tapnet ui --lab FILE` names the view the lab already serves', () => {
    const r = lab!.cli(['ui', '--lab', lab!.file, '--listen', '127.0.0.1:0']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(url);
  });
  describe('a lab with a hub, a switch, and a router serving DHCP, DNS and iperf3', () => {
    let hubPage: import('playwright-core').Page;
    const tableText = (name: string): Promise<string> => hubPage.$eval(`#tables [data-table="${name}"]`, (e) => e.textContent ?? '');
    const rowCount = (name: string): Promise<number> => hubPage.$$eval(`#tables [data-table="${name}"] tr`, (trs) => trs.length - 1);

    beforeAll(async () => {
      hubPage = await context!.newPage();
      await hubPage.goto(hubUrl);
      await hubPage.waitForSelector('#topology g.node');
      await hubPage.waitForFunction(() => document.getElementById('status')?.textContent === 'live');
    });

    it("shows the hub's ports and the switch's MAC table", async () => {
      const run = (ns: string, args: string[]): string => spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 10_000 }).stdout;
      expect(run(hubLab!.ns('hpc2'), ['ping', '-c', '2', '-i', '0.2', '10.8.0.10'])).toContain('2 received');
      await hubPage.click(`#topology g.node[data-node="${hubLab!.node('hub')}"]`);
      await hubPage.waitForSelector('#tables [data-table="ports"] table');
      expect(await rowCount('ports')).toBe(3);
      expect(await tableText('ports')).toContain('rxFrames');
      expect(await hubPage.$('#tables [data-table="error"]')).toBeNull();
      await hubPage.click(`#topology g.node[data-node="${hubLab!.node('sw')}"]`);
      await hubPage.waitForSelector('#tables [data-table="mac"] table');
      expect(await rowCount('mac')).toBeGreaterThanOrEqual(2);
      expect(await rowCount('ports')).toBe(2);
    });

    it("shows the router's DHCP leases, DNS cache, and TCP connection with its cwnd/srtt chart", async () => {
      const ns = hubLab!.ns('hpc2');
      expect(spawnSync('ip', ['netns', 'exec', ns, 'dig', '+short', '+time=2', '@10.9.0.1', 'www.example.test'], { encoding: 'utf8', timeout: 10_000 }).stdout.trim()).toBe('10.8.0.99');
      // gw sends (iperf3 -R): its own connection, whose cwnd grows.
      const iperf = spawn('ip', ['netns', 'exec', ns, 'iperf3', '-c', '10.9.0.1', '-R', '-t', '4', '-b', '20M'], { stdio: 'ignore' });
      const done = new Promise((r) => iperf.on('exit', r));
      await hubPage.click(`#topology g.node[data-node="${hubLab!.node('gw')}"]`);
      // Each link drawn with its rate, and the ones iperf3 runs over busy (rates come once a second).
      expect(await hubPage.$$eval('#topology [data-rate]', (ts) => ts.length)).toBe(5);
      await hubPage.waitForFunction(() => [...document.querySelectorAll('#topology [data-rate]')].filter((t) => /^[1-9][\d.]*k? pkt\/s/.test(t.textContent ?? '')).length >= 2, undefined, { timeout: 10_000 });
      await hubPage.waitForSelector('#tables [data-table="dhcp leases"] table');
      expect(await tableText('dhcp leases')).toContain('10.9.0.100');
      await hubPage.waitForSelector('#tables [data-table="dns cache"] table');
      const cache = await tableText('dns cache');
      expect(cache).toContain('www.example.test');
      expect(cache).toContain('A 10.8.0.99');
      await hubPage.waitForFunction(() => /ESTABLISHED.*10\.9\.0\.1:5201/s.test(document.querySelector('#tables [data-table="tcp connections"]')?.textContent ?? ''), undefined, { timeout: 10_000 });
      // Two lines a connection (cwnd, srtt), with a point each second it has been watched.
      await hubPage.waitForFunction(() => [...document.querySelectorAll('#tables svg[data-table="tcp chart"] polyline')].some((p) => p.getAttribute('points')!.split(' ').length >= 3), undefined, { timeout: 10_000 });
      await done;
    });
  });
});
