// Whose funds a create locks (README "REST API"): a student's token may leave `student_id` out, and the session is
// then the token subject's; a student naming someone else is still refused; an admin, service or teacher token
// without `student_id` is refused 400 `invalid_body` saying to name the student, and nothing moves.
import { describe, expect, it } from 'vitest';
import { createRestClient } from '../../player/sdk/rest-client.js';
import { productPerFile } from '../helpers/product.js';
import { readBooks } from '../helpers/hostile-input.js';
import { courseId, STUDENT, STUDENT_2, TEACHER } from '../helpers/test-env.js';

const p = productPerFile();
const SERVICE = '00000000-0000-0000-0000-00000000a11e';
const ADMIN = '00000000-0000-0000-0000-0000000000ad';

describe('create without student_id', () => {
  it("a student's create locks the token subject's funds, and the session is theirs", async () => {
    const token = await p.token({ sub: STUDENT_2 });
    const before = await readBooks(p.env.pool, STUDENT_2);
    const created = await p.api('POST', '/api/sessions/create', { token, body: { course_id: courseId(1), locked_amount: 3.25 } });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ status: 'locked', locked_amount: 3.25 });
    const id = created.json.session_id as string;
    const row = await p.env.pool.query<{ student_id: string }>('SELECT student_id FROM sessions WHERE id = $1', [id]);
    expect(row.rows[0]?.student_id).toBe(STUDENT_2);
    expect(await readBooks(p.env.pool, STUDENT_2)).toEqual({
      ...before, walletMinor: before.walletMinor - 325, heldMinor: before.heldMinor + 325,
      sessions: before.sessions + 1, ledgerTransactions: before.ledgerTransactions + 1,
    });
    // The owner acts on it; the other student may not read it.
    expect((await p.api('GET', `/api/sessions/${id}/status`, { token })).status).toBe(200);
    const other = await p.api('GET', `/api/sessions/${id}/status`, { token: await p.token({ sub: STUDENT }) });
    expect(other.status).toBe(403);
    const done = await p.api('POST', `/api/sessions/${id}/complete`, { token, body: {} });
    expect(done.json).toMatchObject({ status: 'completed', cost: 0, refund: 3.25 });
  });

  it("the SDK's REST client creates without student_id too, for the token's subject", async () => {
    const rest = createRestClient({ baseUrl: p.baseUrl, token: () => p.token({ sub: STUDENT_2 }) });
    const created = await rest.createSession({ course_id: courseId(3), locked_amount: 1.5 });
    expect(created).toMatchObject({ status: 'locked', locked_amount: 1.5 });
    const row = await p.env.pool.query<{ student_id: string }>('SELECT student_id FROM sessions WHERE id = $1', [created.session_id]);
    expect(row.rows[0]?.student_id).toBe(STUDENT_2);
    expect(await rest.completeSession(created.session_id)).toMatchObject({ status: 'completed', refund: 1.5 });
  });

  it('with an Idempotency-Key, a repeat without student_id answers the same session and locks nothing more', async () => {
    const headers = { 'idempotency-key': `no-student-id-${Date.now()}` };
    const body = { course_id: courseId(2), locked_amount: 1 };
    const first = await p.api('POST', '/api/sessions/create', { body, headers });
    const before = await readBooks(p.env.pool, STUDENT);
    const again = await p.api('POST', '/api/sessions/create', { body, headers });
    expect(again.status).toBe(201);
    expect(again.json.session_id).toBe(first.json.session_id);
    expect(await readBooks(p.env.pool, STUDENT)).toEqual(before);
    await p.api('POST', `/api/sessions/${first.json.session_id}/complete`, { body: {} });
  });

  it('a student naming another student is still refused 403, and nothing moves', async () => {
    const before = await readBooks(p.env.pool, STUDENT_2);
    const r = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT_2, locked_amount: 1 } });
    expect(r.status).toBe(403);
    expect(r.json.error).toEqual({ code: 'forbidden', message: 'a student may lock only their own funds' });
    expect(await readBooks(p.env.pool, STUDENT_2)).toEqual(before);
  });

  it('an admin, service or teacher token without student_id gets 400 invalid_body naming the field, and nothing moves', async () => {
    for (const [sub, role] of [[ADMIN, 'admin'], [SERVICE, 'service'], [TEACHER, 'teacher']] as const) {
      const before = await readBooks(p.env.pool, STUDENT);
      const r = await p.api('POST', '/api/sessions/create', { token: await p.token({ sub, role }), body: { course_id: courseId(1), locked_amount: 1 } });
      expect(r.status, role).toBe(400);
      expect(r.json.error, role).toEqual({ code: 'invalid_body', message: `student_id is required for a ${role} token: name the student whose funds are locked` });
      expect(await readBooks(p.env.pool, STUDENT), role).toEqual(before);
    }
  });

  it('an admin token naming the student still creates for that student', async () => {
    const r = await p.api('POST', '/api/sessions/create', { token: await p.token({ sub: ADMIN, role: 'admin' }), body: { course_id: courseId(1), student_id: STUDENT_2, locked_amount: 1 } });
    expect(r.status, r.text).toBe(201);
    const row = await p.env.pool.query<{ student_id: string }>('SELECT student_id FROM sessions WHERE id = $1', [r.json.session_id]);
    expect(row.rows[0]?.student_id).toBe(STUDENT_2);
    await p.api('POST', `/api/sessions/${r.json.session_id}/complete`, { token: await p.token({ sub: STUDENT_2 }), body: {} });
  });
});
