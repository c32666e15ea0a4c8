// Concurrent creates never overdraw a wallet (docs/money.md "Holds"): N creates with different
// Idempotency-Keys against a balance that covers one of them lock it exactly once; the others answer 402
// insufficient_funds (never a 5xx from the balance's CHECK constraint) and move nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { fundStudents } from '../helpers/funded-students.js';
import { readBalances } from '../helpers/sessions.js';
import { courseId, TEACHER } from '../helpers/test-env.js';

const rounds = 8;
const createsPerRound = 5;
const balanceMinor = 100;
const lockedMinor = 60;
let p: Product;
let total0: number;
let students: string[];

beforeAll(async () => {
  p = await startProduct();
  // One fresh student per round: every round starts from a balance that covers exactly one create.
  students = await fundStudents(p.env.pool, rounds, balanceMinor);
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { await p?.stop(); });
afterEach(async () => {
  await assertMoneyInvariants(p.env.pool, total0);
  expect(p.brokenInvariants).toEqual([]);
});

async function openSessionsOf(studentId: string): Promise<number> {
  const { rows } = await p.env.pool.query<{ n: string }>('SELECT count(*) AS n FROM sessions WHERE student_id = $1', [studentId]);
  return Number(rows[0]!.n);
}

describe('concurrent creates with different Idempotency-Keys on one wallet', () => {
  it('exactly one 201, the rest 402 insufficient_funds, no 5xx, the balance falls by one amount', async () => {
    for (const studentId of students) {
      const token = await p.token({ sub: studentId });
      const results = await Promise.all(Array.from({ length: createsPerRound }, () => p.api('POST', '/api/sessions/create', {
        token,
        headers: { 'idempotency-key': randomUUID() },
        body: { course_id: courseId(1), student_id: studentId, locked_amount: lockedMinor / 100 },
      })));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses, results.map((r) => r.text).join('\n')).toEqual([201, ...Array(createsPerRound - 1).fill(402)]);
      for (const r of results.filter((x) => x.status === 402)) expect(r.json.error.code).toBe('insufficient_funds');
      expect((await readBalances(p.env.pool, studentId, TEACHER)).walletMinor).toBe(balanceMinor - lockedMinor);
      expect(await openSessionsOf(studentId)).toBe(1);
    }
  });
});
