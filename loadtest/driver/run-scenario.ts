// The Node load driver: N simulated viewers against a running gateway, spread over viewer processes, every answer
// checked, and at the end the money check over every session of the run (see --help and loadtest/README.md).
// Wires the modules of this folder together; the logic lives in them.
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import { ConfigError, loadConfig, type Config } from '../../core/config.js';
import { mintToken, tokenTtlSecondsMax } from '../../core/auth/mint-token.js';
import { createRestClient, type Course } from '../../player/sdk/index.js';
import { completeTimeoutMs } from '../../player/sdk/index.js';
import { createPool, type Pool } from '../../core/pg/pool.js';
import { gatewayUrlForProcess, parseOptions, urlForProcess, usage, type Options } from './options.js';
import type { CoursePlan } from './player.js';
import { progressIntervalMs, type PlanMessage } from './child-protocol.js';
import { fundStudents } from './fund-students.js';
import { checkRunMoney, waitForRunSettled, type MoneyCheck } from './money-check.js';
import { ProgressBoard } from './progress.js';
import { shareOf, startViewerFleet, type FleetOutcome } from './viewer-fleet.js';
import { Stats } from './stats.js';
import { toMinor } from './verify.js';
import { buildResult, renderTable, writeResult, type EchoFloorResult, type ProcessResult } from './report.js';
import { startEchoServer } from './echo-server.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** After --timeout-s the viewers get this long to complete before the driver gives up on them. */
const hardStopGraceMs = completeTimeoutMs + 30_000;

class StartError extends Error {
  override readonly name = 'StartError';
}

interface Prepared {
  runId: string;
  courses: CoursePlan[];
  studentIds: string[];
  fundMinor: number;
  plans: PlanMessage[];
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    return 3;
  }
  if (parsed.help) {
    console.log(usage);
    return 0;
  }
  const opts = parsed.options;
  const startedAt = new Date();
  const config = loadConfig(process.env);
  const echoIntervalMs = opts.expectedHeartbeatMs ?? config.heartbeatIntervalMs;
  if (opts.echoFloor === 'only') {
    const floor = await runEchoFloor(opts, echoIntervalMs, startedAt);
    return finishEchoOnly(opts, startedAt, floor);
  }
  const floor = opts.echoFloor === 'before' ? await runEchoFloor(opts, echoIntervalMs, startedAt) : null;
  if (config.jwtSecret === '') throw new StartError('JWT_SECRET is not set: the driver mints HS256 tokens with the gateway\'s secret');
  const pool = createPool(config, 4);
  try {
    const prepared = await prepare(opts, config, pool);
    const run = await runFleet(opts, prepared.plans, new Date());
    return await finish(opts, prepared, pool, startedAt, run, floor?.result ?? null);
  } finally {
    await pool.end();
  }
}

