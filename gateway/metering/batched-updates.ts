// Heartbeats that arrive in one turn of the event loop go to Redis in one write. uWS hands each frame to JavaScript in
// its own callback, and Node runs queued microtasks and ticks after each one, so ioredis's auto-pipelining (which
// batches what is sent within one tick) would still send one command, and make one write syscall, per heartbeat:
// about a third of the gateway's busy time in a profile. Queuing the updates and issuing them together from
// setImmediate, after the poll phase has delivered every frame that was ready, batches them; the cost is at most one
// turn of the loop (well under a millisecond) of latency.
import type { Meter, UpdateInput, UpdateResult } from '../../shared/redis/meter.js';
import type { StageTrace } from './heartbeat-stages.js';

interface Queued { sessionId: string; input: UpdateInput; trace: StageTrace | null; resolve(r: UpdateResult): void; reject(err: unknown): void }

/** `trace`: a sampled heartbeat's stage times (heartbeat-stages.ts), stamped as the update is written and answered. */
export type ApplyUpdate = (sessionId: string, input: UpdateInput, trace?: StageTrace | null) => Promise<UpdateResult>;

export function batchedUpdates(meter: Pick<Meter, 'applyUpdate'>): ApplyUpdate {
  let queue: Queued[] = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    // Issued in one synchronous loop: ioredis collects them into one pipeline, one write.
    for (const q of batch) {
      const { trace } = q;
      if (trace) trace.redis_write = performance.now();
      meter.applyUpdate(q.sessionId, q.input).then(trace ? (r) => { trace.redis_reply = performance.now(); q.resolve(r); } : q.resolve, q.reject);
    }
  };
  return (sessionId, input, trace = null) => new Promise((resolve, reject) => {
    if (queue.length === 0) setImmediate(flush);
    if (trace) trace.queued = performance.now();
    queue.push({ sessionId, input, trace, resolve, reject });
  });
}
