// Postgres CPU of one create, lock_funds alone (sql/migrations/0007, 0008): 500 funded students, then `--creates`
// creates from 4 connections, each its own student's, none started, so the students' open holds pile up as in a join
// storm. Reports the backends' CPU per create from /proc, the figure the join-cost step gives per join, without the
// gateway, the driver or the rest of a join around it. `--sql FILE` runs FILE on the schema after the migrations:
// a variant of lock_funds to compare, side by side with a run without it.
//
//   npx tsx bench/lock-funds-micro.ts [--creates 3000] [--no-cap] [--no-key] [--sql variant.sql]
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openHoldsPerStudentMax, walletLockWaitMsMax } from '../core/limits.js';
import { migrate, seed } from '../core/pg/migrate.js';
import { fundStudents } from '../test/helpers/funded-students.js';
import { cpuMicros } from '../loadtest/common/proc-cpu.js';

const { values } = parseArgs({ options: {
  creates: { type: 'string', default: '3000' }, 'no-cap': { type: 'boolean', default: false }, 'no-key': { type: 'boolean', default: false },
  sql: { type: 'string' }, url: { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
} });
const creates = Number(values.creates);
const schema = `lock_funds_micro_${process.pid}`;
const connections = 4;
const warmCreates = 200;

await migrate(values.url, schema);
await seed(values.url, schema);
const pool = new pg.Pool({ connectionString: values.url, max: connections, options: `-c search_path=${schema}` });
try {
  if (values.sql) await pool.query(readFileSync(values.sql, 'utf8'));
  const students = await fundStudents(pool, 500, 1_000_000);
  const { rows: [course] } = await pool.query<{ id: string }>('SELECT id FROM courses LIMIT 1');
  const backends = new Set<number>();
  const create = async (i: number) => {
    const c = await pool.connect();
    try {
      backends.add((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      await c.query('SELECT * FROM lock_funds($1, $2, $3, $4, $5, $6, $7, $8)', [randomUUID(), students[i % students.length], course!.id, '0.01',
        // The cap is counted on every create, as in the gateway, but set where this run never reaches it.
        values['no-key'] ? null : `micro-${i}`, 'hash', values['no-cap'] ? null : openHoldsPerStudentMax * 1_000, `${walletLockWaitMsMax}ms`]);
    } finally {
      c.release();
    }
  };
  // Plans are cached per connection: every connection runs a few before the measure.
  for (let i = 0; i < warmCreates; i++) await create(i);
  const cpu = () => [...backends].reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const cpu0 = cpu();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, async (_, w) => {
    for (let i = w; i < creates; i += connections) await create(warmCreates + i);
  }));
  const wallMs = performance.now() - t0;
  console.log(`${creates} creates in ${wallMs.toFixed(0)} ms from ${connections} connections: Postgres backend CPU ${((cpu() - cpu0) / 1000 / creates).toFixed(3)} ms per create${values.sql ? ` (with ${values.sql})` : ''}`);
} finally {
  await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
  await pool.end();
}
