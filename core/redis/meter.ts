// The one typed choke point for metering state in Redis: every script call and every key goes through here, and
// negative script codes become typed refusals from one table.
import type { RedisClient } from './connect.js';
import { checkpointReadsPerScriptCallMax } from '../limits.js';
import { settleGroup, type Keys } from './keys.js';
import { endReason, type EndReason } from '../protocol/common.js';
import { toSettleEntry, type FrozenSession, type ProgressMs } from '../protocol/settlement.js';
import { invariant } from '../errors.js';
import { createDirtySessions } from './dirty-sessions.js';
import calculateSlot from 'cluster-key-slot';
import { batchScript, runBatchScript } from './load-scripts.js';
import { updatesPerScriptCallMax } from '../limits.js';

export const refusalCodes = {
  [-1]: 'unknown_session',
  [-2]: 'ending',
  [-3]: 'replaced',
  [-4]: 'rate_limited',
  [-5]: 'unknown_lecture',
  [-6]: 'already_started',
  [-7]: 'paused',
  [-8]: 'expired',
  [-9]: 'not_owner',
} as const;
export type RefusalCode = (typeof refusalCodes)[keyof typeof refusalCodes];

/** A script said no (an expected outcome, not a failure of Redis). */
/**
 * An update whose script call failed (Redis unreachable, a Cluster slot mid-failover): on a Cluster a batch is one
 * call per slot, and one shard's failure fails only the updates of that call, not the whole batch.
 */
export class UpdateCallFailed {
  constructor(readonly cause: unknown) {}
}

export class MeterRefusal extends Error {
  override readonly name = 'MeterRefusal';
  constructor(readonly code: RefusalCode) {
    super(code);
  }
}

export interface MeterLimits {
  creditMsMax: number;
  updatesPerSecondMax: number;
  lowFundsWarningMs: number;
  disconnectGraceMs: number;
  socketIdleMs: number;
  settleRetryMs: number;
}

export interface StartInput {
  studentId: string;
  courseId: string;
  teacherId: string;
  lockedMinor: number;
  priceMinor: number;
  maxBillableMs: number;
  lectureIds: readonly number[];
}

/** Billed time and progress as a checkpoint holds them. */
export interface Checkpoint {
  billedMs: number;
  completionPct: string;
  currentLecture: number | null;
  progressMs: ProgressMs;
}

export interface UpdateInput {
  /** '' for REST: REST updates are not tied to a socket. */
  socketId: string;
  playing: boolean;
  /** Client's cumulative duration in ms, or null when it reports none. */
  claimedMs: number | null;
  lecture: number;
  completionPct: number;
}

/** One update of a batch (applyUpdates). */
export interface UpdateItem {
  sessionId: string;
  input: UpdateInput;
}

/** What the meter keeps per session: ms billed so far, and the hold, price and max billable ms that bound it. */
export interface MeterFigures {
  billedMs: number;
  lockedMinor: number;
  priceMinor: number;
  maxBillableMs: number;
}

export interface UpdateResult extends MeterFigures {
  completionPct: number;
  currentLecture: number;
  warnLowFunds: boolean;
  exhausted: boolean;
  creditMs: number;
}

export interface AttachResult extends MeterFigures {
  previousOwner: string;
  resumed: boolean;
  /** The session's student. */
  studentId: string;
}

export type DeadlineCheck =
  | { kind: 'reschedule'; deadlineMs: number }
  | { kind: 'settle'; frozen: FrozenSession }
  | { kind: 'gone' };

/**
 * A session's live state as Redis holds it (readSession). The Postgres row it is built from is SessionRowForMeter
 * (core/live-session.ts).
 */
export interface LiveSessionState extends MeterFigures {
  sessionId: string;
  studentId: string;
  courseId: string;
  status: 'active' | 'paused' | 'ending';
  endReason: EndReason | null;
  completionPct: number;
  currentLecture: number | null;
  progressMs: ProgressMs;
}

type Reply = number | (string | number | Reply[])[];
type ScriptFn = (...args: (string | number)[]) => Promise<Reply>;

const int = (v: unknown): number => {
  const n = Number(v);
  invariant(Number.isSafeInteger(n), `expected an integer from Redis, got ${String(v)}`);
  return n;
};

