// The players of this gateway process who wait for their settlement to commit (`complete`, funds exhaustion), and
// how they learn that it has. Polling Postgres once per waiting player (as before) turns a burst of 20,000 ended
// sessions into tens of thousands of queries a second, competing with the very settlements they wait for. Instead:
//   - the worker PUBLISHes the ids of every batch it commits on the bucket's `settled` channel; the ids this process
//     waits for are then read back from Postgres, many per statement, and their waiters answered with the row;
//   - a safety net re-reads every awaited session once per settleWaitPollMs, also in few statements, because pub/sub
//     is at-most-once (a notice sent while the subscriber reconnects is lost) and Postgres stays the truth;
//   - a new waiter is checked at once, in case its settlement committed before it started listening.
// At most one such read is in flight per process, so the load is bounded however many players wait.
import { settleWaitCheckBatchMax, settleWaitPollMs } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { Pool } from '../../core/pg/pool.js';
import type { RedisClient } from '../../core/redis/connect.js';
import type { Keys } from '../../core/redis/keys.js';
import type { SessionRow } from '../store/sessions.js';

export interface SettlementWaiters {
  /** The committed session row, or null when it has not committed within `timeoutMs`. Never rejects. */
  wait(sessionId: string, timeoutMs: number): Promise<SessionRow | null>;
  /** Subscribes to every bucket's `settled` channel on `subscriber` (a connection that runs nothing else). */
  listen(subscriber: RedisClient): Promise<void>;
  /** How many sessions are awaited right now. */
  size(): number;
}

type Answer = (row: SessionRow | null) => void;

export interface SettlementWaitersDeps {
  pool: Pool;
  keys: Keys;
  log: Logger;
  /** Counts a failed read-back against its backing service (GatewayMetrics.countServiceError). */
  countServiceError(err: unknown): void;
}

export function createSettlementWaiters(deps: SettlementWaitersDeps): SettlementWaiters {
  const waiting = new Map<string, Answer[]>();
  /** Awaited sessions to read back from Postgres at the next check. */
  const due = new Set<string>();
  let checking = false;
  let poll: NodeJS.Timeout | null = null;

  const answer = (sessionId: string, row: SessionRow | null) => {
    const answers = waiting.get(sessionId);
    waiting.delete(sessionId);
    due.delete(sessionId);
    for (const a of answers ?? []) a(row);
    if (waiting.size === 0 && poll) {
      clearInterval(poll);
      poll = null;
    }
  };

  const markDue = (sessionId: string) => {
    if (!waiting.has(sessionId)) return;
    due.add(sessionId);
    if (checking) return;
    checking = true;
    // Deferred, so the notices and waiters that arrive together are read back in one statement.
    setImmediate(() => void check());
  };

  async function check(): Promise<void> {
    try {
      while (due.size > 0) {
        const ids = [...due].slice(0, settleWaitCheckBatchMax);
        for (const id of ids) due.delete(id);
        const { rows } = await deps.pool.query<SessionRow>(
          `SELECT * FROM sessions WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids]);
        for (const row of rows) answer(row.id, row);
      }
    } catch (err) {
      // Postgres may be down while players wait: the worker retries, and the safety-net poll looks again.
      deps.countServiceError(err);
      deps.log.debug({ err: (err as Error).message }, 'could not read awaited settlements; the next poll retries');
    } finally {
      checking = false;
    }
  }

  const startPolling = () => {
    if (poll) return;
    poll = setInterval(() => { for (const id of waiting.keys()) markDue(id); }, settleWaitPollMs);
    poll.unref();
  };

  return {
    wait(sessionId, timeoutMs) {
      return new Promise<SessionRow | null>((resolve) => {
        const timer = setTimeout(() => {
          const rest = (waiting.get(sessionId) ?? []).filter((a) => a !== done);
          if (rest.length > 0) waiting.set(sessionId, rest);
          else answer(sessionId, null);
          resolve(null);
        }, timeoutMs);
        const done: Answer = (row) => {
          clearTimeout(timer);
          resolve(row);
        };
        waiting.set(sessionId, [...(waiting.get(sessionId) ?? []), done]);
        startPolling();
        markDue(sessionId);
      });
    },

    async listen(subscriber) {
      const channels = deps.keys.buckets().map((b) => deps.keys.settledChannel(b));
      const ours = new Set(channels);
      subscriber.on('message', (channel: string, message: string) => {
        if (!ours.has(channel)) return;
        for (const id of message.split(',')) markDue(id);
      });
      await subscriber.subscribe(...channels);
    },

    size: () => waiting.size,
  };
}
