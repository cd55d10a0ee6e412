import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Stats } from '../../../../src/core/stats.js';
import { labUiModel } from '../../../../src/runtime/lab.js';
import { parseTopology } from '../../../../src/runtime/topology.js';

const ROOT = join(import.meta.dirname, '../../../..');

describe("the browser view's model of a lab", () => {
  it('asks a hub for its ports, a switch for its MAC table and ports, and refuses a host', () => {
    const file = join(ROOT, 'labs/hub-switch.yaml');
    const parsed = parseTopology(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error('labs/hub-switch.yaml does not parse');
    const asked: string[] = [];
    // As the lab answers `show ports|mac --json --node NODE`: { NODE: rows }.
    const show = (what: string, node: string | undefined): unknown => {
      asked.push(`${what} ${node}`);
      if (what === 'mac' && node === 'hub') throw new Error('hub is a hub: it has no MAC table');
      return { [node!]: [{ name: 'p1', what }] };
    };
    const model = labUiModel(parsed.topology, { show }, ['hub:p1', 'sw:p1'], new Stats());
    expect(model.tables('hub')).toEqual({ ports: [{ name: 'p1', what: 'ports' }] });
    expect(model.tables('sw')).toEqual({ mac: [{ name: 'p1', what: 'mac' }], ports: [{ name: 'p1', what: 'ports' }] });
    expect(asked).toEqual(['ports hub', 'mac sw', 'ports sw']);
    expect(() => model.tables('hs-h1')).toThrow(/not a tapnet node/);
    expect(model.topology.nodes.find((n) => n.name === 'hub')).toMatchObject({ kind: 'hub', interfaces: [{ name: 'p1' }, { name: 'p2' }, { name: 'p3' }] });
    expect(model.topology.links[0]).toEqual({ a: 'hs-h1:eth0', b: 'hub:p1', watch: 'hub:p1' });
  });
});
