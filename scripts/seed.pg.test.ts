// `npm run seed` reports the demo wallet as the database holds it (issue 7, item 7d): seeding again is a no-op on
// existing rows, so a balance that has moved since must be shown as it is, not as the seed first wrote it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestEnv, STUDENT, type TestEnv } from '../test/helpers/test-env.js';

const root = fileURLToPath(new URL('..', import.meta.url));
let env: TestEnv;

beforeAll(async () => { env = await createTestEnv(); });
afterAll(async () => { await env?.cleanup(); });

describe('npm run seed', () => {
  it('prints the balance read back from the database', async () => {
    // The ledger no longer explains this balance; that does not matter here: the schema is private and dropped.
    await env.pool.query('UPDATE wallets SET balance = 1234567.05 WHERE student_id = $1', [STUDENT]);
    const r = spawnSync('npm', ['run', '-s', 'seed'], {
      cwd: root, encoding: 'utf8', timeout: 60_000,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: env.config.databaseUrl, DATABASE_SCHEMA: env.schema },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`seeded ${env.schema}: 10 courses, teacher …0002, student …0001 with 1,234,567.05`);
  });
});
