/**
 * WireGuard configuration: `kind: wireguard` in lab files (every mistake
 * names its line and field), and wg-quick files.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTopology } from '../../../../src/runtime/topology.js';
import { parseEndpoint, parseWgQuick } from '../../../../src/services/wireguard/config.js';
import { formatKey } from '../../../../src/services/wireguard/keys.js';

const KEY_A = 'aG3WVPrPP5SlJb74uMrP0zEfmSYsnM1CShW3xIHeklE=';
const PUB_B = 'vcoXXGxxU9We1FJPuU0w/Bu7ANYRfPTq8A5fyQIugQ4=';

function lab(wg0: string, file = 't.yaml'): ReturnType<typeof parseTopology> {
  return parseTopology(
    `name: t
nodes:
  pc:
    kind: host
    interfaces:
      eth0: { address: 10.0.0.2/24 }
  r:
    kind: router
    interfaces:
      eth0: { address: 10.0.0.1/24 }
      wg0:
${wg0
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
    routes: [10.7.0.0/16 dev wg0]
links:
  - [pc:eth0, r:eth0]
`,
    file,
  );
}

const problems = (r: ReturnType<typeof parseTopology>): string[] => (r.ok ? [] : r.problems.map((p) => `${p.line} ${p.field}: ${p.message}`));

describe('kind: wireguard in a lab file', () => {
  it('parses keys, addresses, peers; needs no link; routes may use it', () => {
    const r = lab(`kind: wireguard\nprivateKey: ${KEY_A}\nlistenPort: 51820\naddresses: [10.99.0.1/24, fd99::1/64]\npeers:\n  - publicKey: ${PUB_B}\n    endpoint: "[2001:db8::2]:51820"\n    allowedIPs: [10.99.0.2/32, 10.7.0.0/16, fd99::2]\n    persistentKeepalive: 25`);
    expect(problems(r)).toEqual([]);
    const wg = r.ok && r.topology.nodes.find((n) => n.name === 'r')!;
    const spec = wg && wg.kind === 'router' ? wg.interfaces.find((i) => i.name === 'wg0')!.wireguard! : undefined;
    expect(formatKey(spec!.privateKey!)).toBe(KEY_A);
    expect(spec!.peers[0]!.endpoint).toEqual({ address: '2001:db8::2', port: 51820, family: 6 });
    expect(spec!.peers[0]!.allowedIps6[0]!.prefixLength).toBe(128);
    expect(spec!.addresses6).toHaveLength(1);
  });

  it('reports a bad key, endpoint, allowed IP and unknown field with their lines', () => {
    const r = lab(`kind: wireguard\nprivateKey: nope\npeers:\n  - publicKey: ${PUB_B}\n    endpoint: example.com:51820\n    allowedIPs: [10.0.0.300/24]\n    colour: blue`);
    const p = problems(r);
    expect(p).toContain("13 nodes.r.interfaces.wg0.privateKey: 'nope' is not a WireGuard key (44 characters of base64, as `wg genkey` prints)");
    expect(p.some((x) => /endpoint: 'example.com:51820' is not an endpoint/.test(x))).toBe(true);
    expect(p.some((x) => /allowedIPs.0: '10.0.0.300\/24' is not an allowed IP/.test(x))).toBe(true);
    expect(p.some((x) => /unknown field/.test(x))).toBe(true);
  });

  it('a missing private key, and config: with fields that belong in the file', () => {
    expect(problems(lab('kind: wireguard'))[0]).toMatch(/privateKey: missing/);
    expect(problems(lab(`kind: wireguard\nconfig: x.conf\nprivateKey: ${KEY_A}`)).join('\n')).toMatch(/give privateKey either here or in the config file/);
  });

  it('config: FILE loads a wg-quick file next to the lab file, its problems pointed at by line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapnet-wgconf-'));
    writeFileSync(join(dir, 'good.conf'), `[Interface]\nPrivateKey = ${KEY_A}\nAddress = 10.99.0.1/24\n\n[Peer]\nPublicKey = ${PUB_B}\nAllowedIPs = 10.99.0.2/32\n`);
    const r = lab('kind: wireguard\nconfig: good.conf', join(dir, 'lab.yaml'));
    expect(problems(r)).toEqual([]);
    writeFileSync(join(dir, 'bad.conf'), `[Interface]\nPrivateKey = ${KEY_A}\nPostUp = iptables -A FORWARD\n[Peer]\nEndpoint = 1.2.3.4\n`);
    const bad = problems(lab('kind: wireguard\nconfig: bad.conf', join(dir, 'lab.yaml')));
    expect(bad.join('\n')).toMatch(/bad\.conf:3: PostUp: wg-quick runs this on the host/);
    expect(bad.join('\n')).toMatch(/bad\.conf:5: Endpoint: '1\.2\.3\.4' is not an endpoint/);
    expect(bad.join('\n')).toMatch(/bad\.conf:4: PublicKey: missing in \[Peer\]/);
    expect(problems(lab('kind: wireguard\nconfig: none.conf', join(dir, 'lab.yaml')))[0]).toMatch(/cannot read none\.conf: ENOENT/);
  });

  it('a link to a WireGuard interface is an error', () => {
    const r = parseTopology(
      `name: t\nnodes:\n  r:\n    kind: router\n    interfaces:\n      wg0: { kind: wireguard, privateKey: ${KEY_A} }\n  pc:\n    kind: host\n    interfaces:\n      eth0: { address: 10.0.0.2/24 }\nlinks:\n  - [pc:eth0, r:wg0]\n`,
      't.yaml',
    );
    expect(problems(r).join('\n')).toMatch(/r:wg0 is a WireGuard interface: it runs over the node's other interfaces/);
  });
});

describe('wg-quick files', () => {
  it('reads every key wg-quick takes that tapnet honours, case-insensitively, with comments and lists', () => {
    const r = parseWgQuick(`# office\n[Interface]\nprivatekey = ${KEY_A}  # ours\nListenPort = 51820\nAddress = 10.99.0.1/24, fd99::1/64\nMTU = 1380\nTable = off\nDNS = 10.1.0.1\n\n[Peer]\nPublicKey = ${PUB_B}\nPresharedKey = ${KEY_A}\nEndpoint = 203.0.113.2:51820\nAllowedIPs = 10.2.0.0/24\nAllowedIPs = 10.99.0.2/32\nPersistentKeepalive = off\n`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.listenPort).toBe(51820);
    expect(r.value.mtu).toBe(1380);
    expect(r.value.table).toBe(false);
    expect(r.value.addresses6).toHaveLength(1);
    expect(r.value.peers[0]!.allowedIps4).toHaveLength(2);
    expect(r.value.peers[0]!.persistentKeepalive).toBe(0);
  });
  it('endpoints are IP literals with a port', () => {
    expect(parseEndpoint('10.0.0.1:51820')).toEqual({ ok: true, value: { address: '10.0.0.1', port: 51820, family: 4 } });
    expect(parseEndpoint('10.0.0.1:0').ok).toBe(false);
    expect(parseEndpoint('[::1]:7').ok).toBe(true);
  });
});
