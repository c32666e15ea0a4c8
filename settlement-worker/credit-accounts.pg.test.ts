// creditAccounts against real Postgres: each account gets the sum of its credits, zero totals touch nothing, and a
// credit to an account that does not exist refuses the whole transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { InvariantError } from '../core/errors.js';
import { withTransaction } from '../core/pg/pool.js';
import { numericToMinor } from '../core/money.js';
import { createTestEnv, TEACHER, type TestEnv } from '../test/helpers/test-env.js';
import { addTeacherWithCourse, fundStudents } from '../test/helpers/funded-students.js';
import { creditAccounts, type SettlementCredits } from './credit-accounts.js';

let env: TestEnv;
let students: string[];
let otherTeacher: string;

beforeAll(async () => {
  env = await createTestEnv();
  students = await fundStudents(env.pool, 2, 1_000);
  otherTeacher = (await addTeacherWithCourse(env.pool, 10)).teacherId;
});
afterAll(async () => {
  await env?.cleanup();
});

/** Wallets of `students`, the two teachers' earnings and the platform balance, in minor units. */
async function balances(): Promise<number[]> {
  const { rows } = await env.pool.query<{ balance: string }>(
    `SELECT balance FROM (
       SELECT 1 AS k, student_id::text AS id, balance FROM wallets WHERE student_id = ANY($1::uuid[])
       UNION ALL SELECT 2, id::text, total_earnings FROM teachers WHERE id = ANY($2::uuid[])
       UNION ALL SELECT 3, '', balance FROM platform_account) b ORDER BY k, id`, [students, [TEACHER, otherTeacher]]);
  return rows.map((r) => numericToMinor(r.balance));
}

const credit = (credits: SettlementCredits) => withTransaction(env.pool, (tx) => creditAccounts(tx, credits));

describe('creditAccounts', () => {
  it('credits each account the sum of its credits, and leaves accounts whose credits sum to zero alone', async () => {
    // Proves the per-account sums of a batch reach the right rows, once each.
    const before = await balances();
    const [a, b] = [...students].sort();
    await credit({
      refunds: [{ id: a!, amountMinor: 3 }, { id: b!, amountMinor: 0 }, { id: a!, amountMinor: 4 }],
      earnings: [{ id: TEACHER, amountMinor: 10 }, { id: TEACHER, amountMinor: 5 }, { id: otherTeacher, amountMinor: 0 }],
      platformFeeMinor: 2,
    });
    const teachers = [TEACHER, otherTeacher].sort();
    const teacherDelta = teachers.map((t) => (t === TEACHER ? 15 : 0));
    expect(await balances()).toEqual([before[0]! + 7, before[1]!, before[2]! + teacherDelta[0]!, before[3]! + teacherDelta[1]!, before[4]! + 2]);
  });

  it('refuses a credit to a wallet or a teacher that does not exist, and writes nothing', async () => {
    // Proves a missing account aborts the transaction instead of silently dropping money.
    const before = await balances();
    await expect(credit({ refunds: [{ id: students[0]!, amountMinor: 1 }, { id: randomUUID(), amountMinor: 1 }], earnings: [], platformFeeMinor: 1 }))
      .rejects.toBeInstanceOf(InvariantError);
    await expect(credit({ refunds: [{ id: students[0]!, amountMinor: 1 }], earnings: [{ id: randomUUID(), amountMinor: 1 }], platformFeeMinor: 0 }))
      .rejects.toBeInstanceOf(InvariantError);
    expect(await balances()).toEqual(before);
  });
});
