// One student's creates run one at a time, in arrival order, without blocking other students; past the bound of
// waiting creates the next is refused 429 at once; a failed create does not stall the ones behind it.
import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../core/errors.js';
import { createOneCreatePerStudent } from './one-create-per-student.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('one create per student', () => {
  it('runs one student\'s creates one at a time, in order, and other students\' beside them', async () => {
    const oneAtATime = createOneCreatePerStudent(10);
    let running = 0;
    let most = 0;
    const order: string[] = [];
    const create = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      await tick();
      order.push(name);
      running--;
      return name;
    };
    const a = Promise.all([1, 2, 3, 4].map((i) => oneAtATime('a', create(`a${i}`))));
    let otherDone = false;
    const b = oneAtATime('b', async () => { otherDone = true; return 'b'; });
    await b;
    // b did not wait for a's line.
    expect(otherDone).toBe(true);
    expect(order).not.toContain('a4');
    expect(await a).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(order).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(most).toBe(1);
  });

  it('refuses past the bound with too_many_requests and Retry-After, and a failure does not stall the line', async () => {
    const oneAtATime = createOneCreatePerStudent(2);
    const results = await Promise.allSettled([
      oneAtATime('s', async () => { await tick(); throw new Error('first fails'); }),
      oneAtATime('s', async () => 'second'),
      oneAtATime('s', async () => 'third'),
      oneAtATime('s', async () => 'fourth: over the bound'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'rejected']);
    const refused = (results[3] as PromiseRejectedResult).reason as RetryLaterError;
    expect(refused).toBeInstanceOf(RetryLaterError);
    expect(refused.code).toBe('too_many_requests');
    expect(refused.retryAfterSeconds).toBe(1);
    // The line has emptied: a new create runs.
    expect(await oneAtATime('s', async () => 'again')).toBe('again');
  });
});
