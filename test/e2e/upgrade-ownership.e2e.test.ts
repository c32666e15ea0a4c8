// Another student's WebSocket upgrade is refused 403 before anything is done for it (docs/rest-api.md "Authentication
// and roles"): on a session that is locked, completed, or active but lost from Redis, the answer is 403 (not the 409
// the owner would get), and no Redis key of the session is created: a stranger's upgrade never rebuilds a session.
import { describe, expect, it } from 'vitest';
import { productPerFile } from '../helpers/product.js';
import { tryUpgrade } from '../helpers/raw-upgrade.js';
import { eventually } from '../helpers/sessions.js';
import { courseId, STUDENT, STUDENT_2 } from '../helpers/test-env.js';

const p = productPerFile();

async function upgradeAs(sub: string, id: string) {
  return tryUpgrade(p.baseUrl, `/ws/sessions/${id}?token=${await p.token({ sub })}`);
}

/** Every key this session could have in Redis: its hash, its lecture progress, its deadline. */
async function redisTraces(id: string): Promise<{ session: number; lectures: number; deadline: string | null }> {
  const k = p.env.keys;
  return {
    session: await p.env.redis.exists(k.session(id)),
    lectures: await p.env.redis.exists(k.lectures(id)),
    deadline: await p.env.redis.zscore(k.deadlines(k.bucketOf(id)), id),
  };
}

const none = { session: 0, lectures: 0, deadline: null };

async function expectStrangerRefused(id: string): Promise<void> {
  const r = await upgradeAs(STUDENT_2, id);
  expect(r.status).toBe(403);
  expect(r.body.error.code).toBe('forbidden');
  expect(await redisTraces(id)).toEqual(none);
}

async function created(): Promise<string> {
  const r = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 0.5 } });
  expect(r.status).toBe(201);
  return r.json.session_id as string;
}

describe("another student's upgrade", () => {
  it('to a locked session: 403, no Redis key', async () => {
    const id = await created();
    await expectStrangerRefused(id);
    expect((await upgradeAs(STUDENT, id)).status).toBe(409); // the owner is told to start it
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });

  it('to a completed session: 403, no Redis key', async () => {
    const id = await p.liveSession(0.5);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
    // The worker forgets the live state after its commit; wait until it has, so what follows starts from nothing.
    await eventually(async () => JSON.stringify(await redisTraces(id)) === JSON.stringify(none), 5_000, 'the settled session forgotten');
    await expectStrangerRefused(id);
    expect((await upgradeAs(STUDENT, id)).status).toBe(409);
  });

  it('to an active session lost from Redis: 403, and the session is not rebuilt for the stranger', async () => {
    const id = await p.liveSession(0.5);
    const k = p.env.keys;
    await p.env.redis.del(k.session(id), k.lectures(id));
    await p.env.redis.zrem(k.deadlines(k.bucketOf(id)), id);
    await expectStrangerRefused(id);
    // The owner's upgrade does rebuild it: the refusal above was about who asked, not about the session.
    expect((await upgradeAs(STUDENT, id)).status).toBe(101);
    expect((await redisTraces(id)).session).toBe(1);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });
});
