// What one chaos run does, with every bound explicit (counts, durations, timeouts), and the CLI flags that set it.
import { faultKinds, faultKindsFor, redisTopologies, type FaultKind, type RedisTopology } from './faults.js';

export interface ChaosOptions {
  /** Simulated players, one session each. */
  players: number;
  /** Length of the playing window: players start in the first rampMs and stop playing by its end. */
  durationMs: number;
  rampMs: number;
  /** Faults injected, one at a time, inside the playing window. */
  faults: number;
  faultKinds: readonly FaultKind[];
  /** The first round of faults follows faultKinds' order instead of a shuffle. */
  faultsInOrder: boolean;
  gateways: number;
  workers: number;
  /** How the product reaches Redis: one server behind a proxy (hangs, wipes), a Cluster, or Sentinel (failovers). */
  redisTopology: RedisTopology;
  /** Product settings given to every gateway and worker process. */
  heartbeatMs: number;
  checkpointMs: number;
  graceMs: number;
  settleClaimIdleMs: number;
  /**
   * Clock and loopback slack of the billing check, ms. Billed and true time are measured on two clocks (Redis TIME
   * at the script, the player's performance.now() at send); each playing/paused boundary can differ by the one-way
   * latency jitter of a heartbeat, and the error does not telescope away across a toggle.
   */
  slackMs: number;
  /** Share of players whose lock covers only part of their play time (they end funds_exhausted). */
  lowFundsShare: number;
  /** Share of players that close their socket at the end without completing (settled `disconnected` by the worker). */
  abandonShare: number;
  /** Longest wait, after the playing window, for every session to be settled in Postgres. */
  settleTimeoutMs: number;
  seed: number;
  /** Keep the run directory (process logs) even when the run is clean. */
  keepLogs: boolean;
  /** Progress lines on stderr. */
  verbose: boolean;
}

export const chaosDefaults: ChaosOptions = Object.freeze({
  players: 300,
  durationMs: 120_000,
  rampMs: 5_000,
  faults: 12,
  faultKinds: faultKindsFor('single'),
  faultsInOrder: false,
  gateways: 2,
  workers: 2,
  redisTopology: 'single',
  heartbeatMs: 1_000,
  checkpointMs: 2_000,
  graceMs: 3_000,
  settleClaimIdleMs: 2_000,
  slackMs: 250,
  lowFundsShare: 0.1,
  abandonShare: 0.1,
  settleTimeoutMs: 90_000,
  seed: 0,
  keepLogs: false,
  verbose: true,
});

/** Largest numbers a run accepts: the machine has to carry every player, process and instance at once. */
export const playersMax = 2_000;
export const durationMsMax = 3_600_000;
export const faultsMax = 500;

export function checkOptions(o: ChaosOptions): void {
  const bad: string[] = [];
  if (!Number.isInteger(o.players) || o.players < 1 || o.players > playersMax) bad.push(`players must be 1..${playersMax}`);
  if (o.durationMs < 5_000 || o.durationMs > durationMsMax) bad.push(`duration must be 5 s..${durationMsMax / 1000} s`);
  if (o.rampMs < 0 || o.rampMs > o.durationMs / 2) bad.push('ramp must be at most half the duration');
  if (!Number.isInteger(o.faults) || o.faults < 0 || o.faults > faultsMax) bad.push(`faults must be 0..${faultsMax}`);
  if (o.faultKinds.length === 0 && o.faults > 0) bad.push('no fault kinds enabled');
  if (o.gateways < 2 && o.faultKinds.includes('gateway_kill')) bad.push('gateway_kill needs at least 2 gateways (players move to the other one)');
  if (o.workers < 1 || o.gateways < 1) bad.push('at least one gateway and one worker');
  if (!redisTopologies.includes(o.redisTopology)) bad.push(`redis topology must be one of ${redisTopologies.join(', ')}`);
  const misfit = o.faultKinds.filter((k) => !faultKindsFor(o.redisTopology).includes(k));
  if (misfit.length > 0) bad.push(`${misfit.join(', ')} cannot run with --redis ${o.redisTopology}`);
  if (o.graceMs < o.heartbeatMs / 2) bad.push('grace must be at least half a heartbeat (the product refuses less)');
  if (o.lowFundsShare < 0 || o.lowFundsShare > 1) bad.push('low-funds share must be 0..1');
  if (o.abandonShare < 0 || o.abandonShare > 1) bad.push('abandon share must be 0..1');
  if (bad.length > 0) throw new Error(`invalid chaos options:\n  ${bad.join('\n  ')}`);
}

