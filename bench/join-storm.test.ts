// The bench's join-storm step: its results-file rows on a fixture (verdicts against the storm's targets, one column per
// build and storm), and the measurement itself at a small scale, on a Postgres and gateways it starts: watchers keep
// heartbeating while a storm joins, every storm viewer is found started, and the watchers' windows are read.
import { describe, expect, it } from 'vitest';
import { measureJoinStorm, parseStorms, type JoinStormResult, type StormFigures } from './join-storm.js';
import { resultsMarkdownOf } from '../test/helpers/bench-results.js';
import { joinStormHeadlineRows, joinStormSection } from './results-join-storm.js';

const storm = (rate: number, allStartedS: number | null, createP99: number, watcherMax: number): StormFigures => ({
  rate, viewers: 10_000, allStartedS, startedWithin25s: allStartedS !== null && allStartedS <= 25 ? 10_000 : 7_400, started: allStartedS === null ? 9_000 : 10_000,
  joinsPerSecond: 400, createMs: { p50: 9, p99: createP99 }, startMs: { p50: 8, p99: 120 }, joinMs: { p50: 30, p99: 2_400 },
  refusals: { 'create overloaded': 300, 'start overloaded': 20 }, errors: 0, watcherAckP99Ms: { max: watcherMax, median: watcherMax / 2 },
  watcherWindows: [{ endS: 3, ackP99Ms: watcherMax / 2 }, { endS: 8, ackP99Ms: watcherMax }],
  cores: { gateways: 0.8, postgres: 0.4, driver: 0.6, other: 0.1 },
});

const fixture: JoinStormResult = {
  watchers: 10_000, gateways: 4, builds: { baseline: { rev: 'b'.repeat(40) }, current: { rev: 'c'.repeat(40), uncommitted: true } },
  runs: [
    { build: 'baseline', watchers: { joined: 10_000, errors: 0, ackMs: { p50: 3, p99: 900 } }, storms: [storm(500, null, 1_800, 1_200), storm(1_000, null, 2_500, 2_000)] },
    { build: 'current', watchers: { joined: 10_000, errors: 0, ackMs: { p50: 2, p99: 30 } }, storms: [storm(500, 23.5, 180, 41), storm(1_000, 31, 200, 48)] },
  ],
};

describe('join storm in results.md', () => {
  it('heads with the current build\'s first storm against its targets, and lists each build and storm', () => {
    const [first, second] = joinStormHeadlineRows(fixture);
    expect(first).toContain('| 23.5 s ✓ (10,000 by 25 s) / 180.0 / 120.0 ms ✓ / 41.0 ms ✓ | ≤ 25 s / ≤ 250 / ≤ 250 / ≤ 50 ms |');
    expect(second).toContain('| join storm at 1000/s asked: achieved / refusals repeated / errors | 400.0/s / 320 / 0 | report |');
    const text = joinStormSection(fixture).join('\n');
    expect(text).toContain('| | baseline, 500/s | baseline, 1000/s | current, 500/s | current, 1000/s | target at 500/s |');
    expect(text).toContain('| all started within (s) | – | – | 23.5 | 31.0 | ≤ 25 |');
    expect(text).toContain('| gateways cores | 0.80 | 0.80 | 0.80 | 0.80 |  |');
    expect(text).toContain('(with uncommitted changes)');
    const md = resultsMarkdownOf({ joinStorm: fixture });
    expect(md).toContain('## A lecture starts: the join storm');
    const missed = structuredClone(fixture);
    missed.runs[1]!.storms[0] = storm(500, null, 300, 80);
    expect(joinStormHeadlineRows(missed)[0]).toContain('| – s ✗ (7,400 by 25 s) / 300.0 / 120.0 ms ✗ / 80.0 ms ✗ |');
    expect(joinStormHeadlineRows(undefined)[0]).toContain('not measured in this run');
  });

  it('reads storms as RATExVIEWERS and refuses anything else', () => {
    expect(parseStorms('500x10000, 1000x2000')).toEqual([{ rate: 500, viewers: 10_000 }, { rate: 1_000, viewers: 2_000 }]);
    expect(() => parseStorms('500')).toThrow(/RATExVIEWERS/);
  });
});

describe('the join-storm measurement', () => {
  it('starts every storm viewer while the watchers heartbeat, and reads the watchers\' windows over the storm', async () => {
    const r = await measureJoinStorm({ watchers: 40, watchersRampS: 4, storms: [{ rate: 20, viewers: 60 }], gateways: 1,
      port: 18_800 + Math.floor(Math.random() * 90), baselineRev: null });
    expect(r.runs).toHaveLength(1);
    const run = r.runs[0]!;
    expect(run.watchers.joined).toBe(40);
    expect(run.watchers.errors).toBe(0);
    const s = run.storms[0]!;
    expect(s.started).toBe(60);
    expect(s.allStartedS).not.toBeNull();
    // Asked over 3 s: they cannot all have started sooner than the last one was asked.
    expect(s.allStartedS!).toBeGreaterThan(2);
    expect(s.errors).toBe(0);
    expect(s.createMs?.p99).toBeGreaterThan(0);
    expect(s.joinMs?.p99).toBeGreaterThanOrEqual(s.createMs!.p50);
    expect(s.watcherAckP99Ms?.max).toBeGreaterThan(0);
    // The windows it came from, each ending after the storm's first join, the worst among them.
    expect(s.watcherWindows.length).toBeGreaterThan(0);
    expect(s.watcherWindows.every((w) => w.endS > 0)).toBe(true);
    expect(Math.max(...s.watcherWindows.map((w) => w.ackP99Ms))).toBe(s.watcherAckP99Ms!.max);
    expect(s.cores.gateways).toBeGreaterThan(0);
    expect(s.cores.postgres).toBeGreaterThan(0);
  }, 150_000);
});
