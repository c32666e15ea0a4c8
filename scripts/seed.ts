// `npm run seed`: loads sql/seed.sql (idempotent: safe to run again), then reports what the database holds. The
// figures are read back, not recited: on a database seeded earlier and used since, the demo wallet has moved.
import { loadConfig } from '../core/config.js';
import { seed } from '../core/pg/migrate.js';
import { createPool, type Pool } from '../core/pg/pool.js';
import { minorToNumeric, numericToMinor } from '../core/money.js';

const demoStudent = '00000000-0000-0000-0000-000000000001';

/** 100000050 → "1,000,000.50": grouped for reading, converted from minor units without floats. */
function formatAmount(minor: number): string {
  const [whole, cents] = minorToNumeric(minor).split('.') as [string, string];
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`;
}

async function describeSeeded(pool: Pool): Promise<string> {
  const courses = (await pool.query<{ n: string }>('SELECT count(*) AS n FROM courses')).rows[0]!.n;
  const wallet = (await pool.query<{ balance: string }>('SELECT balance FROM wallets WHERE student_id = $1', [demoStudent])).rows[0];
  const balance = wallet ? formatAmount(numericToMinor(wallet.balance)) : 'no wallet';
  return `${courses} courses, teacher …0002, student …0001 with ${balance}`;
}

try {
  const config = loadConfig(process.env, { requireAuth: false });
  await seed(config.databaseUrl, config.databaseSchema);
  const pool = createPool(config, 1);
  try {
    console.log(`seeded ${config.databaseSchema}: ${await describeSeeded(pool)}`);
  } finally {
    await pool.end();
  }
} catch (err) {
  console.error(`seed: ${(err as Error).message}`);
  process.exit(1);
}
