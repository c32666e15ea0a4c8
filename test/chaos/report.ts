// The chaos run's report: one table of what happened and what was checked, then the faults in order, then every
// violation, crash and unclean shutdown with its evidence. Plain text, for a terminal and a CI log.
import type { ChaosResult } from './harness.js';
import type { PlayerResult } from './players.js';

const violationsShownMax = 40;

function tally(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
}

function sumCounts(players: readonly PlayerResult[], pick: (p: PlayerResult) => Record<string, number>): string {
  const total = new Map<string, number>();
  for (const p of players) for (const [k, n] of Object.entries(pick(p))) total.set(k, (total.get(k) ?? 0) + n);
  return [...total.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const at = (ms: number) => `+${(ms / 1000).toFixed(1)}s`;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sessions whose life (create → player done) overlaps a fault, from its injection to its recovery. */
export function sessionsAffected(r: ChaosResult): number {
  return r.players.filter((p) => p.createdAtMs !== null && r.faults.some((f) =>
    f.atMs <= (p.doneAtMs ?? Infinity) && (f.recoveredAtMs ?? f.atMs) >= p.createdAtMs!)).length;
}

export interface FaultKindSummary {
  kind: string;
  count: number;
  /** Invariant violations of sessions live during a fault of this kind, and those tied to no session. */
  violations: number;
  /** The largest billed-time loss of a session live during a fault of this kind, ms (null: none completed). */
  lossMsMax: number | null;
  /**
   * Time to recover, ms: the longest time from a fault's start until a player acknowledged just before it was
   * acknowledged again (the hang or failover itself included).
   */
  recoverMsMax: number | null;
}

const liveDuring = (p: ChaosResult['players'][number], f: ChaosResult['faults'][number]) =>
  p.createdAtMs !== null && f.atMs <= (p.doneAtMs ?? Infinity) && (f.recoveredAtMs ?? f.atMs) >= p.createdAtMs;

/** Per fault kind: what it cost the players and whether anything broke (the chaos table of README "When things fail"). */
export function faultKindSummaries(r: ChaosResult): FaultKindSummary[] {
  const kinds = [...new Set(r.faults.map((f) => f.kind))];
  const lossOf = new Map(r.billing.map((b) => [b.sessionId, b.lossMs]));
  return kinds.map((kind) => {
    const faults = r.faults.filter((f) => f.kind === kind);
    const live = r.players.filter((p) => faults.some((f) => liveDuring(p, f)));
    const liveIds = new Set(live.map((p) => p.sessionId));
    const losses = live.map((p) => lossOf.get(p.sessionId ?? '')).filter((x): x is number => x !== undefined);
    const recoveries = faults.flatMap((f) => r.players.flatMap((p) => {
      const before = p.ackAtMs.filter((t) => t <= f.atMs);
      const after = p.ackAtMs.find((t) => t > f.atMs);
      // Acknowledged within two heartbeats before the fault: the player was watching when it struck.
      return before.length > 0 && f.atMs - before[before.length - 1]! <= 2 * r.options.heartbeatMs && after !== undefined ? [after - f.atMs] : [];
    }));
    return {
      kind, count: faults.length,
      violations: r.violations.filter((v) => v.kind === 'invariant' && (v.sessionId === null || liveIds.has(v.sessionId))).length,
      lossMsMax: losses.length > 0 ? Math.max(...losses) : null,
      recoverMsMax: recoveries.length > 0 ? Math.max(...recoveries) : null,
    };
  });
}

export function invariantViolations(r: ChaosResult): number {
  return r.violations.filter((v) => v.kind === 'invariant').length;
}

export function formatReport(r: ChaosResult): string {
  const o = r.options;
  const losses = r.billing.map((b) => b.lossMs).sort((a, b) => a - b);
  const worstLoss = r.billing.reduce((w, b) => (w === null || b.lossMs > w.lossMs ? b : w), null as (typeof r.billing)[number] | null);
  const worstOver = r.billing.reduce((w, b) => (w === null || b.overMs > w.overMs ? b : w), null as (typeof r.billing)[number] | null);
  const worstOverTrue = Math.max(0, ...r.billing.map((b) => b.overTrueMs));
  const ackLatencyMax = Math.max(0, ...r.players.map((p) => p.ackLatencyMsMax));
  const noWipeLoss = Math.max(0, ...r.billing.filter((b) => b.redisWipes === 0).map((b) => b.lossMs));
  const overStrict = r.billing.filter((b) => b.lossMs > b.strictLossBoundMs);
  const reconnected = r.players.filter((p) => p.reconnects > 0).length;
  const acks = r.players.reduce((n, p) => n + p.acks, 0);
  const settled = Object.entries(r.endReasons).filter(([k]) => !k.startsWith('open')).reduce((n, [, c]) => n + c, 0);
  const rows: [string, string][] = [
    ['sessions', `${r.sessionsInDb} in Postgres, ${settled} settled (${tally(Object.entries(r.endReasons).flatMap(([k, n]) => Array<string>(n).fill(k)))})`],
    ['players', `${r.players.length}: ended over ${tally(r.players.map((p) => p.endedVia ?? 'nothing'))}; ${r.players.filter((p) => p.lowFunds).length} low-funds, ${r.players.filter((p) => p.abandon).length} left without completing`],
    ['faults injected', `${r.faults.length}: ${tally(r.faults.map((f) => f.kind))}${r.faults.some((f) => f.error) ? ` (${r.faults.filter((f) => f.error).length} FAILED)` : ''}`],
    ['sessions affected', `${sessionsAffected(r)} live during a fault; ${reconnected} reconnected (${r.players.reduce((n, p) => n + p.reconnects, 0)} reconnects)`],
    ['heartbeats', `${acks} acked (slowest ack ${Math.round(ackLatencyMax)} ms); error frames: ${sumCounts(r.players, (p) => p.heartbeatErrors)}; ack timeouts ${r.players.reduce((n, p) => n + p.ackTimeouts, 0)}`],
    ['socket closes / refusals', `closes ${sumCounts(r.players, (p) => p.closeCodes)}; upgrades refused ${sumCounts(r.players, (p) => p.upgradeRefusals)}`],
    ['REST errors (retried)', sumCounts(r.players, (p) => p.restErrors)],
    ['max billed-time loss', worstLoss === null ? 'n/a'
      : `${worstLoss.lossMs} ms (bound ${worstLoss.lossBoundMs} ms, ${worstLoss.redisWipes} Redis wipes); p50 ${percentile(losses, 50)} ms, p99 ${percentile(losses, 99)} ms; without a wipe ${noWipeLoss} ms`],
    ['over the strict bound', `${overStrict.length} sessions lost more than max(1, wipes) × ${o.checkpointMs + 2 * o.heartbeatMs} + ${o.slackMs} ms${overStrict.length > 0 ? ` (worst ${Math.max(...overStrict.map((b) => b.lossMs - b.strictLossBoundMs))} ms over; reported, not a violation)` : ''}`],
    ['max over-billing', worstOver === null ? 'n/a'
      : `${Math.max(0, worstOver.overMs)} ms above true_upper (bound: slack ${o.slackMs} ms); ${worstOverTrue} ms above the player's own intervals`],
    ['invariant violations', `${invariantViolations(r)}`],
    ['availability failures', `${r.violations.length - invariantViolations(r)}`],
    ['process crashes', `${r.crashes.length} (start refusals ${r.startFailures.length}, unclean SIGTERM exits ${r.shutdownExits.length})`],
    ['dead-lettered settlements', r.deadLetters === null ? 'unknown' : String(r.deadLetters)],
    ['harness event loop', `delay p99 ${r.loopDelayMs.p99} ms, max ${r.loopDelayMs.max} ms; ${r.stalls.length} stalls over 300 ms${r.stalls.length > 0 ? ` (${[...r.stalls].sort((a, b) => b.ms - a.ms).slice(0, 4).map((x) => `${x.ms} ms at ${at(x.atMs)}`).join(', ')})` : ''}`],
    ['time', `setup ${s(r.timings.setupMs)}, play ${s(r.timings.playMs)}, settle wait ${s(r.timings.settleMs)}, checks ${s(r.timings.checkMs)}, total ${s(r.timings.totalMs)}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `chaos run ${r.runId}: ${o.players} players, ${s(o.durationMs)} window, ${o.gateways} gateways, ${o.workers} workers, seed ${o.seed}`,
    `  HEARTBEAT_INTERVAL_MS ${o.heartbeatMs}, CHECKPOINT_INTERVAL_MS ${o.checkpointMs}, DISCONNECT_GRACE_MS ${o.graceMs}, SETTLE_CLAIM_IDLE_MS ${o.settleClaimIdleMs}, slack ${o.slackMs} ms`,
    `  billing bound per session: billed ∈ [true − Σ_wipes (${o.checkpointMs} + 2 × ${o.heartbeatMs} + outage) − ${o.slackMs}, true_upper + ${o.slackMs}] ms (no wipe: ${o.checkpointMs} + 2 × ${o.heartbeatMs})`,
    '  (true: playing intervals closed by acked heartbeats, player clock; true_upper: the same intervals widened by each heartbeat\'s measured processing delay)',
    '',
    ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`),
    '',
    'per fault kind:',
    `  ${'kind'.padEnd(20)} ${'count'.padStart(5)}  ${'invariant violations'.padStart(20)}  ${'billed time lost at most'.padStart(24)}  ${'time to recover'.padStart(15)}`,
    ...faultKindSummaries(r).map((k) => `  ${k.kind.padEnd(20)} ${String(k.count).padStart(5)}  ${String(k.violations).padStart(20)}  `
      + `${(k.lossMsMax === null ? 'n/a' : `${k.lossMsMax} ms`).padStart(24)}  ${(k.recoverMsMax === null ? 'n/a' : s(k.recoverMsMax)).padStart(15)}`),
    '',
    'faults:',
    ...(r.faults.length === 0 ? ['  none'] : r.faults.map((f) => `  ${at(f.atMs).padStart(7)}  ${f.kind.padEnd(20)} ${f.target.padEnd(16)} down ${String(f.downMs).padStart(5)} ms, back ${f.recoveredAtMs === null ? 'NEVER' : at(f.recoveredAtMs)}${f.error ? `  FAILED: ${f.error}` : ''}${f.note ? `  (${f.note})` : ''}`)),
  ];
  if (r.violations.length > 0) {
    lines.push('', `violations (${r.violations.length}):`);
    for (const v of r.violations.slice(0, violationsShownMax)) lines.push(`  [${v.kind}] ${v.check}: ${v.sessionId ?? '-'} ${v.detail}`);
    if (r.violations.length > violationsShownMax) lines.push(`  … ${r.violations.length - violationsShownMax} more in ${r.dir}/result.json`);
  }
  for (const [title, list] of [['process crashes', r.crashes], ['unclean exits on SIGTERM', r.shutdownExits], ['exits during a start', r.startFailures]] as const) {
    if (list.length === 0) continue;
    lines.push('', `${title} (${list.length}):`);
    for (const c of list) lines.push(`  ${at(c.atMs)} ${c.name} exit ${c.signal ?? c.code}`, ...c.logTail.split('\n').slice(-6).map((l) => `      ${l.slice(0, 300)}`));
  }
  if (r.keptDir) lines.push('', `process logs and result.json kept in ${r.dir}`);
  return lines.join('\n');
}
