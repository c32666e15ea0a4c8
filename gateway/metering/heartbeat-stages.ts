// Where a heartbeat's time goes inside the gateway (README "Metrics": gateway_heartbeat_stage_seconds). One frame in
// heartbeatStageSampleEvery carries a trace; each stage records performance.now() as the frame passes it, and the
// ack's writer observes every stage as the time since the frame arrived. An unsampled frame carries null and pays
// nothing but the counter.
import { heartbeatStageSampleEvery } from '../../core/limits.js';
import { heartbeatStages, type GatewayMetrics } from '../metrics.js';

export interface StageTrace {
  /** performance.now() at each stage; 0 until the frame reaches it. */
  receivedAt: number;
  queued: number;
  redis_write: number;
  redis_reply: number;
  ack_written: number;
}

export interface StageSampler {
  /** A trace for one heartbeat in heartbeatStageSampleEvery, else null. */
  sample(receivedAt: number): StageTrace | null;
  /** Observes every stage the trace reached (the ack was written). */
  observe(trace: StageTrace): void;
}

export function createStageSampler(metrics: Pick<GatewayMetrics, 'heartbeatStageSeconds'>, every = heartbeatStageSampleEvery): StageSampler {
  let count = 0;
  return {
    sample(receivedAt) {
      count = (count + 1) % every;
      return count === 0 ? { receivedAt, queued: 0, redis_write: 0, redis_reply: 0, ack_written: 0 } : null;
    },
    observe(trace) {
      for (const stage of heartbeatStages) {
        if (trace[stage] > 0) metrics.heartbeatStageSeconds[stage].observe((trace[stage] - trace.receivedAt) / 1000);
      }
    },
  };
}
