import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'loadtest/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files run in parallel workers; each owns its own Postgres schema and Redis key prefix.
    pool: 'forks',
    // Node 20 ships its browser-style WebSocket client behind a flag; the e2e tests connect as a browser would.
    execArgv: ['--experimental-websocket', '--no-warnings=ExperimentalWarning'],
    maxWorkers: 2,
    reporters: ['default'],
  },
});
