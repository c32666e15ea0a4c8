// The short chaos run inside `npm test`: 40 players over real gateway and worker processes (2 + 2, private Redis and
// Postgres) while Redis restarts empty, a gateway and a worker are SIGKILLed and Postgres restarts. Every session
// must settle exactly once, the books must balance, and each session's billed time must stay within its bound of the
// player's true playing time. The long run is `npm run chaos` (test/chaos/run-chaos.ts).
import { describe, expect, it } from 'vitest';
import { runChaos } from './harness.js';
import { chaosDefaults, type ChaosOptions } from './options.js';
import { formatReport, invariantViolations } from './report.js';

const short: ChaosOptions = {
  ...chaosDefaults,
  players: 40,
  durationMs: 30_000,
  rampMs: 3_000,
  faults: 4,
  // One of each, in this order: the quick fault first (its checkpoints are flowing since the start), the slow
  // restarts after, so all four fit in the window on a busy 2-core machine.
  faultKinds: ['redis_restart_empty', 'gateway_kill', 'worker_kill', 'postgres_restart'],
  faultsInOrder: true,
  settleTimeoutMs: 30_000,
  seed: Math.floor(Math.random() * 2 ** 31),
  verbose: false,
};

// Product processes that exit on their own (a crash, an invariant exit) are restarted by the harness, listed in the
// report, and fail this test. CHAOS_FAIL_ON_CRASH=0 only lists them (to look at the books past a known crash).
const failOnCrash = process.env.CHAOS_FAIL_ON_CRASH !== '0';

describe('chaos (short)', () => {
  it('settles every session exactly once, keeps the books balanced and bills within bounds through faults', async () => {
    const result = await runChaos(short);
    const report = formatReport(result);
    console.log(report);
    expect(result.faults.map((f) => f.kind).sort(), report).toEqual([...short.faultKinds].sort());
    expect(result.faults.filter((f) => f.error !== null), report).toEqual([]);
    expect(result.sessionsInDb, report).toBe(short.players);
    expect(invariantViolations(result), report).toBe(0);
    if (failOnCrash) expect(result.crashes, report).toEqual([]);
  }, 240_000);
});
