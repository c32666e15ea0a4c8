// What happens to settle-stream entries, whichever loop delivered them (a fresh read or a reclaim):
//   valid → settle in Postgres (a batch in one transaction) → only after COMMIT: XACK + XDEL, then tell the gateways
//   (PUBLISH the settled ids) and forget the live Redis state;
//   unusable (bad fields, unknown session, broken invariant) → dead-letter stream, then XACK;
//   anything else (Postgres or Redis unreachable) → left pending, so a retry or a reclaim settles it later.
// Acking only after COMMIT is what makes a crash at any point safe: the entry is delivered again, and the
// settlement, being idempotent, returns the stored figures without moving money twice.
import { InvariantError } from '../core/errors.js';
import { settleGroup } from '../core/redis/keys.js';
import { fromSettleEntry, settleEntry, type FrozenSession } from '../core/protocol/settlement.js';
import { describeIssues } from '../core/protocol/common.js';
import { settleSession } from './settle-session.js';
import { SessionNotFoundError, type SettledSession } from './settlement-decision.js';
import { settleBatch } from './settle-batch.js';
import { fieldsToObject, type StreamEntry } from './stream-reply.js';
import { recordSettlement } from './record-settlement.js';
import type { EntryOutcome, EntryProcessor, WorkerDeps } from './worker-deps.js';

/** The dead-letter stream is trimmed (approximately) to this many entries, so it cannot grow without bound. */
export const deadLettersMax = 100_000;

type Deps = Pick<WorkerDeps, 'pool' | 'redis' | 'meter' | 'feeBps' | 'log' | 'metrics'>;


/** `enqueuedMs`: when the session ended and its settle request was written (the gateway's or sweeper's clock). */
type Parsed = { ok: true; frozen: FrozenSession; enqueuedMs: number } | { ok: false; reason: string };

/** Stream fields → a frozen session, or why they are not one. Nothing here trusts the producer. */
export function parseEntry(entry: StreamEntry): Parsed {
  if (entry.fields === null) return { ok: false, reason: 'deleted_while_pending' };
  const parsed = settleEntry.safeParse(fieldsToObject(entry.fields));
  if (!parsed.success) return { ok: false, reason: `invalid_entry: ${JSON.stringify(describeIssues(parsed.error))}` };
  try {
    return { ok: true, frozen: fromSettleEntry(parsed.data), enqueuedMs: Number(parsed.data.enqueued_ms) };
  } catch (err) {
    return { ok: false, reason: `invalid_entry: progress: ${(err as Error).message.slice(0, 500)}` };
  }
}

/**
 * Errors that retrying cannot fix, as a dead-letter reason; null for operating errors (a database restarting,
 * a dropped connection) that a later attempt will get past.
 */
export function permanentReason(err: unknown): string | null {
  if (err instanceof SessionNotFoundError) return 'session_not_found';
  if (err instanceof InvariantError) return `invariant: ${err.message}`;
  const code = (err as { code?: unknown }).code;
  // SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): the data itself is refused.
  if (typeof code === 'string' && /^2[23]/.test(code)) return `rejected_by_postgres: ${code} ${(err as Error).message}`;
  return null;
}

interface ValidEntry { entry: StreamEntry; frozen: FrozenSession; enqueuedMs: number }

