// Applies sql/migrations with node-pg-migrate and loads sql/seed.sql. Used by `npm run migrate`, `npm run seed`
// and the test setup (each test file migrates its own schema).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';

const sqlDir = fileURLToPath(new URL('../../sql/', import.meta.url));

export async function migrate(databaseUrl: string, schema: string): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: `${sqlDir}migrations`,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    schema,
    createSchema: true,
    checkOrder: true,
    // The advisory lock is database-wide: test files migrating their own schemas in parallel (or two deploys)
    // must wait their turn, not fail with "Another migration is already running".
    advisoryLockMode: 'wait',
    log: () => undefined,
  });
  return applied.map((m) => m.name);
}

export async function seed(databaseUrl: string, schema: string): Promise<void> {
  const sql = await readFile(`${sqlDir}seed.sql`, 'utf8');
  const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
