// settleBatch against real Postgres: a batch settles exactly as the same sessions settled one by one, in order
// (figures, outcomes, balances, ledger), and a poisoned batch writes nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { InvariantError } from '../core/errors.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import type { Pool } from '../core/pg/pool.js';
import { createTestEnv, courseId, TEACHER, type TestEnv } from '../test/helpers/test-env.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import { frozenSession, lockSession, readSessionRow } from '../test/helpers/sessions.js';
import { numericToMinor } from '../core/money.js';
import { addTeacherWithCourse, fundStudents } from '../test/helpers/funded-students.js';
import { settleOrSkip } from './settle-session.js';
import { settleBatch } from './settle-batch.js';
import { SessionNotFoundError, type SettleOutcome } from './settlement-decision.js';

/** One world per way of settling: the same students, teachers and sessions, by index. */
interface World {
  env: TestEnv;
  students: string[];
  teachers: string[];
  /** Per teacher index, the courses it may sell. */
  courses: string[][];
  totalBefore: number;
}

let one: World;
let batch: World;

async function makeWorld(): Promise<World> {
  const env = await createTestEnv();
  const students = await fundStudents(env.pool, 3, 100_000_00);
  const extra = await addTeacherWithCourse(env.pool, 37);
  return {
    env, students, teachers: [TEACHER, extra.teacherId],
    courses: [[courseId(1), courseId(4), courseId(10)], [extra.courseId]],
    totalBefore: await totalBalancesMinor(env.pool),
  };
}

beforeAll(async () => {
  [one, batch] = await Promise.all([makeWorld(), makeWorld()]);
});
afterEach(async () => {
  await assertMoneyInvariants(one.env.pool, one.totalBefore);
  await assertMoneyInvariants(batch.env.pool, batch.totalBefore);
});
afterAll(async () => {
  await Promise.all([one?.env.cleanup(), batch?.env.cleanup()]);
});

const endReasons = ['completed', 'disconnected', 'funds_exhausted', 'abandoned'] as const;
const sessionSpec = fc.record({
  student: fc.nat(2),
  teacher: fc.nat(1),
  course: fc.nat(2),
  lockedMinor: fc.integer({ min: 1, max: 50_000 }),
  started: fc.boolean(),
  endReason: fc.constantFrom(...endReasons),
  billedPermille: fc.integer({ min: 0, max: 1000 }),
});
type SessionSpec = typeof sessionSpec extends fc.Arbitrary<infer T> ? T : never;
const scenario = fc.record({
  feeBps: fc.constantFrom(0, 1, 250, 3333),
  sessions: fc.array(sessionSpec, { minLength: 1, maxLength: 10 }),
}).chain((s) => fc.record({
  feeBps: fc.constant(s.feeBps),
  sessions: fc.constant(s.sessions),
  // Settled before the batch runs: the batch must return their stored figures and move nothing.
  preSettled: fc.uniqueArray(fc.nat(s.sessions.length - 1), { maxLength: s.sessions.length }),
  // Duplicates allowed: the same session twice in one batch settles once.
  order: fc.array(fc.nat(s.sessions.length - 1), { minLength: 1, maxLength: 24 }),
}));

/** Creates the session in `w` as specified and returns what the meter would freeze for it. */
async function createSession(w: World, spec: SessionSpec): Promise<FrozenSession> {
  const courses = w.courses[spec.teacher]!;
  const s = await lockSession(w.env.pool, {
    studentId: w.students[spec.student]!, courseId: courses[spec.course % courses.length]!, lockedMinor: spec.lockedMinor,
  });
  if (spec.started) await w.env.pool.query(`UPDATE sessions SET status = 'active', start_time = now() WHERE id = $1`, [s.sessionId]);
  if (spec.endReason === 'abandoned') return frozenSession(s.sessionId, { endReason: 'abandoned' });
  const billedMs = spec.endReason === 'funds_exhausted' ? s.maxBillableMs : Math.floor((s.maxBillableMs * spec.billedPermille) / 1000);
  return frozenSession(s.sessionId, { endReason: spec.endReason, billedMs, completionPct: '12.5' });
}

