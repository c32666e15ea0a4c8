// Refusals say what is true and what the caller can do: a socket to a locked session is told
// to start it, one to a completed session that it is over; an admin/service wallet read names its missing or
// malformed `student_id` (400 invalid_query) instead of a misleading 404.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { productPerFile } from '../helpers/product.js';
import { tryUpgrade } from '../helpers/raw-upgrade.js';
import { courseId, STUDENT, STUDENT_2 } from '../helpers/test-env.js';

const p = productPerFile();


describe('WebSocket refusal by session state', () => {
  it('a locked session: 409, start it first; a completed one: 409, it cannot be connected to (never "start it")', async () => {
    const id = (await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } })).json.session_id;
    const path = `/ws/sessions/${id}?token=${await p.token()}`;

    const locked = await tryUpgrade(p.baseUrl, path);
    expect(locked.status).toBe(409);
    expect(locked.body.error).toEqual({ code: 'wrong_state', message: 'the session is locked; start it before connecting' });

    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
    const completed = await tryUpgrade(p.baseUrl, path);
    expect(completed.status).toBe(409);
    expect(completed.body.error).toEqual({ code: 'wrong_state', message: 'the session is completed; it cannot be connected to' });
  });
});

describe('GET /api/wallet query', () => {
  it('admin and service tokens without student_id get 400 invalid_query saying it is required', async () => {
    for (const role of ['admin', 'service']) {
      const r = await p.api('GET', '/api/wallet', { token: await p.token({ sub: randomUUID(), role }) });
      expect(r.status, role).toBe(400);
      expect(r.json.error.code).toBe('invalid_query');
      expect(r.json.error.message).toBe('the student_id query parameter is required for admin and service tokens');
    }
  });

  it('a student_id that is not a UUID is 400 invalid_query, for any caller', async () => {
    for (const token of [await p.token({ sub: randomUUID(), role: 'admin' }), await p.token()]) {
      for (const bad of ['not-a-uuid', '', '1234']) {
        const r = await p.api('GET', `/api/wallet?student_id=${encodeURIComponent(bad)}`, { token });
        expect(r.status, bad).toBe(400);
        expect(r.json.error).toEqual({ code: 'invalid_query', message: 'the student_id query parameter must be a UUID' });
      }
    }
  });

  it('still: admin with a student_id reads it, a student reads their own, another wallet is 403', async () => {
    const admin = await p.token({ sub: randomUUID(), role: 'admin' });
    expect((await p.api('GET', `/api/wallet?student_id=${STUDENT_2}`, { token: admin })).json.wallet_balance).toBe(500);
    expect((await p.api('GET', '/api/wallet')).json.student_id).toBe(STUDENT);
    expect((await p.api('GET', `/api/wallet?student_id=${STUDENT}`)).status).toBe(200);
    expect((await p.api('GET', `/api/wallet?student_id=${STUDENT_2}`)).status).toBe(403);
  });
});
