import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'loadtest/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files run in parallel workers; each owns its own Postgres schema and Redis key prefix.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