/** Everything a settlement decides or moves, with session, student and teacher ids replaced by their indexes. */
async function snapshot(w: World, frozen: readonly FrozenSession[], outcomes: readonly SettleOutcome[]): Promise<unknown> {
  const ids = frozen.map((f) => f.sessionId);
  const name = (id: string | null) => {
    if (id === null) return null;
    const i = ids.indexOf(id);
    if (i >= 0) return `s${i}`;
    const st = w.students.indexOf(id);
    if (st >= 0) return `student${st}`;
    const course = w.courses.flat().indexOf(id);
    return course >= 0 ? `course${course}` : `teacher${w.teachers.indexOf(id)}`;
  };
  const rows = await Promise.all(ids.map(async (id) => {
    const { ended_at: _endedAt, ...row } = (await readSessionRow(w.env.pool, id))!;
    return row;
  }));
  const ledger = await w.env.pool.query<{ session_id: string; account_type: string; account_id: string | null; amount: string }>(
    `SELECT t.session_id, e.account_type, e.account_id, e.amount FROM ledger_transactions t
       JOIN ledger_entries e ON e.transaction_id = t.id
      WHERE t.kind = 'settle' AND t.session_id = ANY($1::uuid[])`, [ids]);
  const balances = await w.env.pool.query<{ kind: string; id: string | null; balance: string }>(
    `SELECT 'wallet' AS kind, student_id AS id, balance FROM wallets WHERE student_id = ANY($1::uuid[])
     UNION ALL SELECT 'teacher', id, total_earnings FROM teachers WHERE id = ANY($2::uuid[])
     UNION ALL SELECT 'platform', NULL, balance FROM platform_account`, [w.students, w.teachers]);
  const remainders = await w.env.pool.query<{ student_id: string; course_id: string; sub_minor_owed: string }>(
    'SELECT student_id, course_id, sub_minor_owed FROM billing_remainders WHERE student_id = ANY($1::uuid[])', [w.students]);
  return {
    outcomes: outcomes.map((o) => ({ ...o, sessionId: name(o.sessionId) })),
    rows,
    remainders: remainders.rows.map((r) => `${name(r.student_id)} ${name(r.course_id)} ${r.sub_minor_owed}`).sort(),
    ledger: ledger.rows.map((e) => `${name(e.session_id)} ${e.account_type} ${name(e.account_id)} ${e.amount}`).sort(),
    balances: balances.rows.map((b) => `${b.kind} ${name(b.id)} ${b.balance}`).sort(),
  };
}

async function settleOneByOne(pool: Pool, frozen: readonly FrozenSession[], feeBps: number): Promise<SettleOutcome[]> {
  const outcomes: SettleOutcome[] = [];
  for (const f of frozen) outcomes.push(await settleOrSkip(pool, f, feeBps));
  return outcomes;
}

