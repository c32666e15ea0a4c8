// The REST client's hand checks of answers: a good answer passes whole, and an answer missing or mistyping a field the
// SDK reads is refused as `invalid_response` naming the field, instead of reaching the player as undefined.
import { describe, expect, it } from 'vitest';
import { coursesAnswer, createSessionAnswer, shapeProblem, statusAnswer } from './answer-shapes.js';
import { createRestClient, RestError } from './rest-client.js';

const created = { session_id: '20000000-0000-0000-0000-000000000001', status: 'locked', locked_amount: 1, price_per_minute: 0.5, max_billable_seconds: 120 };
const course = {
  id: '10000000-0000-0000-0000-000000000001', title: 't', description: 'd', teacher_id: '30000000-0000-0000-0000-000000000001',
  price_per_minute: 1, content_structure: { lectures: [{ id: 1, title: 'a', duration_minutes: 2 }, { id: 2 }], extra: true },
};

describe('shapeProblem', () => {
  it('passes answers that hold every field the SDK reads, extra fields included', () => {
    expect(shapeProblem({ ...created, extra: 1 }, createSessionAnswer)).toBeNull();
    expect(shapeProblem({ courses: [course, course] }, coursesAnswer)).toBeNull();
    expect(shapeProblem({ courses: [] }, coursesAnswer)).toBeNull();
  });

  it('names the first field that is missing or of the wrong type, nested ones by their path', () => {
    expect(shapeProblem({ ...created, session_id: undefined }, createSessionAnswer)).toBe('session_id: not string');
    expect(shapeProblem({ ...created, locked_amount: '1' }, createSessionAnswer)).toBe('locked_amount: not number');
    expect(shapeProblem({ ...created, locked_amount: Number.NaN }, createSessionAnswer)).toBe('locked_amount: not number');
    const badLecture = { ...course, content_structure: { lectures: [{ id: 1 }, { id: 2, duration_minutes: 'two' }] } };
    expect(shapeProblem({ courses: [course, badLecture] }, coursesAnswer)).toBe('courses[1].content_structure.lectures[1].duration_minutes: not number?');
    expect(shapeProblem({ courses: {} }, coursesAnswer)).toBe('courses: not an array');
    expect(shapeProblem([created], createSessionAnswer)).toBe('the answer: not an object');
    expect(shapeProblem(null, createSessionAnswer)).toBe('the answer: not an object');
  });

  it('tells null from absent where the API does', () => {
    const status = {
      session_id: created.session_id, status: 'active', end_reason: null, duration_seconds: 3, cost: 0.05, remaining: 0.95,
      locked_amount: 1, completion_pct: 10, current_lecture: null, content_progress: {},
    };
    expect(shapeProblem(status, statusAnswer)).toBeNull();
    expect(shapeProblem({ ...status, end_reason: undefined }, statusAnswer)).toBe('end_reason: not string|null');
  });
});

describe('REST client answers', () => {
  const answering = (status: number, body: string) => createRestClient({
    baseUrl: 'http://127.0.0.1:1', token: 't', joinRetry: false,
    fetch: (async () => new Response(body, { status })) as unknown as typeof fetch,
  });

  it('refuses an answer that does not fit as invalid_response, naming the field', async () => {
    const err = await answering(201, JSON.stringify({ ...created, max_billable_seconds: null }))
      .createSession({ course_id: course.id, locked_amount: 1 } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestError);
    expect(err).toMatchObject({ status: 201, code: 'invalid_response' });
    expect((err as RestError).message).toContain('max_billable_seconds: not number');
  });

  it('refuses an answer that is not JSON', async () => {
    await expect(answering(200, '<html>').listCourses()).rejects.toMatchObject({ status: 200, code: 'invalid_response' });
  });

  it('returns an answer that fits as it came', async () => {
    await expect(answering(200, JSON.stringify({ courses: [course] })).listCourses()).resolves.toEqual([course]);
  });
});
