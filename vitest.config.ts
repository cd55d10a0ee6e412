import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests create namespaces and TAPs; two files run at a time
    // (every test names its own interfaces, so they never collide). Vitest's
    // default is one fewer than the CPUs: on a 2-CPU machine, one file at a
    // time, while most integration tests spend their time waiting on real
    // clients and timers (measured: 17.2 → 12.5 minutes for the whole suite).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'stack', include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'] } },
      // Browser tests (Debian's chromium through playwright-core): skipped, naming chromium, where it is absent.
      { extends: true, test: { name: 'browser', include: ['tests/browser/**/*.test.ts'] } },
    ],
  },
});
