import { defineConfig } from 'vitest/config';

// Tests that start their own processes or servers, or kill them, and so load the 2-core machine: they run one file at
// a time, after the others, so timing-sensitive checks are not starved by parallel suites.
const isolated = [
  'test/e2e/process-lifecycle.e2e.test.ts',
  'test/e2e/redis-outage.e2e.test.ts',
  'test/e2e/redis-hang.e2e.test.ts',
  'test/e2e/redis-cluster-failover.e2e.test.ts',
  'test/e2e/redis-sentinel-failover.e2e.test.ts',
  'test/e2e/postgres-outage.e2e.test.ts',
  'test/e2e/postgres-hang.e2e.test.ts',
  'test/e2e/redis-cluster.e2e.test.ts',
  'inspect/inspect-cluster.e2e.test.ts',
  'core/redis/apply-updates.cluster.test.ts',
  'test/e2e/backpressure.e2e.test.ts',
  'test/e2e/startup.e2e.test.ts',
  'test/e2e/npm-start.e2e.test.ts',
  'test/chaos/**/*.test.ts',
  'test/loadtest/driver.e2e.test.ts',
  'bench/join-cost.test.ts',
  'bench/join-storm.test.ts',
  'test/e2e/join-storm.e2e.test.ts',
  'player/demo/demo-page.browser.test.ts',
  'player/sdk/package.e2e.test.ts',
];

export default defineConfig({
  test: {
    exclude: ['node_modules/**', 'loadtest/**'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // Node 20 ships its browser-style WebSocket client behind a flag; the e2e tests connect as a browser would.
    execArgv: ['--experimental-websocket', '--no-warnings=ExperimentalWarning'],
    projects: [
      {
        extends: true,
        // Files run in parallel workers; each owns its own Postgres schema and Redis key prefix.
        test: { name: 'main', include: ['**/*.test.ts'], exclude: ['node_modules/**', 'loadtest/**', ...isolated], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'isolated', include: isolated, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
