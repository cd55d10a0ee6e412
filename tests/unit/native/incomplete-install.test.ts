/**
 * A half-finished `npm install` (issue 20, bad input). An interrupted install leaves packages whose package.json
 * is there but whose other files are missing or cut short; the next `npm install` takes them as installed. The
 * install step (scripts/build-native.mjs, which checks the addon through node-gyp-build and loads every module with
 * `tapnet --help`) and the start path (bin/tapnet.js) must then say so in one line with the way out, exit 1: never
 * Node's stack trace. Each case runs in a scratch copy of the checkout whose node_modules links to the real
 * packages except the damaged one.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { NATIVE } from '../../../scripts/native-source.mjs';

const ROOT = join(NATIVE, '..');
const scratch = mkdtempSync(join(tmpdir(), 'tapnet-incomplete-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ADVICE = 'a half-finished npm install?): rm -rf node_modules && npm install';

/** The checkout (no .git, no native/build) with a node_modules of links to the real packages; `damage` then edits it. */
function checkout(name: string, damage: (modules: string) => void): string {
  const dir = join(scratch, name);
  for (const part of ['bin', 'src', 'scripts', 'native', 'package.json', 'tsconfig.json']) {
    cpSync(join(ROOT, part), join(dir, part), { recursive: true, filter: (src) => !src.includes('/native/build') });
  }
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  damage(modules);
  return dir;
}

/** A package copied for real (so that damaging it leaves the shared node_modules alone). */
function ownCopy(modules: string, pkg: string): string {
  rmSync(join(modules, pkg));
  cpSync(join(ROOT, 'node_modules', pkg), join(modules, pkg), { recursive: true });
  return join(modules, pkg);
}

function run(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, lines: `${r.stdout}${r.stderr}`.trim().split('\n') };
}

describe('after a half-finished npm install', () => {
  it('a package whose files are missing (package.json only): `npm install`\'s step and `tapnet up` say one line, exit 1', () => {
    const dir = checkout('files-missing', (m) => {
      const pkg = ownCopy(m, 'commander');
      rmSync(join(pkg, 'lib'), { recursive: true });
    });
    const install = run(dir, ['scripts/build-native.mjs']);
    expect(install.lines.at(-1)).toBe(`tapnet: node_modules is incomplete (Cannot find module './lib/argument.js' (package commander); ${ADVICE}`);
    expect(install.lines.filter((l) => l.startsWith('tapnet:'))).toEqual(['tapnet: using the prebuilt TAP addon for linux-x64 (N-API 8)', install.lines.at(-1)]);
    expect(install.status).toBe(1);
    const up = run(dir, ['bin/tapnet.js', 'up']);
    expect(up).toEqual({ status: 1, lines: [install.lines.at(-1)] });
  });

  it('a file cut short: one line naming the package, exit 1', () => {
    const dir = checkout('cut-short', (m) => {
      const file = join(ownCopy(m, 'commander'), 'lib/command.js');
      writeFileSync(file, readFileSync(file).subarray(0, 3000));
    });
    const up = run(dir, ['bin/tapnet.js', 'up']);
    expect(up.status).toBe(1);
    expect(up.lines).toHaveLength(1);
    expect(up.lines[0]).toMatch(/^tapnet: node_modules is incomplete \(.+ \(package commander\); a half-finished npm install\?\): rm -rf node_modules && npm install$/);
  });

  it('a package missing altogether (tsx): one line, exit 1', () => {
    const dir = checkout('no-tsx', (m) => rmSync(join(m, 'tsx')));
    expect(run(dir, ['bin/tapnet.js', 'up'])).toEqual({ status: 1, lines: [`tapnet: node_modules is incomplete (Cannot find package 'tsx'; ${ADVICE}`] });
  });

  it('node-gyp-build missing: the install step says it in one line, exit 1', () => {
    const dir = checkout('no-node-gyp-build', (m) => rmSync(join(m, 'node-gyp-build')));
    const install = run(dir, ['scripts/build-native.mjs']);
    expect(install.lines.at(-1)).toBe(`tapnet: node_modules is incomplete (Cannot find module 'node-gyp-build'; ${ADVICE}`);
    expect(install.lines).toHaveLength(2);
    expect(install.status).toBe(1);
  });

  it('an intact copy: the install step and `tapnet --help` pass', () => {
    const dir = checkout('intact', () => {});
    const install = run(dir, ['scripts/build-native.mjs']);
    expect(install).toEqual({ status: 0, lines: ['tapnet: using the prebuilt TAP addon for linux-x64 (N-API 8)'] });
  });
});