const usage = `npm run chaos -- [flags]
  --players N            simulated players, one session each (${chaosDefaults.players})
  --duration-s S         playing window in seconds (${chaosDefaults.durationMs / 1000})
  --ramp-s S             players start within the first S seconds (${chaosDefaults.rampMs / 1000})
  --faults N             faults injected one at a time (${chaosDefaults.faults})
  --redis T              how the product reaches Redis: ${redisTopologies.join(', ')} (${chaosDefaults.redisTopology})
  --fault-kinds a,b      of ${faultKinds.join(', ')} (all that fit --redis)
  --gateways N --workers N   product processes (${chaosDefaults.gateways}, ${chaosDefaults.workers})
  --heartbeat-ms N --checkpoint-ms N --grace-ms N --claim-idle-ms N   product settings (1000, 2000, 3000, 2000)
  --slack-ms N           clock slack of the billing check (${chaosDefaults.slackMs})
  --low-funds-share X    share of players that run out of funds (${chaosDefaults.lowFundsShare})
  --abandon-share X      share of players that leave without completing (${chaosDefaults.abandonShare})
  --settle-timeout-s S   longest wait for every session to settle (${chaosDefaults.settleTimeoutMs / 1000})
  --seed N               replay a run's plan (random when omitted)
  --keep-logs            keep the run directory even when the run is clean
  --quiet                no progress lines`;

export function parseChaosArgs(argv: readonly string[]): ChaosOptions | 'help' {
  const o: ChaosOptions = { ...chaosDefaults, seed: Math.floor(Math.random() * 2 ** 31) };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number\n\n${usage}`);
    return n;
  };
  let kindsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = () => argv[++i];
    switch (flag) {
      case '--players': o.players = num(flag, next()); break;
      case '--duration-s': o.durationMs = num(flag, next()) * 1000; break;
      case '--ramp-s': o.rampMs = num(flag, next()) * 1000; break;
      case '--faults': o.faults = num(flag, next()); break;
      case '--fault-kinds': {
        const kinds = (next() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = kinds.filter((k) => !(faultKinds as readonly string[]).includes(k));
        if (unknown.length > 0) throw new Error(`unknown fault kind ${unknown.join(', ')}\n\n${usage}`);
        o.faultKinds = kinds as FaultKind[];
        kindsGiven = true;
        break;
      }
      case '--redis': o.redisTopology = (next() ?? '') as RedisTopology; break;
      case '--gateways': o.gateways = num(flag, next()); break;
      case '--workers': o.workers = num(flag, next()); break;
      case '--heartbeat-ms': o.heartbeatMs = num(flag, next()); break;
      case '--checkpoint-ms': o.checkpointMs = num(flag, next()); break;
      case '--grace-ms': o.graceMs = num(flag, next()); break;
      case '--claim-idle-ms': o.settleClaimIdleMs = num(flag, next()); break;
      case '--slack-ms': o.slackMs = num(flag, next()); break;
      case '--low-funds-share': o.lowFundsShare = num(flag, next()); break;
      case '--abandon-share': o.abandonShare = num(flag, next()); break;
      case '--settle-timeout-s': o.settleTimeoutMs = num(flag, next()) * 1000; break;
      case '--seed': o.seed = num(flag, next()); break;
      case '--keep-logs': o.keepLogs = true; break;
      case '--quiet': o.verbose = false; break;
      case '--help': case '-h': return 'help';
      default: throw new Error(`unknown flag ${flag}\n\n${usage}`);
    }
  }
  if (!kindsGiven) o.faultKinds = redisTopologies.includes(o.redisTopology) ? faultKindsFor(o.redisTopology) : [];
  checkOptions(o);
  return o;
}

export const chaosUsage = usage;