describe('settleBatch', () => {
  it('settles a batch exactly as one by one: duplicates, already-settled sessions, shared students and teachers', async () => {
    // Proves the batch path's figures, outcomes, balances and ledger equal the one-transaction-per-session path's.
    await fc.assert(fc.asyncProperty(scenario, async ({ feeBps, sessions, preSettled, order }) => {
      const frozenOne: FrozenSession[] = [];
      const frozenBatch: FrozenSession[] = [];
      for (const spec of sessions) {
        frozenOne.push(await createSession(one, spec));
        frozenBatch.push(await createSession(batch, spec));
      }
      const pre = preSettled.map((i) => i);
      await settleOneByOne(one.env.pool, pre.map((i) => frozenOne[i]!), feeBps);
      await settleOneByOne(batch.env.pool, pre.map((i) => frozenBatch[i]!), feeBps);

      const outcomesOne = await settleOneByOne(one.env.pool, order.map((i) => frozenOne[i]!), feeBps);
      const outcomesBatch = await settleBatch(batch.env.pool, order.map((i) => frozenBatch[i]!), feeBps, { refuseSkips: false });

      const byIndex = (outcomes: SettleOutcome[], frozen: FrozenSession[]) => outcomes.map((o, k) => {
        expect(o.sessionId).toBe(frozen[order[k]!]!.sessionId);
        return o;
      });
      expect(await snapshot(batch, frozenBatch, byIndex(outcomesBatch, frozenBatch)))
        .toEqual(await snapshot(one, frozenOne, byIndex(outcomesOne, frozenOne)));
    }), { numRuns: 40 });
  }, 120_000);

  it('charges a viewing split into 1–20 sessions, settled by either path in any mix, what one session would cost', async () => {
    // Proves the split rule end to end in Postgres: total cost = floor(whole billed ms × price / 60000), the carried
    // remainder left is the exact fraction, each session's row accounts for its own cost, and the ledger balances.
    const split = fc.record({
      priceMinor: fc.integer({ min: 1, max: 5_000 }),
      feeBps: fc.constantFrom(0, 250, 3333),
      pieces: fc.array(fc.record({ billedMs: fc.integer({ min: 0, max: 20_000 }), batched: fc.boolean() }), { minLength: 1, maxLength: 20 }),
    });
    await fc.assert(fc.asyncProperty(split, async ({ priceMinor, feeBps, pieces }) => {
      const w = one;
      const { courseId: course } = await addTeacherWithCourse(w.env.pool, priceMinor);
      const student = w.students[0]!;
      const frozen: FrozenSession[] = [];
      for (const piece of pieces) {
        const lockedMinor = Math.ceil((piece.billedMs * priceMinor) / 60_000) + 1;
        const s = await lockSession(w.env.pool, { studentId: student, courseId: course, lockedMinor });
        await w.env.pool.query(`UPDATE sessions SET status = 'active', start_time = now() WHERE id = $1`, [s.sessionId]);
        frozen.push(frozenSession(s.sessionId, { billedMs: piece.billedMs }));
      }
      // Consecutive pieces marked `batched` settle together in one batch; the others one at a time, in order.
      for (let i = 0; i < pieces.length;) {
        let j = i + 1;
        if (pieces[i]!.batched) while (j < pieces.length && pieces[j]!.batched) j += 1;
        if (pieces[i]!.batched) await settleBatch(w.env.pool, frozen.slice(i, j), feeBps, { refuseSkips: true });
        else await settleOrSkip(w.env.pool, frozen[i]!, feeBps);
        i = j;
      }
      const totalMs = pieces.reduce((sum, p) => sum + p.billedMs, 0);
      const { rows } = await w.env.pool.query<{ cost: string; teacher_earning: string; platform_fee: string }>(
        'SELECT cost, teacher_earning, platform_fee FROM sessions WHERE id = ANY($1::uuid[])', [frozen.map((f) => f.sessionId)]);
      const charged = rows.reduce((sum, r) => sum + numericToMinor(r.cost), 0);
      expect(charged).toBe(Math.floor((totalMs * priceMinor) / 60_000));
      for (const r of rows) expect(numericToMinor(r.teacher_earning) + numericToMinor(r.platform_fee)).toBe(numericToMinor(r.cost));
      const left = await w.env.pool.query<{ sub_minor_owed: string }>(
        'SELECT sub_minor_owed FROM billing_remainders WHERE student_id = $1 AND course_id = $2', [student, course]);
      expect(Number(left.rows[0]?.sub_minor_owed ?? 0)).toBe((totalMs * priceMinor) % 60_000);
      await assertMoneyInvariants(w.env.pool, w.totalBefore);
    }), { numRuns: 25 });
  }, 120_000);

  it('writes nothing when one entry is poisoned, and refuses an unknown session', async () => {
    // Proves a batch is all or nothing: a broken invariant in its last entry rolls back the entries before it.
    const w = batch;
    const good = await createSession(w, { student: 0, teacher: 0, course: 0, lockedMinor: 1_000, started: true, endReason: 'completed', billedPermille: 500 });
    const bad = await createSession(w, { student: 1, teacher: 1, course: 0, lockedMinor: 1_000, started: true, endReason: 'completed', billedPermille: 100 });
    const poisoned = { ...bad, billedMs: bad.billedMs + 1 }; // progress no longer sums to billed ms

    await expect(settleBatch(w.env.pool, [good, poisoned], 0, { refuseSkips: true })).rejects.toBeInstanceOf(InvariantError);
    expect((await readSessionRow(w.env.pool, good.sessionId))!.status).toBe('active');

    await expect(settleBatch(w.env.pool, [good, frozenSession(randomUUID())], 0, { refuseSkips: true }))
      .rejects.toBeInstanceOf(SessionNotFoundError);
    expect((await readSessionRow(w.env.pool, good.sessionId))!.status).toBe('active');

    // An `abandoned` entry for a started session is refused where skips are refused (stream entries).
    await expect(settleBatch(w.env.pool, [good, frozenSession(bad.sessionId, { endReason: 'abandoned' })], 0, { refuseSkips: true }))
      .rejects.toBeInstanceOf(InvariantError);
    const [settled] = await settleBatch(w.env.pool, [good, bad], 0, { refuseSkips: true });
    expect(settled).toMatchObject({ sessionId: good.sessionId, alreadySettled: false });
  });
});
