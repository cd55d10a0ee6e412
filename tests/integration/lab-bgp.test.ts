/**
 * labs/bgp.yaml, the commands of its labs/README.md section: four tapnet
 * routers in four ASes; traceroute follows the AS path BGP chose, local-pref
 * makes ISP A the customer's primary, AS-path prepending steers the way back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from './harness.js';
import { cleanupLab, startLab, type LabProcess } from './lab-harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('labs/bgp.yaml: transit, two ISPs, a multihomed customer', () => {
  let lab: LabProcess | undefined;
  const r = (): LabProcess => lab!;
  const showBgp = (node: string, json = false) => r().cli(['show', 'bgp', ...(json ? ['--json'] : []), '--lab', r().file, '--node', r().node(node)]).stdout;

  beforeAll(async () => {
    lab = await startLab('labs/bgp.yaml');
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const j = JSON.parse(showBgp('bg-cust', true)) as { routes: { prefix: string }[] };
      if (j.routes.filter((x) => x.prefix === '10.10.0.0/24').length === 2) break;
      await sleep(250);
    }
  }, 60_000);

  afterAll(async () => {
    if (lab) {
      await lab.down();
      cleanupLab(lab);
    }
  });

  it('the customer prefers ISP A by local-pref; show bgp marks the best path and says why', () => {
    const show = showBgp('bg-cust');
    expect(show).toMatch(/100\.64\.3\.1 +65200 +Established/);
    expect(show).toMatch(/\*> 10\.10\.0\.0\/24 +100\.64\.3\.1 +200 65200 65100 i +\(local-pref\)/);
    expect(show).toMatch(/\*  10\.10\.0\.0\/24 +100\.64\.4\.1 +100 65300 65100 i/);
  });

  it('traceroute follows the AS path both ways: home → cust → ISP A → transit → server', () => {
    const trace = inNetns(r().ns('bg-home'), 'traceroute', ['-n', '-w', '2', '-q', '1', '10.10.0.10'], { timeoutMs: 30_000 }).stdout;
    expect(trace).toMatch(/\n 1 {2}10\.40\.0\.1 .*\n 2 {2}100\.64\.3\.1 .*\n 3 {2}100\.64\.1\.1 .*\n 4 {2}10\.10\.0\.10 /);
    // The customer prepends towards B: even ISP B goes through the transit and A (3 ASes beat 4).
    const b = showBgp('bg-isp-b');
    expect(b).toMatch(/\*> 10\.40\.0\.0\/24 +100\.64\.2\.1 .*65100 65200 65400 i +\(as-path length\)/);
    expect(b).toMatch(/\*  10\.40\.0\.0\/24 +100\.64\.4\.2 .*65400 65400 65400 65400 i/);
    expect(inNetns(r().ns('bg-home'), 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd10::10']).stdout).toMatch(/2 received/);
  });
});
