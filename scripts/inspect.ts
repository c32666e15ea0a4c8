// `npm run inspect -- [sessions|session <id>|streams] [--json] [--limit N]`
// Live metering state for operators: what Redis holds right now, in plain text (or JSON for scripts).
//   sessions       every session in the deadline sets, soonest deadline first, with status and billed time
//   session <id>   one session's hash, lecture progress, deadline, and its Postgres row, hold and settlement
//   streams        per bucket: settle stream length, consumer-group lag and pending entries; the dead-letter stream
// Read-only: it never writes to Redis or Postgres.
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../shared/config.js';
import { createRedis, redisNowMs, type RedisClient } from '../shared/redis/connect.js';
import { createKeys, settleGroup, type Keys } from '../shared/redis/keys.js';
import { createPool } from '../shared/pg/pool.js';
import { checkRedis } from '../shared/startup.js';
import { costMinor, minorToNumeric } from '../shared/money.js';
import { uuid } from '../shared/protocol/common.js';

const usage = `usage: npm run inspect -- [sessions | session <id> | streams] [--json] [--limit N]

  sessions       live sessions from the deadline sets of every bucket (default command)
  session <id>   one session: Redis hash, lecture progress, deadline, Postgres row, hold and settlement
  streams        settle streams per bucket: length, group lag, pending entries; the dead-letter stream
  --json         machine-readable output
  --limit N      sessions read per bucket (default 500, at most 10000)

Reads REDIS_URL / REDIS_CLUSTER_NODES, REDIS_KEY_PREFIX, DATABASE_URL, DATABASE_SCHEMA like the gateway.`;

/** Sessions read per bucket at most: inspecting must not become a load test of Redis. */
const limitMax = 10_000;
/** HGETALLs in flight at once. */
const batchSize = 100;
/** Dead letters shown by `streams`. */
const deadLettersShown = 5;

interface Ctx {
  config: Config;
  redis: RedisClient;
  keys: Keys;
  /** Redis server time in ms: deadlines are in Redis time, so "due in" is computed against it. */
  nowMs: number;
}


// ---------------------------------------------------------------------------------------------------------------
// Reading.

interface LiveRow {
  session_id: string;
  bucket: number;
  deadline_ms: number;
  deadline: string;
  due_in_ms: number;
  status: string;
  billed_ms: number | null;
  cost: string | null;
  locked: string | null;
  lecture: string | null;
  completion_pct: string | null;
  socket: string | null;
  end_reason: string | null;
}

function moneyOf(h: Record<string, string>): { cost: string | null; remaining: string | null; locked: string | null } {
  const billed = Number(h.billed_ms);
  const locked = Number(h.locked);
  const price = Number(h.price);
  if (![billed, locked, price].every(Number.isSafeInteger) || price <= 0) return { cost: null, remaining: null, locked: null };
  const cost = costMinor(billed, price, locked);
  return { cost: minorToNumeric(cost), remaining: minorToNumeric(locked - cost), locked: minorToNumeric(locked) };
}

async function readSessions(ctx: Ctx, limit: number): Promise<{ rows: LiveRow[]; perBucket: Record<number, number> }> {
  const entries: { id: string; bucket: number; deadline: number }[] = [];
  const perBucket: Record<number, number> = {};
  for (const b of ctx.keys.buckets()) {
    const key = ctx.keys.deadlines(b);
    perBucket[b] = await ctx.redis.zcard(key);
    const flat = await ctx.redis.zrange(key, '0', String(limit - 1), 'WITHSCORES');
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ id: flat[i]!, bucket: b, deadline: Number(flat[i + 1]) });
  }
  entries.sort((a, b) => a.deadline - b.deadline);
  const rows: LiveRow[] = [];
  for (let i = 0; i < entries.length; i += batchSize) {
    const batch = entries.slice(i, i + batchSize);
    const hashes = await Promise.all(batch.map((e) => ctx.redis.hgetall(ctx.keys.session(e.id))));
    batch.forEach((e, j) => rows.push(toLiveRow(ctx, e, hashes[j]!)));
  }
  return { rows, perBucket };
}

