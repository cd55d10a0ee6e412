/**
 * tapnet's decision process against BIRD 2's on the same inputs, a 100 000
 * prefix flood with max-prefix, and 4-octet ASes through a 2-octet speaker.
 * Lab: tests/integration/fixtures/bgp-compare.yaml (one switched LAN).
 *
 * 1. Four BIRD announcers (a1, a2 in AS 65010, a3 in AS 65020 over eBGP, a4
 *    in AS 65001 over iBGP) each peer with tapnet (AS 65001) and with a BIRD
 *    reference (bc-b, AS 65001) and send both the same candidates for ten
 *    prefixes, each built so that one rule of RFC 4271 §9.1.2.2 decides and
 *    the next rule would choose differently (router IDs are ordered against
 *    the addresses so "router id" and "peer address" disagree). The best
 *    path per prefix in tapnet (`show bgp --json`) and in BIRD (`birdc show
 *    route primary`) must be the same announcer. BIRD runs with
 *    `deterministic med on`: its default compares routes pairwise, which with
 *    MED (only between routes from the same neighbour AS) is not transitive
 *    and depends on arrival order; the RFC's elimination (§9.1.2.2 c: remove
 *    every route with a worse MED from the same AS, then go on) is what
 *    BIRD's option does (BIRD's manual, "deterministic med").
 * 2. bc-f and bc-g announce 100 000 /26s each (a generated static
 *    protocol): bc-f (.21, max-prefix 150 000) is accepted whole, timed;
 *    bc-g (.22, max-prefix 50 000) gets Cease / Maximum Number of Prefixes Reached,
 *    one log line, the counter, and stays down while the other sessions and
 *    forwarding go on; the lab process's memory is read before and after.
 * 3. bc-o runs `enable as4 off`: tapnet sends it AS_TRANS + AS4_PATH for
 *    bc-n's 4-octet AS, and merges bc-o's AS_PATH + AS4_PATH back (RFC 6793).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inNetns, sh, waitFor } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Announcer {
  name: string;
  address: string;
  as: number;
  id: string;
  /** prefix (third octet of 10.80.N.0/24) → BIRD filter statements for it. */
  routes: Record<number, string>;
}

/**
 * The candidates. Per prefix: who announces it with what, which rule of
 * §9.1.2.2 decides, and what the next rule would have picked instead.
 *   1  local-pref    a4 iBGP LOCAL_PREF 200 with a path of 3 beats a1 (65010)
 *   2  local-pref    a1 beats a4's LOCAL_PREF 50
 *   3  as-path       a1 (65010) beats a3 (65020 65020); router id would pick a3
 *   4  origin        a1 IGP beats a3 INCOMPLETE; router id would pick a3
 *   5  MED           a1 MED 10 beats a2 MED 50 (both AS 65010); router id would pick a2
 *   6  MED ignored   a1 MED 0 vs a3 MED 100: different neighbour ASes, MED not compared: router id → a3
 *   7  eBGP/iBGP     a1 (eBGP) beats a4 (iBGP, path 65030); router id would pick a4
 *   8  router id     a1, a2, a3 equal: a2 has the lowest router id; peer address would pick a1
 *   9  MED trap      a2 (65010 MED 20), a3 (65020), a1 (65010 MED 10): MED removes a2, router id → a3;
 *                    a pairwise order-dependent compare can end on a1
 *  10  missing MED   a1 without MED (= 0, RFC 4271 §9.1.2.2 c) beats a2 MED 5
 */
const ANNOUNCERS: Announcer[] = [
  {
    name: 'a1',
    address: '10.62.0.11',
    as: 65010,
    id: '10.9.9.30',
    routes: { 1: '', 2: '', 3: '', 4: '', 5: 'bgp_med = 10;', 6: 'bgp_med = 0;', 7: '', 8: '', 9: 'bgp_med = 10;', 10: '' },
  },
  { name: 'a2', address: '10.62.0.12', as: 65010, id: '10.9.9.10', routes: { 5: 'bgp_med = 50;', 8: '', 9: 'bgp_med = 20;', 10: 'bgp_med = 5;' } },
  {
    name: 'a3',
    address: '10.62.0.13',
    as: 65020,
    id: '10.9.9.20',
    routes: { 3: 'bgp_path.prepend(65020);', 4: 'bgp_origin = ORIGIN_INCOMPLETE;', 6: 'bgp_med = 100;', 8: '', 9: '' },
  },
  {
    name: 'a4',
    address: '10.62.0.14',
    as: 65001,
    id: '10.9.9.5',
    routes: {
      1: 'bgp_local_pref = 200; bgp_path.prepend(65030); bgp_path.prepend(65030); bgp_path.prepend(65030);',
      2: 'bgp_local_pref = 50; bgp_path.prepend(65030);',
      7: 'bgp_local_pref = 100; bgp_path.prepend(65030);',
    },
  },
];
const EXPECTED: Record<number, [string, string]> = {
  1: ['a4', 'local-pref'],
  2: ['a1', 'local-pref'],
  3: ['a1', 'as-path length'],
  4: ['a1', 'origin'],
  5: ['a1', 'MED'],
  6: ['a3', 'router id'],
  7: ['a1', 'eBGP over iBGP'],
  8: ['a2', 'router id'],
  9: ['a3', 'router id'],
  10: ['a1', 'MED'],
};

