/**
 * `npm install` without a compiler (issue 20): the TAP addon ships prebuilt in native/prebuilds/, and
 * scripts/build-native.mjs uses it when it was built from this checkout's native/tap.cc and loads. These tests
 * check that the shipped binary is current and loadable, and run the install step in a scratch copy of
 * native/ and scripts/ with a PATH that has no compiler: the prebuilt binary is taken; a changed tap.cc or a
 * broken binary gives one line naming the packages, exit 1. scripts/test-tools.mjs (npm test's first step)
 * names what is missing the same way.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { NATIVE, PREBUILT, PREBUILT_HASH, TUPLE, sourceHash } from '../../../scripts/native-source.mjs';
import { VNET_HDR_SIZE } from '../../../src/device/tap.js';

const ROOT = join(NATIVE, '..');
const scratch = mkdtempSync(join(tmpdir(), 'tapnet-prebuilt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A PATH with node and sh only: no g++, make or python3. */
function bareBin(): string {
  const bin = join(scratch, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, target] of [
    ['node', process.execPath],
    ['sh', '/bin/sh'],
  ] as const) {
    try {
      symlinkSync(target, join(bin, name));
    } catch {
      // made by an earlier test
    }
  }
  return bin;
}

/** native/ (sources and prebuilds, no build/) and scripts/ copied to a fresh directory. */
function checkoutCopy(name: string): string {
  const dir = join(scratch, name);
  cpSync(join(ROOT, 'scripts'), join(dir, 'scripts'), { recursive: true });
  cpSync(NATIVE, join(dir, 'native'), { recursive: true, filter: (src) => !src.includes('/native/build') });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules')); // node-gyp-build, which the install step checks the addon with
  return dir;
}

function install(dir: string) {
  const r = spawnSync(process.execPath, [join(dir, 'scripts/build-native.mjs')], { encoding: 'utf8', env: { PATH: bareBin() } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the prebuilt TAP addon', () => {
  it(`is built from this checkout's native/tap.cc and binding.gyp (else: node scripts/build-native.mjs --update-prebuilt)`, () => {
    expect(readFileSync(PREBUILT_HASH, 'utf8').trim()).toBe(sourceHash());
  });

  it(`is an x86-64 ELF shared object for ${TUPLE} that node-gyp-build picks and that loads`, () => {
    const elf = readFileSync(PREBUILT);
    expect([...elf.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    if (TUPLE === 'linux-x64') expect(elf.readUInt16LE(18)).toBe(0x3e); // e_machine EM_X86_64
    const r = spawnSync(
      process.execPath,
      ['-e', `const p = require('node-gyp-build').path(${JSON.stringify(NATIVE)}); const a = require(p); console.log(JSON.stringify({ p, v: a.VNET_HDR_SIZE, t: typeof a.TapHandle }))`],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PREBUILDS_ONLY: '1' } },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ p: PREBUILT, v: VNET_HDR_SIZE, t: 'function' });
  });
});

describe('npm install on a machine without g++, make or python3 (scripts/build-native.mjs)', () => {
  it('takes the prebuilt binary and builds nothing', () => {
    const dir = checkoutCopy('fresh');
    const r = install(dir);
    expect(r.out).toMatch(/^tapnet: using the prebuilt TAP addon for linux-x64 \(N-API 8\)$/m);
    expect(r.status).toBe(0);
  });

  it('a tap.cc changed since the binary was built: one line naming what to install, exit 1', () => {
    const dir = checkoutCopy('changed');
    appendFileSync(join(dir, 'native/tap.cc'), '\n// changed\n');
    const r = install(dir);
    expect(r.out.trim()).toBe(
      'tapnet: no prebuilt TAP addon fits linux-x64 with this checkout\'s native/tap.cc, and building it needs g++, make, python3 (Debian/Ubuntu: apt-get install g++ make python3)',
    );
    expect(r.status).toBe(1);
  });

  it('a broken binary (a half-written file): says it does not load, then the same line, exit 1', () => {
    const dir = checkoutCopy('broken');
    const binary = join(dir, 'native/prebuilds', TUPLE, 'tapnet_tap.napi.glibc.node');
    writeFileSync(binary, readFileSync(binary).subarray(0, 4096));
    const r = install(dir);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^tapnet: the prebuilt TAP addon does not load here \((Error: .*|the loader died of SIG[A-Z]+)\); building it$/);
    expect(lines[1]).toMatch(/^tapnet: no prebuilt TAP addon fits .* needs g\+\+, make, python3/);
    expect(r.status).toBe(1);
  });
});

describe('npm test on a machine without the tools (scripts/test-tools.mjs)', () => {
  it('names each missing package and the one command to run, exit 1, before any test', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/test-tools.mjs')], {
      encoding: 'utf8',
      env: { PATH: bareBin(), TAPNET_TEST_TOOLS_NO_INSTALL: '1' },
    });
    expect(r.stderr).toMatch(/^tapnet: the tests need iproute2 \(namespaces, links, addresses/m);
    expect(r.stderr).toMatch(/^tapnet: install them first: (sudo )?apt-get install -y --no-install-recommends iproute2 iputils-ping .*wireguard-go wireguard-tools psmisc .*bird2.*$/m);
    expect(r.status).toBe(1);
  });

  it('with everything installed (this machine, as CI set it up): one line, exit 0', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/test-tools.mjs')], { encoding: 'utf8', env: { ...process.env, TAPNET_TEST_TOOLS_NO_INSTALL: '1' } });
    expect(r.stdout).toMatch(/^tapnet: the \d+ tools the tests use are installed$/m);
    expect(r.status).toBe(0);
  });
});
