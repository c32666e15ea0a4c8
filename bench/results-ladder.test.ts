// The ladder rows of bench/results.md: each step says where its tail came from, from the probes the step ran with.
import { describe, expect, it } from 'vitest';
import { resultsMarkdownOf } from '../test/helpers/bench-results.js';

const step = (over: Record<string, unknown>) => ({
  kind: 'gateway', processes: 4, viewers: 45_000, answersPerSecond: 8365, p50Ms: 4.3, p99Ms: 82.1, p999Ms: 466.9, maxMs: 530.9,
  errorCount: 0, passed: false, cpuMicrosPerHeartbeat: { servers: 78.4, redis: 22.4, worker: 2.9, load: 40.6 }, serversRssMb: 700,
  loadUsage: [{ steadyLoopMaxMs: 24.9 }, { steadyLoopMaxMs: 104.1 }],
  ...over,
});

describe('ladder rows', () => {
  it('show p99.9 / max and, from the probes, the server stages, the box, the worst gateway loop and GC, and the worst load loop', () => {
    const md = resultsMarkdownOf({ ladders: { ours: { largestPassingViewers: 40_000, steps: [step({
      cores: { box: 1.42, otherThanMeasured: 0.21 },
      probes: {
        gateways: [
          { loopDelay: { p50Ms: 0.2, p99Ms: 7.4, maxMs: 19.5 }, gc: { minor: { count: 36, totalMs: 268, maxMs: 22, over10Ms: 3 } } },
          { loopDelay: { p50Ms: 0.2, p99Ms: 9.5, maxMs: 45.8 }, gc: { minor: { count: 36, totalMs: 312, maxMs: 55, over10Ms: 9 } } },
        ],
        worker: null,
        stages: { redis_write: { count: 10, p50Ms: 1, p99Ms: 20, lastBoundMs: 2500 }, ack_written: { count: 10, p50Ms: 5, p99Ms: '+Inf', lastBoundMs: 2500 } },
      },
    })] } } });
    const row = md.split('\n').find((l) => l.startsWith('| ours | 4 | 45000 |'))!;
    expect(row).toContain('| 466.9 ms / 530.9 ms |');
    expect(row).toContain('≤ 20 ms / > 2.5 s; box 1.42 cores busy (0.21 outside the measured processes); loop max 45.8 ms, GC max 55.0 ms; load loop max 104.1 ms');
  });

  it('say "–" for a step run without probes (the seed\'s design)', () => {
    const md = resultsMarkdownOf({ ladders: { seedDesign: { largestPassingViewers: 0, steps: [step({ processes: 1, viewers: 250 })] } } });
    expect(md.split('\n').find((l) => l.startsWith("| seed's design | 1 | 250 |"))).toMatch(/\| 700 \| – \|$/);
  });
});