const BASE = `log stderr all;\nprotocol device { scan time 1; }\n`;

function announcerConfig(a: Announcer): string {
  const nets = Object.keys(a.routes).map(Number);
  const cases = nets.map((n) => `  if net = 10.80.${n}.0/24 then { ${a.routes[n]} }`).join('\n');
  const session = (name: string, peer: string) => `protocol bgp ${name} {
  local ${a.address} as ${a.as};
  neighbor ${peer} as 65001;
  connect delay time 1; connect retry time 1;
  ipv4 { import none; export filter export_out; };
}`;
  return `router id ${a.id};
${BASE}protocol static { ipv4; ${nets.map((n) => `route 10.80.${n}.0/24 blackhole;`).join(' ')} }
filter export_out {
  if source != RTS_STATIC then reject;
  bgp_origin = ORIGIN_IGP;
${cases}
  accept;
}
${session('to_t', '10.62.0.1')}
${session('to_b', '10.62.0.2')}
`;
}

/** The reference: the same AS and peers as tapnet, RFC 4271 MED handling (deterministic med). */
function referenceConfig(): string {
  const sessions = ANNOUNCERS.map(
    (a) => `protocol bgp ${a.name} {
  local 10.62.0.2 as 65001;
  neighbor ${a.address} as ${a.as};
  passive on;
  deterministic med on;
  ${a.as === 65001 ? 'direct; # iBGP on the LAN: next hop resolved directly, like the eBGP ones' : ''}
  ipv4 { import all; export none; };
}`,
  );
  return `router id 10.62.0.2;\n${BASE}${sessions.join('\n')}\n`;
}

const FLOOD = 100_000;
/** 100 000 /26s in 10.128.0.0/9 (private space, only ever in tapnet's and BIRD's tables). */
function floodConfig(local: string, name: string): string {
  const routes: string[] = [];
  for (let i = 0; i < FLOOD; i++) {
    const a = 0x0a800000 + i * 64;
    routes.push(`route ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/26 blackhole;`);
  }
  return `router id ${local};
${BASE}protocol static { ipv4;\n${routes.join('\n')}\n}
protocol bgp ${name} {
  local ${local} as 65040;
  neighbor 10.62.0.1 as 65001;
  connect delay time 1; connect retry time 1;
  ipv4 { import none; export where source = RTS_STATIC; };
}
`;
}

const OLD_CONFIG = `router id 10.62.0.31;
${BASE}protocol static { ipv4; route 10.91.0.0/24 blackhole; }
protocol bgp t {
  local 10.62.0.31 as 65050;
  neighbor 10.62.0.1 as 65001;
  enable as4 off;
  connect delay time 1; connect retry time 1;
  ipv4 { import all; export filter { if source != RTS_STATIC then reject; bgp_path.prepend(4200000099); accept; }; };
}
`;
const NEW_CONFIG = `router id 10.62.0.32;
${BASE}protocol static { ipv4; route 10.90.0.0/24 blackhole; }
protocol bgp t {
  local 10.62.0.32 as 4200000060;
  neighbor 10.62.0.1 as 65001;
  connect delay time 1; connect retry time 1;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`;

