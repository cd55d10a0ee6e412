// Where the TAP addon's sources and binaries live (scripts/build-native.mjs, and the test that checks the
// shipped prebuilt binary is built from the sources in this checkout).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATIVE = fileURLToPath(new URL('../native', import.meta.url));
export const TUPLE = `${platform()}-${arch()}`;
export const PREBUILT_DIR = join(NATIVE, 'prebuilds', TUPLE);
/** node-gyp-build's naming: tags napi (any Node ABI) and glibc. */
export const PREBUILT = join(PREBUILT_DIR, 'tapnet_tap.napi.glibc.node');
export const PREBUILT_HASH = join(PREBUILT_DIR, 'tapnet_tap.source-sha256');
export const LOCAL_BUILD = join(NATIVE, 'build', 'Release', 'tapnet_tap.node');

/** sha256 over the files the binary is built from, so a prebuilt binary from older sources is never used. */
export function sourceHash(native = NATIVE) {
  const h = createHash('sha256');
  for (const f of ['tap.cc', 'binding.gyp']) h.update(f).update('\0').update(readFileSync(join(native, f))).update('\0');
  return h.digest('hex');
}