async function prepare(opts: Options, config: Config, pool: Pool): Promise<Prepared> {
  const runId = `${opts.name}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const ttlSeconds = Math.min(tokenTtlSecondsMax, opts.timeoutS + Math.ceil(hardStopGraceMs / 1000) + 600);
  const mint = (sub: string, role: 'student' | 'service') => mintToken({
    secret: config.jwtSecret, sub, role, ttlSeconds, issuer: config.jwtIssuer || undefined, audience: config.jwtAudience || undefined,
  });
  let catalogue: Course[];
  try {
    catalogue = await createRestClient({ baseUrl: opts.gatewayUrl, token: await mint(randomUUID(), 'service') }).listCourses();
  } catch (err) {
    throw new StartError(`cannot list courses at ${opts.gatewayUrl}/api/courses: ${(err as Error).message}. Is the gateway running (GATEWAY_URL, PORT)?`);
  }
  const courses = planCourses(catalogue, opts);
  // Each student locks, at most, its share of viewers at the dearest course's lock; nothing is left short.
  const fundMinor = Math.ceil(opts.viewers / opts.students) * Math.max(...courses.map((c) => c.lockMinor));
  const studentIds = await fundStudents(pool, runId, opts.students, fundMinor).catch((err: unknown) => {
    throw new StartError(`funding ${opts.students} students in schema ${config.databaseSchema}: ${(err as Error).message} (DATABASE_URL, DATABASE_SCHEMA as for npm start)`);
  });
  const students = await Promise.all(studentIds.map(async (id) => ({ id, token: await mint(id, 'student') })));
  const plans: PlanMessage[] = Array.from({ length: opts.processes }, (_, k) => ({
    kind: 'plan', processIndex: k, share: shareOf(k, opts.processes, opts.viewers), gatewayUrl: gatewayUrlForProcess(opts, k),
    opts, students, courses, runId, echo: null,
  }));
  console.error(`run ${runId}: ${opts.viewers} viewers in ${opts.processes} processes (${plans.map((p) => new URL(p.gatewayUrl).host).join(', ')}),`
    + ` ${opts.students} students funded with ${fundMinor / 100} each, ${courses.length} courses, ramp ${opts.rampS} s, ${opts.durationS} s each`);
  return { runId, courses, studentIds, fundMinor, plans };
}

/** Courses to play round robin, each with the amount a session locks: by default twice the cost of the run. */
function planCourses(catalogue: Course[], opts: Options): CoursePlan[] {
  const chosen = opts.course === undefined ? catalogue : catalogue.filter((c) => c.id === opts.course);
  if (chosen.length === 0) throw new StartError(opts.course === undefined ? 'the catalogue is empty: run the seed' : `no course ${opts.course}`);
  return chosen.map((c) => {
    const priceMinor = toMinor(c.price_per_minute);
    if (priceMinor === null || priceMinor === 0) throw new StartError(`course ${c.id} has a bad price ${c.price_per_minute}`);
    const lectureIds = c.content_structure.lectures.map((l) => l.id);
    if (lectureIds.length === 0) throw new StartError(`course ${c.id} has no lectures`);
    const runCost = Math.ceil((priceMinor * (opts.durationS + 60)) / 60);
    return { id: c.id, priceMinor, lectureIds, lockMinor: opts.lockMinor ?? Math.max(100, 2 * runCost) };
  });
}

interface FleetRun {
  outcome: FleetOutcome;
  board: ProgressBoard;
  stoppedBy: string | null;
}

/** Runs the viewer processes to their end, printing progress; stops them at --timeout-s, Ctrl-C, or the hard stop. */
async function runFleet(opts: Options, plans: PlanMessage[], startedAt: Date): Promise<FleetRun> {
  const board = new ProgressBoard(opts.viewers, startedAt.getTime());
  const fleet = startViewerFleet(plans, (m) => board.onProgress(m));
  let stoppedBy: string | null = null;
  const stopWith = (why: string) => {
    if (stoppedBy !== null) return;
    stoppedBy = why;
    fleet.stop();
  };
  const progress = setInterval(() => console.error(board.takeLine(Date.now())), progressIntervalMs);
  const timeout = setTimeout(() => {
    console.error(`timeout: ${opts.timeoutS} s reached; completing every session now`);
    stopWith('timeout');
  }, opts.timeoutS * 1000);
  const hardStop = setTimeout(() => {
    console.error('hard stop: viewers did not finish after the timeout; ending the viewer processes');
    stoppedBy = 'hard timeout';
    fleet.kill();
  }, opts.timeoutS * 1000 + hardStopGraceMs);
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) {
      fleet.kill();
      process.exit(130);
    }
    console.error('interrupted: completing every session (Ctrl-C again to quit at once)');
    stopWith('interrupted');
  };
  process.on('SIGINT', onSigint);
  const outcome = await fleet.finished;
  for (const t of [timeout, hardStop]) clearTimeout(t);
  clearInterval(progress);
  process.off('SIGINT', onSigint);
  console.error(board.takeLine(Date.now())); // the processes' last reports: every viewer finished
  return { outcome, board, stoppedBy };
}

/** The run's stats merged over its processes; a process that never reported counts as an error. */
function mergedStats(run: FleetRun): Stats {
  const stats = new Stats();
  for (const d of run.outcome.done) stats.merge(d.stats);
  for (const [k, exit] of run.outcome.exits.entries()) {
    if (!run.outcome.done.some((d) => d.processIndex === k)) stats.error(-1, null, 'viewer_process_lost', `process ${k}: ${exit}`);
  }
  return stats;
}

function processResults(plans: PlanMessage[], run: FleetRun): ProcessResult[] {
  return plans.map((p, k) => ({
    index: k, gateway_url: p.echo?.url ?? p.gatewayUrl, viewers: p.share.count,
    usage: run.outcome.done.find((d) => d.processIndex === k)?.usage ?? null, exit: run.outcome.exits[k] ?? null,
  }));
}

interface EchoFloorRun {
  result: EchoFloorResult;
  run: FleetRun;
  plans: PlanMessage[];
  stats: Stats;
}

/**
 * The driver's floor: the same viewers (processes, ramp, duration, heartbeat interval) heartbeating to the bare uWS
 * echo server, started here as its own process, each driver process on its own loopback address as against the
 * gateway. What the driver measures there is its own cost (and the kernel's), never the product's.
 */
async function runEchoFloor(opts: Options, intervalMs: number, startedAt: Date): Promise<EchoFloorRun> {
  const echo = await startEchoServer(repoRoot);
  try {
    const runId = `${opts.name}-echo-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const plans: PlanMessage[] = Array.from({ length: opts.processes }, (_, k) => ({
      kind: 'plan', processIndex: k, share: shareOf(k, opts.processes, opts.viewers), gatewayUrl: opts.gatewayUrl,
      opts, students: [], courses: [], runId,
      echo: { url: `${urlForProcess(`ws://127.0.0.1:${echo.port}`, true, k)}/`, intervalMs },
    }));
    console.error(`echo floor ${runId}: ${opts.viewers} viewers in ${opts.processes} processes against the bare uWS echo server`
      + ` (pid ${echo.pid}, port ${echo.port}), a heartbeat each ${intervalMs} ms, ramp ${opts.rampS} s, ${opts.durationS} s each`);
    const run = await runFleet(opts, plans, startedAt);
    const stats = mergedStats(run);
    const completed = run.outcome.done.reduce((n, d) => n + d.viewers.completed, 0);
    const result: EchoFloorResult = {
      heartbeat_ms: intervalMs, viewers: { requested: opts.viewers, completed }, heartbeats: stats.heartbeats, acks: stats.acks,
      latency: stats.ack.summary(), errors: Object.fromEntries(stats.errors), processes: processResults(plans, run),
      echo_server_cpu_ms: echo.cpuMs(),
    };
    return { result, run, plans, stats };
  } finally {
    echo.stop();
  }
}

