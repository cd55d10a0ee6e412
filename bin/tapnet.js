#!/usr/bin/env node
// Entry point: run the TypeScript sources directly through tsx (no build step).
//
// A package that does not load here (missing, or a file of it missing or cut short: what an interrupted
// `npm install` leaves, and a later `npm install` does not notice) is one line saying how to mend it, exit 1,
// instead of Node's stack trace. scripts/build-native.mjs runs `tapnet --help` at `npm install` to catch it there.
let main;
try {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
} catch (e) {
  const where = `${e?.message ?? ''}\n${e?.stack ?? ''}`;
  const missing = e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || e?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
  if (missing || (e instanceof SyntaxError && where.includes('/node_modules/'))) {
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/\s:'"]+)/.exec(where)?.[1];
    let why = String(e.message).split('\n')[0].replace(/ imported from .*/, '');
    if (pkg && !why.startsWith('Cannot find package')) why += ` (package ${pkg})`;
    process.stderr.write(`tapnet: node_modules is incomplete (${why}; a half-finished npm install?): rm -rf node_modules && npm install\n`);
    process.exit(1);
  }
  throw e;
}
await main(process.argv.slice(2));
