// One chaos run, start to finish: private stores and product processes (services.ts), players (players.ts) and the
// fault injector (faults.ts) at the same time, then a bounded wait until every session is settled, then the checks
// (verify.ts). Everything is bounded in time; everything started is stopped in `finally`.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { lectureIdsOf } from '../../gateway/store/courses.js';
import { numericToMinor } from '../../core/money.js';
import { totalBalancesMinor } from '../helpers/money-invariants.js';
import { TEST_JWT_SECRET } from '../helpers/test-env.js';
import { runFaults, type FaultRecord } from './faults.js';
import type { ChaosOptions } from './options.js';
import { runPlayer, type CourseInfo, type PlayerEnv, type PlayerPlan, type PlayerResult } from './players.js';
import { between, forkRandom, pick } from './random.js';
import { productKeys, startServices, type ProcessExit, type Services } from './services.js';
import { checkMoney, checkSessions, sessionRows, waitForSettlement, type SessionBilling, type Violation } from './verify.js';

/** Beyond the playing window and the settle wait, players get this long to finish their REST retries. */
export const playerOverrunMsMax = 120_000;
/** A timer this much late is a stall of the harness's event loop worth listing (at most stallsMax of them). */
export const stallReportMs = 300;
const stallsMax = 50;
const stallProbeMs = 100;

/** Lock of an ordinary player: at least this, and at least twice what its play time can cost. */
export const lockMinorMin = 2_000;

export interface ChaosResult {
  options: ChaosOptions;
  runId: string;
  dir: string;
  keptDir: boolean;
  players: PlayerResult[];
  faults: FaultRecord[];
  violations: Violation[];
  billing: SessionBilling[];
  sessionsInDb: number;
  endReasons: Record<string, number>;
  unsettled: string[];
  crashes: readonly ProcessExit[];
  startFailures: readonly ProcessExit[];
  shutdownExits: readonly ProcessExit[];
  deadLetters: number | null;
  /**
   * Stalls of the harness's event loop while players ran: they delay the handling of `ready` and acks, which loosens
   * trueUpper (an ack is timed when handled). Stalls over stallReportMs are listed with their run clock time.
   */
  loopDelayMs: { p99: number; max: number };
  stalls: { atMs: number; ms: number }[];
  timings: { setupMs: number; playMs: number; settleMs: number; checkMs: number; totalMs: number };
}

async function loadCourses(services: Services): Promise<CourseInfo[]> {
  const { rows } = await services.pool.query<{ id: string; price_per_minute: string; content_structure: unknown }>(
    'SELECT id, price_per_minute, content_structure FROM courses ORDER BY id');
  return rows.map((c) => ({ id: c.id, priceMinor: numericToMinor(c.price_per_minute), lectureIds: lectureIdsOf(c.content_structure as never) }));
}

async function tokensFor(studentIds: readonly string[]): Promise<Map<string, string>> {
  const key = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = Math.floor(Date.now() / 1000);
  const out = new Map<string, string>();
  for (const sub of studentIds) {
    out.set(sub, await new SignJWT({ role: 'student' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)
      .setIssuedAt(now).setExpirationTime(now + 6 * 3600).sign(key));
  }
  return out;
}

/** Each player's course, lock, start time and play time, from the seed. */
export function planPlayers(o: ChaosOptions, courses: readonly CourseInfo[], studentIds: readonly string[],
  tokens: Map<string, string>, playStartMs: number): PlayerPlan[] {
  const endByMs = playStartMs + o.durationMs;
  return Array.from({ length: o.players }, (_, index) => {
    const r = forkRandom(o.seed, index);
    const course = pick(r, courses);
    const startAtMs = playStartMs + (o.players > 1 ? (index * o.rampMs) / (o.players - 1) : 0);
    const playMs = Math.round((endByMs - startAtMs) * between(r, 0.7, 0.97));
    const lowFunds = r() < o.lowFundsShare;
    const abandon = !lowFunds && r() < o.abandonShare;
    const costOfPlayMinor = Math.ceil((course.priceMinor * playMs) / 60_000);
    const lockMinor = lowFunds
      ? Math.max(1, Math.floor(costOfPlayMinor * between(r, 0.3, 0.7)))
      : Math.max(lockMinorMin, 2 * costOfPlayMinor);
    const studentId = studentIds[index % studentIds.length]!;
    return { index, studentId, token: tokens.get(studentId)!, course, lockMinor, startAtMs, playMs, lowFunds, abandon, seed: (o.seed * 7919 + index) >>> 0 };
  });
}

function progress(o: ChaosOptions, clock: () => number, results: readonly (PlayerResult | null)[], faults: readonly FaultRecord[]): string {
  const done = results.filter((r) => r !== null).length;
  return `chaos +${(clock() / 1000).toFixed(0)}s: ${done}/${o.players} players done, ${faults.length} faults so far`;
}

/** Watches the harness's own event loop while players run; stop() records what it saw into `result`. */
function watchEventLoop(clock: () => number, result: ChaosResult): { stop(): void } {
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let probeAt = clock();
  const probe = setInterval(() => {
    const late = clock() - probeAt - stallProbeMs;
    if (late > stallReportMs && result.stalls.length < stallsMax) result.stalls.push({ atMs: Math.round(clock() - late), ms: Math.round(late) });
    probeAt = clock();
  }, stallProbeMs);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(probe);
      loopDelay.disable();
      result.loopDelayMs = { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) };
    },
  };
}

interface RunContext {
  o: ChaosOptions;
  services: Services;
  clock: () => number;
  log: (line: string) => void;
  result: ChaosResult;
  runId: string;
  /** Aborted at the hard time limit (players stop where they are) and when the run ends. */
  hardStop: AbortController;
}

