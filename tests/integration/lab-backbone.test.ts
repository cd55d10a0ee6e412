/**
 * labs/backbone.yaml, the commands of its labs/README.md section: two Tier-1
 * networks and a content network at an exchange point, two regional ISPs, a
 * multihomed customer. Traceroute follows the AS path BGP chose (through
 * Tier-1 A's two routers, never its route reflector); local-pref makes ISP A
 * primary; `tapnet bgp refresh|reset` on a session; `tapnet link down` on the
 * primary link moves the customer to ISP B after the 9 s hold timer, and
 * `link up` brings it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { controlRequest } from '../../src/runtime/control.js';
import { inNetns, waitFor } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';


interface BgpJson {
  neighbors: { address: string; state: string; lastError: string | null; establishedTransitions: number }[];
  routes: { prefix: string; best: boolean; nextHop: string | null; peer: string | null; asPath: string; reason: string | null }[];
}

describe('labs/backbone.yaml: Tier-1s at an exchange, regional ISPs, a multihomed customer', () => {
  let lab: LabProcess | undefined;
  const r = (): LabProcess => lab!;
  const tapnet = (...args: string[]) => r().cli([...args.map((a) => (a === 'FILE' ? r().file : a))]);
  const showBgp = (node: string): string => tapnet('show', 'bgp', '--lab', 'FILE', '--node', r().node(node)).stdout;
  // Polling goes straight to the lab's control socket (what the CLI sends): a CLI process per poll costs seconds on a loaded machine.
  let socket = '';
  const ask = async (args: string[]): Promise<unknown> => {
    const reply = await controlRequest(socket, { command: 'show', args });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  };
  const bgpJson = async (node: string): Promise<BgpJson> => (await ask(['bgp', r().node(node), 'json'])) as BgpJson;
  const stats = async (node: string): Promise<Record<string, number>> => (await ask(['stats', r().node(node), 'json'])) as Record<string, number>;
  const best = async (node: string, prefix: string) => (await bgpJson(node)).routes.find((x) => x.prefix === prefix && x.best);
  const until = (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> =>
    waitFor(what, check, ms, () => `${showBgp('bk-cust')}
${r().output().slice(-4000)}`, 200);
  const traceroute = (): string[] => {
    const out = inNetns(r().ns('bk-home'), 'traceroute', ['-n', '-w', '1', '-q', '1', '-m', '10', '203.0.113.10'], { timeoutMs: 30_000 }).stdout;
    return [...out.matchAll(/^ *\d+ +(\S+)/gm)].map((m) => m[1]!);
  };

  beforeAll(async () => {
    lab = await startLab('labs/backbone.yaml');
    socket = join(lab.runDir, `lab-${(parse(readFileSync(lab.file, 'utf8')) as { name: string }).name}.sock`);
    // Converged: the customer has both paths to the content network, and the content network reaches the customer through Tier-1 A.
    await until('convergence', async () => {
      const cust = (await bgpJson('bk-cust')).routes.filter((x) => x.prefix === '203.0.113.0/24');
      return cust.length === 2 && (await best('bk-cdn', '198.51.100.0/24'))?.asPath === '64500 64501 64496';
    });
  }, 60_000);

  afterAll(async () => {
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
  });

  it('local-pref makes ISP A primary; traceroute follows the AS path through Tier-1 A, never through its route reflector', async () => {
    const cust = showBgp('bk-cust');
    expect(cust).toMatch(/\*> 203\.0\.113\.0\/24 +100\.64\.0\.1 +200 64501 64500 64505 i +\(local-pref\)/);
    expect(cust).toMatch(/\*  203\.0\.113\.0\/24 +100\.64\.0\.5 +100 64511 64510 64505 i/);
    expect(traceroute()).toEqual(['198.51.100.1', '100.64.0.1', '100.64.0.9', '10.100.0.2', '192.0.2.3', '203.0.113.10']);
    // The reflector passed bk-t1a-ix's route to bk-t1a-pe with its next hop: the traffic goes ix-ward, not via 10.100.0.1.
    expect(await best('bk-t1a-pe', '203.0.113.0/24')).toMatchObject({ peer: '10.100.0.1', nextHop: '10.100.0.2', asPath: '64505' });
    expect(showBgp('bk-t1a-rr')).toMatch(/10\.100\.0\.3 +64500 +Established .* rr-client/);
    // The customer prepends twice towards ISP B: Tier-1 B, ISP B's own provider, reaches the customer through the
    // exchange and Tier-1 A (3 ASes beat 4); only ISP B, next door, still takes its direct link (3 beat 4 the way round).
    expect(await best('bk-t1b', '198.51.100.0/24')).toMatchObject({ peer: '192.0.2.1', asPath: '64500 64501 64496', reason: 'as-path length' });
    expect(await best('bk-isp-b', '198.51.100.0/24')).toMatchObject({ peer: '100.64.0.6', asPath: '64496 64496 64496' });
    // The content network announced only its own prefix: Tier-1 B did not learn the customer through it.
    expect((await bgpJson('bk-t1b')).routes.filter((x) => x.prefix === '198.51.100.0/24' && x.peer === '192.0.2.3')).toEqual([]);
  });

  it('tapnet bgp refresh sends ROUTE-REFRESH; tapnet bgp reset sends Cease / Administrative Reset and the session comes back', async () => {
    const refreshesBefore = (await stats('bk-isp-a')).bgpInRouteRefreshes ?? 0;
    const refresh = tapnet('bgp', 'refresh', '100.64.0.1', '--lab', 'FILE', '--node', r().node('bk-cust'));
    expect(refresh.status, refresh.stderr).toBe(0);
    expect(refresh.stdout).toMatch(/100\.64\.0\.1: ROUTE-REFRESH sent for ipv4/);
    await until('ISP A counted the ROUTE-REFRESH', async () => ((await stats('bk-isp-a')).bgpInRouteRefreshes ?? 0) > refreshesBefore);

    const transitions = (await bgpJson('bk-isp-b')).neighbors.find((n) => n.address === '100.64.0.6')!.establishedTransitions;
    const reset = tapnet('bgp', 'reset', '100.64.0.5', '--lab', 'FILE', '--node', r().node('bk-cust'));
    expect(reset.stdout).toMatch(/100\.64\.0\.5: NOTIFICATION Cease \/ Administrative Reset sent/);
    // ISP B's log line for it: "bgp 100.64.0.6: down: received NOTIFICATION Cease / Administrative Reset".
    await until('ISP B saw the reset', async () => /down: received NOTIFICATION Cease \/ Administrative Reset/.test(r().output()), 5000);
    expect((await stats('bk-isp-b')).bgpInNotifications).toBeGreaterThanOrEqual(1);
    await until('the session back', async () => {
      const n = (await bgpJson('bk-isp-b')).neighbors.find((x) => x.address === '100.64.0.6')!;
      return n.state === 'Established' && n.establishedTransitions > transitions;
    });
    await until('the backup path back at the customer', async () => (await bgpJson('bk-cust')).routes.filter((x) => x.prefix === '203.0.113.0/24').length === 2);

    // Bad arguments: one line naming the field, exit 2, nothing sent.
    const bad = [
      tapnet('bgp', 'reset', '10.9.9.9', '--lab', 'FILE', '--node', r().node('bk-cust')),
      tapnet('link', 'sideways', r().node('bk-cust'), r().node('bk-isp-a'), '--lab', 'FILE'),
      tapnet('link', 'down', r().node('bk-home'), r().node('bk-server'), '--lab', 'FILE'),
    ];
    expect(bad.map((b) => b.status)).toEqual([2, 2, 2]);
    expect(bad[0]!.stderr).toMatch(/^tapnet: neighbor: 10\.9\.9\.9 is not a neighbor of .*\n$/);
    expect(bad[1]!.stderr).toMatch(/^tapnet: .*'sideways' is invalid for argument 'state'.*\n$/);
    expect(bad[2]!.stderr).toMatch(/^tapnet: link: A B: no link between .*\n$/);
  }, 40_000);

  it('tapnet link down on the primary link: after the hold timer the customer goes through ISP B (both ways); link up brings ISP A back', async () => {
    const t0 = Date.now();
    const down = tapnet('link', 'down', r().node('bk-isp-a'), r().node('bk-cust'), '--lab', 'FILE');
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/is down/);
    expect(tapnet('lab', 'status', 'FILE').stdout).toMatch(/to-a — .*:down .*\(down: \d+ frames dropped\)/);
    await until('the customer on ISP B', async () => (await best('bk-cust', '203.0.113.0/24'))?.nextHop === '100.64.0.5', 20_000);
    const detected = Date.now() - t0;
    // The ports keep their carrier: the sessions end when the hold timer runs out, 9 s after the last KEEPALIVE
    // (sent every 3 s), so at least 6 s after the cable came out.
    expect(detected).toBeGreaterThan(5500);
    expect((await bgpJson('bk-cust')).neighbors.find((n) => n.address === '100.64.0.1')!.lastError).toMatch(/hold timer expired/);
    await until('the content network reaches the customer through Tier-1 B', async () => (await best('bk-cdn', '198.51.100.0/24'))?.peer === '192.0.2.2', 5000);
    expect(inNetns(r().ns('bk-home'), 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '203.0.113.10']).stdout).toMatch(/2 received/);
    expect(traceroute()).toEqual(['198.51.100.1', '100.64.0.5', '100.64.0.13', '192.0.2.3', '203.0.113.10']);
    expect((await stats('bk-cust')).linkTxCarrierDown).toBeGreaterThan(0);

    expect(tapnet('link', 'up', `${r().node('bk-cust')}:to-a`, r().node('bk-isp-a'), '--lab', 'FILE').stdout).toMatch(/is up/);
    await until('ISP A primary again', async () => (await best('bk-cust', '203.0.113.0/24'))?.nextHop === '100.64.0.1', 20_000);
    await until('inbound through Tier-1 A again', async () => (await best('bk-cdn', '198.51.100.0/24'))?.asPath === '64500 64501 64496', 5000);
    expect(traceroute()[1]).toBe('100.64.0.1');
  }, 60_000);
});