/**
 * A duration claim as the scripts take it: whole ms, rounded down (in the student's favour), or -1 for none.
 * A fractional claim (duration_seconds × 1000 is rarely an integer) would make billed_ms fractional and fail the
 * script's HINCRBY after its HSET, leaving billed and progress out of step.
 */
function claimArg(claimedMs: number | null): number {
  if (claimedMs === null) return -1;
  invariant(Number.isFinite(claimedMs) && claimedMs >= 0, `claimed ms must be finite and non-negative, got ${claimedMs}`);
  return Math.floor(claimedMs);
}

/**
 * Completion percent as plain decimal text, at most 6 decimals: String(1e-7) is "1e-7", which the settle entry schema
 * refuses. Every heartbeat sends one, and toFixed is slow: a percent that already has at most 6 decimals (what players
 * send) and no exponent is its own text.
 */
export const pctArg = (pct: number): string =>
  pct === 0 || (pct >= 1e-6 && Math.round(pct * 1e6) / 1e6 === pct) ? String(pct) : String(Number(pct.toFixed(6)));

function refuseIfCode(reply: Reply): asserts reply is (string | number | Reply[])[] {
  if (typeof reply === 'number') {
    const code = refusalCodes[reply as keyof typeof refusalCodes];
    invariant(code !== undefined, `unexpected script reply ${reply}`);
    throw new MeterRefusal(code);
  }
}

/**
 * Which items go to Redis in one script call: every call's keys must share one Cluster slot, so on a Cluster the items
 * are grouped by their session's slot (the hash tag {id}); a single node does not check slots, so there all items form
 * one group. Groups are cut at updatesPerScriptCallMax items. Indices are into `items`, in their order.
 */
function scriptCalls(items: readonly UpdateItem[], sessionKey: (id: string) => string, isCluster: boolean): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < items.length; i++) {
    const slot = isCluster ? calculateSlot(sessionKey(items[i]!.sessionId)) : 0;
    let group = groups.get(slot);
    if (!group) groups.set(slot, (group = []));
    group.push(i);
  }
  const calls: number[][] = [];
  for (const group of groups.values()) {
    for (let from = 0; from < group.length; from += updatesPerScriptCallMax) calls.push(group.slice(from, from + updatesPerScriptCallMax));
  }
  return calls;
}

function pairsToProgress(flat: unknown): ProgressMs {
  const out: ProgressMs = {};
  const list = flat as string[];
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = int(list[i + 1]);
  return out;
}

function frozenFrom(sessionId: string, r: (string | number | Reply[])[], from: number): FrozenSession {
  const lecture = String(r[from + 3]);
  return {
    sessionId,
    endReason: endReason.parse(r[from]),
    billedMs: int(r[from + 1]),
    completionPct: String(r[from + 2]),
    currentLecture: lecture === '' ? null : int(lecture),
    progressMs: pairsToProgress(r[from + 4]),
  };
}