/** Players and faults at once; resolves when every player is done and the fault in hand has recovered. */
async function play(ctx: RunContext, playStartMs: number, faultStop: AbortController): Promise<void> {
  const { o, services, clock, log, result } = ctx;
  const courses = await loadCourses(services);
  const plans = planPlayers(o, courses, services.studentIds, await tokensFor(services.studentIds), playStartMs);
  const env: PlayerEnv = {
    heartbeatMs: o.heartbeatMs, creditMsMax: 2 * o.heartbeatMs, runId: ctx.runId, clock, stop: ctx.hardStop.signal,
    pickGateway: (r) => {
      const live = services.liveGatewayUrls();
      return pick(r, live.length > 0 ? live : services.allGatewayUrls());
    },
  };
  const results: (PlayerResult | null)[] = plans.map(() => null);
  const faultsDone = runFaults(services, {
    count: o.faults, kinds: o.faultKinds, checkpointMs: o.checkpointMs, inOrder: o.faultsInOrder,
    // A fault may start until a second before the window closes: late ones hit sessions while they complete.
    windowStartMs: playStartMs + Math.max(2_000, o.rampMs), windowEndMs: playStartMs + o.durationMs - 1_000,
  }, forkRandom(o.seed, -1), clock, faultStop.signal, (f) => {
    result.faults.push(f);
    log(`chaos +${(f.atMs / 1000).toFixed(1)}s: ${f.kind} ${f.target}, down ${f.downMs} ms${f.error ? `, FAILED: ${f.error}` : ''}${f.note ? ` (${f.note})` : ''}`);
  });
  const ticker = setInterval(() => log(progress(o, clock, results, result.faults)), 10_000);
  try {
    result.players = await Promise.all(plans.map(async (plan) => (results[plan.index] = await runPlayer(env, plan))));
  } finally {
    clearInterval(ticker);
    faultStop.abort();
    await faultsDone; // a fault in hand puts its target back first
  }
}

/** After the players: the bounded settlement wait, then every check. */
async function check(ctx: RunContext, totalBeforeMinor: number): Promise<void> {
  const { o, services, clock, result } = ctx;
  const settleStart = clock();
  result.unsettled = await waitForSettlement(services.pool, o.settleTimeoutMs, ctx.hardStop.signal);
  result.timings.settleMs = Math.round(clock() - settleStart);

  const checkStart = clock();
  const rows = await sessionRows(services.pool);
  result.sessionsInDb = rows.size;
  for (const row of rows.values()) {
    const key = row.status === 'completed' ? (row.end_reason ?? '?') : `open (${row.status})`;
    result.endReasons[key] = (result.endReasons[key] ?? 0) + 1;
  }
  const sessions = checkSessions(result.players, rows, result.faults, { heartbeatMs: o.heartbeatMs, checkpointMs: o.checkpointMs, slackMs: o.slackMs });
  result.billing = sessions.billing;
  result.violations.push(...result.unsettled.map((id): Violation => ({
    kind: 'invariant', check: 'every session settled in time', sessionId: id,
    detail: `not completed ${o.settleTimeoutMs / 1000} s after the players finished`,
  })));
  result.violations.push(...(await checkMoney(services.pool, totalBeforeMinor)), ...sessions.violations);
  result.deadLetters = await services.redisClient.xlen(productKeys.deadLetters()).catch(() => null);
  result.timings.checkMs = Math.round(clock() - checkStart);
}

export async function runChaos(o: ChaosOptions, log: (line: string) => void = () => undefined): Promise<ChaosResult> {
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  const runId = `chaos-${o.seed}-${randomBytes(3).toString('hex')}`;
  const services = await startServices(o, clock, log);
  const hardStop = new AbortController();
  // Every player and socket listens on it: hundreds of listeners by design.
  setMaxListeners(0, hardStop.signal);
  const result: ChaosResult = {
    options: o, runId, dir: services.dir, keptDir: false, players: [], faults: [], violations: [], billing: [],
    sessionsInDb: 0, endReasons: {}, unsettled: [], crashes: services.crashes, startFailures: services.startFailures,
    shutdownExits: services.shutdownExits, deadLetters: null, loopDelayMs: { p99: 0, max: 0 }, stalls: [],
    timings: { setupMs: 0, playMs: 0, settleMs: 0, checkMs: 0, totalMs: 0 },
  };
  const ctx: RunContext = { o, services, clock, log, result, runId, hardStop };
  const hardLimit = setTimeout(() => {
    log(`!! chaos: players still running ${playerOverrunMsMax / 1000} s after the window; stopping them`);
    hardStop.abort();
  }, o.durationMs + playerOverrunMsMax + 500);
  let loop: { stop(): void } | null = null;
  try {
    const totalBefore = await totalBalancesMinor(services.pool);
    const playStartMs = clock() + 500;
    result.timings.setupMs = Math.round(playStartMs);
    log(`chaos: ${services.processes.map((p) => p.name).join(', ')} up over ${services.redisWhere} and postgres :${services.postgres.port} (${services.dir}); seed ${o.seed}`);
    loop = watchEventLoop(clock, result);
    await play(ctx, playStartMs, new AbortController());
    clearTimeout(hardLimit);
    loop.stop();
    result.timings.playMs = Math.round(clock() - playStartMs);
    await check(ctx, totalBefore);
  } finally {
    clearTimeout(hardLimit);
    loop?.stop();
    hardStop.abort();
    const keepDir = o.keepLogs || result.violations.length > 0 || services.crashes.length > 0;
    await services.close({ keepDir });
    result.keptDir = keepDir;
    result.timings.totalMs = Math.round(clock());
    if (keepDir) {
      try { writeFileSync(join(services.dir, 'result.json'), JSON.stringify(result, null, 2)); } catch { /* the dir is gone */ }
    }
  }
  return result;
}
