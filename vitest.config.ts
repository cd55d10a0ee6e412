import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests create namespaces and TAPs; files run in parallel but
    // every test names its own interfaces, so they never collide.
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
