// Repeating a join the gateway refused for now (README "Joins under overload"): which answers are repeated, how long
// the client waits (Retry-After or the backoff step, plus jitter up to as much again), and that it stops.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRestClient } from './rest-client.js';
import { RestError } from './rest-error.js';
import { joinRetryPolicyDefault, retryDelayMs, withJoinRetry } from './rest-retry.js';

const created = { session_id: '20000000-0000-0000-0000-000000000001', status: 'locked', locked_amount: 1, price_per_minute: 1, max_billable_seconds: 60 };
const body = { course_id: '10000000-0000-0000-0000-000000000001', student_id: '00000000-0000-0000-0000-000000000001', locked_amount: 1 };
const refusal = (status: number, code: string, retryAfterSeconds?: number) => new Response(
  JSON.stringify({ error: { code, message: code, ...(retryAfterSeconds === undefined ? {} : { details: { retry_after_seconds: retryAfterSeconds } }) } }),
  { status, headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) } },
);

/** A client whose fetch answers from a script, recording each request's headers. */
function scriptedClient(answers: (() => Response)[], o: { retry?: false } = {}) {
  const sent: Record<string, string>[] = [];
  const fetch = (async (_url: string, init: RequestInit) => {
    sent.push(init.headers as Record<string, string>);
    const next = answers.shift();
    if (!next) throw new Error('no more answers scripted');
    return next();
  }) as unknown as typeof globalThis.fetch;
  const waits: number[] = [];
  const client = createRestClient({
    baseUrl: 'http://127.0.0.1:1', token: 't', fetch,
    joinRetry: o.retry === false ? false : { ...joinRetryPolicyDefault, baseDelayMs: 1 },
    joinRetryHooks: { onRefused: (_err, ms) => { waits.push(ms); } },
  });
  return { sent, waits, client };
}

describe('retryDelayMs', () => {
  it('waits at least Retry-After and the backoff step, and at most twice the larger', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.option(fc.integer({ min: 0, max: 120_000 })), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, retryAfterMs, r) => {
      const step = Math.min(joinRetryPolicyDefault.maxDelayMs, joinRetryPolicyDefault.baseDelayMs * 2 ** Math.min(attempt, 30));
      const floor = Math.max(step, retryAfterMs ?? 0);
      const ms = retryDelayMs(attempt, retryAfterMs, joinRetryPolicyDefault, () => r);
      expect(ms).toBeGreaterThanOrEqual(floor);
      expect(ms).toBeLessThanOrEqual(2 * floor);
    }));
  });

  it('spreads players refused in the same second over the next one', () => {
    const waits = Array.from({ length: 1_000 }, () => retryDelayMs(0, 1_000));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(2_000);
    // Not all in one slice of the second: jitter, not a fixed wait.
    const tenths = new Set(waits.map((ms) => Math.floor(ms / 100)));
    expect(tenths.size).toBeGreaterThanOrEqual(8);
  });
});

describe('withJoinRetry', () => {
  it('stops after attemptsMax calls and throws the last refusal', async () => {
    let calls = 0;
    const err = await withJoinRetry(async () => { calls++; throw new RestError(503, 'overloaded', 'busy', { retry_after_seconds: 1 }); },
      { attemptsMax: 4, baseDelayMs: 1, maxDelayMs: 1 }, { sleep: async () => undefined }).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect((err as RestError).code).toBe('overloaded');
  });
});

describe('REST client joins refused for now', () => {
  it('repeats a create answered overloaded with the same Idempotency-Key, waiting Retry-After plus jitter', async () => {
    const { sent, waits, client } = scriptedClient([
      () => refusal(503, 'overloaded', 1),
      () => refusal(429, 'too_many_requests', 2),
      () => new Response(JSON.stringify(created), { status: 201 }),
    ]);
    // The waits are real here (Retry-After is seconds): the hook proves their length, a fake timer would not.
    const started = Date.now();
    const answer = await client.createSession(body, { idempotencyKey: 'k-1' });
    expect(answer.session_id).toBe(created.session_id);
    expect(sent.map((h) => h['idempotency-key'])).toEqual(['k-1', 'k-1', 'k-1']);
    expect(waits[0]).toBeGreaterThanOrEqual(1_000);
    expect(waits[0]).toBeLessThanOrEqual(2_000);
    expect(waits[1]).toBeGreaterThanOrEqual(2_000);
    expect(waits[1]).toBeLessThanOrEqual(4_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(waits[0]! + waits[1]! - 50);
  }, 15_000);

  it.each([
    [402, 'insufficient_funds'], [503, 'unavailable'], [409, 'too_many_open_holds'], [500, 'internal'],
  ])('does not repeat %i %s', async (status, code) => {
    const { sent, client } = scriptedClient([() => refusal(status, code), () => new Response(JSON.stringify(created), { status: 201 })]);
    const err = await client.createSession(body).catch((e: unknown) => e);
    expect((err as RestError).code).toBe(code);
    expect(sent).toHaveLength(1);
  });

  it('with joinRetry false, throws the first refusal', async () => {
    const { sent, client } = scriptedClient([() => refusal(503, 'overloaded', 1), () => new Response('{}', { status: 200 })], { retry: false });
    const err = await client.startSession(created.session_id).catch((e: unknown) => e);
    expect((err as RestError).code).toBe('overloaded');
    expect(sent).toHaveLength(1);
  });
});
