// Splitting a viewing into short sessions, end to end through the gateway and the worker (README "Money and
// metering rules"): three sessions of about 4.9 s on a 0.10-a-minute course, each locking one cent and ended by
// `complete`, charged 0.00 each before the carried remainder; now they cost what 14.77 s in one session costs.
import { afterEach, describe, expect, it } from 'vitest';
import { productPerFile } from '../helpers/product.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, STUDENT, TEACHER } from '../helpers/test-env.js';

const p = productPerFile({ HEARTBEAT_INTERVAL_MS: '5000', PLATFORM_FEE_BPS: '2500' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cents = (x: number) => Math.round(x * 100);
/** Seeded course 7, "Linear Algebra Refresher": 0.10 a minute, so one cent buys 6 s. */
const tenCentsAMinute = 7;

afterEach(() => closeAllSockets());

/** Lock 0.01, start, play `billedSeconds` (the player's own clock caps the credit), then `complete` over REST. */
async function shortSession(billedSeconds: number): Promise<{ id: string; cost: number; duration: number }> {
  const id = await p.liveSession(0.01, tenCentsAMinute);
  const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
  await s.next('ready');
  await sleep(billedSeconds * 1000 + 100);
  s.send(heartbeat(1, { duration_seconds: billedSeconds }));
  expect((await s.ack(1)).duration_seconds).toBe(billedSeconds);
  const done = await p.api('POST', `/api/sessions/${id}/complete`);
  expect(done.status).toBe(200);
  return { id, cost: cents(done.json.cost), duration: done.json.duration_seconds };
}

describe('a viewing split into short sessions', () => {
  it('3 × 4.9 s at 0.10 a minute cost 0.00, 0.01, 0.01: the 0.02 that 14.77 s in one session costs', async () => {
    // Proves the free-viewing split is closed through the real product: the wallet, the teacher and each session's
    // carried remainder move exactly as one 14.77 s session would have moved them.
    const wallet0 = cents((await p.api('GET', `/api/wallet?student_id=${STUDENT}`)).json.wallet_balance);
    const earnings0 = await teacherEarningsMinor();

    const sessions = [];
    for (const seconds of [4.93, 4.92, 4.92]) sessions.push(await shortSession(seconds));

    expect(sessions.map((s) => s.duration)).toEqual([4.93, 4.92, 4.92]);
    // 4.93 s × 10 / 60 = 0.82 cent carried; + 0.82 → 1.64: one cent charged, 0.64 carried; + 0.82 → 1.46: one more.
    expect(sessions.map((s) => s.cost)).toEqual([0, 1, 1]);
    const rows = await p.env.pool.query<{ id: string; cost: string; sub_minor_carried_in: string; sub_minor_carried_out: string }>(
      'SELECT id, cost, sub_minor_carried_in, sub_minor_carried_out FROM sessions WHERE id = ANY($1::uuid[])', [sessions.map((s) => s.id)]);
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    expect(sessions.map((s) => [byId.get(s.id)!.sub_minor_carried_in, byId.get(s.id)!.sub_minor_carried_out]))
      .toEqual([['0', '49300'], ['49300', '38500'], ['38500', '27700']]);
    const left = await p.env.pool.query<{ sub_minor_owed: string }>(
      'SELECT sub_minor_owed FROM billing_remainders WHERE student_id = $1 AND course_id = $2', [STUDENT, courseId(tenCentsAMinute)]);
    expect(left.rows[0]!.sub_minor_owed).toBe(String((14_770 * 10) % 60_000));

    const wallet1 = cents((await p.api('GET', `/api/wallet?student_id=${STUDENT}`)).json.wallet_balance);
    expect(wallet0 - wallet1).toBe(2);
    // The teacher gets the two cents less the platform fee, rounded in the teacher's favour, per session.
    const feeBps = p.env.config.platformFeeBps;
    const teacherShare = sessions.reduce((sum, s) => sum + s.cost - Math.floor((s.cost * feeBps) / 10_000), 0);
    expect(teacherShare).toBeGreaterThanOrEqual(2 - Math.floor((2 * feeBps) / 10_000));
    expect((await teacherEarningsMinor()) - earnings0).toBe(teacherShare);
  }, 60_000);
});

async function teacherEarningsMinor(): Promise<number> {
  const { rows } = await p.env.pool.query<{ total_earnings: string }>('SELECT total_earnings FROM teachers WHERE id = $1', [TEACHER]);
  return cents(Number(rows[0]!.total_earnings));
}
