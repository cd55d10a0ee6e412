// The TAP addon (native/) at `npm install`, so that a machine without a compiler still gets it.
//
//   1. native/prebuilds/linux-ARCH/tapnet_tap.napi.glibc.node, when it was built from the native/tap.cc and
//      binding.gyp of this checkout (the .source-sha256 beside it) and loads in this node: use it, build nothing.
//      It is an N-API 8 binary, so any Node >= 20 loads it (no ABI per Node version).
//   2. Otherwise (another architecture, a changed tap.cc, or `--from-source`): build it with node-gyp into
//      native/build/Release. node-gyp downloads Node's headers unless told where they are; where the running node
//      ships them (PREFIX/include/node) we point --nodedir there, so no download is needed.
//   3. `--update-prebuilt` (a maintainer's step after changing tap.cc): build from source, strip, and replace the
//      prebuilt binary and its source hash for this machine's architecture; commit both.
//
// Every failure is one line saying what to do, and exit code 1.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { LOCAL_BUILD, NATIVE, PREBUILT, PREBUILT_DIR, PREBUILT_HASH, TUPLE, sourceHash } from './native-source.mjs';

function fail(message) {
  console.error(`tapnet: ${message}`);
  process.exit(1);
}

const ROOT = resolve(NATIVE, '..');
const incomplete = (why) => `node_modules is incomplete (${why.split('\n')[0].replace(/ imported from .*/, '')}; a half-finished npm install?): rm -rf node_modules && npm install`;

/**
 * After the addon is in place: node-gyp-build (what src/device/tap.ts loads it with) finds one that loads, and, in
 * a full checkout, `tapnet --help` loads every module tapnet is made of. An interrupted `npm install` leaves
 * packages with files missing or cut short, which the next `npm install` takes as installed: this says so here,
 * in one line (bin/tapnet.js's), rather than at `npm start`.
 */
function checkInstalled() {
  const addon = spawnSync(process.execPath, ['-e', `const a = require('node-gyp-build')(${JSON.stringify(NATIVE)}); if (typeof a.TapHandle !== 'function') process.exit(3)`], { cwd: ROOT, encoding: 'utf8' });
  if (addon.status !== 0) {
    const why = (addon.stderr || '').split('\n').find((l) => /Error|Cannot find/.test(l)) ?? `exit ${addon.status ?? addon.signal}`;
    if (/Cannot find module 'node-gyp-build'/.test(why)) fail(incomplete("Cannot find module 'node-gyp-build'"));
    fail(`node-gyp-build does not load the TAP addon (${why.trim()}): node scripts/build-native.mjs --from-source (needs g++, make, python3)`);
  }
  if (!existsSync(join(ROOT, 'bin/tapnet.js')) || !existsSync(join(ROOT, 'src/cli.ts'))) return; // docker/Dockerfile's npm ci, before bin/ and src/ are copied
  const cli = spawnSync(process.execPath, [join(ROOT, 'bin/tapnet.js'), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (cli.status !== 0) {
    const line = (cli.stderr || '').split('\n').find((l) => l.startsWith('tapnet: '));
    fail(line ? line.slice('tapnet: '.length) : `tapnet --help failed (exit ${cli.status ?? cli.signal}): ${(cli.stderr || '').trim().split('\n')[0]}`);
  }
}

/** Loads a .node file in a child process (a bad binary must not take the installer down with it). */
function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(file)}); if (typeof a.TapHandle !== 'function') process.exit(3)`], { encoding: 'utf8' });
  const error = (r.stderr || '').split('\n').find((l) => /Error/.test(l));
  return { ok: r.status === 0, why: error ?? (r.signal ? `the loader died of ${r.signal}` : `exit ${r.status}`) };
}

function buildFromSource() {
  const missing = ['g++', 'make', 'python3'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) {
    fail(`no prebuilt TAP addon fits ${TUPLE} with this checkout's native/tap.cc, and building it needs ${missing.join(', ')} (Debian/Ubuntu: apt-get install g++ make python3)`);
  }
  const prefix = resolve(process.execPath, '../..');
  const args = ['rebuild', '--directory', NATIVE];
  if (existsSync(join(prefix, 'include/node/common.gypi'))) args.push(`--nodedir=${prefix}`);
  let nodeGyp;
  try {
    nodeGyp = join(dirname(createRequire(import.meta.url).resolve('node-gyp/package.json')), 'bin/node-gyp.js');
  } catch (e) {
    fail(incomplete(e.message));
  }
  const r = spawnSync(process.execPath, [nodeGyp, ...args], { stdio: 'inherit' });
  if (r.status !== 0) fail(`building the TAP addon failed (node-gyp exit ${r.status ?? r.signal}; its output is above)`);
}

const mode = process.argv[2];
if (mode === '--update-prebuilt') {
  buildFromSource();
  mkdirSync(PREBUILT_DIR, { recursive: true });
  copyFileSync(LOCAL_BUILD, PREBUILT);
  spawnSync('strip', ['--strip-unneeded', PREBUILT], { stdio: 'inherit' });
  writeFileSync(PREBUILT_HASH, `${sourceHash()}\n`);
  const check = loads(PREBUILT);
  if (!check.ok) fail(`the new prebuilt binary does not load: ${check.why}`);
  console.log(`tapnet: ${PREBUILT} updated (source ${sourceHash().slice(0, 12)})`);
} else if (mode === '--from-source' || process.env.TAPNET_BUILD_FROM_SOURCE === '1') {
  buildFromSource();
  checkInstalled();
} else if (mode !== undefined) {
  fail(`build-native.mjs: unknown argument ${mode} (use --from-source or --update-prebuilt)`);
} else {
  const recorded = existsSync(PREBUILT_HASH) ? readFileSync(PREBUILT_HASH, 'utf8').trim() : undefined;
  const check = existsSync(PREBUILT) && recorded === sourceHash() ? loads(PREBUILT) : undefined;
  if (check?.ok) {
    // A local build from other sources would be loaded first (node-gyp-build prefers build/Release): remove it.
    rmSync(join(NATIVE, 'build'), { recursive: true, force: true });
    console.log(`tapnet: using the prebuilt TAP addon for ${TUPLE} (N-API 8)`);
  } else {
    if (check) console.log(`tapnet: the prebuilt TAP addon does not load here (${check.why}); building it`);
    buildFromSource();
  }
  checkInstalled();
}
