// One viewer process: runs its share of the run's viewers (player.ts, or echo-floor-player.ts against the bare echo
// server) against its own destination address, reports progress to the parent every progress interval, and at the
// end its settlements, its stats and its own usage (loop delay, GC, CPU per heartbeat and per join). Started by
// run-scenario.ts with an IPC channel; it reads no environment and opens no database: the plan carries it all.
import { createRestClient } from '../../player/sdk/index.js';
import type { ChildMessage, ParentMessage, PlanMessage, SettledRow } from './child-protocol.js';
import { progressIntervalMs, settledRowsPerMessageMax } from './child-protocol.js';
import { runPlayer, type PlayerContext, type PlayerEvents, type PlayerRecord } from './player.js';
import { runEchoViewer } from './echo-floor-player.js';
import { UsageMonitor } from '../common/process-usage.js';
import { HeartbeatWheels } from '../common/heartbeat-wheel.js';
import { JoinPacer } from '../common/join-pacer.js';
import { limitConcurrency } from './limit-concurrency.js';
import { createAgents, createHttpFetch } from './http-fetch.js';
import { loadSocketImpl } from './socket-impl.js';
import { StopSignal } from './stop-signal.js';
import { Stats } from './stats.js';
import { toMinor } from './verify.js';

/**
 * REST calls one process has in flight at once. Bounds its keep-alive connections to the gateway (one file each)
 * and queues the ramp's creates here rather than in the gateway when it falls behind.
 */
const restInFlightMax = 64;

const send = (m: ChildMessage): Promise<void> => new Promise((resolve) => {
  if (!process.connected) return resolve();
  process.send!(m, undefined, {}, () => resolve());
});

/**
 * The process's phases for its usage figures: joining from `go` until each of its viewers has joined or given up,
 * then steady (heartbeats only) until the first viewer leaves.
 */
function phaseEvents(usage: UsageMonitor, viewers: number): PlayerEvents {
  let settledJoins = 0;
  let leaving = false;
  const joinedOrGone = () => {
    settledJoins += 1;
    if (settledJoins === viewers && !leaving) usage.phase('steady');
  };
  return {
    heartbeat: () => usage.heartbeat(),
    joined: () => { usage.joined(); joinedOrGone(); },
    neverJoined: joinedOrGone,
    leaving: () => {
      if (leaving) return;
      leaving = true;
      usage.phase('leave');
    },
  };
}

async function run(plan: PlanMessage, stop: StopSignal, go: Promise<void>): Promise<void> {
  const usage = new UsageMonitor();
  const socketImpl = await loadSocketImpl('ws');
  const fetch = createHttpFetch(createAgents(restInFlightMax));
  const students = plan.students.map((s) => ({ ...s, rest: createRestClient({ baseUrl: plan.gatewayUrl, token: s.token, fetch, joinRetry: false }) }));
  const restSlot = limitConcurrency(<T>(call: () => Promise<T>) => call(), restInFlightMax);
  const ctx: PlayerContext = {
    opts: plan.opts, gatewayUrl: plan.gatewayUrl, students, socketImpl, stats: new Stats(), courses: plan.courses,
    runId: plan.runId, live: { connected: 0 }, restSlot: restSlot as PlayerContext['restSlot'], stop,
    wheels: new HeartbeatWheels(), pacer: new JoinPacer(), events: phaseEvents(usage, plan.share.count),
  };
  await send({ kind: 'ready', processIndex: plan.processIndex, socketImpl: socketImpl.name });
  await go;
  usage.phase('join');
  let finished = 0;
  const reportProgress = () => {
    const s = ctx.stats;
    const m = {
      kind: 'progress', processIndex: plan.processIndex, connected: ctx.live.connected, finished, heartbeats: s.heartbeats,
      acks: s.acks, ackWindow: s.ackWindow.encode(), errors: Object.fromEntries(s.errors), checkFailures: s.failureCount(),
      reconnects: s.reconnects, usage: usage.takeWindow(),
    } as const;
    s.ackWindow.reset();
    return send(m);
  };
  const progress = setInterval(() => void reportProgress(), progressIntervalMs);

  const records: PlayerRecord[] = [];
  const settled: SettledRow[] = [];
  const { first, step, count } = plan.share;
  const echo = plan.echo;
  await Promise.all(Array.from({ length: count }, async (_, j) => {
    if (echo !== null) {
      const r = await runEchoViewer(ctx, first + j * step, echo.url, echo.intervalMs);
      records.push({ ...emptyRecord(first + j * step), outcome: r.outcome });
      finished += 1;
      return;
    }
    const r = await runPlayer(ctx, first + j * step);
    records.push(r.record);
    finished += 1;
    if (r.settled !== null) {
      const ms = Math.round(r.settled.summary.duration_seconds * 1000);
      settled.push([r.record.session_id!, ms, toMinor(r.settled.summary.cost) ?? -1, r.settled.reason]);
    }
  }));
  clearInterval(progress);
  await reportProgress(); // the last window, so the parent's last line shows everyone finished
  for (let i = 0; i < settled.length; i += settledRowsPerMessageMax) {
    await send({ kind: 'settled', rows: settled.slice(i, i + settledRowsPerMessageMax) });
  }
  const ratios = records.filter((r) => r.outcome === 'completed' && r.billed_ms !== null && (r.wall_ms ?? 0) > 0).map((r) => r.billed_ms! / r.wall_ms!);
  await send({
    kind: 'done', processIndex: plan.processIndex, stats: ctx.stats.toWire(),
    viewers: {
      completed: records.filter((r) => r.outcome === 'completed').length,
      failed: records.filter((r) => r.outcome === 'failed').length,
      skipped: count - records.filter((r) => r.outcome !== 'skipped').length,
    },
    billedOverWall: { sum: ratios.reduce((a, b) => a + b, 0), count: ratios.length, min: ratios.length === 0 ? null : Math.min(...ratios) },
    usage: usage.finish(),
  });
}

function emptyRecord(player: number): PlayerRecord {
  return {
    player, session_id: null, course_id: '', outcome: 'skipped', ended_via: null, end_reason: null, billed_ms: null,
    cost: null, wall_ms: null, acks: 0, reconnects: 0, failure: null,
  };
}

const stop = new StopSignal();
let startRamp!: () => void;
const go = new Promise<void>((resolve) => { startRamp = resolve; });
// Ctrl-C reaches the whole process group: the parent decides, and tells us with a `stop` message.
process.on('SIGINT', () => undefined);
// Without a parent nobody reads our results, but the sessions still hold funds: complete them, then leave.
process.on('disconnect', () => { stop.stop(); startRamp(); });
process.on('message', (m: ParentMessage) => {
  if (m.kind === 'stop') stop.stop();
  else if (m.kind === 'go') startRamp();
  else if (m.kind === 'plan') {
    run(m, stop, go).then(() => { if (process.connected) process.disconnect(); }, (err: unknown) => {
      console.error(`viewer process ${m.processIndex}:`, err);
      process.exit(1);
    });
  }
});
