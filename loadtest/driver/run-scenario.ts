// The Node load driver: N simulated players against a running gateway, every answer checked (see --help).
// Wires the modules of this folder together; the logic lives in them.
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { mintToken, tokenTtlSecondsMax } from '../../shared/auth/mint-token.js';
import { createRestClient, RestError, type Course, type RestClient } from '../../shared/client/rest-client.js';
import { completeTimeoutMs } from '../../shared/client/metering-client.js';
import { parseOptions, usage, type Options } from './options.js';
import { loadSocketImpl } from './socket-impl.js';
import { runPlayer, type CoursePlan, type PlayerContext, type PlayerRecord, type Settled } from './player.js';
import { Stats } from './stats.js';
import { checkSettledStatus, toMinor } from './verify.js';
import { buildResult, renderTable, writeResult } from './report.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Read-backs of settled sessions in flight at once. */
const statusChecksInFlightMax = 16;
/** After --timeout-s the players get this long to complete before the driver gives up on them. */
const hardStopGraceMs = completeTimeoutMs + 30_000;
const progressEveryMs = 5_000;

class StartError extends Error {
  override readonly name = 'StartError';
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
  const ctx = await prepare(opts);
  const stop = new AbortController();
  setMaxListeners(2 * opts.players + 10, stop.signal); // one listener per player and per open socket
  let stoppedBy: string | null = null;
  const stopWith = (why: string) => {
    if (stoppedBy !== null) return;
    stoppedBy = why;
    stop.abort();
  };
  const playerCtx: PlayerContext = { ...ctx, opts, stats: new Stats(), stop: stop.signal };
  const records: PlayerRecord[] = [];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  const finishRun = async (extraStop: string | null): Promise<number> => {
    loop.disable();
    const delay = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
    const result = buildResult({ opts, socketImpl: ctx.socketImpl.name, startedAt, stats: playerCtx.stats, records,
      loopDelay: delay, stoppedBy: extraStop ?? stoppedBy });
    const dir = isAbsolute(opts.outDir) ? opts.outDir : resolve(repoRoot, opts.outDir);
    const file = await writeResult(dir, result);
    console.log(`\n${renderTable(result, file)}`);
    return result.exit_code;
  };

  const timeout = setTimeout(() => {
    console.error(`timeout: ${opts.timeoutS} s reached; completing every session now`);
    stopWith('timeout');
  }, opts.timeoutS * 1000);
  const hardStop = setTimeout(() => {
    console.error('hard stop: players did not finish after the timeout; writing partial results');
    void finishRun('hard timeout').then((code) => exitWith(code === 0 ? 3 : code));
  }, opts.timeoutS * 1000 + hardStopGraceMs);
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    console.error('interrupted: completing every session (Ctrl-C again to quit at once)');
    stopWith('interrupted');
  });
  const progress = setInterval(() => printProgress(playerCtx, records.length), progressEveryMs);

  const settled: Settled[] = [];
  await Promise.all(Array.from({ length: opts.players }, async (_, i) => {
    const r = await runPlayer(playerCtx, i);
    records.push(r.record);
    if (r.settled !== null) settled.push(r.settled);
  }));
  clearInterval(progress);
  clearTimeout(timeout);
  console.error(`players done; reading back ${settled.length} settled sessions`);
  await readBack(playerCtx, settled);
  clearTimeout(hardStop);
  records.sort((a, b) => a.player - b.player);
  return finishRun(null);
}

interface Prepared {
  rest: RestClient;
  token: string;
  socketImpl: Awaited<ReturnType<typeof loadSocketImpl>>;
  courses: CoursePlan[];
  runId: string;
}

async function prepare(opts: Options): Promise<Prepared> {
  const config = loadConfig();
  if (config.jwtSecret === '') throw new StartError('JWT_SECRET is not set: the driver mints HS256 student tokens with the gateway\'s secret');
  const socketImpl = await loadSocketImpl();
  const token = await mintToken({
    secret: config.jwtSecret, sub: opts.student, role: 'student',
    ttlSeconds: Math.min(tokenTtlSecondsMax, opts.timeoutS + Math.ceil(hardStopGraceMs / 1000) + 600),
    issuer: config.jwtIssuer || undefined, audience: config.jwtAudience || undefined,
  });
  const rest = createRestClient({ baseUrl: opts.gatewayUrl, token });
  let catalogue: Course[];
  try {
    catalogue = await rest.listCourses();
  } catch (err) {
    throw new StartError(`cannot list courses at ${opts.gatewayUrl}/api/courses: ${(err as Error).message}. Is the gateway running (GATEWAY_URL)?`);
  }
  const courses = planCourses(catalogue, opts);
  await checkWallet(rest, courses, opts);
  const runId = `${opts.name}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  console.error(`${opts.players} players, ${courses.length} courses, socket: ${socketImpl.name}, run ${runId}`);
  return { rest, token, socketImpl, courses, runId };
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

async function checkWallet(rest: RestClient, courses: CoursePlan[], opts: Options): Promise<void> {
  let needed = 0;
  for (let i = 0; i < opts.players; i++) needed += courses[i % courses.length]!.lockMinor;
  const w = await rest.getWallet().catch((err: unknown) => {
    throw new StartError(`GET /api/wallet failed: ${(err as Error).message}`);
  });
  const balance = toMinor(w.wallet_balance) ?? 0;
  if (balance < needed) {
    throw new StartError(`student ${opts.student} has ${w.wallet_balance}, the run locks up to ${needed / 100}: use --lock-amount or fewer --players`);
  }
}

/** Every settled session read back over REST must show the settled figures. */
async function readBack(ctx: PlayerContext, settled: Settled[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < settled.length; i = next++) {
      const s = settled[i]!;
      const id = s.record.session_id!;
      ctx.stats.operations += 1;
      try {
        const t = performance.now();
        const st = await ctx.rest.getStatus(id);
        ctx.stats.restLatency('status').record(performance.now() - t);
        ctx.stats.failures(s.record.player, id, checkSettledStatus(st, s.summary, s.reason, s.terms));
      } catch (err) {
        const code = err instanceof RestError ? `rest_status_${err.code}` : 'rest_status_exception';
        ctx.stats.error(s.record.player, id, code, (err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(statusChecksInFlightMax, settled.length) }, worker));
}

function printProgress(ctx: PlayerContext, finished: number): void {
  const s = ctx.stats;
  const ack = s.ack.summary();
  console.error(`… players finished ${finished}/${ctx.opts.players}, acks ${s.acks}, ack p99 ${ack.p99_ms.toFixed(2)} ms, `
    + `errors ${s.errorCount()}, failed checks ${s.failureCount()}, reconnects ${s.reconnects}`);
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