function toLiveRow(ctx: Ctx, e: { id: string; bucket: number; deadline: number }, h: Record<string, string>): LiveRow {
  const money = moneyOf(h);
  return {
    session_id: e.id,
    bucket: e.bucket,
    deadline_ms: e.deadline,
    deadline: new Date(e.deadline).toISOString(),
    due_in_ms: e.deadline - ctx.nowMs,
    // A deadline without a hash is a leftover the sweeper will drop.
    status: h.status ?? '(no hash)',
    billed_ms: h.billed_ms === undefined ? null : Number(h.billed_ms),
    cost: money.cost,
    locked: money.locked,
    lecture: h.lecture || null,
    completion_pct: h.pct ?? null,
    socket: h.owner || null,
    end_reason: h.end_reason || null,
  };
}

interface SessionView {
  session_id: string;
  bucket: number;
  keys: { session: string; lectures: string; deadlines: string };
  redis_now: string;
  hash: Record<string, string>;
  derived: { cost: string | null; remaining: string | null; locked: string | null; billed_seconds: number | null };
  lectures_ms: Record<string, number>;
  deadline: { ms: number; iso: string; due_in_ms: number } | null;
  postgres: { session: Record<string, unknown> | null; hold: Record<string, unknown> | null; settlement: Record<string, unknown> | null } | { error: string };
}

async function readSession(ctx: Ctx, id: string): Promise<SessionView> {
  const k = ctx.keys;
  const bucket = k.bucketOf(id);
  const [hash, lectures, score] = await Promise.all([
    ctx.redis.hgetall(k.session(id)), ctx.redis.hgetall(k.lectures(id)), ctx.redis.zscore(k.deadlines(bucket), id),
  ]);
  const deadlineMs = score === null ? null : Number(score);
  return {
    session_id: id,
    bucket,
    keys: { session: k.session(id), lectures: k.lectures(id), deadlines: k.deadlines(bucket) },
    redis_now: new Date(ctx.nowMs).toISOString(),
    hash,
    derived: { ...moneyOf(hash), billed_seconds: hash.billed_ms === undefined ? null : Number(hash.billed_ms) / 1000 },
    lectures_ms: Object.fromEntries(Object.entries(lectures).map(([l, ms]) => [l, Number(ms)])),
    deadline: deadlineMs === null ? null : { ms: deadlineMs, iso: new Date(deadlineMs).toISOString(), due_in_ms: deadlineMs - ctx.nowMs },
    postgres: await readPostgres(ctx.config, id),
  };
}

async function readPostgres(config: Config, id: string): Promise<SessionView['postgres']> {
  const pool = createPool(config, 1);
  try {
    const [s, h, t] = await Promise.all([
      pool.query('SELECT * FROM sessions WHERE id = $1', [id]),
      pool.query('SELECT * FROM holds WHERE session_id = $1', [id]),
      pool.query(`SELECT t.id, t.created_at, coalesce(json_agg(json_build_object('account_type', e.account_type, 'account_id', e.account_id, 'amount', e.amount::text)) FILTER (WHERE e.id IS NOT NULL), '[]') AS entries
        FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
        WHERE t.session_id = $1 AND t.kind = 'settle' GROUP BY t.id`, [id]),
    ]);
    return { session: s.rows[0] ?? null, hold: h.rows[0] ?? null, settlement: t.rows[0] ?? null };
  } catch (err) {
    return { error: `Postgres (DATABASE_URL, schema ${config.databaseSchema}): ${(err as Error).message}` };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

interface StreamView {
  bucket: number;
  stream: string;
  length: number;
  groups: Record<string, string | number | null>[];
  pending: { count: number; min_id: string | null; max_id: string | null; consumers: { name: string; count: number }[] } | null;
  oldest_pending: { id: string; consumer: string; idle_ms: number; deliveries: number } | null;
}

/** XINFO replies are flat [key, value, key, value, …] lists. */
function pairs(flat: unknown): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  const list = Array.isArray(flat) ? flat : [];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const v = list[i + 1];
    out[String(list[i])] = typeof v === 'number' || typeof v === 'string' ? v : v === null ? null : JSON.stringify(v);
  }
  return out;
}

