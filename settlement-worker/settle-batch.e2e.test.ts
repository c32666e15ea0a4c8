// Batched settlement in the worker, on real Redis and Postgres: a poisoned entry in a batch is dead-lettered while the
// rest settle, and a worker process SIGKILLed in the middle of a batch transaction leaves every entry pending, after
// which another worker settles each session exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createLogger } from '../core/log.js';
import { createMeter, type Meter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { toSettleEntry, type FrozenSession } from '../core/protocol/settlement.js';
import { createTestEnv, courseId, TEACHER, type TestEnv } from '../test/helpers/test-env.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import { eventually, frozenSession, lockSession } from '../test/helpers/sessions.js';
import { fundStudents } from '../test/helpers/funded-students.js';
import { deadLetters, pendingEntries, storedEntries } from '../test/helpers/settle-streams.js';
import { envFor, startProcess, stopAll, waitForLog } from '../test/helpers/processes.js';
import { createSettlementWorker, type SettlementWorker } from './worker.js';

let env: TestEnv;
let meter: Meter;
let students: string[];
let totalBefore: number;
const running: SettlementWorker[] = [];

beforeAll(async () => {
  env = await createTestEnv({ SETTLE_CLAIM_IDLE_MS: '1000' });
  meter = createMeter(env.redis, env.keys, meterLimits(env.config));
  await meter.ensureSettleGroups();
  students = await fundStudents(env.pool, 5, 10_000_00);
  totalBefore = await totalBalancesMinor(env.pool);
});
afterEach(async () => {
  stopAll();
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await assertMoneyInvariants(env.pool, totalBefore);
});
afterAll(async () => {
  await env.cleanup();
});

async function startWorker(): Promise<SettlementWorker> {
  const worker = createSettlementWorker({ config: env.config, pool: env.pool, redis: env.redis, log: createLogger(env.config, 'test-worker') });
  running.push(worker);
  await worker.start();
  return worker;
}

/** `count` sessions of the seeded teacher, shared among the funded students, each having watched 30 s. */
async function endedSessions(count: number): Promise<FrozenSession[]> {
  const out: FrozenSession[] = [];
  for (let i = 0; i < count; i++) {
    const s = await lockSession(env.pool, { studentId: students[i % students.length]!, courseId: courseId((i % 10) + 1), lockedMinor: 1_000 });
    await env.pool.query(`UPDATE sessions SET status = 'active' WHERE id = $1`, [s.sessionId]);
    out.push(frozenSession(s.sessionId, { billedMs: Math.min(30_000, s.maxBillableMs - 1) }));
  }
  return out;
}

/** All entries in bucket 0's stream, so one XREADGROUP delivers them as one batch. */
async function enqueueInOneStream(frozen: readonly FrozenSession[]): Promise<string[]> {
  const ids: string[] = [];
  for (const f of frozen) ids.push((await env.redis.xadd(env.keys.settleStream(0), '*', ...Object.entries(toSettleEntry(f, Date.now())).flat()))!);
  return ids;
}

async function statuses(frozen: readonly FrozenSession[]): Promise<Record<string, number>> {
  const { rows } = await env.pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM sessions WHERE id = ANY($1::uuid[]) GROUP BY status', [frozen.map((f) => f.sessionId)]);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

async function settleTransactions(frozen: readonly FrozenSession[]): Promise<number> {
  const { rows } = await env.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'settle' AND session_id = ANY($1::uuid[])`, [frozen.map((f) => f.sessionId)]);
  return Number(rows[0]!.n);
}

describe('batched settlement', () => {
  it('dead-letters the one poisoned entry of a batch and settles the others', async () => {
    // Proves a data error in one entry does not block its batch: the batch falls back to one entry per transaction.
    const frozen = await endedSessions(20);
    const poisoned = { ...frozen[7]!, billedMs: frozen[7]!.billedMs + 1 }; // its lecture progress no longer sums to it
    const entryIds = await enqueueInOneStream([...frozen.slice(0, 7), poisoned, ...frozen.slice(8)]);

    await startWorker();

    await eventually(async () => (await statuses(frozen)).completed === 19, 10_000, '19 settled');
    const dead = await eventually(async () => {
      const all = await deadLetters(env.redis, env.keys);
      return all.length === 1 ? all : null;
    }, 3_000, 'one dead letter');
    expect(dead[0]!.fields).toMatchObject({ entry_id: entryIds[7], reason: expect.stringMatching(/^invariant: .*lecture progress sums to/) });
    expect((await statuses([frozen[7]!])).active).toBe(1);
    expect(await settleTransactions(frozen)).toBe(19);
    await eventually(async () => (await storedEntries(env.redis, env.keys)) === 0, 3_000, 'all entries acked');
    expect(await pendingEntries(env.redis, env.keys)).toBe(0);
  });

  it('a worker SIGKILLed mid-batch leaves every entry pending; another settles each session exactly once', async () => {
    // Proves the batch is one transaction: killed while it waits for the teacher row (sessions, holds and ledger
    // already written), it rolls back entirely, and the reclaimed entries settle once.
    const frozen = await endedSessions(30);
    // Holding the teacher row stops the worker's batch after it has written sessions, holds and ledger rows.
    const blocker = new pg.Client({ connectionString: env.config.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM ${env.schema}.teachers WHERE id = $1 FOR UPDATE`, [TEACHER]);
      const blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await enqueueInOneStream(frozen);

      const doomed = startProcess('settlement-worker/main.ts', envFor(env, { WORKER_CONSUMER_NAME: 'doomed', SETTLE_CLAIM_IDLE_MS: '1000' }));
      await waitForLog(doomed, /settlement worker started/);
      await eventually(async () => {
        const { rows } = await env.pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [blockerPid]);
        return Number(rows[0]!.n) > 0;
      }, 10_000, 'the batch waiting for the teacher row');
      doomed.child.kill('SIGKILL');
      await doomed.exited;
      await blocker.query('ROLLBACK');

      expect(await pendingEntries(env.redis, env.keys)).toBe(30);
      expect(await statuses(frozen)).toEqual({ active: 30 });
      expect(await settleTransactions(frozen)).toBe(0);
    } finally {
      await blocker.end();
    }

    await startWorker();
    await eventually(async () => (await statuses(frozen)).completed === 30, 10_000, 'reclaimed and settled');
    await eventually(async () => (await pendingEntries(env.redis, env.keys)) === 0, 3_000, 'entries acked');
    expect(await settleTransactions(frozen)).toBe(30);
  });
});
