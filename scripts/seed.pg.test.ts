// `npm run seed` reports the demo wallet as the database holds it: seeding again is a no-op on
// existing rows, so a balance that has moved since must be shown as it is, not as the seed first wrote it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
    expect(r.stdout.trim()).toBe(`seeded ${env.schema}: 11 courses, teacher …0002, student …0001 with 1,234,567.05`);
  });
});

describe('the demo course', () => {
  it('has three lectures that cover its 90 s video end to end, and names the video', async () => {
    // Proves the /demo page can map every second of demo-course.webm to a lecture: contiguous, from 0 to 90 s.
    const { rows } = await env.pool.query<{ price_per_minute: string; content_structure: { video_url?: string; lectures: { id: number; video_timestamp_start: number; video_timestamp_end: number }[] } }>(
      `SELECT price_per_minute, content_structure FROM courses WHERE id = '10000000-0000-0000-0000-000000000011'`);
    expect(rows).toHaveLength(1);
    const { price_per_minute, content_structure } = rows[0]!;
    expect(price_per_minute).toBe('0.60');
    expect(content_structure.video_url).toBe('/demo/assets/demo-course.webm');
    expect(existsSync(fileURLToPath(new URL('../player/demo/assets/demo-course.webm', import.meta.url)))).toBe(true);
    const lectures = content_structure.lectures;
    expect(lectures.map((l) => l.id)).toEqual([1, 2, 3]);
    expect(lectures[0]!.video_timestamp_start).toBe(0);
    expect(lectures.at(-1)!.video_timestamp_end).toBe(90);
    for (let i = 1; i < lectures.length; i++) expect(lectures[i]!.video_timestamp_start).toBe(lectures[i - 1]!.video_timestamp_end);
  });
});
