// The short chaos runs inside `npm test`: 40 players over real gateway and worker processes (2 + 2, private Redis and
// Postgres, each behind a proxy that can hang) while Redis restarts empty and hangs, a gateway and a worker are
// SIGKILLed, Postgres restarts and hangs; then 30 players over a 3+3 Redis Cluster whose master is SIGKILLed (its
// replica takes over) and a gateway killed. Every session must settle exactly once, the books must balance, and each
// session's billed time must stay within its bound of the player's true playing time. The long runs are
// `npm run chaos` (test/chaos/run-chaos.ts; `--redis cluster` or `--redis sentinel` for the failovers).
import { describe, expect, it } from 'vitest';
import { runChaos } from './harness.js';
import { chaosDefaults, type ChaosOptions } from './options.js';
import { formatReport, invariantViolations } from './report.js';

const short: ChaosOptions = {
  ...chaosDefaults,
  players: 40,
  durationMs: 40_000,
  rampMs: 3_000,
  faults: 6,
  // One of each, in this order: the quick fault first (its checkpoints are flowing since the start), the slow
  // restarts and hangs after, so all six fit in the window on a busy 2-core machine.
  faultKinds: ['redis_restart_empty', 'redis_hang', 'gateway_kill', 'worker_kill', 'postgres_restart', 'postgres_hang'],
  faultsInOrder: true,
  settleTimeoutMs: 30_000,
  seed: Math.floor(Math.random() * 2 ** 31),
  verbose: false,
};

const shortCluster: ChaosOptions = {
  ...short,
  players: 30,
  durationMs: 25_000,
  faults: 2,
  redisTopology: 'cluster',
  faultKinds: ['cluster_failover', 'gateway_kill'],
};

// Product processes that exit on their own (a crash, an invariant exit) are restarted by the harness, listed in the
// report, and fail this test. CHAOS_FAIL_ON_CRASH=0 only lists them (to look at the books past a known crash).
const failOnCrash = process.env.CHAOS_FAIL_ON_CRASH !== '0';

async function runAndCheck(o: ChaosOptions): Promise<void> {
  const result = await runChaos(o);
  const report = formatReport(result);
  console.log(report);
  expect(result.faults.map((f) => f.kind).sort(), report).toEqual([...o.faultKinds].sort());
  expect(result.faults.filter((f) => f.error !== null), report).toEqual([]);
  expect(result.sessionsInDb, report).toBe(o.players);
  expect(invariantViolations(result), report).toBe(0);
  if (failOnCrash) expect(result.crashes, report).toEqual([]);
}

describe('chaos (short)', () => {
  it('settles every session exactly once, keeps the books balanced and bills within bounds through faults and hangs', async () => {
    await runAndCheck(short);
  }, 240_000);

  it('does the same through a Redis Cluster failover', async () => {
    await runAndCheck(shortCluster);
  }, 240_000);
});
