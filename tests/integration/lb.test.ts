/**
 * The load balancer against the kernel and real tools: a lab of its own
 * (unique names) with an lb node, three backends running labs/lb-backend.py
 * in their namespaces (and a fourth outside the pool), and a client that
 * finds the VIP as www.lab through the lb's DNS. curl checks the three
 * forwarding modes, routing, health, run-time changes and the error answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, ROOT, inNetns, netnsExists, sh, uniqueName } from './harness.js';
import { controlRequest } from '../../src/runtime/control.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const p = uniqueName('lbt');
const client = `${p}-c`;
const web = (i: number): string => `${p}-w${i}`;
const BACKEND = join(ROOT, 'labs/lb-backend.py');

function labYaml(): string {
  const host = (i: number): string => `  ${web(i)}:
    kind: host
    interfaces: { eth0: { address: 10.30.0.1${i}/24 } }
    routes: [default via 10.30.0.1]
    run: ${PYTHON} ${BACKEND} web${i}
`;
  const pool = '{ web1: 10.30.0.11:80, web2: 10.30.0.12:80, web3: 10.30.0.13:80 }';
  return `name: ${p}
nodes:
  ${client}:
    kind: host
    interfaces: { eth0: { address: 10.20.0.10/24 } }
    routes: [default via 10.20.0.1]
    resolvers: [10.20.0.1]
${[1, 2, 3, 4].map(host).join('')}  sw:
    kind: switch
    ports: { p1: , p2: , p3: , p4: , up: }
  lb:
    kind: lb
    interfaces: { front: { address: 10.20.0.1/24 }, back: { address: 10.30.0.1/24 } }
    dns: { zone: lab, records: ["www A 10.20.0.1"] }
    lb:
      web:
        listen: 10.20.0.1:80
        mode: http
        backends: ${pool}
        health: { check: GET /health, intervalMs: 500, timeoutMs: 300, rise: 2, fall: 2 }
        timeouts: { connectMs: 1000, responseMs: 10000, headerMs: 1500 }
        routes:
          - { host: api.lab, backends: [web3] }
          - { path: /slow, backends: [web1], responseMs: 1500 }
      tcp:
        listen: 10.20.0.1:8080
        mode: proxy
        scheduler: leastconn
        backends: ${pool}
        health: { check: tcp, intervalMs: 500, timeoutMs: 300, rise: 2, fall: 2 }
      nat:
        listen: 10.20.0.1:8081
        mode: nat
        backends: ${pool}
        health: { check: tcp, intervalMs: 500, timeoutMs: 300, rise: 2, fall: 2 }
links:
  - [${client}:eth0, lb:front]
  - [${web(1)}:eth0, sw:p1]
  - [${web(2)}:eth0, sw:p2]
  - [${web(3)}:eth0, sw:p3]
  - [${web(4)}:eth0, sw:p4]
  - [sw:up, lb:back]
`;
}

/** curl from the client namespace: body (or error text), HTTP status, exit code, seconds taken. */
function curl(url: string, args: readonly string[] = []): { body: string; status: string; code: number | null; seconds: number } {
  const started = Date.now();
  const r = inNetns(client, 'curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args, url], { timeoutMs: 20_000 });
  const out = r.stdout.split('\n');
  const status = out.pop() ?? '';
  return { body: out.join('\n').trim() || r.stderr.trim(), status, code: r.status, seconds: (Date.now() - started) / 1000 };
}

const names = (url: string, n: number): string[] => Array.from({ length: n }, () => curl(url).body);

async function until(what: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return what();
}

describe('load balancer: lb node with http, proxy and nat services', () => {
  let lab: LabProcess | undefined;
  let dir = '';
  // The control socket straight (what the CLI sends): a CLI call costs a second of start-up; a few below check the CLI itself.
  const ask = async (command: string, args: string[]): Promise<unknown> => {
    const reply = await controlRequest(join(lab!.runDir, `lab-${p}.sock`), { command, args });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  };
  const show = async (): Promise<string> => (await ask('show', ['lb', '', ''])) as string;
  const rows = async () => (await ask('show', ['lb', '', 'json'])) as { name: string; mode: string; backends: { name: string; state: string; active: number }[] }[];
  const state = async (service: string, backend: string): Promise<string | undefined> => (await rows()).find((s) => s.name === service)?.backends.find((b) => b.name === backend)?.state;
  const lbctl = (...args: string[]) => lab!.cli(['lb', ...args, '--lab', lab!.file]);
  const control = (op: string, service: string, backend: string, arg = ''): Promise<unknown> => ask('lb', ['', op, service, backend, arg]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapnet-lb-'));
    const file = join(dir, 'lb.yaml');
    writeFileSync(file, labYaml());
    lab = await startLab(file, { keepNames: true });
    // The backends' python needs a moment to listen: wait until every check has passed.
    const checked = async (): Promise<boolean> => (await rows()).every((s) => s.backends.every((b) => b.state === 'UP')) && ((await show()).match(/L[47]OK/g) ?? []).length === 9;
    if (!(await until(checked, 15_000))) throw new Error(`backends not up:\n${await show()}\n${lab.output()}`);
  });
  afterAll(async () => {
    // lab down kills the run: servers and anything started in the namespaces (web2's restart below); whatever
    // is still in them (a lab down that timed out) is killed before the namespaces go.
    if (lab) {
      await lab.down();
      for (const ns of lab.hosts) if (netnsExists(ns)) for (const pid of sh('ip', ['netns', 'pids', ns]).stdout.split('\n').filter(Boolean)) sh('kill', ['-9', pid]);
      cleanupLab(lab);
    }
    rmSync(`/etc/netns/${client}`, { recursive: true, force: true }); // resolvers:, if lab down could not remove it
    rmSync(dir, { recursive: true, force: true });
  });

  it('http mode: www.lab from the lb\'s DNS, round robin over the three', () => {
    expect(inNetns(client, 'getent', ['hosts', 'www.lab']).stdout).toContain('10.20.0.1');
    expect(names('http://www.lab/', 6)).toEqual(['web1', 'web2', 'web3', 'web1', 'web2', 'web3']);
  });

  it('http mode: Host routing, X-Forwarded-For and Forwarded, the backend sees the lb', () => {
    expect(names('http://www.lab/', 1)).toHaveLength(1);
    expect(curl('http://www.lab/', ['-H', 'Host: api.lab']).body).toBe('web3');
    const headers = curl('http://www.lab/headers').body;
    expect(headers).toMatch(/^X-Forwarded-For: 10\.20\.0\.10$/im);
    expect(headers).toMatch(/^Forwarded: for=10\.20\.0\.10;host=www\.lab;proto=http$/im);
    expect(curl('http://www.lab/ip').body).toMatch(/^web\d 10\.30\.0\.1$/);
  });

  it('nat mode: DNAT per connection, the backend sees the client itself', () => {
    const seen = names('http://www.lab:8081/ip', 3);
    expect(seen.map((s) => s.split(' ')[0]).sort()).toEqual(['web1', 'web2', 'web3']);
    for (const s of seen) expect(s).toMatch(/ 10\.20\.0\.10$/);
    expect(lab!.cli(['show', 'conntrack', '--lab', lab!.file]).stdout).toContain('[DNAT LB]');
  });

  it('proxy mode with least connections: slow requests hold two backends, quick ones go to the third', async () => {
    const busy = async (): Promise<number> => (await rows()).find((s) => s.name === 'tcp')!.backends.filter((b) => b.active > 0).length;
    const slow = [1, 2].map(() => spawn('ip', ['netns', 'exec', client, 'curl', '-s', '--max-time', '10', 'http://www.lab:8080/slow?s=4'], { stdio: 'ignore' }));
    try {
      expect(await until(async () => (await busy()) === 2, 3000)).toBe(true);
      const quick = names('http://www.lab:8080/', 3);
      expect(new Set(quick).size).toBe(1);
    } finally {
      for (const c of slow) c.kill();
    }
  });

  it('a 504 when the backend is slower than the route\'s timeout', () => {
    const r = curl('http://www.lab/slow?s=3');
    expect(r.status).toBe('504');
    expect(r.body).toContain('backend web1 (10.30.0.11:80) sent no response within 1500 ms');
    expect(r.seconds).toBeLessThan(2.8);
  });

  it('bad input: malformed request → 400, headers over 16 KB → 431', () => {
    const raw = inNetns(client, PYTHON, ['-c', 'import socket; s=socket.create_connection(("10.20.0.1",80)); s.sendall(b"NOT HTTP AT ALL\\r\\n\\r\\n"); print(s.recv(4096).decode().split("\\r\\n")[0])']);
    expect(raw.stdout.trim()).toBe('HTTP/1.1 400 Bad Request');
    expect(curl('http://www.lab/', ['-H', `X-Big: ${'a'.repeat(17_000)}`]).status).toBe('431');
  });

  it('slowloris: a request whose headers never finish gets 408 after headerMs and is closed', () => {
    const script = [
      'import socket, time',
      's = socket.create_connection(("10.20.0.1", 80))',
      's.sendall(b"GET / HTTP/1.1\\r\\nHost: www.lab\\r\\nX-Slow: 1\\r\\n")',
      't = time.time(); data = b""',
      'while True:',
      '    chunk = s.recv(4096)',
      '    if not chunk: break',
      '    data += chunk',
      'print(round(time.time() - t, 1), data.decode().split("\\r\\n")[0])',
    ].join('\n');
    const r = inNetns(client, PYTHON, ['-c', script], { timeoutMs: 10_000 });
    const [seconds, ...status] = r.stdout.trim().split(' ');
    expect(status.join(' ')).toBe('HTTP/1.1 408 Request Timeout');
    expect(Number(seconds)).toBeGreaterThanOrEqual(1.4);
    expect(Number(seconds)).toBeLessThan(4);
  });

  it('a killed backend leaves within the fall count, and comes back', async () => {
    inNetns(web(2), 'fuser', ['-k', '80/tcp']);
    const down = async (): Promise<boolean> => (await state('web', 'web2')) === 'DOWN' && (await state('tcp', 'web2')) === 'DOWN' && (await state('nat', 'web2')) === 'DOWN';
    expect(await until(down, 3000)).toBe(true);
    expect(names('http://www.lab/', 4)).not.toContain('web2');
    expect(names('http://www.lab:8081/', 3)).not.toContain('web2');
    inNetns(web(2), 'sh', ['-c', `${PYTHON} ${BACKEND} web2 >/dev/null 2>&1 &`]);
    expect(await until(async () => (await state('web', 'web2')) === 'UP', 5000)).toBe(true);
  });

  it('tapnet lb add/drain/weight/remove change the pool at run time', async () => {
    expect(lbctl('add', 'web', 'web4', '10.30.0.14:80').stdout).toContain('added web4 10.30.0.14:80');
    expect(names('http://www.lab/', 8)).toContain('web4');
    expect(await control('drain', 'web', 'web1')).toContain('draining');
    expect(names('http://www.lab/', 6)).not.toContain('web1');
    expect(lab!.cli(['show', 'lb', '--lab', lab!.file]).stdout).toMatch(/web1 .* 0 +DRAIN/);
    expect(await control('weight', 'web', 'web1', '2')).toContain('web1 weight 2');
    expect(await control('remove', 'web', 'web4')).toContain('removed web4');
    expect(names('http://www.lab/', 8)).not.toContain('web4');
    const bad = lbctl('weight', 'web', 'nope', '1');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("no backend 'nope'");
  });

  it('all backends gone: 503 at once (http), a reset (proxy), refused (nat); never a hang', async () => {
    for (const service of ['web', 'tcp', 'nat']) for (const b of ['web1', 'web2', 'web3']) await control('drain', service, b);
    const http = curl('http://www.lab/');
    expect(http.status).toBe('503');
    expect(http.body).toContain('no backend of service web can take the request');
    expect(http.seconds).toBeLessThan(2);
    const proxy = curl('http://www.lab:8080/');
    // The proxy accepts, then resets: curl says "Connection reset by peer" (56), or, when the reset overtakes its
    // connect, "Couldn't connect" (7).
    expect([56, 7]).toContain(proxy.code);
    expect(proxy.seconds).toBeLessThan(2);
    const nat = curl('http://www.lab:8081/');
    expect(nat.code).toBe(7); // "Couldn't connect to server": the lb's own TCP answers the SYN with RST
    expect(nat.seconds).toBeLessThan(2);
  });

  it('connections return to zero: show lb and show tcp', async () => {
    const idle = async (): Promise<boolean> => {
      const active = await rows();
      const tcp = (await ask('show', ['tcp', 'lb', ''])) as string;
      const open = tcp.split('\n').filter((l) => /^(ESTABLISHED|SYN|CLOSE_WAIT|FIN_WAIT)/.test(l) && / 10\.20\.0\.1:(80|8080) /.test(l));
      return active.filter((s) => s.mode !== 'nat').every((s) => s.backends.every((b) => b.active === 0)) && open.length === 0;
    };
    expect(await until(idle, 8000)).toBe(true);
    expect(lab!.stats('lb').lbScheduled).toBeGreaterThan(20);
  });
});