export function createEntryProcessor(deps: Deps): EntryProcessor {
  const { pool, redis, meter, feeBps } = deps;
  const keys = meter.keys;

  async function ackAndDelete(bucket: number, ...entryIds: string[]): Promise<void> {
    const stream = keys.settleStream(bucket);
    // One MULTI on one key (one Cluster slot): an entry is never acked yet kept, or deleted yet pending.
    const results = await redis.multi().xack(stream, settleGroup, ...entryIds).xdel(stream, ...entryIds).exec();
    const failed = results?.find(([err]) => err !== null);
    if (!results || failed) throw failed?.[0] ?? new Error('XACK/XDEL transaction aborted');
  }

  /**
   * After COMMIT and ack: tells every gateway which sessions are settled (a waiting `complete` then reads them once),
   * and drops their live state. Both are best effort: a lost notice costs a waiting player at most one safety-net
   * poll (settleWaitPollMs), and live state left behind is found again by the sweeper.
   */
  async function announceAndForget(bucket: number, sessionIds: readonly string[]): Promise<void> {
    const unique = [...new Set(sessionIds)];
    // Commands issued together are written to the connection together (pipelined), and each names keys of one slot.
    await Promise.all([
      redis.publish(keys.settledChannel(bucket), unique.join(','))
        .catch((err: unknown) => warnOf(err, { bucket }, 'could not announce settled sessions')),
      ...unique.map((id) => meter.forgetSession(id)
        .catch((err: unknown) => warnOf(err, { sessionId: id }, 'could not forget live state'))),
    ]);
  }

  /** An operating error: counted against its backing service, logged, and left for a retry. */
  function warnOf(err: unknown, fields: Record<string, unknown>, message: string): void {
    deps.metrics.countServiceError(err);
    deps.log.warn({ err, ...fields }, message);
  }

  async function deadLetter(bucket: number, entry: StreamEntry, reason: string): Promise<void> {
    // Copied first, acked second: a crash in between leaves a duplicate dead letter, never a lost entry.
    await redis.xadd(keys.deadLetters(), 'MAXLEN', '~', deadLettersMax, '*',
      'stream', keys.settleStream(bucket), 'entry_id', entry.id, 'reason', reason,
      'fields', JSON.stringify(entry.fields === null ? null : fieldsToObject(entry.fields)), 'dead_ms', Date.now());
    await ackAndDelete(bucket, entry.id);
    deps.metrics.deadLettered(reason);
    deps.log.warn({ bucket, entryId: entry.id, reason }, 'settle entry dead-lettered');
  }

  async function settleAndAck(bucket: number, entry: StreamEntry, frozen: FrozenSession, enqueuedMs: number): Promise<EntryOutcome> {
    const log = deps.log.child({ sessionId: frozen.sessionId, entryId: entry.id });
    let settled: SettledSession;
    try {
      settled = await settleSession(pool, frozen, feeBps);
    } catch (err) {
      const reason = permanentReason(err);
      if (reason === null) {
        deps.metrics.countServiceError(err);
        log.warn({ err }, 'settlement failed; the entry stays pending and is retried');
        return 'retry';
      }
      // A broken invariant or a refused row is our bug, not the client's: shout, but keep settling the others.
      if (!(err instanceof SessionNotFoundError)) log.error({ err }, 'settlement refused');
      await deadLetter(bucket, entry, reason);
      return 'dead_lettered';
    }
    if (!settled.alreadySettled) recordSettlement(deps, settled, enqueuedMs, Date.now());
    await ackAndDelete(bucket, entry.id);
    if (settled.alreadySettled) log.debug({ ...settled }, 'already settled');
    // The money is committed and the entry acked; live state that is left behind by a failure here is found
    // again by the sweeper (the session is still `ending`), which re-enqueues it and so forgets it next time.
    await announceAndForget(bucket, [frozen.sessionId]);
    return 'settled';
  }

  async function process(bucket: number, entry: StreamEntry): Promise<EntryOutcome> {
    try {
      const parsed = parseEntry(entry);
      if (!parsed.ok) {
        await deadLetter(bucket, entry, parsed.reason);
        return 'dead_lettered';
      }
      return await settleAndAck(bucket, entry, parsed.frozen, parsed.enqueuedMs);
    } catch (err) {
      // Redis failed while acking or dead-lettering: the entry is still pending, and settling it again is a no-op.
      warnOf(err, { bucket, entryId: entry.id }, 'could not finish a settle entry; it stays pending');
      return 'retry';
    }
  }

  /**
   * The valid entries of a batch, settled in one transaction. When that transaction is refused for a data reason
   * (one poisoned entry: a broken invariant, a row Postgres refuses), nothing was written, and the entries are
   * settled one by one instead, so only the bad one is dead-lettered. An operating error leaves them all pending.
   */
  async function settleValid(bucket: number, valid: readonly ValidEntry[]): Promise<EntryOutcome[]> {
    try {
      const settled = await settleBatch(pool, valid.map((v) => v.frozen), feeBps, { refuseSkips: true });
      const committedMs = Date.now();
      settled.forEach((s, i) => {
        if (!('skipped' in s) && !s.alreadySettled) recordSettlement(deps, s, valid[i]!.enqueuedMs, committedMs);
      });
    } catch (err) {
      if (permanentReason(err) === null) {
        warnOf(err, { bucket, entries: valid.length }, 'batch settlement failed; its entries stay pending and are retried');
        return valid.map(() => 'retry');
      }
      deps.log.warn({ err: (err as Error).message, bucket, entries: valid.length }, 'batch settlement refused; settling its entries one by one');
      const outcomes: EntryOutcome[] = [];
      for (const v of valid) outcomes.push(await process(bucket, v.entry));
      return outcomes;
    }
    try {
      await ackAndDelete(bucket, ...valid.map((v) => v.entry.id));
    } catch (err) {
      // Committed but not acked: the entries are delivered again, and settling them again moves no money.
      warnOf(err, { bucket, entries: valid.length }, 'could not ack a settled batch; its entries stay pending');
      return valid.map(() => 'retry');
    }
    await announceAndForget(bucket, valid.map((v) => v.frozen.sessionId));
    return valid.map(() => 'settled');
  }

  async function processBatch(bucket: number, entries: readonly StreamEntry[]): Promise<EntryOutcome[]> {
    if (entries.length === 1) {
      const outcomes: EntryOutcome[] = [];
      for (const entry of entries) outcomes.push(await process(bucket, entry));
      return outcomes;
    }
    const outcomes = new Array<EntryOutcome>(entries.length);
    const valid: (ValidEntry & { index: number })[] = [];
    for (const [index, entry] of entries.entries()) {
      const parsed = parseEntry(entry);
      if (parsed.ok) {
        valid.push({ index, entry, frozen: parsed.frozen, enqueuedMs: parsed.enqueuedMs });
        continue;
      }
      try {
        await deadLetter(bucket, entry, parsed.reason);
        outcomes[index] = 'dead_lettered';
      } catch (err) {
        warnOf(err, { bucket, entryId: entry.id }, 'could not dead-letter a settle entry; it stays pending');
        outcomes[index] = 'retry';
      }
    }
    if (valid.length > 0) {
      const settled = await settleValid(bucket, valid);
      valid.forEach((v, i) => { outcomes[v.index] = settled[i]!; });
    }
    return outcomes;
  }

  return {
    deadLetter,
    process,
    processBatch,
  };
}
