// Builds the TAP addon (native/) with node-gyp at `npm install`.
// node-gyp downloads Node's headers unless told where they are; this machine (and CI) has no
// internet, so when the running node ships its headers (PREFIX/include/node) we point --nodedir there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const prefix = resolve(process.execPath, '../..');
const args = ['rebuild', '--directory', 'native'];
if (existsSync(join(prefix, 'include/node/common.gypi'))) args.push(`--nodedir=${prefix}`);
const nodeGyp = join(dirname(createRequire(import.meta.url).resolve('node-gyp/package.json')), 'bin/node-gyp.js');
const r = spawnSync(process.execPath, [nodeGyp, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
