import { describe, expect, it } from 'vitest';
import { createGatewayMetrics } from '../metrics.js';
import { createStageSampler } from './heartbeat-stages.js';

async function stageCounts(metrics: ReturnType<typeof createGatewayMetrics>): Promise<Record<string, number>> {
  const m = await metrics.registry.getSingleMetric('gateway_heartbeat_stage_seconds')!.get();
  return Object.fromEntries((m.values as { metricName?: string; labels: Record<string, unknown>; value: number }[]).filter((v) => v.metricName === 'gateway_heartbeat_stage_seconds_count').map((v) => [String(v.labels.stage), v.value]));
}

describe('heartbeat stage sampler', () => {
  it('traces one heartbeat in N', () => {
    const sampler = createStageSampler(createGatewayMetrics(), 4);
    const picked = Array.from({ length: 12 }, (_, i) => sampler.sample(i) !== null);
    expect(picked).toEqual([false, false, false, true, false, false, false, true, false, false, false, true]);
  });

  it('observes only the stages a trace reached, as time since the frame arrived', async () => {
    const metrics = createGatewayMetrics();
    const sampler = createStageSampler(metrics, 1);
    const full = sampler.sample(1_000)!;
    Object.assign(full, { queued: 1_000.5, redis_write: 1_001, redis_reply: 1_003, ack_written: 1_003.2 });
    sampler.observe(full);
    // A heartbeat refused before it reached Redis: its later stages stay unobserved.
    const early = sampler.sample(2_000)!;
    early.queued = 2_004;
    sampler.observe(early);
    expect(await stageCounts(metrics)).toEqual({ queued: 2, redis_write: 1, redis_reply: 1, ack_written: 1 });
    const m = await metrics.registry.getSingleMetric('gateway_heartbeat_stage_seconds')!.get();
    const sum = (stage: string) => (m.values as { metricName?: string; labels: Record<string, unknown>; value: number }[]).find((v) => v.metricName === 'gateway_heartbeat_stage_seconds_sum' && v.labels.stage === stage)!.value;
    expect(sum('redis_reply')).toBeCloseTo(0.003, 9);
    expect(sum('queued')).toBeCloseTo(0.0045, 9);
  });
});
