import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Integration tests create namespaces and TAPs; files run in parallel but
    // every test names its own interfaces, so they never collide.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