export function createMeter(redis: RedisClient, keys: Keys, limits: MeterLimits) {
  const script = (name: string): ScriptFn => {
    const fn = (redis as unknown as Record<string, ScriptFn>)[name];
    invariant(typeof fn === 'function', `Redis script ${name} is not registered`);
    return fn.bind(redis);
  };
  const startScript = script('startSession');
  const updatesScript = batchScript('applyUpdates');
  const attachScript = script('attachSocket');
  const detachScript = script('detachSocket');
  const finishScript = script('finishSession');
  const deadlineScript = script('checkDeadline');
  const rescheduleScript = script('rescheduleDeadline');
  const restoreScript = script('restoreSession');
  const readCheckpointsScript = batchScript('readCheckpoints');
  const findLiveScript = batchScript('findLiveSessions');

  const dirty = createDirtySessions(redis, keys);

  /**
   * Sessions cut into the batches one read script call takes: checkpointReadsPerScriptCallMax on a single node, one
   * session on a Cluster (every key of a call must share a slot).
   */
  const readBatches = (sessionIds: readonly string[]): string[][] => {
    const perCall = redis.isCluster ? 1 : checkpointReadsPerScriptCallMax;
    const batches: string[][] = [];
    for (let from = 0; from < sessionIds.length; from += perCall) batches.push(sessionIds.slice(from, from + perCall));
    return batches;
  };

  /** Update `item`'s answer: seven values from `at` in the flat reply of applyUpdates-n.lua. */
  const updateResultOf = (r: readonly (string | number)[], at: number, item: UpdateItem, pct: string): UpdateResult | MeterRefusal => {
    if (r[at] !== 0) {
      const code = refusalCodes[r[at] as keyof typeof refusalCodes];
      invariant(code !== undefined, `unexpected script reply ${r[at]}`);
      return new MeterRefusal(code);
    }
    const creditMs = int(r[at + 2]);
    // Only billed time that moved needs a checkpoint; a paused player's heartbeats cost the worker nothing.
    if (creditMs > 0) dirty.mark(item.sessionId);
    const flags = int(r[at + 3]);
    return {
      billedMs: int(r[at + 1]), creditMs, warnLowFunds: (flags & 1) !== 0, exhausted: (flags & 2) !== 0,
      lockedMinor: int(r[at + 4]), priceMinor: int(r[at + 5]), maxBillableMs: int(r[at + 6]),
      completionPct: Number(pct), currentLecture: item.input.lecture,
    };
  };

  return {
    keys,
    /** Sessions whose billed time moved since their last checkpoint: marked here, flushed by the gateway. */
    dirty,

    /**
     * The script and the session's first deadline go in the same turn, so auto-pipelining writes them together: one
     * round trip per start instead of two (every join runs this). The deadline is reckoned on this process's clock,
     * not Redis's: the sorted set only holds a lower bound the sweeper checks against the hash (checkDeadline-2.lua),
     * so a deadline early by clock skew is looked at and rescheduled, one late by it only delays freezing a session
     * whose player never connected. NX: a refused start (the state exists) leaves that session's deadline as it was;
     * an entry left for a start that failed is dropped by the sweeper (no state) or by forgetSession.
     */
    async startSession(sessionId: string, s: StartInput): Promise<{ nowMs: number }> {
      const firstDeadlineMs = Date.now() + limits.socketIdleMs + limits.disconnectGraceMs;
      const [r] = await Promise.all([
        startScript(keys.session(sessionId), keys.lectures(sessionId), s.studentId, s.courseId, s.teacherId,
          s.lockedMinor, s.priceMinor, s.maxBillableMs, ...s.lectureIds),
        redis.zadd(keys.deadlines(keys.bucketOf(sessionId)), 'NX', firstDeadlineMs, sessionId),
      ]);
      refuseIfCode(r);
      return { nowMs: int(r[1]) };
    },

    /**
     * Rebuilds a session lost from Redis from its Postgres checkpoint (status active, no socket yet). Returns false
     * when the state already exists (another gateway restored it first).
     */
    async restoreSession(sessionId: string, s: StartInput & Checkpoint, ownerSocketId = ''): Promise<boolean> {
      const pairs = s.lectureIds.flatMap((l) => [l, s.progressMs[String(l)] ?? 0]);
      const r = await restoreScript(keys.session(sessionId), keys.lectures(sessionId), s.studentId, s.courseId, s.teacherId,
        s.lockedMinor, s.priceMinor, s.maxBillableMs, s.billedMs, s.completionPct, s.currentLecture ?? '', ownerSocketId, ...pairs);
      if (r === -6) return false;
      refuseIfCode(r);
      await this.scheduleDeadline(sessionId, int(r[1]) + limits.socketIdleMs + limits.disconnectGraceMs);
      return true;
    },

    /**
     * What a checkpoint copies to Postgres for these sessions, read consistently per session, as JSON text passed to
     * Postgres unparsed (readCheckpoints-n.lua gives the format; a session with no live state left is left out). One
     * script call per checkpointReadsPerScriptCallMax sessions on a single node; one per session on a Cluster (each
     * call's keys must share a slot). One JSON array text per call, in no particular order.
     */
    async readCheckpointRows(sessionIds: readonly string[]): Promise<string[]> {
      // Issued in one synchronous map: ioredis sends them in one write (per node on a Cluster).
      return Promise.all(readBatches(sessionIds).map((ids) => {
        const keyArgs: string[] = [];
        for (const id of ids) keyArgs.push(keys.session(id), keys.lectures(id));
        return runBatchScript(redis, readCheckpointsScript, keyArgs, ids).then((r: unknown) => {
          invariant(typeof r === 'string', 'readCheckpoints: JSON text expected');
          return r;
        });
      }));
    },

    /**
     * One update (a REST metrics update): applyUpdates of one item, so one script and one rule for both paths.
     * Throws its MeterRefusal.
     */
    async applyUpdate(sessionId: string, u: UpdateInput): Promise<UpdateResult> {
      const [r] = await this.applyUpdates([{ sessionId, input: u }]);
      if (r instanceof MeterRefusal) throw r;
      if (r instanceof UpdateCallFailed) throw r.cause;
      return r!;
    },

    /**
     * The heartbeat hot path, batched: one script call per group of items sharing a Cluster slot (one call in all on a
     * single node), at most updatesPerScriptCallMax items each. Results come in item order; each item is judged alone
     * (its refusal is its MeterRefusal, and affects no other item). Rejects only when Redis itself fails, and then
     * some calls of the batch may have been applied.
     */
    async applyUpdates(items: readonly UpdateItem[]): Promise<(UpdateResult | MeterRefusal | UpdateCallFailed)[]> {
      const results: (UpdateResult | MeterRefusal | UpdateCallFailed)[] = new Array(items.length);
      const pcts = items.map((it) => pctArg(it.input.completionPct));
      // Issued in one synchronous loop: ioredis sends them in one write (per node on a Cluster).
      const calls = scriptCalls(items, keys.session, redis.isCluster);
      const settled = await Promise.allSettled(calls.map(async (call) => {
        const keyArgs: string[] = [];
        const argv: (string | number)[] = [limits.creditMsMax, limits.updatesPerSecondMax, limits.lowFundsWarningMs];
        for (const i of call) {
          const { sessionId, input: u } = items[i]!;
          keyArgs.push(keys.session(sessionId), keys.lectures(sessionId));
          argv.push(u.socketId, u.playing ? 1 : 0, claimArg(u.claimedMs), u.lecture, pcts[i]!);
        }
        const reply = await runBatchScript(redis, updatesScript, keyArgs, argv) as (string | number)[];
        invariant(Array.isArray(reply) && reply.length === 7 * call.length, 'applyUpdates: seven values per update expected');
        call.forEach((i, k) => { results[i] = updateResultOf(reply, 7 * k, items[i]!, pcts[i]!); });
      }));
      settled.forEach((outcome, c) => {
        if (outcome.status === 'rejected') for (const i of calls[c]!) results[i] = new UpdateCallFailed(outcome.reason);
      });
      return results;
    },

    /**
     * Makes `socketId` the session's socket. `actingStudentId`: refused `not_owner` unless the session is this
     * student's (null: an admin or service caller, any student's).
     */
    async attachSocket(sessionId: string, socketId: string, actingStudentId: string | null = null): Promise<AttachResult> {
      const r = await attachScript(keys.session(sessionId), socketId, limits.disconnectGraceMs, actingStudentId ?? '');
      refuseIfCode(r);
      return {
        previousOwner: String(r[1]), resumed: r[2] === 1, billedMs: int(r[3]), lockedMinor: int(r[4]),
        priceMinor: int(r[5]), maxBillableMs: int(r[6]), studentId: String(r[8]),
      };
    },

    /** Returns the grace deadline when the session was paused, null when the socket no longer owned it. */
    async detachSocket(sessionId: string, socketId: string): Promise<number | null> {
      const r = await detachScript(keys.session(sessionId), socketId, limits.disconnectGraceMs);
      if (r === 0) return null;
      refuseIfCode(r);
      const deadline = int(r[1]);
      await this.scheduleDeadline(sessionId, deadline);
      return deadline;
    },

    /** Freezes the session's figures (status ending). Idempotent. */
    async finishSession(sessionId: string, reason: EndReason, claimedMs: number | null): Promise<FrozenSession> {
      const r = await finishScript(keys.session(sessionId), keys.lectures(sessionId), reason, claimArg(claimedMs), limits.creditMsMax);
      refuseIfCode(r);
      return frozenFrom(sessionId, r, 1);
    },

    /** `disconnectsHeldUntilMs`: Redis time before which a due live session is looked at again, not settled (0: none). */
    async checkDeadline(sessionId: string, disconnectsHeldUntilMs = 0): Promise<DeadlineCheck> {
      const r = await deadlineScript(keys.session(sessionId), keys.lectures(sessionId), limits.socketIdleMs,
        limits.disconnectGraceMs, limits.settleRetryMs, disconnectsHeldUntilMs);
      if (r === -1) return { kind: 'gone' };
      refuseIfCode(r);
      if (r[0] === 1) return { kind: 'reschedule', deadlineMs: int(r[1]) };
      return { kind: 'settle', frozen: frozenFrom(sessionId, r, 1) };
    },

    async scheduleDeadline(sessionId: string, deadlineMs: number): Promise<void> {
      await redis.zadd(keys.deadlines(keys.bucketOf(sessionId)), deadlineMs, sessionId);
    },

    /** The sweeper's reschedule: applies only if the deadline is still the due one it found (≤ dueAtMs). */
    async rescheduleDeadline(sessionId: string, deadlineMs: number, dueAtMs: number): Promise<boolean> {
      const r = await rescheduleScript(keys.deadlines(keys.bucketOf(sessionId)), sessionId, deadlineMs, dueAtMs);
      return r === 1;
    },

    /** Appends the settlement request to the session's settle stream (its bucket). */
    async enqueueSettlement(frozen: FrozenSession): Promise<string> {
      const entry = toSettleEntry(frozen, Date.now());
      const fields = Object.entries(entry).flat();
      const id = await redis.xadd(keys.settleStream(keys.bucketOf(frozen.sessionId)), '*', ...fields);
      invariant(typeof id === 'string', 'XADD returned no id');
      return id;
    },

    /** Drops all live state of a settled session. */
    async forgetSession(sessionId: string): Promise<void> {
      await redis.del(keys.session(sessionId), keys.lectures(sessionId));
      await redis.zrem(keys.deadlines(keys.bucketOf(sessionId)), sessionId);
    },

    /**
     * For each session, whether Redis holds live state for it: one findLiveSessions-n.lua call per batch of
     * readBatches, issued together (one write).
     */
    async liveSessions(sessionIds: readonly string[]): Promise<boolean[]> {
      const replies = await Promise.all(readBatches(sessionIds).map((ids) =>
        runBatchScript(redis, findLiveScript, ids.map((id) => keys.session(id)), [])));
      return replies.flatMap((r) => {
        invariant(Array.isArray(r), 'findLiveSessions: array expected');
        return r.map((x) => x === 1);
      });
    },

    /** For each session, whether its bucket's deadline set has an entry for it: one ZMSCORE per bucket. */
    async deadlinesScheduled(sessionIds: readonly string[]): Promise<boolean[]> {
      const byBucket = new Map<number, number[]>();
      sessionIds.forEach((id, i) => {
        const b = keys.bucketOf(id);
        let at = byBucket.get(b);
        if (!at) byBucket.set(b, (at = []));
        at.push(i);
      });
      const scheduled = new Array<boolean>(sessionIds.length).fill(false);
      await Promise.all([...byBucket].map(async ([bucket, at]) => {
        const scores = await redis.zmscore(keys.deadlines(bucket), ...at.map((i) => sessionIds[i]!));
        at.forEach((i, j) => { scheduled[i] = scores[j] !== null; });
      }));
      return scheduled;
    },

    /** The student who owns a live session, or null when Redis has no live state for it. */
    async ownerOf(sessionId: string): Promise<string | null> {
      const owner = await redis.hget(keys.session(sessionId), 'student_id');
      return owner || null;
    },

    async readSession(sessionId: string): Promise<LiveSessionState | null> {
      const [h, lectures] = await Promise.all([
        redis.hgetall(keys.session(sessionId)),
        redis.hgetall(keys.lectures(sessionId)),
      ]);
      if (!h.status) return null;
      const progressMs: ProgressMs = {};
      for (const [k, v] of Object.entries(lectures)) progressMs[k] = int(v);
      return {
        sessionId,
        studentId: h.student_id ?? '',
        courseId: h.course_id ?? '',
        status: h.status as LiveSessionState['status'],
        endReason: h.end_reason ? endReason.parse(h.end_reason) : null,
        billedMs: int(h.billed_ms),
        lockedMinor: int(h.locked),
        priceMinor: int(h.price),
        maxBillableMs: int(h.max_ms),
        completionPct: Number(h.pct ?? 0),
        currentLecture: h.lecture ? int(h.lecture) : null,
        progressMs,
      };
    },

    /** Creates the consumer group on every settle stream (idempotent). */
    async ensureSettleGroups(): Promise<void> {
      for (const b of keys.buckets()) {
        try {
          await redis.xgroup('CREATE', keys.settleStream(b), settleGroup, '0', 'MKSTREAM');
        } catch (err) {
          if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
        }
      }
    },
  };
}

export type Meter = ReturnType<typeof createMeter>;
