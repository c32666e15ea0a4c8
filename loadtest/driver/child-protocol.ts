// The messages between the parent driver and its viewer processes (IPC, structured as JSON). One file so both sides
// agree on them; nothing here runs.
import type { Options } from './options.js';
import type { CoursePlan } from './player.js';
import type { StatsWire } from './stats.js';
import type { ProcessUsage, RunUsage } from '../common/process-usage.js';
import type { EndReason } from './verify.js';

/** Viewers of one process: global indexes first, first + step, first + 2·step, … (count of them). */
export interface ViewerShare {
  first: number;
  step: number;
  count: number;
}

/** Parent → child, once: everything the process needs; it opens no database and reads no secret. */
export interface PlanMessage {
  kind: 'plan';
  processIndex: number;
  share: ViewerShare;
  gatewayUrl: string;
  opts: Options;
  /** Every student of the run with its token, in order: viewer i is a session of student i mod length. */
  students: { id: string; token: string }[];
  courses: CoursePlan[];
  runId: string;
  /** Set for the echo floor: the viewers heartbeat to the bare echo server at `url` instead (echo-floor-player.ts). */
  echo: { url: string; intervalMs: number } | null;
}

/** Parent → child, once every process is ready: the ramp starts now, in every process at once. */
export interface GoMessage {
  kind: 'go';
}

/** Parent → child: complete every session now (timeout or Ctrl-C). */
export interface StopMessage {
  kind: 'stop';
}

export type ParentMessage = PlanMessage | GoMessage | StopMessage;

/** Child → parent, once its modules and clients are loaded: a process that is still loading would skew the ramp. */
export interface ReadyMessage {
  kind: 'ready';
  processIndex: number;
  socketImpl: string;
}

/** Child → parent, every progress interval. Counters are totals so far; ackWindow covers this interval only. */
export interface ProgressMessage {
  kind: 'progress';
  processIndex: number;
  connected: number;
  finished: number;
  heartbeats: number;
  acks: number;
  ackWindow: string;
  errors: Record<string, number>;
  checkFailures: number;
  reconnects: number;
  usage: ProcessUsage;
}

/** One settled session as its viewer saw it: [session id, billed ms, cost in minor units, end reason]. */
export type SettledRow = [string, number, number, EndReason];

/** Child → parent, after every viewer is done, before `done`: the settlements, in chunks. */
export interface SettledMessage {
  kind: 'settled';
  rows: SettledRow[];
}

export interface DoneMessage {
  kind: 'done';
  processIndex: number;
  stats: StatsWire;
  viewers: { completed: number; failed: number; skipped: number };
  /** billed ms / wall ms (start request → settled) over completed viewers. */
  billedOverWall: { sum: number; count: number; min: number | null };
  usage: RunUsage;
}

export type ChildMessage = ReadyMessage | ProgressMessage | SettledMessage | DoneMessage;

/** How often a viewer process reports to the parent, and the parent prints its progress line. */
export const progressIntervalMs = 5_000;

/** Settled rows per IPC message: bounded so no single message grows with the run. */
export const settledRowsPerMessageMax = 5_000;