async function readStream(ctx: Ctx, bucket: number): Promise<StreamView> {
  const stream = ctx.keys.settleStream(bucket);
  const length = await ctx.redis.xlen(stream);
  const view: StreamView = { bucket, stream, length, groups: [], pending: null, oldest_pending: null };
  if ((await ctx.redis.exists(stream)) === 0) return view;
  const groups = (await ctx.redis.xinfo('GROUPS', stream)) as unknown[];
  view.groups = groups.map(pairs);
  if (!view.groups.some((g) => g.name === settleGroup)) return view;
  const [count, minId, maxId, consumers] = (await ctx.redis.xpending(stream, settleGroup)) as [number, string | null, string | null, [string, string][] | null];
  view.pending = {
    count: Number(count), min_id: minId, max_id: maxId,
    consumers: (consumers ?? []).map(([name, n]) => ({ name, count: Number(n) })),
  };
  if (Number(count) > 0) {
    const [first] = (await ctx.redis.xpending(stream, settleGroup, '-', '+', 1)) as [string, string, number, number][];
    if (first) view.oldest_pending = { id: first[0], consumer: first[1], idle_ms: Number(first[2]), deliveries: Number(first[3]) };
  }
  return view;
}

async function readStreams(ctx: Ctx) {
  const buckets = await Promise.all(ctx.keys.buckets().map((b) => readStream(ctx, b)));
  const dead = ctx.keys.deadLetters();
  const latest = (await ctx.redis.xrevrange(dead, '+', '-', 'COUNT', deadLettersShown)).map(([id, fields]) => ({ id, fields: pairs(fields) }));
  return { redis_now: new Date(ctx.nowMs).toISOString(), buckets, dead_letters: { stream: dead, length: await ctx.redis.xlen(dead), latest } };
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering.

function ago(ms: number): string {
  const s = Math.abs(ms) / 1000;
  const text = s < 120 ? `${s.toFixed(1)} s` : s < 7_200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3_600).toFixed(1)} h`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function renderSessions(data: { rows: LiveRow[]; perBucket: Record<number, number> }, limit: number): string {
  const total = Object.values(data.perBucket).reduce((a, b) => a + b, 0);
  const byStatus = new Map<string, number>();
  for (const r of data.rows) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const head = `${total} sessions in the deadline sets (${Object.entries(data.perBucket).map(([b, n]) => `b${b}:${n}`).join(' ')})`
    + `; shown ${data.rows.length}${total > data.rows.length ? ` (--limit ${limit} per bucket)` : ''}`
    + `; ${[...byStatus].map(([s, n]) => `${s} ${n}`).join(', ')}`;
  if (data.rows.length === 0) return `${head}\nno live sessions`;
  const rows = data.rows.map((r) => [
    r.session_id, String(r.bucket), r.deadline, ago(r.due_in_ms), r.status + (r.end_reason ? `/${r.end_reason}` : ''),
    r.billed_ms === null ? '-' : (r.billed_ms / 1000).toFixed(3), r.cost ?? '-', r.locked ?? '-', r.lecture ?? '-',
    r.completion_pct ?? '-', r.socket ?? '-',
  ]);
  return `${head}\n${table(['SESSION', 'B', 'DEADLINE', 'DUE', 'STATUS', 'BILLED_S', 'COST', 'LOCKED', 'LECTURE', 'PCT', 'SOCKET'], rows)}`;
}

/** Hash fields holding Redis-time milliseconds, shown with their ISO time and age. */
const timeFields = new Set(['last_ms', 'seen_ms', 'started_ms', 'paused_ms', 'ended_ms']);

function renderSession(v: SessionView, nowMs: number): string {
  const out: string[] = [`session ${v.session_id} (bucket ${v.bucket}), Redis time ${v.redis_now}`, ''];
  if (Object.keys(v.hash).length === 0) {
    out.push(`redis ${v.keys.session}: no live state (never started, or settled and forgotten)`);
  } else {
    out.push(`redis ${v.keys.session}`);
    for (const [k, val] of Object.entries(v.hash).sort(([a], [b]) => a.localeCompare(b))) {
      let note = '';
      if (timeFields.has(k) && /^\d+$/.test(val)) note = `  ${new Date(Number(val)).toISOString()} (${ago(Number(val) - nowMs)})`;
      if (k === 'billed_ms' || k === 'max_ms') note = `  ${(Number(val) / 1000).toFixed(3)} s`;
      if ((k === 'locked' || k === 'price') && /^\d+$/.test(val)) note = `  ${minorToNumeric(Number(val))}`;
      out.push(`  ${k.padEnd(12)} ${val}${note}`);
    }
    out.push(`  → cost ${v.derived.cost ?? '?'}, remaining ${v.derived.remaining ?? '?'} of ${v.derived.locked ?? '?'}`);
  }
  out.push('', `lecture progress ${v.keys.lectures}`);
  const lectures = Object.entries(v.lectures_ms);
  if (lectures.length === 0) out.push('  (none)');
  for (const [l, ms] of lectures.sort((a, b) => Number(a[0]) - Number(b[0]))) out.push(`  lecture ${l.padEnd(6)} ${(ms / 1000).toFixed(3)} s`);
  out.push('', `deadline ${v.keys.deadlines}: ${v.deadline === null ? 'not scheduled' : `${v.deadline.iso} (${ago(v.deadline.due_in_ms)})`}`, '');
  out.push(...renderPostgres(v.postgres));
  return out.join('\n');
}

function renderPostgres(pg: SessionView['postgres']): string[] {
  if ('error' in pg) return [`postgres: ${pg.error}`];
  const block = (title: string, row: Record<string, unknown> | null) => [
    title,
    ...(row === null ? ['  (none)'] : Object.entries(row).map(([k, val]) => `  ${k.padEnd(16)} ${val instanceof Date ? val.toISOString() : typeof val === 'object' && val !== null ? JSON.stringify(val) : String(val)}`)),
  ];
  return [...block('postgres sessions row', pg.session), '', ...block('postgres hold', pg.hold), '', ...block('postgres settlement (ledger)', pg.settlement)];
}

function renderStreams(data: Awaited<ReturnType<typeof readStreams>>): string {
  const rows = data.buckets.map((b) => {
    const g = b.groups.find((x) => x.name === settleGroup);
    const oldest = b.oldest_pending;
    return [
      String(b.bucket), b.stream, String(b.length), g ? String(g.name) : '(no group)', g ? String(g.consumers ?? '-') : '-',
      b.pending ? String(b.pending.count) : '-', g ? String(g.lag ?? '?') : '-', g ? String(g['last-delivered-id'] ?? '-') : '-',
      oldest ? `${oldest.id} ${oldest.consumer} idle ${(oldest.idle_ms / 1000).toFixed(1)} s ×${oldest.deliveries}` : '-',
    ];
  });
  const out = [`settle streams, Redis time ${data.redis_now}`,
    table(['B', 'STREAM', 'LENGTH', 'GROUP', 'CONSUMERS', 'PENDING', 'LAG', 'LAST_DELIVERED', 'OLDEST_PENDING'], rows)];
  for (const b of data.buckets) {
    for (const c of b.pending?.consumers ?? []) out.push(`  b${b.bucket} pending at ${c.name}: ${c.count}`);
  }
  const d = data.dead_letters;
  out.push('', `dead letters ${d.stream}: ${d.length}${d.length > 0 ? ' (settlements that failed too often: investigate each)' : ''}`);
  for (const e of d.latest) out.push(`  ${e.id} ${JSON.stringify(e.fields)}`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { json: { type: 'boolean', default: false }, limit: { type: 'string', default: '500' }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [command = 'sessions', arg, ...extra] = positionals;
  const limit = Number(values.limit);
  if (values.help) { console.log(usage); return 0; }
  if (extra.length > 0 || !['sessions', 'session', 'streams'].includes(command)) throw new UsageError(`unknown command: ${positionals.join(' ')}`);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > limitMax) throw new UsageError(`--limit must be 1..${limitMax}`);
  if (command === 'session' && !uuid.safeParse(arg).success) throw new UsageError('session needs a session id (UUID)');

  // inspect never signs or verifies tokens: operators read state without holding the signing secret.
  const config = loadConfig(process.env, { requireAuth: false });
  const redis = createRedis(config, { purpose: 'inspect' });
  // Connection errors surface through checkRedis with the where-and-how message; ioredis's own events are noise here.
  redis.on('error', () => undefined);
  try {
    await checkRedis(config, redis);
    const ctx: Ctx = { config, redis, keys: createKeys(config.redisKeyPrefix), nowMs: await redisNowMs(redis) };
    const print = (data: unknown, text: () => string) => console.log(values.json ? JSON.stringify(data, null, 2) : text());
    if (command === 'sessions') {
      const data = await readSessions(ctx, limit);
      print(data, () => renderSessions(data, limit));
    } else if (command === 'session') {
      const data = await readSession(ctx, arg!);
      print(data, () => renderSession(data, ctx.nowMs));
      return 'error' in data.postgres ? 1 : 0;
    } else {
      const data = await readStreams(ctx);
      print(data, () => renderStreams(data));
    }
    return 0;
  } finally {
    redis.disconnect();
  }
}

class UsageError extends Error {}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  console.error(`inspect: ${(err as Error).message}`);
  if (err instanceof UsageError) console.error(usage);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
