// A gateway runs one student's creates one at a time, in arrival order. Every create locks the student's wallet row
// (store/sessions.ts lockFunds); run side by side, all but one would sit on that lock each holding one of the pool's
// few connections, and one student's burst of creates left every other request waiting for a connection. Queued
// here they wait in memory instead, so one student holds at most one connection for creates; past
// createsQueuedPerStudentMax waiting, a create is refused 429 too_many_requests at once.
// Creates of one student on other gateways still meet on the row lock: walletLockWaitMsMax bounds that wait.
// Why queue here rather than only bound the wait in Postgres (lock_timeout or NOWAIT with retries): a bounded wait
// still takes a connection per waiting create. Measured with the REST allowance out of the way, 1,000 loops of one
// student's creates against one gateway (bench/create-flood.ts, README "Rate limits"): with a 1 s
// lock_timeout alone the other students' p99 was 5.7 s; queued here, 56 ms.
import { RetryLaterError } from '../../core/errors.js';
import { createsQueuedPerStudentMax } from '../../core/limits.js';

export type OneCreatePerStudent = <T>(studentId: string, create: () => Promise<T>) => Promise<T>;

export function createOneCreatePerStudent(queuedMax = createsQueuedPerStudentMax): OneCreatePerStudent {
  /** Per student: the tail of its chain of creates, and how many are in it (running or waiting). */
  const lines = new Map<string, { tail: Promise<unknown>; length: number }>();
  return async (studentId, create) => {
    const line = lines.get(studentId) ?? { tail: Promise.resolve(), length: 0 };
    if (line.length > queuedMax) throw new RetryLaterError('too_many_requests', 1_000, 'too many creates of this student waiting; retry');
    line.length++;
    lines.set(studentId, line);
    const run = line.tail.then(create);
    line.tail = run.catch(() => undefined).finally(() => {
      if (--line.length === 0) lines.delete(studentId);
    });
    return run;
  };
}
