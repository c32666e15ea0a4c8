// One student flooding creates (README "Rate limits") slows no one else: the victim's wallet reads and its own
// session are never refused; the flooder meets 429 too_many_requests and 409 too_many_open_holds, never a 5xx; the
// flooder's open holds stop at the cap. With the shipped defaults for the REST allowance.
import { describe, expect, it } from 'vitest';
import { productPerFile, type ApiResult } from '../helpers/product.js';
import { courseId, STUDENT, STUDENT_2 } from '../helpers/test-env.js';
import { openHoldsPerStudentMax } from '../../core/limits.js';

const p = productPerFile({ REST_RATE_BURST: '60', REST_RATE_PER_SECOND: '10' });
const FLOODER = STUDENT;
const VICTIM = STUDENT_2;
const floodLoops = 250;
const victimRounds = 5;

async function openHolds(studentId: string): Promise<number> {
  const { rows } = await p.env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM holds h JOIN sessions s ON s.id = h.session_id
     WHERE h.student_id = $1 AND h.released_at IS NULL AND s.status = 'locked'`, [studentId]);
  return rows[0]!.n;
}

describe('a one-student create flood', () => {
  it('never refuses another student, answers the flooder 429 / 409 and never 5xx, and caps its open holds', async () => {
    const flooderToken = await p.token({ sub: FLOODER });
    const victimToken = await p.token({ sub: VICTIM });
    const floodBody = { course_id: courseId(1), student_id: FLOODER, locked_amount: 0.01 };
    const floodAnswers = new Map<string, number>();
    const refusals429: ApiResult[] = [];
    let flooding = true;
    const loop = async () => {
      while (flooding) {
        const r = await p.api('POST', '/api/sessions/create', { token: flooderToken, body: floodBody });
        const key = `${r.status} ${r.json?.error?.code ?? ''}`.trim();
        floodAnswers.set(key, (floodAnswers.get(key) ?? 0) + 1);
        if (r.status === 429 && refusals429.length < 5) refusals429.push(r);
      }
    };
    const flood = Array.from({ length: floodLoops }, loop);

    // The victim plays as a player does, while the flood runs: wallet, create, start; each answered, none refused.
    const victim: string[] = [];
    const victimSessions: string[] = [];
    await new Promise((r) => setTimeout(r, 300));
    for (let round = 0; round < victimRounds; round++) {
      const wallet = await p.api('GET', '/api/wallet', { token: victimToken });
      victim.push(`wallet ${wallet.status}`);
      const created = await p.api('POST', '/api/sessions/create', { token: victimToken, body: { course_id: courseId(1), student_id: VICTIM, locked_amount: 1 } });
      victim.push(`create ${created.status} ${created.text.slice(0, 80)}`);
      if (created.status !== 201) continue;
      victimSessions.push(created.json.session_id);
      const started = await p.api('POST', `/api/sessions/${created.json.session_id}/start`, { token: victimToken });
      victim.push(`start ${started.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    flooding = false;
    await Promise.all(flood);

    expect(victim.filter((v) => !/ 20[01]\b/.test(v)), victim.join('\n')).toEqual([]);
    expect(victimSessions).toHaveLength(victimRounds);
    const answers = Object.fromEntries(floodAnswers);
    // Every flood answer is one of these, and both refusals were met (no 5xx, no other code).
    expect(Object.keys(answers).every((k) => ['201', '409 too_many_open_holds', '429 too_many_requests'].includes(k)), JSON.stringify(answers)).toBe(true);
    expect(answers['429 too_many_requests'], JSON.stringify(answers)).toBeGreaterThan(0);
    expect(answers['409 too_many_open_holds'], JSON.stringify(answers)).toBeGreaterThan(0);
    expect(answers['201']).toBe(openHoldsPerStudentMax);
    expect(await openHolds(FLOODER)).toBe(openHoldsPerStudentMax);
    for (const r of refusals429) expect(r.json.error.details.retry_after_seconds).toBeGreaterThanOrEqual(1);

    for (const id of victimSessions) expect((await p.api('POST', `/api/sessions/${id}/complete`, { token: victimToken, body: {} })).status).toBe(200);
  }, 180_000);

  it('answers 429 with a Retry-After of whole seconds, the same in the body', async () => {
    // The flooder's bucket may still be empty from the test above: a fresh student-role subject has a full one.
    const token = await p.token({ sub: '00000000-0000-0000-0000-0000000000f1' });
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(`${p.baseUrl}/api/courses`, { headers: { authorization: `Bearer ${token}` } })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(60);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused).toBeDefined();
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    const body = await refused.json() as { error: { code: string; details: { retry_after_seconds: number } } };
    expect(body.error.code).toBe('too_many_requests');
    expect(body.error.details.retry_after_seconds).toBe(Number(refused.headers.get('retry-after')));
    await Promise.all(answers.filter((a) => !a.bodyUsed).map((a) => a.body?.cancel()));
  });

  it('an admin or service token is not metered', async () => {
    const token = await p.token({ sub: '00000000-0000-0000-0000-00000000a11e', role: 'service' });
    const statuses = await Promise.all(Array.from({ length: 120 }, async () => (await fetch(`${p.baseUrl}/api/courses`, { headers: { authorization: `Bearer ${token}` } })).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});

describe('the open-holds cap', () => {
  it('refuses the create past the cap with 409, moves nothing, and still answers an Idempotency-Key replay', async () => {
    const student = VICTIM;
    const token = await p.token({ sub: student });
    const body = { course_id: courseId(2), student_id: student, locked_amount: 0.5 };
    const already = await openHolds(student);
    let firstKeyed: string | null = null;
    for (let i = already; i < openHoldsPerStudentMax; i++) {
      const r = await p.api('POST', '/api/sessions/create', { token, body, headers: { 'idempotency-key': `cap-${i}` } });
      expect(r.status, r.text).toBe(201);
      firstKeyed ??= `cap-${i}`;
    }
    const wallet0 = (await p.api('GET', '/api/wallet', { token })).json;
    const over = await p.api('POST', '/api/sessions/create', { token, body });
    expect(over.status).toBe(409);
    expect(over.json.error.code).toBe('too_many_open_holds');
    expect((await p.api('GET', '/api/wallet', { token })).json).toEqual(wallet0);
    // A replay is not a new hold: it answers the earlier session, at the cap as anywhere.
    const replay = await p.api('POST', '/api/sessions/create', { token, body, headers: { 'idempotency-key': firstKeyed! } });
    expect(replay.status).toBe(201);
    // Completing one (it was never started: refunded in full) makes room for one more.
    const some = await p.env.pool.query<{ id: string }>(`SELECT id FROM sessions WHERE student_id = $1 AND status = 'locked' LIMIT 1`, [student]);
    expect((await p.api('POST', `/api/sessions/${some.rows[0]!.id}/complete`, { token, body: {} })).status).toBe(200);
    expect((await p.api('POST', '/api/sessions/create', { token, body })).status).toBe(201);
  });
});
