/**
 * `tapnet lab` with bad topology files and failures half-way through `up`:
 * errors name the file, line, column and field; a failed `up` removes what it
 * created; `down` and `status` of a lab that is not running say so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTopology } from '../../src/runtime/topology.js';
import { ROOT, TAPNET, inNetns, netnsExists, sh, uniqueName } from './harness.js';
import { cleanupLab, rewriteLabNames, startLab, tapnetEnv } from './lab-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tapnet-labfiles-'));
const env = tapnetEnv(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function tapnet(args: readonly string[]) {
  return spawnSync(process.execPath, [TAPNET, ...args], { encoding: 'utf8', env, timeout: 60_000 });
}

describe('lab-harness: tests run the shipped labs under names of their own', () => {
  for (const lab of readdirSync(join(ROOT, 'labs')).filter((f) => f.endsWith('.yaml'))) {
    it(`${lab}: every node and the lab renamed, links rewired, still valid`, () => {
      const text = readFileSync(join(ROOT, 'labs', lab), 'utf8');
      // The full path: a lab names some files relative to itself (vpn.yaml's wg-quick config).
      const path = join(ROOT, 'labs', lab);
      const original = parseTopology(text, path);
      const rewritten = rewriteLabNames(text, 't0a1-');
      const copy = parseTopology(rewritten.text, path);
      if (!original.ok || !copy.ok) throw new Error(`${lab} does not parse`);
      expect(copy.topology.name).toBe(`t0a1-${original.topology.name}`);
      expect([...rewritten.names.keys()]).toEqual(original.topology.nodes.map((n) => n.name));
      for (const node of copy.topology.nodes) {
        expect(node.name).toMatch(/^t0a1-[a-z0-9-]*[a-z0-9]$/);
        expect(node.name.length).toBeLessThanOrEqual(15);
      }
      expect(new Set(copy.topology.nodes.map((n) => n.name)).size).toBe(copy.topology.nodes.length);
      const ends = (t: typeof copy.topology) => t.links.map((l) => [l.a.node, l.a.port, l.b.node, l.b.port]);
      expect(ends(copy.topology)).toEqual(ends(original.topology).map(([a, ap, b, bp]) => [rewritten.names.get(a!), ap, rewritten.names.get(b!), bp]));
    });
  }
});

describe('tapnet lab: bad files', () => {
  it('names the line, column and field of every mistake, and exits 2', () => {
    const file = write(
      'bad.yaml',
      [
        'name: bad',
        'nodes:',
        '  pc:',
        '    kind: host',
        '    interfaces:',
        '      eth0: { address: 10.0.0.300/24 }',
        '  sw:',
        '    kind: switch',
        '    colour: blue',
        '    ports: { p1: { vlan: 5000 } }',
        'links:',
        '  - [pc:eth0, sw:p2]',
        '',
      ].join('\n'),
    );
    const r = tapnet(['lab', 'up', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:6:24: nodes.pc.interfaces.eth0.address: '10.0.0.300/24' is not an IPv4 address`);
    expect(r.stderr).toContain(`${file}:9:5: nodes.sw.colour: not a field of a switch`);
    expect(r.stderr).toContain(`${file}:10:26: nodes.sw.ports.p1.vlan: expected an integer from 1 to 4094, got 5000`);
    expect(r.stderr).toContain(`${file}:12:15: links.0.endpoints.1: switch 'sw' has no port 'p2'`);
  });

  it('a WireGuard interface with a bad key: one line naming the field, exit 2', () => {
    const file = write('wg.yaml', ['name: wgbad', 'nodes:', '  r:', '    kind: router', '    interfaces:', '      wg0: { kind: wireguard, privateKey: not-a-key }', ''].join('\n'));
    const r = tapnet(['lab', 'up', file]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`tapnet: ${file}:6:43: nodes.r.interfaces.wg0.privateKey: 'not-a-key' is not a WireGuard key (44 characters of base64, as \`wg genkey\` prints)`);
  });

  it('reports YAML syntax errors with their position', () => {
    const file = write('syntax.yaml', 'name: x\nnodes:\n  a: [unclosed\n');
    const r = tapnet(['lab', 'status', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${file}:\\d+:\\d+: YAML: `));
  });

  it('says so for a file that does not exist', () => {
    const r = tapnet(['lab', 'up', join(dir, 'missing.yaml')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing\.yaml:1:1: cannot read: ENOENT/);
  });
});

describe('tapnet lab: lifecycle failures', () => {
  it('a failed up removes the namespaces and TAPs it created', () => {
    const a = uniqueName('tlf');
    const b = uniqueName('tlf');
    // The second route duplicates the first: the validator accepts it, the kernel refuses it (File exists),
    // after both namespaces and both TAPs exist.
    const file = write(
      'dup-route.yaml',
      [
        'name: dup-route',
        'nodes:',
        `  ${a}:`,
        '    kind: host',
        '    interfaces: { eth0: { address: 10.99.0.1/24 } }',
        '    routes: [10.98.0.0/16 via 10.99.0.2, 10.98.0.0/16 via 10.99.0.2]',
        `  ${b}:`,
        '    kind: host',
        '    interfaces: { eth0: { address: 10.99.0.2/24 } }',
        'links:',
        `  - [${a}:eth0, ${b}:eth0]`,
        '',
      ].join('\n'),
    );
    try {
      const r = tapnet(['lab', 'up', file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`dup-route\\.yaml:6:\\d+: nodes\\.${a}\\.routes: '10\\.98\\.0\\.0/16 via 10\\.99\\.0\\.2': .*File exists`));
      expect(netnsExists(a)).toBe(false);
      expect(netnsExists(b)).toBe(false);
    } finally {
      for (const ns of [a, b]) if (netnsExists(ns)) sh('ip', ['netns', 'delete', ns]);
    }
  });

  it('refuses to start over an existing namespace, touching nothing', () => {
    const a = uniqueName('tlf');
    sh('ip', ['netns', 'add', a]);
    try {
      const file = write(
        'exists.yaml',
        ['name: exists', 'nodes:', `  ${a}:`, '    kind: host', '    interfaces: { eth0: {} }', '  s: { kind: switch, ports: { p1: {} } }', 'links:', `  - [${a}:eth0, s:p1]`, ''].join('\n'),
      );
      const r = tapnet(['lab', 'up', file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`exists\\.yaml:3:3: nodes\\.${a}: namespace ${a} already exists`));
      expect(netnsExists(a)).toBe(true); // not ours: left alone
    } finally {
      sh('ip', ['netns', 'delete', a]);
    }
  });

  it('down and status of a lab that is not running', () => {
    const file = write('idle.yaml', ['name: idle', 'nodes:', '  s: { kind: switch, ports: { p1: {}, p2: {} } }', 'links:', '  - [s:p1, s:p2]', ''].join('\n'));
    const down = tapnet(['lab', 'down', file]);
    expect(down.status).toBe(0);
    expect(down.stdout).toContain('lab idle was not running');
    const status = tapnet(['lab', 'status', file]);
    expect(status.status).toBe(1);
    expect(status.stderr).toContain('lab idle is not running');
  });
});

describe('tapnet lab: host-to-host links and captures', () => {
  it('splices two namespaces directly and through an impaired link, and captures the impaired one', async () => {
    const [a, b, c, d] = [uniqueName('tlw'), uniqueName('tlw'), uniqueName('tlw'), uniqueName('tlw')];
    const pcap = join(dir, 'wire.pcap');
    const file = write(
      'wires.yaml',
      [
        'name: wires',
        'nodes:',
        `  ${a}: { kind: host, interfaces: { eth0: { address: 10.97.0.1/24 } } }`,
        `  ${b}: { kind: host, interfaces: { eth0: { address: 10.97.0.2/24 } } }`,
        `  ${c}: { kind: host, interfaces: { eth0: { address: 10.96.0.1/24 } } }`,
        `  ${d}: { kind: host, interfaces: { eth0: { address: 10.96.0.2/24 } } }`,
        'links:',
        `  - endpoints: [${a}:eth0, ${b}:eth0]`,
        '    impairment: { delayMs: 10 }',
        `    capture: ${pcap}`,
        `  - [${c}:eth0, ${d}:eth0]`,
        '',
      ].join('\n'),
    );
    const lab = await startLab(file, { keepNames: true }); // its names come from uniqueName
    try {
      const slow = inNetns(a, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.97.0.2']);
      expect(slow.stdout).toContain('2 received');
      expect(Number(/= [\d.]+\/([\d.]+)\//.exec(slow.stdout)?.[1])).toBeGreaterThanOrEqual(19); // 10 ms each way
      expect(inNetns(c, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.96.0.2']).stdout).toContain('2 received');
      expect(await lab.down(), lab.output()).toBe(0);
      const r = sh('tcpdump', ['-nn', '-r', pcap]);
      expect(r.stdout).toMatch(/IP 10\.97\.0\.1 > 10\.97\.0\.2: ICMP echo request/);
      expect(r.stdout).toMatch(/IP 10\.97\.0\.2 > 10\.97\.0\.1: ICMP echo reply/);
      for (const ns of [a, b, c, d]) expect(netnsExists(ns)).toBe(false);
    } finally {
      cleanupLab(lab);
    }
  });
});
