// Heartbeats go to Redis in batches, as a database commits a group: while one batch is on its way to Redis, the
// heartbeats that arrive meanwhile queue, and go together once its reply is back, as one script call
// (meter.applyUpdates: one per Cluster slot, at most updatesPerScriptCallMax updates each). Batches also start at
// most once per heartbeatBatchSpacingMs: a Redis round trip on loopback is a fraction of a millisecond, so without
// the spacing a busy gateway would still send batches of one or two. At a low rate a heartbeat goes out at once (one
// turn of the event loop later); as the rate grows, batches grow with it, so the Redis round trips, write syscalls,
// ioredis commands and script calls per heartbeat fall just when they matter (README "Scaling one machine").
//
// Why not leave it to ioredis's auto-pipelining: uWS hands each frame to JavaScript in its own callback, and Node
// runs queued microtasks and ticks after each one, so what is sent within one tick is one command, one write syscall.
import { MeterRefusal, UpdateCallFailed, type Meter, type UpdateInput, type UpdateResult } from '../../core/redis/meter.js';
import { heartbeatBatchSpacingMs } from '../../core/limits.js';
import type { StageTrace } from './heartbeat-stages.js';

interface Queued { sessionId: string; input: UpdateInput; trace: StageTrace | null; resolve(r: UpdateResult): void; reject(err: unknown): void }

/** `trace`: a sampled heartbeat's stage times (heartbeat-stages.ts), stamped as the update is written and answered. */
export type ApplyUpdate = (sessionId: string, input: UpdateInput, trace?: StageTrace | null) => Promise<UpdateResult>;

/** `spacingMs`: least time between the starts of two batches (a test may set 0: batches as soon as possible). */
export function batchedUpdates(meter: Pick<Meter, 'applyUpdates'>, spacingMs = heartbeatBatchSpacingMs): ApplyUpdate {
  let queue: Queued[] = [];
  let inFlight = false;
  let flushScheduled = false;
  let lastFlushAt = -Infinity;

  const flush = () => {
    flushScheduled = false;
    if (inFlight || queue.length === 0) return;
    const batch = queue;
    queue = [];
    inFlight = true;
    const writtenAt = performance.now();
    lastFlushAt = writtenAt;
    for (const q of batch) if (q.trace) q.trace.redis_write = writtenAt;
    // A queued update is an UpdateItem as it stands: no copy per heartbeat.
    meter.applyUpdates(batch).then((results) => {
      const repliedAt = performance.now();
      batch.forEach((q, i) => {
        const r = results[i]!;
        if (q.trace) q.trace.redis_reply = repliedAt;
        if (r instanceof MeterRefusal) q.reject(r);
        else if (r instanceof UpdateCallFailed) q.reject(r.cause);
        else q.resolve(r);
      });
    }, (err: unknown) => {
      for (const q of batch) q.reject(err);
    }).finally(() => {
      inFlight = false;
      if (queue.length > 0) scheduleFlush();
    });
  };
  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    const waitMs = lastFlushAt + spacingMs - performance.now();
    // After the poll phase: every frame that was ready in this turn joins the batch. Too soon after the previous
    // batch, a timer instead (Node rounds it up to whole milliseconds).
    if (waitMs <= 0) setImmediate(flush);
    else setTimeout(flushWhenDue, waitMs);
  };
  // libuv times timers from the loop's cached clock, which lags by however long this turn has run: a timer may fire
  // early by that much, so look again.
  const flushWhenDue = () => {
    flushScheduled = false;
    scheduleFlush();
  };

  return (sessionId, input, trace = null) => new Promise((resolve, reject) => {
    if (trace) trace.queued = performance.now();
    queue.push({ sessionId, input, trace, resolve, reject });
    if (!inFlight) scheduleFlush();
  });
}