describe('BGP: tapnet and BIRD choose the same best paths; 100 000 prefixes and max-prefix; AS4_PATH through a 2-octet speaker', () => {
  let lab: LabProcess | undefined;
  const birds: ChildProcess[] = [];
  const r = (): LabProcess => lab!;
  const sock = (b: string) => join(r().runDir, `${b}.ctl`);
  const birdc = (b: string, ...args: string[]) => sh('birdc', ['-s', sock(b), ...args]).stdout;
  type Json = {
    neighbors: { address: string; state: string; prefixesReceived: number; lastError: string | null }[];
    routes: { prefix: string; best: boolean; peer: string | null; reason: string | null; asPath: string }[];
  };
  const showJson = () => JSON.parse(r().cli(['show', 'bgp', '--json', '--lab', r().file, '--node', r().node('bc-t')], 60_000).stdout) as Json;
  const stats = () => r().stats(r().node('bc-t'));
  const until = (what: string, check: () => boolean, ms = 20_000, every = 250) => waitFor(what, check, ms, () => lab?.output().slice(-3000) ?? '', every);
  const birdLog = (name: string) => readFileSync(join(r().runDir, `${name}.log`), 'utf8').slice(-3000);
  const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${r().child.pid}/status`, 'utf8'))?.[1] ?? 0);
  const startBird = (name: string, node: string, config: string) => {
    const file = join(r().runDir, `${name}.conf`);
    writeFileSync(file, config);
    const log = openSync(join(r().runDir, `${name}.log`), 'w');
    const child = spawn('ip', ['netns', 'exec', r().ns(node), 'bird', '-f', '-c', file, '-s', sock(name), '-P', join(r().runDir, `${name}.pid`)], { stdio: ['ignore', 'ignore', log] });
    child.on('exit', (code) => code && console.error(`bird ${name} exited ${code}: ${birdLog(name)}`));
    birds.push(child);
  };

  beforeAll(async () => {
    lab = await startLab('tests/integration/fixtures/bgp-compare.yaml');
    startBird('b', 'bc-b', referenceConfig());
    for (const a of ANNOUNCERS) startBird(a.name, `bc-${a.name}`, announcerConfig(a));
    startBird('o', 'bc-o', OLD_CONFIG);
    startBird('n', 'bc-n', NEW_CONFIG);
  }, 60_000);

  afterAll(async () => {
    for (const b of birds) if (b.exitCode === null) b.kill('SIGTERM');
    await sleep(200);
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
  });

  it('the best path per prefix: tapnet and BIRD (deterministic med) pick the same announcer, by the same rule', async () => {
    const complete = () => {
      const j = showJson();
      return j.routes.filter((x) => x.prefix.startsWith('10.80.')).length === 22; // every candidate of every prefix
    };
    const birdPrimary = () => new Map([...birdc('b', 'show', 'route', 'primary').matchAll(/^(10\.80\.\d+\.0\/24)\s+unicast \[(\w+) /gm)].map((m) => [m[1]!, m[2]!]));
    await until('all 22 candidates in tapnet', complete, 30_000);
    await until('all 10 prefixes in BIRD', () => birdPrimary().size === 10, 20_000);
    const byAddress = new Map(ANNOUNCERS.map((a) => [a.address, a.name]));
    const tapnet = new Map(showJson().routes.filter((x) => x.best && x.prefix.startsWith('10.80.')).map((x) => [x.prefix, [byAddress.get(x.peer!)!, x.reason!] as const]));
    const bird = birdPrimary();
    const rows = Object.entries(EXPECTED).map(([n, [who, rule]]) => {
      const prefix = `10.80.${n}.0/24`;
      return { prefix, tapnet: tapnet.get(prefix)?.[0], rule: tapnet.get(prefix)?.[1], bird: bird.get(prefix), expected: who, expectedRule: rule };
    });
    console.log(rows.map((x) => `${x.prefix.padEnd(15)} tapnet ${x.tapnet} (${x.rule})  BIRD ${x.bird}`).join('\n'));
    for (const row of rows) {
      expect(row.tapnet, row.prefix).toBe(row.bird);
      expect([row.tapnet, row.rule], row.prefix).toEqual([row.expected, row.expectedRule]);
    }
  }, 60_000);

  it('AS4: tapnet sends the 2-octet peer AS_TRANS + AS4_PATH and merges what it sends back (RFC 6793)', async () => {
    // bc-o (enable as4 off) learns bc-n's route through tapnet: AS_PATH 65001 23456 + AS4_PATH 65001 4200000060, merged by BIRD.
    await until('bc-o has 10.90.0.0/24', () => /BGP\.as_path: 65001 4200000060/.test(birdc('o', 'show', 'route', '10.90.0.0/24', 'all')));
    expect(birdc("o", "show", "protocols", "all", "t")).not.toMatch(/Session:.*AS4/); // the session really is 2-octet
    // bc-o's route: AS_PATH 65050 23456 + AS4_PATH 65050 4200000099 → tapnet's table has the real path.
    await until('tapnet merged bc-o path', () => showJson().routes.some((x) => x.prefix === '10.91.0.0/24' && x.asPath === '65050 4200000099'));
    // and passes it to the 4-octet peer bc-n as a plain 4-octet AS_PATH.
    await until('bc-n has 10.91.0.0/24', () => /BGP\.as_path: 65001 65050 4200000099/.test(birdc('n', 'show', 'route', '10.91.0.0/24', 'all')));
  }, 30_000);

  it('100 000 prefixes under the limit are accepted (timed); over it: Cease / Maximum Number of Prefixes Reached, the rest keeps going', async () => {
    const rssBefore = rssKb();
    const accepted0 = stats().bgpInPrefixesAccepted ?? 0;
    startBird('f', 'bc-f', floodConfig('10.62.0.21', 'f_ok'));
    await until('f_ok Established', () => /Established/.test(birdc('f', 'show', 'protocols', 'f_ok')), 20_000, 100);
    const t0 = Date.now();
    await until('100 000 prefixes accepted', () => (stats().bgpInPrefixesAccepted ?? 0) - accepted0 >= FLOOD, 60_000, 200);
    const seconds = (Date.now() - t0) / 1000;
    const rssAfter = rssKb();
    console.log(`100 000 prefixes: accepted in ${seconds.toFixed(1)} s after Established; lab process RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MB`);
    // Over the limit: the second session is closed at 50 001 prefixes.
    const exceeded0 = stats().bgpMaxPrefixExceeded ?? 0;
    startBird('g', 'bc-g', floodConfig('10.62.0.22', 'f_big'));
    await until('max-prefix hit', () => (stats().bgpMaxPrefixExceeded ?? 0) > exceeded0, 30_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}\n${birdc('g', 'show', 'protocols', 'all', 'f_big')}\n${birdLog('g')}`);
    });
    await until('BIRD saw the Cease', () => /Maximum number of prefixes reached/i.test(birdLog('g')), 10_000);
    // The counter came back over the control socket while the line the lab wrote before it may still sit in our
    // end of its stderr pipe (spawnSync blocks this event loop): wait for it, then count.
    await until('the max-prefix log line', () => r().output().includes('more than max-prefix'), 10_000);
    const logged = r().output().split('\n').filter((l) => l.includes('more than max-prefix'));
    expect(logged).toHaveLength(1); // one line
    expect(logged[0]).toMatch(/bgp 10\.62\.0\.22 \(AS 65040\): more than max-prefix 50000 prefixes \(ipv4\): sent NOTIFICATION Cease \/ Maximum Number of Prefixes Reached, the session stays down until restarted/);
    const rssFlood = rssKb();
    console.log(`after the max-prefix flood: RSS ${Math.round(rssFlood / 1024)} MB`);
    // While tapnet holds 100 000 routes (show bgp would print megabytes), the peers' side: f_ok and the announcers stay up.
    expect(birdc('f', 'show', 'protocols', 'f_ok')).toMatch(/Established/);
    for (const a of ANNOUNCERS) expect(birdc(a.name, 'show', 'protocols', 'to_t')).toMatch(/Established/);
    expect(inNetns(r().ns('bc-a1'), 'ping', ['-c', '1', '-W', '2', '10.62.0.1']).stdout).toMatch(/1 received/);
    // bc-f withdraws its 100 000 (timed); then tapnet's own view.
    const t1 = Date.now();
    birdc('f', 'disable', 'f_ok');
    const view = () => {
      try {
        return showJson();
      } catch {
        return undefined; // still too big to print
      }
    };
    await until('the 100 000 withdrawn', () => view()?.neighbors.find((x) => x.address === '10.62.0.21')?.prefixesReceived === 0, 60_000, 500);
    console.log(`100 000 prefixes withdrawn (session closed by BIRD) in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    const j = showJson();
    const n = (a: string) => j.neighbors.find((x) => x.address === a)!;
    expect(n('10.62.0.22').state).toBe('Idle');
    expect(n('10.62.0.22').prefixesReceived).toBe(0); // its Adj-RIB-In went with the session
    expect(n('10.62.0.22').lastError).toMatch(/max-prefix 50000 exceeded/);
    for (const a of ANNOUNCERS) expect(n(a.address).state).toBe('Established');
    expect(j.routes.filter((x) => x.best && x.prefix.startsWith('10.80.')).length).toBe(10);
    expect(j.routes.some((x) => x.prefix.startsWith('10.128.'))).toBe(false);
    // It stays down: bc-g's BIRD retries, tapnet refuses (no maxPrefixRestart in the lab file).
    await sleep(3000);
    expect(showJson().neighbors.find((x) => x.address === '10.62.0.22')!.state).toBe('Idle');
    expect(stats().bgpMaxPrefixExceeded).toBe(exceeded0 + 1);
    // and tapnet still forwards along what BGP installed.
    const routes = r().cli(['show', 'routes', '--lab', r().file, '--node', r().node('bc-t')]).stdout;
    expect(routes).toMatch(/10\.80\.8\.0\/24 via 10\.62\.0\.12 dev eth0 metric 20/);
  }, 120_000);
});
