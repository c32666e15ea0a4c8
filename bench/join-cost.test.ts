// The bench's join-cost step: its results-file rows on a fixture (means, verdicts, the ratio column, statements), and
// the measurement itself at a small scale, on a Postgres and gateways it starts (the instrument sees real joins, real
// CPU and the create as one lock_funds call).
import { describe, expect, it } from 'vitest';
import { measureJoinCost, type JoinCostResult, type JoinCostRun } from './join-cost.js';
import { joinCostHeadlineRows, joinCostSection } from './results-join-cost.js';
import { resultsMarkdownOf } from '../test/helpers/bench-results.js';

const run = (build: JoinCostRun['build'], round: number, gateways: number, postgres: number): JoinCostRun => ({
  build, round, rateAsked: 200, rampS: 25, gateways: 4, windowS: 20, creates: 4000, joins: 4000, joinsPerSecond: 200,
  cpuMsPerJoin: { gateways: gateways + 1, postgres, redis: 0.5, worker: 0.05, driver: 0.6, other: 0 },
  heartbeatsPerJoin: 3, cpuUsPerHeartbeat: { gateways: 1000 / 3, redis: 50, worker: 10, driver: 200 / 3 },
  cpuMsPerJoinLessHeartbeats: { gateways, redis: 0.35, worker: 0.02, driver: 0.4 },
  statements: [{ query: 'SELECT * FROM lock_funds($1, $2) | x', callsPerJoin: 1, meanMs: 0.4, msPerJoin: 0.4 }],
  statementsPerJoin: { calls: 5, ms: 0.8 }, createMs: { p50: 10, p99: 200 }, startMs: { p50: 8, p99: 150 }, ackMs: { p50: 2, p99: 40 }, errors: 0,
});

const fixture: JoinCostResult = {
  rate: 200, rampS: 25, gateways: 4, builds: { baseline: { rev: 'b'.repeat(40) }, current: { rev: 'c'.repeat(40), uncommitted: false } },
  runs: [run('baseline', 1, 4, 3), run('current', 1, 0.4, 0.6), run('current', 2, 0.6, 0.9), run('baseline', 2, 4, 3)],
};

describe('join cost in results.md', () => {
  it('heads with the current build\'s mean per component against its target, and compares builds run for run', () => {
    const [cpu] = joinCostHeadlineRows(fixture);
    // means of the current runs less heartbeats: gateways 0.5 (target ≤ 0.5: met), Postgres 0.75 (≤ 0.7: missed),
    // driver 0.4; with the heartbeats, in parentheses, 1.5 / 0.75 / 0.6
    expect(cpu).toContain('| 0.50 ✓ / 0.75 ✗ / 0.40 ✓ (1.50 / 0.75 / 0.60) | ≤ 0.5 / ≤ 0.7 / ≤ 0.5 |');
    const text = joinCostSection(fixture).join('\n');
    expect(text).toContain('| | baseline #1 | current #1 | current #2 | baseline #2 | current / baseline | target |');
    expect(text).toContain('| gateways CPU ms per join | 5.00 | 1.40 | 1.60 | 5.00 | ×0.30 |  |');
    expect(text).toContain('| gateways CPU ms per join, less heartbeats | 4.00 | 0.40 | 0.60 | 4.00 | ×0.13 | ≤ 0.5 |');
    expect(text).toContain('| heartbeats acked in the window per join | 3.00 | 3.00 | 3.00 | 3.00 | ×1.00 |  |');
    // A statement's own `|` cannot break the table.
    expect(text).toContain('`SELECT * FROM lock_funds($1, $2) \\| x`');
    const md = resultsMarkdownOf({ joinCost: fixture });
    expect(md).toContain('## What a join costs');
    expect(resultsMarkdownOf({})).toContain('| CPU per join (create + start + upgrade + first ack) | not measured in this run | |');
  });
});

describe('the join-cost measurement', () => {
  it('joins viewers through the driver and splits their CPU and statements per join', async () => {
    const r = await measureJoinCost({ rate: 20, rampS: 10, gateways: 1, port: 18_900 + Math.floor(Math.random() * 90), rounds: 1, baselineRev: null });
    expect(r.runs).toHaveLength(1);
    const m = r.runs[0]!;
    // Joins in the 5 s window at 20/s: about 100, never none.
    expect(m.joins).toBeGreaterThan(40);
    expect(m.errors).toBe(0);
    expect(m.cpuMsPerJoin.gateways).toBeGreaterThan(0);
    expect(m.cpuMsPerJoin.postgres).toBeGreaterThan(0);
    expect(m.cpuMsPerJoin.driver).toBeGreaterThan(0);
    // Viewers who joined in the first seconds heartbeat inside the window; heartbeats alone have a price of their own,
    // and taking them out leaves less than the window's figure, never a negative one.
    expect(m.heartbeatsPerJoin).toBeGreaterThan(0);
    expect(m.cpuUsPerHeartbeat.gateways).toBeGreaterThan(0);
    expect(m.cpuMsPerJoinLessHeartbeats.gateways).toBeGreaterThanOrEqual(0);
    expect(m.cpuMsPerJoinLessHeartbeats.gateways).toBeLessThanOrEqual(m.cpuMsPerJoin.gateways);
    // A create is one call, once per join.
    const create = m.statements.find((s) => s.query.includes('lock_funds'));
    expect(create?.callsPerJoin).toBeGreaterThan(0.8);
    expect(create?.callsPerJoin).toBeLessThan(1.2);
  }, 120_000);
});
