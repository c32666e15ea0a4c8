// The Postgres side of one session for `inspect session`: its row, its hold, and the ledger entries of its settle
// transaction. Read-only SELECTs on a one-connection pool; ms columns as numbers, money as exact NUMERIC text.
import type { Config } from '../core/config.js';
import { createPool } from '../core/pg/pool.js';
import { checkPostgres } from '../core/startup.js';

export interface PgSession {
  status: string;
  student_id: string;
  course_id: string;
  teacher_id: string;
  locked_amount: string;
  price_per_minute: string;
  max_billable_ms: number;
  /** The last checkpoint while live; final once completed. */
  duration_ms: number;
  cost: string | null;
  refund: string | null;
  teacher_earning: string | null;
  platform_fee: string | null;
  /** Sub-minor units (60,000 to a minor unit) taken from and left in the (student, course) remainder; null: none. */
  sub_minor_carried_in: number | null;
  sub_minor_carried_out: number | null;
  completion_pct: string;
  current_lecture: number | null;
  /** lecture id → billed ms (content_progress's watched_seconds, back in ms). */
  lectures_ms: Record<string, number>;
  end_reason: string | null;
  created_at: string;
  start_time: string | null;
  end_time: string | null;
}

export interface PgHold { amount: string; created_at: string; released_at: string | null }

export interface PgSettlement {
  transaction_id: number;
  created_at: string;
  entries: { account_type: string; account_id: string | null; amount: string }[];
}

export interface PgSide { session: PgSession | null; hold: PgHold | null; settlement: PgSettlement | null }

const isoOrNull = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));

export async function readPostgresSide(config: Config, id: string): Promise<PgSide> {
  const pool = createPool(config, 1);
  try {
    // Unreachable, or a schema never migrated: the where-and-how message rather than a bare driver error.
    await checkPostgres(config, pool);
    const s = await pool.query(
      `SELECT status, student_id, course_id, teacher_id, locked_amount, price_per_minute, max_billable_ms, duration_ms,
              cost, refund, teacher_earning, platform_fee, completion_pct::text, current_lecture, content_progress,
              end_reason, created_at, start_time, end_time, sub_minor_carried_in, sub_minor_carried_out
         FROM sessions WHERE id = $1`, [id]);
    const h = await pool.query('SELECT amount, created_at, released_at FROM holds WHERE session_id = $1', [id]);
    const t = await pool.query(
      `SELECT t.id, t.created_at,
              coalesce(json_agg(json_build_object('account_type', e.account_type, 'account_id', e.account_id,
                                                  'amount', e.amount::text) ORDER BY e.id)
                       FILTER (WHERE e.id IS NOT NULL), '[]') AS entries
         FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
        WHERE t.session_id = $1 AND t.kind = 'settle' GROUP BY t.id`, [id]);
    const row = s.rows[0];
    const hold = h.rows[0];
    const settle = t.rows[0];
    return {
      session: row ? toSession(row) : null,
      hold: hold ? { amount: hold.amount, created_at: isoOrNull(hold.created_at)!, released_at: isoOrNull(hold.released_at) } : null,
      settlement: settle ? { transaction_id: Number(settle.id), created_at: isoOrNull(settle.created_at)!, entries: settle.entries } : null,
    };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function toSession(row: Record<string, any>): PgSession {
  const progress = (row.content_progress ?? {}) as Record<string, { watched_seconds: number }>;
  return {
    status: row.status, student_id: row.student_id, course_id: row.course_id, teacher_id: row.teacher_id,
    locked_amount: row.locked_amount, price_per_minute: row.price_per_minute,
    max_billable_ms: Number(row.max_billable_ms), duration_ms: Number(row.duration_ms),
    cost: row.cost, refund: row.refund, teacher_earning: row.teacher_earning, platform_fee: row.platform_fee,
    sub_minor_carried_in: row.sub_minor_carried_in === null ? null : Number(row.sub_minor_carried_in),
    sub_minor_carried_out: row.sub_minor_carried_out === null ? null : Number(row.sub_minor_carried_out),
    completion_pct: row.completion_pct, current_lecture: row.current_lecture,
    lectures_ms: Object.fromEntries(Object.entries(progress).map(([l, p]) => [l, Math.round(p.watched_seconds * 1000)])),
    end_reason: row.end_reason,
    created_at: isoOrNull(row.created_at)!, start_time: isoOrNull(row.start_time), end_time: isoOrNull(row.end_time),
  };
}
