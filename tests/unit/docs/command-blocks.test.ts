/**
 * The commands in README.md's and labs/README.md's `sh` blocks, checked against what they name, without
 * running them (tests/integration/readme.test.ts runs README.md's; the lab tests run what labs/README.md
 * shows, lab by lab). A renamed counter, a removed flag, a node that a lab file no longer has, or a typo in
 * a namespace name fails here, in a second:
 *
 * - every `labs/NAME.yaml` exists and loads (the lab loader, with its own error messages);
 * - `ip netns exec NS` / `ip -n NS` name a host of the section's lab (`## NAME.yaml:` headings; before the
 *   first one, the lab the command names) or of a lab the same command names;
 * - `./bin/tapnet.js COMMAND ...` is a command of the CLI with those long options (`--lab`, `--node`, ...),
 *   `show WHAT` is a table, and `--node NODE` is a node of the lab;
 * - `show stats ... | grep PATTERN` matches at least one counter tapnet declares (src/**\/counters.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { SHOW_TABLES, buildProgram } from '../../../src/cli.js';
import { parseTopology, type Topology } from '../../../src/runtime/topology.js';
import { readmeCommands, withoutComment } from '../../readme-commands.js';

const ROOT = join(import.meta.dirname, '../../..');

/** Every counter name in a `..._COUNTERS = [...] as const` table under src/. */
function declaredCounters(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) {
        for (const table of readFileSync(path, 'utf8').matchAll(/_COUNTERS = \[([^\]]*)\] as const/g)) {
          for (const m of table[1]!.matchAll(/'([A-Za-z0-9]+)'/g)) names.add(m[1]!);
        }
      }
    }
  };
  walk(join(ROOT, 'src'));
  return names;
}

const labs = new Map<string, Topology>();
function lab(path: string): Topology {
  let topology = labs.get(path);
  if (topology === undefined) {
    const result = parseTopology(readFileSync(join(ROOT, path), 'utf8'), join(ROOT, path));
    if (!result.ok) throw new Error(`${path}: ${result.problems.map((p) => `${p.line}:${p.column}: ${p.field}: ${p.message}`).join('; ')}`);
    topology = result.topology;
    labs.set(path, topology);
  }
  return topology;
}
const hosts = (t: Topology): string[] => t.nodes.filter((n) => n.kind === 'host').map((n) => n.name);

/** The words of a shell command up to the first pipe, redirection or `;`/`&&` (what the CLI receives). */
function words(command: string): string[] {
  const first = command.split(/\s*(?:\|\|?|;|&&|>|2>)\s*/)[0]!;
  return [...first.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** The commander command a tapnet invocation reaches (`lab up` → the `up` under `lab`), and the rest. */
function resolveCommand(program: Command, args: string[]): { command: Command; path: string[] } {
  let command = program;
  const path: string[] = [];
  while (args.length > 0 && !args[0]!.startsWith('-')) {
    const sub = command.commands.find((c) => c.name() === args[0] || c.aliases().includes(args[0]!));
    if (!sub) break;
    command = sub;
    path.push(args.shift()!);
  }
  return { command, path };
}

function longOptions(command: Command): Set<string> {
  const all = new Set<string>(['--help']);
  for (let c: Command | null = command; c; c = c.parent) for (const o of c.options) if (o.long) all.add(o.long);
  return all;
}

interface Problem {
  readonly where: string;
  readonly what: string;
}

function check(file: string): Problem[] {
  const markdown = readFileSync(join(ROOT, file), 'utf8');
  const lines = markdown.split('\n');
  const program = buildProgram();
  const counters = declaredCounters();
  const problems: Problem[] = [];
  for (const c of readmeCommands(markdown)) {
    const where = `${file}:${c.line}: ${c.text}`;
    const text = withoutComment(c.text).replace(/^sudo /, '');
    const heading = lines
      .slice(0, c.line)
      .reverse()
      .find((l) => l.startsWith('## '));
    const sectionLab = heading ? /^## ([a-z0-9-]+\.yaml):/.exec(heading)?.[1] : undefined;
    const named = [...text.matchAll(/\blabs\/([a-z0-9-]+\.yaml)\b/g)].map((m) => `labs/${m[1]}`);
    const labPaths = [...new Set([...(sectionLab ? [`labs/${sectionLab}`] : []), ...named])];
    const topologies: Topology[] = [];
    for (const path of labPaths) {
      try {
        topologies.push(lab(path));
      } catch (e) {
        problems.push({ where, what: (e as Error).message });
      }
    }
    for (const m of text.matchAll(/\bip (?:netns exec|-n) ([a-z0-9-]+)/g)) {
      if (topologies.length === 0 && file === 'README.md') continue; // README's namespaces are its own (`--netns lab`)
      if (!topologies.some((t) => hosts(t).includes(m[1]!))) problems.push({ where, what: `no host '${m[1]}' in ${labPaths.join(', ') || 'any lab of this section'}` });
    }
    for (const part of text.split(/\s*(?:&&|;|\|\||\(|\))\s*/)) {
      const w = words(part);
      const at = w.findIndex((x) => /(^|\/)bin\/tapnet\.js$|^tapnet$/.test(x));
      if (at < 0) continue;
      const args = w.slice(at + 1);
      const { command, path } = resolveCommand(program, [...args]);
      if (path.length === 0) {
        problems.push({ where, what: `'${args[0]}' is not a tapnet command` });
        continue;
      }
      const options = longOptions(command);
      for (const arg of args) {
        const option = /^(--[a-z0-9-]+)/.exec(arg)?.[1];
        if (option && !options.has(option) && !options.has(option.replace(/^--no-/, '--'))) problems.push({ where, what: `tapnet ${path.join(' ')} has no option ${option}` });
      }
      if (path[0] === 'show') {
        const table = args[path.length];
        if (table !== undefined && !(SHOW_TABLES as readonly string[]).includes(table)) problems.push({ where, what: `show has no table '${table}'` });
        if (table === 'stats') {
          const grep = /\|\s*grep\s+(?:-E\s+)?(?:'([^']+)'|"([^"]+)"|(\S+))/.exec(text);
          const pattern = grep ? (grep[1] ?? grep[2] ?? grep[3])! : undefined;
          if (pattern !== undefined && ![...counters].some((n) => new RegExp(pattern).test(n))) problems.push({ where, what: `grep '${pattern}' matches no counter tapnet declares` });
        }
      }
      const node = args[args.indexOf('--node') + 1];
      if (args.includes('--node') && !topologies.some((t) => t.nodes.some((n) => n.name === node))) problems.push({ where, what: `no node '${node}' in ${labPaths.join(', ')}` });
    }
  }
  return problems;
}

describe('command blocks in the READMEs name what exists', () => {
  for (const file of ['README.md', 'labs/README.md']) {
    it(file, () => {
      expect(check(file).map((p) => `${p.where}\n    ${p.what}`)).toEqual([]);
    });
  }

  it('catches what it is for (a renamed counter, a missing flag, a typo in a host)', () => {
    const counters = declaredCounters();
    expect(counters.has('IpInReceives')).toBe(true);
    expect([...counters].some((n) => /ipInReceives/.test(n))).toBe(false);
    const program = buildProgram();
    const { command, path } = resolveCommand(program, ['lab', 'up', 'labs/lan.yaml']);
    expect(path).toEqual(['lab', 'up']);
    expect(longOptions(command).has('--no-such-flag')).toBe(false);
    expect(hosts(lab('labs/lan.yaml'))).not.toContain('lan-pc9');
    expect(relative(ROOT, join(ROOT, 'labs/lan.yaml'))).toBe('labs/lan.yaml');
  });
});
