/**
 * The floors of ARCHITECTURE.md, checked over the real import graph of src/.
 *
 * Every file's relative imports are read as text; a file may import from its
 * own floor or a lower one. Address types (l2/mac-address, l3/ipv4/address,
 * l3/ipv6/address) may be imported from anywhere. On top of the floor order,
 * three finer rules from the "one path" restructuring:
 *   - l2 imports nothing from l3 but address types (no l3 state);
 *   - l3 imports nothing from device/ (offload translation lives there) or l4;
 *   - l4 imports nothing from node/, runtime/, os/ or the CLI.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../../src');

/**
 * Bottom to top, as in ARCHITECTURE.md. `os/` (the only code that runs `ip` and
 * `sysctl`) imports nothing of tapnet's and is used by the runtime, so it sits
 * just below `runtime/`.
 */
export const FLOORS = ['core', 'device', 'l2', 'l3', 'l4', 'netfilter', 'node', 'services', 'os', 'runtime', 'top'] as const;
type Floor = (typeof FLOORS)[number];

/** Files any floor may import: address types only. */
const ADDRESS_TYPES = new Set(['l2/mac-address.ts', 'l3/ipv4/address.ts', 'l3/ipv6/address.ts']);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The floor of a path relative to src/: its first folder, or 'top' for cli.ts/index.ts. */
export function floorOf(relative: string): Floor {
  const first = relative.split('/')[0]!;
  if (!relative.includes('/')) return 'top';
  if (!(FLOORS as readonly string[]).includes(first)) throw new Error(`src/${relative}: folder '${first}' is not a floor of ARCHITECTURE.md`);
  return first as Floor;
}

export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

/** Every relative import in src/ (static, `import type`, `export ... from`, dynamic), as paths relative to src/. */
export function importEdges(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(pattern)) {
      const spec = (m[1] ?? m[2])!;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      edges.push({ from: path.relative(SRC, file), to: path.relative(SRC, target) });
    }
  }
  return edges;
}

/** Why the edge breaks a rule, or undefined when it is allowed. */
export function violation(edge: ImportEdge): string | undefined {
  const { from, to } = edge;
  if (ADDRESS_TYPES.has(to)) return undefined;
  const a = floorOf(from);
  const b = floorOf(to);
  if (a === 'l2' && b === 'l3') return 'l2 imports l3 state';
  if (a === 'l3' && b === 'device') return 'l3 imports device/ (offload translation belongs to the device floor)';
  if (FLOORS.indexOf(b) > FLOORS.indexOf(a)) return `${a} imports ${b} (up a floor)`;
  return undefined;
}

describe('import graph follows the floors (ARCHITECTURE.md)', () => {
  const edges = importEdges();

  it('reads a real graph', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: 'node/host.ts', to: 'l3/ipv4/input.ts' });
  });

  it('every import points to its own floor or below', () => {
    const bad = edges.flatMap((e) => {
      const why = violation(e);
      return why ? [`src/${e.from} -> src/${e.to}: ${why}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it('the rules catch what they are for', () => {
    expect(violation({ from: 'l2/interface.ts', to: 'l3/ipv4/link.ts' })).toBe('l2 imports l3 state');
    expect(violation({ from: 'l2/interface.ts', to: 'l3/ipv4/address.ts' })).toBeUndefined();
    expect(violation({ from: 'l3/ipv4/output.ts', to: 'device/vnet.ts' })).toMatch(/l3 imports device/);
    expect(violation({ from: 'l3/ipv4/output.ts', to: 'l4/tcp/header.ts' })).toMatch(/up a floor/);
    expect(violation({ from: 'l4/tcp/tcp.ts', to: 'node/host.ts' })).toMatch(/up a floor/);
    expect(violation({ from: 'netfilter/nat/nat.ts', to: 'l4/tcp/header.ts' })).toBeUndefined();
    expect(() => floorOf('lab/up.ts')).toThrow(/not a floor/);
  });
});