async function finishEchoOnly(opts: Options, startedAt: Date, floor: EchoFloorRun): Promise<number> {
  const result = buildResult({
    opts, runId: floor.plans[0]?.runId ?? '', socketImpl: floor.run.outcome.socketImpl, startedAt, students: 0,
    stats: floor.stats, processes: floor.result.processes, done: floor.run.outcome.done, money: null, moneyError: null,
    progress: floor.run.board.points, stoppedBy: floor.run.stoppedBy, echoFloor: floor.result,
  });
  const dir = isAbsolute(opts.outDir) ? opts.outDir : resolve(repoRoot, opts.outDir);
  const file = await writeResult(dir, result);
  console.log(`\n${renderTable(result, file)}`);
  return result.exit_code;
}

async function finish(opts: Options, prepared: Prepared, pool: Pool, startedAt: Date, run: FleetRun, echoFloor: EchoFloorResult | null): Promise<number> {
  const stats = mergedStats(run);
  console.error(`viewers done; checking the money of the run's sessions in Postgres (${run.outcome.settled.length} settled by their viewers)`);
  let money: MoneyCheck | null = null;
  let moneyError: string | null = null;
  try {
    const open = await waitForRunSettled(pool, prepared.studentIds);
    if (open > 0) console.error(`${open} sessions of the run are still not settled`);
    money = await checkRunMoney(pool, prepared.studentIds, prepared.fundMinor, run.outcome.settled);
  } catch (err) {
    moneyError = (err as Error).message;
  }
  const result = buildResult({
    opts, runId: prepared.runId, socketImpl: run.outcome.socketImpl, startedAt,
    students: prepared.studentIds.length, stats, processes: processResults(prepared.plans, run), done: run.outcome.done, money, moneyError,
    progress: run.board.points, stoppedBy: run.stoppedBy, echoFloor,
  });
  const dir = isAbsolute(opts.outDir) ? opts.outDir : resolve(repoRoot, opts.outDir);
  const file = await writeResult(dir, result);
  console.log(`\n${renderTable(result, file)}`);
  return result.exit_code;
}

/** Exits once stdout has drained (process.exit alone can cut a piped table short). */
function exitWith(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

main().then(exitWith, (err: unknown) => {
  const expected = err instanceof StartError || err instanceof ConfigError;
  console.error(expected ? `cannot start: ${(err as Error).message}` : err);
  exitWith(3);
});
