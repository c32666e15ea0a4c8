// A teacher reads, never acts (docs/rest-api.md "Authentication and roles"): the teacher of a session's course may read
// its status (what a teacher dashboard needs); a teacher of another course is refused, saying so; and no teacher may
// start, update, complete or connect to a student's session, even on their own course.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { productPerFile } from '../helpers/product.js';
import { tryUpgrade } from '../helpers/raw-upgrade.js';
import { courseId, STUDENT, TEACHER } from '../helpers/test-env.js';

const p = productPerFile();

const ownTeacher = () => p.token({ sub: TEACHER, role: 'teacher' });
const otherTeacher = () => p.token({ sub: randomUUID(), role: 'teacher' });
const create = async () => (await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 2 } })).json.session_id as string;


describe('teacher access to sessions', () => {
  it("the course's teacher reads the status of a locked, an active and a completed session", async () => {
    const id = await create();
    const token = await ownTeacher();
    const locked = await p.api('GET', `/api/sessions/${id}/status`, { token });
    expect(locked.status).toBe(200);
    expect(locked.json).toMatchObject({ session_id: id, status: 'locked', locked_amount: 2 });
    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    expect((await p.api('GET', `/api/sessions/${id}/status`, { token })).json.status).toBe('active');
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
    expect((await p.api('GET', `/api/sessions/${id}/status`, { token })).json.status).toBe('completed');
  });

  it("a teacher of another course gets 403 saying the session is on another teacher's course", async () => {
    const id = await create();
    const r = await p.api('GET', `/api/sessions/${id}/status`, { token: await otherTeacher() });
    expect(r.status).toBe(403);
    expect(r.json.error).toEqual({ code: 'forbidden', message: "this session is on another teacher's course" });
    await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
  });

  it('no teacher may start, update, complete or connect to a session, even on their own course', async () => {
    const id = await create();
    const forbidden = { code: 'forbidden', message: 'a teacher may read the status of sessions on their own courses, never act on a session' };
    for (const token of [await ownTeacher(), await otherTeacher()]) {
      const start = await p.api('POST', `/api/sessions/${id}/start`, { token });
      expect(start.status).toBe(403);
      expect(start.json.error).toEqual(forbidden);
    }
    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    for (const token of [await ownTeacher(), await otherTeacher()]) {
      const metrics = await p.api('PATCH', `/api/sessions/${id}/metrics`, { token, body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1 } });
      expect(metrics.status).toBe(403);
      expect(metrics.json.error).toEqual(forbidden);
      const complete = await p.api('POST', `/api/sessions/${id}/complete`, { token, body: {} });
      expect(complete.status).toBe(403);
      expect(complete.json.error).toEqual(forbidden);
      expect((await tryUpgrade(p.baseUrl, `/ws/sessions/${id}?token=${token}`)).status).toBe(403);
    }
    // The refusals changed nothing: the student's session is still active, and the student completes it.
    expect((await p.api('GET', `/api/sessions/${id}/status`)).json.status).toBe('active');
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });

  it('a student still cannot read another student\'s session', async () => {
    const id = await create();
    const r = await p.api('GET', `/api/sessions/${id}/status`, { token: await p.token({ sub: randomUUID() }) });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toBe('this session belongs to another student');
    await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
  });
});
